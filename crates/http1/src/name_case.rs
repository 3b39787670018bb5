//! Field names on the HTTP/1.1 wire in one case: Title-Case (`Content-Type`, `Last-Modified`),
//! as nginx, Apache and Caddy (Go canonicalises keys) send them, beside our own `Server`,
//! `Date` and `Content-Length`. `http::HeaderName` keeps names lowercase, which HTTP/2 requires
//! (RFC 9113 §8.2.1), so only the HTTP/1.1 encoder recases; names are case-insensitive
//! (RFC 9110 §5.1) and this is for the people reading `curl -i`, not for parsers.
//!
//! No allocation. The names handlers send most come from a table of their spellings, found
//! by comparing `HeaderName`s (a tag compare for the `http` crate's standard names: a few
//! instructions each) and copied whole; the table also holds the names Title-Case would get
//! wrong (`ETag`, `WWW-Authenticate`). Any other name is copied and its letters raised in
//! place, the first and each after a `-`. Measured with callgrind on examples/hello (one
//! `content-type` per response): a byte loop for every name cost ~100 instructions per
//! request, the table ~10.

use http::header::{self, HeaderName};

/// Appends `name` in its conventional case.
pub(crate) fn put_name(out: &mut Vec<u8>, name: &HeaderName) {
    match KNOWN.iter().find(|(n, _)| n == name) {
        Some((_, spelled)) => out.extend_from_slice(spelled),
        None => title_case(out, name.as_str().as_bytes()),
    }
}

/// The names responses carry most, most frequent first (static files, then the framework's
/// and the applications' usual fields), with the registered spellings.
const KNOWN: [(HeaderName, &[u8]); 24] = [
    (header::CONTENT_TYPE, b"Content-Type"),
    (header::ETAG, b"ETag"),
    (header::LAST_MODIFIED, b"Last-Modified"),
    (header::X_CONTENT_TYPE_OPTIONS, b"X-Content-Type-Options"),
    (header::CACHE_CONTROL, b"Cache-Control"),
    (header::VARY, b"Vary"),
    (header::CONTENT_ENCODING, b"Content-Encoding"),
    (header::ACCEPT_RANGES, b"Accept-Ranges"),
    (header::CONTENT_RANGE, b"Content-Range"),
    (header::LOCATION, b"Location"),
    (header::ALLOW, b"Allow"),
    (header::RETRY_AFTER, b"Retry-After"),
    (header::SET_COOKIE, b"Set-Cookie"),
    (header::EXPIRES, b"Expires"),
    (header::CONTENT_DISPOSITION, b"Content-Disposition"),
    (header::CONTENT_LANGUAGE, b"Content-Language"),
    (header::STRICT_TRANSPORT_SECURITY, b"Strict-Transport-Security"),
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, b"Access-Control-Allow-Origin"),
    (header::WWW_AUTHENTICATE, b"WWW-Authenticate"),
    (header::X_XSS_PROTECTION, b"X-XSS-Protection"),
    (header::X_FRAME_OPTIONS, b"X-Frame-Options"),
    (header::CONTENT_SECURITY_POLICY, b"Content-Security-Policy"),
    (header::REFERRER_POLICY, b"Referrer-Policy"),
    (header::AGE, b"Age"),
];

/// Copies a lowercase `name` with the first letter and each after `-` raised.
fn title_case(out: &mut Vec<u8>, name: &[u8]) {
    let start = out.len();
    out.extend_from_slice(name);
    let mut up = true;
    for b in &mut out[start..] {
        if up {
            b.make_ascii_uppercase();
        }
        up = *b == b'-';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cased(name: &str) -> String {
        let mut out = b"x".to_vec();
        put_name(&mut out, &HeaderName::from_bytes(name.as_bytes()).unwrap_or(header::HOST));
        String::from_utf8(out[1..].to_vec()).unwrap_or_default()
    }

    #[test]
    fn title_case_and_the_exceptions() {
        assert_eq!(cased("content-type"), "Content-Type");
        assert_eq!(cased("x-content-type-options"), "X-Content-Type-Options");
        assert_eq!(cased("vary"), "Vary");
        assert_eq!(cased("etag"), "ETag");
        assert_eq!(cased("www-authenticate"), "WWW-Authenticate");
        assert_eq!(cased("x-custom-2"), "X-Custom-2");
        assert_eq!(cased("a--b"), "A--B");
        assert_eq!(cased("sec-ch-ua"), "Sec-Ch-Ua");
        assert_eq!(cased("link"), "Link", "a standard name not in the table");
    }

    #[test]
    fn the_table_spells_each_name_it_matches() {
        for (name, spelled) in &KNOWN {
            assert!(spelled.eq_ignore_ascii_case(name.as_str().as_bytes()), "{name}");
        }
    }
}
