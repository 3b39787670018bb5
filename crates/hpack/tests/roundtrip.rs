//! Property tests through the public API: whatever the encoder writes, a decoder reads back
//! as the same fields, with the same table, across table size changes; and no input makes
//! the decoder panic or grow its table past the limit.

use pollux_hpack::{Bytes, Decoder, Encoder};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// The peer's SETTINGS_HEADER_TABLE_SIZE changed.
    SetSize(usize),
    /// One header block: an optional status, then fields.
    Block(Option<u16>, Vec<(Vec<u8>, Vec<u8>)>),
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Static names, sensitive ones among them.
        prop::sample::select(vec![
            ":path",
            ":authority",
            "content-type",
            "content-length",
            "cache-control",
            "cookie",
            "set-cookie",
            "authorization",
            "proxy-authorization",
            "server",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        // A few custom names, so they repeat.
        prop::sample::select(vec!["x-a", "x-b", "x-request-id", "x-forwarded-for"])
            .prop_map(|s| s.as_bytes().to_vec()),
        // Anything lowercase.
        "[a-z0-9-]{1,20}".prop_map(String::into_bytes),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Values that repeat, the empty one included.
        prop::sample::select(vec!["", "1", "text/html", "gzip", "no-cache", "/index.html"])
            .prop_map(|s| s.as_bytes().to_vec()),
        // Printable text.
        "[ -~]{0,40}".prop_map(String::into_bytes),
        // Any bytes: long Huffman codes, and plain strings where Huffman is longer.
        prop::collection::vec(any::<u8>(), 0..60),
        // Big values, around a quarter of the table.
        (900usize..1200).prop_map(|n| vec![b'v'; n]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => prop_oneof![Just(0usize), 0usize..600, 0usize..8192].prop_map(Op::SetSize),
        6 => (
            prop::option::of(prop_oneof![Just(200u16), Just(404), Just(403), 100u16..600]),
            prop::collection::vec((name(), value()), 0..12),
        )
            .prop_map(|(status, fields)| Op::Block(status, fields)),
    ]
}

fn sensitive(name: &[u8]) -> bool {
    matches!(name, b"authorization" | b"proxy-authorization" | b"cookie" | b"set-cookie")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_the_encoder_writes_the_decoder_reads(ops in prop::collection::vec(op(), 1..30)) {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096);
        let mut out = Vec::new();
        for op in ops {
            match op {
                Op::SetSize(n) => encoder.set_max_table_size(n),
                Op::Block(status, fields) => {
                    out.clear();
                    encoder.begin(&mut out);
                    let mut want = Vec::new();
                    if let Some(code) = status {
                        encoder.status(code, &mut out);
                        want.push((b":status".to_vec(), code.to_string().into_bytes(), false));
                    }
                    for (name, value) in fields {
                        encoder.field(&name, &value, &mut out);
                        // Never-indexed exactly for secrets, unless the static entry with
                        // the empty value was used.
                        let never = sensitive(&name) && !value.is_empty();
                        want.push((name, value, never));
                    }
                    let mut got = Vec::new();
                    decoder
                        .decode(&Bytes::from(out.clone()), |n, v, never| got.push((n.to_vec(), v.to_vec(), never)))
                        .map_err(|e| TestCaseError::fail(format!("decode error {e}")))?;
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(encoder.table_size(), decoder.table_size());
                    prop_assert!(encoder.table_size() <= 4096);
                }
            }
        }
    }

    #[test]
    fn the_decoder_survives_any_bytes(
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..8),
        max_table in prop_oneof![Just(0usize), Just(256), Just(4096)],
        max_string in prop_oneof![Just(16usize), Just(65536)],
    ) {
        let mut decoder = Decoder::new(max_table);
        decoder.set_max_string(max_string);
        for block in blocks {
            // Static names may be longer than the limit (up to 27 bytes); literals may not.
            let result = decoder.decode(&Bytes::from(block), |n, v, _| {
                assert!(n.len() <= max_string.max(27) && v.len() <= max_string);
            });
            prop_assert!(decoder.table_size() <= max_table);
            if result.is_err() {
                // A COMPRESSION_ERROR ends the connection: nothing more to decode.
                break;
            }
        }
    }
}
