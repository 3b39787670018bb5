//! Byte ranges (RFC 9110 §14): parsing `Range`, and the `multipart/byteranges` body.
//!
//! [`parse`] turns a `Range` value into the ranges to send, sorted and coalesced (overlapping
//! or adjacent ranges become one, §14.2 allows it and it defeats the "many overlapping ranges"
//! amplification). More than [`MAX_RANGES`] after coalescing, or a syntax error, and the field
//! is ignored: the client gets a 200 with the whole file, as from a server without range
//! support (§14.2 "a server MAY ignore the Range header field"), which is what nginx does past
//! `max_ranges`.
//!
//! A multipart body is a [`Multipart`] stream: part heads are built up front (so the exact
//! `Content-Length` is known before the first byte), and file regions are read in chunks of
//! [`CHUNK`] bytes as the socket drains, never the whole file into memory.

use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use pollux_server::{Body, BodyStream};

/// Most ranges served in one response, after coalescing.
pub(crate) const MAX_RANGES: usize = 16;
/// Most range-specs looked at before coalescing: bounds the parser's work and memory.
const MAX_SPECS: usize = 256;
/// Bytes read from the file per multipart chunk.
const CHUNK: u64 = 64 * 1024;

/// What a `Range` field asks of a representation of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// Send these (non-empty, sorted, disjoint, non-adjacent, at most [`MAX_RANGES`]).
    Satisfiable(Vec<Range<u64>>),
    /// None of the ranges overlaps the representation: 416 (§15.5.17).
    Unsatisfiable,
}

/// Parses a `Range` value (§14.1.2) against a representation of `len` bytes. `None` means
/// "ignore the field": not the `bytes` unit, invalid syntax, or too many ranges.
pub(crate) fn parse(value: &[u8], len: u64) -> Option<Ranges> {
    let eq = value.iter().position(|&c| c == b'=')?;
    if !value[..eq].trim_ascii().eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut out: Vec<Range<u64>> = Vec::new();
    let mut specs = 0;
    for spec in value[eq + 1..].split(|&c| c == b',') {
        let spec = spec.trim_ascii();
        if spec.is_empty() {
            continue; // #rule: empty list elements are allowed (§5.6.1)
        }
        specs += 1;
        if specs > MAX_SPECS {
            return None;
        }
        let dash = spec.iter().position(|&c| c == b'-')?;
        let (first, last) = (&spec[..dash], &spec[dash + 1..]);
        let r = if first.is_empty() {
            // suffix-range: the last N bytes; a longer N than the file means all of it.
            let n = number(last)?;
            if n == 0 || len == 0 {
                continue;
            }
            len - n.min(len)..len
        } else {
            let first = number(first)?;
            let last = if last.is_empty() { None } else { Some(number(last)?) };
            if last.is_some_and(|l| l < first) {
                return None; // §14.1.1: last-pos < first-pos makes the whole field invalid
            }
            if first >= len {
                continue; // unsatisfiable on its own; others may still be
            }
            first..last.map_or(len, |l| l.saturating_add(1).min(len))
        };
        out.push(r);
    }
    if specs == 0 {
        return None;
    }
    if out.is_empty() {
        return Some(Ranges::Unsatisfiable);
    }
    let out = coalesce(out);
    if out.len() > MAX_RANGES {
        return None;
    }
    Some(Ranges::Satisfiable(out))
}

/// 1*DIGIT, no sign, no spaces; `None` on overflow too (a range past 2^64 is no range).
fn number(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Sorts and merges overlapping or adjacent ranges.
fn coalesce(mut v: Vec<Range<u64>>) -> Vec<Range<u64>> {
    v.sort_unstable_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(prev) if r.start <= prev.end => prev.end = prev.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// `bytes FIRST-LAST/LEN` for a `Content-Range` (§14.4).
pub(crate) fn content_range(r: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", r.start, r.end - 1)
}

/// Where a multipart body's file bytes come from: the memory cache or a file.
#[derive(Debug)]
enum Source {
    Memory(Bytes),
    File(std::sync::Arc<std::fs::File>),
}

/// A `multipart/byteranges` body (§14.6), produced part by part.
#[derive(Debug)]
pub(crate) struct Multipart {
    source: Source,
    /// (part head, file region), in order; the closing delimiter is the last head with an
    /// empty region.
    parts: std::collections::VecDeque<(Bytes, Range<u64>)>,
    total: u64,
}

impl Multipart {
    /// A body sending `ranges` of the file behind `whole` (its full body, from
    /// `Opened::body(0, len)`), each part labelled with `content_type`.
    pub(crate) fn new(
        whole: Body,
        ranges: &[Range<u64>],
        len: u64,
        content_type: &[u8],
        boundary: &str,
    ) -> io::Result<Multipart> {
        let source = match whole {
            Body::Bytes(b) => Source::Memory(b),
            Body::File { file, .. } => Source::File(file),
            _ => return Err(io::Error::other("file body is neither bytes nor a file")),
        };
        let mut parts = std::collections::VecDeque::with_capacity(ranges.len() + 1);
        let mut total = 0;
        for (i, r) in ranges.iter().enumerate() {
            let mut head = Vec::with_capacity(128);
            if i > 0 {
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(b"--");
            head.extend_from_slice(boundary.as_bytes());
            head.extend_from_slice(b"\r\nContent-Type: ");
            head.extend_from_slice(content_type);
            head.extend_from_slice(b"\r\nContent-Range: ");
            head.extend_from_slice(content_range(r, len).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            total += head.len() as u64 + (r.end - r.start);
            parts.push_back((Bytes::from(head), r.clone()));
        }
        let end = Bytes::from(format!("\r\n--{boundary}--\r\n"));
        total += end.len() as u64;
        parts.push_back((end, 0..0));
        Ok(Multipart { source, parts, total })
    }
}

impl BodyStream for Multipart {
    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        let (head, region) = self.parts.front_mut()?;
        if !head.is_empty() {
            return Some(Ok(std::mem::take(head)));
        }
        if region.is_empty() {
            self.parts.pop_front();
            return self.next_chunk();
        }
        let n = (region.end - region.start).min(CHUNK);
        let at = region.start;
        region.start += n;
        Some(match &self.source {
            Source::Memory(b) => {
                let (a, z) = (at as usize, (at + n) as usize);
                b.get(a..z).map(|_| b.slice(a..z)).ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
            }
            Source::File(f) => {
                let mut buf = vec![0; n as usize];
                f.read_exact_at(&mut buf, at).map(|()| Bytes::from(buf))
            }
        })
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.total)
    }
}

/// A boundary no file is likely to contain: per response, from the process's random hasher
/// keys, the file's validator and a counter.
pub(crate) fn boundary(etag: &[u8]) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(etag);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("pollux-{:016x}", h.finish())
}

#[cfg(test)]
// A one-element list of ranges is exactly what a single-range request parses to.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    fn sat(v: &[Range<u64>]) -> Option<Ranges> {
        Some(Ranges::Satisfiable(v.to_vec()))
    }

    #[test]
    fn single_suffix_and_open_ranges() {
        assert_eq!(parse(b"bytes=0-499", 1000), sat(&[0..500]));
        assert_eq!(parse(b"bytes=500-", 1000), sat(&[500..1000]));
        assert_eq!(parse(b"bytes=-100", 1000), sat(&[900..1000]));
        assert_eq!(parse(b"bytes=-5000", 1000), sat(&[0..1000]));
        assert_eq!(parse(b"bytes=990-5000", 1000), sat(&[990..1000]));
        assert_eq!(parse(b"Bytes = 0-0", 1000), sat(&[0..1]));
        assert_eq!(parse(b"bytes=999-999", 1000), sat(&[999..1000]));
        assert_eq!(parse(b"bytes=0-18446744073709551615", 10), sat(&[0..10]));
    }

    #[test]
    fn several_ranges_are_sorted_and_coalesced() {
        assert_eq!(parse(b"bytes=0-9, 20-29", 100), sat(&[0..10, 20..30]));
        assert_eq!(parse(b"bytes=20-29,0-9", 100), sat(&[0..10, 20..30]));
        assert_eq!(parse(b"bytes=0-9,10-19", 100), sat(&[0..20]), "adjacent");
        assert_eq!(parse(b"bytes=0-50,10-20,40-60", 100), sat(&[0..61]), "overlapping");
        assert_eq!(parse(b"bytes=0-0,0-0,0-0,0-0", 100), sat(&[0..1]));
        assert_eq!(parse(b"bytes=0-9,,-10", 100), sat(&[0..10, 90..100]));
        assert_eq!(parse(b"bytes=0-9,200-300", 100), sat(&[0..10]), "the unsatisfiable one is dropped");
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let many: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
        assert_eq!(parse(format!("bytes={}", many.join(",")).as_bytes(), 1000), None);
        let sixteen = &many[..16];
        assert!(
            matches!(parse(format!("bytes={}", sixteen.join(",")).as_bytes(), 1000), Some(Ranges::Satisfiable(v)) if v.len() == 16)
        );
        // Many that coalesce into one are fine.
        let same: Vec<&str> = vec!["0-5"; 200];
        assert_eq!(parse(format!("bytes={}", same.join(",")).as_bytes(), 1000), sat(&[0..6]));
        let flood: Vec<&str> = vec!["0-5"; 300];
        assert_eq!(parse(format!("bytes={}", flood.join(",")).as_bytes(), 1000), None);
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(parse(b"bytes=1000-", 1000), Some(Ranges::Unsatisfiable));
        assert_eq!(parse(b"bytes=1000-2000,3000-", 1000), Some(Ranges::Unsatisfiable));
        assert_eq!(parse(b"bytes=-0", 1000), Some(Ranges::Unsatisfiable));
        assert_eq!(parse(b"bytes=0-", 0), Some(Ranges::Unsatisfiable));
        assert_eq!(parse(b"bytes=-5", 0), Some(Ranges::Unsatisfiable));
    }

    #[test]
    fn invalid_syntax_is_ignored() {
        for bad in [
            &b"bytes=5-1"[..],
            b"bytes=abc",
            b"bytes=1-2-3",
            b"bytes=-",
            b"bytes=+1-2",
            b"bytes= 1 - 2",
            b"bytes=",
            b"items=0-1",
            b"0-1",
            b"bytes=0x10-",
            b"bytes=99999999999999999999-",
        ] {
            assert_eq!(parse(bad, 1000), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn drain(mut m: Multipart) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = m.next_chunk() {
            out.extend_from_slice(&c.unwrap_or_default());
        }
        out
    }

    #[test]
    fn multipart_body_is_exact_and_its_length_known() {
        let data: Bytes = (0..=255u8).cycle().take(200_000).collect::<Vec<_>>().into();
        let ranges = [0..3, 100_000..200_000];
        let m = Multipart::new(Body::Bytes(data.clone()), &ranges, 200_000, b"text/plain", "B")
            .unwrap_or_else(|e| panic!("{e}"));
        let total = m.size_hint();
        let body = drain(m);
        assert_eq!(total, Some(body.len() as u64));
        let mut want = b"--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-2/200000\r\n\r\n".to_vec();
        want.extend_from_slice(&data[..3]);
        want.extend_from_slice(
            b"\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 100000-199999/200000\r\n\r\n",
        );
        want.extend_from_slice(&data[100_000..]);
        want.extend_from_slice(b"\r\n--B--\r\n");
        assert!(body == want, "multipart body differs");
    }

    #[test]
    fn multipart_reads_files_in_bounded_chunks() {
        let path = std::env::temp_dir().join(format!("pollux-range-unit-{}", std::process::id()));
        let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        std::fs::write(&path, &data).unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(&path);
        let mut m = Multipart::new(
            Body::File { file: file.into(), offset: 0, len: 300_000 },
            &[5..250_000],
            300_000,
            b"x/y",
            "B",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        while let Some(c) = m.next_chunk() {
            let c = c.unwrap_or_else(|e| panic!("{e}"));
            assert!(c.len() as u64 <= CHUNK.max(100));
            got.extend_from_slice(&c);
        }
        let start = common_find(&got, b"\r\n\r\n") + 4;
        assert!(got[start..start + 249_995] == data[5..250_000]);
    }

    fn common_find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap_or(usize::MAX)
    }
}
