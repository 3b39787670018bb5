//! Finding where a head (or a trailer section) ends, before anything is parsed.
//!
//! httparse accepts a bare LF as a line terminator, which RFC 9112 §2.2 allows but which is
//! the root of many request-smuggling tricks (one hop splits lines on LF, the next on CRLF).
//! So before handing a head to httparse we walk its line breaks ourselves with `memchr2`:
//! every CR must be followed by LF, every LF preceded by CR, and no field line may start with
//! whitespace (obs-fold, RFC 9112 §5.2). The walk also enforces the size limits *while the
//! head is incomplete*, so an endless head is refused at the limit instead of buffered.
//!
//! The scan resumes where it stopped: nothing is consumed from the caller's buffer until the
//! whole head is there, so offsets stay valid between calls and a head dribbled in one byte
//! at a time is still scanned once (no quadratic rescans).

use memchr::memchr2;

use crate::Error;

/// How far the scan may go, and what to report when it would go further.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanLimits {
    /// Whether the first line is a start-line (request-line), not a field line.
    pub(crate) start_line: bool,
    /// Longest first line, CRLF excluded (only with `start_line`).
    pub(crate) max_first_line: usize,
    /// Error when the first line is longer than `max_first_line`.
    pub(crate) first_line_error: Error,
    /// Largest section, final CRLF included.
    pub(crate) max_total: usize,
    /// Error when the section is larger than `max_total`.
    pub(crate) total_error: Error,
}

/// A resumable scan over one head or trailer section at the start of a buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineScan {
    /// Next byte to examine.
    pos: usize,
    /// Where the current line starts.
    line_start: usize,
    /// End of the start-line (index of its CR), once seen.
    first_line_end: Option<usize>,
}

impl LineScan {
    /// Whether any byte of the section has been examined yet.
    pub(crate) fn started(&self) -> bool {
        self.pos > 0
    }

    /// End of the start-line (index of its CR), once the scan has passed it.
    pub(crate) fn first_line_end(&self) -> Option<usize> {
        self.first_line_end
    }

    /// Scans `buf`, which starts with the section. `Ok(Some(n))`: the section is the first
    /// `n` bytes, final empty line included. `Ok(None)`: need more bytes.
    pub(crate) fn scan(&mut self, buf: &[u8], lim: &ScanLimits) -> Result<Option<usize>, Error> {
        loop {
            let in_first_line = lim.start_line && self.first_line_end.is_none();
            // The first line may hold at most `max_first_line` bytes and then its CRLF.
            let first_line_limit = lim.max_first_line.saturating_add(2);
            let (limit, limit_error) = if in_first_line && first_line_limit < lim.max_total {
                (first_line_limit, lim.first_line_error)
            } else {
                (lim.max_total, lim.total_error)
            };
            let window_end = buf.len().min(limit);
            let Some(off) = buf.get(self.pos..window_end).and_then(|w| memchr2(b'\r', b'\n', w)) else {
                self.pos = window_end.max(self.pos);
                return if buf.len() >= limit { Err(limit_error) } else { Ok(None) };
            };
            let cr = self.pos + off;
            if buf[cr] == b'\n' {
                return Err(Error::BareLf);
            }
            match buf.get(cr + 1) {
                _ if cr + 1 >= limit => return Err(limit_error),
                None => {
                    // The CR is the last byte so far: its LF may still come.
                    self.pos = cr;
                    return Ok(None);
                }
                Some(b'\n') => {}
                Some(_) => return Err(Error::BareCr),
            }
            let is_first_line = lim.start_line && self.first_line_end.is_none();
            if cr == self.line_start && !is_first_line {
                return Ok(Some(cr + 2));
            }
            if is_first_line {
                self.first_line_end = Some(cr);
            } else if matches!(buf[self.line_start], b' ' | b'\t') {
                // RFC 9112 §5.2 lets us reject obs-fold with 400 instead of unfolding; a
                // whitespace-preceded first field line (§2.2) is refused the same way.
                return Err(Error::ObsFold);
            }
            self.pos = cr + 2;
            self.line_start = cr + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: ScanLimits = ScanLimits {
        start_line: true,
        max_first_line: 30,
        first_line_error: Error::TargetTooLong,
        max_total: 100,
        total_error: Error::HeadTooLarge,
    };

    fn scan_all(buf: &[u8], lim: &ScanLimits) -> Result<Option<usize>, Error> {
        LineScan::default().scan(buf, lim)
    }

    fn scan_bytewise(buf: &[u8], lim: &ScanLimits) -> Result<Option<usize>, Error> {
        let mut s = LineScan::default();
        for n in 1..=buf.len() {
            if let Some(end) = s.scan(&buf[..n], lim)? {
                return Ok(Some(end));
            }
        }
        Ok(None)
    }

    #[test]
    fn finds_the_end_of_a_head_in_one_go_or_byte_by_byte() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
        assert_eq!(scan_all(head, &HEAD), Ok(Some(27)));
        assert_eq!(scan_bytewise(head, &HEAD), Ok(Some(27)));
        assert_eq!(scan_all(b"GET / HTTP/1.0\r\n\r\n", &HEAD), Ok(Some(18)));
    }

    #[test]
    fn incomplete_is_not_invalid() {
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r", &HEAD), Ok(None));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r", &HEAD), Ok(None));
        assert_eq!(scan_all(b"", &HEAD), Ok(None));
    }

    #[test]
    fn bare_lf_and_bare_cr_are_refused() {
        assert_eq!(scan_all(b"GET / HTTP/1.1\nHost: a\r\n\r\n", &HEAD), Err(Error::BareLf));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nA: b\n\r\n", &HEAD), Err(Error::BareLf));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", &HEAD), Err(Error::BareCr));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nA: b\r\n\rZ", &HEAD), Err(Error::BareCr));
    }

    #[test]
    fn obs_fold_and_whitespace_preceded_lines_are_refused() {
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", &HEAD), Err(Error::ObsFold));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\n\tA: b\r\n\r\n", &HEAD), Err(Error::ObsFold));
    }

    #[test]
    fn limits_apply_before_the_head_is_complete() {
        let long_line = [b'a'; 40];
        assert_eq!(scan_all(&long_line, &HEAD), Err(Error::TargetTooLong));
        assert_eq!(scan_bytewise(&long_line, &HEAD), Err(Error::TargetTooLong));
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend_from_slice(&[b'x'; 200]);
        assert_eq!(scan_all(&big, &HEAD), Err(Error::HeadTooLarge));
        assert_eq!(scan_bytewise(&big, &HEAD), Err(Error::HeadTooLarge));
    }

    #[test]
    fn a_head_of_exactly_the_limit_fits() {
        let mut head = b"GET / HTTP/1.1\r\nA: ".to_vec();
        head.resize(96, b'x');
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head.len(), 100);
        assert_eq!(scan_all(&head, &HEAD), Ok(Some(100)));
        head.insert(20, b'x');
        assert_eq!(scan_all(&head, &HEAD), Err(Error::HeadTooLarge));
    }

    #[test]
    fn trailer_sections_have_no_start_line() {
        let lim = ScanLimits {
            start_line: false,
            max_first_line: 0,
            first_line_error: Error::TrailersTooLarge,
            max_total: 50,
            total_error: Error::TrailersTooLarge,
        };
        assert_eq!(scan_all(b"\r\nNEXT", &lim), Ok(Some(2)));
        assert_eq!(scan_all(b"A: b\r\n\r\n", &lim), Ok(Some(8)));
        assert_eq!(scan_all(b" A: b\r\n\r\n", &lim), Err(Error::ObsFold));
        assert_eq!(scan_all(&[b'a'; 60], &lim), Err(Error::TrailersTooLarge));
    }
}
