//! The reactor service: a worker's connections, its buffer pool, clock and log, and the
//! mapping from connection state to timers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use pollux_http1::RequestDecoder;
use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::mio::{event::Event, Interest, Token};
use pollux_reactor::{Ctx, ListenerConfig, Pool, RunConfig, Service, TimerKind};
use slab::Slab;

use crate::conn::{Active, Conn, State, Wait, CAN_READ, CAN_WRITE, HUP, YIELDED};
use crate::date::Clock;
use crate::handler::Finished;
use crate::log::Log;
use crate::{AccessLog, ConnInfo, Handler, Options};

// One timer queue per thing a connection can wait for (see `Wait`); the durations come from
// `Options` in this order.
const HEAD: TimerKind = TimerKind(0);
const IDLE: TimerKind = TimerKind(1);
const BODY: TimerKind = TimerKind(2);
const SEND: TimerKind = TimerKind(3);
const LINGER: TimerKind = TimerKind(4);

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
        grace: opts.grace,
        timers: vec![
            opts.header_timeout,
            opts.keepalive_timeout,
            opts.body_timeout,
            opts.send_timeout,
            opts.linger,
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

struct HttpService<H> {
    conns: Slab<Conn>,
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
        let progress = conn.run(&mut self.env, cx.draining);
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
            Wait::Idle => IDLE,
            Wait::Body => BODY,
            Wait::Send => SEND,
            Wait::Linger => LINGER,
            Wait::Handler => {
                cx.timers.cancel(token);
                return;
            }
        };
        // The head timeout runs from the first byte of a head to its end, whatever trickles in
        // between; the others restart whenever bytes move.
        let restart = match after {
            Wait::Head => before != Wait::Head,
            Wait::Linger => before != Wait::Linger,
            _ => progress || before != after,
        };
        if restart || cx.timers.armed(token) != Some(kind) {
            cx.timers.arm(token, kind, cx.now);
        }
    }

    fn remove(&mut self, cx: &mut Ctx<'_, Finished>, token: usize) {
        cx.timers.cancel(token);
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
        if conn.finished(&mut self.env, done) {
            self.drive(cx, token);
        }
    }

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, Finished>) {
        // Read what each idle connection may already have received (connections accepted at
        // the last moment included): a request that arrived is answered, an idle connection
        // is closed (`Conn::run` closes idle connections while draining).
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
        self.env.log.flush();
    }

    fn wants_turn(&self) -> bool {
        !self.yielded.is_empty()
    }

    fn connections(&self) -> usize {
        self.conns.len()
    }
}
