//! Conditional requests (RFC 9110 §13): `If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since` and `If-Range`, evaluated against a representation's validators.
//!
//! The order is that of §13.2.2, and it matters: a failed `If-Match` wins over a matching
//! `If-None-Match`, `If-Modified-Since` is only looked at without `If-None-Match`, and
//! `If-Range` only decides whether a `Range` that passed the rest is honoured.
//!
//! Invalid dates are ignored (§13.1.3, §13.1.4). An `If-Match`/`If-None-Match` that is not a
//! list of entity-tags matches nothing: `If-Match` then fails (412, the safe side for a write
//! guard) and `If-None-Match` then passes (a full 200, never a wrong 304).

use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderValue, Method};

/// What the preconditions say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Go on with the request.
    Pass,
    /// 304 Not Modified (§15.4.5): the client's copy is current.
    NotModified,
    /// 412 Precondition Failed (§15.5.13).
    Failed,
}

/// A representation's validators: its strong entity-tag and its modification time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validators<'a> {
    pub(crate) etag: &'a HeaderValue,
    pub(crate) modified: SystemTime,
}

/// Evaluates the preconditions of §13.2.2, steps 1 to 4.
pub(crate) fn evaluate(req: &HeaderMap, method: &Method, v: Validators<'_>) -> Precondition {
    // Cheapest check first: most requests carry none of these fields.
    let if_match = req.get(IF_MATCH);
    let if_none_match = req.get(IF_NONE_MATCH);
    let if_modified_since = req.get(IF_MODIFIED_SINCE);
    let if_unmodified_since = req.get(IF_UNMODIFIED_SINCE);
    if if_match.is_none()
        && if_none_match.is_none()
        && if_modified_since.is_none()
        && if_unmodified_since.is_none()
    {
        return Precondition::Pass;
    }
    let get_or_head = method == Method::GET || method == Method::HEAD;
    // Step 1: If-Match, strong comparison (§13.1.1).
    if if_match.is_some() {
        if !list_matches(req, IF_MATCH, v.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(date) = single_date(req, IF_UNMODIFIED_SINCE) {
        // Step 2: If-Unmodified-Since (§13.1.4), only without If-Match.
        if secs(v.modified) > date {
            return Precondition::Failed;
        }
    }
    // Step 3: If-None-Match, weak comparison (§13.1.2).
    if if_none_match.is_some() {
        if list_matches(req, IF_NONE_MATCH, v.etag, Comparison::Weak) {
            return if get_or_head { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if get_or_head {
        // Step 4: If-Modified-Since (§13.1.3), only for GET/HEAD without If-None-Match.
        if let Some(date) = single_date(req, IF_MODIFIED_SINCE) {
            if secs(v.modified) <= date {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Pass
}

/// Step 5: whether a `Range` may be honoured under `If-Range` (§13.1.5). Without the field,
/// yes; with it, only on a strong entity-tag match or an exact match of a strong
/// `Last-Modified` date; otherwise the whole representation is sent (200).
pub(crate) fn if_range(req: &HeaderMap, v: Validators<'_>, now: SystemTime) -> bool {
    let Some(value) = req.get(IF_RANGE) else {
        return true;
    };
    let b = value.as_bytes();
    // §13.1.5: an entity-tag starts with DQUOTE or `W/`; anything else must be a date.
    if b.first() == Some(&b'"') || b.starts_with(b"W/") {
        return match parse_etag(b.trim_ascii()) {
            Some((tag, b"")) => strong_eq(tag, v.etag.as_bytes()),
            _ => false,
        };
    }
    let Some(date) = value.to_str().ok().and_then(|s| httpdate::parse_http_date(s).ok()) else {
        return false;
    };
    // §8.8.2.2: a modification date is only a strong validator once it is at least a second
    // older than the response's Date; a file written this very second may change again
    // within the same second.
    let modified = secs(v.modified);
    modified == secs(date) && modified < secs(now)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether any field line of `name` holds `*` or an entity-tag that matches `current`.
fn list_matches(
    req: &HeaderMap,
    name: http::header::HeaderName,
    current: &HeaderValue,
    how: Comparison,
) -> bool {
    for value in req.get_all(name) {
        let mut rest = value.as_bytes().trim_ascii();
        if rest == b"*" {
            return true;
        }
        // #entity-tag (§5.6.1): comma-separated, empty elements allowed.
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix(b",") {
                rest = r.trim_ascii_start();
                continue;
            }
            let Some((tag, after)) = parse_etag(rest) else {
                return false;
            };
            let hit = match how {
                Comparison::Strong => strong_eq(tag, current.as_bytes()),
                Comparison::Weak => opaque(tag) == opaque(current.as_bytes()),
            };
            if hit {
                return true;
            }
            rest = after.trim_ascii_start();
        }
    }
    false
}

/// Splits one entity-tag (`"x"` or `W/"x"`, §8.8.3) off the front of `b`.
fn parse_etag(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = if b.starts_with(b"W/") { 2 } else { 0 };
    if b.get(start) != Some(&b'"') {
        return None;
    }
    // etagc = %x21 / %x23-7E / obs-text: no DQUOTE, no space, no controls.
    let len = b[start + 1..].iter().position(|&c| c == b'"')?;
    let end = start + 1 + len + 1;
    if b[start + 1..end - 1].iter().any(|&c| c <= b' ' || c == 0x7f) {
        return None;
    }
    Some((&b[..end], &b[end..]))
}

/// Strong comparison (§8.8.3.2): both strong and the same opaque-tag.
fn strong_eq(tag: &[u8], current: &[u8]) -> bool {
    !tag.starts_with(b"W/") && !current.starts_with(b"W/") && tag == current
}

/// The opaque-tag, for weak comparison.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// A date field's value, in seconds since the epoch; `None` if absent, repeated or invalid
/// (all three mean "ignore the field", §13.1.3).
fn single_date(req: &HeaderMap, name: http::header::HeaderName) -> Option<u64> {
    let mut all = req.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    let t = httpdate::parse_http_date(first.to_str().ok()?).ok()?;
    Some(secs(t))
}

/// HTTP dates have one-second resolution; file times have nanoseconds. Comparing in whole
/// seconds makes a `Last-Modified` the client echoes back match the file it came from.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    static ETAG: HeaderValue = HeaderValue::from_static("\"abc\"");

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    /// Modified at 1_000_000 s (+ 500 ms, which the comparisons must ignore).
    fn v() -> Validators<'static> {
        Validators { etag: &ETAG, modified: at(1_000_000) + Duration::from_millis(500) }
    }

    fn date(s: u64) -> String {
        httpdate::fmt_http_date(at(s))
    }

    fn eval(method: Method, fields: &[(&'static str, &str)]) -> Precondition {
        let mut h = HeaderMap::new();
        for (n, val) in fields {
            h.append(*n, HeaderValue::from_str(val).unwrap_or(HeaderValue::from_static("?")));
        }
        evaluate(&h, &method, v())
    }

    use Precondition::{Failed, NotModified, Pass};

    #[test]
    fn none_of_the_fields_passes() {
        assert_eq!(eval(Method::GET, &[]), Pass);
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        assert_eq!(eval(Method::GET, &[("if-none-match", "\"abc\"")]), NotModified);
        assert_eq!(eval(Method::GET, &[("if-none-match", "W/\"abc\"")]), NotModified);
        assert_eq!(eval(Method::GET, &[("if-none-match", "\"x\", W/\"abc\"")]), NotModified);
        assert_eq!(
            eval(Method::GET, &[("if-none-match", "\"x\""), ("if-none-match", "\"abc\"")]),
            NotModified
        );
        assert_eq!(eval(Method::GET, &[("if-none-match", "*")]), NotModified);
        assert_eq!(eval(Method::HEAD, &[("if-none-match", "\"abc\"")]), NotModified);
        assert_eq!(eval(Method::GET, &[("if-none-match", "\"abcd\", \"ab\"")]), Pass);
        assert_eq!(eval(Method::GET, &[("if-none-match", "abc")]), Pass);
        // Not GET/HEAD: a match is a failed precondition, not a 304.
        assert_eq!(eval(Method::DELETE, &[("if-none-match", "\"abc\"")]), Failed);
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        assert_eq!(eval(Method::GET, &[("if-match", "\"abc\"")]), Pass);
        assert_eq!(eval(Method::GET, &[("if-match", "\"x\" , \"abc\"")]), Pass);
        assert_eq!(eval(Method::GET, &[("if-match", "*")]), Pass);
        assert_eq!(eval(Method::GET, &[("if-match", "W/\"abc\"")]), Failed);
        assert_eq!(eval(Method::GET, &[("if-match", "\"x\"")]), Failed);
        assert_eq!(eval(Method::GET, &[("if-match", "garbage")]), Failed);
    }

    #[test]
    fn dates_compare_in_whole_seconds_and_invalid_ones_are_ignored() {
        assert_eq!(eval(Method::GET, &[("if-modified-since", &date(1_000_000))]), NotModified);
        assert_eq!(eval(Method::GET, &[("if-modified-since", &date(1_000_001))]), NotModified);
        assert_eq!(eval(Method::GET, &[("if-modified-since", &date(999_999))]), Pass);
        assert_eq!(eval(Method::GET, &[("if-modified-since", "yesterday")]), Pass);
        assert_eq!(eval(Method::GET, &[("if-unmodified-since", &date(1_000_000))]), Pass);
        assert_eq!(eval(Method::GET, &[("if-unmodified-since", &date(999_999))]), Failed);
        assert_eq!(eval(Method::GET, &[("if-unmodified-since", "not a date")]), Pass);
        // RFC 850 and asctime forms are HTTP-dates too (§5.6.7).
        assert_eq!(
            eval(Method::GET, &[("if-modified-since", "Monday, 12-Jan-70 13:46:40 GMT")]),
            NotModified
        );
        assert_eq!(eval(Method::GET, &[("if-modified-since", "Mon Jan 12 13:46:40 1970")]), NotModified);
        // If-Modified-Since is for GET and HEAD only.
        assert_eq!(eval(Method::POST, &[("if-modified-since", &date(1_000_000))]), Pass);
    }

    #[test]
    fn evaluation_order_is_that_of_rfc9110_13_2_2() {
        // If-Match failing wins over If-None-Match matching.
        assert_eq!(eval(Method::GET, &[("if-match", "\"x\""), ("if-none-match", "\"abc\"")]), Failed);
        // If-Match present: If-Unmodified-Since is not looked at.
        assert_eq!(eval(Method::GET, &[("if-match", "\"abc\""), ("if-unmodified-since", &date(1))]), Pass);
        // If-None-Match present: If-Modified-Since is not looked at, either way.
        let old = date(1);
        assert_eq!(
            eval(Method::GET, &[("if-none-match", "\"x\""), ("if-modified-since", &date(2_000_000))]),
            Pass
        );
        assert_eq!(
            eval(Method::GET, &[("if-none-match", "\"abc\""), ("if-modified-since", &old)]),
            NotModified
        );
        // If-Unmodified-Since failing wins over If-Modified-Since.
        assert_eq!(
            eval(Method::GET, &[("if-unmodified-since", &old), ("if-modified-since", &date(2_000_000))]),
            Failed
        );
    }

    #[test]
    fn if_range_needs_a_strong_match() {
        let now = at(2_000_000);
        let check = |val: &str, now| {
            let mut h = HeaderMap::new();
            h.insert(IF_RANGE, HeaderValue::from_str(val).unwrap_or(HeaderValue::from_static("?")));
            if_range(&h, v(), now)
        };
        assert!(if_range(&HeaderMap::new(), v(), now));
        assert!(check("\"abc\"", now));
        assert!(!check("W/\"abc\"", now));
        assert!(!check("\"abd\"", now));
        assert!(check(&date(1_000_000), now));
        assert!(!check(&date(1_000_001), now), "only an exact date matches");
        assert!(!check(&date(999_999), now));
        assert!(!check("garbage", now));
        // A date within the file's own second is weak (§8.8.2.2).
        assert!(!check(&date(1_000_000), at(1_000_000)));
    }
}
