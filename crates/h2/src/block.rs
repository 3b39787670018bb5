//! Field blocks (RFC 9113 §4.3): a HEADERS frame and the CONTINUATION frames that must follow
//! it with nothing in between, joined, bounded (`max_header_block`, `max_continuations`),
//! always decoded (HPACK's table must stay in step with the peer's, whatever we do with the
//! fields) and then turned into a new stream's request, a live stream's trailers, or a
//! stream error.

use bytes::Bytes;

use crate::connection::Connection;
use crate::error::{ConnError, ErrorCode};
use crate::event::Event;
use crate::flood::Kind as Flood;
use crate::frame::{self, flag, Head};
use crate::headers::{Block, Refusal};
use crate::pending::{PendingBlock, Purpose};
use crate::stream::{Closed, Lookup, State, Stream};

impl Connection {
    /// §6.2: starts a field block and decides, from the stream's state, what it is for.
    pub(crate) fn on_headers(&mut self, head: Head, payload: Bytes, now: u64) -> Result<(), ConnError> {
        let id = head.stream;
        if id == 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "HEADERS on stream 0"));
        }
        let (body, priority) = self.conn_violation(frame::headers(head.flags, &payload))?;
        let end_stream = head.has(flag::END_STREAM);
        // §5.3.1: a stream cannot depend on itself (a stream error).
        let self_dependent = priority.is_some_and(|p| p.dependency == id);
        let purpose = match self.streams.lookup(id) {
            Lookup::Live(i) => {
                if !self.streams.get(i).state.remote_open() {
                    Purpose::Reject(ErrorCode::StreamClosed)
                } else if !end_stream {
                    // §8.1: a second HEADERS is trailers and must end the stream.
                    Purpose::Reject(ErrorCode::ProtocolError)
                } else if self_dependent {
                    Purpose::Reject(ErrorCode::ProtocolError)
                } else {
                    Purpose::Trailers
                }
            }
            Lookup::Idle => {
                // §5.1.1: client streams are odd and increasing; a new one implicitly closes
                // every idle stream below it.
                if id.is_multiple_of(2) {
                    return Err(self.fail(ErrorCode::ProtocolError, "even stream id from the client"));
                }
                self.streams.highest = id;
                if self.goaway_sent.is_some() || self.peer_goaway {
                    // §6.8: no new streams after GOAWAY.
                    Purpose::Ignore
                } else if self_dependent {
                    Purpose::Reject(ErrorCode::ProtocolError)
                } else if self.streams.len() >= self.config.max_concurrent_streams as usize {
                    self.budget(Flood::Refused, now)?;
                    Purpose::Refuse
                } else {
                    Purpose::Open
                }
            }
            Lookup::Closed(Some(Closed::ResetByUs)) => Purpose::Ignore,
            Lookup::Closed(Some(Closed::Done)) => {
                // §5.1 closed: frames after END_STREAM both ways or after the peer's RST_STREAM.
                return Err(self.fail(ErrorCode::StreamClosed, "HEADERS on a closed stream"));
            }
            Lookup::Closed(None) => {
                return Err(self.fail(ErrorCode::ProtocolError, "stream id lower than one already used"));
            }
        };
        let fragment = payload.slice(body.start..body.end);
        if fragment.len() > self.config.max_header_block {
            return Err(self.fail(ErrorCode::EnhanceYourCalm, "field block larger than max_header_block"));
        }
        self.block = Some(PendingBlock {
            stream: id,
            end_stream,
            purpose,
            continuations: 0,
            len: fragment.len(),
            first: fragment,
        });
        if head.has(flag::END_HEADERS) {
            self.end_block()?;
        }
        Ok(())
    }

    /// §6.10.
    pub(crate) fn on_continuation(&mut self, head: Head, payload: Bytes) -> Result<(), ConnError> {
        let Some(b) = self.block.as_mut() else {
            return Err(self.fail(ErrorCode::ProtocolError, "CONTINUATION without a field block"));
        };
        b.continuations += 1;
        b.len += payload.len();
        if b.continuations > self.config.max_continuations {
            return Err(self.fail(ErrorCode::EnhanceYourCalm, "too many CONTINUATION frames"));
        }
        if b.len > self.config.max_header_block {
            return Err(self.fail(ErrorCode::EnhanceYourCalm, "field block larger than max_header_block"));
        }
        if self.block_buf.is_empty() {
            self.block_buf.extend_from_slice(&b.first);
        }
        self.block_buf.extend_from_slice(&payload);
        if head.has(flag::END_HEADERS) {
            self.end_block()?;
        }
        Ok(())
    }

    /// The block is whole: decode it (always, §4.3) and act on it.
    fn end_block(&mut self) -> Result<(), ConnError> {
        let Some(b) = self.block.take() else { return Ok(()) };
        let bytes = if self.block_buf.is_empty() { b.first } else { self.block_buf.split().freeze() };
        let collect = matches!(b.purpose, Purpose::Open | Purpose::Trailers);
        let map = if collect { self.header_map() } else { Default::default() };
        let mut fields = Block::new(b.purpose == Purpose::Trailers, self.config.max_header_list_size, map);
        let decoded = self.decoder.decode(&bytes, |name, value, _| {
            if collect {
                fields.field(name, value);
            }
        });
        if decoded.is_err() {
            return Err(self.fail(ErrorCode::CompressionError, "undecodable field block (HPACK)"));
        }
        let id = b.stream;
        match b.purpose {
            Purpose::Open => self.open_stream(id, fields, b.end_stream),
            Purpose::Trailers => self.trailers(id, fields),
            Purpose::Reject(code) => {
                self.last_processed = self.last_processed.max(id);
                self.reset_stream(id, code)
            }
            Purpose::Refuse => {
                self.streams.remember(id, Closed::ResetByUs);
                self.queue_control(|out| frame::encode_rst_stream(out, id, ErrorCode::RefusedStream))
            }
            Purpose::Ignore => {
                self.streams.remember(id, Closed::ResetByUs);
                Ok(())
            }
        }
    }

    /// A request head: a new stream, or a stream error if it is malformed (§8.1.1).
    fn open_stream(&mut self, id: u32, fields: Block, end_stream: bool) -> Result<(), ConnError> {
        self.last_processed = id;
        let head = match fields.into_request() {
            // §8.1.1: with END_STREAM on the HEADERS the body is empty, so content-length must be 0.
            Ok(head) if end_stream && head.content_length.is_some_and(|n| n != 0) => {
                self.recycle_headers(head.headers);
                return self.reset_stream(id, ErrorCode::ProtocolError);
            }
            Ok(head) => head,
            Err(_) => return self.reset_stream(id, ErrorCode::ProtocolError),
        };
        let state = if end_stream { State::HalfClosedRemote } else { State::Open };
        let mut s = Stream::new(id, state, self.peer.initial_window_size, self.recv_initial);
        s.content_length = head.content_length;
        self.streams.insert(s);
        self.events.push_back(Event::Request { stream: id, head, end_stream });
        Ok(())
    }

    /// Trailers end the client's side (§8.1); the body must have matched content-length.
    fn trailers(&mut self, id: u32, fields: Block) -> Result<(), ConnError> {
        let Some(i) = self.live(id) else { return Ok(()) };
        let fields = match fields.into_trailers() {
            Ok(f) => f,
            Err(Refusal::Malformed(_)) => return self.reset_stream(id, ErrorCode::ProtocolError),
            // Over SETTINGS_MAX_HEADER_LIST_SIZE after the head was accepted: too late for a
            // 431, and not malformed; the peer ignored an advertised limit.
            Err(Refusal::TooLarge) => return self.reset_stream(id, ErrorCode::EnhanceYourCalm),
        };
        let s = self.streams.get(i);
        if s.content_length.is_some_and(|cl| cl != s.received) {
            self.recycle_headers(fields);
            return self.reset_stream(id, ErrorCode::ProtocolError);
        }
        self.close_remote(i);
        self.events.push_back(Event::Trailers { stream: id, fields });
        Ok(())
    }
}
