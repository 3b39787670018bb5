//! Request decoding: a state machine over the caller's buffer that yields one event at a time.
//!
//! ```text
//!            ┌──────────── Event::End ◄──────────────┐
//!            ▼                                       │
//!   Reading::Head ──Event::Head──► Length / Chunked ─┴─ Event::Data*
//!       │  (Empty body: straight to Reading::End)
//!       └─ any error ─► Reading::Failed (sticky)
//! ```
//!
//! The decoder never copies body bytes: a head is split off the buffer once complete and its
//! parts are slices of that `Bytes`; body pieces are `split_to(n).freeze()`. Nothing is
//! consumed until it can be returned, except the empty lines that may precede a request-line.

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

use crate::chunked::{ChunkedDecoder, Step};
use crate::fields::parse_head;
use crate::names::NameCache;
use crate::scan::{LineScan, ScanLimits};
use crate::{BodyKind, Error, Limits, RequestHead};

/// A request-line may exceed `max_target` by this much (method, spaces, version) before we
/// call it too long while it is still incomplete.
const REQUEST_LINE_SLACK: usize = 256;

/// What the decoder found in the buffer.
#[derive(Debug)]
pub enum Event {
    /// A complete, validated request head.
    Head(RequestHead),
    /// A piece of the (decoded) body, split off the caller's buffer without copying.
    Data(Bytes),
    /// The message is complete; chunked trailers, if any.
    End(Option<HeaderMap>),
}

/// Where we are in the stream of pipelined messages (RFC 9112 §6).
#[derive(Debug)]
enum Reading {
    /// Waiting for a complete head; the scan remembers how far it has looked.
    Head(LineScan),
    /// A Content-Length body (§6.2) with this many octets still to come.
    Length(u64),
    /// A chunked body (§7.1).
    Chunked(ChunkedDecoder),
    /// The body is complete; `Event::End` comes next.
    End,
    /// The peer broke the protocol; we no longer know where messages start.
    Failed(Error),
}

/// Decodes a stream of pipelined requests.
///
/// Call [`decode`](Self::decode) until it returns `Ok(None)`, then read more bytes into the
/// same buffer and call it again. Each request yields `Head`, zero or more `Data`, then
/// exactly one `End`. After an error the decoder keeps returning that error: answer with
/// [`Error::status`] and close.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    state: Reading,
    /// A cleared map handed back by the caller, reused for the next head so that steady-state
    /// decoding allocates no header map.
    spare: Option<HeaderMap>,
    /// Field names built before, so that custom names are not allocated per request.
    names: NameCache,
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            state: Reading::Head(LineScan::default()),
            spare: None,
            names: NameCache::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Consumes what it can from `buf`. `Ok(None)`: need more bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        let result = self.step(buf);
        if let Err(e) = result {
            self.state = Reading::Failed(e);
        }
        result
    }

    /// Back to the start of a stream (for a pooled decoder taken up by another connection),
    /// keeping the recycled header map.
    pub fn reset(&mut self) {
        self.state = Reading::Head(LineScan::default());
    }

    /// Gives a header map back for reuse (typically the response's, once encoded): the next
    /// head is parsed into it, keeping its allocation. Oversized maps are dropped.
    pub fn recycle_headers(&mut self, mut map: HeaderMap) {
        if map.capacity() <= 64 {
            // `clear` resets every index slot even when there is nothing to clear; a map
            // handed back empty (a prepared response's, fresh from the pool) is clean already.
            if !map.is_empty() {
                map.clear();
            }
            self.spare = Some(map);
        }
    }

    /// True between messages: no byte of the next message consumed yet.
    ///
    /// Empty lines before a request-line do not count (RFC 9112 §2.2 says to ignore them).
    /// Once `decode` has looked at the start of a head it is no longer idle, even though
    /// the head stays in the caller's buffer until it is complete.
    pub fn is_idle(&self) -> bool {
        matches!(&self.state, Reading::Head(scan) if !scan.started())
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        match &mut self.state {
            Reading::Failed(e) => Err(*e),
            Reading::Head(scan) => {
                if buf.is_empty() {
                    // The common call between keep-alive requests: nothing to scan, and the
                    // scan's setup is a fifth of a small head's scanning cost.
                    return Ok(None);
                }
                if !scan.started() {
                    // RFC 9112 §2.2: SHOULD ignore at least one empty line before a request.
                    while buf.starts_with(b"\r\n") {
                        buf.advance(2);
                    }
                }
                let lim = ScanLimits {
                    start_line: true,
                    max_first_line: self.limits.max_target.saturating_add(REQUEST_LINE_SLACK),
                    first_line_error: Error::TargetTooLong,
                    max_total: self.limits.max_head,
                    total_error: Error::HeadTooLarge,
                };
                let Some(end) = scan.scan(buf, &lim)? else {
                    return Ok(None);
                };
                let line_end = scan.first_line_end().ok_or(Error::InvalidRequestLine)?;
                let head = parse_head(
                    buf.split_to(end).freeze(),
                    line_end,
                    &self.limits,
                    self.spare.take(),
                    Some(&mut self.names),
                )?;
                self.state = match head.body {
                    BodyKind::Empty => Reading::End,
                    BodyKind::Length(n) => Reading::Length(n),
                    BodyKind::Chunked => Reading::Chunked(ChunkedDecoder::new()),
                };
                Ok(Some(Event::Head(head)))
            }
            Reading::Length(remaining) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = Reading::End;
                }
                Ok(Some(Event::Data(buf.split_to(n).freeze())))
            }
            Reading::Chunked(body) => match body.decode(buf, &self.limits)? {
                None => Ok(None),
                Some(Step::Data(data)) => Ok(Some(Event::Data(data))),
                Some(Step::End(trailers)) => {
                    self.state = Reading::Head(LineScan::default());
                    Ok(Some(Event::End(trailers)))
                }
            },
            Reading::End => {
                self.state = Reading::Head(LineScan::default());
                Ok(Some(Event::End(None)))
            }
        }
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
