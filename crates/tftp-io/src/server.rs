//! The TFTP server as a [`pollux_reactor::Service`].
//!
//! ```text
//!   worker (one per --workers, each with its own SO_REUSEPORT socket on the server port)
//!     listener token ──RRQ/WRQ──► files::open_* ──refused──► ERROR from the listener
//!                                   │ accepted
//!                                   ▼
//!                         new UDP socket on an ephemeral port (the transfer ID, RFC 1350 §4),
//!                         registered under its slab key; machine from pollux-tftp
//!     transfer token ──datagrams──► Transfer::pump
//!     next_deadline = top of a min-heap of transfer deadlines ──► on_deadline ──► handle_timeout
//! ```
//!
//! Why several workers share the port through SO_REUSEPORT: the kernel picks a socket by a
//! hash of the client's address, so a client's retransmitted request reaches the same worker,
//! and each transfer then lives on its own socket in that worker only; the workers share
//! nothing. A request is small work; a transfer is where the time goes, and those spread
//! over the workers with the requests.
//!
//! Why a heap and not the reactor's timer queues: those hold one fixed duration per queue,
//! while a transfer's timeout is negotiated (RFC 2349, 1–255 s). Each transfer keeps at most
//! one live entry: it pushes only when its deadline moves *earlier* than the entry it has,
//! and an entry that pops too early (the deadline moved later) is pushed again at the real
//! deadline. Deadlines move later on every acknowledged window, so this keeps the heap at
//! about one entry per transfer instead of one per window.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdp};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pollux_reactor::mio::net::{TcpStream, UdpSocket};
use pollux_reactor::mio::{event::Event, Interest, Token};
use pollux_reactor::{Ctx, ListenerConfig, RunConfig, Service, Shutdown, TimerKind};
use pollux_tftp::{emit, negotiate, Config, ErrorCode, Packet, Receiver, Request, RequestKind, Sender};
use slab::Slab;
use socket2::{Domain, Protocol, Socket, Type};

use crate::files::{self, Refusal, WritePolicy};
use crate::transfer::{Machine, Transfer};
use crate::udp;

/// The listening socket's token; transfers use their slab keys, far below it.
const LISTENER: usize = usize::MAX - 4096;
/// Largest datagram we read: a DATA block at the RFC 2348 maximum fits.
const MAX_DATAGRAM: usize = 65536;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory served; canonicalised by [`serve`].
    pub root: PathBuf,
    /// The well-known address (port 69 by default; port 0 picks one).
    pub bind: SocketAddr,
    /// Worker threads, each with its own socket on the port.
    pub workers: usize,
    /// Retransmission and negotiation caps (timeout, retries, max blksize, max window).
    pub protocol: Config,
    /// Whether write requests are allowed, and for which files.
    pub writes: WritePolicy,
    /// Most transfers at once across workers (also kept within the descriptor limit);
    /// further requests get ERROR 0 "Server busy".
    pub max_transfers: usize,
    /// Time running transfers get to finish after SIGINT/SIGTERM.
    pub grace: Duration,
    /// A log line per transfer on stderr.
    pub log: bool,
}

/// Binds the server's sockets, calls `on_bound` with the address, and serves until
/// `shutdown` has drained the transfers.
pub fn serve(
    mut config: ServerConfig,
    shutdown: Shutdown,
    on_bound: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    config.root = config.root.canonicalize()?;
    if !config.root.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a directory"));
    }
    let workers = config.workers.max(1);
    let mut sockets = Vec::with_capacity(workers);
    let mut addr = config.bind;
    for _ in 0..workers {
        let s = bind_reuseport(addr)?;
        // Port 0 picks a port for the first socket; the others must share it.
        addr = s.local_addr()?;
        sockets.push(Some(s));
    }
    on_bound(addr);
    let sockets = Arc::new(Mutex::new(sockets));
    // Each transfer holds two descriptors (its socket and its file): raise the soft
    // RLIMIT_NOFILE to the hard limit and keep within it, so that a crowd gets "Server busy"
    // rather than sockets that fail half-way.
    let by_descriptors = pollux_reactor::default_max_conns() / 2;
    let most = config.max_transfers.min(by_descriptors);
    let shared = Arc::new(Shared { per_worker: (most / workers).max(1), config });
    let cfg = RunConfig {
        addrs: Vec::new(),
        workers,
        listener: ListenerConfig { backlog: 1 },
        max_conns: usize::MAX,
        grace: shared.config.grace,
        timers: Vec::new(),
    };
    pollux_reactor::run(
        cfg,
        shutdown,
        |_| {},
        move |id, _| {
            let socket = sockets.lock().ok().and_then(|mut s| s.get_mut(id).and_then(Option::take));
            TftpService::new(shared.clone(), socket)
        },
    )
}

fn bind_reuseport(addr: SocketAddr) -> io::Result<StdUdp> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // `[::]` serves IPv4 clients too (as mapped addresses), whatever the sysctl says.
        s.set_only_v6(!addr.ip().is_unspecified())?;
    }
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

#[derive(Debug)]
struct Shared {
    config: ServerConfig,
    per_worker: usize,
}

/// One worker's server: its listening socket and its transfers.
#[derive(Debug)]
pub(crate) struct TftpService {
    shared: Arc<Shared>,
    /// Taken in `on_start`.
    pending: Option<StdUdp>,
    listener: Option<UdpSocket>,
    local_ip: IpAddr,
    transfers: Slab<Transfer>,
    deadlines: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    next_id: u64,
    recv: Vec<u8>,
    out: Vec<u8>,
    scratch: Vec<u8>,
    batch: Vec<u8>,
}

impl TftpService {
    fn new(shared: Arc<Shared>, socket: Option<StdUdp>) -> Self {
        let local_ip = shared.config.bind.ip();
        TftpService {
            shared,
            pending: socket,
            listener: None,
            local_ip,
            transfers: Slab::new(),
            deadlines: BinaryHeap::new(),
            next_id: 0,
            recv: vec![0; MAX_DATAGRAM],
            out: Vec::with_capacity(MAX_DATAGRAM),
            scratch: Vec::new(),
            batch: Vec::new(),
        }
    }

    fn on_listener(&mut self, now: Instant, registry: &pollux_reactor::mio::Registry) {
        loop {
            let Some(listener) = &self.listener else { return };
            let r = match udp::recv(listener, &mut self.recv) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock (drained), or an error the next edge will show again.
                Err(_) => return,
            };
            // The address to answer from: ours, or on a wildcard socket the one the client
            // wrote to (packet info).
            let local =
                if self.local_ip.is_unspecified() { r.dst.unwrap_or(self.local_ip) } else { self.local_ip };
            let local = match (self.local_ip, local) {
                // A v4 client of a dual-stack `[::]` socket: a v6 socket answers it.
                (IpAddr::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
                (_, ip) => ip,
            };
            let datagram = std::mem::take(&mut self.recv);
            self.on_request(now, registry, r.src, local, &datagram[..r.len]);
            self.recv = datagram;
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        registry: &pollux_reactor::mio::Registry,
        src: SocketAddr,
        local: IpAddr,
        d: &[u8],
    ) {
        let request = match Packet::parse(d) {
            Ok(Packet::Request(r)) => r,
            // An ERROR is never answered (two confused hosts could volley forever).
            Ok(Packet::Error { .. }) => return,
            Ok(_) => return self.answer_error(src, local, ErrorCode::IllegalOperation, "expected a request"),
            Err(e) => return self.answer_error(src, local, e.error_code(), &e.to_string()),
        };
        match self.start(now, registry, src, local, &request) {
            Ok(key) => self.after_input(key, now, registry),
            Err(r) => {
                self.log_refusal(src, &request, &r);
                self.answer_error(src, local, r.code, r.message);
            }
        }
    }

    /// Opens the file, creates the machine and the transfer's socket.
    fn start(
        &mut self,
        now: Instant,
        registry: &pollux_reactor::mio::Registry,
        src: SocketAddr,
        local: IpAddr,
        request: &Request<'_>,
    ) -> Result<usize, Refusal> {
        let busy = Refusal { code: ErrorCode::NotDefined, message: "Server busy, try again later" };
        if self.transfers.len() >= self.shared.per_worker {
            return Err(busy);
        }
        let config = &self.shared.config;
        let id = self.next_id;
        self.next_id += 1;
        let machine = match request.kind {
            RequestKind::Read => {
                let (file, size) = files::open_read(&config.root, request.filename)?;
                let negotiation = negotiate(request, &config.protocol, Some(size)).map_err(option_refusal)?;
                Machine::Send(
                    Sender::with_negotiation(request.mode, negotiation, src, &config.protocol, now),
                    file,
                )
            }
            RequestKind::Write => {
                let negotiation = negotiate(request, &config.protocol, None).map_err(option_refusal)?;
                let upload = files::open_write(&config.root, request.filename, config.writes, id)?;
                Machine::Receive(
                    Receiver::with_negotiation(request.mode, negotiation, src, &config.protocol, now),
                    Some(upload),
                )
            }
        };
        let socket = match transfer_socket(local) {
            Ok(s) => {
                if matches!(machine, Machine::Receive(..)) {
                    // An upload's windows then arrive in one read each (see `udp`).
                    udp::enable_gro(&s);
                }
                s
            }
            Err(_) => {
                if let Machine::Receive(_, Some(up)) = machine {
                    up.discard();
                }
                return Err(busy);
            }
        };
        let entry = self.transfers.vacant_entry();
        let key = entry.key();
        let mut transfer = Transfer {
            id,
            socket,
            machine,
            peer: src,
            filename: request.filename.to_owned(),
            mode: request.mode,
            started: now,
            bytes: 0,
            scheduled: None,
            outcome: None,
            gso: Default::default(),
        };
        if registry.register(&mut transfer.socket, Token(key), Interest::READABLE).is_err() {
            transfer.abandon();
            return Err(busy);
        }
        entry.insert(transfer);
        Ok(key)
    }

    /// Answers a request with an ERROR from `local`: through the listener where that is its
    /// address, else from a throwaway socket bound to it (a wildcard listener's replies
    /// would leave from whatever address the route picks).
    fn answer_error(&mut self, to: SocketAddr, local: IpAddr, code: ErrorCode, message: &str) {
        let Some(listener) = &self.listener else { return };
        self.out.clear();
        emit::encode_error(&mut self.out, code, message);
        if local == self.local_ip || local.is_unspecified() {
            let _ = listener.send_to(&self.out, to);
        } else if let Ok(s) = StdUdp::bind(SocketAddr::new(local, 0)) {
            let _ = s.send_to(&self.out, to);
        }
    }

    /// After any input to transfer `key`: pump it, log and drop it when done, reschedule.
    fn after_input(&mut self, key: usize, now: Instant, registry: &pollux_reactor::mio::Registry) {
        let Some(t) = self.transfers.get_mut(key) else { return };
        let had_outcome = t.outcome.is_some();
        t.pump(now, &mut self.scratch, &mut self.out, &mut self.batch);
        if !had_outcome && t.outcome.is_some() {
            log_transfer(&self.shared.config, t, now);
        }
        if t.is_closed() {
            let mut t = self.transfers.remove(key);
            let _ = registry.deregister(&mut t.socket);
            return;
        }
        if let Some(d) = t.poll_timeout() {
            if t.scheduled.is_none_or(|s| d < s) {
                t.scheduled = Some(d);
                self.deadlines.push(Reverse((d, key, t.id)));
            }
        }
    }

    fn log_refusal(&self, src: SocketAddr, request: &Request<'_>, r: &Refusal) {
        if self.shared.config.log {
            let kind = kind_name(request.kind);
            let src = SocketAddr::new(src.ip().to_canonical(), src.port());
            let line = format!(
                "tftp: {src} {kind} {:?} {} refused: {}\n",
                request.filename,
                request.mode.as_str(),
                r.message
            );
            let _ = io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// A fresh socket on an ephemeral port of `local`: the transfer's TID (RFC 1350 §4).
fn transfer_socket(local: IpAddr) -> io::Result<UdpSocket> {
    let s = StdUdp::bind(SocketAddr::new(local, 0))?;
    s.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(s))
}

fn option_refusal(e: pollux_tftp::OptionError) -> Refusal {
    let _ = e;
    Refusal { code: ErrorCode::OptionNegotiation, message: "Option negotiation failed" }
}

fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Read => "RRQ",
        RequestKind::Write => "WRQ",
    }
}

fn log_transfer(config: &ServerConfig, t: &Transfer, now: Instant) {
    if !config.log {
        return;
    }
    let result = match &t.outcome {
        Some(Ok(())) => "ok".to_owned(),
        Some(Err(e)) => format!("failed: {e}"),
        None => "unknown".to_owned(),
    };
    let secs = now.saturating_duration_since(t.started).as_secs_f64();
    let peer = SocketAddr::new(t.peer.ip().to_canonical(), t.peer.port());
    let line = format!(
        "tftp: {} {} {:?} {} {} bytes {:.3}s {}\n",
        peer,
        kind_name(t.kind()),
        t.filename,
        t.mode.as_str(),
        t.bytes,
        secs,
        result
    );
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

impl Service for TftpService {
    type Message = ();

    fn on_start(&mut self, cx: &mut Ctx<'_, ()>) -> io::Result<()> {
        let Some(s) = self.pending.take() else {
            return Err(io::Error::other("no socket for this worker"));
        };
        self.local_ip = s.local_addr()?.ip();
        if self.local_ip.is_unspecified() {
            udp::enable_pktinfo(&s, self.local_ip.is_ipv6());
        }
        let mut s = UdpSocket::from_std(s);
        cx.registry.register(&mut s, Token(LISTENER), Interest::READABLE)?;
        self.listener = Some(s);
        Ok(())
    }

    fn on_accept(&mut self, _cx: &mut Ctx<'_, ()>, _stream: TcpStream, _peer: SocketAddr) {
        // No TCP listener is configured; nothing can arrive here.
    }

    fn on_ready(&mut self, cx: &mut Ctx<'_, ()>, token: usize, _event: &Event) {
        if token == LISTENER {
            return self.on_listener(cx.now, cx.registry);
        }
        loop {
            let Some(t) = self.transfers.get_mut(token) else { return };
            let (n, src, segment) = match udp::recv(&t.socket, &mut self.recv) {
                Ok(r) => (r.len, r.src, r.segment),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            // With UDP_GRO (uploads), one read may hold a window of datagrams of one size.
            let segment = segment.unwrap_or(n).max(1);
            for at in (0..n.max(1)).step_by(segment) {
                let Some(t) = self.transfers.get_mut(token) else { return };
                t.handle_datagram(cx.now, src, &self.recv[at..(at + segment).min(n)]);
                self.after_input(token, cx.now, cx.registry);
            }
        }
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _kind: TimerKind) {}

    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((d, _, _))| *d)
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_, ()>) {
        let now = cx.now;
        while let Some(&Reverse((d, key, id))) = self.deadlines.peek() {
            if d > now {
                break;
            }
            self.deadlines.pop();
            let Some(t) = self.transfers.get_mut(key) else { continue };
            if t.id != id || t.scheduled != Some(d) {
                continue; // stale: the transfer is gone, or has a newer entry
            }
            t.scheduled = None;
            if t.poll_timeout().is_some_and(|real| real <= now) {
                t.handle_timeout(now);
            }
            self.after_input(key, now, cx.registry);
        }
    }

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, ()>) {
        // No new transfers; running ones finish within the grace period.
        if let Some(mut l) = self.listener.take() {
            let _ = cx.registry.deregister(&mut l);
        }
    }

    fn connections(&self) -> usize {
        self.transfers.len() + usize::from(self.listener.is_some())
    }
}

impl Drop for TftpService {
    fn drop(&mut self) {
        // The grace period ran out: no half-written upload may stay behind.
        let now = Instant::now();
        for (_, t) in self.transfers.iter_mut() {
            if t.outcome.is_none() {
                t.abandon();
                log_transfer(&self.shared.config, t, now);
            }
        }
    }
}
