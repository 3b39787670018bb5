//! Field sections (RFC 9112 §5) into `HeaderMap`s, and a whole head into a [`RequestHead`].
//!
//! By the time we get here [`crate::scan`] has proved that the section is complete, CRLF-only
//! and free of obs-fold; httparse then checks field names (tokens, no whitespace before the
//! colon) and values (no CTLs). Values are sliced out of the head's `Bytes` without copying.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::framing::Semantics;
use crate::names::NameCache;
use crate::syntax::trim_ows;
use crate::{request_line, Error, Limits, RequestHead};

/// httparse wants a slice of slots to fill. Up to this many live on the stack; a larger
/// `max_headers` falls back to one heap allocation per head.
const STACK_FIELDS: usize = 100;
const SMALL_FIELDS: usize = 16;

/// Parses a complete head: `head[..request_line_end]` is the request-line, then field lines,
/// then the empty line.
pub(crate) fn parse_head(
    head: Bytes,
    request_line_end: usize,
    limits: &Limits,
    spare: Option<HeaderMap>,
    names: Option<&mut NameCache>,
) -> Result<RequestHead, Error> {
    let line = request_line::parse(&head, request_line_end, limits.max_target)?;
    let mut semantics = Semantics::default();
    let headers =
        parse_fields(&head, request_line_end + 2, limits.max_headers, spare, names, |name, value| {
            semantics.field(name, value)
        })?;
    let outcome = semantics.finish(line.version, limits)?;
    Ok(RequestHead {
        method: line.method,
        uri: line.uri,
        version: line.version,
        headers,
        body: outcome.body,
        keep_alive: outcome.keep_alive,
        expect_continue: outcome.expect_continue,
    })
}

/// Parses the field lines of `src[start..]` (which ends with the empty line), calling
/// `on_field` with each name and OWS-trimmed value before it goes into the map.
pub(crate) fn parse_fields<F>(
    src: &Bytes,
    start: usize,
    max_fields: usize,
    spare: Option<HeaderMap>,
    mut names: Option<&mut NameCache>,
    mut on_field: F,
) -> Result<HeaderMap, Error>
where
    F: FnMut(&HeaderName, &[u8]) -> Result<(), Error>,
{
    // Most heads have a handful of fields: a small slot array costs little to initialise on
    // every request (100 empty slots were a 3 KiB memset each time); more fields retry with
    // room for the limit.
    if max_fields > SMALL_FIELDS {
        let mut slots = [httparse::EMPTY_HEADER; SMALL_FIELDS];
        match build(src, start, &mut slots, spare, names.as_deref_mut(), &mut on_field) {
            Err(Error::TooManyHeaders) => {}
            done => return done,
        }
    } else {
        let mut slots = [httparse::EMPTY_HEADER; SMALL_FIELDS];
        return build(src, start, &mut slots[..max_fields], spare, names, &mut on_field);
    }
    if max_fields <= STACK_FIELDS {
        let mut slots = [httparse::EMPTY_HEADER; STACK_FIELDS];
        build(src, start, &mut slots[..max_fields], None, names, &mut on_field)
    } else {
        let mut slots = vec![httparse::EMPTY_HEADER; max_fields];
        build(src, start, &mut slots, None, names, &mut on_field)
    }
}

fn build<'b, F>(
    src: &'b Bytes,
    start: usize,
    slots: &mut [httparse::Header<'b>],
    spare: Option<HeaderMap>,
    mut names: Option<&mut NameCache>,
    on_field: &mut F,
) -> Result<HeaderMap, Error>
where
    F: FnMut(&HeaderName, &[u8]) -> Result<(), Error>,
{
    let section = src.get(start..).ok_or(Error::InvalidHeaderName)?;
    let fields = match httparse::parse_headers(section, slots) {
        Ok(httparse::Status::Complete((_, fields))) => fields,
        // The scan found the empty line, so httparse must too; never trust that blindly.
        Ok(httparse::Status::Partial) => return Err(Error::InvalidHeaderName),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::TooManyHeaders),
        Err(httparse::Error::HeaderValue) => return Err(Error::InvalidHeaderValue),
        Err(_) => return Err(Error::InvalidHeaderName),
    };
    let mut map = match spare {
        Some(m) => m,
        None => HeaderMap::try_with_capacity(fields.len()).map_err(|_| Error::TooManyHeaders)?,
    };
    for field in fields.iter() {
        let raw = field.name.as_bytes();
        let name = match names.as_deref_mut() {
            Some(cache) => cache.name(raw),
            None => HeaderName::from_bytes(raw),
        }
        .map_err(|_| Error::InvalidHeaderName)?;
        let value = trim_ows(field.value);
        on_field(&name, value)?;
        let value =
            HeaderValue::from_maybe_shared(src.slice_ref(value)).map_err(|_| Error::InvalidHeaderValue)?;
        map.try_append(name, value).map_err(|_| Error::TooManyHeaders)?;
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BodyKind;
    use http::{Method, Version};

    fn head(raw: &[u8]) -> Result<RequestHead, Error> {
        let limits = Limits { max_headers: 4, ..Limits::default() };
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap_or(raw.len());
        parse_head(Bytes::copy_from_slice(raw), line_end, &limits, None, None)
    }

    #[test]
    fn a_simple_head() {
        let h = head(b"POST /p?q HTTP/1.1\r\nHost: a\r\nX-Pad:\t v \t\r\nContent-Length: 3\r\n\r\n");
        let h = h.expect("valid head");
        assert_eq!(h.method, Method::POST);
        assert_eq!(h.uri, "/p?q");
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.headers["x-pad"], "v");
        assert_eq!(h.body, BodyKind::Length(3));
        assert!(h.keep_alive);
    }

    #[test]
    fn obs_text_values_are_kept_verbatim() {
        let h = head(b"GET / HTTP/1.1\r\nHost: a\r\nX: \x85admin\xa0\r\n\r\n").expect("valid");
        assert_eq!(h.headers["x"].as_bytes(), b"\x85admin\xa0");
    }

    #[test]
    fn bad_names_and_values() {
        let err = |raw: &[u8]| head(raw).err();
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"), Some(Error::InvalidHeaderName));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), Some(Error::InvalidHeaderName));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"), Some(Error::InvalidHeaderName));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nbaz\r\n\r\n"), Some(Error::InvalidHeaderName));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nF@o: b\r\n\r\n"), Some(Error::InvalidHeaderName));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nA\x00b: c\r\n\r\n"), Some(Error::InvalidHeaderName));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"), Some(Error::InvalidHeaderValue));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x07b\r\n\r\n"), Some(Error::InvalidHeaderValue));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n"), Some(Error::InvalidHeaderValue));
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nX: \x0b\r\n\r\n"), Some(Error::InvalidHeaderValue));
        assert_eq!(err(b"HEAD / HTTP/1.1\r\nHost: a\x00\r\n\r\n"), Some(Error::InvalidHeaderValue));
    }

    #[test]
    fn too_many_fields() {
        assert_eq!(
            head(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n").err(),
            Some(Error::TooManyHeaders)
        );
        assert!(head(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n").is_ok());
    }

    #[test]
    fn many_fields_beyond_the_stack_slots() {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..200 {
            raw.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let limits = Limits { max_headers: 300, ..Limits::default() };
        let h = parse_head(Bytes::from(raw), 14, &limits, None, None).expect("valid");
        assert_eq!(h.headers.len(), 201);
    }
}
