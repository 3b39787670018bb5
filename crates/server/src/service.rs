//! The reactor service: a worker's connections (each a sans-IO [`Conn`] with its socket),
//! the mapping from what a connection waits for to the reactor's timers, and the worker-local
//! tasks' events.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::mio::{event::Event, Interest, Token};
use pollux_reactor::{Ctx, ListenerConfig, RunConfig, Service, TimerKind};
use slab::Slab;

use crate::conn::{panicked, App, Conn, Env, Expired, Layer, State, TimerChange, Wait};
use crate::door::{Admit, Door, HeaderStep};
use crate::drive::{drive, CAN_READ, CAN_WRITE, HUP, YIELDED};
use crate::h2conn::{H2Conn, Owed};
use crate::handler::TlsInfo;
use crate::log::Log;
use crate::mailbox::{Finished, Message};
use crate::metrics::{Block, ConnState};
use crate::task::{h2_task_conn, split_conn, split_token};
use crate::tls::{TlsSession, TlsStream};
use crate::{AccessLog, Body, ConnInfo, Handler, Options, Reply, TaskCx};
use http::Request;

// One timer queue per thing a connection can wait for (see `Wait`); the durations come from
// `Options` in this order.
const HEAD: TimerKind = TimerKind(0);
const IDLE: TimerKind = TimerKind(1);
const BODY: TimerKind = TimerKind(2);
const SEND: TimerKind = TimerKind(3);
const LINGER: TimerKind = TimerKind(4);
const TASK: TimerKind = TimerKind(5);
const DRAIN: TimerKind = TimerKind(6);
const HANDSHAKE: TimerKind = TimerKind(7);
/// A PROXY listener's connection waiting for its header (`proxy::HEADER_TIMEOUT`).
pub(crate) const PROXY: TimerKind = TimerKind(8);

/// The reactor's timer queues' durations, in the order of the kinds above.
pub(crate) fn timer_durations(opts: &Options) -> Vec<std::time::Duration> {
    vec![
        opts.header_timeout,
        opts.keepalive_timeout,
        opts.body_timeout,
        opts.send_timeout,
        opts.linger,
        opts.task_timeout,
        opts.drain_idle.min(opts.grace),
        opts.tls_handshake_timeout,
        crate::proxy::HEADER_TIMEOUT,
    ]
}

/// The reactor timer that runs while a connection waits for `w`.
pub(crate) fn timer_kind(w: Wait) -> Option<TimerKind> {
    Some(match w {
        Wait::Handshake => HANDSHAKE,
        Wait::Head => HEAD,
        Wait::Idle => IDLE,
        Wait::Drain => DRAIN,
        Wait::Body => BODY,
        Wait::Send => SEND,
        Wait::Linger => LINGER,
        Wait::Task => TASK,
        Wait::Handler | Wait::Nothing => return None,
    })
}

/// Rounds of connection ↔ task hand-offs in one drive (each round moves bytes one way; the
/// bound keeps a chatty pair from starving the worker's other connections).
const TASK_ROUNDS: usize = 16;

/// Most idle `Active` boxes a worker keeps for reuse.
const POOL_MAX: usize = 256;

/// Runs the server until a graceful shutdown completes. `on_bound` receives the bound
/// addresses (with real ports when port 0 was asked for) before the first request is served.
pub fn serve<H: Handler>(
    mut opts: Options,
    handler: H,
    on_bound: impl FnOnce(&[SocketAddr]),
) -> io::Result<()> {
    // Health checks fail from the first moment of a graceful shutdown, while the listeners
    // still accept (the drain delay), so that a load balancer sends no more.
    let lifecycle = opts.lifecycle.clone();
    opts.shutdown.on_begin(move || lifecycle.begin_draining());
    if opts.handle_signals {
        opts.shutdown.install_draining_signal_handlers(opts.drain_delay)?;
    }
    let max_conns = opts.max_conns.unwrap_or_else(pollux_reactor::default_max_conns);
    // Listeners in order: plain, TLS, redirecting (`on_accept` tells them apart by index).
    let mut addrs = opts.addrs.clone();
    let kinds = Kinds { plain: opts.addrs.len(), tls: opts.tls.as_ref().map_or(0, |t| t.addrs.len()) };
    addrs.extend(opts.tls.iter().flat_map(|t| t.addrs.iter()));
    addrs.extend(opts.redirect.iter().flat_map(|r| r.addrs.iter()));
    let run = RunConfig {
        addrs,
        workers: opts.workers,
        listener: ListenerConfig { backlog: opts.backlog },
        max_conns,
        // Taken, not cloned: once the workers stop accepting, no descriptor of an inherited
        // socket is left open here (the supervisor decides whether it stays open).
        inherited: std::mem::take(&mut opts.listeners),
        grace: opts.grace,
        timers: timer_durations(&opts),
    };
    // Open the log file here so a bad path fails before we claim to serve.
    let log_file = match &opts.access_log {
        AccessLog::File(p) => Some(Log::open(&AccessLog::File(p.clone()))?),
        _ => None,
    };
    drop(log_file);
    // The counters' home: the supervisor's shared area, else one of our own (if even that
    // cannot be made, the server runs uncounted rather than not at all).
    let area = match &opts.metrics {
        Some(a) => Some(a.clone()),
        None => crate::metrics::Area::local(opts.workers).ok().map(Arc::new),
    };
    let handler = Arc::new(handler);
    let opts = Arc::new(opts);
    let shutdown = opts.shutdown.clone();
    // The redirect names the HTTPS port really bound (port 0 asks the kernel for one); the
    // workers are made after the binding.
    let https_port = Arc::new(std::sync::atomic::AtomicU16::new(0));
    // One table for every worker: a client's connections land on any of them.
    let per_ip = opts.max_conns_per_ip.map(crate::PerIpLimit::new);
    let chosen = opts.redirect.as_ref().and_then(|r| r.https_port);
    let bound_port = https_port.clone();
    let on_bound = move |bound: &[SocketAddr]| {
        let first_tls = bound.get(kinds.plain).filter(|_| kinds.tls > 0).map(SocketAddr::port);
        bound_port.store(chosen.or(first_tls).unwrap_or(443), std::sync::atomic::Ordering::Relaxed);
        on_bound(bound)
    };
    pollux_reactor::run(run, shutdown, on_bound, move |worker, remote| {
        let mut log = Log::open(&opts.access_log).unwrap_or_else(|e| {
            eprintln!("pollux: access log: {e}; logging off");
            Log::open(&AccessLog::Off).unwrap_or_else(|_| unreachable!("opening no log cannot fail"))
        });
        let metrics = area.as_ref().and_then(|a| a.block(worker));
        log.format = opts.log_format;
        log.metrics = metrics.clone();
        HttpService {
            turn_end: Vec::new(),
            yielded: Vec::new(),
            conns: Slab::new(),
            handler: handler.clone(),
            info: ConnInfo::for_worker(remote),
            env: Env::new(opts.clone(), log, POOL_MAX),
            kinds,
            sessions: Vec::new(),
            https_port: https_port.load(std::sync::atomic::Ordering::Relaxed),
            scratch: Vec::new(),
            h2: Vec::new(),
            metrics,
            states: Vec::new(),
            door: Door::new(&opts, per_ip.clone()),
        }
    })
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

/// How many listeners of each kind there are, in the order they are handed to the reactor:
/// plain, then TLS, then redirecting.
#[derive(Debug, Clone, Copy)]
struct Kinds {
    plain: usize,
    tls: usize,
}

/// The handler as a connection reaches it: the only place the server calls a handler.
struct Caller<'a, H> {
    handler: &'a H,
    info: &'a mut ConnInfo,
    peer: SocketAddr,
    token: usize,
    fd: std::os::fd::RawFd,
    /// The connection's TLS session facts, kept with the session.
    tls: Option<&'a mut Option<TlsInfo>>,
    /// On a redirecting listener: the HTTPS port every answer sends the client to.
    redirect: Option<u16>,
}

impl<H: Handler> App for Caller<'_, H> {
    #[inline(always)]
    fn streams_body(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> bool {
        self.handler.streams_body(method, uri, headers)
    }

    #[inline(always)]
    fn call(&mut self, req: Request<Body>) -> Reply {
        if let Some(port) = self.redirect {
            return crate::redirect::to_https(&req, port);
        }
        self.info.set(self.peer, self.token, self.fd);
        self.info.tls = self.tls.as_ref().and_then(|t| (**t).clone());
        let (handler, info) = (self.handler, &*self.info);
        // A panic becomes a 500 (the default hook printed it); the worker lives on.
        catch_unwind(AssertUnwindSafe(|| handler.call(req, info))).unwrap_or_else(|_| panicked())
    }

    fn handshake_done(&mut self, info: Option<TlsInfo>) {
        if let Some(slot) = self.tls.as_mut() {
            **slot = info;
        }
    }
}

/// A connection with its socket and the readiness the socket reported. (Its TLS session, if
/// any, is in the worker's `sessions`.)
struct Link {
    stream: TcpStream,
    conn: Conn,
    ready: u8,
}

// An idle connection costs its entry in the worker's slab (and the slab grows by doubling):
// 10,000 idle connections are measured in `bench/compare.sh`'s idle scenario. Keep it small.
// In release builds only: mio's stream carries a selector id in debug builds.
#[cfg(not(debug_assertions))]
const _: () = assert!(std::mem::size_of::<Link>() <= 64);

struct HttpService<H> {
    conns: Slab<Link>,
    handler: Arc<H>,
    /// Handed to the handler, refilled per request (no clone of the worker's remote).
    info: ConnInfo,
    env: Env,
    /// What tasks asked to run at the end of this turn.
    turn_end: Vec<Arc<dyn crate::TurnEnd>>,
    /// Connections that yielded at their turn budget, run again at the end of the turn.
    yielded: Vec<usize>,
    kinds: Kinds,
    /// TLS connections' sessions, by connection token: a side table, so that a plain
    /// connection's entry stays at 64 bytes. Empty when no TLS listener is configured.
    sessions: Vec<Option<Box<TlsSession>>>,
    /// Where `--redirect-http` sends clients.
    https_port: u16,
    /// File bytes on their way into TLS records (one per worker, `tls::FILE_CHUNK`, made on
    /// first use).
    scratch: Vec<u8>,
    /// Connections that speak HTTP/2, by token: a side table like `sessions` (their `Conn`
    /// stays in the slab for its timer and address, and no longer runs).
    h2: Vec<Option<Box<H2Conn>>>,
    /// This worker's counters (`None`: uncounted).
    metrics: Option<Block>,
    /// Each connection's state as last counted in `metrics`'s gauges, by token (see
    /// [`counted`]): a side table, like `sessions`. The gauges move only when a connection's
    /// state changes, so they are exact at the end of every drive.
    states: Vec<u8>,
    /// Access rules, per-address limit, keepalive and PROXY headers (`door.rs`).
    door: Door,
}

impl<H: Handler> HttpService<H> {
    /// Runs a connection, then sets its timer from what it now waits for.
    fn drive(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) {
        if self.door.awaits_header(token) && !self.proxy_header(cx, token) {
            return;
        }
        let Some(link) = self.conns.get_mut(token) else { return };
        let h2 = self.h2.get_mut(token).and_then(|h| h.as_deref_mut());
        let before = h2.map_or_else(|| link.conn.wait(), |h| h.wait());
        self.env.draining = cx.draining;
        self.env.now = cx.now;
        let mut progress = self.run(token);
        // Tasks are rare; the common request pays one check for them.
        if self.conns.get(token).is_some_and(|l| l.conn.has_task()) {
            progress |= self.task_rounds(cx, token);
        }
        if self.h2.get(token).and_then(|h| h.as_deref()).is_some_and(H2Conn::has_task) {
            progress |= self.h2_task_rounds(cx, token);
        }
        let Some(link) = self.conns.get_mut(token) else { return };
        if link.ready & YIELDED != 0 {
            link.ready &= !YIELDED;
            self.yielded.push(token);
        }
        let change = match self.h2.get_mut(token).and_then(|h| h.as_deref_mut()) {
            Some(h) => {
                let progress = progress | h.take_progress();
                link.conn.update_timer_to(&self.env, before, h.wait(), progress, cx.now)
            }
            None => link.conn.update_timer(&self.env, before, progress, cx.now),
        };
        match change {
            TimerChange::Keep => {}
            TimerChange::Arm(w) => {
                if let Some(kind) = timer_kind(w) {
                    cx.timers.arm(token, kind, cx.now);
                }
            }
            TimerChange::Cancel => cx.timers.cancel(token),
            TimerChange::Remove => return self.remove(cx, token),
        }
        self.count_state(token);
    }

    /// Moves connection `token` in the state gauges if its state changed since last counted.
    #[inline]
    fn count_state(&mut self, token: usize) {
        let Some(m) = &self.metrics else { return };
        let now = match (self.conns.get(token), self.h2.get(token).and_then(|h| h.as_deref())) {
            (None, _) => None,
            (Some(_), Some(h)) => counted(h.wait()),
            (Some(l), None) => counted(l.conn.wait()),
        };
        if self.states.len() <= token {
            self.states.resize(token + 1, 0);
        }
        let before = decode_state(self.states[token]);
        if before != now {
            m.moved(before, now);
            self.states[token] = now.map_or(0, |s| s as u8 + 1);
        }
    }

    /// Reads connection `token`'s PROXY header; once it is whole, the connection starts with
    /// the client's address as its peer (returns `true`: run it now, the request may have
    /// come with the header). Out of line: only PROXY listeners' new connections come here.
    #[cold]
    #[inline(never)]
    fn proxy_header(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) -> bool {
        let Some(link) = self.conns.get_mut(token) else { return false };
        match self.door.header_step(token, &link.stream) {
            HeaderStep::Wait => false,
            HeaderStep::Refuse => {
                // Closed unserved, like a refusal at accept (the reason: `Options::refused`).
                if let Some(m) = &self.metrics {
                    m.refused();
                }
                self.remove(cx, token);
                false
            }
            HeaderStep::Start(peer) => {
                link.conn.peer = peer;
                link.ready |= CAN_READ;
                if let TimerChange::Arm(w) = link.conn.start(&self.env, cx.now) {
                    match timer_kind(w) {
                        Some(kind) => cx.timers.arm(token, kind, cx.now),
                        None => cx.timers.cancel(token),
                    }
                }
                true
            }
        }
    }

    /// One run of the connection's driver; a connection that turns out to speak HTTP/2 is
    /// handed over and run again as that.
    #[inline(always)]
    fn run(&mut self, token: usize) -> bool {
        if self.h2.get(token).is_some_and(Option::is_some) {
            return self.run_h2(token);
        }
        let progress = self.run_h1(token);
        if self.conns.get(token).is_some_and(|l| l.conn.layer == Layer::H2) {
            return progress | self.start_h2(token);
        }
        progress
    }

    /// Hands connection `token` over to HTTP/2 with what it read so far, and runs it.
    #[cold]
    #[inline(never)]
    fn start_h2(&mut self, token: usize) -> bool {
        let Some(link) = self.conns.get_mut(token) else { return false };
        let rbuf = link.conn.take_read_buf(&mut self.env);
        let h = H2Conn::new(&self.env, link.conn.peer, rbuf);
        if self.h2.len() <= token {
            self.h2.resize_with(token + 1, || None);
        }
        self.h2[token] = Some(Box::new(h));
        self.run_h2(token)
    }

    /// One run of an HTTP/2 connection's driver.
    fn run_h2(&mut self, token: usize) -> bool {
        let Some(Link { stream, conn, ready }) = self.conns.get_mut(token) else { return false };
        let Some(h) = self.h2.get_mut(token).and_then(|h| h.as_deref_mut()) else { return false };
        let fd = stream.as_raw_fd();
        enter(&mut self.env, session(&self.sessions, token));
        let tls = self.sessions.get_mut(token).and_then(|s| s.as_deref_mut());
        let (handler, info, peer) = (&*self.handler, &mut self.info, conn.peer);
        match tls {
            None => {
                let mut app = Caller { handler, info, peer, token, fd, tls: None, redirect: None };
                drive(h, stream, ready, &mut self.env, &mut app)
            }
            Some(session) => {
                let (mut t, slot) = TlsStream::new(stream, session, &mut self.scratch);
                let mut app = Caller { handler, info, peer, token, fd, tls: Some(slot), redirect: None };
                drive(h, &mut t, ready, &mut self.env, &mut app)
            }
        }
    }

    /// One run of an HTTP/1.1 connection's driver.
    #[inline(always)]
    fn run_h1(&mut self, token: usize) -> bool {
        let Some(Link { stream, conn, ready }) = self.conns.get_mut(token) else { return false };
        let fd = stream.as_raw_fd();
        enter(&mut self.env, session(&self.sessions, token));
        let tls = self.sessions.get_mut(token).and_then(|s| s.as_deref_mut());
        let redirect = match conn.layer {
            Layer::Redirect => Some(self.https_port),
            _ => None,
        };
        let (handler, info, peer) = (&*self.handler, &mut self.info, conn.peer);
        match tls {
            None => {
                let mut app = Caller { handler, info, peer, token, fd, tls: None, redirect };
                drive(conn, stream, ready, &mut self.env, &mut app)
            }
            Some(session) => {
                let (mut t, slot) = TlsStream::new(stream, session, &mut self.scratch);
                let mut app = Caller { handler, info, peer, token, fd, tls: Some(slot), redirect };
                drive(conn, &mut t, ready, &mut self.env, &mut app)
            }
        }
    }

    /// Hands bytes between a connection and its task until neither owes the other anything.
    /// Returns whether bytes moved. Out of line: the common request has no task.
    #[cold]
    #[inline(never)]
    fn task_rounds(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) -> bool {
        let mut progress = false;
        for _ in 0..TASK_ROUNDS {
            let Some(moved) = self.run_task(cx, token, TaskCall::Owed) else { break };
            progress |= moved;
            progress |= self.run(token);
        }
        progress
    }

    /// [`Self::task_rounds`] for an HTTP/2 connection: each round calls one stream's task
    /// for what it is owed, then runs the connection (which frames what the task produced).
    #[cold]
    #[inline(never)]
    fn h2_task_rounds(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) -> bool {
        let mut progress = false;
        for _ in 0..TASK_ROUNDS * 4 {
            let Some(h) = self.h2.get_mut(token).and_then(|h| h.as_deref_mut()) else { break };
            let Some((key, owed)) = h.owed_task() else { break };
            let call = match owed {
                Owed::Start => TaskCall::Start,
                Owed::Body => TaskCall::Body,
                Owed::Room => TaskCall::Room,
            };
            progress |= self.run_task_h2(cx, token, key, call).unwrap_or(false);
            progress |= self.run(token);
        }
        progress
    }

    /// Calls the task of HTTP/2 stream `key` on connection `token`, then files how it ended.
    fn run_task_h2(
        &mut self,
        cx: &mut Ctx<'_, Finished>,
        token: usize,
        key: usize,
        call: TaskCall<'_>,
    ) -> Option<bool> {
        let link = self.conns.get_mut(token)?;
        let h = self.h2.get_mut(token)?.as_deref_mut()?;
        enter(&mut self.env, session(&self.sessions, token));
        let peer = link.conn.peer;
        let fd = link.stream.as_raw_fd();
        let (slot, out) = h.task_mut(key)?;
        if slot.state.done.is_some() {
            return None;
        }
        let env = &self.env;
        let mut tcx = TaskCx {
            registry: cx.registry,
            conn: h2_task_conn(token, key),
            state: &mut slot.state,
            out,
            asked: &slot.asked,
            stamp: env.stamp(),
            peer,
            remote: self.info.remote(),
            turn_end: &mut self.turn_end,
        };
        call_task(&mut *slot.task, &mut tcx, call);
        let tls = self.sessions.get_mut(token).and_then(|s| s.as_deref_mut()).map(|s| s.info_slot());
        let mut app =
            Caller { handler: &*self.handler, info: &mut self.info, peer, token, fd, tls, redirect: None };
        Some(h.task_ran(&mut self.env, &mut app, key))
    }

    /// Calls the connection's task: for `call`, or for what it is owed (start, body, room).
    /// Then files how it ended, if it did. Returns `None` when nothing was called, else
    /// whether the task moved bytes.
    fn run_task(&mut self, cx: &mut Ctx<'_, Finished>, token: usize, call: TaskCall<'_>) -> Option<bool> {
        let link = self.conns.get_mut(token)?;
        enter(&mut self.env, session(&self.sessions, token));
        let peer = link.conn.peer;
        let a = link.conn.active.as_mut()?;
        let slot = a.task.as_mut()?;
        let owe_room = std::mem::take(&mut a.owe_room);
        // A head written from now on closes the connection if the server began draining
        // since the request arrived (a CGI script answering across the signal).
        slot.asked.keep_alive &= !cx.draining;
        let call = match call {
            TaskCall::Owed if slot.state.owe_start => TaskCall::Start,
            TaskCall::Owed if slot.state.owe_body => TaskCall::Body,
            TaskCall::Owed if owe_room => TaskCall::Room,
            TaskCall::Owed => return None,
            c => c,
        };
        let env = &self.env;
        let mut tcx = TaskCx {
            registry: cx.registry,
            conn: token,
            state: &mut slot.state,
            out: &mut a.out,
            asked: &slot.asked,
            stamp: env.stamp(),
            peer,
            remote: self.info.remote(),
            turn_end: &mut self.turn_end,
        };
        call_task(&mut *slot.task, &mut tcx, call);
        let moved = std::mem::take(&mut slot.state.progress);
        if slot.state.done.is_some() {
            link.conn.task_done(&mut self.env);
        }
        Some(moved)
    }

    fn remove(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) {
        cx.timers.cancel(token);
        if let (Some(m), Some(s)) = (&self.metrics, self.states.get_mut(token)) {
            m.moved(decode_state(std::mem::take(s)), None);
        }
        self.door.release(token);
        self.info.forget(token);
        if let Some(mut link) = self.conns.try_remove(token) {
            enter(&mut self.env, session(&self.sessions, token));
            if let Some(mut h) = self.h2.get_mut(token).and_then(Option::take) {
                h.close(&mut self.env);
            }
            // The session goes with the connection (its memory with it).
            let plain = self.sessions.get_mut(token).and_then(Option::take).is_none();
            let stream = &link.stream;
            // Over TLS the socket's count includes records and handshake: use what was written.
            let acked = || if plain { crate::transport::Transport::bytes_acked(stream) } else { None };
            link.conn.close(&mut self.env, acked);
            // Dropping the stream closes the descriptor, which also removes it from epoll.
        }
    }
}

impl<H: Handler> Service for HttpService<H> {
    type Message = Finished;

    fn on_accept(
        &mut self,
        cx: &mut Ctx<'_, Finished>,
        mut stream: TcpStream,
        peer: SocketAddr,
        listener: usize,
    ) {
        if let Some(m) = &self.metrics {
            m.accepted();
        }
        let refused = |m: &Option<Block>| {
            if let Some(m) = m {
                m.refused();
            }
        };
        // Refused before anything is read, registered or allocated (a TLS session): dropping
        // the stream closes it.
        let token = self.conns.vacant_key();
        let admit = self.door.on_accept(token, &stream, peer, cx.now);
        if admit == Admit::Refuse {
            return refused(&self.metrics);
        }
        let (conn, tls) = if listener < self.kinds.plain {
            (Conn::new(peer), None)
        } else if listener < self.kinds.plain + self.kinds.tls {
            let session = self.env.opts.tls.as_ref().and_then(|cfg| TlsSession::new(cfg.config.clone()));
            let Some(session) = session else {
                self.door.release(token);
                return refused(&self.metrics);
            };
            (Conn::new_tls(peer), Some(session))
        } else {
            let mut c = Conn::new(peer);
            c.layer = Layer::Redirect;
            (c, None)
        };
        let mut conn = conn;
        // The same slot as `vacant_key` gave: nothing was inserted since.
        let entry = self.conns.vacant_entry();
        debug_assert_eq!(entry.key(), token);
        // Registered once for both directions, edge-triggered: no epoll_ctl per request.
        if cx.registry.register(&mut stream, Token(token), Interest::READABLE | Interest::WRITABLE).is_err() {
            self.door.release(token);
            return refused(&self.metrics);
        }
        if admit == Admit::AwaitHeader {
            // The connection starts (and its first timer runs) once the header is in.
            cx.timers.arm(token, PROXY, cx.now);
        } else if let TimerChange::Arm(w) = conn.start(&self.env, cx.now) {
            if let Some(kind) = timer_kind(w) {
                cx.timers.arm(token, kind, cx.now);
            }
        }
        if let Some(t) = tls {
            if self.sessions.len() <= token {
                self.sessions.resize_with(token + 1, || None);
            }
            self.sessions[token] = Some(t);
        }
        entry.insert(Link { stream, conn, ready: CAN_WRITE });
        self.count_state(token);
    }

    fn on_ready(&mut self, cx: &mut Ctx<'_, Finished>, token: usize, ev: &Event) {
        if let Some((conn, id)) = split_token(token) {
            // A source of the connection's task (a pipe of its CGI script).
            self.env.clock.refresh();
            let ran = match split_conn(conn) {
                (conn, None) => self.run_task(cx, conn, TaskCall::Ready(id, ev)).map(|_| conn),
                (conn, Some(key)) => self.run_task_h2(cx, conn, key, TaskCall::Ready(id, ev)).map(|_| conn),
            };
            if let Some(conn) = ran {
                self.drive(cx, conn);
            }
            return;
        }
        let Some(link) = self.conns.get_mut(token) else { return };
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            link.ready |= CAN_READ;
        }
        if ev.is_read_closed() || ev.is_error() {
            link.ready |= HUP;
        }
        if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
            link.ready |= CAN_WRITE;
        }
        self.env.clock.refresh();
        self.drive(cx, token);
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Finished>, token: usize, kind: TimerKind) {
        if kind == PROXY {
            if self.door.header_expired(token, cx.now) {
                if let Some(m) = &self.metrics {
                    m.refused();
                }
                self.remove(cx, token);
            } else if self.door.awaits_header(token) {
                cx.timers.arm(token, PROXY, cx.now);
            }
            return;
        }
        let Some(link) = self.conns.get_mut(token) else { return };
        self.env.clock.refresh();
        enter(&mut self.env, session(&self.sessions, token));
        if let Some(h) = self.h2.get_mut(token).and_then(|h| h.as_deref_mut()) {
            match link.conn.take_expired(&self.env, cx.now) {
                None => {
                    cx.timers.arm(token, kind, cx.now);
                    return;
                }
                Some(Wait::Task) => {
                    for key in h.task_keys() {
                        self.run_task_h2(cx, token, key, TaskCall::Timeout);
                    }
                }
                Some(w) => {
                    h.handle_timeout(&mut self.env, w);
                    link.ready |= CAN_WRITE;
                }
            }
            self.drive(cx, token);
            return;
        }
        match link.conn.handle_timeout(&mut self.env, cx.now) {
            Expired::No => {
                // The wheel and the connection arm together, so this is rounding beyond the
                // slack; never leave the connection without a timer.
                cx.timers.arm(token, kind, cx.now);
                return;
            }
            Expired::Task => {
                self.run_task(cx, token, TaskCall::Timeout);
            }
            Expired::Handled => {
                // A 408 to write: the socket had room when our last bytes went.
                link.ready |= CAN_WRITE;
            }
        }
        self.drive(cx, token);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Finished>, done: Finished) {
        self.env.draining = cx.draining;
        let (token, stream) = split_conn(done.shared.token);
        let Some(link) = self.conns.get_mut(token) else { return };
        self.env.clock.refresh();
        if let Some(key) = stream {
            // A wake for an HTTP/2 stream's task (deferred answers carry the plain token).
            let h = self.h2.get(token).and_then(|h| h.as_deref());
            let mine = h.and_then(|h| h.task_waker(key)).is_some_and(|w| Arc::ptr_eq(w, &done.shared));
            done.shared.queued.store(false, std::sync::atomic::Ordering::Release);
            if mine && self.run_task_h2(cx, token, key, TaskCall::Wake).is_some() {
                self.drive(cx, token);
            }
            return;
        }
        if let Some(h) = self.h2.get_mut(token).and_then(|h| h.as_deref_mut()) {
            enter(&mut self.env, session(&self.sessions, token));
            if h.handle_finished(&mut self.env, done) {
                self.drive(cx, token);
            }
            return;
        }
        if let Message::Wake = done.what {
            // Only the current task's waker counts: the slot may have been reused since.
            let mine = link.conn.task_waker().is_some_and(|w| Arc::ptr_eq(w, &done.shared));
            done.shared.queued.store(false, std::sync::atomic::Ordering::Release);
            if mine && self.run_task(cx, token, TaskCall::Wake).is_some() {
                self.drive(cx, token);
            }
            return;
        }
        enter(&mut self.env, session(&self.sessions, token));
        if link.conn.handle_finished(&mut self.env, done) {
            self.drive(cx, token);
        }
    }

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, Finished>) {
        // Read what each idle connection may already have received (connections accepted at
        // the last moment included): a request that arrived is answered with
        // `Connection: close`; an idle connection gets `Options::drain_idle` for one more.
        let tokens: Vec<usize> =
            self.conns.iter().filter(|(_, l)| l.conn.state == State::Open).map(|(t, _)| t).collect();
        for t in tokens {
            if let Some(l) = self.conns.get_mut(t) {
                l.ready |= CAN_READ;
            }
            self.drive(cx, t);
        }
    }

    fn on_listeners_closed(&mut self, cx: &mut Ctx<'_, Finished>) {
        // The connections accepted from the queues at the last moment: read what they sent.
        self.on_shutdown(cx);
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

/// The gauge a connection waiting for `w` counts in: a TLS handshake and a request being
/// received are reading, an answer going out (or lingering after it) is writing, a deferred
/// answer or a task (CGI, WSGI) is in the handler.
fn counted(w: Wait) -> Option<ConnState> {
    Some(match w {
        Wait::Handshake | Wait::Head | Wait::Body => ConnState::Reading,
        Wait::Send | Wait::Linger => ConnState::Writing,
        Wait::Idle | Wait::Drain => ConnState::Idle,
        Wait::Handler | Wait::Task => ConnState::Handler,
        Wait::Nothing => return None,
    })
}

/// A `states` entry: 0 for none, else the state's number plus one.
fn decode_state(v: u8) -> Option<ConnState> {
    ConnState::ALL.get(usize::from(v).checked_sub(1)?).copied()
}

/// Calls `task` for `call`, marking a start or body call it was owed as paid. The one place a
/// task is called, for HTTP/1.1 connections and HTTP/2 streams alike.
fn call_task(task: &mut dyn crate::Task, cx: &mut TaskCx<'_>, call: TaskCall<'_>) {
    match call {
        TaskCall::Start => {
            cx.state.owe_start = false;
            task.start(cx);
        }
        TaskCall::Body => {
            cx.state.owe_body = false;
            task.on_body(cx);
        }
        TaskCall::Room | TaskCall::Owed => task.on_room(cx),
        TaskCall::Ready(id, ev) => task.on_ready(cx, id, ev),
        TaskCall::Wake => task.on_wake(cx),
        TaskCall::Timeout => task.on_timeout(cx),
    }
}

/// Tells the worker's shared state which connection it is about to run: whether its
/// responses carry HSTS, and what its access log lines say about TLS.
#[inline(always)]
fn enter(env: &mut Env, tls: Option<&TlsSession>) {
    match tls {
        None => {
            env.secure = false;
            env.log.tls = None;
        }
        Some(t) => {
            env.secure = true;
            env.log.tls = t.info().map(|i| (i.version, i.cipher));
        }
    }
}

/// The TLS session of connection `token`, if it has one.
#[inline(always)]
fn session(sessions: &[Option<Box<TlsSession>>], token: usize) -> Option<&TlsSession> {
    sessions.get(token).and_then(|s| s.as_deref())
}
