//! The request-line: `method SP request-target SP HTTP-version` (RFC 9112 §3).
//!
//! We split it ourselves rather than with httparse for two reasons: httparse reports every
//! unknown version as the same error, but a well-formed `HTTP/2.0` deserves 505 while `ICE/1.0`
//! deserves 400; and RFC 9110 §2.5 asks us to treat `HTTP/1.9` as the highest 1.x we speak,
//! which httparse refuses. The field lines after it still go through httparse.

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Method, Uri, Version};
use memchr::memchr;

use crate::syntax::{byte_class, is_token};
use crate::Error;

/// The three parts of a request-line, validated.
#[derive(Debug)]
pub(crate) struct RequestLine {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
}

/// Parses `head[..line_end]` (the request-line without its CRLF). The target is sliced out
/// of `head` without copying.
pub(crate) fn parse(head: &Bytes, line_end: usize, max_target: usize) -> Result<RequestLine, Error> {
    let line = head.get(..line_end).ok_or(Error::InvalidRequestLine)?;
    // Exactly one SP between the parts (RFC 9112 §3: parsing on any whitespace is only a MAY).
    let sp1 = memchr(b' ', line).ok_or(Error::InvalidRequestLine)?;
    let target_start = sp1 + 1;
    let sp2 = memchr(b' ', &line[target_start..]).ok_or(Error::InvalidRequestLine)? + target_start;
    let (method, target, version) = (&line[..sp1], &line[target_start..sp2], &line[sp2 + 1..]);
    if version.contains(&b' ') {
        return Err(Error::InvalidRequestLine);
    }
    // The version first: if we do not speak it, the rest of the line means nothing to us.
    let version = parse_version(version)?;
    if !is_token(method) {
        return Err(Error::InvalidMethod);
    }
    let method = Method::from_bytes(method).map_err(|_| Error::InvalidMethod)?;
    if target.len() > max_target {
        return Err(Error::TargetTooLong);
    }
    let uri = parse_target(head.slice(target_start..sp2), &method)?;
    Ok(RequestLine { method, uri, version })
}

/// `HTTP-version = "HTTP" "/" DIGIT "." DIGIT` (RFC 9112 §2.3), case-sensitive.
fn parse_version(v: &[u8]) -> Result<Version, Error> {
    match v {
        b"HTTP/1.1" => Ok(Version::HTTP_11),
        b"HTTP/1.0" => Ok(Version::HTTP_10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major == b'1' {
                // RFC 9110 §2.5: a higher minor version is processed as the highest we support.
                Ok(Version::HTTP_11)
            } else {
                Err(Error::UnsupportedVersion)
            }
        }
        _ => Err(Error::InvalidVersion),
    }
}

/// Bytes we let into a request-target: visible ASCII, minus those that no URI holds
/// unescaped and that browsers always percent-encode (the WHATWG path percent-encode set),
/// minus `\`, which some file systems take for a path separator. Raw UTF-8 and CTLs are
/// refused; a fragment (`#`) is not part of any request-target form (RFC 9112 §3.2.1).
/// `|`, `^`, `[` and `]` pass: browsers send them raw in real URLs.
static TARGET_CHAR: [bool; 256] = byte_class!(|c| c >= 0x21
    && c < 0x7f
    && !matches!(c, b'"' | b'#' | b'<' | b'>' | b'\\' | b'`' | b'{' | b'}'));

fn is_target_char(b: u8) -> bool {
    TARGET_CHAR[b as usize]
}

/// The four request-target forms (RFC 9112 §3.2).
fn parse_target(target: Bytes, method: &Method) -> Result<Uri, Error> {
    if target.is_empty() || !target.iter().all(|&b| is_target_char(b)) {
        return Err(Error::InvalidTarget);
    }
    if &target[..] == b"*" {
        // asterisk-form (§3.2.4) is only for a server-wide OPTIONS.
        return if method == Method::OPTIONS {
            Ok(Uri::from_static("*"))
        } else {
            Err(Error::AsteriskWithoutOptions)
        };
    }
    if target[0] == b'/' && method != Method::CONNECT {
        // origin-form (§3.2.1), nearly every request: straight to a path-and-query, without
        // `Uri`'s search for a scheme and authority that this form cannot have.
        let pq = PathAndQuery::from_maybe_shared(target).map_err(|_| Error::InvalidTarget)?;
        return Ok(Uri::from(pq));
    }
    let uri = Uri::from_maybe_shared(target).map_err(|_| Error::InvalidTarget)?;
    if method == Method::CONNECT {
        // authority-form (§3.2.3): `host:port`, nothing else.
        let ok = uri.scheme().is_none()
            && uri.path_and_query().is_none()
            && uri.authority().is_some_and(|a| a.port().is_some() && !a.as_str().contains('@'));
        return if ok { Ok(uri) } else { Err(Error::InvalidTarget) };
    }
    // absolute-form (§3.2.2). Only the http(s) schemes name something an HTTP server can
    // serve, and userinfo SHOULD be treated as an error (RFC 9110 §4.2.4).
    let http_scheme =
        uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    let ok =
        http_scheme && uri.authority().is_some_and(|a| !a.as_str().is_empty() && !a.as_str().contains('@'));
    if ok {
        Ok(uri)
    } else {
        Err(Error::InvalidTarget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &[u8]) -> Result<RequestLine, Error> {
        parse(&Bytes::copy_from_slice(line), line.len(), 100)
    }

    fn target_of(line: &[u8]) -> String {
        parse_line(line).map(|rl| rl.uri.to_string()).unwrap_or_else(|e| format!("{e:?}"))
    }

    #[test]
    fn the_four_target_forms() {
        assert_eq!(target_of(b"GET /a/b?c=d HTTP/1.1"), "/a/b?c=d");
        assert_eq!(target_of(b"GET http://example.com/foo?q=1 HTTP/1.1"), "http://example.com/foo?q=1");
        assert_eq!(target_of(b"GET http://[::1]:8080/foo HTTP/1.1"), "http://[::1]:8080/foo");
        assert_eq!(target_of(b"CONNECT example.com:443 HTTP/1.1"), "example.com:443");
        assert_eq!(target_of(b"CONNECT [::1]:443 HTTP/1.1"), "[::1]:443");
        assert_eq!(target_of(b"OPTIONS * HTTP/1.1"), "*");
    }

    #[test]
    fn targets_outside_their_form_are_refused() {
        let bad = |line: &[u8], err| assert_eq!(parse_line(line).err(), Some(err), "{line:?}");
        bad(b"GET * HTTP/1.1", Error::AsteriskWithoutOptions);
        bad(b"M-SEARCH * HTTP/1.1", Error::AsteriskWithoutOptions);
        bad(b"GET example.com:443 HTTP/1.1", Error::InvalidTarget);
        bad(b"GET foo/bar HTTP/1.1", Error::InvalidTarget);
        bad(b"GET ! HTTP/1.1", Error::InvalidTarget);
        bad(b"PUT s://]ufd/: HTTP/1.1", Error::InvalidTarget);
        bad(b"GET ftp://example.com/ HTTP/1.1", Error::InvalidTarget);
        bad(b"GET http://user:pass@example.com/ HTTP/1.1", Error::InvalidTarget);
        bad(b"CONNECT example.com HTTP/1.1", Error::InvalidTarget);
        bad(b"CONNECT /path HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /a#frag HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /\xc3\xa0 HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /a\x7f HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /a\x00 HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /\"q\" HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /a\\b HTTP/1.1", Error::InvalidTarget);
        bad(b"GET /{x} HTTP/1.1", Error::InvalidTarget);
        assert_eq!(target_of(b"GET /q?a=|^[] HTTP/1.1"), "/q?a=|^[]");
    }

    #[test]
    fn request_line_structure() {
        let bad = |line: &[u8], err| assert_eq!(parse_line(line).err(), Some(err), "{line:?}");
        bad(b"GET /", Error::InvalidRequestLine);
        bad(b"GET", Error::InvalidRequestLine);
        bad(b"GET /foo bar/ HTTP/1.1", Error::InvalidRequestLine);
        bad(b"GET  / HTTP/1.1", Error::InvalidRequestLine);
        bad(b"GET / HTTP/1.1 x", Error::InvalidRequestLine);
        bad(b" GET / HTTP/1.1", Error::InvalidRequestLine);
        bad(b"G\tT / HTTP/1.1", Error::InvalidMethod);
        bad(b"GET: / HTTP/1.1", Error::InvalidMethod);
        bad(b"GET\xc3\x9f / HTTP/1.1", Error::InvalidMethod);
        let long = [&b"GET /"[..], &[b'a'; 100], b" HTTP/1.1"].concat();
        bad(&long, Error::TargetTooLong);
    }

    #[test]
    fn versions() {
        let v = |line: &[u8]| parse_line(line).map(|rl| rl.version);
        assert_eq!(v(b"GET / HTTP/1.1"), Ok(Version::HTTP_11));
        assert_eq!(v(b"GET / HTTP/1.0"), Ok(Version::HTTP_10));
        assert_eq!(v(b"GET / HTTP/1.9"), Ok(Version::HTTP_11));
        for unsupported in [&b"HTTP/2.0"[..], b"HTTP/5.6", b"HTTP/0.9", b"HTTP/3.0"] {
            let line = [&b"GET / "[..], unsupported].concat();
            assert_eq!(v(&line), Err(Error::UnsupportedVersion));
        }
        for invalid in [
            &b"HTTP/111"[..],
            b"HTTP/1.32",
            b"HTTP/0.99",
            b"ICE/1.0",
            b"RTSP/1.0",
            b"http/1.1",
            b"HTTP/1",
            b"",
        ] {
            let line = [&b"GET / "[..], invalid].concat();
            assert_eq!(v(&line), Err(Error::InvalidVersion), "{invalid:?}");
        }
    }

    #[test]
    fn unknown_methods_are_fine() {
        for m in ["PURGE", "REPORT", "QUERY", "M-SEARCH", "-BLARGH", "MKCOLA"] {
            let line = format!("{m} / HTTP/1.1");
            assert_eq!(parse_line(line.as_bytes()).map(|rl| rl.method.to_string()), Ok(m.to_string()));
        }
    }
}
