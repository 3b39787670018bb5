//! One HTTP/1.1 connection: reading, decoding, calling the handler, writing, in order.
//!
//! The connection is a small struct while idle (socket, peer, two flag bytes); everything a
//! busy connection needs — buffers, the decoder, the response being sent — lives in an
//! [`Active`] box taken from the worker's pool when bytes arrive and given back when the
//! connection goes idle again.
//!
//! Each time round ([`Conn::run`]) the connection writes what is pending, decodes and answers
//! every complete request in its read buffer (pipelining: all answers of one read go out in one
//! `write`), and reads more only when nothing is waiting to be written — which is also the
//! backpressure: a client that does not read our answers stops being read.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use pollux_http1::{Event, RequestDecoder, RequestHead};
use pollux_reactor::mio::net::TcpStream;

use crate::handler::{Deferred, Finished, Message};
use crate::io::{flush, read_some, Flushed, Read};
use crate::respond::{error_response, finish, respond, Answer, Asked};
use crate::service::Env;
use crate::task::TaskState;
use crate::Task;
use crate::{Body, BodyStream, Handler};
use pollux_http1::BodyKind;

/// Answers of one batch are gathered up to this size before they are written.
pub(crate) const WBUF_HIGH: usize = 64 * 1024;
/// In-memory bodies above this size are written from their own buffer (see
/// [`Sending::Bytes`]); smaller ones are copied so pipelined answers share one write.
pub(crate) const INLINE_BYTES: usize = 16 * 1024;
/// Files up to this size are copied into the write buffer (one `pread`, batched with the other
/// answers); larger ones go out with `sendfile`.
pub(crate) const INLINE_FILE: u64 = 16 * 1024;
/// Free space the read buffer offers each `read`.
pub(crate) const READ_CHUNK: usize = 8 * 1024;

/// Readiness bits remembered between events (edge-triggered: an edge is reported once, and we
/// may not act on it at once, e.g. while our own answers wait to be written).
pub(crate) const CAN_READ: u8 = 1;
pub(crate) const CAN_WRITE: u8 = 2;
/// The peer's FIN was seen: read until 0, not just until a short read.
pub(crate) const HUP: u8 = 4;
/// Stopped at its turn budget with the socket still writable: run again next turn.
pub(crate) const YIELDED: u8 = 8;

/// Where the connection is in its life (RFC 9112 §9.3 persistence, §9.6 tear-down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Persistent: requests are read and answered.
    Open,
    /// A final answer says `Connection: close` (or the peer is gone): finish writing, no more
    /// requests.
    Closing,
    /// Write side shut down; discarding the client's bytes until it closes or the linger timer
    /// fires, so our last answer is not destroyed by a reset (RFC 9112 §9.6).
    Lingering,
    /// Finished; the service removes it.
    Closed,
}

/// What the connection waits for, and so which timer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The rest of a request head (header timeout, 408).
    Head,
    /// The next request on a persistent connection (keep-alive timeout).
    Idle,
    /// More of a request body (body timeout, 408).
    Body,
    /// The client to take our bytes (send timeout).
    Send,
    /// A deferred answer (no timer: how long work may take is the application's business).
    Handler,
    /// A worker-local task to produce or take bytes (`Options::task_timeout`).
    Task,
    /// The client to close after our last answer.
    Linger,
    /// Nothing: closed.
    Nothing,
}

pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    /// This connection's key in the worker's slab, which deferred answers come back to.
    pub(crate) token: usize,
    pub(crate) active: Option<Box<Active>>,
    pub(crate) state: State,
    pub(crate) ready: u8,
    /// The peer closed its side: after our pending answers, close without lingering.
    peer_done: bool,
    /// Bytes written by the active boxes this connection had before the current one.
    written_before: u64,
}

/// The parts of a connection that only a busy connection needs.
pub(crate) struct Active {
    pub(crate) rbuf: BytesMut,
    pub(crate) wbuf: Vec<u8>,
    pub(crate) wpos: usize,
    pub(crate) decoder: RequestDecoder,
    pub(crate) request: Option<InFlight>,
    pub(crate) sending: Option<Sending>,
    /// A request whose answer was deferred; nothing after it is decoded until it arrives.
    pub(crate) waiting: Option<Waiting>,
    /// A request answered by a worker-local task; nothing after it is decoded until it is done.
    pub(crate) task: Option<Box<TaskSlot>>,
    /// The rest of a streamed request body that no task wants (the handler answered at once).
    pub(crate) discard_body: bool,
    /// The connection wrote bytes while a task runs: the task is owed `on_room`.
    pub(crate) owe_room: bool,
    /// Bytes written to the socket while this box served the connection.
    pub(crate) written: u64,
    /// The access-log line of the large body being sent: written when the body is out, or,
    /// if the connection ends first, with the bytes the client acknowledged.
    pub(crate) log_pending: Option<PendingLog>,
}

/// An access-log line waiting for its byte count (see [`Active::log_pending`]).
pub(crate) struct PendingLog {
    pub(crate) method: http::Method,
    pub(crate) uri: http::Uri,
    pub(crate) version: http::Version,
    pub(crate) status: StatusCode,
    /// Where the body starts in the bytes this box writes (`Active::written` counts them).
    pub(crate) body_start: u64,
}

/// A running task with what the connection keeps for it. Dropping it aborts the task.
pub(crate) struct TaskSlot {
    pub(crate) task: Box<dyn Task>,
    pub(crate) state: TaskState,
    pub(crate) asked: Asked,
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TaskSlot {
    /// Whether the connection may decode more of this request (its body) now.
    fn wants_body(&self) -> bool {
        !self.state.body_ended && !self.state.body_full()
    }
}

/// A deferred answer the connection waits for. Dropping it (the connection closed or was
/// recycled) drops the [`Deferred`], which tells the responder's side not to bother.
pub(crate) struct Waiting {
    pub(crate) asked: Asked,
    pub(crate) deferred: Deferred,
}

pub(crate) struct InFlight {
    pub(crate) head: RequestHead,
    pub(crate) body: BodyParts,
}

/// A body as it arrives: usually one zero-copy piece of the read buffer.
pub(crate) enum BodyParts {
    None,
    One(Bytes),
    Many(BytesMut),
}

/// A response body that does not fit the write buffer, sent after it.
pub(crate) enum Sending {
    /// A large in-memory body: written straight from its `Bytes` (with the head, in one
    /// `writev`) instead of being copied into the write buffer.
    Bytes(Bytes),
    File {
        file: std::sync::Arc<std::fs::File>,
        offset: u64,
        left: u64,
        /// `TCP_CORK` is set for the length of this body (see `io::flush`).
        corked: bool,
    },
    Stream {
        stream: Box<dyn BodyStream>,
        chunked: bool,
        left: Option<u64>,
    },
}

impl Active {
    pub(crate) fn new(decoder: RequestDecoder) -> Box<Active> {
        Box::new(Active {
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(READ_CHUNK),
            wpos: 0,
            decoder,
            request: None,
            sending: None,
            waiting: None,
            task: None,
            discard_body: false,
            owe_room: false,
            written: 0,
            log_pending: None,
        })
    }

    /// Makes a used box fit for the pool; `false` if it should rather be dropped (it grew big
    /// serving something large, and the pool must not pin that memory).
    pub(crate) fn reset(&mut self) -> bool {
        self.rbuf.clear();
        self.wbuf.clear();
        self.wpos = 0;
        self.decoder.reset();
        self.request = None;
        self.sending = None;
        self.waiting = None;
        self.task = None;
        self.discard_body = false;
        self.owe_room = false;
        self.written = 0;
        self.log_pending = None;
        self.rbuf.capacity() <= 64 * 1024 && self.wbuf.capacity() <= 256 * 1024
    }

    pub(crate) fn has_output(&self) -> bool {
        self.wpos < self.wbuf.len() || self.sending.is_some()
    }

    /// Nothing buffered, nothing half-done: the box can go back to the pool.
    fn is_idle(&self) -> bool {
        !self.has_output()
            && self.rbuf.is_empty()
            && self.request.is_none()
            && self.waiting.is_none()
            && self.task.is_none()
            && self.decoder.is_idle()
    }
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, token: usize) -> Conn {
        Conn {
            stream,
            peer,
            token,
            active: None,
            state: State::Open,
            ready: 0,
            peer_done: false,
            written_before: 0,
        }
    }

    /// Whether a worker-local task answers the current request.
    /// The running task's waker, if it made one.
    pub(crate) fn task_waker(&self) -> Option<&Arc<crate::handler::Shared>> {
        self.active.as_ref()?.task.as_ref()?.state.wake.as_ref()
    }

    pub(crate) fn has_task(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.task.is_some())
    }

    /// Whether the connection holds no buffers and no partial request.
    pub(crate) fn is_idle(&self) -> bool {
        self.active.as_ref().is_none_or(|a| a.is_idle())
    }

    /// What the connection now waits for; the service arms the matching timer.
    pub(crate) fn wait(&self) -> Wait {
        match self.state {
            State::Closed => Wait::Nothing,
            State::Lingering => Wait::Linger,
            State::Closing => Wait::Send,
            State::Open => match &self.active {
                None => Wait::Idle,
                Some(a) if a.has_output() => Wait::Send,
                Some(a) if a.waiting.is_some() => Wait::Handler,
                Some(a) if a.task.as_ref().is_some_and(|t| t.wants_body()) => Wait::Body,
                Some(a) if a.task.is_some() => Wait::Task,
                Some(a) if a.request.is_some() => Wait::Body,
                Some(a) if a.is_idle() => Wait::Idle,
                Some(_) => Wait::Head,
            },
        }
    }

    /// Drives the connection as far as it can go without blocking. Returns whether any byte
    /// moved (timers of the stall kind restart on progress).
    // Inlined into the service's `drive` (its other caller is the cold task path): one frame
    // less per event on the hot path.
    #[inline(always)]
    pub(crate) fn run<H: Handler>(&mut self, env: &mut Env<H>, draining: bool) -> bool {
        let mut progress = false;
        match self.run_inner(env, &mut progress) {
            Ok(()) => {}
            Err(_) => self.state = State::Closed,
        }
        if self.state == State::Open && draining && self.is_idle() && self.active.is_none() && self.peer_done
        {
            // Graceful shutdown, and the client closed its side: nothing more will come.
            self.state = State::Closed;
        }
        if self.state == State::Closed || self.is_idle() {
            self.release(env);
        }
        progress
    }

    fn run_inner<H: Handler>(&mut self, env: &mut Env<H>, progress: &mut bool) -> io::Result<()> {
        loop {
            if self.state == State::Closed {
                return Ok(());
            }
            let Some(a) = self.active.as_mut() else {
                if self.ready & CAN_READ == 0 {
                    return Ok(());
                }
                self.active = Some(env.take_active());
                continue;
            };
            if a.has_output() {
                if self.ready & CAN_WRITE == 0 {
                    return Ok(());
                }
                let pending = a.wbuf.len() - a.wpos;
                let had_body = a.sending.is_some();
                let flushed = flush(&mut self.stream, a, progress)?;
                if a.task.is_some() && (a.wbuf.len() - a.wpos < pending || had_body && a.sending.is_none()) {
                    // The client took bytes: a task waiting for room may go on.
                    a.owe_room = true;
                }
                match flushed {
                    Flushed::All => {
                        if let Some(p) = a.log_pending.take() {
                            let sent = a.written.saturating_sub(p.body_start);
                            record(env, &self.peer, p, sent);
                        }
                    }
                    Flushed::Yield => {
                        self.ready |= YIELDED;
                        return Ok(());
                    }
                    Flushed::Blocked => {
                        self.ready &= !CAN_WRITE;
                        return Ok(());
                    }
                }
            }
            match self.state {
                State::Open => {}
                State::Closing => {
                    if self.peer_done {
                        self.state = State::Closed;
                        return Ok(());
                    }
                    // Our answer is out; now let the client see the end of it (FIN) while we
                    // keep reading, so unread bytes cannot turn our close into a reset.
                    let _ = self.stream.shutdown(std::net::Shutdown::Write);
                    self.state = State::Lingering;
                    continue;
                }
                State::Lingering => {
                    a.rbuf.clear();
                    match read_some(&mut self.stream, a, &mut self.ready)? {
                        Read::Bytes => continue,
                        Read::Drained => return Ok(()),
                        Read::Eof => {
                            self.state = State::Closed;
                            return Ok(());
                        }
                    }
                }
                State::Closed => return Ok(()),
            }
            if self.process(env) {
                continue;
            }
            if self
                .active
                .as_ref()
                .is_some_and(|a| a.waiting.is_some() || a.task.as_ref().is_some_and(|t| !t.wants_body()))
            {
                // Not a byte more until the deferred answer is in: the answers after it must
                // wait anyway, and reading on would let a client pile up requests. A FIN is no
                // reason to give up (a client may half-close and still read), a reset is: the
                // answer could never be delivered, and dropping the wait cancels the work.
                if self.ready & HUP != 0 && matches!(self.stream.take_error(), Ok(Some(_)) | Err(_)) {
                    self.state = State::Closed;
                }
                return Ok(());
            }
            if self.peer_done {
                // Everything the peer sent is answered; a partial request will never finish.
                self.state = State::Closed;
                return Ok(());
            }
            let Some(a) = self.active.as_mut() else { return Ok(()) };
            if self.ready & CAN_READ == 0 {
                return Ok(());
            }
            match read_some(&mut self.stream, a, &mut self.ready)? {
                Read::Bytes => *progress = true,
                Read::Drained => return Ok(()),
                // Answer what is complete, then close (see above).
                Read::Eof => self.peer_done = true,
            }
        }
    }

    /// Decodes and answers the complete requests in the read buffer. Returns whether output
    /// was produced (so the caller writes before reading more).
    fn process<H: Handler>(&mut self, env: &mut Env<H>) -> bool {
        let Some(a) = self.active.as_mut() else { return false };
        let start = a.wbuf.len();
        while self.state == State::Open
            && a.sending.is_none()
            && a.waiting.is_none()
            && a.task.as_ref().is_none_or(|t| t.wants_body())
            && a.wbuf.len() < WBUF_HIGH
        {
            if a.rbuf.is_empty() && a.decoder.is_idle() {
                // Between keep-alive requests with nothing read: the decoder has nothing to
                // say, and asking it costs a call with a large return value.
                break;
            }
            match a.decoder.decode(&mut a.rbuf) {
                Ok(None) => break,
                Ok(Some(Event::Head(head))) => {
                    // RFC 9110 §10.1.1: send 100 only if the client is waiting for it, i.e. the
                    // body has not started arriving yet. Oversized bodies were refused (413)
                    // by the decoder before we get here.
                    if head.expect_continue && a.rbuf.is_empty() {
                        a.wbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    if head.body != BodyKind::Empty
                        && env.handler.streams_body(&head.method, &head.uri, &head.headers)
                    {
                        let fd = self.stream.as_raw_fd();
                        Self::answer_streamed(&mut self.state, env, a, head, &self.peer, self.token, fd);
                    } else {
                        // Built in place: a request head is a few hundred bytes to copy.
                        a.request = Some(InFlight { head, body: BodyParts::None });
                    }
                }
                Ok(Some(Event::Data(bytes))) => {
                    if let Some(t) = a.task.as_mut().filter(|t| !t.state.body_ended) {
                        t.state.push_body(bytes);
                    } else if let Some(r) = a.request.as_mut() {
                        r.body.push(bytes);
                    }
                }
                Ok(Some(Event::End(_trailers))) => {
                    if let Some(t) = a.task.as_mut().filter(|t| !t.state.body_ended) {
                        t.state.body_ended = true;
                        t.state.owe_body = true;
                        continue;
                    }
                    if std::mem::take(&mut a.discard_body) {
                        continue;
                    }
                    let Some(r) = a.request.take() else { continue };
                    match respond(env, a, r, &self.peer, self.token, self.stream.as_raw_fd()) {
                        // The common case, without moving the answer around.
                        Answer::Sent { close: false } => {}
                        answer => Self::answered(&mut self.state, a, answer, true),
                    }
                }
                Err(e) => {
                    a.request = None;
                    error_response(env, a, &self.peer, e.status());
                    self.state = State::Closing;
                }
            }
        }
        a.wbuf.len() > start || a.sending.is_some()
    }

    /// A request whose handler takes the body as it comes: answered at the end of its head.
    /// Out of line, like everything about tasks, so the common path stays small enough for
    /// the handler to inline into it.
    #[cold]
    #[inline(never)]
    fn answer_streamed<H: Handler>(
        state: &mut State,
        env: &mut Env<H>,
        a: &mut Active,
        head: RequestHead,
        peer: &SocketAddr,
        token: usize,
        fd: RawFd,
    ) {
        let answer = respond(env, a, InFlight { head, body: BodyParts::None }, peer, token, fd);
        a.discard_body = !matches!(answer, Answer::Task(..));
        Self::answered(state, a, answer, false);
    }

    /// Files what became of a request handed to the handler. `body_ended`: its body is all in
    /// (a task gets nothing more).
    #[cold]
    pub(crate) fn answered(state: &mut State, a: &mut Active, answer: Answer, body_ended: bool) {
        match answer {
            Answer::Sent { close: true } => *state = State::Closing,
            Answer::Sent { close: false } => {}
            Answer::Waiting(asked, deferred) => a.waiting = Some(Waiting { asked, deferred }),
            Answer::Task(asked, task) => {
                let mut state = TaskState::new(asked.is_head());
                state.body_ended = body_ended;
                a.task = Some(Box::new(TaskSlot { task, state, asked }));
            }
        }
    }

    /// A deferred answer arrived from another thread: encode it if it is the one this
    /// connection waits for (a connection that gave up, or a recycled slot, ignores it).
    /// Returns whether it was taken.
    pub(crate) fn finished<H>(&mut self, env: &mut Env<H>, done: Finished) -> bool {
        let Some(a) = self.active.as_mut() else { return false };
        let Message::Response(response) = done.what else { return false };
        let Some(w) = a.waiting.take_if(|w| Arc::ptr_eq(&w.deferred.shared, &done.shared)) else {
            return false;
        };
        if finish(env, a, w.asked, response.into(), &self.peer) {
            self.state = State::Closing;
        }
        true
    }

    /// Called by the header or body timer: 408, then close.
    pub(crate) fn timeout_408<H: Handler>(&mut self, env: &mut Env<H>) {
        if self.state != State::Open {
            self.state = State::Closed;
            return;
        }
        let a = match self.active.as_mut() {
            Some(a) => a,
            None => self.active.insert(env.take_active()),
        };
        if a.has_output() {
            self.state = State::Closed;
            return;
        }
        a.request = None;
        error_response(env, a, &self.peer, StatusCode::REQUEST_TIMEOUT);
        self.state = State::Closing;
        self.ready |= CAN_WRITE;
    }

    /// Gives the active box back to the pool.
    fn release<H>(&mut self, env: &mut Env<H>) {
        if let Some(mut a) = self.active.take() {
            if let Some(p) = a.log_pending.take() {
                self.log_cut_short(env, &a, p);
            }
            self.written_before += a.written;
            env.put_active(a);
        }
    }

    /// The connection ends with a body still going out (client gone, send timeout, shutdown):
    /// the log says how much of it the client's TCP acknowledged, as near as the kernel tells
    /// (what we wrote also counts what still sat in our send buffer, megabytes of it).
    #[cold]
    fn log_cut_short<H>(&self, env: &mut Env<H>, a: &Active, p: PendingLog) {
        let written = a.written.saturating_sub(p.body_start);
        let sent = match bytes_acked(&self.stream) {
            Some(acked) => acked.saturating_sub(self.written_before + p.body_start).min(written),
            None => written,
        };
        record(env, &self.peer, p, sent);
    }

    /// Final clean-up before the connection is dropped.
    pub(crate) fn close<H>(&mut self, env: &mut Env<H>) {
        self.state = State::Closed;
        self.release(env);
    }
}

fn record<H>(env: &mut Env<H>, peer: &SocketAddr, p: PendingLog, sent: u64) {
    env.log.record(peer, env.clock.clf(), &p.method, &p.uri, p.version, p.status, sent);
}

/// Bytes of this connection the peer acknowledged (`tcpi_bytes_acked`, Linux 4.1); `None` if
/// the kernel does not say. It stays readable after a reset.
fn bytes_acked(stream: &TcpStream) -> Option<u64> {
    pollux_reactor::sys::tcp_bytes_acked(stream)
}

impl BodyParts {
    fn push(&mut self, b: Bytes) {
        *self = match std::mem::replace(self, BodyParts::None) {
            BodyParts::None => BodyParts::One(b),
            BodyParts::One(first) => {
                let mut m = BytesMut::with_capacity(first.len() + b.len());
                m.extend_from_slice(&first);
                m.extend_from_slice(&b);
                BodyParts::Many(m)
            }
            BodyParts::Many(mut m) => {
                m.extend_from_slice(&b);
                BodyParts::Many(m)
            }
        }
    }

    pub(crate) fn into_body(self) -> Body {
        match self {
            BodyParts::None => Body::Empty,
            BodyParts::One(b) => Body::Bytes(b),
            BodyParts::Many(m) => Body::Bytes(m.freeze()),
        }
    }
}
