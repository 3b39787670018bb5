//! Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
//!
//! The code of Appendix B is *canonical*: within each length, codes are consecutive in
//! symbol order, and each length's first code follows the previous length's last one. So the
//! 257 code lengths below are the whole table; the codes themselves, the decoding tree and
//! the decoding state machine are all computed from them at compile time (`const fn`), and a
//! test checks codes the RFC prints.
//!
//! Decoding runs a nibble at a time: the state is an internal node of the code tree (there
//! are exactly 256 of them for 257 leaves), and `DECODE[state][nibble]` says where four more
//! bits lead and whether they completed a symbol on the way (a symbol needs at least five
//! bits, so at most one completes per nibble). That is two table lookups per input byte,
//! against eight branches for a bit-at-a-time tree walk.

use bytes::BufMut;

use crate::DecodeError;

/// Code length in bits of each symbol, RFC 7541 Appendix B; symbol 256 is EOS.
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0–15
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16–31
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32–47
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48–63
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64–79
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80–95
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96–111
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112–127
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128–143
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144–159
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160–175
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176–191
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192–207
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208–223
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224–239
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240–255
    30, // EOS
];

const EOS: usize = 256;
const MAX_LEN: u8 = 30;

/// The canonical codes, right-aligned in a `u32`.
const CODES: [u32; 257] = canonical_codes();

/// What the encoder reads at run time: `static`, so that indexing never copies a `const`
/// array into a temporary (which unoptimised builds do).
static ENCODE: [(u32, u8); 256] = encode_table();

const fn encode_table() -> [(u32, u8); 256] {
    let mut table = [(0, 0); 256];
    let mut sym = 0;
    while sym < 256 {
        table[sym] = (CODES[sym], LENGTHS[sym]);
        sym += 1;
    }
    table
}

const fn canonical_codes() -> [u32; 257] {
    let mut codes = [0u32; 257];
    let mut code = 0u32;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut sym = 0;
        while sym < 257 {
            if LENGTHS[sym] == len {
                codes[sym] = code;
                code += 1;
            }
            sym += 1;
        }
        code <<= 1;
        len += 1;
    }
    codes
}

/// A child in the code tree: an internal node's number, or `LEAF | symbol`.
const LEAF: u16 = 0x8000;

/// The code tree: `TREE[node][bit]`; node 0 is the root. 257 leaves make 256 internal nodes.
const TREE: [[u16; 2]; 256] = build_tree();

const fn build_tree() -> [[u16; 2]; 256] {
    // 0 as a child means "not yet created": the root is never anyone's child.
    let mut tree = [[0u16; 2]; 256];
    let mut nodes = 1;
    let mut sym = 0;
    while sym < 257 {
        let len = LENGTHS[sym] as u32;
        let code = CODES[sym];
        let mut node = 0;
        let mut depth = 1;
        while depth < len {
            let bit = ((code >> (len - depth)) & 1) as usize;
            if tree[node][bit] == 0 {
                tree[node][bit] = nodes as u16;
                nodes += 1;
            }
            node = tree[node][bit] as usize;
            depth += 1;
        }
        tree[node][(code & 1) as usize] = LEAF | sym as u16;
        sym += 1;
    }
    assert!(nodes == 256, "a complete code of 257 symbols has 256 internal nodes");
    tree
}

/// Flags of a decoding step.
const EMIT: u8 = 1;
/// The four bits ran into EOS, which RFC 7541 §5.2 forbids inside a string.
const FAIL: u8 = 2;
/// The step ends where a string may end: on the root, or at most seven bits down the
/// all-ones path (the only valid padding, §5.2).
const ACCEPT: u8 = 4;

#[derive(Clone, Copy)]
struct Step {
    next: u8,
    flags: u8,
    sym: u8,
}

/// `DECODE[state][nibble]`: the nibble-at-a-time state machine (12 KiB).
static DECODE: [[Step; 16]; 256] = build_decode();

const fn build_decode() -> [[Step; 16]; 256] {
    // Which nodes may end a string: depth ≤ 7 on the all-ones path from the root.
    let mut accepting = [false; 256];
    accepting[0] = true;
    let mut node = 0;
    let mut depth = 1;
    while depth <= 7 {
        node = TREE[node][1] as usize;
        accepting[node] = true;
        depth += 1;
    }

    let mut table = [[Step { next: 0, flags: 0, sym: 0 }; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut flags = 0;
            let mut sym = 0;
            let mut i = 0;
            while i < 4 {
                let bit = (nibble >> (3 - i)) & 1;
                let child = TREE[node][bit];
                if child & LEAF != 0 {
                    let s = (child & !LEAF) as usize;
                    if s == EOS {
                        flags |= FAIL;
                        break;
                    }
                    flags |= EMIT;
                    sym = s as u8;
                    node = 0;
                } else {
                    node = child as usize;
                }
                i += 1;
            }
            if flags & FAIL == 0 && accepting[node] {
                flags |= ACCEPT;
            }
            table[state][nibble] = Step { next: node as u8, flags, sym };
            nibble += 1;
        }
        state += 1;
    }
    table
}

/// The Huffman-coded length of `src` in bytes, padding included.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| usize::from(ENCODE[usize::from(b)].1)).sum();
    bits.div_ceil(8)
}

/// Appends the Huffman coding of `src` to `out`, padded with the most significant bits of
/// EOS (ones) to a whole byte.
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(src));
    // Bits not yet written sit in the low `pending` bits of `acc`; at most 7 + 30 of them.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    for &b in src {
        let (code, len) = ENCODE[usize::from(b)];
        let len = u32::from(len);
        acc = (acc << len) | u64::from(code);
        pending += len;
        while pending >= 8 {
            pending -= 8;
            out.push((acc >> pending) as u8);
        }
    }
    if pending > 0 {
        out.push(((acc << (8 - pending)) as u8) | (0xff >> pending));
    }
}

/// Decodes Huffman-coded `src`, appending the symbols to `out`. Refuses EOS inside the
/// string, padding of eight bits or more, and padding that is not all ones (§5.2). On error
/// `out` may hold part of the string.
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    decode_into(src, out)
}

/// [`decode`] into any buffer (the decoder uses a `BytesMut` it splits values off).
pub(crate) fn decode_into(src: &[u8], out: &mut impl BufMut) -> Result<(), DecodeError> {
    let mut state = 0usize;
    let mut accept = true;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = DECODE[state][usize::from(nibble)];
            if step.flags & FAIL != 0 {
                return Err(DecodeError::Huffman);
            }
            if step.flags & EMIT != 0 {
                out.put_u8(step.sym);
            }
            state = usize::from(step.next);
            accept = step.flags & ACCEPT != 0;
        }
    }
    if accept {
        Ok(())
    } else {
        Err(DecodeError::Huffman)
    }
}

/// The most bytes `n` Huffman-coded bytes can decode to: the shortest code is five bits.
pub(crate) fn max_decoded_len(n: usize) -> usize {
    n.saturating_mul(8) / 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    fn codes_match_those_the_rfc_prints() {
        // A sample of Appendix B: (symbol, code, length).
        for (sym, code, len) in [
            (0usize, 0x1ff8u32, 13u8),
            (b' ' as usize, 0x14, 6),
            (b'0' as usize, 0x0, 5),
            (b'a' as usize, 0x3, 5),
            (b'z' as usize, 0x7b, 7),
            (b'~' as usize, 0x1ffd, 13),
            (10, 0x3ffffffc, 30),
            (255, 0x3ffffee, 26),
            (EOS, 0x3fffffff, 30),
        ] {
            assert_eq!((CODES[sym], LENGTHS[sym]), (code, len), "symbol {sym}");
        }
    }

    #[test]
    fn the_code_is_complete() {
        // Kraft's sum is exactly one: every bit string is a prefix of some code.
        let sum: u64 = LENGTHS.iter().map(|&l| 1u64 << (MAX_LEN - l)).sum();
        assert_eq!(sum, 1 << MAX_LEN);
    }

    // RFC 7541 C.4.1 and C.6.1 strings.
    #[test]
    fn rfc_examples() {
        for (plain, coded) in [
            (&b"www.example.com"[..], "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            (b"no-cache", "a8eb 1064 9cbf"),
            (b"custom-key", "25a8 49e9 5ba9 7d7f"),
            (b"custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            (b"302", "6402"),
            (b"private", "aec3 771a 4b"),
            (b"Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
            (b"https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"),
            (b"gzip", "9bd9 ab"),
            (
                b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ),
        ] {
            let coded = hex(coded);
            let mut out = Vec::new();
            encode(plain, &mut out);
            assert_eq!(out, coded, "encoding {:?}", String::from_utf8_lossy(plain));
            assert_eq!(encoded_len(plain), coded.len());
            let mut back = Vec::new();
            decode(&coded, &mut back).expect("valid");
            assert_eq!(back, plain);
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut coded = Vec::new();
        encode(&all, &mut coded);
        assert_eq!(coded.len(), encoded_len(&all));
        let mut back = Vec::new();
        decode(&coded, &mut back).expect("valid");
        assert_eq!(back, all);
        // And each alone, so every symbol meets the padding.
        for b in 0..=255u8 {
            coded.clear();
            back.clear();
            encode(&[b], &mut coded);
            decode(&coded, &mut back).expect("valid");
            assert_eq!(back, [b]);
        }
    }

    #[test]
    fn empty_string() {
        let mut out = Vec::new();
        encode(b"", &mut out);
        assert!(out.is_empty());
        assert_eq!(decode(b"", &mut out), Ok(()));
        assert!(out.is_empty());
    }

    #[test]
    fn eos_inside_a_string_is_refused() {
        // EOS (30 ones) then padding: 32 bits of ones.
        let mut out = Vec::new();
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff], &mut out), Err(DecodeError::Huffman));
        // 'a' (00011) then EOS then 5 bits of padding.
        let mut bits: u64 = 0b00011;
        bits = (bits << 30) | 0x3fff_ffff;
        bits = (bits << 5) | 0b11111;
        let bytes = bits.to_be_bytes();
        assert_eq!(decode(&bytes[3..], &mut out), Err(DecodeError::Huffman));
    }

    #[test]
    fn padding_of_eight_bits_or_more_is_refused() {
        // "0" is 00000; with 3 bits of padding it is 0x07, valid.
        let mut out = Vec::new();
        assert_eq!(decode(&[0x07], &mut out), Ok(()));
        assert_eq!(out, b"0");
        // The same plus a whole byte of ones: 11 bits of padding.
        assert_eq!(decode(&[0x07, 0xff], &mut out), Err(DecodeError::Huffman));
        // A lone byte of ones: 8 bits of padding and no symbol.
        assert_eq!(decode(&[0xff], &mut out), Err(DecodeError::Huffman));
        out.clear();
        // "00" is 10 bits: 00000 00000 + 6 ones of padding.
        assert_eq!(decode(&[0x00, 0x3f], &mut out), Ok(()));
        assert_eq!(out, b"00");
    }

    #[test]
    fn padding_with_a_zero_bit_is_refused() {
        let mut out = Vec::new();
        // "0" then padding 011 instead of 111.
        assert_eq!(decode(&[0x03], &mut out), Err(DecodeError::Huffman));
        // "0" then padding 110.
        assert_eq!(decode(&[0x06], &mut out), Err(DecodeError::Huffman));
        // "00" then padding 111110.
        assert_eq!(decode(&[0x00, 0x3e], &mut out), Err(DecodeError::Huffman));
    }

    #[test]
    fn max_decoded_len_bounds_every_output() {
        let s = b"00000000000000000000";
        let mut coded = Vec::new();
        encode(s, &mut coded);
        assert_eq!(coded.len(), 13);
        assert!(max_decoded_len(coded.len()) >= s.len());
    }
}
