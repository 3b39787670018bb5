//! Feeds arbitrary bytes to the HPACK decoder as a sequence of header blocks on one
//! connection, with a table size and string limit taken from the first byte.
//!
//! Oracles besides "no panic": the table never outgrows its limit; every block that decodes,
//! encoded again by our encoder, decodes to the same fields (what we accept we can also
//! say); and the Huffman code is a bijection on valid input: a string that Huffman-decodes
//! encodes back to the very same bytes, and any bytes encode and decode back to themselves.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pollux_hpack::{huffman, Bytes, Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    huffman_oracle(input);

    let max_table = [0, 256, 4096, 100][usize::from(first & 3)];
    let max_string = if first & 4 != 0 { 32 } else { 64 * 1024 };
    let mut decoder = Decoder::new(max_table);
    decoder.set_max_string(max_string);
    let mut encoder = Encoder::new();
    let mut echo = Decoder::new(4096);

    // Each block is a length byte and that many bytes (fewer at the end of the input).
    let mut rest = input;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let mut fields = Vec::new();
        let result = decoder.decode(&Bytes::copy_from_slice(block), |name, value, _| {
            fields.push((name.to_vec(), value));
        });
        assert!(decoder.table_size() <= max_table);
        if result.is_err() {
            // A COMPRESSION_ERROR ends the connection.
            return;
        }
        let mut out = Vec::new();
        encoder.begin(&mut out);
        for (name, value) in &fields {
            encoder.field(name, value, &mut out);
        }
        let mut again = Vec::new();
        echo.decode(&Bytes::from(out), |name, value, _| again.push((name.to_vec(), value)))
            .expect("our own encoding decodes");
        assert_eq!(again, fields);
        assert_eq!(encoder.table_size(), echo.table_size());
    }
});

fn huffman_oracle(input: &[u8]) {
    let mut decoded = Vec::new();
    if huffman::decode(input, &mut decoded).is_ok() {
        let mut encoded = Vec::new();
        huffman::encode(&decoded, &mut encoded);
        assert_eq!(encoded, input, "valid Huffman has one spelling");
    }
    let mut encoded = Vec::new();
    huffman::encode(input, &mut encoded);
    assert_eq!(encoded.len(), huffman::encoded_len(input));
    let mut back = Vec::new();
    huffman::decode(&encoded, &mut back).expect("our encoding decodes");
    assert_eq!(back, input);
}
