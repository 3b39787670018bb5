//! Encoder tests: exact bytes where the RFC or the policy fixes them, and a decoder reading
//! back everything the encoder writes.

use super::*;
use crate::test_util::{decode, fields, hex, Field};
use crate::Decoder;

/// Encodes one block of fields.
fn block(e: &mut Encoder, list: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    e.begin(&mut out);
    for (name, value) in list {
        e.field(name.as_bytes(), value.as_bytes(), &mut out);
    }
    out
}

/// The encoder's and a decoder's tables hold the same entries in the same order.
fn assert_tables_agree(e: &Encoder, d: &Decoder) {
    assert_eq!(e.table_size(), d.table_size());
    let mut i = 1;
    while let Some(ours) = e.table.get(i) {
        let theirs = d.dynamic_entry(i).expect("the decoder has as many entries");
        assert_eq!((&ours.name, &ours.value), (&theirs.name, &theirs.value), "entry {i}");
        i += 1;
    }
    assert!(d.dynamic_entry(i).is_none(), "the decoder has more entries");
    // One map entry per live table entry: nothing stale, nothing missing.
    assert_eq!(e.fields.len(), i - 1);
    for (key, &n) in &e.fields {
        let entry = e.table.get(e.table.index_of(n)).expect("a mapped entry is live");
        let mut expected = Vec::new();
        field_key(&entry.name, &entry.value, &mut expected);
        assert_eq!(key[..], expected[..]);
    }
    for (name, &n) in &e.names {
        assert_eq!(e.table.get(e.table.index_of(n)).expect("live").name, name);
    }
}

// The policy reproduces RFC 7541 C.4 byte for byte: indexed static fields, literals with
// incremental indexing on a static name, Huffman where shorter, then dynamic indexes.
#[test]
fn c_4_requests_are_encoded_as_the_rfc_shows() {
    let mut e = Encoder::new();
    let requests: [&[(&str, &str)]; 3] = [
        &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
    ];
    let expected = [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];
    for ((request, expected), size) in requests.iter().zip(expected).zip([57, 110, 164]) {
        assert_eq!(block(&mut e, request), hex(expected));
        assert_eq!(e.table_size(), size);
    }
}

// C.6's responses through a 256-byte table: the encoder announces the size, keeps the
// 65-byte date out of the table (more than a quarter) and set-cookie too (sensitive), and a
// decoder reads every block back with the same table.
#[test]
fn c_6_responses_round_trip_with_a_256_byte_table() {
    let mut e = Encoder::new();
    let mut d = Decoder::new(4096);
    e.set_max_table_size(256);
    let responses: [&[(&str, &str)]; 3] = [
        &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
        ],
    ];
    for (i, response) in responses.iter().enumerate() {
        let bytes = block(&mut e, response);
        if i == 0 {
            // 256 = 31 + 225: 0x3f, then 225 in 7-bit groups.
            assert_eq!(bytes[..3], [0x3f, 0xe1, 0x01]);
        }
        let mut want = fields(response);
        if i == 2 {
            want[5].2 = true; // set-cookie comes out never-indexed
        }
        assert_eq!(decode(&mut d, &bytes.into()), Ok(want), "response {}", i + 1);
        assert_tables_agree(&e, &d);
    }
    // Newest first: content-encoding, :status 307, location, cache-control, :status 302.
    assert_eq!(
        block(&mut e, &[("cache-control", "private"), ("location", "https://www.example.com")]),
        [0xc1, 0xc0]
    );
}

#[test]
fn statuses_in_the_static_table_are_one_byte() {
    let mut e = Encoder::new();
    for (code, byte) in
        [(200, 0x88), (204, 0x89), (206, 0x8a), (304, 0x8b), (400, 0x8c), (404, 0x8d), (500, 0x8e)]
    {
        let mut out = Vec::new();
        e.status(code, &mut out);
        assert_eq!(out, [byte], "{code}");
    }
    assert_eq!(e.table_size(), 0);
}

#[test]
fn a_repeated_status_becomes_indexed() {
    let mut e = Encoder::new();
    let mut out = Vec::new();
    e.status(403, &mut out);
    // "403" in Huffman is 17 bits, three bytes like the plain string, so it goes plain.
    assert_eq!(out, hex("4803 3430 33"));
    assert_eq!(e.table_size(), 42);
    out.clear();
    e.status(403, &mut out);
    assert_eq!(out, [0xbe]);
    let mut d = Decoder::new(4096);
    e.status(503, &mut out);
    e.status(403, &mut out);
    assert_eq!(
        decode(&mut d, &hex("4803 3430 33")).and_then(|_| decode(&mut d, &out.into())),
        Ok(fields(&[(":status", "403"), (":status", "503"), (":status", "403")]))
    );
}

#[test]
fn unusual_statuses_are_written_as_their_digits() {
    let mut e = Encoder::new();
    let mut d = Decoder::new(4096);
    let mut out = Vec::new();
    for code in [0, 7, 99, 103, 999, 65535] {
        e.status(code, &mut out);
    }
    let got = decode(&mut d, &out.into()).expect("valid");
    let want: Vec<Field> = ["0", "7", "99", "103", "999", "65535"]
        .iter()
        .map(|digits| (":status".to_string(), digits.to_string(), false))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn dynamic_names_and_fields_are_found() {
    let mut e = Encoder::new();
    let mut out = Vec::new();
    e.field(b"x-a", b"1", &mut out);
    // New name, both strings plain (Huffman would not be shorter).
    assert_eq!(out, hex("4003 782d 6101 31"));
    out.clear();
    e.field(b"x-a", b"2", &mut out);
    // The name from the dynamic table, index 62.
    assert_eq!(out, hex("7e01 32"));
    out.clear();
    e.field(b"x-a", b"1", &mut out);
    // Now the older entry, index 63.
    assert_eq!(out, [0xbf]);
    out.clear();
    e.field(b"x-a", b"2", &mut out);
    assert_eq!(out, [0xbe]);
}

#[test]
fn field_keys_keep_name_and_value_apart() {
    // ("ab", "c") must not be found as ("a", "bc").
    let mut e = Encoder::new();
    let mut out = Vec::new();
    e.field(b"ab", b"c", &mut out);
    out.clear();
    e.field(b"a", b"bc", &mut out);
    assert_ne!(out, [0xbe]);
    assert_eq!(
        e.table.get(1).map(|entry| (&entry.name[..], &entry.value[..])),
        Some((&b"a"[..], &b"bc"[..]))
    );
}

#[test]
fn sensitive_fields_are_never_indexed() {
    let mut e = Encoder::new();
    let mut d = Decoder::new(4096);
    let mut out = Vec::new();
    e.field(b"authorization", b"secret", &mut out);
    // 0001 pattern, name index 23 (15 + 8), "secret" Huffman-coded in four bytes.
    assert_eq!(out, hex("1f08 8441 4961 53"));
    for (name, index) in [("proxy-authorization", 49), ("cookie", 32), ("set-cookie", 55)] {
        let mut one = Vec::new();
        e.field(name.as_bytes(), b"a=b", &mut one);
        assert_eq!(one[..2], [0x1f, index - 15], "{name}");
        out.extend_from_slice(&one);
    }
    assert_eq!(e.table_size(), 0);
    let got = decode(&mut d, &out.into()).expect("valid");
    assert!(got.iter().all(|(_, _, never)| *never));
    assert_eq!(got[0], ("authorization".into(), "secret".into(), true));
}

#[test]
fn a_sensitive_name_with_an_empty_value_uses_the_static_entry() {
    // The static entry holds no secret: indexing it reveals nothing.
    let mut e = Encoder::new();
    let mut out = Vec::new();
    e.field(b"cookie", b"", &mut out);
    assert_eq!(out, [0x80 | 32]);
}

#[test]
fn entries_over_a_quarter_of_the_table_are_not_indexed() {
    let mut e = Encoder::new();
    let mut out = Vec::new();
    // 1 + 991 + 32 = 1024: exactly a quarter is still indexed.
    e.field(b"x", &[b'v'; 991], &mut out);
    assert_eq!(out[0], 0x40);
    assert_eq!(e.table_size(), 1024);
    out.clear();
    // 1 + 992 + 32 = 1025: without indexing (0000 pattern, new name).
    e.field(b"y", &[b'v'; 992], &mut out);
    assert_eq!(out[0], 0x00);
    assert_eq!(e.table_size(), 1024);
    // With a static name, the index goes in the 4-bit prefix.
    out.clear();
    e.field(b"location", &[b'v'; 1000], &mut out);
    assert_eq!(out[..2], [0x0f, 46 - 15]);
    // And with a small table, the quarter is small too.
    e.set_max_table_size(128);
    out.clear();
    e.begin(&mut out);
    out.clear();
    e.field(b"x-b", b"0123456789", &mut out); // 45 > 32
    assert_eq!(out[0], 0x00);
}

#[test]
fn huffman_only_when_shorter() {
    let mut out = Vec::new();
    string(b"www.example.com", &mut out);
    assert_eq!(out, hex("8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
    out.clear();
    // Control bytes have long codes: plain is shorter.
    string(b"\x00\x01", &mut out);
    assert_eq!(out, [0x02, 0x00, 0x01]);
    out.clear();
    string(b"", &mut out);
    assert_eq!(out, [0x00]);
}

// --- Table size updates (RFC 7541 §4.2, §6.3) ---

fn begin(e: &mut Encoder) -> Vec<u8> {
    let mut out = Vec::new();
    e.begin(&mut out);
    out
}

#[test]
fn no_update_without_a_change() {
    let mut e = Encoder::new();
    assert_eq!(begin(&mut e), []);
    e.set_max_table_size(4096);
    assert_eq!(begin(&mut e), []);
    // More than 4096 is capped: still no change.
    e.set_max_table_size(65536);
    assert_eq!(begin(&mut e), []);
}

#[test]
fn a_smaller_size_is_announced_once() {
    let mut e = Encoder::new();
    e.set_max_table_size(100);
    assert_eq!(begin(&mut e), hex("3f45"));
    assert_eq!(begin(&mut e), []);
    // Growing back is announced as well (our size changed).
    e.set_max_table_size(200);
    assert_eq!(begin(&mut e), hex("3fa9 01"));
}

#[test]
fn shrink_then_grow_announces_the_minimum_then_the_final_size() {
    let mut e = Encoder::new();
    let mut d = Decoder::new(4096);
    decode(&mut d, &block(&mut e, &[("x-a", "1"), ("x-b", "2")]).into()).expect("valid");
    assert_eq!(e.table_size(), 72);
    e.set_max_table_size(0);
    e.set_max_table_size(1000);
    e.set_max_table_size(4096);
    // The encoder evicted everything at 0; the decoder must too, then grow back.
    assert_eq!(e.table_size(), 0);
    let bytes = block(&mut e, &[("x-a", "1")]);
    assert_eq!(bytes[..4], [0x20, 0x3f, 0xe1, 0x1f]);
    // x-a: 1 is a literal again, not an index into entries the peer has dropped.
    assert_eq!(bytes[4], 0x40);
    decode(&mut d, &bytes.into()).expect("valid");
    assert_tables_agree(&e, &d);
}

#[test]
fn shrinking_below_then_back_to_the_same_size_still_evicts_and_announces() {
    let mut e = Encoder::new();
    e.set_max_table_size(50);
    e.set_max_table_size(4096);
    assert_eq!(begin(&mut e), hex("3f13 3fe1 1f"));
}

#[test]
fn eviction_keeps_the_maps_in_step() {
    let mut e = Encoder::new();
    let mut d = Decoder::new(4096);
    e.set_max_table_size(512);
    // Entries of 32 + 8 + 60 = 100 bytes: five fit.
    let value = |i: usize| format!("{i:060}");
    let name = |i: usize| format!("x-{:06}", i % 7);
    for round in 0..3 {
        for i in 0..20 {
            let (n, v) = (name(i), value(i));
            let bytes = block(&mut e, &[(&n, &v)]);
            // Only the last five of each round's twenty are live; a new round finds none
            // of them except when it comes back to them.
            assert_eq!(decode(&mut d, &bytes.into()), Ok(fields(&[(&n, &v)])), "round {round} field {i}");
            assert_tables_agree(&e, &d);
        }
    }
    // The five newest are indexed, in order of age.
    for i in 15..20 {
        let bytes = block(&mut e, &[(&name(i), &value(i))]);
        assert_eq!(bytes, [0x80 | (STATIC_LEN + 20 - i) as u8]);
    }
    let bytes = block(&mut e, &[(&name(14), &value(14))]);
    assert_ne!(bytes[0] & 0x80, 0x80, "evicted");
}

#[test]
fn default_is_new() {
    let mut e = Encoder::default();
    assert_eq!(
        block(&mut e, &[(":authority", "www.example.com")]),
        hex("418c f1e3 c2e5 f23a 6ba0 ab90 f4ff")
    );
}
