//! One-shot compression of a whole file with each coding, and the levels used.
//!
//! A result is computed once per (worker, file version, coding) and then served from the
//! cache, so the levels lean towards ratio; but it is computed on the worker thread, where
//! every millisecond delays every other connection of that worker, so they stop short of the
//! slow end. Rough single-core numbers (4 MiB of Rust sources / 1 MiB of JSON, HTML and
//! Markdown; release build):
//!
//! | coding | level | ratio (src / mixed) | speed         |
//! |--------|-------|---------------------|---------------|
//! | br     | 4     | 15.6% / 27.7%       | 26-30 MB/s    |
//! | br     | **5** | 14.4% / 25.7%       | 19-20 MB/s    |
//! | br     | 6     | 14.1% / 25.3%       | 16-18 MB/s    |
//! | br     | 9     | 13.6% / 24.7%       | 8-12 MB/s     |
//! | zstd   | 3     | 16.5% / 28.2%       | 180-290 MB/s  |
//! | zstd   | **6** | 14.7% / 26.1%       | 57-109 MB/s   |
//! | zstd   | 9     | 14.3% / 25.6%       | 27-64 MB/s    |
//! | gzip   | 1     | 27.9% / 40.1%       | 116-156 MB/s  |
//! | gzip   | **6** | 19.8% / 29.8%       | 24-30 MB/s    |
//! | gzip   | 9     | 19.8% / 29.7%       | 16-20 MB/s    |
//!
//! * brotli 5: the knee. Quality 4 and below use a cruder match finder (8% larger output);
//!   6 and up cost more time for 1-2%.
//! * zstd 6: within 2% of brotli 5 at four times its speed; level 3 (the library default) is
//!   faster still but 14% larger, and the result is cached, so the extra milliseconds are paid
//!   once.
//! * gzip 6: zlib's own default and its knee: 9 buys nothing measurable at 1.5x the time.
//!
//! At ~20 MB/s for the slowest two, the on-the-fly size cap (`MAX_LEN` in the parent module)
//! bounds one stall of the worker to ~100 ms.

use std::io::{self, Write};

use super::Coding;

/// Brotli quality (0-11).
pub(crate) const BROTLI_QUALITY: i32 = 5;
/// zstd level (1-22).
pub(crate) const ZSTD_LEVEL: i32 = 6;
/// gzip (deflate) level (0-9).
pub(crate) const GZIP_LEVEL: u32 = 6;

/// `input` compressed with `coding`, as one complete stream.
pub(crate) fn compress(coding: Coding, input: &[u8]) -> io::Result<Vec<u8>> {
    match coding {
        Coding::Br => brotli(input),
        Coding::Zstd => zstd::bulk::compress(input, ZSTD_LEVEL),
        Coding::Gzip => {
            let mut w = flate2::write::GzEncoder::new(
                Vec::with_capacity(input.len() / 3),
                flate2::Compression::new(GZIP_LEVEL),
            );
            w.write_all(input)?;
            w.finish()
        }
    }
}

fn brotli(mut input: &[u8]) -> io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        // The smallest window that still spans the whole input (10..=22 bits): matches can
        // reach back to the start, and a small file does not pay for a 4 MiB ring buffer.
        lgwin: (u64::BITS - (input.len() as u64).leading_zeros() + 1).clamp(10, 22) as i32,
        size_hint: input.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(input.len() / 3);
    brotli::BrotliCompress(&mut input, &mut out, &params)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Decodes with the same crates, as a client would.
    fn decompress(coding: Coding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Br => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
            Coding::Zstd => zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out)),
            Coding::Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
        }
        .expect("a valid stream");
        out
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut s = Vec::with_capacity(len);
        let mut i = 0u64;
        while s.len() < len {
            s.extend_from_slice(
                format!("<li class=\"item\">row {i} of the list: {}</li>\n", i * i % 977).as_bytes(),
            );
            i += 1;
        }
        s.truncate(len);
        s
    }

    #[test]
    fn every_coding_round_trips() {
        for len in [0, 1, 100, 5000, 300_000] {
            let input = sample(len);
            for c in Coding::ALL {
                let out = compress(c, &input).expect("compress");
                assert_eq!(decompress(c, &out), input, "{} of {len} bytes", c.token());
                if len >= 5000 {
                    assert!(out.len() < input.len() / 3, "{} compresses text", c.token());
                }
            }
        }
    }

    #[test]
    fn random_bytes_round_trip() {
        // xorshift: incompressible input must still decode to itself.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let input: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for c in Coding::ALL {
            let out = compress(c, &input).expect("compress");
            assert_eq!(decompress(c, &out), input, "{}", c.token());
        }
    }
}
