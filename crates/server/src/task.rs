//! Worker-local tasks: a request answered by something the worker drives itself — a child
//! process's pipes (a CGI script), say — with the request body streamed in as it arrives and
//! the response streamed out as it is produced. No thread per request.
//!
//! ```text
//!  handler ─► Reply::Task(task) ─► Task::start(cx): spawn, cx.register(pipe, id, interest)
//!  socket ─► body bytes ─► cx.body() queue ─► Task::on_body ─► (stdin)     ≤ BODY_HIGH queued:
//!                                                                         the socket waits
//!  source ready ─► Task::on_ready(id) ─► cx.send_head / cx.send ─► socket  ≤ cx.room(): the
//!                                                                         task waits (on_room)
//!  cx.finish() / cx.fail(status) ─► the connection goes on with the next request
//!  client gone, server stopping ─► Task::abort (then dropped)
//! ```
//!
//! Everything runs on the connection's worker thread, so a task needs no locks and need not be
//! `Send`. Backpressure runs both ways: a script that reads slowly stops the socket from being
//! read, a client that reads slowly stops the script's output from being read.

use std::collections::VecDeque;
use std::io;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use pollux_http1::{encode_chunk, Framing};
use pollux_reactor::mio::event::{Event, Source};
use pollux_reactor::mio::{Interest, Registry, Token};

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pollux_reactor::Remote;

use crate::encode::{self, Asked, Stamp};
use crate::mailbox::{Finished, Message, Shared};
use crate::output::{Output, Sending, WBUF_HIGH};
use crate::Body;

/// Request body bytes queued for a task beyond which the connection stops reading its socket.
pub(crate) const BODY_HIGH: usize = 64 * 1024;
/// Sources one task may register (ids `0..SOURCES`).
pub const SOURCES: usize = 7;

/// Token bit marking a task's source: `TASK_BIT | conn << 3 | id`. Connections use small slab
/// keys and the reactor reserves the top 1024 tokens, so neither collides with this.
pub(crate) const TASK_BIT: usize = 1 << (usize::BITS - 2);

pub(crate) fn task_token(conn: usize, id: usize) -> usize {
    TASK_BIT | conn << 3 | id
}

/// The `conn` part of the task tokens of HTTP/2 stream `key`'s task on connection `conn`
/// (one connection has a task per stream): the stream's slot above bit 32.
pub(crate) fn h2_task_conn(conn: usize, key: usize) -> usize {
    conn | (key + 1) << 32
}

/// A task token's `conn` part split into the connection and, for an HTTP/2 stream's task,
/// the stream's slot.
pub(crate) fn split_conn(conn: usize) -> (usize, Option<usize>) {
    (conn & 0xffff_ffff, (conn >> 32).checked_sub(1))
}

// Task tokens carry a stream slot above bit 32.
const _: () = assert!(usize::BITS == 64);

/// Which connection and source a task token names.
pub(crate) fn split_token(token: usize) -> Option<(usize, usize)> {
    (token & TASK_BIT != 0).then_some(((token & !TASK_BIT) >> 3, token & 7))
}

/// A request's answer driven on the worker thread. See the module docs; every method gets a
/// [`TaskCx`] to reach the connection.
pub trait Task: 'static {
    /// Called once, right after the handler returned the task: start the work and register
    /// its sources with [`TaskCx::register`].
    fn start(&mut self, cx: &mut TaskCx<'_>);
    /// A source registered under `id` is ready (edge-triggered: drain it, or remember that
    /// it is still ready).
    fn on_ready(&mut self, cx: &mut TaskCx<'_>, id: usize, event: &Event);
    /// More request body is queued ([`TaskCx::body`]), or its end was reached.
    fn on_body(&mut self, cx: &mut TaskCx<'_>) {
        let _ = cx;
    }
    /// The client took bytes: [`TaskCx::room`] grew. A task that stopped producing for lack
    /// of room resumes here.
    fn on_room(&mut self, cx: &mut TaskCx<'_>) {
        let _ = cx;
    }
    /// Another thread called [`TaskWaker::wake`] on this task's waker (see
    /// [`TaskCx::waker`]). Wakes that come while one is still on its way are merged into it.
    fn on_wake(&mut self, cx: &mut TaskCx<'_>) {
        let _ = cx;
    }
    /// Nothing moved for `Options::task_timeout`.
    fn on_timeout(&mut self, cx: &mut TaskCx<'_>);
    /// The connection is going away (client gone, server stopping) or the task is dropped
    /// after it finished: release everything — kill what it started.
    fn abort(&mut self);
}

/// How a task ended.
#[derive(Debug)]
pub(crate) enum Done {
    /// The response is complete.
    Finished,
    /// Before the head: answer `status` instead. After it: the response is cut.
    Failed(StatusCode),
    /// Answer as if the client had asked for this request instead (a CGI local redirect).
    Redispatch(Box<Request<Body>>),
}

/// What the connection keeps of a task between calls.
pub(crate) struct TaskState {
    pub(crate) body: VecDeque<Bytes>,
    pub(crate) body_len: usize,
    /// The request body has fully arrived (it may still be queued).
    pub(crate) body_ended: bool,
    pub(crate) head_sent: bool,
    /// Raw output (NPH): the task writes the whole response itself; the connection closes after.
    pub(crate) raw: bool,
    pub(crate) framing: Framing,
    /// The head said the connection closes after this response.
    pub(crate) close: bool,
    /// What a length-framed body still owes.
    pub(crate) left: u64,
    /// HEAD: the head is sent, body bytes are dropped.
    pub(crate) head_only: bool,
    pub(crate) status: StatusCode,
    pub(crate) sent: u64,
    pub(crate) done: Option<Done>,
    /// The task produced or consumed something since the connection last looked (timer restart).
    pub(crate) progress: bool,
    /// Calls the task is owed: start, body, room.
    pub(crate) owe_start: bool,
    pub(crate) owe_body: bool,
    /// The task's waker, once it asked for one; marked cancelled when the task goes.
    pub(crate) wake: Option<Arc<Shared>>,
    /// Over HTTP/2: the head the task sent, for the connection to encode (HPACK is the
    /// connection's, so the head cannot be encoded into the task's output).
    pub(crate) h2_head: Option<Box<(StatusCode, http::HeaderMap, Option<u64>)>>,
}

impl Drop for TaskState {
    fn drop(&mut self) {
        if let Some(w) = &self.wake {
            w.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

impl TaskState {
    pub(crate) fn new(head_only: bool) -> TaskState {
        TaskState {
            body: VecDeque::new(),
            body_len: 0,
            body_ended: false,
            head_sent: false,
            raw: false,
            framing: Framing::Chunked,
            close: false,
            left: 0,
            head_only,
            status: StatusCode::OK,
            sent: 0,
            done: None,
            progress: false,
            owe_start: true,
            owe_body: false,
            wake: None,
            h2_head: None,
        }
    }

    pub(crate) fn push_body(&mut self, b: Bytes) {
        self.body_len += b.len();
        self.body.push_back(b);
        self.owe_body = true;
    }

    pub(crate) fn body_full(&self) -> bool {
        self.body_len >= BODY_HIGH
    }
}

/// The connection as a task sees it.
pub struct TaskCx<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) conn: usize,
    pub(crate) state: &'a mut TaskState,
    /// The connection's output: the response goes there.
    pub(crate) out: &'a mut Output,
    /// The request being answered, and the worker's `Server`/`Date`, for the head.
    pub(crate) asked: &'a Asked,
    pub(crate) stamp: Stamp<'a>,
    pub(crate) peer: std::net::SocketAddr,
    pub(crate) remote: Option<&'a Remote<Finished>>,
    pub(crate) turn_end: &'a mut Vec<Arc<dyn TurnEnd>>,
}

impl std::fmt::Debug for TaskCx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskCx").field("conn", &self.conn).field("head_sent", &self.state.head_sent).finish()
    }
}

impl TaskCx<'_> {
    /// Registers `source` (a pipe, a pidfd) with the worker's reactor under `id`
    /// (`0..SOURCES`); its readiness comes back as [`Task::on_ready`] with that id.
    pub fn register(&mut self, source: &mut impl Source, id: usize, interest: Interest) -> io::Result<()> {
        if id >= SOURCES {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "task source id out of range"));
        }
        self.registry.register(source, Token(task_token(self.conn, id)), interest)
    }

    /// Stops watching `source` (closing its descriptor does that too).
    pub fn deregister(&mut self, source: &mut impl Source) -> io::Result<()> {
        self.registry.deregister(source)
    }

    /// A handle another thread uses to call this task's [`Task::on_wake`] on the worker (a
    /// Python thread that produced output, say). The same waker is returned every time.
    pub fn waker(&mut self) -> TaskWaker {
        let shared = self.state.wake.get_or_insert_with(|| Shared::new(self.conn)).clone();
        TaskWaker { shared, remote: self.remote.cloned() }
    }

    /// Asks for `what.turn_end()` at the end of this turn of the worker (once, however many
    /// tasks ask).
    pub fn at_turn_end(&mut self, what: &Arc<dyn TurnEnd>) {
        if !self.turn_end.iter().any(|t| Arc::ptr_eq(t, what)) {
            self.turn_end.push(what.clone());
        }
    }

    /// The client's address.
    pub fn peer(&self) -> std::net::SocketAddr {
        self.peer
    }

    /// The next piece of request body, de-chunked, in order. Give back what could not be
    /// used with [`TaskCx::unread`].
    pub fn body(&mut self) -> Option<Bytes> {
        let b = self.state.body.pop_front()?;
        self.state.body_len -= b.len();
        self.state.progress = true;
        Some(b)
    }

    /// Puts back the unused rest of a piece from [`TaskCx::body`] (a partial write into a pipe).
    pub fn unread(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.state.body_len += b.len();
            self.state.body.push_front(b);
        }
    }

    /// The whole request body has been taken: nothing queued, nothing more to come.
    pub fn body_done(&self) -> bool {
        self.state.body_ended && self.state.body.is_empty()
    }

    /// Whether the response head went out (after that, failure can only cut the response).
    pub fn head_sent(&self) -> bool {
        self.state.head_sent
    }

    /// Sends the response head. With `len`, the body is exactly that long (`Content-Length`);
    /// without, it is chunked (or, for an HTTP/1.0 client, ends when the connection closes).
    pub fn send_head(&mut self, head: Response<()>, len: Option<u64>) {
        if self.state.head_sent {
            return;
        }
        let (parts, ()) = head.into_parts();
        self.state.status = parts.status;
        if self.asked.version == http::Version::HTTP_2 {
            // The stream's frames carry the body: no chunks, and the length is a promise the
            // body is held to.
            self.state.framing = len.map_or(Framing::Close, Framing::Length);
            self.state.left = len.unwrap_or(0);
            self.state.h2_head = Some(Box::new((parts.status, parts.headers, len)));
            self.state.head_sent = true;
            self.state.progress = true;
            return;
        }
        let h =
            encode::head(&mut self.out.wbuf, self.stamp, self.asked, parts.status, &parts.headers, len, None);
        self.state.framing = h.framing;
        self.state.close = h.close;
        self.state.left = len.unwrap_or(0);
        self.state.head_sent = true;
        self.state.progress = true;
    }

    /// Takes over the response completely (a CGI "non-parsed header" script): `send` writes
    /// bytes as they are, and the connection closes after.
    pub fn send_raw(&mut self) {
        if self.asked.version == http::Version::HTTP_2 {
            // A raw HTTP/1.1 response cannot be carried by HTTP/2 frames.
            self.fail(StatusCode::BAD_GATEWAY);
            return;
        }
        if !self.state.head_sent {
            self.state.head_sent = true;
            self.state.raw = true;
            self.state.framing = Framing::Close;
        }
    }

    /// How many body bytes the connection takes now; at 0, wait for [`Task::on_room`].
    pub fn room(&self) -> usize {
        if self.out.sending.is_some() {
            return 0;
        }
        WBUF_HIGH.saturating_sub(self.out.wbuf.len())
    }

    /// Sends `len` bytes of `file` from `offset` as body, with `sendfile(2)` after what is
    /// already buffered: the bytes never pass through user space. Only for a body framed by
    /// its length or by the connection's close (a chunked body needs framing around each
    /// piece: send it with [`TaskCx::send`]); returns whether the file was taken. Room is 0
    /// until it is all sent, then [`Task::on_room`] follows.
    pub fn send_file(&mut self, file: Arc<std::fs::File>, offset: u64, len: u64) -> bool {
        if !self.state.head_sent || self.out.sending.is_some() || self.state.raw {
            return false;
        }
        let len = match self.state.framing {
            Framing::Length(_) => len.min(self.state.left),
            Framing::Close => len,
            Framing::None => return true,
            Framing::Chunked => return false,
        };
        self.state.progress = true;
        if self.state.head_only || len == 0 {
            return true;
        }
        if let Framing::Length(_) = self.state.framing {
            self.state.left -= len;
        }
        self.state.sent += len;
        self.out.sending = Some(Sending::File { file, offset, left: len, corked: false });
        true
    }

    /// Sends body bytes (after the head). A length-framed body never gets more than it promised.
    pub fn send(&mut self, data: &[u8]) {
        if !self.state.head_sent || data.is_empty() {
            return;
        }
        self.state.progress = true;
        if self.state.head_only {
            return;
        }
        if self.state.raw {
            self.out.wbuf.extend_from_slice(data);
            self.state.sent += data.len() as u64;
            return;
        }
        match self.state.framing {
            Framing::Chunked => encode_chunk(&mut self.out.wbuf, data),
            Framing::Length(_) => {
                let take = (self.state.left as usize).min(data.len());
                self.out.wbuf.extend_from_slice(&data[..take]);
                self.state.left -= take as u64;
            }
            Framing::Close => self.out.wbuf.extend_from_slice(data),
            Framing::None => return,
        }
        self.state.sent += data.len() as u64;
    }

    /// The response is complete.
    pub fn finish(&mut self) {
        if self.state.done.is_none() {
            self.state.done = Some(Done::Finished);
        }
    }

    /// The work failed: before the head, the client gets `status` (502, 504, …); after it,
    /// the response is cut (the connection closes, so it cannot pass for complete).
    pub fn fail(&mut self, status: StatusCode) {
        if self.state.done.is_none() {
            self.state.done = Some(Done::Failed(status));
        }
    }

    /// Answers with what the server would answer to `req` (a CGI local redirect). Only
    /// before the head.
    pub fn redispatch(&mut self, req: Request<Body>) {
        if self.state.done.is_none() && !self.state.head_sent {
            self.state.done = Some(Done::Redispatch(Box::new(req)));
        }
    }
}

/// Wakes a worker-local task from another thread: [`Task::on_wake`] runs on the connection's
/// worker. Cloneable and `Send`; obtained from [`TaskCx::waker`].
#[derive(Debug, Clone)]
pub struct TaskWaker {
    shared: Arc<Shared>,
    remote: Option<Remote<Finished>>,
}

impl TaskWaker {
    /// Asks for `on_wake`. Returns `false` when the task is gone (the client left, or the
    /// response ended): there is nobody to tell any more. Cheap when a wake is already on its
    /// way: the worker runs `on_wake` once for all of them.
    pub fn wake(&self) -> bool {
        if self.is_cancelled() {
            return false;
        }
        if !self.shared.queued.swap(true, Ordering::AcqRel) {
            if let Some(remote) = &self.remote {
                let _ = remote.send(Finished { shared: self.shared.clone(), what: Message::Wake });
            }
        }
        true
    }

    /// Whether the task is gone.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    /// Like [`TaskWaker::wake`], but the worker is not woken yet: whoever calls this wakes
    /// it through the returned [`Nudge`] once it has queued a batch (a Python thread that
    /// answers several requests in a row wakes the worker once for all of them, instead of
    /// handing the core back and forth per answer). `None`: nothing is owed, either because
    /// the task is gone or because a wake is already on its way.
    pub fn wake_later(&self) -> Option<Nudge> {
        if self.is_cancelled() || self.shared.queued.swap(true, Ordering::AcqRel) {
            return None;
        }
        let remote = self.remote.as_ref()?;
        match remote.send_quiet(Finished { shared: self.shared.clone(), what: Message::Wake }) {
            Ok(true) => Some(Nudge(remote.clone())),
            _ => None,
        }
    }
}

/// A wake owed to a worker (see [`TaskWaker::wake_later`]): [`Nudge::wake`] it before
/// waiting for anything.
#[derive(Debug)]
pub struct Nudge(Remote<Finished>);

impl Nudge {
    /// Wakes the worker.
    pub fn wake(self) {
        self.0.wake();
    }

    /// Whether both nudges are for the same worker (one wake serves both).
    pub fn same_worker(&self, other: &Nudge) -> bool {
        self.0.same_worker(&other.0)
    }
}

/// Work tasks hand on in batches: [`TurnEnd::turn_end`] runs once at the end of the
/// worker's turn, after every ready connection ran, however many tasks asked for it (see
/// [`TaskCx::at_turn_end`]). A pool of threads is told "work is queued" once per turn this
/// way, rather than once per request.
pub trait TurnEnd: Send + Sync {
    /// The worker's turn ends.
    fn turn_end(&self);
}
