//! Feeds arbitrary bytes to the PROXY protocol step (`pollux_server::proxy::parse`, ppp
//! underneath) as a connection's first bytes, whole and cut at a point taken from the first
//! byte.
//!
//! Oracles besides "no panic": a header arriving in pieces is judged as if it came whole —
//! a prefix of a header is "incomplete", never "invalid" or a different header; a refusal is
//! never revised by more bytes; a header's length lies within the input and the limit, and
//! what follows it never changes it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pollux_server::proxy::{parse, Parsed, MAX_HEADER};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let at = usize::from(cut) * input.len() / 255;
    let whole = parse(input);
    let part = parse(&input[..at]);
    if let Parsed::Done { len, source } = whole {
        assert!(len > 0 && len <= input.len() && len <= MAX_HEADER);
        // The header alone parses to the same thing: what follows is not its business.
        assert_eq!(parse(&input[..len]), Parsed::Done { len, source });
        if at < len {
            assert_eq!(part, Parsed::Incomplete, "a prefix of a header ({at} of {len} bytes)");
        }
    }
    match part {
        Parsed::Done { .. } => assert_eq!(part, whole, "more bytes changed a whole header"),
        Parsed::Invalid(_) => assert!(matches!(whole, Parsed::Invalid(_)), "a refusal was revised: {whole:?}"),
        Parsed::Incomplete => {}
    }
});
