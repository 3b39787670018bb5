//! UDP datagrams and subnet broadcast: send one datagram, or listen on a
//! port and hand over each datagram with its sender.
//!
//! Plain blocking sockets: a sender sends once and a listener waits for the next datagram,
//! so there is nothing for an event loop to multiplex.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::ops::ControlFlow;

use socket2::{Domain, Protocol, Socket, Type};

/// Largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;

/// Why sending or listening failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UdpError {
    #[error("cannot resolve {target}: {source}")]
    Resolve { target: String, source: io::Error },
    #[error("{target} has no port: write HOST:PORT, e.g. {target}:9999")]
    NoPort { target: String },
    #[error("{target} resolves to no address")]
    NoAddress { target: String },
    #[error("cannot open a UDP socket: {0}")]
    Socket(io::Error),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    /// EACCES from `sendto`: the kernel refuses a broadcast address without `SO_BROADCAST`.
    #[error("{0} is a broadcast address: sending there needs --broadcast")]
    BroadcastNotAllowed(SocketAddr),
    #[error("the message is {0} bytes; a UDP datagram holds at most {MAX_DATAGRAM}")]
    TooLong(usize),
    #[error("cannot send to {to}: {source}")]
    Send { to: SocketAddr, source: io::Error },
    #[error("cannot receive: {0}")]
    Receive(io::Error),
}

/// Sends `message` as one datagram to `target` (`HOST:PORT`). With `broadcast`, the socket
/// may send to a broadcast address (`SO_BROADCAST`); the kernel refuses that otherwise.
/// Returns the address sent to.
pub fn send(target: &str, message: &[u8], broadcast: bool) -> Result<SocketAddr, UdpError> {
    if message.len() > MAX_DATAGRAM {
        return Err(UdpError::TooLong(message.len()));
    }
    // Without this check the resolver's "invalid socket address" blames the host.
    let bare = target.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(target);
    if !target.contains(':') || bare.parse::<std::net::IpAddr>().is_ok() {
        return Err(UdpError::NoPort { target: target.to_owned() });
    }
    let to = target
        .to_socket_addrs()
        .map_err(|source| UdpError::Resolve { target: target.to_owned(), source })?
        .next()
        .ok_or_else(|| UdpError::NoAddress { target: target.to_owned() })?;
    let sock =
        Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP)).map_err(UdpError::Socket)?;
    if broadcast {
        sock.set_broadcast(true).map_err(UdpError::Socket)?;
    }
    match sock.send_to(message, &to.into()) {
        Ok(_) => Ok(to),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && !broadcast => {
            Err(UdpError::BroadcastNotAllowed(to))
        }
        Err(source) => Err(UdpError::Send { to, source }),
    }
}

/// Binds a listening socket on `addr` (`SO_REUSEADDR`, so several listeners can share a
/// port for broadcasts). It receives datagrams sent to any of the host's addresses and to
/// broadcast addresses of its subnets when bound to the wildcard address.
pub fn bind(addr: SocketAddr) -> Result<UdpSocket, UdpError> {
    let sock =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(UdpError::Socket)?;
    sock.set_reuse_address(true).map_err(UdpError::Socket)?;
    sock.bind(&addr.into()).map_err(|source| UdpError::Bind { addr, source })?;
    Ok(sock.into())
}

/// Receives datagrams on `socket` and gives each to `on_datagram` until it says stop.
pub fn listen(
    socket: &UdpSocket,
    mut on_datagram: impl FnMut(SocketAddr, &[u8]) -> ControlFlow<()>,
) -> Result<(), UdpError> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if on_datagram(from, &buf[..n]).is_break() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(UdpError::Receive(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn send_and_listen_on_loopback() {
        let sock = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = sock.local_addr().unwrap();
        let to = send(&addr.to_string(), b"hello", false).unwrap();
        assert_eq!(to, addr);
        let mut got = Vec::new();
        listen(&sock, |_, d| {
            got.push(d.to_vec());
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(got, vec![b"hello".to_vec()]);
    }

    #[test]
    fn errors_are_precise() {
        assert!(matches!(send("127.0.0.1:9", &vec![0; MAX_DATAGRAM + 1], false), Err(UdpError::TooLong(_))));
        assert!(matches!(send("no-port", b"x", false), Err(UdpError::NoPort { .. })));
        assert!(matches!(send("[::1]", b"x", false), Err(UdpError::NoPort { .. })));
        assert!(matches!(send("nosuch.invalid:9", b"x", false), Err(UdpError::Resolve { .. })));
    }
}
