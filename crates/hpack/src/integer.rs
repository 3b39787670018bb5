//! Prefix-coded integers (RFC 7541 §5.1).
//!
//! An integer starts in the low `N` bits of a byte whose high bits belong to the
//! representation; a value that does not fit in the prefix continues in 7-bit groups, least
//! significant first, with the high bit of each byte saying "more follows".

use crate::DecodeError;

/// The largest value we accept. Every HPACK integer is an index, a string length or a table
/// size; none of them is meaningful above 2³² − 1, and stopping there keeps the arithmetic
/// free of overflow on 32-bit targets too.
const MAX_VALUE: u64 = u32::MAX as u64;

/// Continuation bytes beyond this many would add bits above 2³⁵: the value is then either too
/// big or padded with zero groups, which RFC 7541 §5.1 lets us refuse ("excessively large
/// integer encodings — in value or octet length — MUST be treated as a decoding error").
const MAX_CONTINUATION: u32 = 5;

/// Appends `value` with an `prefix_bits`-bit prefix; `flags` are the representation's bits above
/// the prefix in the first byte.
pub(crate) fn encode(value: usize, prefix_bits: u8, flags: u8, out: &mut Vec<u8>) {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Reads an integer with a `prefix_bits`-bit prefix starting at `src[*pos]`, advancing `pos`
/// past it.
pub(crate) fn decode(src: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<usize, DecodeError> {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = ((1u16 << prefix_bits) - 1) as u8;
    let first = *src.get(*pos).ok_or(DecodeError::Truncated)?;
    *pos += 1;
    let prefix = first & max_prefix;
    if prefix < max_prefix {
        return Ok(usize::from(prefix));
    }
    let mut value = u64::from(max_prefix);
    let mut shift = 0u32;
    loop {
        let b = *src.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        value += u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift / 7 >= MAX_CONTINUATION {
            return Err(DecodeError::IntegerOverflow);
        }
    }
    if value > MAX_VALUE {
        return Err(DecodeError::IntegerOverflow);
    }
    usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: usize, prefix_bits: u8, flags: u8) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, prefix_bits, flags, &mut out);
        out
    }

    fn dec(src: &[u8], prefix_bits: u8) -> Result<(usize, usize), DecodeError> {
        let mut pos = 0;
        decode(src, &mut pos, prefix_bits).map(|v| (v, pos))
    }

    // RFC 7541 C.1.1: 10 with a 5-bit prefix.
    #[test]
    fn c_1_1_ten_in_five_bit_prefix() {
        assert_eq!(enc(10, 5, 0), [0b0000_1010]);
        assert_eq!(dec(&[0b0000_1010], 5), Ok((10, 1)));
    }

    // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
    #[test]
    fn c_1_2_1337_in_five_bit_prefix() {
        assert_eq!(enc(1337, 5, 0), [0b0001_1111, 0b1001_1010, 0b0000_1010]);
        assert_eq!(dec(&[0b0001_1111, 0b1001_1010, 0b0000_1010], 5), Ok((1337, 3)));
    }

    // RFC 7541 C.1.3: 42 starting at an octet boundary (8-bit prefix).
    #[test]
    fn c_1_3_42_at_octet_boundary() {
        assert_eq!(enc(42, 8, 0), [0b0010_1010]);
        assert_eq!(dec(&[0b0010_1010], 8), Ok((42, 1)));
    }

    #[test]
    fn flags_above_the_prefix_are_kept_and_ignored() {
        assert_eq!(enc(3, 6, 0x40), [0x43]);
        assert_eq!(dec(&[0xc3], 6), Ok((3, 1)));
        // The prefix exactly full needs one continuation byte of zero.
        assert_eq!(enc(31, 5, 0xe0), [0xff, 0x00]);
        assert_eq!(dec(&[0xff, 0x00], 5), Ok((31, 2)));
    }

    #[test]
    fn truncated_integers() {
        assert_eq!(dec(&[], 5), Err(DecodeError::Truncated));
        assert_eq!(dec(&[0x1f], 5), Err(DecodeError::Truncated));
        assert_eq!(dec(&[0x1f, 0x9a], 5), Err(DecodeError::Truncated));
    }

    #[test]
    fn largest_value_round_trips_and_one_more_overflows() {
        let max = u32::MAX as usize;
        let bytes = enc(max, 7, 0);
        assert_eq!(dec(&bytes, 7), Ok((max, bytes.len())));
        // 2^32 with a 7-bit prefix: 127 + (2^32 - 127) in five groups.
        let mut over = Vec::new();
        encode_u64(1 << 32, 7, &mut over);
        assert_eq!(dec(&over, 7), Err(DecodeError::IntegerOverflow));
    }

    #[test]
    fn zero_padded_continuations_are_refused() {
        // 31 + 0, spelled with five "more follows" bytes of zero: an absurd encoding.
        assert_eq!(dec(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5), Err(DecodeError::IntegerOverflow));
        // Four padding groups are still within the limit.
        assert_eq!(dec(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 5), Ok((31, 6)));
    }

    #[test]
    fn every_prefix_round_trips() {
        for prefix in 1..=8u8 {
            for value in [0, 1, 2, 126, 127, 128, 254, 255, 256, 1337, 16_383, 16_384, 1 << 21, 1 << 28] {
                let bytes = enc(value, prefix, 0);
                assert_eq!(dec(&bytes, prefix), Ok((value, bytes.len())), "{value} in {prefix}-bit prefix");
            }
        }
    }

    /// The encoder only takes `usize`; tests need values beyond what the decoder allows.
    fn encode_u64(value: u64, prefix_bits: u8, out: &mut Vec<u8>) {
        let max_prefix = (1u64 << prefix_bits) - 1;
        out.push(max_prefix as u8);
        let mut rest = value - max_prefix;
        while rest >= 0x80 {
            out.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        out.push(rest as u8);
    }
}
