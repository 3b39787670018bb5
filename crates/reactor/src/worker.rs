//! The worker loop: one thread, one `mio::Poll`, its own listeners, timers and connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::{ListenerConfig, Mailbox, Remote, Shutdown, TimerKind, Timers};

/// Tokens at and above this belong to the reactor (listeners, waker); below, to the service.
const RESERVED: usize = usize::MAX - 1024;
const WAKER: Token = Token(usize::MAX);
/// How long accepting pauses after `EMFILE`/`ENFILE`: long enough for connections to close,
/// short enough that nobody notices. Never zero, so a full descriptor table cannot spin us.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// A protocol driven by the reactor. One instance per worker thread; it owns its connections
/// and registers them with `cx.registry` under tokens below `usize::MAX - 1024`.
pub trait Service {
    /// Work handed back from other threads through a [`Remote`].
    type Message: Send + 'static;

    /// The worker is about to run: register sources of the service's own (a UDP socket, say,
    /// for a service with no TCP listener). An error stops the worker.
    fn on_start(&mut self, cx: &mut Ctx<'_, Self::Message>) -> io::Result<()> {
        let _ = cx;
        Ok(())
    }
    /// A new connection (non-blocking, `TCP_NODELAY` set), accepted from `listener`: the
    /// index of its address in [`RunConfig::addrs`] (or of its socket in
    /// [`RunConfig::inherited`]), so a service can tell its listeners apart (plain and TLS,
    /// say) without asking the socket.
    fn on_accept(
        &mut self,
        cx: &mut Ctx<'_, Self::Message>,
        stream: TcpStream,
        peer: SocketAddr,
        listener: usize,
    );
    /// Readiness of a connection. Edge-triggered: drain until `WouldBlock` (or a short read
    /// when `event.is_read_closed()` is false). Errors and hang-ups count as readiness: the
    /// next read or write returns them.
    fn on_ready(&mut self, cx: &mut Ctx<'_, Self::Message>, token: usize, event: &mio::event::Event);
    /// A timer armed through `cx.timers` expired.
    fn on_timer(&mut self, cx: &mut Ctx<'_, Self::Message>, token: usize, kind: TimerKind);
    /// A message sent through a [`Remote`] of this worker.
    fn on_message(&mut self, cx: &mut Ctx<'_, Self::Message>, msg: Self::Message) {
        let _ = (cx, msg);
    }
    /// Graceful shutdown began: close idle connections, finish the others and then close them.
    /// Called once. With a drain delay the listeners still accept after it (`cx.draining` is
    /// true for those connections), and [`on_listeners_closed`](Self::on_listeners_closed)
    /// follows when the delay is over; without one, the listeners are already closed.
    fn on_shutdown(&mut self, cx: &mut Ctx<'_, Self::Message>);
    /// The drain delay is over: the listeners closed after their queues were accepted (the
    /// last of those connections were just handed to `on_accept`).
    fn on_listeners_closed(&mut self, cx: &mut Ctx<'_, Self::Message>) {
        let _ = cx;
    }
    /// End of one loop turn: flush what was batched (logs, for example).
    fn on_turn_end(&mut self, cx: &mut Ctx<'_, Self::Message>) {
        let _ = cx;
    }
    /// Work is pending that needs no readiness edge (a connection that yielded its turn):
    /// the next `epoll_wait` must not block.
    fn wants_turn(&self) -> bool {
        false
    }
    /// The earliest deadline of the service's own, for deadlines that are not a fixed
    /// duration chosen at start-up (the [`Timers`] queues): a TFTP transfer's negotiated
    /// timeout, say. The worker sleeps no longer than until then, and calls
    /// [`on_deadline`](Self::on_deadline) in every turn that ends at or after it. Asked once
    /// per turn, so keep it cheap (a heap's top, not a scan).
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// The instant [`next_deadline`](Self::next_deadline) returned has passed (`cx.now` is at
    /// or after it): run what is due.
    fn on_deadline(&mut self, cx: &mut Ctx<'_, Self::Message>) {
        let _ = cx;
    }
    /// Open connections; the worker stops accepting at its share of `max_conns`, and exits
    /// a graceful shutdown when this reaches zero.
    fn connections(&self) -> usize;
}

/// What a service sees of the reactor during a callback.
pub struct Ctx<'a, M> {
    pub registry: &'a Registry,
    pub timers: &'a mut Timers,
    /// The time this loop turn started; cheaper than asking the clock in every callback.
    pub now: Instant,
    /// Index of this worker, 0-based.
    pub worker: usize,
    /// True once a graceful shutdown has begun.
    pub draining: bool,
    mailbox: &'a Mailbox<M>,
}

impl<M> std::fmt::Debug for Ctx<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("worker", &self.worker).field("draining", &self.draining).finish()
    }
}

impl<M> Ctx<'_, M> {
    /// A handle other threads can use to send this worker a message.
    pub fn remote(&self) -> Remote<M> {
        self.mailbox.remote()
    }
}

/// How the reactor runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub addrs: Vec<SocketAddr>,
    pub workers: usize,
    pub listener: ListenerConfig,
    /// Connections across all workers; each worker takes an equal share.
    pub max_conns: usize,
    /// Listening sockets made by someone else (a supervising process that keeps them open
    /// while its children come and go). When there are any, `addrs` is not bound: every
    /// worker accepts from each of these instead, and the kernel hands each connection to
    /// whichever worker (of whichever process) accepts first.
    pub inherited: Vec<Arc<std::net::TcpListener>>,
    /// How long a graceful shutdown may take before the workers give up and exit.
    pub grace: Duration,
    /// One duration per [`TimerKind`] the service uses.
    pub timers: Vec<Duration>,
}

/// A default for `max_conns`: what the descriptor limit allows, less a reserve for the
/// process's own descriptors (stdio, epoll, wakers, listeners, logs) and for files being sent
/// (32 plus 1/16 of the limit). Raises the soft `RLIMIT_NOFILE` to the hard
/// limit first, as a server that expects many connections should.
pub fn default_max_conns() -> usize {
    let nofile = crate::sys::raise_nofile_limit().unwrap_or_else(|_| crate::sys::nofile_limit());
    let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
    nofile.saturating_sub(32 + nofile / 16).max(1)
}

/// Binds every address once per worker, then runs one worker thread per listener set until a
/// graceful shutdown completes. `on_bound` is called with the bound addresses before serving
/// (print them there), `make` builds each worker's service from its index and the
/// [`Remote`] other threads use to reach it.
pub fn run<S, F>(
    mut cfg: RunConfig,
    shutdown: Shutdown,
    on_bound: impl FnOnce(&[SocketAddr]),
    make: F,
) -> io::Result<()>
where
    S: Service,
    F: Fn(usize, Remote<S::Message>) -> S + Send + Sync + 'static,
{
    let workers = cfg.workers.max(1);
    let mut per_worker: Vec<Vec<std::net::TcpListener>> = (0..workers).map(|_| Vec::new()).collect();
    let mut bound = Vec::new();
    for l in &cfg.inherited {
        bound.push(l.local_addr()?);
        for ls in per_worker.iter_mut() {
            ls.push(l.try_clone()?);
        }
    }
    let addrs = if cfg.inherited.is_empty() { &cfg.addrs[..] } else { &[] };
    for addr in addrs {
        let ls = crate::bind_reuseport(*addr, workers, cfg.listener)?;
        bound.push(ls[0].local_addr()?);
        for (w, l) in ls.into_iter().enumerate() {
            per_worker[w].push(l);
        }
    }
    // The workers hold the only descriptors of the inherited sockets in this process from
    // now on, so that once they stop accepting nothing here keeps a socket listening (the
    // supervisor decides whether it stays open).
    cfg.inherited.clear();
    on_bound(&bound);
    let make = Arc::new(make);
    let per_conns = (cfg.max_conns / workers).max(1);
    let mut handles = Vec::new();
    for (id, listeners) in per_worker.into_iter().enumerate() {
        let make = make.clone();
        let shutdown = shutdown.clone();
        let (timers, grace) = (cfg.timers.clone(), cfg.grace);
        let h = std::thread::Builder::new().name(format!("worker-{id}")).spawn(move || {
            let worker = Worker::new(id, listeners, &timers, grace, per_conns, shutdown)?;
            let mailbox = Mailbox::new(worker.waker.clone());
            let service = make(id, mailbox.remote());
            worker.run(service, mailbox)
        })?;
        handles.push(h);
    }
    let mut result = Ok(());
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(io::Error::other("a worker thread panicked")),
        }
    }
    result
}

struct Worker {
    id: usize,
    poll: Poll,
    listeners: Vec<TcpListener>,
    timers: Timers,
    max_conns: usize,
    grace: Duration,
    shutdown: Shutdown,
    waker: Arc<Waker>,
}

impl Worker {
    fn new(
        id: usize,
        listeners: Vec<std::net::TcpListener>,
        timers: &[Duration],
        grace: Duration,
        max_conns: usize,
        shutdown: Shutdown,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut ls = Vec::with_capacity(listeners.len());
        for (i, l) in listeners.into_iter().enumerate() {
            let mut l = TcpListener::from_std(l);
            poll.registry().register(&mut l, Token(RESERVED + i), Interest::READABLE)?;
            ls.push(l);
        }
        shutdown.register(waker.clone());
        Ok(Worker { id, poll, listeners: ls, timers: Timers::new(timers), max_conns, grace, shutdown, waker })
    }

    fn run<S: Service>(mut self, mut service: S, mailbox: Mailbox<S::Message>) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // Accept is edge-triggered too: after a pause or at the connection limit, pending
        // connections produce no new edge, so we must try again ourselves.
        let mut accept_wanted = true;
        let mut paused_until: Option<Instant> = None;
        // A graceful shutdown: while the drain delay runs (`accept_until`, in the future) the
        // listeners still accept; once over, `drain_deadline` is when the worker gives up.
        let mut accept_until: Option<Instant> = None;
        // Whether `on_shutdown` ran at the start of a drain delay.
        let mut notified = false;
        let mut drain_deadline: Option<Instant> = None;
        {
            let mut cx = Ctx {
                registry: self.poll.registry(),
                timers: &mut self.timers,
                now: Instant::now(),
                worker: self.id,
                draining: false,
                mailbox: &mailbox,
            };
            service.on_start(&mut cx)?;
        }
        loop {
            let now = Instant::now();
            let mut timeout = self.timers.next_timeout(now);
            if let Some(p) = paused_until {
                timeout = Some(timeout.map_or(p - now.min(p), |t| t.min(p.saturating_duration_since(now))));
            }
            if let Some(d) = drain_deadline.or(accept_until) {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if let Some(d) = service.next_deadline() {
                // mio rounds a timeout up to epoll's whole milliseconds, so the wait never
                // ends before the deadline and `on_deadline` runs on the first wake-up.
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if service.wants_turn() {
                timeout = Some(Duration::ZERO);
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            let mut woken = false;
            let mut cx = Ctx {
                registry: self.poll.registry(),
                timers: &mut self.timers,
                now,
                worker: self.id,
                draining: accept_until.is_some(),
                mailbox: &mailbox,
            };
            for ev in events.iter() {
                match ev.token() {
                    WAKER => woken = true,
                    Token(t) if t >= RESERVED => accept_wanted = true,
                    Token(t) => service.on_ready(&mut cx, t, ev),
                }
            }
            if woken {
                for m in mailbox.drain() {
                    service.on_message(&mut cx, m);
                }
                if accept_until.is_none() && self.shutdown.is_begun() {
                    accept_until = self.shutdown.accept_until();
                    if accept_until.is_some_and(|t| now < t) {
                        // Draining: the service closes idle connections and answers the
                        // others with `Connection: close`; the listeners accept on.
                        cx.draining = true;
                        notified = true;
                        service.on_shutdown(&mut cx);
                    }
                }
                if drain_deadline.is_none() && accept_until.is_some() {
                    // A second signal may have cut the delay short.
                    accept_until = self.shutdown.accept_until();
                }
            }
            if drain_deadline.is_none() && accept_until.is_some_and(|t| now >= t) {
                // Take what the kernel already accepted for us: those clients connected
                // before we stopped, and their requests deserve answers.
                accept_all(&mut self.listeners, &mut service, &mut cx, usize::MAX, &mut None);
                for mut l in self.listeners.drain(..) {
                    let _ = cx.registry.deregister(&mut l);
                }
                drain_deadline = Some(now + self.grace);
                cx.draining = true;
                if notified {
                    service.on_listeners_closed(&mut cx);
                } else {
                    // No delay: the shutdown begins with the listeners closed, as it always did.
                    service.on_shutdown(&mut cx);
                }
            }
            if let Some(p) = paused_until {
                if now >= p {
                    paused_until = None;
                    accept_wanted = true;
                }
            }
            if accept_wanted && paused_until.is_none() && service.connections() < self.max_conns {
                accept_wanted =
                    accept_all(&mut self.listeners, &mut service, &mut cx, self.max_conns, &mut paused_until);
            }
            while let Some((token, kind)) = cx.timers.pop_expired(now) {
                service.on_timer(&mut cx, token, kind);
            }
            if service.next_deadline().is_some_and(|d| d <= now) {
                service.on_deadline(&mut cx);
            }
            service.on_turn_end(&mut cx);
            if let Some(d) = drain_deadline {
                if service.connections() == 0 || now >= d {
                    return Ok(());
                }
            }
        }
    }
}

/// Accepts until `WouldBlock`, the connection limit or a descriptor shortage. Returns whether
/// connections may still be pending (so the caller retries when capacity frees up).
fn accept_all<S: Service>(
    listeners: &mut [TcpListener],
    service: &mut S,
    cx: &mut Ctx<'_, S::Message>,
    max: usize,
    paused_until: &mut Option<Instant>,
) -> bool {
    let mut pending = false;
    for (i, l) in listeners.iter_mut().enumerate() {
        loop {
            if service.connections() >= max {
                pending = true;
                break;
            }
            match l.accept() {
                Ok((stream, peer)) => {
                    // Responses are written whole, so Nagle would only delay them.
                    let _ = stream.set_nodelay(true);
                    service.on_accept(cx, stream, peer, i);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        // Out of descriptors or memory: stop accepting for a moment and keep
                        // serving; retrying at once would spin on the same error.
                        *paused_until = Some(cx.now + ACCEPT_PAUSE);
                        return true;
                    }
                    // The peer gave up before we accepted (ECONNABORTED and kin): next.
                    _ => continue,
                },
            }
        }
    }
    pending
}
