//! The connection state machine: what it holds, the read loop that cuts frames off the
//! input, the output queue, and the server's calls that are not about sending a response.
//! Frame handlers are in `recv.rs`, response writing in `send.rs`.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

use crate::error::{ConnError, ErrorCode};
use crate::event::Event;
use crate::flood::{self, Budgets};
use crate::flow::{RecvWindow, SendWindow};
use crate::frame::{self, Head, DEFAULT_WINDOW, HEADER_LEN, PREFACE};
use crate::settings::{Config, PeerSettings, DEFAULT_HEADER_TABLE_SIZE};
use crate::stream::{Closed, Lookup, State, Streams};
use crate::StreamId;

/// Control frames queued and not yet taken by [`Connection::poll_transmit`] beyond which the
/// peer is provoking output faster than it reads it.
pub(crate) const MAX_PENDING_CONTROL: usize = 10_000;

/// Header maps kept for reuse ([`Connection::recycle_headers`]).
const HEADER_MAP_POOL: usize = 32;

/// Where the connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the client's 24-octet preface (§3.4).
    Preface,
    /// The preface arrived; the next frame must be the client's SETTINGS (§3.4).
    FirstSettings,
    /// Frames flow.
    Ready,
    /// A connection error or [`Connection::abort`]: GOAWAY is queued, nothing more is read.
    Failed(ConnError),
}

/// A field block being received: the HEADERS frame and the CONTINUATIONs that must follow
/// it with nothing in between (§4.3, §6.10).
#[derive(Debug)]
pub(crate) struct PendingBlock {
    pub(crate) stream: StreamId,
    pub(crate) end_stream: bool,
    pub(crate) purpose: Purpose,
    pub(crate) continuations: u32,
    /// The HEADERS fragment: the whole block, without a copy, when no CONTINUATION follows.
    pub(crate) first: Bytes,
    pub(crate) len: usize,
}

/// What a field block will become once decoded (decided by its HEADERS frame). Every block is
/// decoded, whatever its fate, to keep the HPACK table in step with the peer's (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A new stream's request head.
    Open,
    /// The trailers of a live stream.
    Trailers,
    /// A stream error with this code once decoded.
    Reject(ErrorCode),
    /// A stream refused with REFUSED_STREAM (over SETTINGS_MAX_CONCURRENT_STREAMS).
    Refuse,
    /// Dropped: a stream we reset, or a new one after GOAWAY (§6.8).
    Ignore,
}

/// One HTTP/2 connection, server side. See the crate documentation for how to drive it.
#[derive(Debug)]
pub struct Connection {
    pub(crate) config: Config,
    pub(crate) phase: Phase,
    pub(crate) peer: PeerSettings,
    /// The client acknowledged our SETTINGS.
    pub(crate) settings_acked: bool,
    /// The receive window a new stream starts with: ours once acknowledged, and until then at
    /// least the default, which the client may still be using (§6.9.2).
    pub(crate) recv_initial: u32,
    pub(crate) streams: Streams,
    pub(crate) conn_send: SendWindow,
    pub(crate) conn_recv: RecvWindow,
    pub(crate) decoder: pollux_hpack::Decoder,
    pub(crate) encoder: pollux_hpack::Encoder,
    pub(crate) block: Option<PendingBlock>,
    /// The joined fragments of a block that spans frames.
    pub(crate) block_buf: BytesMut,
    pub(crate) events: VecDeque<Event>,
    /// Control frames owed, encoded.
    pub(crate) pending: Vec<u8>,
    /// Control frames in `pending` that the peer provoked (acks and RST_STREAMs).
    pub(crate) pending_frames: usize,
    pub(crate) budgets: Budgets,
    /// The last stream id of the GOAWAY we sent, if we did.
    pub(crate) goaway_sent: Option<StreamId>,
    pub(crate) peer_goaway: bool,
    /// The highest stream we processed (handed to the server or reset after reading): the
    /// last stream id of our GOAWAY (§6.8).
    pub(crate) last_processed: StreamId,
    pub(crate) header_maps: Vec<HeaderMap>,
    /// Reused when a response field block must be split into CONTINUATION frames.
    pub(crate) scratch: Vec<u8>,
}

impl Connection {
    /// Queues our connection preface: SETTINGS (MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE,
    /// MAX_HEADER_LIST_SIZE, and HEADER_TABLE_SIZE or MAX_FRAME_SIZE when not the defaults)
    /// then WINDOW_UPDATE(0, connection_window - 65,535).
    pub fn new(config: Config) -> Connection {
        let config = config.normalized();
        let mut pending = Vec::with_capacity(64);
        config.encode_settings(&mut pending);
        let raise = config.connection_window - DEFAULT_WINDOW;
        if raise > 0 {
            frame::encode_window_update(&mut pending, 0, raise);
        }
        let mut decoder = pollux_hpack::Decoder::new(DEFAULT_HEADER_TABLE_SIZE as usize);
        // No string can be longer than a block we accept (Huffman codes are 5 bits at least):
        // an oversized field is then a 431 for the server, never a COMPRESSION_ERROR.
        decoder.set_max_string(config.max_header_block.saturating_mul(8) / 5 + 1);
        Connection {
            recv_initial: config.initial_window_size.max(DEFAULT_WINDOW),
            conn_recv: RecvWindow::new(config.connection_window),
            budgets: Budgets::new(config.flood),
            config,
            phase: Phase::Preface,
            peer: PeerSettings::default(),
            settings_acked: false,
            streams: Streams::default(),
            conn_send: SendWindow::new(DEFAULT_WINDOW),
            decoder,
            encoder: pollux_hpack::Encoder::new(),
            block: None,
            block_buf: BytesMut::new(),
            events: VecDeque::new(),
            pending,
            pending_frames: 0,
            goaway_sent: None,
            peer_goaway: false,
            last_processed: 0,
            header_maps: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Bytes in: consumes every complete frame at the front of `buf`, starting with the
    /// client preface. A partial frame stays in `buf` for the next call. Decoded events are
    /// queued for [`Connection::poll_event`], control frames owed for
    /// [`Connection::poll_transmit`].
    ///
    /// DATA payloads and header blocks are split off `buf` as `Bytes`, not copied.
    ///
    /// `Err`: a connection error; GOAWAY(last processed stream, code) is queued. Feed nothing
    /// more: later calls return the same error.
    pub fn handle_read(&mut self, buf: &mut BytesMut, now_ms: u64) -> Result<(), ConnError> {
        if let Phase::Failed(e) = &self.phase {
            return Err(e.clone());
        }
        if self.phase == Phase::Preface {
            let n = buf.len().min(PREFACE.len());
            if buf[..n] != PREFACE[..n] {
                return Err(self.fail(ErrorCode::ProtocolError, "invalid connection preface"));
            }
            if n < PREFACE.len() {
                return Ok(());
            }
            buf.advance(PREFACE.len());
            self.phase = Phase::FirstSettings;
        }
        while buf.len() >= HEADER_LEN {
            let mut h = [0u8; HEADER_LEN];
            h.copy_from_slice(&buf[..HEADER_LEN]);
            let head = Head::parse(&h);
            // §4.2: judged on the header alone, so an oversized frame is never buffered.
            if head.len > self.config.max_frame_size as usize {
                return Err(self.fail(ErrorCode::FrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE"));
            }
            if buf.len() < HEADER_LEN + head.len {
                break;
            }
            buf.advance(HEADER_LEN);
            self.frame(head, buf, now_ms)?;
        }
        Ok(())
    }

    /// The next thing the client did, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends the control frames owed to `out`. Call it before writing this round's response
    /// frames, so acks go first.
    ///
    /// Call it when the output has room: frames the peer provokes (PING and SETTINGS acks,
    /// RST_STREAMs) wait here meanwhile, and more than 10,000 of them end the connection with
    /// GOAWAY(ENHANCE_YOUR_CALM), as a peer that makes us write without reading does.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        self.pending_frames = 0;
    }

    /// Resets a stream from our side (RST_STREAM queued): the server abandons a response,
    /// e.g. because its body source failed. No event follows for it.
    pub fn reset(&mut self, stream: StreamId, code: ErrorCode) {
        if let Some(i) = self.live(stream) {
            self.drop_stream(i, Closed::ResetByUs);
            frame::encode_rst_stream(&mut self.pending, stream, code);
        }
    }

    /// The server consumed `n` body bytes of `stream`: the receive windows reopen
    /// (WINDOW_UPDATE queued once half a window has been consumed, for the stream and for
    /// the connection; none for a stream whose client side is closed). Releasing bytes of a
    /// stream that is gone is a no-op: they were given back when it went.
    pub fn release(&mut self, stream: StreamId, n: usize) {
        let target = self.recv_initial;
        let Some(s) = self.streams.find_mut(stream) else { return };
        let n = n.min(s.unreleased);
        s.unreleased -= n;
        if s.state.remote_open() {
            if let Some(inc) = s.recv.release(n, target) {
                frame::encode_window_update(&mut self.pending, stream, inc);
            }
        }
        self.release_connection(n);
    }

    /// Graceful shutdown: GOAWAY(NO_ERROR, highest stream processed) queued. HEADERS opening
    /// new streams are ignored from now on (their block is still decoded, for HPACK's sake);
    /// streams in flight go on. [`Connection::is_done`] once they are finished.
    pub fn go_away(&mut self) {
        if self.goaway_sent.is_some() || matches!(self.phase, Phase::Failed(_)) {
            return;
        }
        self.goaway_sent = Some(self.last_processed);
        frame::encode_goaway(&mut self.pending, self.last_processed, ErrorCode::NoError);
    }

    /// Ends the connection with an error code (GOAWAY queued), e.g. INTERNAL_ERROR when the
    /// server must give up. [`Connection::is_done`] turns true.
    pub fn abort(&mut self, code: ErrorCode) {
        if !matches!(self.phase, Phase::Failed(_)) {
            self.fail(code, "aborted by the server");
        }
    }

    /// Streams not yet closed (§5.1: open or half-closed).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// The §5.1 state of a stream.
    pub fn stream_state(&self, stream: StreamId) -> State {
        self.streams.state(stream)
    }

    /// Whether the connection is finished: a connection error or [`Connection::abort`], or
    /// our GOAWAY sent and no stream left. The server flushes its output and closes.
    ///
    /// A GOAWAY from the client does not finish it: the client will close when it has read
    /// what it wants, and until then may still ping us (§6.8).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Failed(_)) || (self.goaway_sent.is_some() && self.streams.len() == 0)
    }

    /// The preface and the client's first SETTINGS arrived.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    /// The client sent GOAWAY: it opens no more streams.
    pub fn peer_went_away(&self) -> bool {
        self.peer_goaway
    }

    /// Hands back a header map from a finished request for reuse: it is cleared, keeping its
    /// capacity, so the next request's fields need no allocation.
    pub fn recycle_headers(&mut self, mut map: HeaderMap) {
        if self.header_maps.len() < HEADER_MAP_POOL {
            map.clear();
            self.header_maps.push(map);
        }
    }

    // ---- shared by the frame handlers and the senders ------------------------------------

    /// A connection error: GOAWAY queued, the connection over.
    pub(crate) fn fail(&mut self, code: ErrorCode, reason: &'static str) -> ConnError {
        let e = ConnError::Protocol { code, reason };
        frame::encode_goaway(&mut self.pending, self.last_processed, code);
        self.phase = Phase::Failed(e.clone());
        self.block = None;
        self.block_buf = BytesMut::new();
        e
    }

    /// A control frame the peer provoked, within the bound on what it leaves unread.
    pub(crate) fn queue_control(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<(), ConnError> {
        if self.pending_frames >= MAX_PENDING_CONTROL {
            return Err(self.fail(ErrorCode::EnhanceYourCalm, "control frames queued and not taken"));
        }
        self.pending_frames += 1;
        encode(&mut self.pending);
        Ok(())
    }

    /// Spends a flood budget token, or ends the connection with ENHANCE_YOUR_CALM (§10.5).
    pub(crate) fn budget(&mut self, kind: flood::Kind, now_ms: u64) -> Result<(), ConnError> {
        if self.budgets.take(kind, now_ms) {
            Ok(())
        } else {
            Err(self.fail(ErrorCode::EnhanceYourCalm, kind.reason()))
        }
    }

    pub(crate) fn live(&self, id: StreamId) -> Option<usize> {
        match self.streams.lookup(id) {
            Lookup::Live(i) => Some(i),
            _ => None,
        }
    }

    /// A stream error (§5.4.2): RST_STREAM queued; a live stream is dropped and the server
    /// told. Frames the peer sent before seeing our RST_STREAM are then ignored.
    pub(crate) fn reset_stream(&mut self, id: StreamId, code: ErrorCode) -> Result<(), ConnError> {
        self.queue_control(|out| frame::encode_rst_stream(out, id, code))?;
        match self.live(id) {
            Some(i) => {
                self.drop_stream(i, Closed::ResetByUs);
                self.notify_reset(id, code);
            }
            None if id <= self.streams.highest => self.streams.remember(id, Closed::ResetByUs),
            None => {}
        }
        Ok(())
    }

    /// Tells the server a stream it was given is gone, unless its Request event is still
    /// queued: then the stream's events are withdrawn and the server never hears of it. A
    /// request cancelled in the same read that opened it costs the server nothing (the
    /// Rapid Reset pattern, CVE-2023-44487, sends exactly that).
    pub(crate) fn notify_reset(&mut self, id: StreamId, code: ErrorCode) {
        let queued =
            self.events.iter().rev().any(|e| matches!(e, Event::Request { stream, .. } if *stream == id));
        if !queued {
            self.events.push_back(Event::Reset { stream: id, code });
            return;
        }
        let mut map = None;
        self.events.retain_mut(|e| {
            if e.stream() != id {
                return true;
            }
            if let Event::Request { head, .. } = e {
                map = Some(std::mem::take(&mut head.headers));
            }
            false
        });
        if let Some(map) = map {
            self.recycle_headers(map);
        }
    }

    /// Takes a stream out of the table; body bytes the server never released go back to the
    /// connection window (the stream's own window goes with it).
    pub(crate) fn drop_stream(&mut self, i: usize, how: Closed) {
        let s = self.streams.remove(i, how);
        self.release_connection(s.unreleased);
    }

    /// Flow-controlled octets consumed or discarded: the connection window reopens.
    pub(crate) fn release_connection(&mut self, n: usize) {
        if let Some(inc) = self.conn_recv.release(n, self.config.connection_window) {
            frame::encode_window_update(&mut self.pending, 0, inc);
        }
    }

    /// The client's side of stream `i` ended (END_STREAM received).
    pub(crate) fn close_remote(&mut self, i: usize) {
        let s = self.streams.get_mut(i);
        match s.state {
            State::Open => s.state = State::HalfClosedRemote,
            _ => self.drop_stream(i, Closed::Done),
        }
    }

    /// Our side of stream `i` ended (END_STREAM sent). If the client is still sending, §8.1
    /// lets us ask it to stop without error: RST_STREAM(NO_ERROR), and the rest of the body
    /// is discarded (the server is not told: it ended the stream itself).
    pub(crate) fn close_local(&mut self, i: usize) {
        let s = self.streams.get(i);
        let id = s.id;
        if s.state == State::Open {
            self.drop_stream(i, Closed::ResetByUs);
            frame::encode_rst_stream(&mut self.pending, id, ErrorCode::NoError);
        } else {
            self.drop_stream(i, Closed::Done);
        }
    }

    /// A header map to fill: a recycled one if any.
    pub(crate) fn header_map(&mut self) -> HeaderMap {
        self.header_maps.pop().unwrap_or_default()
    }
}
