//! A worker's door: what happens to a connection between the accept and its first HTTP (or
//! TLS) byte. Access rules, the per-address limit, TCP keepalive, and the PROXY header.
//!
//! ```text
//!  accept ─► keepalive on the socket
//!         ─► PROXY listener? ─yes─► peer a trusted balancer? ─no─► close
//!               │ no                     │ yes: Slot::Header, 3 s timer
//!               │                        ▼
//!               │              header_step(): peek ─► proxy::parse ─► consume the header
//!               ▼                        │ the client's address
//!           admit(peer) ◄────────────────┘
//!             --allow/--deny (first match) ─► --max-conns-per-ip ─► the connection starts
//! ```
//!
//! The side table (`slots`, by connection token, like the TLS sessions) exists only when a
//! PROXY listener or a per-address limit is configured; a server with neither pays one
//! branch at accept and nothing per request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use pollux_reactor::mio::net::TcpStream;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use socket2::{SockRef, TcpKeepalive};

use crate::acl::{in_any, AccessList, IpSlot, PerIpLimit};
use crate::proxy::{self, Parsed, Pending, Source};
use crate::Options;

/// Probes after the idle time: how often, and how many unanswered before the kernel gives
/// up. Go's defaults (15 s apart, 9 of them, `net.KeepAliveConfig`), so a dead peer is found
/// about two and a quarter minutes after the idle time.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_PROBES: u32 = 9;

/// Connections refused at the door, by reason, across all workers (`Options::refused`):
/// what the admin listener's `/metrics` reports (as, say,
/// `pollux_connections_refused_total{reason="denied"}`). Counted once per refused connection,
/// never per request; read with relaxed loads.
#[derive(Debug, Default)]
pub struct Refused {
    /// `--deny`, or not in an `--allow` list.
    pub denied: AtomicU64,
    /// Over `--max-conns-per-ip`.
    pub over_limit: AtomicU64,
    /// A PROXY listener's peer that is no trusted balancer.
    pub untrusted: AtomicU64,
    /// Not a PROXY header, or a broken one.
    pub bad_header: AtomicU64,
    /// No whole header within `proxy::HEADER_TIMEOUT`.
    pub header_timeout: AtomicU64,
}

/// One more refusal of a kind.
fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the accept decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Close the socket now, unread.
    Refuse,
    /// The connection starts (HTTP or TLS).
    Start,
    /// Wait for the PROXY header first.
    AwaitHeader,
}

/// What reading the PROXY header came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderStep {
    /// Not whole yet.
    Wait,
    /// Close the connection (no HTTP answer).
    Refuse,
    /// The header is consumed and the client admitted: start the connection with this
    /// address as its peer.
    Start(SocketAddr),
}

/// A connection's entry in the side table.
#[derive(Debug, Default)]
enum Slot {
    #[default]
    Free,
    /// Waiting for its PROXY header.
    Header(Pending),
    /// Admitted; holds its place in the per-address count (if one is kept) until the slot
    /// is freed, which gives the place back.
    Admitted { _place: Option<IpSlot> },
}

/// One worker's door.
pub(crate) struct Door {
    /// Every listener expects a PROXY header.
    proxy: bool,
    trusted: Vec<IpNet>,
    access: AccessList,
    per_ip: Option<Arc<PerIpLimit>>,
    keepalive: Option<TcpKeepalive>,
    /// By connection token; empty unless `proxy` or `per_ip`.
    slots: Vec<Slot>,
    /// Where a header is peeked into (made on first use).
    peek: Vec<u8>,
    refused: Arc<Refused>,
}

impl Door {
    pub(crate) fn new(opts: &Options, per_ip: Option<Arc<PerIpLimit>>) -> Door {
        let keepalive = opts.tcp_keepalive.map(|idle| {
            TcpKeepalive::new()
                .with_time(idle)
                .with_interval(KEEPALIVE_INTERVAL)
                .with_retries(KEEPALIVE_PROBES)
        });
        Door {
            proxy: opts.proxy_protocol,
            trusted: opts.proxy_trusted.clone(),
            access: opts.access.clone(),
            per_ip,
            keepalive,
            slots: Vec::new(),
            peek: Vec::new(),
            refused: opts.refused.clone(),
        }
    }

    /// Whether connections keep an entry in the side table.
    #[inline(always)]
    fn tracks(&self) -> bool {
        self.proxy || self.per_ip.is_some()
    }

    fn slot(&mut self, token: usize) -> &mut Slot {
        if self.slots.len() <= token {
            self.slots.resize_with(token + 1, Slot::default);
        }
        &mut self.slots[token]
    }

    /// A connection was accepted from `peer` and will be `token` if it is let in.
    pub(crate) fn on_accept(
        &mut self,
        token: usize,
        stream: &TcpStream,
        peer: SocketAddr,
        now: Instant,
    ) -> Admit {
        let admit = if self.proxy {
            // Only a balancer may speak here: anyone else could forge any address.
            if !in_any(&self.trusted, peer.ip()) {
                count(&self.refused.untrusted);
                return Admit::Refuse;
            }
            *self.slot(token) = Slot::Header(Pending::new(now));
            Admit::AwaitHeader
        } else if self.admit(token, peer) {
            Admit::Start
        } else {
            return Admit::Refuse;
        };
        if let Some(ka) = &self.keepalive {
            // Best effort: a socket that refuses keepalive is served all the same.
            let _ = SockRef::from(stream).set_tcp_keepalive(ka);
        }
        admit
    }

    /// The access rules and the per-address limit, for the client at `peer`.
    fn admit(&mut self, token: usize, peer: SocketAddr) -> bool {
        if !self.access.is_empty() && !self.access.allows(peer.ip()) {
            count(&self.refused.denied);
            return false;
        }
        let counted = match &self.per_ip {
            None => None,
            Some(t) => match t.acquire(peer.ip()) {
                Some(s) => Some(s),
                None => {
                    count(&self.refused.over_limit);
                    return false;
                }
            },
        };
        if self.tracks() {
            *self.slot(token) = Slot::Admitted { _place: counted };
        }
        true
    }

    /// Whether connection `token` still waits for its PROXY header (then it must not be run
    /// as HTTP).
    #[inline(always)]
    pub(crate) fn awaits_header(&self, token: usize) -> bool {
        self.proxy && matches!(self.slots.get(token), Some(Slot::Header(_)))
    }

    /// Whether the header's time is up (the PROXY timer fired).
    pub(crate) fn header_expired(&mut self, token: usize, now: Instant) -> bool {
        let expired = matches!(self.slots.get(token), Some(Slot::Header(p)) if p.expired(now));
        if expired {
            count(&self.refused.header_timeout);
        }
        expired
    }

    /// Reads what arrived of connection `token`'s PROXY header. The header is peeked until it
    /// is whole, then exactly its bytes are taken off the socket: what follows stays for the
    /// connection.
    pub(crate) fn header_step(&mut self, token: usize, stream: &TcpStream) -> HeaderStep {
        if self.peek.is_empty() {
            self.peek = vec![0; proxy::MAX_HEADER];
        }
        let n = loop {
            match rustix::net::recv(stream, &mut self.peek[..], RecvFlags::PEEK) {
                // The peer closed (or reset) before a whole header.
                Ok((0, _)) => return HeaderStep::Refuse,
                Ok((n, _)) => break n,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return HeaderStep::Wait,
                Err(_) => return HeaderStep::Refuse,
            }
        };
        let (len, source) = match proxy::parse(&self.peek[..n]) {
            Parsed::Incomplete => return HeaderStep::Wait,
            Parsed::Invalid(_) => {
                count(&self.refused.bad_header);
                return HeaderStep::Refuse;
            }
            Parsed::Done { len, source } => (len, source),
        };
        let mut taken = 0;
        while taken < len {
            match rustix::net::recv(stream, &mut self.peek[taken..len], RecvFlags::empty()) {
                Ok((0, _)) => return HeaderStep::Refuse,
                Ok((k, _)) => taken += k,
                Err(Errno::INTR) => {}
                // Peeked bytes are in the socket: anything else is a broken connection.
                Err(_) => return HeaderStep::Refuse,
            }
        }
        let peer = match source {
            Source::Client(addr) => addr,
            // The socket's own addresses stand (LOCAL: the balancer's health check).
            Source::Local => match stream.peer_addr() {
                Ok(a) => a,
                Err(_) => return HeaderStep::Refuse,
            },
        };
        if self.admit(token, peer) {
            HeaderStep::Start(peer)
        } else {
            HeaderStep::Refuse
        }
    }

    /// Connection `token` is gone: its place in the per-address count is given back.
    #[inline(always)]
    pub(crate) fn release(&mut self, token: usize) {
        if self.tracks() {
            if let Some(s) = self.slots.get_mut(token) {
                *s = Slot::Free;
            }
        }
    }
}
