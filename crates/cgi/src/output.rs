//! Reading a script's output (RFC 3875 §6): the header block, then the body, with no I/O.
//!
//! ```text
//!   child stdout ──bytes──► OutputParser::handle_bytes ──► Ok(None)        need more
//!                                  │  (any split: byte by byte works) ─► Ok(Some(Head))
//!                                  │                                     response + first body bytes
//!   child closed stdout ──► handle_eof ──► Err(NoOutput / UnexpectedEof) if still in the head
//! ```
//!
//! The caller reads the pipe whenever it is readable and passes what it got; the parser keeps
//! only the current, incomplete line (finished lines are parsed at once, so errors show as
//! early as they can and nothing is scanned twice). Lines end in LF or CRLF (§6.3: scripts
//! are often careless, and `print` writes LF); the first empty line ends the block. Whatever
//! follows it in the same read is the start of the body, returned in [`Head::body_start`];
//! after that the parser is done and the caller forwards the rest of the pipe itself.
//!
//! Failure is sticky: once an error is returned, every later call returns it again.
//!
//! Non-parsed-header scripts (`nph-*`, RFC 3875 §5) write the whole HTTP response
//! themselves: [`is_nph`] says when to skip this parser.

use std::mem;

use crate::error::OutputError;
pub use crate::limits::{MAX_FIELDS, MAX_HEAD};
use crate::response::{CgiResponse, Fields};

/// The parsed header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// What the script answered.
    pub response: CgiResponse,
    /// Bytes read after the blank line: the beginning of the body (possibly empty). Discard
    /// them for a [`CgiResponse::LocalRedirect`].
    pub body_start: Vec<u8>,
}

/// Where the parser is.
#[derive(Debug)]
enum Reading {
    /// In the header block (§6.3), with the fields so far.
    Header(Fields),
    /// The head has been returned.
    Done,
    /// An error has been returned; it is returned again.
    Failed(OutputError),
}

/// An incremental parser of a CGI script's output; see the [module docs](self).
///
/// ```
/// use pollux_cgi::{CgiResponse, OutputParser};
///
/// let mut parser = OutputParser::new();
/// assert_eq!(parser.handle_bytes(b"Status: 404 Not Found\r\nContent-Ty"), Ok(None));
/// let head = parser.handle_bytes(b"pe: text/plain\r\n\r\nno such page\n").unwrap().unwrap();
/// let CgiResponse::Response(resp) = head.response else { panic!("a document") };
/// assert_eq!(resp.status, 404);
/// assert_eq!(head.body_start, b"no such page\n");
/// ```
#[derive(Debug)]
pub struct OutputParser {
    reading: Reading,
    /// The current line, when it did not end in the bytes it started in.
    line: Vec<u8>,
    /// Bytes of the header block so far, for [`MAX_HEAD`].
    seen: usize,
}

impl Default for OutputParser {
    fn default() -> Self {
        Self::new()
    }
}

impl OutputParser {
    /// A parser at the start of a script's output.
    pub fn new() -> Self {
        OutputParser { reading: Reading::Header(Fields::default()), line: Vec::new(), seen: 0 }
    }

    /// Takes the next bytes of output. `Ok(None)`: the header block is not complete yet.
    /// `Ok(Some(head))` once; feeding more afterwards is [`OutputError::Finished`].
    pub fn handle_bytes(&mut self, bytes: &[u8]) -> Result<Option<Head>, OutputError> {
        let result = self.advance(bytes);
        match &result {
            Ok(Some(_)) => self.reading = Reading::Done,
            Err(e) if !matches!(self.reading, Reading::Done) => self.reading = Reading::Failed(e.clone()),
            _ => {}
        }
        result
    }

    /// The script closed its stdout. An error if that happened before the end of the header
    /// block; `Ok(())` after it (the body simply ends).
    pub fn handle_eof(&mut self) -> Result<(), OutputError> {
        let error = match &self.reading {
            Reading::Done => return Ok(()),
            Reading::Failed(e) => return Err(e.clone()),
            Reading::Header(_) if self.seen == 0 => OutputError::NoOutput,
            Reading::Header(_) => OutputError::UnexpectedEof,
        };
        self.reading = Reading::Failed(error.clone());
        Err(error)
    }

    fn advance(&mut self, mut bytes: &[u8]) -> Result<Option<Head>, OutputError> {
        let fields = match &mut self.reading {
            Reading::Header(fields) => fields,
            Reading::Done => return Err(OutputError::Finished),
            Reading::Failed(e) => return Err(e.clone()),
        };
        while let Some(lf) = bytes.iter().position(|&b| b == b'\n') {
            let (piece, rest) = bytes.split_at(lf);
            let rest = rest.get(1..).unwrap_or_default();
            self.seen += lf + 1;
            if self.seen > MAX_HEAD {
                return Err(OutputError::HeadTooLarge);
            }
            let line: &[u8] = if self.line.is_empty() {
                piece
            } else {
                self.line.extend_from_slice(piece);
                &self.line
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                let response = mem::take(fields).finish()?;
                return Ok(Some(Head { response, body_start: rest.to_vec() }));
            }
            fields.line(line)?;
            self.line.clear();
            bytes = rest;
        }
        // Checked before buffering, so we never hold more than the limit.
        self.seen += bytes.len();
        if self.seen > MAX_HEAD {
            return Err(OutputError::HeadTooLarge);
        }
        self.line.extend_from_slice(bytes);
        Ok(None)
    }
}

/// The whole output at once (tests, tools, or a script run to completion): the head, with
/// the entire body in [`Head::body_start`].
pub fn parse_output(output: &[u8]) -> Result<Head, OutputError> {
    let mut parser = OutputParser::new();
    match parser.handle_bytes(output)? {
        Some(head) => Ok(head),
        None => Err(parser.handle_eof().err().unwrap_or(OutputError::UnexpectedEof)),
    }
}

/// Whether the script at `script_name` (a URL path or a file path) is a non-parsed-header
/// script: its last segment starts with `nph-` (RFC 3875 §5, case-sensitive as Apache has
/// it). Its output is the complete HTTP response, status line included, and goes to the
/// client unparsed. (The server can then know neither the framing nor whether the script
/// kept the connection usable, so it must close the connection after it.)
pub fn is_nph(script_name: &str) -> bool {
    script_name.rsplit('/').next().is_some_and(|name| name.starts_with("nph-"))
}

#[cfg(test)]
mod tests {
    use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
    use http::StatusCode;
    use proptest::prelude::*;

    use super::*;
    use crate::{Response, ResponseKind};

    const SAMPLE: &[u8] = b"Content-Type: text/html; charset=utf-8\r\n\
        Status: 201 Created\r\n\
        Set-Cookie: a=1\r\n\
        Set-Cookie: b=2\r\n\
        Connection: close\r\n\
        X-Powered-By: pollux-test\r\n\
        \r\n\
        <p>hello</p>\n";

    fn document(head: &Head) -> &Response {
        match &head.response {
            CgiResponse::Response(r) => r,
            CgiResponse::LocalRedirect(_) => panic!("a local redirect: {head:?}"),
        }
    }

    /// Feeds `chunks` in order and returns the head (or error), then the body as the caller
    /// would have assembled it: `body_start` plus whatever it got after the head.
    fn feed(chunks: &[&[u8]]) -> Result<(Head, Vec<u8>), OutputError> {
        let mut parser = OutputParser::new();
        let mut head = None;
        let mut body = Vec::new();
        for chunk in chunks {
            match &head {
                None => head = parser.handle_bytes(chunk)?,
                Some(_) => body.extend_from_slice(chunk),
            }
        }
        let Some(mut head) = head else {
            parser.handle_eof()?;
            unreachable!("handle_eof in the head is an error");
        };
        let body = [mem::take(&mut head.body_start), body].concat();
        Ok((head, body))
    }

    #[test]
    fn the_sample_parses() {
        let head = parse_output(SAMPLE).expect("valid output");
        let r = document(&head);
        assert_eq!(
            (r.kind, r.status, r.reason.as_deref()),
            (ResponseKind::Document, StatusCode::CREATED, Some("Created"))
        );
        assert_eq!(r.headers[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(r.headers.get_all(SET_COOKIE).iter().count(), 2);
        assert_eq!(r.headers["x-powered-by"], "pollux-test");
        assert!(!r.headers.contains_key("connection"));
        assert_eq!(head.body_start, b"<p>hello</p>\n");
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let whole = feed(&[SAMPLE]).expect("valid output");
        for i in 0..=SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(i);
            assert_eq!(feed(&[a, b]).as_ref(), Ok(&whole), "split at {i}");
            for j in i..=SAMPLE.len() {
                let (b, c) = SAMPLE.split_at(j);
                assert_eq!(feed(&[a, &b[i..], c]).as_ref(), Ok(&whole), "split at {i} and {j}");
            }
        }
        let bytes: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(feed(&bytes), Ok(whole));
    }

    #[test]
    fn byte_by_byte_reports_the_head_exactly_at_the_blank_line() {
        let mut parser = OutputParser::new();
        let end = SAMPLE.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4).unwrap_or_default();
        for (i, b) in SAMPLE.iter().enumerate() {
            let got = parser.handle_bytes(std::slice::from_ref(b)).expect("valid output");
            assert_eq!(got.is_some(), i + 1 == end, "byte {i}");
            if got.is_some() {
                break;
            }
        }
        assert_eq!(parser.handle_eof(), Ok(()));
    }

    #[test]
    fn lf_crlf_and_mixed_line_endings() {
        let crlf = parse_output(b"Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody").expect("crlf");
        let lf = parse_output(b"Content-Type: text/plain\nX-A: 1\n\nbody").expect("lf");
        let mixed = parse_output(b"Content-Type: text/plain\r\nX-A: 1\n\r\nbody").expect("mixed");
        assert_eq!(crlf, lf);
        assert_eq!(crlf, mixed);
        assert_eq!(lf.body_start, b"body");
        // The body is not ours: its line endings are left alone.
        assert_eq!(parse_output(b"Status: 200\n\n\r\n\n").map(|h| h.body_start), Ok(b"\r\n\n".to_vec()));
        // A CR that does not end a line is a CTL in a value.
        assert!(matches!(parse_output(b"X-A: 1\rX-B: 2\n\n"), Err(OutputError::InvalidFieldValue(_))));
    }

    #[test]
    fn local_and_client_redirects() {
        let head = parse_output(b"Location: /index.html?from=cgi\n\nignored").expect("local");
        assert_eq!(head.response, CgiResponse::LocalRedirect("/index.html?from=cgi".parse().expect("pq")));
        let head = parse_output(b"Location: http://example.com/\n\n").expect("client");
        let r = document(&head);
        assert_eq!((r.kind, r.status), (ResponseKind::ClientRedirect, StatusCode::FOUND));
        assert_eq!(r.headers[LOCATION], "http://example.com/");
        let head = parse_output(b"Status: 307\nLocation: http://example.com/\n\n").expect("client");
        assert_eq!(document(&head).status, StatusCode::TEMPORARY_REDIRECT);
    }

    #[test]
    fn no_output_and_eof_in_the_head() {
        assert_eq!(parse_output(b""), Err(OutputError::NoOutput));
        assert_eq!(parse_output(b"Content-Type: text/plain\r\n"), Err(OutputError::UnexpectedEof));
        assert_eq!(parse_output(b"Content-Type: text/plain\r\n\r"), Err(OutputError::UnexpectedEof));
        assert_eq!(parse_output(b"Content-Type: text/plain"), Err(OutputError::UnexpectedEof));
        // A bare LF is an empty header block: no Content-Type, Location or Status.
        assert_eq!(parse_output(b"\n<html>"), Err(OutputError::NoResponseFields));
    }

    #[test]
    fn a_header_block_up_to_the_limit_is_accepted() {
        // One field line padded so that the block, blank line included, is exactly MAX_HEAD.
        let prefix = b"Content-Type: text/plain\nX-Pad: ";
        let pad = MAX_HEAD - prefix.len() - 2;
        let mut out = prefix.to_vec();
        out.resize(prefix.len() + pad, b'a');
        out.extend_from_slice(b"\n\n");
        assert_eq!(out.len(), MAX_HEAD);
        assert!(parse_output(&out).is_ok());
        // One byte more is too large, however it arrives.
        out.insert(prefix.len(), b'a');
        assert_eq!(parse_output(&out), Err(OutputError::HeadTooLarge));
        let bytes: Vec<&[u8]> = out.chunks(1000).collect();
        assert_eq!(feed(&bytes), Err(OutputError::HeadTooLarge));
    }

    #[test]
    fn an_endless_header_is_refused_before_eof() {
        let mut parser = OutputParser::new();
        let chunk = [b'a'; 4096];
        let mut fed = 0;
        let err = loop {
            match parser.handle_bytes(&chunk) {
                Ok(None) => fed += chunk.len(),
                Ok(Some(_)) => panic!("no blank line was sent"),
                Err(e) => break e,
            }
        };
        assert_eq!(err, OutputError::HeadTooLarge);
        assert!(fed <= MAX_HEAD);
        assert!(parser.line.len() <= MAX_HEAD);
        // Many short lines count too.
        let lines = b"X-A: 1\n".repeat(MAX_HEAD / 7 + 1);
        assert!(matches!(parse_output(&lines), Err(OutputError::TooManyFields | OutputError::HeadTooLarge)));
    }

    #[test]
    fn too_many_fields() {
        let mut out = b"Status: 200\n".to_vec();
        out.extend(b"X-A: 1\n".repeat(MAX_FIELDS - 1));
        out.push(b'\n');
        assert!(parse_output(&out).is_ok());
        out.pop();
        out.extend(b"X-A: 1\n\n");
        assert_eq!(parse_output(&out), Err(OutputError::TooManyFields));
    }

    #[test]
    fn errors_are_sticky_and_the_head_comes_once() {
        let mut parser = OutputParser::new();
        let failed = OutputError::MissingColon("no colon".into());
        assert_eq!(parser.handle_bytes(b"no colon\n"), Err(failed.clone()));
        assert_eq!(parser.handle_bytes(b"Status: 200\n\n"), Err(failed.clone()));
        assert_eq!(parser.handle_eof(), Err(failed));

        let mut parser = OutputParser::new();
        assert!(matches!(parser.handle_bytes(b"Status: 200\n\nbody"), Ok(Some(_))));
        assert_eq!(parser.handle_bytes(b"more body"), Err(OutputError::Finished));
        // Misuse does not poison the parser: EOF is still the clean end of the body.
        assert_eq!(parser.handle_eof(), Ok(()));

        let mut parser = OutputParser::new();
        assert_eq!(parser.handle_bytes(b"Status: 2"), Ok(None));
        assert_eq!(parser.handle_eof(), Err(OutputError::UnexpectedEof));
        assert_eq!(parser.handle_bytes(b"00\n\n"), Err(OutputError::UnexpectedEof));
    }

    #[test]
    fn status_lines_in_context() {
        let status = |out: &[u8]| parse_output(out).map(|h| document(&h).status.as_u16());
        assert_eq!(status(b"Status: 404 Not Found\n\n"), Ok(404));
        assert_eq!(status(b"Status:500\n\n"), Ok(500));
        assert_eq!(status(b"Status: 100 Continue\n\n"), Err(OutputError::InterimStatus(100)));
        assert_eq!(status(b"Status: 4040\n\n"), Err(OutputError::InvalidStatus));
        assert_eq!(status(b"Status: OK\n\n"), Err(OutputError::InvalidStatus));
    }

    #[test]
    fn nph_names() {
        assert!(is_nph("/cgi-bin/nph-status"));
        assert!(is_nph("nph-x.py"));
        assert!(is_nph("/srv/cgi/nph-x"));
        assert!(!is_nph("/cgi-bin/nph-dir/script.py"));
        assert!(!is_nph("/cgi-bin/NPH-x"));
        assert!(!is_nph("/cgi-bin/x-nph-y"));
        assert!(!is_nph("/cgi-bin/"));
        assert!(!is_nph(""));
    }

    /// Output that is mostly well-formed, with noise, so the fuzzing reaches the field logic.
    fn plausible_output() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            Just(b"Content-Type: text/html".to_vec()),
            Just(b"Location: /x?y".to_vec()),
            Just(b"Location: http://h/".to_vec()),
            Just(b"Content-Length: 5".to_vec()),
            Just(b"Connection: close".to_vec()),
            "Status: [0-9]{0,4}( [ -~]{0,8})?".prop_map(String::into_bytes),
            "[ -~]{0,12}: ?[ -~]{0,12}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..16),
        ];
        let ending = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]), Just(&b""[..])];
        (proptest::collection::vec((line, ending), 0..12), proptest::collection::vec(any::<u8>(), 0..32))
            .prop_map(|(lines, tail)| {
                let mut out = Vec::new();
                for (line, end) in lines {
                    out.extend_from_slice(&line);
                    out.extend_from_slice(end);
                }
                out.extend_from_slice(&tail);
                out
            })
    }

    proptest! {
        #[test]
        fn random_output_never_panics(out in proptest::collection::vec(any::<u8>(), 0..2048), cut in any::<prop::sample::Index>()) {
            let whole = parse_output(&out);
            let (a, b) = out.split_at(cut.index(out.len() + 1));
            let split = feed(&[a, b]).map(|(h, _)| h.response);
            prop_assert_eq!(whole.map(|h| h.response), split);
        }

        #[test]
        fn plausible_output_never_panics_and_splits_agree(out in plausible_output(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4)) {
            let whole = feed(&[&out]);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(out.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in points {
                chunks.push(&out[start..p]);
                start = p;
            }
            chunks.push(&out[start..]);
            prop_assert_eq!(feed(&chunks), whole);
        }
    }
}
