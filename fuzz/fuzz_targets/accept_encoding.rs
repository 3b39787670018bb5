//! Feeds arbitrary `Accept-Encoding` values (RFC 9110 §12.5.3) to the content-coding
//! negotiation static files use (`pollux_fs::fuzzing::negotiate`).
//!
//! The first byte says which codings can be offered (three base-3 digits: not available, on
//! the fly, a sidecar file); the rest is the field value.
//!
//! Oracles besides "no panic":
//! - every weight lies in 0..=1000 (thousandths);
//! - a chosen coding is offered and acceptable, has the highest (weight, availability) of
//!   the offered ones, and no earlier coding in the order of preference ties with it;
//! - identity is chosen over an acceptable offered coding only when the field names
//!   `identity` or `*`;
//! - the per-thread memo of the last line is exact: the same line asked again, after a
//!   different one, gives the same answer;
//! - one line cut at a comma into two field lines means the same (§5.3).

#![no_main]

use http::header::ACCEPT_ENCODING;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use pollux_fs::fuzzing::{negotiate, Availability, Negotiated, CODINGS};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, value)) = data.split_first() else { return };
    let pick = |d: u8| [Availability::No, Availability::Fly, Availability::Sidecar][usize::from(d % 3)];
    let offer = [pick(sel), pick(sel / 3), pick(sel / 9)];
    let Ok(line) = HeaderValue::from_bytes(value) else { return };
    let headers = HeaderMap::from_iter([(ACCEPT_ENCODING, line)]);

    let n = negotiate(&headers, offer);
    check(value, offer, &n);

    // The memo: the same line after another one.
    let other = HeaderMap::from_iter([(ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0.5, br"))]);
    let _ = negotiate(&other, offer);
    assert_eq!(negotiate(&headers, offer), n, "the memo changed the answer");

    if let Some(comma) = value.iter().position(|&b| b == b',') {
        let mut split = HeaderMap::new();
        for part in [&value[..comma], &value[comma + 1..]] {
            split.append(ACCEPT_ENCODING, HeaderValue::from_bytes(part).expect("part of a valid value"));
        }
        assert_eq!(negotiate(&split, offer), n, "two field lines differ from one");
    }
});

fn check(value: &[u8], offer: [Availability; 3], n: &Negotiated) {
    assert!(n.q.iter().all(|&q| q <= 1000), "weights {:?}", n.q);
    let candidates: Vec<usize> = (0..3).filter(|&i| n.q[i] > 0 && offer[i] != Availability::No).collect();
    match n.chosen {
        Some(c) => {
            let i = CODINGS.iter().position(|&k| k == c).expect("a known coding");
            assert!(candidates.contains(&i), "chose {c:?}, not offered or not acceptable");
            for &j in &candidates {
                let (mine, theirs) = ((n.q[i], offer[i]), (n.q[j], offer[j]));
                assert!(theirs <= mine, "chose {c:?} {mine:?} over {:?} {theirs:?}", CODINGS[j]);
                assert!(j >= i || theirs < mine, "{:?} ties with {c:?} and comes first", CODINGS[j]);
            }
        }
        None if !candidates.is_empty() => {
            let lower = value.to_ascii_lowercase();
            assert!(
                lower.windows(8).any(|w| w == b"identity") || lower.contains(&b'*'),
                "identity chosen without being named, weights {:?}",
                n.q
            );
        }
        None => {}
    }
}
