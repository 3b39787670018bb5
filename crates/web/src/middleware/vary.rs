//! `Vary` (RFC 9110 §12.5.5) for middleware that make a response depend on a request field:
//! add the field's name without clobbering what the handler or another layer said.

use http::header::VARY;
use http::{HeaderMap, HeaderValue};

/// Adds `name` to the `Vary` of `headers`, unless it is listed already or `Vary: *` says the
/// response varies on everything anyway. A new field line is appended rather than the old
/// one rewritten: several lines of a list field are one list (RFC 9110 §5.3).
pub(crate) fn add(headers: &mut HeaderMap, name: &'static str) {
    let listed = headers.get_all(VARY).iter().any(|line| {
        line.as_bytes()
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .any(|v| v == b"*" || v.eq_ignore_ascii_case(name.as_bytes()))
    });
    if !listed {
        headers.append(VARY, HeaderValue::from_static(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary(h: &HeaderMap) -> Vec<&str> {
        h.get_all(VARY).iter().filter_map(|v| v.to_str().ok()).collect()
    }

    #[test]
    fn appends_once_and_keeps_the_rest() {
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("Cookie"));
        add(&mut h, "Accept-Encoding");
        add(&mut h, "Accept-Encoding");
        assert_eq!(vary(&h), ["Cookie", "Accept-Encoding"]);
    }

    #[test]
    fn listed_in_any_case_or_star_is_left_alone() {
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("cookie, accept-encoding"));
        add(&mut h, "Accept-Encoding");
        assert_eq!(vary(&h), ["cookie, accept-encoding"]);
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("*"));
        add(&mut h, "Origin");
        assert_eq!(vary(&h), ["*"]);
    }
}
