//! A decoded field block checked against RFC 9113 §8.1–8.3 and turned into a
//! [`RequestHead`] (or a trailer map).
//!
//! The HPACK decoder hands us fields one at a time and always runs to the end of the block
//! (its dynamic table must stay in sync even when we refuse the request), so [`Block`]
//! notes the first problem and keeps counting. Values arrive as `Bytes` slices of the
//! received block and become `HeaderValue`s and URI parts without copies.
//!
//! A malformed request (§8.1.1) is a stream error PROTOCOL_ERROR: the server never sees it.
//! A field list over our SETTINGS_MAX_HEADER_LIST_SIZE is not malformed, just too large: the
//! fields beyond the limit are dropped (so HPACK's amplification cannot fill memory) and the
//! request goes on with `too_large` set, for the server to answer 431.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, COOKIE, HOST};
use http::uri::{Authority, Parts, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Uri};

/// A request head, decoded and validated.
#[derive(Debug)]
pub struct RequestHead {
    pub method: http::Method,
    /// Built from :scheme, :authority and :path: an absolute URI when :authority is present,
    /// else origin-form; `*` alone for `OPTIONS *`; authority-form for CONNECT.
    pub uri: http::Uri,
    /// The regular fields. `host` is added from :authority when the client sent none
    /// (§8.3.1), so HTTP/1 handlers find it; `cookie` fields are joined into one (§8.2.3).
    pub headers: http::HeaderMap,
    /// Content-length, if sent. The body is checked against it: a longer or shorter body
    /// resets the stream with PROTOCOL_ERROR (§8.1.1).
    pub content_length: Option<u64>,
    /// The decoded list exceeded max_header_list_size: fields may be incomplete; the server
    /// answers 431 and does not call its handler.
    pub too_large: bool,
}

/// Why a field block cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// §8.1.1: a stream error PROTOCOL_ERROR.
    Malformed(&'static str),
    /// Trailers over max_header_list_size (a request head over it is passed on as too_large).
    TooLarge,
}

/// The size RFC 7541 §4.1 gives a field, which SETTINGS_MAX_HEADER_LIST_SIZE counts.
const FIELD_OVERHEAD: u64 = 32;

/// Connection-specific fields, malformed in HTTP/2 (§8.2.2).
fn connection_specific(name: &[u8]) -> bool {
    matches!(name, b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade")
}

/// A field block being decoded: a request head or trailers.
#[derive(Debug)]
pub(crate) struct Block {
    trailers: bool,
    limit: u64,
    size: u64,
    too_large: bool,
    error: Option<&'static str>,
    regular_seen: bool,
    method: Option<Method>,
    scheme: Option<Bytes>,
    authority: Option<Bytes>,
    path: Option<Bytes>,
    cookies: usize,
    hosts: usize,
    content_length: Option<u64>,
    headers: HeaderMap,
}

impl Block {
    /// `headers` is an empty map to fill (recycled, with its capacity).
    pub(crate) fn new(trailers: bool, max_header_list_size: u32, headers: HeaderMap) -> Block {
        Block {
            trailers,
            limit: u64::from(max_header_list_size),
            size: 0,
            too_large: false,
            error: None,
            regular_seen: false,
            method: None,
            scheme: None,
            authority: None,
            path: None,
            cookies: 0,
            hosts: 0,
            content_length: None,
            headers,
        }
    }

    fn fail(&mut self, why: &'static str) {
        self.error.get_or_insert(why);
    }

    /// One decoded field, in block order.
    pub(crate) fn field(&mut self, name: &[u8], value: Bytes) {
        self.size += name.len() as u64 + value.len() as u64 + FIELD_OVERHEAD;
        if self.size > self.limit {
            self.too_large = true;
        }
        if self.error.is_some() || self.too_large {
            return;
        }
        if name.first() == Some(&b':') {
            self.pseudo(name, value);
        } else {
            self.regular(name, value);
        }
    }

    /// §8.3: pseudo-header fields, before every regular field, each at most once, only the
    /// request ones, never in trailers.
    fn pseudo(&mut self, name: &[u8], value: Bytes) {
        if self.trailers {
            return self.fail("pseudo-header field in trailers");
        }
        if self.regular_seen {
            return self.fail("pseudo-header field after a regular field");
        }
        let slot = match name {
            b":method" => {
                if self.method.is_some() {
                    return self.fail("repeated :method");
                }
                match Method::from_bytes(&value) {
                    Ok(m) => self.method = Some(m),
                    Err(_) => self.fail("invalid :method"),
                }
                return;
            }
            b":scheme" => &mut self.scheme,
            b":authority" => &mut self.authority,
            b":path" => &mut self.path,
            // :status belongs to responses; :protocol needs SETTINGS_ENABLE_CONNECT_PROTOCOL,
            // which we do not send (RFC 8441 §4).
            _ => return self.fail("unknown or response pseudo-header field"),
        };
        if slot.is_some() {
            return self.fail("repeated pseudo-header field");
        }
        *slot = Some(value);
    }

    fn regular(&mut self, name: &[u8], value: Bytes) {
        self.regular_seen = true;
        // §8.2.1: lowercase only (HeaderName would fold uppercase silently, so refuse first);
        // HeaderName itself refuses everything that is not a token character.
        if name.iter().any(u8::is_ascii_uppercase) {
            return self.fail("uppercase field name");
        }
        if connection_specific(name) {
            return self.fail("connection-specific field");
        }
        let Ok(header) = HeaderName::from_bytes(name) else {
            return self.fail("invalid field name");
        };
        // §8.2.1: no leading or trailing whitespace; HeaderValue refuses NUL, CR, LF and the
        // other control characters.
        if matches!(value.first(), Some(b' ' | b'\t')) || matches!(value.last(), Some(b' ' | b'\t')) {
            return self.fail("field value with leading or trailing whitespace");
        }
        let Ok(header_value) = HeaderValue::from_maybe_shared(value) else {
            return self.fail("invalid field value");
        };
        if header == http::header::TE && !header_value.as_bytes().eq_ignore_ascii_case(b"trailers") {
            return self.fail("te other than trailers");
        }
        if !self.trailers {
            if header == http::header::CONTENT_LENGTH {
                match parse_length(header_value.as_bytes()) {
                    Some(n) if self.content_length.is_none_or(|m| m == n) => self.content_length = Some(n),
                    _ => return self.fail("invalid or conflicting content-length"),
                }
            } else if header == COOKIE {
                self.cookies += 1;
            } else if header == HOST {
                self.hosts += 1;
            }
        }
        self.headers.append(header, header_value);
    }

    /// The request head, validated as a whole.
    pub(crate) fn into_request(mut self) -> Result<RequestHead, Refusal> {
        if let Some(why) = self.error {
            return Err(Refusal::Malformed(why));
        }
        let Some(method) = self.method.take() else {
            return Err(Refusal::Malformed("missing :method"));
        };
        let uri = if method == Method::CONNECT {
            // §8.5: :authority only.
            if self.scheme.is_some() || self.path.is_some() {
                return Err(Refusal::Malformed("CONNECT with :scheme or :path"));
            }
            let Some(authority) = self.authority.take() else {
                return Err(Refusal::Malformed("CONNECT without :authority"));
            };
            let raw = authority.clone();
            let authority = authority_of(authority)?;
            self.set_host(raw, &authority, None)?;
            let mut parts = Parts::default();
            parts.authority = Some(authority);
            Uri::from_parts(parts).map_err(|_| Refusal::Malformed("invalid :authority"))?
        } else {
            self.uri(&method)?
        };
        if self.cookies > 1 {
            join_cookies(&mut self.headers);
        }
        Ok(RequestHead {
            method,
            uri,
            headers: self.headers,
            content_length: self.content_length,
            too_large: self.too_large,
        })
    }

    /// §8.3.1: :method, :scheme and :path exactly once; :path non-empty, `*` only for OPTIONS.
    fn uri(&mut self, method: &Method) -> Result<Uri, Refusal> {
        let (Some(scheme), Some(path)) = (self.scheme.take(), self.path.take()) else {
            return Err(Refusal::Malformed("missing :scheme or :path"));
        };
        let scheme = Scheme::try_from(&scheme[..]).map_err(|_| Refusal::Malformed("invalid :scheme"))?;
        let asterisk = &path[..] == b"*";
        if asterisk && *method != Method::OPTIONS {
            return Err(Refusal::Malformed(":path * without OPTIONS"));
        }
        if !asterisk && path.first() != Some(&b'/') {
            return Err(Refusal::Malformed("empty or relative :path"));
        }
        let path = PathAndQuery::from_maybe_shared(path).map_err(|_| Refusal::Malformed("invalid :path"))?;
        let authority = match self.authority.take() {
            Some(raw) => {
                let a = authority_of(raw.clone())?;
                self.set_host(raw, &a, Some(&scheme))?;
                Some(a)
            }
            None => None,
        };
        let mut parts = Parts::default();
        if let (Some(a), false) = (authority, asterisk) {
            parts.scheme = Some(scheme);
            parts.authority = Some(a);
        }
        parts.path_and_query = Some(path);
        Uri::from_parts(parts).map_err(|_| Refusal::Malformed("invalid request target"))
    }

    /// §8.3.1: a Host field that names another entity than :authority makes the request
    /// malformed; with no Host, one is added from :authority. With both, both are kept as sent.
    fn set_host(
        &mut self,
        raw: Bytes,
        authority: &Authority,
        scheme: Option<&Scheme>,
    ) -> Result<(), Refusal> {
        match self.hosts {
            0 => {
                let value = HeaderValue::from_maybe_shared(raw)
                    .map_err(|_| Refusal::Malformed("invalid :authority"))?;
                self.headers.insert(HOST, value);
                Ok(())
            }
            1 => {
                let host = self.headers.get(HOST).map(HeaderValue::as_bytes).unwrap_or_default();
                if same_authority(host, authority.as_str().as_bytes(), scheme) {
                    Ok(())
                } else {
                    Err(Refusal::Malformed("host differs from :authority"))
                }
            }
            _ => Err(Refusal::Malformed("more than one host field")),
        }
    }

    /// The trailer fields (§8.1: no pseudo-header fields).
    pub(crate) fn into_trailers(self) -> Result<HeaderMap, Refusal> {
        if let Some(why) = self.error {
            return Err(Refusal::Malformed(why));
        }
        if self.too_large {
            return Err(Refusal::TooLarge);
        }
        Ok(self.headers)
    }
}

/// §8.3.1: no userinfo in :authority for http and https.
fn authority_of(bytes: Bytes) -> Result<Authority, Refusal> {
    if bytes.contains(&b'@') {
        return Err(Refusal::Malformed(":authority with userinfo"));
    }
    Authority::from_maybe_shared(bytes).map_err(|_| Refusal::Malformed("invalid :authority"))
}

/// Host and :authority compared after scheme-based normalization (RFC 3986 §6.2.3): case
/// folded, an empty port and the scheme's default port dropped.
fn same_authority(host: &[u8], authority: &[u8], scheme: Option<&Scheme>) -> bool {
    let default_port: &[u8] = match scheme.map(Scheme::as_str) {
        Some("http") => b":80",
        Some("https") => b":443",
        _ => b"",
    };
    fn normalize<'a>(mut a: &'a [u8], default_port: &[u8]) -> &'a [u8] {
        if !default_port.is_empty() {
            a = a.strip_suffix(default_port).unwrap_or(a);
        }
        a.strip_suffix(b":").unwrap_or(a)
    }
    normalize(host, default_port).eq_ignore_ascii_case(normalize(authority, default_port))
}

/// A content-length value: digits only, no overflow (RFC 9110 §8.6).
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

/// §8.2.3: several cookie fields become one, joined with "; ", for HTTP/1 handlers.
fn join_cookies(headers: &mut HeaderMap) {
    let values = headers.get_all(COOKIE);
    let len = values.iter().map(|v| v.len() + 2).sum::<usize>();
    let mut joined = BytesMut::with_capacity(len);
    for v in values {
        if !joined.is_empty() {
            joined.put_slice(b"; ");
        }
        joined.put_slice(v.as_bytes());
    }
    // Each part was a valid value and "; " is too, so the whole is valid.
    if let Ok(value) = HeaderValue::from_maybe_shared(joined.freeze()) {
        headers.insert(COOKIE, value);
    }
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
