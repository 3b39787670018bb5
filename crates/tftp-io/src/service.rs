//! One worker's server as a [`pollux_reactor::Service`]: the listening socket, a slab of
//! transfers, and their deadlines.
//!
//! Why a heap and not the reactor's timer queues: those hold one fixed duration per queue,
//! while a transfer's timeout is negotiated (RFC 2349, 1–255 s). Each transfer keeps at most
//! one live entry: it pushes only when its deadline moves *earlier* than the entry it has,
//! and an entry that pops too early (the deadline moved later) is pushed again at the real
//! deadline. Deadlines move later on every acknowledged window, so this keeps the heap at
//! about one entry per transfer instead of one per window.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdp};
use std::sync::Arc;
use std::time::Instant;

use pollux_reactor::mio::net::{TcpStream, UdpSocket};
use pollux_reactor::mio::{event::Event, Interest, Token};
use pollux_reactor::{Ctx, Service, TimerKind};
use pollux_tftp::{emit, negotiate, ErrorCode, Packet, Receiver, Request, RequestKind, Sender};
use slab::Slab;

use crate::config::Shared;
use crate::files::{self, Refusal};
use crate::log;
use crate::transfer::{Machine, Transfer};
use crate::udp;

/// The listening socket's token; transfers use their slab keys, far below it.
const LISTENER: usize = usize::MAX - 4096;
/// Largest datagram we read: a DATA block at the RFC 2348 maximum fits.
const MAX_DATAGRAM: usize = 65536;

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
    pub(crate) fn new(shared: Arc<Shared>, socket: Option<StdUdp>) -> Self {
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
                log::refusal(&self.shared.config, src, &request, &r);
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
            read_all: false,
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
            log::transfer(&self.shared.config, t, now);
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

    fn on_accept(&mut self, _cx: &mut Ctx<'_, ()>, _stream: TcpStream, _peer: SocketAddr, _listener: usize) {
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
                log::transfer(&self.shared.config, t, now);
            }
        }
    }
}
