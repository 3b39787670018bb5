//! One HTTP/1.1 connection as a state machine with no socket and no clock (sans-IO, the way
//! `pollux-tftp` and quinn-proto's `Connection` work).
//!
//! ```text
//!  bytes in:   read_buf() + handle_read() / handle_eof()       ┌──────────┐
//!  time in:    handle_timeout(now)                       ────► │          │
//!  answers in: handle_finished(msg)                      ────► │   Conn   │ ──► App::call(request)
//!                                                              │          │ ◄── Reply
//!  out:        poll(app) → Step::{Send, Read, ShutdownWrite,   └──────────┘
//!                                 Wait, Close}
//!              output()          what to send (a buffer, then a body or file region)
//!              update_timer(..)  the next deadline, and which timer it is
//! ```
//!
//! The driver (`drive.rs`) owns the socket through a [`crate::transport::Transport`] and does
//! what each [`Step`] asks. The application is reached through the [`App`] the driver lends
//! to `poll`: the server's one implementation (`service.rs`) is the only place a handler is
//! called, and the simulated-clock tests lend their own. Answers are encoded in `encode.rs`,
//! the only place a head is encoded.
//!
//! The connection is a small struct while idle; everything a busy connection needs — buffers,
//! the decoder, the request being answered — lives in an [`Active`] box taken from the
//! worker's pool when bytes arrive and given back when the connection goes idle again.
//!
//! Rules (RFC 9112): requests are answered in order (pipelining, §9.3.2), and all answers to
//! what one read brought go out together; persistence follows §9.3 and `Connection`; a
//! framing error ends the connection after its 4xx/5xx (§11.2); a connection that closes
//! after an answer shuts down its write side and discards what the client still sends for a
//! while (§9.6), so the answer is not destroyed by a reset. Nothing more is read while
//! answers wait to be written: a client that does not read is not read either.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode};
use pollux_http1::{encode_last_chunk, BodyKind, Event, Framing, RequestDecoder, RequestHead};
use pollux_reactor::Pool;

use crate::date::Clock;
use crate::encode::{self, internal_error, Asked, Outgoing, Stamp};
use crate::handler::{Deferred, Reply};
use crate::log::Log;
use crate::log_format::Meta;
use crate::mailbox::{Finished, Message};
use crate::output::{Output, WBUF_HIGH};
use crate::task::{Done, Task, TaskState};
use crate::transport::READ_CHUNK;
use crate::{headers, Body, Options};

/// How early a timer may fire and still count, in milliseconds: the reactor's timer wheel
/// keeps whole milliseconds of both the arming instant and the duration, so it can fire up to
/// (nearly) two before the exact deadline.
const TIMER_SLACK_MS: i32 = 2;

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
    /// Finished; the driver removes it.
    Closed,
}

/// What the connection waits for, and so which timer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The TLS handshake (its own timeout; then the connection is closed: it cannot carry
    /// an HTTP answer yet).
    Handshake,
    /// The rest of a request head (header timeout, 408).
    Head,
    /// The next request on a persistent connection (keep-alive timeout).
    Idle,
    /// Shutting down: one last short wait for a request already on its way
    /// (`Options::drain_idle`).
    Drain,
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

impl Wait {
    fn duration(self, opts: &Options) -> Option<Duration> {
        Some(match self {
            Wait::Handshake => opts.tls_handshake_timeout,
            Wait::Head => opts.header_timeout,
            Wait::Idle => opts.keepalive_timeout,
            Wait::Drain => opts.drain_idle.min(opts.grace),
            Wait::Body => opts.body_timeout,
            Wait::Send => opts.send_timeout,
            Wait::Task => opts.task_timeout,
            Wait::Linger => opts.linger,
            Wait::Handler | Wait::Nothing => return None,
        })
    }
}

/// The application, as the connection reaches it while it decodes (see [`Conn::poll`]).
/// A request is handed over where it is built, so its ~250 bytes are not moved through a
/// return value first (callgrind: ~80 instructions a request that way).
pub(crate) trait App {
    /// Whether the application takes this request's body as it arrives (see
    /// [`crate::Handler::streams_body`]); then it is called at the end of the head.
    fn streams_body(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> bool;
    /// Answers a request.
    fn call(&mut self, req: Request<Body>) -> Reply;
    /// The transport's TLS handshake finished; `info` is what it settled.
    fn handshake_done(&mut self, info: Option<crate::TlsInfo>) {
        let _ = info;
    }
}

/// What the connection needs next from its driver.
pub(crate) enum Step {
    /// Send what [`Conn::output`] holds, then report with [`Conn::handle_sent`].
    Send,
    /// Read into [`Conn::read_buf`], then [`Conn::handle_read`] or [`Conn::handle_eof`].
    Read,
    /// Shut down the write side (our FIN), then [`Conn::handle_write_shut`].
    ShutdownWrite,
    /// Nothing until an answer, a task or a timer moves (check the peer did not reset the
    /// connection meanwhile).
    Wait,
    /// Done: drop the connection.
    Close,
    /// The connection speaks HTTP/2 from here (the client's preface arrived, or ALPN chose
    /// `h2`): the driver hands [`Conn::take_read_buf`] to an HTTP/2 connection.
    Upgrade,
}

/// When a timer is due: milliseconds since the worker's epoch, wrapping. Four bytes where an
/// `Instant` is sixteen: a connection (socket, address, state, this) stays at 64 bytes in its
/// worker's table, which is what 10,000 idle connections cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline(u32);

/// What the driver does with the connection's timer after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerChange {
    /// The armed timer stands.
    Keep,
    /// Arm the timer for this wait, from now.
    Arm(Wait),
    /// No timer (a deferred answer).
    Cancel,
    /// The connection is closed.
    Remove,
}

/// What a timeout did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Not due (a stale timer): nothing happened.
    No,
    /// Handled by the connection (a 408, or closed).
    Handled,
    /// The task's timeout: the driver calls `Task::on_timeout`.
    Task,
}

/// Per-worker state every connection of the worker uses.
pub(crate) struct Env {
    pub(crate) opts: Arc<Options>,
    pub(crate) pool: Pool<Box<Active>>,
    /// Idle HTTP/2 connections' read and write buffers, for the next busy one.
    pub(crate) h2_bufs: Pool<(BytesMut, Vec<u8>)>,
    pub(crate) clock: Clock,
    pub(crate) log: Log,
    /// A graceful shutdown is under way: every answer closes its connection.
    pub(crate) draining: bool,
    /// What connections count their deadlines from (see [`Deadline`]).
    epoch: Instant,
    /// `Strict-Transport-Security: …\r\n`, or empty (`TlsOptions::hsts`).
    hsts: Vec<u8>,
    /// The worker's time for this turn (the HTTP/2 codec's flood budgets run on it).
    pub(crate) now: Instant,
    /// The connection being run is over TLS (set by the worker before it runs one): its
    /// responses carry `hsts`.
    pub(crate) secure: bool,
}

impl Env {
    pub(crate) fn new(opts: Arc<Options>, log: Log, pool_max: usize) -> Env {
        let clock = Clock::new(&opts.server_name);
        let mut hsts = Vec::new();
        if let Some(v) = opts.tls.as_ref().and_then(|t| t.hsts.as_ref()) {
            hsts.extend_from_slice(b"Strict-Transport-Security: ");
            hsts.extend_from_slice(v.as_bytes());
            hsts.extend_from_slice(b"\r\n");
        }
        let mut log = log;
        log.with_tls = opts.log_tls;
        Env {
            opts,
            pool: Pool::new(pool_max),
            h2_bufs: Pool::new(pool_max),
            clock,
            log,
            draining: false,
            epoch: Instant::now(),
            hsts,
            secure: false,
            now: Instant::now(),
        }
    }

    /// [`Env::now`] in milliseconds since the worker started.
    pub(crate) fn now_ms(&self) -> u64 {
        self.now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// The `Strict-Transport-Security` value for this connection's responses, if any.
    pub(crate) fn hsts_value(&self) -> Option<&[u8]> {
        const NAME: &[u8] = b"Strict-Transport-Security: ";
        (self.secure && !self.hsts.is_empty()).then(|| &self.hsts[NAME.len()..self.hsts.len() - 2])
    }

    /// `now` in milliseconds since the epoch, wrapping (see [`Deadline`]).
    fn ms(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_millis() as u32
    }

    fn take_active(&mut self) -> Box<Active> {
        let limits = self.opts.limits;
        self.pool.take_or(|| Active::new(RequestDecoder::new(limits)))
    }

    fn put_active(&mut self, mut a: Box<Active>, idle: bool) {
        if a.reset(idle) {
            self.pool.put(a);
        }
    }

    pub(crate) fn stamp(&self) -> Stamp<'_> {
        let extra = if self.secure { &self.hsts[..] } else { b"" };
        Stamp { clock: &self.clock, server: &self.opts.server_name, extra }
    }
}

pub(crate) struct Conn {
    pub(crate) peer: SocketAddr,
    pub(crate) active: Option<Box<Active>>,
    pub(crate) state: State,
    /// The peer closed its side: after our pending answers, close without lingering.
    peer_done: bool,
    /// Bytes written by the active boxes this connection had before the current one.
    written_before: u64,
    /// The timer that runs, and when it is due (two fields rather than an `Option` of a
    /// pair, which would take eight bytes where these take five).
    timer: Option<Wait>,
    deadline: Deadline,
    /// What carries the connection's bytes.
    pub(crate) layer: Layer,
}

/// What is under the HTTP of a connection, as far as the connection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// Plain TCP.
    Plain,
    /// Plain TCP on a listener that only redirects to HTTPS (`Options::redirect`).
    Redirect,
    /// A TLS handshake is under way: no request can arrive yet, and the handshake timeout runs.
    Handshake,
    /// An established TLS session: responses may carry `Strict-Transport-Security`.
    Tls,
    /// An established TLS session whose ALPN chose `h2`: HTTP/2 from the first byte.
    TlsH2,
    /// Handed over to HTTP/2 (see [`Step::Upgrade`]): this connection is no longer run.
    H2,
}

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The parts of a connection that only a busy connection needs.
pub(crate) struct Active {
    pub(crate) rbuf: BytesMut,
    pub(crate) out: Output,
    pub(crate) decoder: RequestDecoder,
    /// The request whose body is being read.
    request: Option<InFlight>,
    /// A request a task asked to be answered in its place (a CGI local redirect).
    redispatch: Option<(Box<Request<Body>>, Asked)>,
    /// A request whose answer was deferred; nothing after it is decoded until it arrives.
    waiting: Option<Waiting>,
    /// A request answered by a worker-local task; nothing after it is decoded until it is done.
    pub(crate) task: Option<Box<TaskSlot>>,
    /// The rest of a streamed request body that no task wants (the handler answered at once).
    discard_body: bool,
    /// The connection wrote bytes while a task runs: the task is owed `on_room`.
    pub(crate) owe_room: bool,
    /// The access-log line of the large body being sent: written when the body is out, or,
    /// if the connection ends first, with the bytes the client acknowledged.
    log_pending: Option<PendingLog>,
}

/// An access-log line waiting for its byte count (see [`Active::log_pending`]).
struct PendingLog {
    asked: Asked,
    status: StatusCode,
    /// Where the body starts in the bytes this box writes (`Output::written` counts them).
    body_start: u64,
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
struct Waiting {
    asked: Asked,
    deferred: Deferred,
}

struct InFlight {
    head: RequestHead,
    body: BodyParts,
}

/// A body as it arrives: usually one zero-copy piece of the read buffer.
enum BodyParts {
    None,
    One(Bytes),
    Many(BytesMut),
}

impl Active {
    fn new(decoder: RequestDecoder) -> Box<Active> {
        Box::new(Active {
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            out: Output::new(READ_CHUNK),
            decoder,
            request: None,
            redispatch: None,
            waiting: None,
            task: None,
            discard_body: false,
            owe_room: false,
            log_pending: None,
        })
    }

    /// Makes a used box fit for the pool; `false` if it should rather be dropped (it grew big
    /// serving something large, and the pool must not pin that memory). `idle`: it holds no
    /// request (see [`Active::is_idle`]), the usual case between keep-alive requests, which
    /// then skips clearing what is clear already (callgrind: ~50 instructions a request).
    fn reset(&mut self, idle: bool) -> bool {
        if !idle {
            self.rbuf.clear();
            self.decoder.reset();
            self.request = None;
            self.redispatch = None;
            self.waiting = None;
            self.task = None;
            self.discard_body = false;
            self.log_pending = None;
        }
        self.out.reset();
        self.owe_room = false;
        self.rbuf.capacity() <= 64 * 1024 && self.out.wbuf.capacity() <= 256 * 1024
    }

    /// Nothing buffered, nothing half-done: the box can go back to the pool.
    fn is_idle(&self) -> bool {
        !self.out.has_output()
            && self.rbuf.is_empty()
            && self.request.is_none()
            && self.redispatch.is_none()
            && self.waiting.is_none()
            && self.task.is_none()
            && self.decoder.is_idle()
    }

    /// Nothing after the current request may be read or decoded until its answer is in.
    fn blocked(&self) -> bool {
        self.waiting.is_some() || self.task.as_ref().is_some_and(|t| !t.wants_body())
    }
}

impl Conn {
    pub(crate) fn new(peer: SocketAddr) -> Conn {
        Conn {
            peer,
            active: None,
            state: State::Open,
            peer_done: false,
            written_before: 0,
            timer: None,
            deadline: Deadline(0),
            layer: Layer::Plain,
        }
    }

    /// A connection on a TLS listener: it waits for its handshake first.
    pub(crate) fn new_tls(peer: SocketAddr) -> Conn {
        Conn { layer: Layer::Handshake, ..Conn::new(peer) }
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.layer == Layer::Handshake
    }

    /// The transport finished its handshake: requests may come, under the header timeout.
    /// `h2`: ALPN chose HTTP/2.
    pub(crate) fn handle_handshake_done(&mut self, h2: bool) {
        self.layer = if h2 { Layer::TlsH2 } else { Layer::Tls };
    }

    /// The bytes read so far, for the HTTP/2 connection taking over (see [`Step::Upgrade`]);
    /// the connection's buffers go back to the pool.
    pub(crate) fn take_read_buf(&mut self, env: &mut Env) -> BytesMut {
        let Some(mut a) = self.active.take() else { return BytesMut::new() };
        let buf = std::mem::take(&mut a.rbuf);
        a.rbuf = BytesMut::with_capacity(READ_CHUNK);
        env.put_active(a, false);
        buf
    }

    /// Whether a fresh connection's first bytes are (or may still become) the HTTP/2
    /// preface: `Some(true)` all of it is in, `Some(false)` a prefix so far.
    fn preface(&self, env: &Env) -> Option<bool> {
        if !env.opts.http2 || self.layer == Layer::Redirect || self.written_before != 0 {
            return None;
        }
        let a = self.active.as_ref()?;
        if a.out.written != 0 || a.out.has_output() || !a.decoder.is_idle() || a.request.is_some() {
            return None;
        }
        let n = a.rbuf.len().min(PREFACE.len());
        (a.rbuf[..n] == PREFACE[..n]).then_some(n == PREFACE.len())
    }

    /// Arms the first timer (the head timeout runs from the accept).
    pub(crate) fn start(&mut self, env: &Env, now: Instant) -> TimerChange {
        let first = if self.is_handshaking() { Wait::Handshake } else { Wait::Head };
        self.arm(env, first, now)
    }

    pub(crate) fn has_task(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.task.is_some())
    }

    /// The running task's waker, if it made one.
    pub(crate) fn task_waker(&self) -> Option<&Arc<crate::mailbox::Shared>> {
        self.active.as_ref()?.task.as_ref()?.state.wake.as_ref()
    }

    /// Whether the connection holds no buffers and no partial request.
    pub(crate) fn is_idle(&self) -> bool {
        self.active.as_ref().is_none_or(|a| a.is_idle())
    }

    /// What the connection now waits for.
    pub(crate) fn wait(&self) -> Wait {
        match self.state {
            State::Closed => Wait::Nothing,
            State::Lingering => Wait::Linger,
            State::Closing => Wait::Send,
            State::Open if self.layer == Layer::Handshake => Wait::Handshake,
            State::Open => match &self.active {
                // A new connection (or TLS session) waits for its first request under the
                // header timeout, from the accept (or the handshake's end), however many
                // empty reads come meanwhile.
                None if self.written_before == 0 => Wait::Head,
                None => Wait::Idle,
                Some(a) if a.out.has_output() => Wait::Send,
                Some(a) if a.waiting.is_some() => Wait::Handler,
                Some(a) if a.task.as_ref().is_some_and(|t| t.wants_body()) => Wait::Body,
                Some(a) if a.task.is_some() => Wait::Task,
                Some(a) if a.request.is_some() => Wait::Body,
                Some(a) if a.is_idle() => Wait::Idle,
                Some(_) => Wait::Head,
            },
        }
    }

    // ---- Output -------------------------------------------------------------------------

    /// What to send ([`Step::Send`]).
    pub(crate) fn output(&mut self) -> Option<&mut Output> {
        self.active.as_mut().map(|a| &mut a.out)
    }

    /// The transport sent what it could of [`Conn::output`]: `all` when nothing is left,
    /// `moved` when any byte went.
    pub(crate) fn handle_sent(&mut self, env: &mut Env, all: bool, moved: bool) {
        let Some(a) = self.active.as_mut() else { return };
        if moved && a.task.is_some() {
            // The client took bytes: a task waiting for room may go on.
            a.owe_room = true;
        }
        if all {
            if let Some(p) = a.log_pending.take() {
                let sent = a.out.written.saturating_sub(p.body_start);
                record(&mut env.log, &env.clock, &self.peer, p, sent);
            }
        }
    }

    /// The transport failed (reset, broken pipe): nothing more can be delivered.
    pub(crate) fn handle_broken(&mut self) {
        self.state = State::Closed;
    }

    /// Our FIN is out ([`Step::ShutdownWrite`]).
    pub(crate) fn handle_write_shut(&mut self) {
        if self.state == State::Closing {
            self.state = State::Lingering;
        }
    }

    // ---- Input --------------------------------------------------------------------------

    /// Where the next read goes ([`Step::Read`]); takes a buffer box from the pool if the
    /// connection was idle.
    pub(crate) fn read_buf(&mut self, env: &mut Env) -> &mut BytesMut {
        &mut self.active.get_or_insert_with(|| env.take_active()).rbuf
    }

    /// Bytes arrived in [`Conn::read_buf`].
    pub(crate) fn handle_read(&mut self) {
        if self.state == State::Lingering {
            if let Some(a) = self.active.as_mut() {
                a.rbuf.clear();
            }
        }
    }

    /// The peer closed its side: answer what is complete, then close.
    pub(crate) fn handle_eof(&mut self) {
        self.peer_done = true;
        if self.state == State::Lingering {
            self.state = State::Closed;
        }
    }

    /// Answers what the read buffer holds (calling `app` for each complete request) and
    /// decides what happens next.
    #[inline(always)]
    pub(crate) fn poll(&mut self, env: &mut Env, app: &mut impl App) -> Step {
        loop {
            match self.state {
                State::Closed => return Step::Close,
                State::Lingering => return Step::Read,
                State::Closing => {
                    if self.active.as_ref().is_some_and(|a| a.out.has_output()) {
                        return Step::Send;
                    }
                    if self.peer_done {
                        self.state = State::Closed;
                        return Step::Close;
                    }
                    // Our answer is out; now let the client see the end of it (FIN) while we
                    // keep reading, so unread bytes cannot turn our close into a reset.
                    return Step::ShutdownWrite;
                }
                State::Open => {}
            }
            if self.layer == Layer::TlsH2 {
                self.layer = Layer::H2;
                return Step::Upgrade;
            }
            match self.preface(env) {
                Some(true) => {
                    self.layer = Layer::H2;
                    return Step::Upgrade;
                }
                // Wait for the rest before the HTTP/1.1 decoder takes `PRI` for a method.
                Some(false) if !self.peer_done => return Step::Read,
                _ => {}
            }
            let Some(a) = self.active.as_mut() else { return Step::Read };
            if let Some((req, asked)) = a.redispatch.take() {
                self.redispatched(env, app, *req, asked);
                continue;
            }
            // Between keep-alive requests with nothing read, the decoder has nothing to say,
            // and asking it costs a call with a large frame.
            if !(a.rbuf.is_empty() && a.decoder.is_idle()) {
                self.decode(env, app);
                if self.state != State::Open {
                    continue;
                }
            }
            let Some(a) = self.active.as_mut() else { return Step::Read };
            if a.out.has_output() {
                return Step::Send;
            }
            if a.blocked() {
                // Not a byte more until the deferred answer is in: the answers after it must
                // wait anyway, and reading on would let a client pile up requests.
                return Step::Wait;
            }
            if self.peer_done {
                // Everything the peer sent is answered; a partial request will never finish.
                self.state = State::Closed;
                return Step::Close;
            }
            return Step::Read;
        }
    }

    /// Decodes and answers the complete requests in the read buffer (pipelining: all of
    /// them, so their answers leave in one write), feeding body bytes to a task and writing
    /// `100 Continue` and error answers on the way.
    fn decode(&mut self, env: &mut Env, app: &mut impl App) {
        let Some(a) = self.active.as_mut() else { return };
        while self.state == State::Open
            && a.out.sending.is_none()
            && a.waiting.is_none()
            && a.task.as_ref().is_none_or(|t| t.wants_body())
            && a.out.wbuf.len() < WBUF_HIGH
        {
            if a.rbuf.is_empty() && a.decoder.is_idle() {
                break;
            }
            match a.decoder.decode(&mut a.rbuf) {
                Ok(None) => break,
                Ok(Some(Event::Head(head))) => {
                    // RFC 9110 §10.1.1: send 100 only if the client is waiting for it, i.e. the
                    // body has not started arriving yet. Oversized bodies were refused (413)
                    // by the decoder before we get here.
                    if head.expect_continue && a.rbuf.is_empty() {
                        a.out.wbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    // No body: answered now (the decoder's `End` that follows finds no
                    // request). A body the application takes as it arrives: answered now too,
                    // and the body follows to its task. Otherwise the body is gathered first.
                    let body_ended = head.body == BodyKind::Empty;
                    if body_ended || app.streams_body(&head.method, &head.uri, &head.headers) {
                        let asked = asked(env, &head);
                        let reply = app.call(request(head, Body::Empty));
                        if answer(env, a, &self.peer, asked, reply, body_ended) {
                            self.state = State::Closing;
                        }
                        continue;
                    }
                    // Built in place: a request head is a few hundred bytes to copy.
                    a.request = Some(InFlight { head, body: BodyParts::None });
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
                    let asked = asked(env, &r.head);
                    let reply = app.call(request(r.head, r.body.into_body()));
                    if answer(env, a, &self.peer, asked, reply, true) {
                        self.state = State::Closing;
                    }
                }
                Err(e) => {
                    a.request = None;
                    error(env, a, &self.peer, e.status(), &Asked::refused(env.now));
                    self.state = State::Closing;
                }
            }
        }
    }

    /// A request a task handed back (a CGI local redirect), answered as if the client had
    /// asked it.
    #[cold]
    #[inline(never)]
    fn redispatched(&mut self, env: &mut Env, app: &mut impl App, req: Request<Body>, asked: Asked) {
        let Some(a) = self.active.as_mut() else { return };
        if answer(env, a, &self.peer, asked, app.call(req), true) {
            self.state = State::Closing;
        }
    }

    /// A deferred answer arrived from another thread: encode it if it is the one this
    /// connection waits for (a connection that gave up, or a recycled slot, ignores it).
    /// Returns whether it was taken.
    pub(crate) fn handle_finished(&mut self, env: &mut Env, done: Finished) -> bool {
        let Some(a) = self.active.as_mut() else { return false };
        let Message::Response(response) = done.what else { return false };
        let Some(w) = a.waiting.take_if(|w| Arc::ptr_eq(&w.deferred.shared, &done.shared)) else {
            return false;
        };
        let mut asked = w.asked;
        // Draining since the request arrived: this answer closes the connection.
        asked.keep_alive &= !env.draining;
        if finish(env, a, asked, response.into(), &self.peer) {
            self.state = State::Closing;
        }
        true
    }

    // ---- Time ---------------------------------------------------------------------------

    /// Sets the timer from what the connection now waits for (lesson: derive from state
    /// every time round). `before`: what it waited for before this run; `progress`: whether
    /// bytes moved (timers of the stall kind restart on progress).
    pub(crate) fn update_timer(
        &mut self,
        env: &Env,
        before: Wait,
        progress: bool,
        now: Instant,
    ) -> TimerChange {
        let after = self.wait();
        self.update_timer_to(env, before, after, progress, now)
    }

    /// [`Conn::update_timer`] for a wait that the connection's HTTP/2 successor decided.
    pub(crate) fn update_timer_to(
        &mut self,
        env: &Env,
        before: Wait,
        after: Wait,
        progress: bool,
        now: Instant,
    ) -> TimerChange {
        let after = match after {
            Wait::Idle if env.draining => Wait::Drain,
            Wait::Head if env.draining && self.active.is_none() => Wait::Drain,
            w => w,
        };
        let restart = match after {
            Wait::Nothing => {
                self.timer = None;
                return TimerChange::Remove;
            }
            Wait::Handler => {
                self.timer = None;
                return TimerChange::Cancel;
            }
            // The head timeout runs from the first byte of a head to its end, whatever
            // trickles in between; the drain wait does not restart; the others restart
            // whenever bytes move.
            Wait::Drain => false,
            Wait::Head => before != Wait::Head,
            Wait::Linger => before != Wait::Linger,
            // From the accept, whatever trickles in.
            Wait::Handshake => before != Wait::Handshake,
            _ => progress || before != after,
        };
        if restart || self.timer != Some(after) {
            return self.arm(env, after, now);
        }
        TimerChange::Keep
    }

    fn arm(&mut self, env: &Env, wait: Wait, now: Instant) -> TimerChange {
        match wait.duration(&env.opts) {
            Some(d) => {
                let at = env.ms(now).wrapping_add(d.as_millis().min(i32::MAX as u128) as u32);
                self.timer = Some(wait);
                self.deadline = Deadline(at);
                TimerChange::Arm(wait)
            }
            None => {
                self.timer = None;
                TimerChange::Cancel
            }
        }
    }

    /// Time has come to `now`: a due header or body timeout answers 408 and closes; a due
    /// keep-alive, send, drain or linger timeout closes; a task's is the task's to handle.
    pub(crate) fn handle_timeout(&mut self, env: &mut Env, now: Instant) -> Expired {
        let Some(wait) = self.take_expired(env, now) else { return Expired::No };
        match wait {
            Wait::Task => Expired::Task,
            Wait::Head | Wait::Body => {
                self.timeout_408(env);
                Expired::Handled
            }
            _ => {
                self.state = State::Closed;
                Expired::Handled
            }
        }
    }

    /// The timer that ran out by `now`, if one did (it is then disarmed).
    pub(crate) fn take_expired(&mut self, env: &Env, now: Instant) -> Option<Wait> {
        let (Some(wait), Deadline(at)) = (self.timer, self.deadline) else { return None };
        // Wrapping difference, as TCP compares sequence numbers: right for any timeout under
        // 24 days, whenever the 49-day counter wraps.
        if at.wrapping_sub(env.ms(now)) as i32 > TIMER_SLACK_MS {
            return None;
        }
        self.timer = None;
        Some(wait)
    }

    /// The header or body timer ran out: 408, then close.
    fn timeout_408(&mut self, env: &mut Env) {
        if self.state != State::Open {
            self.state = State::Closed;
            return;
        }
        let a = self.active.get_or_insert_with(|| env.take_active());
        if a.out.has_output() {
            self.state = State::Closed;
            return;
        }
        a.request = None;
        error(env, a, &self.peer, StatusCode::REQUEST_TIMEOUT, &Asked::refused(env.now));
        self.state = State::Closing;
    }

    // ---- Tasks --------------------------------------------------------------------------

    /// A task ended ([`TaskState::done`]): complete or cut its response, or answer another
    /// request in its place.
    pub(crate) fn task_done(&mut self, env: &mut Env) {
        let Some(a) = self.active.as_mut() else { return };
        let Some(mut slot) = a.task.take_if(|t| t.state.done.is_some()) else { return };
        let state = &mut slot.state;
        let mut close = !slot.asked.keep_alive || state.raw || state.close;
        // A body still arriving that nobody will read: the connection cannot carry on.
        if !state.body_ended {
            close = true;
        }
        match state.done.take() {
            Some(Done::Finished) if state.head_sent => match state.framing {
                Framing::Chunked if !state.head_only && !state.raw => encode_last_chunk(&mut a.out.wbuf),
                // The task promised more than it sent: only closing tells the client.
                Framing::Length(_) if state.left > 0 && !state.head_only => close = true,
                _ => {}
            },
            Some(Done::Finished) => {
                // Finished without a head: the task's bug; the client still gets an answer.
                slot.asked.keep_alive &= !close;
                close |= error(env, a, &self.peer, StatusCode::INTERNAL_SERVER_ERROR, &slot.asked);
            }
            Some(Done::Failed(status)) if !state.head_sent => {
                slot.asked.keep_alive &= !close;
                close |= error(env, a, &self.peer, status, &slot.asked);
            }
            Some(Done::Failed(_)) => close = true,
            Some(Done::Redispatch(req)) => {
                let asked = Asked {
                    method: req.method().clone(),
                    version: slot.asked.version,
                    keep_alive: slot.asked.keep_alive && !close,
                    uri: slot.asked.uri.take(),
                    started: slot.asked.started,
                    meta: std::mem::take(&mut slot.asked.meta),
                };
                a.redispatch = Some((req, asked));
                return;
            }
            None => return,
        }
        if state.head_sent {
            env.log.record(&self.peer, env.clock.clf(), &slot.asked, state.status, state.sent);
        }
        if close {
            self.state = State::Closing;
        }
    }

    // ---- The end ------------------------------------------------------------------------

    /// After a run: a draining connection whose client closed its side is done, and an idle
    /// or closed connection gives its buffers back. `acked`: the bytes the peer acknowledged,
    /// asked only when a large body's log line waits for them.
    pub(crate) fn settle(&mut self, env: &mut Env, acked: impl FnOnce() -> Option<u64>) {
        if self.state == State::Open && env.draining && self.active.is_none() && self.peer_done {
            // Graceful shutdown, and the client closed its side: nothing more will come.
            self.state = State::Closed;
        }
        let idle = self.is_idle();
        if idle || self.state == State::Closed {
            self.release(env, idle, acked);
        }
    }

    /// Gives the active box back to the pool.
    fn release(&mut self, env: &mut Env, idle: bool, acked: impl FnOnce() -> Option<u64>) {
        if let Some(mut a) = self.active.take() {
            if let Some(p) = a.log_pending.take() {
                // The connection ends with a body still going out (client gone, send
                // timeout, shutdown): the log says how much of it the client's TCP
                // acknowledged, as near as the transport tells (what we wrote also counts
                // what still sat in our send buffer, megabytes of it).
                let written = a.out.written.saturating_sub(p.body_start);
                let sent = match acked() {
                    Some(acked) => acked.saturating_sub(self.written_before + p.body_start).min(written),
                    None => written,
                };
                record(&mut env.log, &env.clock, &self.peer, p, sent);
            }
            self.written_before += a.out.written;
            env.put_active(a, idle);
        }
    }

    /// Final clean-up before the connection is dropped.
    pub(crate) fn close(&mut self, env: &mut Env, acked: impl FnOnce() -> Option<u64>) {
        self.state = State::Closed;
        self.timer = None;
        let idle = self.is_idle();
        self.release(env, idle, acked);
    }
}

/// Files the application's reply to the request `asked` describes: encoded now, or waited
/// for. `body_ended`: the body was all in when the application was called (it was not
/// streamed). Returns whether the connection must close after the answer.
#[inline(always)]
fn answer(
    env: &mut Env,
    a: &mut Active,
    peer: &SocketAddr,
    asked: Asked,
    reply: Reply,
    body_ended: bool,
) -> bool {
    let close = match reply {
        Reply::Now(resp) => finish(env, a, asked, resp.into(), peer),
        Reply::Prepared { status, fields, body } => {
            // The handler's request map went back to the pool (or was dropped): it, or an
            // empty one, carries the next request's fields.
            let out = Outgoing { status, headers: headers::take(), prepared: Some(fields), body };
            finish(env, a, asked, out, peer)
        }
        reply => {
            later(a, reply, asked, body_ended);
            return false;
        }
    };
    if !body_ended {
        // A streamed body nobody reads: skip the rest of it.
        a.discard_body = true;
    }
    close
}

/// A reply still to come: a deferred answer or a task. Out of line: the common reply is
/// answered at once.
#[cold]
#[inline(never)]
fn later(a: &mut Active, reply: Reply, asked: Asked, body_ended: bool) {
    match reply {
        Reply::Later(deferred) => {
            a.discard_body = !body_ended;
            a.waiting = Some(Waiting { asked, deferred });
        }
        Reply::Task(task) => {
            let mut state = TaskState::new(asked.is_head());
            state.body_ended = body_ended;
            a.task = Some(Box::new(TaskSlot { task, state, asked }));
        }
        Reply::Now(_) | Reply::Prepared { .. } => {}
    }
}

/// What the answer to the request `head` starts will need to know of it.
#[inline(always)]
fn asked(env: &Env, head: &RequestHead) -> Asked {
    Asked {
        method: head.method.clone(),
        version: head.version,
        keep_alive: head.keep_alive && !env.draining,
        uri: env.log.enabled().then(|| head.uri.clone()),
        started: env.now,
        meta: Meta::of(env.log.format, env.log.enabled(), &head.headers),
    }
}

/// The request to hand the application, built where it is passed (no tuple to move it
/// through: callgrind, ~50 instructions a request).
#[inline(always)]
fn request(head: RequestHead, body: Body) -> Request<Body> {
    let mut req = Request::new(body);
    *req.method_mut() = head.method;
    *req.uri_mut() = head.uri;
    *req.version_mut() = head.version;
    *req.headers_mut() = head.headers;
    req
}

/// Encodes the answer to `asked`. Returns whether the connection must close.
fn finish(env: &mut Env, a: &mut Active, asked: Asked, out: Outgoing, peer: &SocketAddr) -> bool {
    let Outgoing { status, headers, prepared, body } = out;
    let len = body.len();
    let h = encode::head(&mut a.out.wbuf, env.stamp(), &asked, status, &headers, len, prepared.as_ref());
    let (sent, cut) = encode::place_body(&mut a.out, h, body, len);
    let close = h.close || cut;
    if a.out.sending.is_some() {
        // A large body: logged (and counted) once it is out, with the bytes that really went.
        let body_start = a.out.written + (a.out.wbuf.len() - a.out.wpos) as u64;
        a.log_pending = Some(PendingLog { asked, status, body_start });
    } else {
        env.log.record(peer, env.clock.clf(), &asked, status, sent);
    }
    // The next request's fields go into this map: no header map is allocated per request.
    a.decoder.recycle_headers(headers);
    close
}

/// The server's own error answer; returns whether the connection closes after it.
#[cold]
fn error(env: &mut Env, a: &mut Active, peer: &SocketAddr, status: StatusCode, asked: &Asked) -> bool {
    let (h, sent) = encode::error_page(&mut a.out.wbuf, env.stamp(), asked, status);
    env.log.record(peer, env.clock.clf(), asked, status, sent);
    h.close
}

fn record(log: &mut Log, clock: &Clock, peer: &SocketAddr, p: PendingLog, sent: u64) {
    log.record(peer, clock.clf(), &p.asked, p.status, sent);
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

    fn into_body(self) -> Body {
        match self {
            BodyParts::None => Body::Empty,
            BodyParts::One(b) => Body::Bytes(b),
            BodyParts::Many(m) => Body::Bytes(m.freeze()),
        }
    }
}

/// The handler panicked: it answers 500 and the worker lives on.
pub(crate) fn panicked() -> Reply {
    Reply::Now(internal_error())
}
