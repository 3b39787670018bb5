//! Listening sockets: one per worker per address, all sharing the port through `SO_REUSEPORT`
//! so the kernel spreads new connections across workers without a shared accept lock.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// How listening sockets are made.
#[derive(Debug, Clone, Copy)]
pub struct ListenerConfig {
    /// `listen(2)` backlog.
    pub backlog: i32,
}

/// Binds `count` non-blocking listeners to `addr` with `SO_REUSEADDR` and `SO_REUSEPORT`.
///
/// With port 0 the first socket picks the port and the rest join it, so every worker listens
/// on the same ephemeral port.
pub fn bind_reuseport(
    addr: SocketAddr,
    count: usize,
    cfg: ListenerConfig,
) -> io::Result<Vec<std::net::TcpListener>> {
    let mut out = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        sock.set_reuse_address(true)?;
        sock.set_reuse_port(true)?;
        if addr.is_ipv6() {
            // `[::]` should mean IPv6 only; a separate `0.0.0.0` bind covers IPv4.
            sock.set_only_v6(true)?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        sock.listen(cfg.backlog)?;
        let l: std::net::TcpListener = sock.into();
        addr = l.local_addr()?;
        out.push(l);
    }
    Ok(out)
}
