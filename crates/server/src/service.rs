//! The reactor service: a worker's connections, its buffer pool, clock and log, and the
//! mapping from connection state to timers.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use pollux_http1::RequestDecoder;
use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::mio::{event::Event, Interest, Token};
use pollux_reactor::{Ctx, ListenerConfig, Pool, RunConfig, Service, TimerKind};
use slab::Slab;

use crate::conn::{Active, Conn, State, Wait, CAN_READ, CAN_WRITE, HUP, YIELDED};
use crate::date::Clock;
use crate::handler::{Finished, Message};
use crate::log::Log;
use crate::respond::{answer, internal_error, write_error, Asked};
use crate::task::{split_token, Done};
use crate::{AccessLog, ConnInfo, Handler, Options};
use crate::{Reply, TaskCx};
use http::{HeaderMap, StatusCode, Version};
use pollux_http1::{encode_head, encode_last_chunk, Framing, ResponseHead};

// One timer queue per thing a connection can wait for (see `Wait`); the durations come from
// `Options` in this order.
const HEAD: TimerKind = TimerKind(0);
const IDLE: TimerKind = TimerKind(1);
const BODY: TimerKind = TimerKind(2);
const SEND: TimerKind = TimerKind(3);
const LINGER: TimerKind = TimerKind(4);
const TASK: TimerKind = TimerKind(5);
const DRAIN: TimerKind = TimerKind(6);

/// Rounds of connection ↔ task hand-offs in one drive (each round moves bytes one way; the
/// bound keeps a chatty pair from starving the worker's other connections).
const TASK_ROUNDS: usize = 16;

/// Most idle `Active` boxes a worker keeps for reuse.
const POOL_MAX: usize = 256;

/// Runs the server until a graceful shutdown completes. `on_bound` receives the bound
/// addresses (with real ports when port 0 was asked for) before the first request is served.
pub fn serve<H: Handler>(opts: Options, handler: H, on_bound: impl FnOnce(&[SocketAddr])) -> io::Result<()> {
    if opts.handle_signals {
        opts.shutdown.install_signal_handlers()?;
    }
    let max_conns = opts.max_conns.unwrap_or_else(pollux_reactor::default_max_conns);
    let run = RunConfig {
        addrs: opts.addrs.clone(),
        workers: opts.workers,
        listener: ListenerConfig { backlog: opts.backlog },
        max_conns,
        inherited: opts.listeners.clone(),
        grace: opts.grace,
        timers: vec![
            opts.header_timeout,
            opts.keepalive_timeout,
            opts.body_timeout,
            opts.send_timeout,
            opts.linger,
            opts.task_timeout,
            opts.drain_idle.min(opts.grace),
        ],
    };
    // Open the log file here so a bad path fails before we claim to serve.
    let log_file = match &opts.access_log {
        AccessLog::File(p) => Some(Log::open(&AccessLog::File(p.clone()))?),
        _ => None,
    };
    drop(log_file);
    let handler = Arc::new(handler);
    let opts = Arc::new(opts);
    let shutdown = opts.shutdown.clone();
    pollux_reactor::run(run, shutdown, on_bound, move |_worker, remote| {
        let log = Log::open(&opts.access_log).unwrap_or_else(|e| {
            eprintln!("pollux: access log: {e}; logging off");
            Log::open(&AccessLog::Off).unwrap_or_else(|_| unreachable!("opening no log cannot fail"))
        });
        HttpService {
            turn_end: Vec::new(),
            yielded: Vec::new(),
            conns: Slab::new(),
            env: Env {
                handler: handler.clone(),
                opts: opts.clone(),
                pool: Pool::new(POOL_MAX),
                clock: Clock::new(&opts.server_name),
                log,
                server_name: opts.server_name.clone(),
                info: ConnInfo::for_worker(remote),
                draining: false,
            },
        }
    })
}

/// Per-worker state a connection needs while it runs.
pub(crate) struct Env<H> {
    pub(crate) handler: Arc<H>,
    pub(crate) opts: Arc<Options>,
    pub(crate) pool: Pool<Box<Active>>,
    pub(crate) clock: Clock,
    pub(crate) log: Log,
    pub(crate) server_name: String,
    /// Handed to the handler, refilled per request (no clone of the worker's remote).
    pub(crate) info: ConnInfo,
    /// A graceful shutdown is under way: every answer closes its connection.
    pub(crate) draining: bool,
}

impl<H> Env<H> {
    pub(crate) fn take_active(&mut self) -> Box<Active> {
        let limits = self.opts.limits;
        self.pool.take_or(|| Active::new(RequestDecoder::new(limits)))
    }

    pub(crate) fn put_active(&mut self, mut a: Box<Active>) {
        if a.reset() {
            self.pool.put(a);
        }
    }
}

/// Why a task is called.
enum TaskCall<'e> {
    /// Whatever it is owed: start, new body bytes, room to write.
    Owed,
    Start,
    Body,
    Room,
    Ready(usize, &'e Event),
    Wake,
    Timeout,
}

struct HttpService<H> {
    conns: Slab<Conn>,
    /// What tasks asked to run at the end of this turn.
    turn_end: Vec<Arc<dyn crate::TurnEnd>>,
    env: Env<H>,
    /// Connections that yielded at their turn budget, run again at the end of the turn.
    yielded: Vec<usize>,
}

impl<H: Handler> HttpService<H> {
    /// Runs a connection and sets its timer from what it now waits for (lesson: derive from
    /// state every time round).
    fn drive(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else { return };
        let before = conn.wait();
        self.env.draining = cx.draining;
        let mut progress = conn.run(&mut self.env, cx.draining);
        // Tasks are rare; the common request pays one check for them.
        if conn.has_task() {
            progress |= self.task_rounds(cx, token);
        }
        let Some(conn) = self.conns.get_mut(token) else { return };
        if conn.ready & YIELDED != 0 {
            conn.ready &= !YIELDED;
            self.yielded.push(token);
        }
        let after = conn.wait();
        let kind = match after {
            Wait::Nothing => {
                self.remove(cx, token);
                return;
            }
            Wait::Head => HEAD,
            // Shutting down: one last short wait for a request already on its way.
            Wait::Idle if cx.draining => DRAIN,
            Wait::Idle => IDLE,
            Wait::Body => BODY,
            Wait::Send => SEND,
            Wait::Linger => LINGER,
            Wait::Task => TASK,
            Wait::Handler => {
                cx.timers.cancel(token);
                return;
            }
        };
        // The head timeout runs from the first byte of a head to its end, whatever trickles in
        // between; the others restart whenever bytes move.
        let restart = match after {
            _ if kind == DRAIN => false,
            Wait::Head => before != Wait::Head,
            Wait::Linger => before != Wait::Linger,
            _ => progress || before != after,
        };
        if restart || cx.timers.armed(token) != Some(kind) {
            cx.timers.arm(token, kind, cx.now);
        }
    }

    /// Hands bytes between a connection and its task until neither owes the other anything.
    /// Returns whether bytes moved. Out of line: the common request has no task, and keeping
    /// this apart lets `Conn::run` inline into `drive`.
    #[cold]
    #[inline(never)]
    fn task_rounds(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) -> bool {
        let mut progress = false;
        for _ in 0..TASK_ROUNDS {
            let Some(moved) = self.run_task(cx, token, TaskCall::Owed) else { break };
            progress |= moved;
            let Some(conn) = self.conns.get_mut(token) else { break };
            progress |= conn.run(&mut self.env, cx.draining);
        }
        progress
    }

    /// Calls the connection's task: for `call`, or for what it is owed (start, body, room).
    /// Then files how it ended, if it did. Returns `None` when nothing was called, else
    /// whether the task moved bytes.
    fn run_task(&mut self, cx: &mut Ctx<'_, Finished>, token: usize, call: TaskCall<'_>) -> Option<bool> {
        let conn = self.conns.get_mut(token)?;
        let peer = conn.peer;
        let a = conn.active.as_mut()?;
        let slot = a.task.as_mut()?;
        let owe_room = std::mem::take(&mut a.owe_room);
        let call = match call {
            TaskCall::Owed if slot.state.owe_start => TaskCall::Start,
            TaskCall::Owed if slot.state.owe_body => TaskCall::Body,
            TaskCall::Owed if owe_room => TaskCall::Room,
            TaskCall::Owed => return None,
            c => c,
        };
        let env = &self.env;
        let (method, version, keep_alive) = (&slot.asked.method, slot.asked.version, slot.asked.keep_alive);
        let mut write_head =
            |out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap, len: Option<u64>| {
                let framing = Framing::choose(method, version, status, len);
                let close = !keep_alive || framing == Framing::Close;
                encode_head(
                    out,
                    &ResponseHead {
                        status,
                        headers,
                        framing,
                        close,
                        keep_alive_header: version == Version::HTTP_10 && !close,
                        date: env.clock.http(),
                        server: env.server_name.as_bytes(),
                        server_and_date: env.clock.server_and_date(),
                        encoded: None,
                    },
                );
                framing
            };
        let mut tcx = TaskCx {
            registry: cx.registry,
            conn: token,
            state: &mut slot.state,
            wbuf: &mut a.wbuf,
            sending: &mut a.sending,
            write_head: &mut write_head,
            peer,
            remote: env.info.remote(),
            turn_end: &mut self.turn_end,
        };
        match call {
            TaskCall::Start => {
                tcx.state.owe_start = false;
                slot.task.start(&mut tcx);
            }
            TaskCall::Body => {
                tcx.state.owe_body = false;
                slot.task.on_body(&mut tcx);
            }
            TaskCall::Room | TaskCall::Owed => slot.task.on_room(&mut tcx),
            TaskCall::Ready(id, ev) => slot.task.on_ready(&mut tcx, id, ev),
            TaskCall::Wake => slot.task.on_wake(&mut tcx),
            TaskCall::Timeout => slot.task.on_timeout(&mut tcx),
        }
        let moved = std::mem::take(&mut slot.state.progress);
        if slot.state.done.is_some() {
            self.task_done(token);
        }
        Some(moved)
    }

    /// A task ended: complete or cut its response, or answer another request in its place.
    fn task_done(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else { return };
        let peer = conn.peer;
        let fd = conn.stream.as_raw_fd();
        let Some(a) = conn.active.as_mut() else { return };
        let Some(mut slot) = a.task.take() else { return };
        let state = &mut slot.state;
        let env = &mut self.env;
        let mut close = !slot.asked.keep_alive || state.raw || state.framing == Framing::Close;
        // A body still arriving that nobody will read: the connection cannot carry on.
        if !state.body_ended {
            close = true;
        }
        match state.done.take() {
            Some(Done::Finished) if state.head_sent => {
                match state.framing {
                    Framing::Chunked if !state.head_only && !state.raw => encode_last_chunk(&mut a.wbuf),
                    // The task promised more than it sent: only closing tells the client.
                    Framing::Length(_) if state.left > 0 && !state.head_only => close = true,
                    _ => {}
                }
            }
            Some(Done::Finished) => {
                // Finished without a head: the task's bug; the client still gets an answer.
                write_error(env, a, &peer, StatusCode::INTERNAL_SERVER_ERROR, close, Some(&slot.asked));
            }
            Some(Done::Failed(status)) if !state.head_sent => {
                write_error(env, a, &peer, status, close, Some(&slot.asked))
            }
            Some(Done::Failed(_)) => close = true,
            Some(Done::Redispatch(req)) => {
                let asked = Asked {
                    method: req.method().clone(),
                    version: slot.asked.version,
                    keep_alive: slot.asked.keep_alive && !close,
                    uri: slot.asked.uri.take(),
                };
                drop(slot);
                env.info.set(peer, token, fd);
                let (handler, info) = (&env.handler, &env.info);
                let reply =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.call(*req, info)))
                        .unwrap_or_else(|_| Reply::Now(internal_error()));
                let answer = answer(env, a, asked, reply, &peer);
                Conn::answered(&mut conn.state, a, answer, true);
                return;
            }
            None => return,
        }
        if state.head_sent {
            if let Some(uri) = slot.asked.uri.as_ref() {
                env.log.record(
                    &peer,
                    env.clock.clf(),
                    &slot.asked.method,
                    uri,
                    slot.asked.version,
                    state.status,
                    state.sent,
                );
            }
        }
        if close {
            conn.state = State::Closing;
        }
    }

    fn remove(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) {
        cx.timers.cancel(token);
        self.env.info.forget(token);
        if let Some(mut conn) = self.conns.try_remove(token) {
            conn.close(&mut self.env);
            // Dropping the stream closes the descriptor, which also removes it from epoll.
        }
    }
}

impl<H: Handler> Service for HttpService<H> {
    type Message = Finished;

    fn on_accept(&mut self, cx: &mut Ctx<'_, Finished>, stream: TcpStream, peer: SocketAddr) {
        let entry = self.conns.vacant_entry();
        let token = entry.key();
        let mut conn = Conn::new(stream, peer, token);
        // Registered once for both directions, edge-triggered: no epoll_ctl per request.
        if cx
            .registry
            .register(&mut conn.stream, Token(token), Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            return;
        }
        conn.ready = CAN_WRITE;
        entry.insert(conn);
        cx.timers.arm(token, HEAD, cx.now);
    }

    fn on_ready(&mut self, cx: &mut Ctx<'_, Finished>, token: usize, ev: &Event) {
        if let Some((conn, id)) = split_token(token) {
            // A source of the connection's task (a pipe of its CGI script).
            self.env.clock.refresh();
            if self.run_task(cx, conn, TaskCall::Ready(id, ev)).is_some() {
                self.drive(cx, conn);
            }
            return;
        }
        let Some(conn) = self.conns.get_mut(token) else { return };
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            conn.ready |= CAN_READ;
        }
        if ev.is_read_closed() || ev.is_error() {
            conn.ready |= HUP;
        }
        if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
            conn.ready |= CAN_WRITE;
        }
        self.env.clock.refresh();
        self.drive(cx, token);
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Finished>, token: usize, kind: TimerKind) {
        let Some(conn) = self.conns.get_mut(token) else { return };
        if kind == TASK {
            self.env.clock.refresh();
            self.run_task(cx, token, TaskCall::Timeout);
            self.drive(cx, token);
            return;
        }
        if kind == HEAD || kind == BODY {
            self.env.clock.refresh();
            conn.timeout_408(&mut self.env);
            self.drive(cx, token);
        } else {
            self.remove(cx, token);
        }
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Finished>, done: Finished) {
        let token = done.shared.token;
        let Some(conn) = self.conns.get_mut(token) else { return };
        self.env.clock.refresh();
        if let Message::Wake = done.what {
            // Only the current task's waker counts: the slot may have been reused since.
            let mine = conn.task_waker().is_some_and(|w| Arc::ptr_eq(w, &done.shared));
            done.shared.queued.store(false, std::sync::atomic::Ordering::Release);
            if mine && self.run_task(cx, token, TaskCall::Wake).is_some() {
                self.drive(cx, token);
            }
            return;
        }
        if conn.finished(&mut self.env, done) {
            self.drive(cx, token);
        }
    }

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, Finished>) {
        // Read what each idle connection may already have received (connections accepted at
        // the last moment included): a request that arrived is answered with
        // `Connection: close`; an idle connection gets `Options::drain_idle` for one more.
        let tokens: Vec<usize> =
            self.conns.iter().filter(|(_, c)| c.state == State::Open).map(|(t, _)| t).collect();
        for t in tokens {
            if let Some(c) = self.conns.get_mut(t) {
                c.ready |= CAN_READ;
            }
            self.drive(cx, t);
        }
    }

    fn on_turn_end(&mut self, cx: &mut Ctx<'_, Finished>) {
        // Each yielded connection gets one more turn; the ones that yield again wait for the
        // next loop turn (which polls without blocking, see `wants_turn`).
        let again = std::mem::take(&mut self.yielded);
        for &token in &again {
            self.drive(cx, token);
        }
        for t in self.turn_end.drain(..) {
            t.turn_end();
        }
        self.env.log.flush();
    }

    fn wants_turn(&self) -> bool {
        !self.yielded.is_empty()
    }

    fn connections(&self) -> usize {
        self.conns.len()
    }
}
