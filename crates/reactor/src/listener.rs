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
    ensure_unclaimed(addr, Type::STREAM, addr.is_ipv6())?;
    // The kind stays (callers match on it); the text names the address, which a bare
    // "Permission denied" or "Cannot assign requested address" does not.
    bind_group(addr, count, cfg)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

fn bind_group(addr: SocketAddr, count: usize, cfg: ListenerConfig) -> io::Result<Vec<std::net::TcpListener>> {
    let mut out = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let l = listen(addr, true, cfg)?;
        addr = l.local_addr()?;
        out.push(l);
    }
    Ok(out)
}

/// One non-blocking listening socket with `SO_REUSEADDR` (and `SO_REUSEPORT` when asked).
fn listen(addr: SocketAddr, reuse_port: bool, cfg: ListenerConfig) -> io::Result<std::net::TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        // `[::]` should mean IPv6 only; a separate `0.0.0.0` bind covers IPv4.
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(cfg.backlog)?;
    Ok(sock.into())
}

/// Binds one non-blocking listener to `addr` for several processes to share: a supervisor
/// keeps it and its children inherit it ([`adopt_listener`]), so a child that exits leaves
/// the connections still queued to the others instead of resetting them, as closing one of
/// a `SO_REUSEPORT` group would.
pub fn bind_shared(addr: SocketAddr, cfg: ListenerConfig) -> io::Result<std::net::TcpListener> {
    ensure_unclaimed(addr, Type::STREAM, addr.is_ipv6())?;
    listen(addr, false, cfg)
}

/// Binds one blocking listener to `addr` with `SO_REUSEPORT`, for a socket that the process
/// replacing this one must bind while this one still holds it (the admin listener across a
/// binary upgrade). `check_unclaimed`: first fail if something already serves `addr` (see
/// [`ensure_unclaimed`]); the successor passes `false`.
pub fn bind_joinable(
    addr: SocketAddr,
    cfg: ListenerConfig,
    check_unclaimed: bool,
) -> io::Result<std::net::TcpListener> {
    if check_unclaimed {
        ensure_unclaimed(addr, Type::STREAM, addr.is_ipv6())?;
    }
    let l = listen(addr, true, cfg)?;
    l.set_nonblocking(false)?;
    Ok(l)
}

/// Takes over listening socket `fd`, inherited from the process that started this one
/// (see [`bind_shared`]). Checks that `fd` is an open, listening TCP socket first, so a
/// wrong number is an error rather than someone else's descriptor taken over.
pub fn adopt_listener(fd: std::os::fd::RawFd) -> io::Result<std::net::TcpListener> {
    use std::os::fd::{BorrowedFd, FromRawFd};
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: only borrowed for the checks below, while this process does nothing else with
    // `fd` (it was inherited, and nothing in the process opened or closed it since).
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let listening = rustix::net::sockopt::socket_acceptconn(borrowed).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("inherited descriptor {fd}: {e}"))
    })?;
    if !listening {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("inherited descriptor {fd} is not listening"),
        ));
    }
    // The child of a supervisor must not pass it on further (to a CGI script, say).
    rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::CLOEXEC)?;
    // SAFETY: `fd` is an open listening socket (checked above) that this process owns from
    // now on: the parent handed it over and nothing else here refers to it.
    let l = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Fails with `AddrInUse` when another socket already serves `addr` (nothing to check for
/// port 0). Call it before binding a `SO_REUSEPORT` group; `only_v6` as the group will have it.
///
/// Why: `SO_REUSEPORT` lets any socket of the same user join a port, so a second server
/// started on an address in use would not fail: it would silently take a share of the
/// first one's connections or datagrams. A bind without `SO_REUSEPORT` is refused by such a
/// group (and by any other listener), so one is made and dropped first. The TCP probe sets
/// `SO_REUSEADDR` so that TIME_WAIT connections of a previous run do not count as in use;
/// on UDP that option would itself allow sharing, so the UDP probe goes without.
pub fn ensure_unclaimed(addr: SocketAddr, ty: Type, only_v6: bool) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let probe = Socket::new(Domain::for_address(addr), ty, None)?;
    if ty == Type::STREAM {
        probe.set_reuse_address(true)?;
    }
    if addr.is_ipv6() {
        probe.set_only_v6(only_v6)?;
    }
    probe.bind(&addr.into()).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(io::ErrorKind::AddrInUse, format!("{addr} is already in use"))
        } else {
            io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_group_on_a_port_in_use_is_refused() {
        let cfg = ListenerConfig { backlog: 16 };
        let first = bind_reuseport("127.0.0.1:0".parse().expect("addr"), 2, cfg).expect("first group");
        let addr = first[0].local_addr().expect("local addr");
        let err = bind_reuseport(addr, 2, cfg).expect_err("a second group must not join the first");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        drop(first);
        // Free again once the first group is gone.
        bind_reuseport(addr, 2, cfg).expect("rebind after close");
    }

    #[test]
    fn a_udp_port_in_use_is_refused() {
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let addr = taken.local_addr().expect("local addr");
        let err = ensure_unclaimed(addr, Type::DGRAM, false).expect_err("in use");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(taken);
        ensure_unclaimed(addr, Type::DGRAM, false).expect("free again");
    }
}
