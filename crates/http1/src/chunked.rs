//! The chunked transfer coding, decoded (RFC 9112 §7.1).
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! ```
//!
//! Chunk data is split off the caller's buffer without copying. Extensions are checked
//! against the grammar (a lenient extension parser is a known smuggling vector: one hop
//! skips to the next LF, another to the next CRLF) and then ignored.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::HeaderMap;
use memchr::memchr;

use crate::fields::parse_fields;
use crate::scan::{LineScan, ScanLimits};
use crate::syntax::{is_ows, is_tchar};
use crate::{Error, Limits};

/// Longest chunk-size line we buffer, CRLF included. Sizes need at most 16 hex digits; the
/// rest would be extensions, which we ignore, so there is no point in holding more.
const MAX_CHUNK_LINE: usize = 4096;

/// Where we are in a chunked body (RFC 9112 §7.1).
#[derive(Debug)]
enum State {
    /// Expecting `chunk-size [ chunk-ext ] CRLF` (or the last-chunk).
    Size,
    /// Inside `chunk-data`, with this many octets still to come.
    Data { remaining: u64 },
    /// Expecting the CRLF that ends `chunk-data`.
    DataEnd,
    /// After the last-chunk: `trailer-section CRLF` (§7.1.2).
    Trailers(LineScan),
}

/// What one step of decoding produced.
#[derive(Debug)]
pub(crate) enum Step {
    Data(Bytes),
    End(Option<HeaderMap>),
}

/// Decodes one chunked body from the front of the caller's buffer.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Decoded body octets announced so far, for `Limits::max_body`.
    received: u64,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        ChunkedDecoder { state: State::Size, received: 0 }
    }

    /// `Ok(None)`: need more bytes. After `Step::End` the body is over and the decoder must
    /// not be called again.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Step>, Error> {
        loop {
            match &mut self.state {
                State::Size => {
                    let Some(size) = size_line(buf)? else {
                        return Ok(None);
                    };
                    if size == 0 {
                        self.state = State::Trailers(LineScan::default());
                        continue;
                    }
                    self.received = self
                        .received
                        .checked_add(size)
                        .filter(|&n| n <= limits.max_body)
                        .ok_or(Error::BodyTooLarge)?;
                    self.state = State::Data { remaining: size };
                }
                State::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::DataEnd;
                    }
                    return Ok(Some(Step::Data(buf.split_to(n).freeze())));
                }
                State::DataEnd => match buf.get(..2) {
                    Some(b"\r\n") => {
                        buf.advance(2);
                        self.state = State::Size;
                    }
                    None if buf.first().is_none_or(|&b| b == b'\r') => return Ok(None),
                    _ => return Err(Error::ChunkDataNotCrlf),
                },
                State::Trailers(scan) => {
                    let lim = ScanLimits {
                        start_line: false,
                        max_first_line: 0,
                        first_line_error: Error::TrailersTooLarge,
                        max_total: limits.max_trailer,
                        total_error: Error::TrailersTooLarge,
                    };
                    let Some(end) = scan.scan(buf, &lim)? else {
                        return Ok(None);
                    };
                    let section = buf.split_to(end).freeze();
                    if end == 2 {
                        return Ok(Some(Step::End(None)));
                    }
                    let trailers = parse_fields(&section, 0, limits.max_headers, None, None, |name, _| {
                        // RFC 9110 §6.5.1: framing and routing fields are never valid as
                        // trailers; seeing one means a confused or malicious sender.
                        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == HOST {
                            Err(Error::ForbiddenTrailer)
                        } else {
                            Ok(())
                        }
                    })?;
                    return Ok(Some(Step::End(Some(trailers))));
                }
            }
        }
    }
}

/// Takes one complete chunk-size line off `buf` and returns the size.
fn size_line(buf: &mut BytesMut) -> Result<Option<u64>, Error> {
    let window = &buf[..buf.len().min(MAX_CHUNK_LINE)];
    let Some(lf) = memchr(b'\n', window) else {
        return if buf.len() >= MAX_CHUNK_LINE { Err(Error::ChunkLineTooLong) } else { Ok(None) };
    };
    // Only CRLF ends a chunk line; a bare LF or CR never does (RFC 9112 §2.2, §7.1).
    let Some(line) = lf.checked_sub(1).filter(|&cr| window[cr] == b'\r').map(|cr| &window[..cr]) else {
        return Err(Error::BareLf);
    };
    if line.contains(&b'\r') {
        return Err(Error::BareCr);
    }
    let size = parse_size_line(line)?;
    buf.advance(lf + 1);
    Ok(Some(size))
}

/// `chunk-size [ chunk-ext ]`, CRLF excluded.
fn parse_size_line(line: &[u8]) -> Result<u64, Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Error::InvalidChunkSize);
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        };
        size =
            size.checked_mul(16).and_then(|n| n.checked_add(u64::from(d))).ok_or(Error::ChunkSizeOverflow)?;
    }
    if !is_chunk_ext(&line[digits..]) {
        return Err(Error::InvalidChunkSize);
    }
    Ok(size)
}

fn skip_ows(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| is_ows(b)) {
        i += 1;
    }
    i
}

fn skip_token(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| is_tchar(b)) {
        i += 1;
    }
    i
}

/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`: BWS is allowed around
/// `;` and `=` (RFC 9112 §7.1.1), but not at the end of the line or after a bare size.
fn is_chunk_ext(ext: &[u8]) -> bool {
    let mut i = 0;
    while i < ext.len() {
        i = skip_ows(ext, i);
        if ext.get(i) != Some(&b';') {
            return false;
        }
        i = skip_ows(ext, i + 1);
        let name_end = skip_token(ext, i);
        if name_end == i {
            return false;
        }
        i = name_end;
        let eq = skip_ows(ext, i);
        if ext.get(eq) == Some(&b'=') {
            let v = skip_ows(ext, eq + 1);
            i = if ext.get(v) == Some(&b'"') {
                match quoted_string_end(ext, v) {
                    Some(end) => end,
                    None => return false,
                }
            } else {
                let end = skip_token(ext, v);
                if end == v {
                    return false;
                }
                end
            };
        }
    }
    true
}

/// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 §5.6.4), starting at
/// the opening quote; returns the index after the closing one.
fn quoted_string_end(s: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    loop {
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                let escaped = *s.get(i + 1)?;
                if escaped != b'\t' && (escaped < 0x20 || escaped == 0x7f) {
                    return None;
                }
                i += 2;
            }
            b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => i += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole chunked body: data, trailers, and the bytes left after it.
    type Dechunked = (Vec<u8>, Option<HeaderMap>, Vec<u8>);

    fn dechunk(raw: &[u8]) -> Result<Dechunked, Error> {
        let mut buf = BytesMut::from(raw);
        let mut d = ChunkedDecoder::new();
        let mut data = Vec::new();
        loop {
            match d.decode(&mut buf, &Limits::default())? {
                Some(Step::Data(b)) => data.extend_from_slice(&b),
                Some(Step::End(t)) => return Ok((data, t, buf.to_vec())),
                None => return Err(Error::InvalidChunkSize), // incomplete: not expected here
            }
        }
    }

    fn body(raw: &[u8]) -> Vec<u8> {
        dechunk(raw).map(|(d, _, _)| d).unwrap_or_else(|e| panic!("{raw:?}: {e:?}"))
    }

    #[test]
    fn plain_chunks() {
        assert_eq!(body(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), b"hello world");
        assert_eq!(body(b"0005\r\nhello\r\n000\r\n\r\n"), b"hello");
        assert_eq!(body(b"A\r\n0123456789\r\n0\r\n\r\n").len(), 10);
    }

    #[test]
    fn extensions_are_checked_then_ignored() {
        for line in [
            &b"5;a=b"[..],
            b"5 ; a = b",
            b"5;a",
            b"5\t;\ta\t=\tb",
            b"5;a=\"quoted value; with \\\" stuff\"",
            b"5;a=b;c;d=\"e\"",
            b"5 ;ilovew3;somuchlove=aretheseparametersfor",
        ] {
            let raw = [line, b"\r\nhello\r\n0;last=1\r\n\r\n"].concat();
            assert_eq!(body(&raw), b"hello", "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn malformed_size_lines() {
        for (line, err) in [
            (&b"-5"[..], Error::InvalidChunkSize),
            (b"+5", Error::InvalidChunkSize),
            (b"0x5", Error::InvalidChunkSize),
            (b"6_0", Error::InvalidChunkSize),
            (b"5 ", Error::InvalidChunkSize),
            (b"5   \t ", Error::InvalidChunkSize),
            (b" 5", Error::InvalidChunkSize),
            (b"", Error::InvalidChunkSize),
            (b"z", Error::InvalidChunkSize),
            (b"1x", Error::InvalidChunkSize),
            (b"5;", Error::InvalidChunkSize),
            (b"5;a ", Error::InvalidChunkSize),
            (b"5;a=", Error::InvalidChunkSize),
            (b"5 erfrferferf", Error::InvalidChunkSize),
            (b"5;a=\"open", Error::InvalidChunkSize),
            (b"10\x00", Error::InvalidChunkSize),
            (b"5;a=b\rc", Error::BareCr),
            (b"fffffffffffffffff", Error::ChunkSizeOverflow),
        ] {
            let raw = [line, b"\r\nhello\r\n0\r\n\r\n"].concat();
            assert_eq!(dechunk(&raw).err(), Some(err), "{:?}", String::from_utf8_lossy(line));
        }
        let nines = [&[b'9'; 100][..], b"\r\n"].concat();
        assert_eq!(dechunk(&nines).err(), Some(Error::ChunkSizeOverflow));
        assert_eq!(dechunk(b"5\nhello\r\n0\r\n\r\n").err(), Some(Error::BareLf));
        assert_eq!(dechunk(&[b'1'; 5000]).err(), Some(Error::ChunkLineTooLong));
    }

    #[test]
    fn chunk_data_must_end_with_crlf() {
        for raw in [
            &b"5\r\nhello__0\r\n\r\n"[..],
            b"5\r\nhello\r_0\r\n\r\n",
            b"5\r\nhello_\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
        ] {
            assert_eq!(dechunk(raw).err(), Some(Error::ChunkDataNotCrlf), "{raw:?}");
        }
    }

    #[test]
    fn trailers() {
        let (data, t, rest) =
            dechunk(b"5\r\nhello\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\n\r\nNEXT").expect("ok");
        assert_eq!(data, b"hello");
        let t = t.expect("trailers");
        assert_eq!(t["vary"], "*");
        assert_eq!(t["content-type"], "text/plain");
        assert_eq!(rest, b"NEXT");
        let (_, t, _) = dechunk(b"0\r\nX:POST / HTTP/1.1\r\n\r\n").expect("ok");
        assert_eq!(t.expect("trailers")["x"], "POST / HTTP/1.1");
        for forbidden in ["Content-Length: 5", "Transfer-Encoding: chunked", "Host: a"] {
            let raw = format!("0\r\n{forbidden}\r\n\r\n");
            assert_eq!(dechunk(raw.as_bytes()).err(), Some(Error::ForbiddenTrailer));
        }
        assert_eq!(dechunk(b"0\r\nA: b\n\r\n").err(), Some(Error::BareLf));
        assert_eq!(dechunk(b"0\r\n\n").err(), Some(Error::BareLf));
        let big = format!("0\r\nA: {}\r\n\r\n", "x".repeat(9000));
        assert_eq!(dechunk(big.as_bytes()).err(), Some(Error::TrailersTooLarge));
    }

    #[test]
    fn body_limit_is_cumulative() {
        let limits = Limits { max_body: 8, ..Limits::default() };
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"5\r\nhello\r\n4\r\nmore\r\n0\r\n\r\n"[..]);
        assert!(matches!(d.decode(&mut buf, &limits), Ok(Some(Step::Data(_)))));
        assert_eq!(d.decode(&mut buf, &limits).err(), Some(Error::BodyTooLarge));
    }
}
