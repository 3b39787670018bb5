//! The TFTP server: its configuration, its sockets on the well-known port, and the workers.
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
//! over the workers with the requests. Each worker runs a [`crate::service::TftpService`].

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::sync::{Arc, Mutex};

use pollux_reactor::{ListenerConfig, RunConfig, Shutdown};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{ServerConfig, Shared};
use crate::service::TftpService;

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
    pollux_reactor::ensure_unclaimed(addr, Type::DGRAM, addr.is_ipv6() && !addr.ip().is_unspecified())?;
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
        inherited: Vec::new(),
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
