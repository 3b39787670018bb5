//! Feeds arbitrary `Range` values (RFC 9110 §14.1.2) and representation lengths to the static
//! file handler's range parser (`pollux_fs::fuzzing::parse_range`).
//!
//! The first byte picks the length: odd → the next byte (small files, where ranges collide),
//! even → the next eight bytes (anything up to 2^64 - 1). The rest is the field value.
//!
//! Oracles besides "no panic":
//! - a satisfiable answer holds 1..=MAX_RANGES ranges, each non-empty and within the length,
//!   sorted, disjoint and not adjacent (what the multipart body and `Content-Range` rely on);
//! - the order of the range-specs never matters, nor does an empty list element added at the
//!   end (§5.6.1).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pollux_fs::fuzzing::{parse_range, RangeAnswer, MAX_RANGES};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (len, value) = if mode & 1 == 1 {
        let Some((&n, value)) = rest.split_first() else { return };
        (u64::from(n), value)
    } else {
        let Some((n, value)) = rest.split_first_chunk::<8>() else { return };
        (u64::from_le_bytes(*n), value)
    };

    let answer = parse_range(value, len);
    if let RangeAnswer::Satisfiable(ranges) = &answer {
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES, "{} ranges", ranges.len());
        for r in ranges {
            assert!(r.start < r.end && r.end <= len, "{r:?} for a length of {len}");
        }
        for w in ranges.windows(2) {
            assert!(w[0].end < w[1].start, "{:?} and {:?} overlap or touch", w[0], w[1]);
        }
    }

    let mut trailing = value.to_vec();
    trailing.extend_from_slice(b", ");
    assert_eq!(parse_range(&trailing, len), answer, "an empty element changed the answer");

    if let Some(eq) = value.iter().position(|&b| b == b'=') {
        let mut reversed = value[..=eq].to_vec();
        let specs: Vec<&[u8]> = value[eq + 1..].split(|&b| b == b',').rev().collect();
        reversed.extend_from_slice(&specs.join(&b","[..]));
        assert_eq!(parse_range(&reversed, len), answer, "the order of the specs changed the answer");
    }
});
