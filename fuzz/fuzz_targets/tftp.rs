//! Feeds arbitrary bytes to the TFTP packet parser and the netascii codec.
//!
//! Oracles besides "no panic": a packet that parses, rebuilt with the crate's builders, parses
//! back to the same packet (what we accept we can also say); and netascii-decoding the encoding
//! of any bytes gives them back, however the encoded stream is cut into blocks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pollux_tftp::emit::{encode_ack, encode_data, encode_raw_option, encode_request};
use pollux_tftp::netascii::{Decoder, Encoder};
use pollux_tftp::Packet;

fuzz_target!(|data: &[u8]| {
    packet_roundtrip(data);
    netascii_roundtrip(data);
});

fn packet_roundtrip(data: &[u8]) {
    let Ok(p) = Packet::parse(data) else { return };
    let mut out = Vec::new();
    match p {
        Packet::Request(r) => {
            encode_request(&mut out, r.kind, r.filename, r.mode, &[]).expect("a parsed request rebuilds");
            for (name, value) in r.options.iter() {
                encode_raw_option(&mut out, name, value).expect("a parsed option rebuilds");
            }
        }
        Packet::Data { block, payload } => encode_data(&mut out, block, payload),
        Packet::Ack { block } => encode_ack(&mut out, block),
        _ => return,
    }
    let again = Packet::parse(&out).expect("a rebuilt packet parses");
    assert_eq!(again, p);
}

fn netascii_roundtrip(data: &[u8]) {
    let Some((&cut, input)) = data.split_first() else { return };
    let mut encoded = Vec::new();
    Encoder::new().encode_to_vec(input, &mut encoded);
    let at = usize::from(cut) * encoded.len() / 255;
    let mut decoder = Decoder::new();
    let mut decoded = Vec::new();
    decoder.decode(&encoded[..at], &mut decoded);
    decoder.decode(&encoded[at..], &mut decoded);
    decoder.finish(&mut decoded);
    assert_eq!(decoded, input);
}
