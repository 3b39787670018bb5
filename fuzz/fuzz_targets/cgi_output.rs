//! Feeds arbitrary bytes to the CGI output parser (RFC 3875 §6) in two pieces, split at a
//! point taken from the first byte, and in one piece.
//!
//! Oracles besides "no panic": how the script's writes happen to be cut must never change
//! what we make of its output — the same head (or the same error), and the same body bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pollux_cgi::OutputParser;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, output)) = data.split_first() else { return };
    let at = usize::from(cut) * output.len() / 255;
    let whole = OutputParser::new().handle_bytes(output);

    let mut parser = OutputParser::new();
    let split = match parser.handle_bytes(&output[..at]) {
        // The head ended in the first piece: the body is its rest plus the second piece.
        Ok(Some(mut head)) => {
            head.body_start.extend_from_slice(&output[at..]);
            Ok(Some(head))
        }
        Ok(None) => parser.handle_bytes(&output[at..]),
        Err(e) => Err(e),
    };
    assert_eq!(split, whole);
});
