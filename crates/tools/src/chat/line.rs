//! Splitting a byte stream into lines, with a bound on a line's length.
//!
//! A line ends at `\n` (a `\r` before it is dropped, for telnet-style clients). A line longer
//! than the bound is reported once, then its bytes are discarded up to its end, so a client
//! sending an endless line costs the server at most the bound.

/// What the splitter is doing with the bytes it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Collecting a line.
    Line,
    /// The current line passed the bound and was reported: skipping to its end.
    Discarding,
}

/// A line that passed the bound; the caller tells the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line longer than {max} bytes")]
pub struct LineTooLong {
    pub max: usize,
}

/// Bytes in, lines out.
#[derive(Debug)]
pub struct LineBuffer {
    /// Bytes held; `buf[pos..]` is not split yet. Lines are taken by moving `pos`, and the
    /// buffer is compacted once per read, so a read of many short lines costs O(bytes).
    buf: Vec<u8>,
    pos: usize,
    max: usize,
    framing: Framing,
}

impl LineBuffer {
    /// A splitter for lines of at most `max` bytes (not counting the line end).
    pub fn new(max: usize) -> Self {
        LineBuffer { buf: Vec::new(), pos: 0, max, framing: Framing::Line }
    }

    /// Bytes as they were read.
    pub fn handle_bytes(&mut self, data: &[u8]) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.buf.extend_from_slice(data);
    }

    /// The next complete line (invalid UTF-8 replaced), an error for a line over the bound,
    /// or `None` until more bytes come.
    pub fn poll_line(&mut self) -> Option<Result<String, LineTooLong>> {
        loop {
            let rest = &self.buf[self.pos..];
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                return match self.framing {
                    Framing::Line if rest.len() > self.max => {
                        self.clear();
                        self.framing = Framing::Discarding;
                        Some(Err(LineTooLong { max: self.max }))
                    }
                    Framing::Line => None,
                    Framing::Discarding => {
                        self.clear();
                        None
                    }
                };
            };
            let start = self.pos;
            self.pos += end + 1;
            if self.framing == Framing::Discarding {
                // The tail of a line already reported.
                self.framing = Framing::Line;
                continue;
            }
            let mut line = &self.buf[start..start + end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.len() > self.max {
                return Some(Err(LineTooLong { max: self.max }));
            }
            return Some(Ok(String::from_utf8_lossy(line).into_owned()));
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(max: usize, chunks: &[&[u8]]) -> Vec<Result<String, LineTooLong>> {
        let mut lb = LineBuffer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            lb.handle_bytes(c);
            while let Some(l) = lb.poll_line() {
                out.push(l);
            }
        }
        out
    }

    #[test]
    fn lines_across_reads_and_crlf() {
        assert_eq!(
            lines(16, &[b"hel", b"lo\r\nwor", b"ld\n\n", b"tail"]),
            vec![Ok("hello".into()), Ok("world".into()), Ok(String::new())]
        );
    }

    #[test]
    fn a_long_line_is_reported_once_and_skipped_to_its_end() {
        let got = lines(4, &[b"abcdef", b"ghij", b"kl\nok\n"]);
        assert_eq!(got, vec![Err(LineTooLong { max: 4 }), Ok("ok".into())]);
        // Too long but complete in one read: reported, and the next line is fine.
        assert_eq!(lines(4, &[b"abcdefg\nabcd\n"]), vec![Err(LineTooLong { max: 4 }), Ok("abcd".into())]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(lines(16, &[b"a\xffb\n"]), vec![Ok("a\u{fffd}b".into())]);
    }

    #[test]
    fn many_lines_in_one_read_and_a_partial_one_kept() {
        let mut data = "x\n".repeat(10_000).into_bytes();
        data.extend_from_slice(b"par");
        let got = lines(4, &[&data, b"tial?"]);
        assert_eq!(got.len(), 10_001);
        assert_eq!(got[10_000], Err(LineTooLong { max: 4 }));
        assert_eq!(lines(8, &[&data, b"t\n"]).last(), Some(&Ok("part".to_owned())));
    }
}
