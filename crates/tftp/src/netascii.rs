//! Netascii (RFC 1350 §1, RFC 764's NVT ASCII): the text mode's line-ending translation.
//!
//! On the wire a line ends in CR LF and a carriage return that is not part of a line end is
//! sent as CR NUL. Locally (Unix) a line ends in LF. So:
//!
//! ```text
//!   encode:  LF ──► CR LF        CR ──► CR NUL        other ──► itself
//!   decode:  CR LF ──► LF        CR NUL ──► CR        CR x ──► CR x (lenient)
//! ```
//!
//! Both directions are streaming. The sender cuts blocks out of the *encoded* stream, so a
//! CR LF pair may straddle two DATA blocks: the [`Decoder`] remembers a CR that ended the
//! previous block, and the [`Encoder`] can stop between the two bytes of a pair when its
//! output slice is full. Bytes ≥ 0x80 pass through untouched; refusing them would make
//! `netascii` unusable for UTF-8 text for no gain. With that, `decode(encode(x)) == x` for
//! every byte string.

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const NUL: u8 = 0;

/// Local text to netascii, across any number of calls.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    /// The second byte of a pair whose first byte filled the previous output slice.
    pending: Option<u8>,
}

impl Encoder {
    /// A fresh encoder.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Encodes from `input` into `out` until either runs out; returns `(read, written)`.
    ///
    /// If `out` fills between the CR and the LF/NUL of a pair, the second byte is kept and
    /// written first by the next call (which may pass an empty `input` to flush it).
    pub fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let mut read = 0;
        let mut written = 0;
        if let Some(second) = self.pending {
            match out.first_mut() {
                Some(slot) => {
                    *slot = second;
                    written = 1;
                    self.pending = None;
                }
                None => return (0, 0),
            }
        }
        while read < input.len() && written < out.len() {
            let byte = input[read];
            read += 1;
            let second = match byte {
                LF => LF,
                CR => NUL,
                other => {
                    out[written] = other;
                    written += 1;
                    continue;
                }
            };
            out[written] = CR;
            written += 1;
            match out.get_mut(written) {
                Some(slot) => {
                    *slot = second;
                    written += 1;
                }
                None => self.pending = Some(second),
            }
        }
        (read, written)
    }

    /// Encodes all of `input`, appending to `out` (flushing any pending byte first).
    pub fn encode_to_vec(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.extend(self.pending.take());
        out.reserve(input.len());
        // Copy runs without CR/LF in bulk; most text is long runs between line ends.
        let mut rest = input;
        while let Some(i) = rest.iter().position(|&b| b == CR || b == LF) {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(if rest[i] == LF { &[CR, LF] } else { &[CR, NUL] });
            rest = &rest[i + 1..];
        }
        out.extend_from_slice(rest);
    }

    /// Whether half a pair is still waiting to be written.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }
}

/// The length of `input` once encoded (each CR and LF becomes two bytes).
pub fn encoded_len(input: &[u8]) -> usize {
    input.len() + input.iter().filter(|&&b| b == CR || b == LF).count()
}

/// Netascii to local text, across block boundaries.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// The previous input ended in a CR whose partner has not arrived yet.
    cr: bool,
}

impl Decoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Decodes all of `input`, appending to `out`. A trailing CR is held until the next call
    /// (or [`finish`](Self::finish)) shows what follows it.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        let mut rest = input;
        if self.cr {
            match rest.split_first() {
                Some((&LF, tail)) => {
                    out.push(LF);
                    rest = tail;
                }
                Some((&NUL, tail)) => {
                    out.push(CR);
                    rest = tail;
                }
                // A CR followed by anything else is not netascii; keep both bytes.
                Some(_) => out.push(CR),
                None => return,
            }
            self.cr = false;
        }
        while let Some(i) = rest.iter().position(|&b| b == CR) {
            out.extend_from_slice(&rest[..i]);
            match rest.get(i + 1) {
                Some(&LF) => {
                    out.push(LF);
                    rest = &rest[i + 2..];
                }
                Some(&NUL) => {
                    out.push(CR);
                    rest = &rest[i + 2..];
                }
                Some(_) => {
                    out.push(CR);
                    rest = &rest[i + 1..];
                }
                None => {
                    self.cr = true;
                    return;
                }
            }
        }
        out.extend_from_slice(rest);
    }

    /// Ends the stream: a CR held back from the last block is emitted as is.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.cr) {
            out.push(CR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Encoder::new().encode_to_vec(input, &mut out);
        out
    }

    fn decode_blocks(blocks: &[&[u8]]) -> Vec<u8> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for block in blocks {
            d.decode(block, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn encodes_line_ends_and_bare_cr() {
        assert_eq!(encode(b"a\nb\rc\r\n"), b"a\r\nb\r\0c\r\0\r\n");
        assert_eq!(encoded_len(b"a\nb\rc\r\n"), 11);
        assert_eq!(encode(b""), b"");
    }

    #[test]
    fn decodes_pairs() {
        assert_eq!(decode_blocks(&[b"a\r\nb\r\0c"]), b"a\nb\rc");
        // Not netascii, kept rather than refused.
        assert_eq!(decode_blocks(&[b"a\rb\r\r\n"]), b"a\rb\r\n");
    }

    #[test]
    fn cr_at_block_end_pairs_with_next_block() {
        assert_eq!(decode_blocks(&[b"line\r", b"\nnext"]), b"line\nnext");
        assert_eq!(decode_blocks(&[b"x\r", b"\0y"]), b"x\ry");
        assert_eq!(decode_blocks(&[b"x\r", b"", b"\n"]), b"x\n");
        assert_eq!(decode_blocks(&[b"x\r", b"\r", b"\n"]), b"x\r\n");
        assert_eq!(decode_blocks(&[b"x\r", b"\r", b"\0"]), b"x\r\r");
        // A CR that ends the whole stream survives `finish`.
        assert_eq!(decode_blocks(&[b"x\r"]), b"x\r");
    }

    #[test]
    fn encoder_splits_pairs_across_small_outputs() {
        let mut e = Encoder::new();
        let mut out = [0u8; 2];
        assert_eq!(e.encode(b"a\nb", &mut out), (2, 2));
        assert_eq!(&out, b"a\r");
        assert!(e.has_pending());
        assert_eq!(e.encode(b"b", &mut out), (1, 2));
        assert_eq!(&out, b"\nb");
        assert_eq!(e.encode(b"", &mut []), (0, 0));
    }

    fn bytes_with_line_ends() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8), any::<u8>()], 0..300)
    }

    proptest! {
        #[test]
        fn round_trip_with_arbitrary_block_cuts(
            data in bytes_with_line_ends(),
            cuts in proptest::collection::vec(0usize..400, 0..8),
        ) {
            let encoded = encode(&data);
            prop_assert_eq!(encoded.len(), encoded_len(&data));
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(encoded.len())).collect();
            cuts.sort_unstable();
            let mut blocks = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([encoded.len()]) {
                blocks.push(&encoded[start..cut]);
                start = cut;
            }
            prop_assert_eq!(decode_blocks(&blocks), data);
        }

        #[test]
        fn bounded_encoder_matches_vec_encoder(
            data in bytes_with_line_ends(),
            sizes in proptest::collection::vec(0usize..7, 1..40),
        ) {
            let mut e = Encoder::new();
            let mut out = Vec::new();
            let mut input = &data[..];
            let mut sizes = sizes.into_iter().cycle();
            let mut stalls = 0;
            while !input.is_empty() || e.has_pending() {
                // Empty outputs are allowed now and then, but not forever.
                let size = sizes.next().unwrap_or(1);
                let mut chunk = vec![0u8; if stalls >= 2 { size.max(1) } else { size }];
                let (read, written) = e.encode(input, &mut chunk);
                out.extend_from_slice(&chunk[..written]);
                input = &input[read..];
                stalls = if written == 0 { stalls + 1 } else { 0 };
                prop_assert!(stalls < 10, "encoder made no progress");
            }
            prop_assert_eq!(out, encode(&data));
        }

        #[test]
        fn decoder_never_panics_on_noise(blocks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..50), 0..6)) {
            let blocks: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
            let out = decode_blocks(&blocks);
            prop_assert!(out.len() <= blocks.iter().map(|b| b.len()).sum());
        }
    }
}
