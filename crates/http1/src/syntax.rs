//! Byte-level grammar shared by the head, framing and chunked parsers (RFC 9110 §5.6,
//! RFC 3986 §3.2.2). Pure functions over `&[u8]`: nothing here can panic on any input.

/// A 256-entry lookup table of the bytes `c` for which `$pred` holds, built at compile time.
/// The byte classes a request's every byte runs through are tables: a load instead of a chain
/// of comparisons (~10 instructions a byte for the Host class).
macro_rules! byte_class {
    (|$c:ident| $pred:expr) => {{
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let $c = b as u8;
            t[b] = $pred;
            b += 1;
        }
        t
    }};
}
pub(crate) use byte_class;

/// `tchar` (RFC 9110 §5.6.2): this runs on every method and coding byte.
static TCHAR: [bool; 256] = byte_class!(|c| c.is_ascii_alphanumeric()
    || matches!(
        c,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
    ));

/// `token = 1*tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TCHAR[b as usize])
}

pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// `OWS = *( SP / HTAB )`.
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Strips OWS on both sides (RFC 9110 §5.5: it is not part of the value).
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// The elements of a comma-separated list field (RFC 9110 §5.6.1), OWS-trimmed. Empty
/// elements are kept: whether they are allowed depends on the field.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// Whether a comma-separated token list (Connection) contains `token`, case-insensitively.
pub(crate) fn list_contains(value: &[u8], token: &[u8]) -> bool {
    list_elements(value).any(|e| e.eq_ignore_ascii_case(token))
}

/// `unreserved / sub-delims` (RFC 3986 §2.2–2.3): every request's Host value runs through it.
static HOST_CHAR: [bool; 256] = byte_class!(|c| c.is_ascii_alphanumeric()
    || matches!(c, b'-' | b'.' | b'_' | b'~')
    || matches!(c, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='));

/// `unreserved / sub-delims`.
fn is_host_char(b: u8) -> bool {
    HOST_CHAR[b as usize]
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2). An empty value is valid:
/// a client sends it when the target URI has no authority (RFC 9112 §3.2).
pub(crate) fn is_valid_host(v: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = v.strip_prefix(b"[") {
        // IP-literal: we check the alphabet, not the full IPv6 grammar; it never reaches a
        // resolver, and the brackets keep it from being mistaken for a port.
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &rest[..close];
        let ok = !literal.is_empty() && literal.iter().all(|&b| is_host_char(b) || b == b':');
        if !ok {
            return false;
        }
        match &rest[close + 1..] {
            [] => return true,
            [b':', port @ ..] => (&[][..], port),
            _ => return false,
        }
    } else {
        match v.iter().position(|&b| b == b':') {
            Some(colon) => (&v[..colon], &v[colon + 1..]),
            None => (v, &[][..]),
        }
    };
    is_reg_name(host) && port.iter().all(u8::is_ascii_digit)
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(s: &[u8]) -> bool {
    // Nearly every Host is plain: one table lookup a byte, no percent-encoding to follow.
    if s.iter().all(|&b| is_host_char(b)) {
        return true;
    }
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            match s.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else if is_host_char(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Parses `1*DIGIT` into a u64; `None` on an empty string, any other byte, or overflow
/// (RFC 9110 §8.6: a recipient MUST anticipate large numerals and prevent overflow).
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token(b"GET"));
        assert!(is_token(b"X.Custom|Pipe"));
        assert!(is_token(b"-BLARGH"));
        assert!(!is_token(b""));
        assert!(!is_token(b"bla:rgh"));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"\xc3\x9f"));
        assert!(!is_token(b"\"chunked\""));
    }

    #[test]
    fn ows_trimming() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b"\xa0x\xa0"), b"\xa0x\xa0");
    }

    #[test]
    fn lists() {
        assert!(list_contains(b"keep-alive, Close", b"close"));
        assert!(list_contains(b"close\t", b"close"));
        assert!(!list_contains(b"closed", b"close"));
        let v: Vec<&[u8]> = list_elements(b",chunked").collect();
        assert_eq!(v, [&b""[..], b"chunked"]);
    }

    #[test]
    fn hosts() {
        for ok in [
            &b"example.com"[..],
            b"example.com:8080",
            b"0.0.0.0=5000",
            b"[::1]",
            b"[::1]:443",
            b"",
            b"a%20b",
            b"host:",
        ] {
            assert!(is_valid_host(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [&b"a b"[..], b"a/b", b"a:b", b"a:1:2", b"[::1", b"[::1]x", b"a@b", b"%zz", b"\xff", b"[]"]
        {
            assert!(!is_valid_host(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"003"), Some(3));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"+1"), None);
        assert_eq!(parse_decimal(b"-0"), None);
        assert_eq!(parse_decimal(b"1_0"), None);
        assert_eq!(parse_decimal(b"4 2"), None);
    }
}
