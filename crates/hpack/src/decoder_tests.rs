//! Decoder tests: every example of RFC 7541 Appendix C, the size update rules, and one
//! crafted block for each [`DecodeError`].

use super::*;
use crate::test_util::{decode, fields, hex};

/// The dynamic table, newest first, as the RFC prints it.
fn table(d: &Decoder) -> Vec<(String, String)> {
    (1..)
        .map_while(|i| d.table.get(i))
        .map(|e| {
            (String::from_utf8_lossy(&e.name).into_owned(), String::from_utf8_lossy(&e.value).into_owned())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// One step of an Appendix C sequence: the block, the fields, the table after, its size.
struct Step<'a> {
    block: &'a str,
    fields: &'a [(&'a str, &'a str)],
    table: &'a [(&'a str, &'a str)],
    size: usize,
}

fn run(d: &mut Decoder, steps: &[Step<'_>]) {
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(decode(d, &hex(step.block)), Ok(fields(step.fields)), "step {}", i + 1);
        assert_eq!(table(d), pairs(step.table), "table after step {}", i + 1);
        assert_eq!(d.table_size(), step.size, "size after step {}", i + 1);
    }
}

// C.2.1 Literal Header Field with Indexing.
#[test]
fn c_2_1_literal_with_indexing() {
    let mut d = Decoder::new(4096);
    run(
        &mut d,
        &[Step {
            block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            fields: &[("custom-key", "custom-header")],
            table: &[("custom-key", "custom-header")],
            size: 55,
        }],
    );
}

// C.2.2 Literal Header Field without Indexing.
#[test]
fn c_2_2_literal_without_indexing() {
    let mut d = Decoder::new(4096);
    run(
        &mut d,
        &[Step {
            block: "040c 2f73 616d 706c 652f 7061 7468",
            fields: &[(":path", "/sample/path")],
            table: &[],
            size: 0,
        }],
    );
}

// C.2.3 Literal Header Field Never Indexed: the flag reaches the caller.
#[test]
fn c_2_3_literal_never_indexed() {
    let mut d = Decoder::new(4096);
    let block = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    assert_eq!(decode(&mut d, &block), Ok(vec![("password".into(), "secret".into(), true)]));
    assert_eq!(d.table_size(), 0);
}

// C.2.4 Indexed Header Field.
#[test]
fn c_2_4_indexed() {
    let mut d = Decoder::new(4096);
    run(&mut d, &[Step { block: "82", fields: &[(":method", "GET")], table: &[], size: 0 }]);
}

const REQUEST_1: &[(&str, &str)] =
    &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
const REQUEST_2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQUEST_3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQUEST_TABLE_1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const REQUEST_TABLE_2: &[(&str, &str)] = &[("cache-control", "no-cache"), (":authority", "www.example.com")];
const REQUEST_TABLE_3: &[(&str, &str)] =
    &[("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")];

pub(crate) const C3_BLOCKS: [&str; 3] = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];

pub(crate) const C4_BLOCKS: [&str; 3] = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

fn request_steps(blocks: &[&'static str; 3]) -> [Step<'static>; 3] {
    [
        Step { block: blocks[0], fields: REQUEST_1, table: REQUEST_TABLE_1, size: 57 },
        Step { block: blocks[1], fields: REQUEST_2, table: REQUEST_TABLE_2, size: 110 },
        Step { block: blocks[2], fields: REQUEST_3, table: REQUEST_TABLE_3, size: 164 },
    ]
}

// C.3 Request Examples without Huffman Coding.
#[test]
fn c_3_requests_without_huffman() {
    run(&mut Decoder::new(4096), &request_steps(&C3_BLOCKS));
}

// C.4 Request Examples with Huffman Coding.
#[test]
fn c_4_requests_with_huffman() {
    run(&mut Decoder::new(4096), &request_steps(&C4_BLOCKS));
}

const RESPONSE_1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESPONSE_2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESPONSE_3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
];
const RESPONSE_TABLE_1: &[(&str, &str)] = &[
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
    (":status", "302"),
];
const RESPONSE_TABLE_2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
];
const RESPONSE_TABLE_3: &[(&str, &str)] = &[
    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    ("content-encoding", "gzip"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
];

fn response_steps(blocks: &[&'static str; 3]) -> [Step<'static>; 3] {
    [
        Step { block: blocks[0], fields: RESPONSE_1, table: RESPONSE_TABLE_1, size: 222 },
        Step { block: blocks[1], fields: RESPONSE_2, table: RESPONSE_TABLE_2, size: 222 },
        Step { block: blocks[2], fields: RESPONSE_3, table: RESPONSE_TABLE_3, size: 215 },
    ]
}

pub(crate) const C5_BLOCKS: [&str; 3] = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
     6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
     3d31",
];

pub(crate) const C6_BLOCKS: [&str; 3] = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
     9587 3160 65c0 03ed 4ee5 b106 3d50 07",
];

// C.5 Response Examples without Huffman Coding: a 256-byte table, with evictions.
#[test]
fn c_5_responses_without_huffman() {
    run(&mut Decoder::new(256), &response_steps(&C5_BLOCKS));
}

// C.6 Response Examples with Huffman Coding: the same evictions (sizes count decoded bytes).
#[test]
fn c_6_responses_with_huffman() {
    run(&mut Decoder::new(256), &response_steps(&C6_BLOCKS));
}

#[test]
fn a_plain_literal_value_is_a_slice_of_the_block() {
    let mut d = Decoder::new(4096);
    let block = hex("040c 2f73 616d 706c 652f 7061 7468");
    let mut seen = None;
    d.decode(&block, |_, value, _| seen = Some(value)).expect("valid");
    let value = seen.expect("one field");
    assert_eq!(value.as_ptr(), block[2..].as_ptr());
}

#[test]
fn an_indexed_value_shares_the_table_entry() {
    let mut d = Decoder::new(4096);
    decode(&mut d, &hex(C3_BLOCKS[0])).expect("valid");
    let mut seen = Vec::new();
    d.decode(&hex("be"), |_, value, _| seen.push(value)).expect("valid");
    let entry = d.table.get(1).expect("one entry");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].as_ptr(), entry.value.as_ptr());
}

#[test]
fn a_table_entry_does_not_pin_the_block() {
    // The inserted entry owns a copy: dropping the block frees it whatever the table holds.
    let mut d = Decoder::new(4096);
    let block = hex(C2_1);
    decode(&mut d, &block).expect("valid");
    let entry = d.table.get(1).expect("one entry");
    let range = block.as_ptr() as usize..block.as_ptr() as usize + block.len();
    assert!(!range.contains(&(entry.value.as_ptr() as usize)));
}

const C2_1: &str = "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572";

#[test]
fn huffman_values_from_one_block_are_distinct() {
    // Two Huffman strings decoded through the shared scratch, both kept: neither may see
    // the other's bytes.
    let mut d = Decoder::new(4096);
    let mut values = Vec::new();
    d.decode(&hex("0186 a8eb 1064 9cbf 018c f1e3 c2e5 f23a 6ba0 ab90 f4ff"), |_, v, _| values.push(v))
        .expect("valid");
    assert_eq!(values, [&b"no-cache"[..], b"www.example.com"]);
}

// --- Dynamic table size updates (RFC 7541 §4.2, §6.3) ---

#[test]
fn a_size_update_at_the_start_evicts() {
    let mut d = Decoder::new(4096);
    decode(&mut d, &hex(C3_BLOCKS[0])).expect("valid");
    decode(&mut d, &hex(C3_BLOCKS[1])).expect("valid");
    assert_eq!(d.table_size(), 110);
    // 0x3f 0x1a: size 31 + 26 = 57, which keeps only the newest entry (53 bytes).
    assert_eq!(decode(&mut d, &hex("3f1a 82")), Ok(fields(&[(":method", "GET")])));
    assert_eq!(table(&d), pairs(&[("cache-control", "no-cache")]));
    assert_eq!(d.table_size(), 53);
    // Later inserts respect the new maximum.
    decode(&mut d, &hex("4003 6162 6303 6465 66")).expect("valid");
    assert_eq!(table(&d), pairs(&[("abc", "def")]));
}

#[test]
fn two_size_updates_at_the_start_are_allowed() {
    // §4.2: a shrink and a regrowth between two blocks are signalled by two updates.
    let mut d = Decoder::new(4096);
    decode(&mut d, &hex(C3_BLOCKS[0])).expect("valid");
    assert_eq!(decode(&mut d, &hex("20 3fe1 1f 82")), Ok(fields(&[(":method", "GET")])));
    assert_eq!(d.table_size(), 0);
    assert_eq!(d.table.max_size(), 4096);
}

#[test]
fn a_block_of_only_a_size_update_is_fine() {
    let mut d = Decoder::new(4096);
    assert_eq!(decode(&mut d, &hex("3fe1 1f")), Ok(vec![]));
}

#[test]
fn a_size_update_after_a_field_is_refused() {
    let mut d = Decoder::new(4096);
    assert_eq!(decode(&mut d, &hex("82 20")), Err(DecodeError::TableSizeUpdate));
}

#[test]
fn a_size_update_above_our_setting_is_refused() {
    let mut d = Decoder::new(4096);
    // 4097 = 31 + 4066 = 0x3f 0xe2 0x1f.
    assert_eq!(decode(&mut d, &hex("3fe2 1f")), Err(DecodeError::TableSizeUpdate));
    let mut d = Decoder::new(256);
    assert_eq!(decode(&mut d, &hex("3fe2 01")), Err(DecodeError::TableSizeUpdate)); // 257
    assert_eq!(decode(&mut d, &hex("3fe1 01")), Ok(vec![])); // 256
}

#[test]
fn after_lowering_our_setting_the_next_block_must_start_with_an_update() {
    let mut d = Decoder::new(4096);
    decode(&mut d, &hex(C3_BLOCKS[0])).expect("valid");
    d.set_max_table_size(100);
    assert_eq!(decode(&mut d, &hex("82")), Err(DecodeError::TableSizeUpdate));
    // An update above the new limit is refused too.
    assert_eq!(decode(&mut d, &hex("3f46 82")), Err(DecodeError::TableSizeUpdate)); // 101
    assert_eq!(decode(&mut d, &hex("3f45 82")), Ok(fields(&[(":method", "GET")]))); // 100
    assert_eq!(d.table_size(), 57);
    // Once done, blocks need no update.
    assert_eq!(decode(&mut d, &hex("82")), Ok(fields(&[(":method", "GET")])));
}

#[test]
fn raising_our_setting_needs_no_update() {
    let mut d = Decoder::new(256);
    d.set_max_table_size(4096);
    assert_eq!(decode(&mut d, &hex("82")), Ok(fields(&[(":method", "GET")])));
    assert_eq!(decode(&mut d, &hex("3fe1 1f")), Ok(vec![]));
    assert_eq!(d.table.max_size(), 4096);
}

#[test]
fn an_entry_larger_than_the_table_empties_it() {
    let mut d = Decoder::new(100);
    decode(&mut d, &hex(C3_BLOCKS[0])).expect("valid");
    assert_eq!(d.table_size(), 57);
    // custom-key: custom-header is 55 bytes; with a 100-byte table it evicts the first.
    decode(&mut d, &hex(C2_1)).expect("valid");
    assert_eq!(d.table_size(), 55);
    // A 70-byte value: 10 + 70 + 32 > 100, so the table empties and the field still comes out.
    let mut block = hex("400a 6375 7374 6f6d 2d6b 6579 46").to_vec();
    block.extend_from_slice(&[b'x'; 70]);
    let got = decode(&mut d, &block.into()).expect("valid");
    assert_eq!(got, vec![("custom-key".into(), "x".repeat(70), false)]);
    assert_eq!((d.table_size(), table(&d)), (0, vec![]));
}

// --- One crafted block per error ---

#[test]
fn truncated_blocks() {
    let mut d = Decoder::new(4096);
    for block in [
        "41",                  // literal with a name index and no value
        "418c f1e3",           // a 12-byte Huffman value with 2 bytes present
        "40",                  // new name, no name string
        "4003 6162",           // name string cut short
        "ff",                  // index with a continuation byte missing
        "3f",                  // size update with a continuation byte missing
        "0003 6162 6303 6465", // value string cut short
    ] {
        assert_eq!(decode(&mut d, &hex(block)), Err(DecodeError::Truncated), "{block}");
    }
}

#[test]
fn integer_overflow() {
    let mut d = Decoder::new(4096);
    // An index of 127 + 2^35-ish: six continuation bytes.
    assert_eq!(decode(&mut d, &hex("ff ff ff ff ff ff 0f")), Err(DecodeError::IntegerOverflow));
    // A string length beyond 2^32.
    assert_eq!(decode(&mut d, &hex("00 7f ff ff ff ff 7f")), Err(DecodeError::IntegerOverflow));
}

#[test]
fn invalid_indexes() {
    let mut d = Decoder::new(4096);
    assert_eq!(decode(&mut d, &hex("80")), Err(DecodeError::InvalidIndex(0)));
    // 62 on an empty dynamic table.
    assert_eq!(decode(&mut d, &hex("be")), Err(DecodeError::InvalidIndex(62)));
    // A literal naming index 62.
    assert_eq!(decode(&mut d, &hex("7e 0161")), Err(DecodeError::InvalidIndex(62)));
    assert_eq!(decode(&mut d, &hex("0f2f 0161")), Err(DecodeError::InvalidIndex(62)));
    // With one entry, 62 is valid and 63 is not.
    decode(&mut d, &hex(C3_BLOCKS[0])).expect("valid");
    assert_eq!(decode(&mut d, &hex("be")), Ok(fields(&[(":authority", "www.example.com")])));
    assert_eq!(decode(&mut d, &hex("bf")), Err(DecodeError::InvalidIndex(63)));
}

#[test]
fn invalid_huffman() {
    let mut d = Decoder::new(4096);
    // Value: EOS (30 ones) plus two bits of padding.
    assert_eq!(decode(&mut d, &hex("01 84 ffff ffff")), Err(DecodeError::Huffman));
    // Value "0" with 11 bits of padding.
    assert_eq!(decode(&mut d, &hex("01 82 07ff")), Err(DecodeError::Huffman));
    // Value "0" with padding 011.
    assert_eq!(decode(&mut d, &hex("01 81 03")), Err(DecodeError::Huffman));
    // A Huffman name, too.
    assert_eq!(decode(&mut d, &hex("00 81 03 00")), Err(DecodeError::Huffman));
}

#[test]
fn a_failed_huffman_string_leaves_no_bytes_behind() {
    let mut d = Decoder::new(4096);
    // "00" then an invalid padding: the scratch holds "00" when the error is found.
    assert_eq!(decode(&mut d, &hex("01 82 003e")), Err(DecodeError::Huffman));
    let got = decode(&mut d, &hex("01 81 07")).expect("valid");
    assert_eq!(got, vec![(":authority".into(), "0".into(), false)]);
}

#[test]
fn strings_longer_than_the_limit() {
    let mut d = Decoder::new(4096);
    d.set_max_string(4);
    // A 4-byte value passes, a 5-byte one does not.
    assert_eq!(decode(&mut d, &hex("01 04 6162 6364")), Ok(fields(&[(":authority", "abcd")])));
    assert_eq!(decode(&mut d, &hex("01 05 6162 6364 65")), Err(DecodeError::StringTooLong));
    // The length alone decides: the bytes need not be there.
    assert_eq!(decode(&mut d, &hex("01 7f 80 01")), Err(DecodeError::StringTooLong));
    // A 4-byte Huffman string decoding to 6 bytes: "0" six times is 30 bits, then "11".
    assert_eq!(decode(&mut d, &hex("01 84 0000 0003")), Err(DecodeError::StringTooLong));
    // Names too.
    assert_eq!(decode(&mut d, &hex("00 05 6162 6364 65 00")), Err(DecodeError::StringTooLong));
}

#[test]
fn the_caller_ignoring_fields_keeps_the_table_in_step() {
    let mut d = Decoder::new(256);
    for block in C6_BLOCKS {
        d.decode(&hex(block), |_, _, _| {}).expect("valid");
    }
    assert_eq!(table(&d), pairs(RESPONSE_TABLE_3));
}

#[test]
fn names_are_passed_as_sent() {
    // Uppercase and odd bytes are HTTP/2's business, not HPACK's.
    let mut d = Decoder::new(4096);
    let got = decode(&mut d, &hex("00 03 4162 00 00")).expect("valid");
    assert_eq!(got, vec![("Ab\0".into(), "".into(), false)]);
}
