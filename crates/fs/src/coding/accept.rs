//! `Accept-Encoding` (RFC 9110 §12.5.3): what the client accepts, with weights, and the choice
//! among the codings we can offer for one file.
//!
//! The parser never fails: the header is network-controlled, and a junk element only loses
//! that element (it is treated as absent), never the request.

use http::header::ACCEPT_ENCODING;
use http::HeaderMap;

use super::Coding;

/// A weight in thousandths: RFC 9110 §12.4.2 allows at most three decimals, so integer
/// comparisons are exact (no float ties).
pub(crate) type Q = u16;

/// The weight of an element without `;q=`.
const Q_ONE: Q = 1000;

/// The parsed header: an explicit weight per coding we know, for `identity` and for `*`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accept {
    codings: [Option<Q>; 3],
    identity: Option<Q>,
    star: Option<Q>,
}

/// Longest `Accept-Encoding` line the memo keeps (browsers' are ~25 bytes).
const MEMO_LONGEST: usize = 64;

/// The last line [`Accept::of_line`] parsed on this thread, and what it meant.
struct Memo {
    bytes: [u8; MEMO_LONGEST],
    len: u8,
    accept: Accept,
}

thread_local! {
    // Starts as the empty line, which is what an empty field means (identity only).
    static LAST: std::cell::RefCell<Memo> =
        const { std::cell::RefCell::new(Memo { bytes: [0; MEMO_LONGEST], len: 0, accept: EMPTY_LINE }) };
}

/// What an empty `Accept-Encoding` line parses to: nothing named, identity implied.
const EMPTY_LINE: Accept = Accept { codings: [None; 3], identity: None, star: None };

/// How we could produce a coding for the file at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Offer {
    /// Not available.
    No,
    /// Compressed on the fly (or already in the cache).
    Fly,
    /// A precompressed file beside the original: preferred at equal weight, since the
    /// operator made it (usually at a higher level than we can afford) and it goes out with
    /// `sendfile`.
    Sidecar,
}

impl Accept {
    /// Every `Accept-Encoding` line of `req`, combined as one list (RFC 9110 §5.3).
    ///
    /// No header at all means "any coding is acceptable" in RFC 9110 §12.5.3, but servers
    /// (nginx, Apache) and this one send identity then: a client that says nothing may not
    /// decode anything, and identity is always safe. An empty value means identity only.
    pub(crate) fn from_headers(req: &HeaderMap) -> Accept {
        let all = req.get_all(ACCEPT_ENCODING);
        let mut lines = all.iter();
        if let (Some(only), None) = (lines.next(), lines.next()) {
            return Accept::of_line(only.as_bytes());
        }
        let mut a = Accept::default();
        for line in all {
            a.add_list(line.as_bytes());
        }
        a
    }

    /// One field line, parsed or taken from this thread's memo of the last line parsed.
    ///
    /// Clients of one kind send the same line on every request (Chrome and Firefox
    /// `gzip, deflate, br, zstd`), and parsing it cost ~380 instructions per response, a
    /// comparison of the bytes ~20. The parser is a pure function of the bytes, so the memo is
    /// exact.
    fn of_line(line: &[u8]) -> Accept {
        if line.len() > MEMO_LONGEST {
            let mut a = Accept::default();
            a.add_list(line);
            return a;
        }
        LAST.with(|m| {
            let mut m = m.borrow_mut();
            if usize::from(m.len) == line.len() && m.bytes[..line.len()] == *line {
                return m.accept;
            }
            let mut a = Accept::default();
            a.add_list(line);
            m.bytes[..line.len()].copy_from_slice(line);
            m.len = line.len() as u8;
            m.accept = a;
            a
        })
    }

    #[cfg(test)]
    /// Parses one field line: `#( codings [ weight ] )`, `weight = OWS ";" OWS "q=" qvalue`.
    pub(crate) fn parse(line: &[u8]) -> Accept {
        let mut a = Accept::default();
        a.add_list(line);
        a
    }

    fn add_list(&mut self, line: &[u8]) {
        for element in line.split(|&b| b == b',') {
            let mut parts = element.split(|&b| b == b';');
            let name = trim(parts.next().unwrap_or_default());
            if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
                continue; // empty list elements are allowed (§5.6.1); junk is ignored
            }
            let mut q = Some(Q_ONE);
            for param in parts {
                let param = trim(param);
                let Some(eq) = param.iter().position(|&b| b == b'=') else {
                    q = None; // `gzip;` or `gzip;q`: not a weight we can read
                    break;
                };
                let (key, value) = (trim(&param[..eq]), trim(&param[eq + 1..]));
                if key.eq_ignore_ascii_case(b"q") {
                    q = parse_q(value);
                    if q.is_none() {
                        break;
                    }
                }
                // Other parameters are not in the grammar; tolerate and ignore them.
            }
            let Some(q) = q else { continue }; // an invalid weight: the element is absent
            let slot = if name == b"*" {
                &mut self.star
            } else if name.eq_ignore_ascii_case(b"identity") {
                &mut self.identity
            } else if let Some(c) = coding_named(name) {
                &mut self.codings[c.index()]
            } else {
                continue; // deflate, compress, ...: not offered
            };
            // A coding listed twice is ambiguous; the higher weight wins, so a stray
            // duplicate cannot turn a coding off.
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }

    /// The weight of `c`: its own entry, else `*`'s, else 0 (not acceptable).
    pub(crate) fn q(&self, c: Coding) -> Q {
        self.codings[c.index()].or(self.star).unwrap_or(0)
    }

    /// Whether any coding we know is acceptable at all (a cheap early exit: most requests
    /// without the header stop here, before any sidecar lookup).
    pub(crate) fn any(&self) -> bool {
        Coding::ALL.iter().any(|&c| self.q(c) > 0)
    }

    /// The coding to send, given what we can `offer` for the file (indexed by
    /// [`Coding::index`]), or `None` for identity.
    ///
    /// Highest weight first; at equal weight a sidecar beats on-the-fly compression, then
    /// br > zstd > gzip (smallest output first). Identity wins only when the client weighs it
    /// explicitly (by `identity` or `*`) above every coding we could send: an unlisted
    /// identity has no weight to compare, it is merely "acceptable by default" (§12.5.3).
    ///
    /// When identity is refused (`identity;q=0`, or `*;q=0` without `identity`) and nothing
    /// acceptable can be offered, the caller still sends identity: §12.5.3 allows a 406, but a
    /// readable response is friendlier, and that is what nginx and Apache do.
    pub(crate) fn choose(&self, offer: [Offer; 3]) -> Option<Coding> {
        let mut best: Option<(Q, Offer, Coding)> = None;
        for c in Coding::ALL {
            let (q, o) = (self.q(c), offer[c.index()]);
            if q == 0 || o == Offer::No {
                continue;
            }
            // Coding::ALL is in preference order, so only a strictly better (q, offer)
            // replaces an earlier one.
            if best.is_none_or(|(bq, bo, _)| (q, o) > (bq, bo)) {
                best = Some((q, o, c));
            }
        }
        let (q, _, c) = best?;
        match self.identity.or(self.star) {
            Some(iq) if iq > q => None,
            _ => Some(c),
        }
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_q(v: &[u8]) -> Option<Q> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: Q = 0;
    for (i, &d) in frac.iter().enumerate() {
        thousandths += Q::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(Q_ONE),
        _ => None,
    }
}

fn coding_named(name: &[u8]) -> Option<Coding> {
    if name.eq_ignore_ascii_case(b"br") {
        Some(Coding::Br)
    } else if name.eq_ignore_ascii_case(b"zstd") {
        Some(Coding::Zstd)
    } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
        // RFC 9110 §8.4.1.3: a recipient should treat x-gzip as gzip.
        Some(Coding::Gzip)
    } else {
        None
    }
}

/// Strips optional whitespace (RFC 9110 §5.6.3: SP and HTAB).
fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::{Br, Gzip, Zstd};

    const ALL_FLY: [Offer; 3] = [Offer::Fly; 3];

    fn q(line: &str, c: Coding) -> Q {
        Accept::parse(line.as_bytes()).q(c)
    }

    fn pick(line: &str, offer: [Offer; 3]) -> Option<Coding> {
        Accept::parse(line.as_bytes()).choose(offer)
    }

    #[test]
    fn the_memo_answers_as_the_parser_does() {
        let lines: [&[u8]; 8] = [
            b"gzip, deflate, br, zstd",
            b"",
            b"gzip, deflate, br, zstd",
            b"br;q=0.5, gzip;q=0.8",
            b"br;q=0.5, gzip;q=0.9",
            b"identity;q=0, *",
            b"gzip, deflate, br, zstd",
            b"",
        ];
        for line in lines.iter().chain(lines.iter().rev()) {
            assert_eq!(Accept::of_line(line), Accept::parse(line), "{:?}", String::from_utf8_lossy(line));
        }
        // Longer than the memo keeps: parsed each time, the same answer.
        let long = format!("gzip;q=0.1, {}br", "x-unknown, ".repeat(10));
        assert_eq!(Accept::of_line(long.as_bytes()), Accept::parse(long.as_bytes()));
        assert_eq!(Accept::of_line(long.as_bytes()).q(Br), 1000);
        // Several lines are combined, not memoized as one.
        let mut h = HeaderMap::new();
        h.append(ACCEPT_ENCODING, http::HeaderValue::from_static("gzip;q=0.2"));
        h.append(ACCEPT_ENCODING, http::HeaderValue::from_static("br"));
        let a = Accept::from_headers(&h);
        assert_eq!((a.q(Gzip), a.q(Br), a.q(Zstd)), (200, 1000, 0));
    }

    #[test]
    fn qvalues_parse_to_thousandths() {
        assert_eq!(q("gzip", Gzip), 1000);
        assert_eq!(q("gzip;q=0.5", Gzip), 500);
        assert_eq!(q("gzip;q=0.123", Gzip), 123);
        assert_eq!(q("gzip;q=0.05", Gzip), 50);
        assert_eq!(q("gzip;q=1.000", Gzip), 1000);
        assert_eq!(q("gzip;q=1.", Gzip), 1000);
        assert_eq!(q("gzip;q=0", Gzip), 0);
        assert_eq!(q("gzip;q=0.000", Gzip), 0);
    }

    #[test]
    fn invalid_qvalue_makes_the_element_absent() {
        for bad in [
            "gzip;q=1.5",
            "gzip;q=2",
            "gzip;q=0.1234",
            "gzip;q=-1",
            "gzip;q=abc",
            "gzip;q=",
            "gzip;q",
            "gzip;",
        ] {
            assert_eq!(q(bad, Gzip), 0, "{bad}");
        }
        // ...but only that element.
        assert_eq!(q("gzip;q=9, br", Br), 1000);
        // An invalid weight on `*` does not make everything acceptable.
        assert_eq!(q("*;q=x", Br), 0);
    }

    #[test]
    fn whitespace_case_and_empty_elements() {
        assert_eq!(q("  GZIP ;  Q=0.7 ", Gzip), 700);
        assert_eq!(q("\tBr\t", Br), 1000);
        assert_eq!(q(",,  ,zstd,,", Zstd), 1000);
        assert_eq!(q("x-gzip", Gzip), 1000);
        assert_eq!(q("deflate, compress", Gzip), 0);
    }

    #[test]
    fn junk_is_ignored() {
        for junk in ["", ";", "=", ";q=1", "g zip", "gz\"ip", "\u{e9}gzip", "gzip=1", "*/*"] {
            let a = Accept::parse(junk.as_bytes());
            assert!(!a.any(), "{junk:?}");
        }
        assert_eq!(q("\u{e9}\u{ff}, gzip", Gzip), 1000);
        assert_eq!(Accept::parse(b"\xff\xfe;q=1, br\x00").q(Br), 0);
        assert_eq!(Accept::parse(b"\xff\xfe;q=1, br").q(Br), 1000);
        // Unknown parameters are tolerated.
        assert_eq!(q("gzip;level=9;q=0.4", Gzip), 400);
    }

    #[test]
    fn star_covers_the_rest() {
        assert_eq!(q("*", Br), 1000);
        assert_eq!(q("gzip;q=0.2, *;q=0.5", Gzip), 200);
        assert_eq!(q("gzip;q=0.2, *;q=0.5", Zstd), 500);
        assert_eq!(q("*;q=0", Gzip), 0);
        assert_eq!(q("*;q=0, br", Br), 1000);
    }

    #[test]
    fn missing_or_empty_header_means_identity() {
        assert!(!Accept::from_headers(&HeaderMap::new()).any());
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, http::HeaderValue::from_static(""));
        assert!(!Accept::from_headers(&h).any());
        assert_eq!(Accept::from_headers(&h).choose(ALL_FLY), None);
    }

    #[test]
    fn several_header_lines_combine() {
        let mut h = HeaderMap::new();
        h.append(ACCEPT_ENCODING, http::HeaderValue::from_static("gzip;q=0.5"));
        h.append(ACCEPT_ENCODING, http::HeaderValue::from_static("zstd;q=0.6"));
        assert_eq!(Accept::from_headers(&h).choose(ALL_FLY), Some(Zstd));
    }

    #[test]
    fn duplicates_keep_the_higher_weight() {
        assert_eq!(q("gzip;q=0, gzip;q=0.3", Gzip), 300);
        assert_eq!(q("gzip;q=0.3, gzip;q=0", Gzip), 300);
    }

    #[test]
    fn choice_prefers_weight_then_br_zstd_gzip() {
        assert_eq!(pick("gzip, deflate, br, zstd", ALL_FLY), Some(Br));
        assert_eq!(pick("gzip, zstd", ALL_FLY), Some(Zstd));
        assert_eq!(pick("gzip", ALL_FLY), Some(Gzip));
        assert_eq!(pick("br;q=0.5, gzip", ALL_FLY), Some(Gzip));
        assert_eq!(pick("br;q=0.5, zstd;q=0.9, gzip;q=0.8", ALL_FLY), Some(Zstd));
        assert_eq!(pick("*", ALL_FLY), Some(Br));
        assert_eq!(pick("*, br;q=0", ALL_FLY), Some(Zstd));
        assert_eq!(pick("br;q=0, zstd;q=0, gzip;q=0", ALL_FLY), None);
        assert_eq!(pick("deflate", ALL_FLY), None);
    }

    #[test]
    fn choice_only_among_offered() {
        let gz_only = [Offer::No, Offer::No, Offer::Sidecar];
        assert_eq!(pick("br, zstd, gzip", gz_only), Some(Gzip));
        assert_eq!(pick("br, zstd", gz_only), None);
        assert_eq!(pick("br", [Offer::No; 3]), None);
    }

    #[test]
    fn sidecar_beats_on_the_fly_at_equal_weight_only() {
        let gz_sidecar = [Offer::Fly, Offer::Fly, Offer::Sidecar];
        assert_eq!(pick("br, zstd, gzip", gz_sidecar), Some(Gzip));
        assert_eq!(pick("br, zstd, gzip;q=0.9", gz_sidecar), Some(Br));
    }

    #[test]
    fn identity_wins_only_when_weighted_above() {
        assert_eq!(pick("gzip;q=0.5, identity", ALL_FLY), None);
        assert_eq!(pick("gzip;q=0.5, *", ALL_FLY), Some(Br)); // `*` gives br 1.0 too
        assert_eq!(pick("gzip;q=0.5, identity;q=0.5", ALL_FLY), Some(Gzip));
        assert_eq!(pick("gzip;q=0.1", ALL_FLY), Some(Gzip)); // unlisted identity has no weight
        assert_eq!(pick("gzip, identity;q=0", ALL_FLY), Some(Gzip));
    }

    #[test]
    fn refused_identity_with_nothing_to_offer_is_still_identity() {
        // The handler's choice: see `choose`.
        assert_eq!(pick("identity;q=0", ALL_FLY), None);
        assert_eq!(pick("*;q=0", ALL_FLY), None);
        assert_eq!(pick("br, identity;q=0", [Offer::No; 3]), None);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // The header is network-controlled: any bytes must parse to something.
        let alphabet = b"brzstdgzipidentity*;q=0.123456789,  \t\"\xff\x00";
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let line: Vec<u8> =
                (0..len).map(|i| alphabet[((x >> (i % 58)) as usize + i * 7) % alphabet.len()]).collect();
            let a = Accept::parse(&line);
            let _ = a.choose(ALL_FLY);
            for c in Coding::ALL {
                assert!(a.q(c) <= Q_ONE);
            }
        }
    }
}
