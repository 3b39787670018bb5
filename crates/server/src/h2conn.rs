//! One HTTP/2 connection on the server side: the sans-IO codec (`pollux-h2`) below, the same
//! [`crate::Handler`]s as HTTP/1.1 above, and no socket or clock here either.
//!
//! ```text
//!  read buffer ─► codec.handle_read ─► Event::Request ─► App::call ─► Reply ──┐
//!                                      Event::Data    ─► body (gathered, or    │
//!                                                        a task's queue)       ▼
//!  output ◄─ codec.poll_transmit (acks, WINDOW_UPDATE, RST_STREAM, GOAWAY)   streams
//!         ◄─ pump: per stream, round robin, one frame a turn, as far as both  (slab)
//!            flow-control windows allow: HEADERS then DATA from the body source
//! ```
//!
//! A stream is a request/response exchange (RFC 9113 §5); its states are the codec's. Here a
//! stream is in one [`Phase`]: its body still arriving, its handler's answer deferred, a
//! worker-local task producing it, or its body going out. Answers leave in the order they
//! are ready, not the order they were asked (that is what HTTP/2 is for), every frame of one
//! read's answers in one write.
//!
//! Request bodies count against the windows the codec advertises until they are consumed: a
//! gathered body is released as it arrives while the connection's gathered bytes stay under
//! `--max-body` (past that the windows stay shut until a handler takes its body), a task's
//! body as the task takes it. So memory stays bounded by the limits whatever a client sends.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode, Version};
use pollux_h2::{Connection, ErrorCode, Event, StreamId};
use slab::Slab;

use crate::conn::{App, Env, State, Step, TaskSlot, Wait};
use crate::encode::Asked;
use crate::handler::{Deferred, Reply};
use crate::mailbox::{Finished, Message};
use crate::output::{Output, Sending, WBUF_HIGH};
use crate::task::{Done, TaskState};
use crate::transport::READ_CHUNK;
use crate::{Body, PreparedFields};

/// What a stream is doing.
enum Phase {
    /// The request body is arriving; the handler is called at its end.
    Receiving { req: Box<Request<Body>>, body: BytesMut },
    /// The handler deferred its answer.
    Waiting(Deferred),
    /// A worker-local task produces the answer into its own output (raw body bytes, or a
    /// file), which the pump frames.
    Task { slot: Box<TaskSlot>, out: Output, head_sent: bool, unreleased: usize },
    /// The head is out; the body follows.
    Sending(Source),
    /// The answer went out while the request body still arrives: its bytes are dropped.
    Discarding,
}

/// A response body on its way out in DATA frames.
enum Source {
    Bytes(Bytes),
    File { file: Arc<std::fs::File>, offset: u64, left: u64 },
    Stream { stream: Box<dyn crate::BodyStream>, pending: Bytes, left: Option<u64> },
}

struct Stream {
    id: StreamId,
    asked: Asked,
    phase: Phase,
    status: StatusCode,
    /// Body bytes written (for the access log).
    sent: u64,
    /// The client finished sending (END_STREAM or trailers).
    remote_done: bool,
    /// A task of this stream is owed `on_room` (its output was taken).
    owe_room: bool,
    /// Request body bytes received (held to `--max-body` however the body is consumed).
    received: u64,
}

/// A server-side HTTP/2 connection.
pub(crate) struct H2Conn {
    peer: std::net::SocketAddr,
    codec: Connection,
    pub(crate) rbuf: BytesMut,
    pub(crate) out: Output,
    streams: Slab<Stream>,
    /// Where the next pump round starts (round robin between streams).
    next: usize,
    pub(crate) state: State,
    peer_done: bool,
    /// Bytes of gathered request bodies held by streams whose handler has not taken them.
    gathered: u64,
    /// Body bytes received but not yet released to the client's windows (past the gathered
    /// bound), by stream.
    held: Vec<(StreamId, usize)>,
    /// GOAWAY went out for a graceful shutdown.
    going_away: bool,
    /// Streams whose task made progress since the timer was last armed.
    progress: bool,
    /// A DATA frame header, built before its payload is read into the buffer behind it.
    frame_head: Vec<u8>,
    /// The streams' keys for a pump round (kept: no allocation per round).
    keys: Vec<usize>,
}

/// Fields a server never sends over HTTP/2 (RFC 9113 §8.2.2): they describe an HTTP/1.1
/// connection.
fn connection_specific(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

impl H2Conn {
    /// A connection whose first bytes (the client's preface, and what followed it) are `rbuf`.
    pub(crate) fn new(env: &Env, peer: std::net::SocketAddr, rbuf: BytesMut) -> H2Conn {
        let opts = &env.opts;
        let config = pollux_h2::Config {
            max_concurrent_streams: opts.h2_max_streams,
            max_header_list_size: opts.limits.max_head.min(u32::MAX as usize) as u32,
            ..pollux_h2::Config::default()
        };
        let mut out = Output::new(READ_CHUNK);
        let mut codec = Connection::new(config);
        codec.poll_transmit(&mut out.wbuf);
        H2Conn {
            peer,
            codec,
            rbuf,
            out,
            streams: Slab::new(),
            next: 0,
            state: State::Open,
            peer_done: false,
            gathered: 0,
            held: Vec::new(),
            going_away: false,
            progress: false,
            frame_head: Vec::with_capacity(9),
            keys: Vec::new(),
        }
    }

    // ---- What the driver asks -------------------------------------------------------------

    /// Decodes what arrived, answers what can be answered and frames what may go out.
    pub(crate) fn poll(&mut self, env: &mut Env, app: &mut impl App) -> Step {
        match self.state {
            State::Closed => return Step::Close,
            State::Lingering => return Step::Read,
            State::Closing => {
                if self.out.has_output() {
                    return Step::Send;
                }
                if self.peer_done {
                    self.state = State::Closed;
                    return Step::Close;
                }
                return Step::ShutdownWrite;
            }
            State::Open => {}
        }
        if self.out.wbuf.capacity() == 0 {
            self.take_buffers(env);
        }
        if !self.rbuf.is_empty() && self.out.wbuf.len() < WBUF_HIGH {
            let now = env.now_ms();
            let res = self.codec.handle_read(&mut self.rbuf, now);
            self.events(env, app);
            if res.is_err() {
                self.codec.poll_transmit(&mut self.out.wbuf);
                self.end(env);
                return self.poll(env, app);
            }
        }
        // After what was read: a connection accepted during the drain delay gets the streams
        // it opened answered before GOAWAY names the last one.
        if env.draining && !self.going_away {
            self.going_away = true;
            self.codec.go_away();
        }
        self.release_held(env);
        // Acknowledgements and window updates go ahead of the answers.
        self.codec.poll_transmit(&mut self.out.wbuf);
        self.pump(env);
        self.codec.poll_transmit(&mut self.out.wbuf);
        if self.codec.is_done() && self.streams.is_empty() {
            self.end(env);
            return self.poll(env, app);
        }
        if self.out.has_output() {
            return Step::Send;
        }
        if self.peer_done {
            // The client closed its side: nothing more can arrive; finish what is owed.
            if self.streams.iter().all(|(_, s)| matches!(s.phase, Phase::Receiving { .. })) {
                self.state = State::Closed;
                return Step::Close;
            }
            return Step::Wait;
        }
        Step::Read
    }

    /// Where the next read goes.
    pub(crate) fn read_buf(&mut self, env: &mut Env) -> &mut BytesMut {
        if self.rbuf.capacity() == 0 {
            self.take_buffers(env);
        }
        &mut self.rbuf
    }

    /// Buffers from the worker's pool for a connection that has work again.
    fn take_buffers(&mut self, env: &mut Env) {
        let (rbuf, wbuf) =
            env.h2_bufs.take_or(|| (BytesMut::with_capacity(READ_CHUNK), Vec::with_capacity(READ_CHUNK)));
        if self.rbuf.capacity() == 0 {
            self.rbuf = rbuf;
        }
        if self.out.wbuf.capacity() == 0 {
            self.out.wbuf = wbuf;
        }
    }

    /// After a run: an idle connection (no stream, nothing buffered either way) gives its
    /// buffers back to the worker's pool, so that thousands of idle HTTP/2 connections hold
    /// only their protocol state.
    pub(crate) fn settle(&mut self, env: &mut Env) {
        if self.state != State::Open
            || !self.streams.is_empty()
            || self.out.has_output()
            || !self.rbuf.is_empty()
            || self.out.wbuf.capacity() == 0
        {
            return;
        }
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut wbuf = std::mem::take(&mut self.out.wbuf);
        self.out.wpos = 0;
        // A buffer that grew for a burst (or that still shares its memory with a body a
        // handler kept) is not worth keeping.
        rbuf.clear();
        wbuf.clear();
        if rbuf.capacity() >= READ_CHUNK / 2 && rbuf.capacity() <= 64 * 1024 && wbuf.capacity() <= 256 * 1024
        {
            env.h2_bufs.put((rbuf, wbuf));
        }
    }

    pub(crate) fn handle_read(&mut self) {
        if self.state == State::Lingering {
            self.rbuf.clear();
        }
    }

    pub(crate) fn handle_eof(&mut self) {
        self.peer_done = true;
        if self.state == State::Lingering {
            self.state = State::Closed;
        }
    }

    pub(crate) fn handle_broken(&mut self) {
        self.state = State::Closed;
    }

    pub(crate) fn handle_write_shut(&mut self) {
        if self.state == State::Closing {
            self.state = State::Lingering;
        }
    }

    pub(crate) fn output(&mut self) -> Option<&mut Output> {
        Some(&mut self.out)
    }

    /// The transport took bytes: tasks whose output was framed may produce more.
    pub(crate) fn handle_sent(&mut self, _env: &mut Env, _all: bool, _moved: bool) {}

    /// What the connection waits for (its timer).
    pub(crate) fn wait(&self) -> Wait {
        match self.state {
            State::Closed => Wait::Nothing,
            State::Lingering => Wait::Linger,
            State::Closing => Wait::Send,
            State::Open if self.out.has_output() => Wait::Send,
            State::Open if !self.codec.is_established() => Wait::Head,
            State::Open => {
                let mut wait = Wait::Idle;
                for (_, s) in &self.streams {
                    wait = match (&s.phase, wait) {
                        (Phase::Task { .. }, _) => Wait::Task,
                        (Phase::Sending(_), Wait::Idle | Wait::Handler | Wait::Body) => Wait::Send,
                        (Phase::Receiving { .. } | Phase::Discarding, Wait::Idle) => Wait::Body,
                        (Phase::Waiting(_), Wait::Idle | Wait::Body) => Wait::Handler,
                        (_, w) => w,
                    };
                }
                wait
            }
        }
    }

    /// The timer for `wait` ran out. A stalled client (no preface, no request for the keep-
    /// alive time, a body that stopped, a window that stays shut) loses the connection with
    /// a GOAWAY; a task's timeout is the task's (the driver calls it).
    pub(crate) fn handle_timeout(&mut self, env: &mut Env, wait: Wait) {
        match wait {
            Wait::Task => {}
            Wait::Head | Wait::Idle | Wait::Drain | Wait::Body if self.state == State::Open => {
                self.codec.go_away();
                self.codec.poll_transmit(&mut self.out.wbuf);
                self.end(env);
            }
            _ => self.state = State::Closed,
        }
    }

    /// Whether any stream has a task (the driver then hands bytes between them).
    pub(crate) fn has_task(&self) -> bool {
        self.streams.iter().any(|(_, s)| matches!(s.phase, Phase::Task { .. }))
    }

    /// Progress of tasks since the last look (their stall timer restarts).
    pub(crate) fn take_progress(&mut self) -> bool {
        std::mem::take(&mut self.progress)
    }

    /// The connection is over: no new streams, and what is in flight is dropped (its work
    /// cancelled); the output (a GOAWAY) is flushed, then the socket closed.
    fn end(&mut self, env: &mut Env) {
        let keys: Vec<usize> = self.streams.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.finish_stream(env, k);
        }
        self.state = State::Closing;
    }

    /// Final clean-up before the connection is dropped.
    pub(crate) fn close(&mut self, env: &mut Env) {
        let keys: Vec<usize> = self.streams.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.finish_stream(env, k);
        }
        self.state = State::Closed;
    }

    // ---- Requests -------------------------------------------------------------------------

    fn events(&mut self, env: &mut Env, app: &mut impl App) {
        while let Some(ev) = self.codec.poll_event() {
            match ev {
                Event::Request { stream, head, end_stream } => {
                    self.request(env, app, stream, head, end_stream)
                }
                Event::Data { stream, data, end_stream } => self.data(env, app, stream, data, end_stream),
                Event::Trailers { stream, .. } => self.data(env, app, stream, Bytes::new(), true),
                Event::Reset { stream, .. } => {
                    if let Some(k) = self.find(stream) {
                        self.finish_stream(env, k);
                    }
                }
                _ => {}
            }
        }
    }

    fn find(&self, id: StreamId) -> Option<usize> {
        self.streams.iter().find(|(_, s)| s.id == id).map(|(k, _)| k)
    }

    fn request(
        &mut self,
        env: &mut Env,
        app: &mut impl App,
        id: StreamId,
        head: pollux_h2::RequestHead,
        end_stream: bool,
    ) {
        let asked = Asked {
            method: head.method.clone(),
            version: Version::HTTP_2,
            keep_alive: true,
            // The log shows the request line as HTTP/1.1 would have sent it (origin form),
            // as nginx's `$request` does for HTTP/2.
            uri: env.log.enabled().then(|| origin_form(&head.uri)),
            started: env.now,
            meta: crate::log_format::Meta::of(env.log.format, env.log.enabled(), &head.headers),
        };
        let key = self.streams.insert(Stream {
            id,
            asked,
            phase: Phase::Discarding,
            status: StatusCode::OK,
            sent: 0,
            remote_done: end_stream,
            owe_room: false,
            received: 0,
        });
        if head.too_large {
            self.error(env, key, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            return;
        }
        if head.content_length.is_some_and(|n| n > env.opts.limits.max_body) {
            self.error(env, key, StatusCode::PAYLOAD_TOO_LARGE);
            return;
        }
        let mut req = Request::new(Body::Empty);
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = Version::HTTP_2;
        *req.headers_mut() = head.headers;
        if end_stream {
            let reply = app.call(req);
            self.answer(env, key, reply, true);
        } else if app.streams_body(req.method(), req.uri(), req.headers()) {
            let reply = app.call(req);
            self.answer(env, key, reply, false);
        } else {
            self.streams[key].phase = Phase::Receiving { req: Box::new(req), body: BytesMut::new() };
        }
    }

    fn data(&mut self, env: &mut Env, app: &mut impl App, id: StreamId, data: Bytes, end: bool) {
        let n = data.len();
        let Some(key) = self.find(id) else {
            // A stream already answered and gone: its bytes only free the window.
            self.codec.release(id, n);
            return;
        };
        let max_body = env.opts.limits.max_body;
        let s = &mut self.streams[key];
        s.remote_done |= end;
        s.received += n as u64;
        if s.received > max_body {
            if let Phase::Task { head_sent, slot, .. } = &s.phase {
                // A body streamed to a task is held to the same limit as a gathered one:
                // 413 if the task has not answered yet, else the stream is cut.
                self.codec.release(id, n);
                if *head_sent || slot.state.h2_head.is_some() {
                    self.codec.reset(id, ErrorCode::Cancel);
                    self.finish_stream(env, key);
                } else {
                    s.phase = Phase::Discarding;
                    self.error(env, key, StatusCode::PAYLOAD_TOO_LARGE);
                }
                return;
            }
        }
        match &mut s.phase {
            Phase::Receiving { body, .. } => {
                if body.len() as u64 + n as u64 > max_body {
                    self.gathered -= body.len() as u64;
                    s.phase = Phase::Discarding;
                    self.codec.release(id, n);
                    self.error(env, key, StatusCode::PAYLOAD_TOO_LARGE);
                    return;
                }
                body.extend_from_slice(&data);
                self.gathered += n as u64;
                if self.gathered <= max_body {
                    self.codec.release(id, n);
                } else {
                    self.held.push((id, n));
                }
                if end {
                    let Phase::Receiving { mut req, body } =
                        std::mem::replace(&mut s.phase, Phase::Discarding)
                    else {
                        return;
                    };
                    self.gathered -= body.len() as u64;
                    *req.body_mut() = Body::Bytes(body.freeze());
                    let reply = app.call(*req);
                    self.answer(env, key, reply, true);
                }
            }
            Phase::Task { slot, unreleased, .. } if !slot.state.body_ended => {
                if n > 0 {
                    slot.state.push_body(data);
                }
                if end {
                    slot.state.body_ended = true;
                    slot.state.owe_body = true;
                }
                if slot.state.body_full() {
                    *unreleased += n;
                } else {
                    self.codec.release(id, n);
                }
            }
            _ => self.codec.release(id, n),
        }
    }

    /// Gives back windows held while gathered bodies were over the bound, and those of
    /// tasks that took their body.
    fn release_held(&mut self, env: &Env) {
        if !self.held.is_empty() && self.gathered <= env.opts.limits.max_body {
            for (id, n) in self.held.drain(..) {
                self.codec.release(id, n);
            }
        }
        for (_, s) in self.streams.iter_mut() {
            if let Phase::Task { slot, unreleased, .. } = &mut s.phase {
                if *unreleased > 0 && !slot.state.body_full() {
                    self.codec.release(s.id, std::mem::take(unreleased));
                }
            }
        }
    }

    /// Files a handler's reply for stream `key`. `body_ended`: the request body is all in.
    fn answer(&mut self, env: &mut Env, key: usize, reply: Reply, body_ended: bool) {
        match reply {
            Reply::Now(resp) => {
                let (parts, body) = resp.into_parts();
                self.respond(env, key, parts.status, &parts.headers, None, body);
                self.codec.recycle_headers(parts.headers);
            }
            Reply::Prepared { status, fields, body } => {
                self.respond(env, key, status, &HeaderMap::new(), Some(&fields), body);
            }
            Reply::Later(deferred) => self.streams[key].phase = Phase::Waiting(deferred),
            Reply::Task(task) => {
                let s = &mut self.streams[key];
                let mut state = TaskState::new(s.asked.is_head());
                state.body_ended = body_ended;
                let asked = Asked {
                    method: s.asked.method.clone(),
                    version: Version::HTTP_2,
                    keep_alive: true,
                    uri: None,
                    started: s.asked.started,
                    meta: crate::log_format::Meta::default(),
                };
                s.phase = Phase::Task {
                    slot: Box::new(TaskSlot { task, state, asked }),
                    out: Output::new(0),
                    head_sent: false,
                    unreleased: 0,
                };
            }
        }
    }

    /// A deferred answer arrived; returns whether a stream was waiting for it.
    pub(crate) fn handle_finished(&mut self, env: &mut Env, done: Finished) -> bool {
        let Message::Response(response) = done.what else { return false };
        let found = self.streams.iter().find_map(|(k, s)| match &s.phase {
            Phase::Waiting(d) if Arc::ptr_eq(&d.shared, &done.shared) => Some(k),
            _ => None,
        });
        let Some(key) = found else { return false };
        self.answer(env, key, Reply::Now(response), true);
        true
    }

    /// The server's own answer (431, 413, a task's 502).
    fn error(&mut self, env: &mut Env, key: usize, status: StatusCode) {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        let body = Body::Bytes(Bytes::from(crate::status_text(status).to_vec()));
        self.respond(env, key, status, &h, None, body);
    }

    // ---- Responses ------------------------------------------------------------------------

    /// Sends the head of stream `key`'s response and queues its body.
    fn respond(
        &mut self,
        env: &mut Env,
        key: usize,
        status: StatusCode,
        headers: &HeaderMap,
        prepared: Option<&PreparedFields>,
        body: Body,
    ) {
        let s = &mut self.streams[key];
        let len = body.len();
        let no_body = s.asked.method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || status.is_informational()
            || len == Some(0);
        s.status = status;
        // No length on answers that never have a body (RFC 9110 §8.6: a 304's would have to
        // be the full response's, which the empty body here is not).
        let length = match status {
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED => None,
            s if s.is_informational() => None,
            _ => len,
        };
        if write_head(
            &mut self.codec,
            env,
            s.id,
            status,
            headers,
            prepared,
            length,
            no_body,
            &mut self.out.wbuf,
        )
        .is_err()
        {
            self.finish_stream(env, key);
            return;
        }
        if no_body {
            self.finish_stream(env, key);
            return;
        }
        s.phase = Phase::Sending(match body {
            Body::Empty => Source::Bytes(Bytes::new()),
            Body::Bytes(b) => Source::Bytes(b),
            Body::File { file, offset, len } => Source::File { file, offset, left: len },
            Body::Stream(stream) => {
                let left = stream.size_hint();
                Source::Stream { stream, pending: Bytes::new(), left }
            }
        });
        // Small answers go out with their head, in this round.
        self.send_stream(env, key, true);
    }

    /// Frames what the streams have to send, round robin, one frame per stream a round,
    /// until the output is full or nothing more can go.
    fn pump(&mut self, env: &mut Env) {
        let mut keys = std::mem::take(&mut self.keys);
        self.pump_rounds(env, &mut keys);
        self.keys = keys;
    }

    fn pump_rounds(&mut self, env: &mut Env, keys: &mut Vec<usize>) {
        loop {
            if self.out.wbuf.len() >= WBUF_HIGH || self.streams.is_empty() {
                return;
            }
            keys.clear();
            keys.extend(self.streams.iter().map(|(k, _)| k));
            let start = self.next % keys.len();
            self.next = self.next.wrapping_add(1);
            let mut moved = false;
            for i in 0..keys.len() {
                if self.out.wbuf.len() >= WBUF_HIGH {
                    return;
                }
                moved |= self.send_stream(env, keys[(start + i) % keys.len()], false);
            }
            if !moved {
                return;
            }
        }
    }

    /// Frames stream `key`'s body: one frame, or (`all`) as much as the windows and the
    /// output allow. Returns whether anything was framed.
    fn send_stream(&mut self, env: &mut Env, key: usize, all: bool) -> bool {
        let H2Conn { codec, out, streams, frame_head, .. } = self;
        let Some(s) = streams.get_mut(key) else { return false };
        let wbuf = &mut out.wbuf;
        let mut moved = false;
        let outcome = loop {
            let step = match &mut s.phase {
                Phase::Sending(src) => frame_source(codec, wbuf, frame_head, s.id, src),
                Phase::Task { slot, out: task_out, head_sent, .. } => {
                    if !*head_sent {
                        let Some(head) = slot.state.h2_head.take() else { break Framed::Nothing };
                        let (status, headers, len) = *head;
                        s.status = status;
                        if write_head(codec, env, s.id, status, &headers, None, len, false, wbuf).is_err() {
                            break Framed::Failed;
                        }
                        *head_sent = true;
                        moved = true;
                    }
                    let step = frame_task_output(codec, wbuf, frame_head, s.id, task_out);
                    if let Framed::Some(_) = step {
                        s.owe_room = true;
                    }
                    match step {
                        Framed::Nothing
                            if matches!(slot.state.done, Some(Done::Finished)) && !task_out.has_output() =>
                        {
                            match codec.send_data(s.id, &[], true, wbuf) {
                                Ok(()) => Framed::Ended,
                                Err(_) => Framed::Failed,
                            }
                        }
                        step => step,
                    }
                }
                _ => Framed::Nothing,
            };
            match step {
                Framed::Some(n) => {
                    s.sent += n as u64;
                    moved = true;
                    if !all || wbuf.len() >= WBUF_HIGH {
                        break Framed::Some(0);
                    }
                }
                Framed::Ended => break Framed::Ended,
                Framed::Failed => break Framed::Failed,
                Framed::Nothing => break Framed::Nothing,
                Framed::Last(n) => {
                    s.sent += n as u64;
                    break Framed::Ended;
                }
            }
        };
        match outcome {
            Framed::Ended => {
                self.finish_stream(env, key);
                true
            }
            Framed::Failed => {
                self.codec.reset(self.streams[key].id, ErrorCode::InternalError);
                self.finish_stream(env, key);
                true
            }
            _ => moved,
        }
    }

    /// Stream `key` is over, complete or not: logged if an answer started, its work
    /// dropped (a deferred answer or a task is cancelled by dropping it).
    fn finish_stream(&mut self, env: &mut Env, key: usize) {
        let Some(s) = self.streams.try_remove(key) else { return };
        let answered = !matches!(s.phase, Phase::Receiving { .. } | Phase::Waiting(_))
            && !matches!(&s.phase, Phase::Task { head_sent: false, .. });
        if let Phase::Receiving { body, .. } = &s.phase {
            self.gathered -= body.len() as u64;
        }
        if answered {
            env.log.record(&self.peer, env.clock.clf(), &s.asked, s.status, s.sent);
        }
        if !s.remote_done || !answered {
            // Tell the client we will not answer (or read) more of it; the codec knows
            // whether the stream is still open and sends nothing otherwise.
            if !answered {
                self.codec.reset(s.id, ErrorCode::Cancel);
            }
        }
    }

    // ---- Tasks ----------------------------------------------------------------------------

    /// A stream whose task is owed a call (start, body, room), with that call.
    pub(crate) fn owed_task(&mut self) -> Option<(usize, Owed)> {
        for (k, s) in self.streams.iter_mut() {
            if let Phase::Task { slot, .. } = &s.phase {
                if slot.state.done.is_some() {
                    continue;
                }
                if slot.state.owe_start {
                    return Some((k, Owed::Start));
                }
                if slot.state.owe_body {
                    return Some((k, Owed::Body));
                }
                if std::mem::take(&mut s.owe_room) {
                    return Some((k, Owed::Room));
                }
            }
        }
        None
    }

    /// Stream keys with a running task (for a timeout).
    pub(crate) fn task_keys(&self) -> Vec<usize> {
        self.streams.iter().filter(|(_, s)| matches!(s.phase, Phase::Task { .. })).map(|(k, _)| k).collect()
    }

    /// Stream `key`'s task, its state and its output, to call it.
    pub(crate) fn task_mut(&mut self, key: usize) -> Option<(&mut TaskSlot, &mut Output)> {
        match &mut self.streams.get_mut(key)?.phase {
            Phase::Task { slot, out, .. } => Some((slot, out)),
            _ => None,
        }
    }

    /// The waker of stream `key`'s task, if it made one.
    pub(crate) fn task_waker(&self, key: usize) -> Option<&Arc<crate::mailbox::Shared>> {
        match &self.streams.get(key)?.phase {
            Phase::Task { slot, .. } => slot.state.wake.as_ref(),
            _ => None,
        }
    }

    /// After a task ran: note its progress, and file how it ended if it did.
    pub(crate) fn task_ran(&mut self, env: &mut Env, app: &mut impl App, key: usize) -> bool {
        let Some(s) = self.streams.get_mut(key) else { return false };
        let Phase::Task { slot, head_sent, .. } = &mut s.phase else { return false };
        let moved = std::mem::take(&mut slot.state.progress);
        self.progress |= moved;
        match slot.state.done.take() {
            None => {}
            Some(Done::Finished) => {
                slot.state.done = Some(Done::Finished);
                if !*head_sent && slot.state.h2_head.is_none() {
                    self.error(env, key, StatusCode::INTERNAL_SERVER_ERROR);
                    return moved;
                }
                self.send_stream(env, key, true);
            }
            Some(Done::Failed(status)) => {
                if *head_sent || slot.state.h2_head.is_some() {
                    self.codec.reset(s.id, ErrorCode::InternalError);
                    self.finish_stream(env, key);
                } else {
                    self.error(env, key, status);
                }
            }
            Some(Done::Redispatch(req)) => {
                let reply = app.call(*req);
                self.answer(env, key, reply, true);
            }
        }
        moved
    }
}

/// What a task is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owed {
    Start,
    Body,
    Room,
}

/// `uri`'s path and query alone.
fn origin_form(uri: &http::Uri) -> http::Uri {
    uri.path_and_query().map_or_else(|| http::Uri::from_static("/"), |pq| http::Uri::from(pq.clone()))
}

/// Encodes a response head into HEADERS: `:status`, `server`, `date`, the length, the
/// handler's fields (without connection-specific ones, RFC 9113 §8.2.2), HSTS over TLS.
#[allow(clippy::too_many_arguments)]
fn write_head(
    codec: &mut Connection,
    env: &Env,
    id: StreamId,
    status: StatusCode,
    headers: &HeaderMap,
    prepared: Option<&PreparedFields>,
    len: Option<u64>,
    end_stream: bool,
    out: &mut Vec<u8>,
) -> Result<(), pollux_h2::SendError> {
    let server = env.opts.server_name.as_bytes();
    let date = env.clock.http();
    let hsts = env.hsts_value();
    let own_length = !headers.contains_key(header::CONTENT_LENGTH);
    codec.send_headers(id, end_stream, out, |f| {
        f.status(status.as_u16());
        if !server.is_empty() {
            f.field(b"server", server);
        }
        f.field(b"date", date);
        if let (Some(n), true) = (len, own_length) {
            f.field(b"content-length", itoa::Buffer::new().format(n).as_bytes());
        }
        for (n, v) in headers {
            if !connection_specific(n) {
                f.field(n.as_str().as_bytes(), v.as_bytes());
            }
        }
        if let Some(p) = prepared {
            for (n, v) in p.iter() {
                if !connection_specific(n) && n != header::CONTENT_LENGTH {
                    f.field(n.as_str().as_bytes(), v.as_bytes());
                }
            }
        }
        if let Some(v) = hsts {
            f.field(b"strict-transport-security", v);
        }
    })
}

/// Payload bytes the next DATA frame may carry for the output to reach exactly `WBUF_HIGH`.
///
/// Why exactly: over TLS the output becomes records of 16 KiB, and a batch that overshoots a
/// multiple of that by the few bytes of a frame header leaves a record of a few bytes for the
/// next write. Each such record costs the client a read and a decryption of its own: a 32 MiB
/// download measured 105,410 client reads against h2o's 83,128 before, one 16 KiB record to
/// two reads after (`strace -c h2load`).
fn room(wbuf: &[u8]) -> usize {
    WBUF_HIGH.saturating_sub(wbuf.len() + 9)
}

/// What one framing step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framed {
    /// Nothing could go (no bytes yet, or a window is shut).
    Nothing,
    /// A frame of this many body bytes.
    Some(usize),
    /// The last frame, of this many body bytes (END_STREAM).
    Last(usize),
    /// The stream ended (END_STREAM sent).
    Ended,
    /// The body cannot be completed (a file that shrank, a stream that failed, a stream the
    /// codec no longer sends on): the stream is reset.
    Failed,
}

/// Frames the next piece of a response body: one DATA frame, as large as the windows, the
/// peer's frame size and the piece allow.
fn frame_source(
    codec: &mut Connection,
    wbuf: &mut Vec<u8>,
    frame_head: &mut Vec<u8>,
    id: StreamId,
    src: &mut Source,
) -> Framed {
    let cap = codec.send_capacity(id).min(codec.peer_max_frame_size()).min(room(wbuf));
    match src {
        Source::Bytes(b) => {
            let n = b.len().min(cap);
            if n == 0 && !b.is_empty() {
                return Framed::Nothing;
            }
            let end = n == b.len();
            if codec.send_data(id, &b[..n], end, wbuf).is_err() {
                return Framed::Failed;
            }
            b.advance(n);
            if end {
                Framed::Last(n)
            } else {
                Framed::Some(n)
            }
        }
        Source::File { file, offset, left } => {
            let n = (*left).min(cap as u64) as usize;
            if n == 0 {
                return Framed::Nothing;
            }
            let end = n as u64 == *left;
            if frame_file(codec, wbuf, frame_head, id, file, *offset, n, end).is_err() {
                return Framed::Failed;
            }
            *offset += n as u64;
            *left -= n as u64;
            if end {
                Framed::Last(n)
            } else {
                Framed::Some(n)
            }
        }
        Source::Stream { stream, pending, left } => {
            while pending.is_empty() {
                match stream.next_chunk() {
                    Some(Ok(b)) => {
                        let take = left.map_or(b.len(), |l| (l.min(b.len() as u64)) as usize);
                        if let Some(l) = left.as_mut() {
                            *l -= take as u64;
                        }
                        *pending = b.slice(..take);
                        if take == 0 && left.is_some_and(|l| l == 0) {
                            break;
                        }
                    }
                    Some(Err(_)) => return Framed::Failed,
                    None if left.is_some_and(|l| l > 0) => return Framed::Failed,
                    None => break,
                }
            }
            if pending.is_empty() {
                // The stream ended (or gave all it promised).
                return match codec.send_data(id, &[], true, wbuf) {
                    Ok(()) => Framed::Ended,
                    Err(_) => Framed::Failed,
                };
            }
            let n = pending.len().min(cap);
            if n == 0 {
                return Framed::Nothing;
            }
            if codec.send_data(id, &pending[..n], false, wbuf).is_err() {
                return Framed::Failed;
            }
            pending.advance(n);
            Framed::Some(n)
        }
    }
}

/// Frames the next piece of what a task produced: bytes it wrote, then a file it handed
/// over. Never the end: that is the task's to say.
fn frame_task_output(
    codec: &mut Connection,
    wbuf: &mut Vec<u8>,
    frame_head: &mut Vec<u8>,
    id: StreamId,
    out: &mut Output,
) -> Framed {
    let cap = codec.send_capacity(id).min(codec.peer_max_frame_size()).min(room(wbuf));
    if out.wpos < out.wbuf.len() {
        let n = (out.wbuf.len() - out.wpos).min(cap);
        if n == 0 {
            return Framed::Nothing;
        }
        if codec.send_data(id, &out.wbuf[out.wpos..out.wpos + n], false, wbuf).is_err() {
            return Framed::Failed;
        }
        out.advance(n);
        return Framed::Some(n);
    }
    match out.sending.as_mut() {
        Some(Sending::File { file, offset, left, .. }) if *left > 0 => {
            let n = (*left).min(cap as u64) as usize;
            if n == 0 {
                return Framed::Nothing;
            }
            if frame_file(codec, wbuf, frame_head, id, file, *offset, n, false).is_err() {
                return Framed::Failed;
            }
            *offset += n as u64;
            *left -= n as u64;
            out.written += n as u64;
            Framed::Some(n)
        }
        Some(_) => {
            out.sending = None;
            Framed::Nothing
        }
        None => Framed::Nothing,
    }
}

/// One DATA frame of `n` bytes of `file` from `offset`, read straight into the output behind
/// its frame header. On failure nothing is left in the output.
#[allow(clippy::too_many_arguments)]
fn frame_file(
    codec: &mut Connection,
    wbuf: &mut Vec<u8>,
    frame_head: &mut Vec<u8>,
    id: StreamId,
    file: &std::fs::File,
    offset: u64,
    n: usize,
    end: bool,
) -> Result<(), ()> {
    let start = wbuf.len();
    wbuf.resize(start + 9 + n, 0);
    if file.read_exact_at(&mut wbuf[start + 9..], offset).is_err() {
        // The file shrank under us: the promised body cannot be completed.
        wbuf.truncate(start);
        return Err(());
    }
    frame_head.clear();
    if codec.data_frame_header(id, n, end, frame_head).is_err() || frame_head.len() != 9 {
        wbuf.truncate(start);
        return Err(());
    }
    wbuf[start..start + 9].copy_from_slice(frame_head);
    Ok(())
}
