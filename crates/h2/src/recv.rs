//! Frames received: one handler per type, with the stream-state rules of RFC 9113 §5.1 and
//! each frame's section. Errors are sorted as §5.4 says: a stream error resets one stream
//! and processing goes on; a connection error returns `Err` after queuing GOAWAY.

use bytes::{Buf, Bytes, BytesMut};

use crate::connection::{Connection, PendingBlock, Phase, Purpose};
use crate::error::{ConnError, ErrorCode};
use crate::event::Event;
use crate::flood::Kind as Flood;
use crate::frame::{self, flag, kind, Head, Violation};
use crate::headers::{Block, Refusal};
use crate::settings::Applied;
use crate::stream::{Closed, Lookup, State, Stream};

impl Connection {
    /// One whole frame: `head` already taken off `buf`, the payload at its front.
    pub(crate) fn frame(&mut self, head: Head, buf: &mut BytesMut, now: u64) -> Result<(), ConnError> {
        if self.phase == Phase::FirstSettings {
            // §3.4: the preface is followed by SETTINGS; anything else makes it invalid.
            if head.kind != kind::SETTINGS || head.has(flag::ACK) {
                return Err(self.fail(ErrorCode::ProtocolError, "client preface not followed by SETTINGS"));
            }
            self.phase = Phase::Ready;
        }
        if let Some(b) = &self.block {
            // §6.10: a field block is a contiguous run of frames on one stream.
            if head.kind != kind::CONTINUATION || head.stream != b.stream {
                return Err(self.fail(ErrorCode::ProtocolError, "frame interleaved in a field block"));
            }
        }
        match head.kind {
            kind::DATA => {
                let payload = buf.split_to(head.len).freeze();
                self.on_data(head, payload, now)
            }
            kind::HEADERS => {
                let payload = buf.split_to(head.len).freeze();
                self.on_headers(head, payload, now)
            }
            kind::CONTINUATION => {
                let payload = buf.split_to(head.len).freeze();
                self.on_continuation(head, payload)
            }
            _ => {
                let result = self.on_control(head, &buf[..head.len], now);
                buf.advance(head.len);
                result
            }
        }
    }

    /// Frames that carry no stream data: parsed in place.
    fn on_control(&mut self, head: Head, payload: &[u8], now: u64) -> Result<(), ConnError> {
        match head.kind {
            kind::PRIORITY => self.on_priority(head, payload, now),
            kind::RST_STREAM => self.on_rst_stream(head, payload, now),
            kind::SETTINGS => self.on_settings(head, payload, now),
            // §8.4: a client cannot push.
            kind::PUSH_PROMISE => Err(self.fail(ErrorCode::ProtocolError, "PUSH_PROMISE from a client")),
            kind::PING => self.on_ping(head, payload, now),
            kind::GOAWAY => self.on_goaway(head, payload),
            kind::WINDOW_UPDATE => self.on_window_update(head, payload, now),
            // §4.1, §5.5: unknown types are ignored (outside field blocks, checked above).
            _ => Ok(()),
        }
    }

    /// A frame's own rule broken: reset its stream or end the connection.
    fn violation(&mut self, v: Violation, stream: u32) -> Result<(), ConnError> {
        match v {
            Violation::Conn(code, why) => Err(self.fail(code, why)),
            Violation::Stream(code, _) => self.reset_stream(stream, code),
        }
    }

    fn conn_violation<T>(&mut self, r: Result<T, Violation>) -> Result<T, ConnError> {
        r.map_err(|v| match v {
            Violation::Conn(code, why) | Violation::Stream(code, why) => self.fail(code, why),
        })
    }

    /// §6.1.
    fn on_data(&mut self, head: Head, payload: Bytes, now: u64) -> Result<(), ConnError> {
        let id = head.stream;
        if id == 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "DATA on stream 0"));
        }
        let body = self.conn_violation(frame::data(head.flags, &payload))?;
        // The whole payload, padding included, is flow-controlled (§6.1).
        let flow = payload.len();
        if self.conn_recv.receive(flow).is_err() {
            return Err(self.fail(ErrorCode::FlowControlError, "DATA beyond the connection window"));
        }
        let i = match self.streams.lookup(id) {
            Lookup::Idle => return Err(self.fail(ErrorCode::ProtocolError, "DATA on an idle stream")),
            Lookup::Closed(how) => {
                self.release_connection(flow);
                if how == Some(Closed::ResetByUs) {
                    return Ok(());
                }
                return self.reset_stream(id, ErrorCode::StreamClosed);
            }
            Lookup::Live(i) => i,
        };
        if !self.streams.get(i).state.remote_open() {
            // half-closed (remote): §5.1 says STREAM_CLOSED.
            self.release_connection(flow);
            return self.reset_stream(id, ErrorCode::StreamClosed);
        }
        let end_stream = head.has(flag::END_STREAM);
        let data = payload.slice(body.start..body.end);
        let target = self.recv_initial;
        let s = self.streams.get_mut(i);
        if s.recv.receive(flow).is_err() {
            self.release_connection(flow);
            return self.reset_stream(id, ErrorCode::FlowControlError);
        }
        s.received += data.len() as u64;
        // §8.1.1: the body must match content-length, checked as it arrives.
        if let Some(cl) = s.content_length {
            if s.received > cl || (end_stream && s.received != cl) {
                self.release_connection(flow);
                return self.reset_stream(id, ErrorCode::ProtocolError);
            }
        }
        let padding = flow - data.len();
        if padding > 0 {
            // Padding is never handed to the server: consumed at once.
            let update = if end_stream { None } else { s.recv.release(padding, target) };
            if let Some(inc) = update {
                frame::encode_window_update(&mut self.pending, id, inc);
            }
            self.release_connection(padding);
        }
        if data.is_empty() && !end_stream {
            return self.budget(Flood::EmptyData, now);
        }
        self.streams.get_mut(i).unreleased += data.len();
        if end_stream {
            self.close_remote(i);
        }
        self.events.push_back(Event::Data { stream: id, data, end_stream });
        Ok(())
    }

    /// §6.2: starts a field block and decides, from the stream's state, what it is for.
    fn on_headers(&mut self, head: Head, payload: Bytes, now: u64) -> Result<(), ConnError> {
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
    fn on_continuation(&mut self, head: Head, payload: Bytes) -> Result<(), ConnError> {
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

    /// §6.3: checked, then ignored (the priority scheme is deprecated).
    fn on_priority(&mut self, head: Head, payload: &[u8], now: u64) -> Result<(), ConnError> {
        let id = head.stream;
        if id == 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "PRIORITY on stream 0"));
        }
        let p = match frame::priority(payload) {
            Ok(p) => p,
            Err(v) => return self.violation(v, id),
        };
        self.budget(Flood::Priority, now)?;
        if p.dependency == id {
            return self.reset_stream(id, ErrorCode::ProtocolError);
        }
        Ok(())
    }

    /// §6.4.
    fn on_rst_stream(&mut self, head: Head, payload: &[u8], now: u64) -> Result<(), ConnError> {
        let id = head.stream;
        if id == 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "RST_STREAM on stream 0"));
        }
        let code = self.conn_violation(frame::rst_stream(payload))?;
        match self.streams.lookup(id) {
            Lookup::Idle => Err(self.fail(ErrorCode::ProtocolError, "RST_STREAM on an idle stream")),
            // Late, or crossing ours: nothing left to do.
            Lookup::Closed(_) => Ok(()),
            Lookup::Live(i) => {
                if self.streams.get(i).state.local_open() {
                    // A request cancelled before its response ended: Rapid Reset's currency.
                    self.budget(Flood::RapidReset, now)?;
                }
                self.drop_stream(i, Closed::Done);
                self.notify_reset(id, code);
                Ok(())
            }
        }
    }

    /// §6.5: the peer's values in order, then our ack; or the ack of ours.
    fn on_settings(&mut self, head: Head, payload: &[u8], now: u64) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "SETTINGS on a stream"));
        }
        let pairs = self.conn_violation(frame::settings(head.flags, payload))?;
        if head.has(flag::ACK) {
            // Costs nothing but parsing: not counted.
            self.our_settings_acked();
            return Ok(());
        }
        self.budget(Flood::Settings, now)?;
        for (id, value) in pairs {
            match self.peer.apply(id, value) {
                Ok(Applied::Nothing) => {}
                Ok(Applied::InitialWindow(delta)) => {
                    // §6.9.2: every stream's send window moves by the difference.
                    if self.streams.iter_mut().any(|s| s.send.shift(delta).is_err()) {
                        return Err(self.fail(
                            ErrorCode::FlowControlError,
                            "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
                        ));
                    }
                }
                Ok(Applied::HeaderTableSize(n)) => self.encoder.set_max_table_size(n as usize),
                Err(v) => return self.violation(v, 0),
            }
        }
        self.queue_control(frame::encode_settings_ack)
    }

    /// The client applied our SETTINGS: our receive side may now hold it to them.
    fn our_settings_acked(&mut self) {
        if self.settings_acked {
            return;
        }
        self.settings_acked = true;
        let ours = self.config.initial_window_size;
        if ours < self.recv_initial {
            let delta = i64::from(ours) - i64::from(self.recv_initial);
            for s in self.streams.iter_mut() {
                s.recv.shift(delta);
            }
            self.recv_initial = ours;
        }
        if self.config.header_table_size != crate::settings::DEFAULT_HEADER_TABLE_SIZE {
            self.decoder.set_max_table_size(self.config.header_table_size as usize);
        }
    }

    /// §6.7.
    fn on_ping(&mut self, head: Head, payload: &[u8], now: u64) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "PING on a stream"));
        }
        let data = self.conn_violation(frame::ping(payload))?;
        if head.has(flag::ACK) {
            // We send no PINGs; an unsolicited ack is ignored (and costs nothing but parsing).
            return Ok(());
        }
        self.budget(Flood::Ping, now)?;
        self.queue_control(|out| frame::encode_ping_ack(out, &data))
    }

    /// §6.8: the client opens no more streams; ours (there are none) and its finish.
    fn on_goaway(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(self.fail(ErrorCode::ProtocolError, "GOAWAY on a stream"));
        }
        self.conn_violation(frame::goaway(payload))?;
        self.peer_goaway = true;
        Ok(())
    }

    /// §6.9.
    fn on_window_update(&mut self, head: Head, payload: &[u8], now: u64) -> Result<(), ConnError> {
        let increment = self.conn_violation(frame::window_update(payload))?;
        self.budget(Flood::WindowUpdate, now)?;
        let id = head.stream;
        if id == 0 {
            if increment == 0 {
                return Err(self.fail(ErrorCode::ProtocolError, "WINDOW_UPDATE of 0 on the connection"));
            }
            if self.conn_send.grow(increment).is_err() {
                return Err(self.fail(ErrorCode::FlowControlError, "connection window above 2^31-1"));
            }
            return Ok(());
        }
        match self.streams.lookup(id) {
            Lookup::Idle => Err(self.fail(ErrorCode::ProtocolError, "WINDOW_UPDATE on an idle stream")),
            // §5.1: may arrive shortly after the stream closed.
            Lookup::Closed(_) => Ok(()),
            Lookup::Live(i) => {
                if increment == 0 {
                    return self.reset_stream(id, ErrorCode::ProtocolError);
                }
                if self.streams.get_mut(i).send.grow(increment).is_err() {
                    return self.reset_stream(id, ErrorCode::FlowControlError);
                }
                Ok(())
            }
        }
    }
}
