//! UDP echo: each datagram answered by one datagram to its sender (RFC 862, section "UDP
//! Based Echo Service"). Nothing is buffered: an answer the socket cannot take right now is
//! dropped, as the network might have dropped it, so a flood costs no memory.

use std::io;
use std::net::SocketAddr;

use pollux_reactor::mio::event::Event;
use pollux_reactor::mio::net::{TcpStream, UdpSocket};
use pollux_reactor::mio::{Interest, Token};
use pollux_reactor::{Ctx, Service, TimerKind};
use socket2::{Domain, Protocol, Socket, Type};

use super::Reply;

/// Largest UDP payload over IPv4 (65,535 less the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;
/// Datagrams one socket answers per loop turn before the others get the worker.
const TURN_BUDGET: usize = 256;

/// Binds every address `workers` times with `SO_REUSEPORT` (port 0: the first socket picks
/// the port, the rest join it). Returns the bound addresses and each worker's sockets.
pub fn bind_udp(
    addrs: &[SocketAddr],
    workers: usize,
) -> io::Result<(Vec<SocketAddr>, Vec<Vec<std::net::UdpSocket>>)> {
    let workers = workers.max(1);
    let mut bound = Vec::new();
    let mut per_worker: Vec<Vec<std::net::UdpSocket>> = (0..workers).map(|_| Vec::new()).collect();
    for &addr in addrs {
        pollux_reactor::ensure_unclaimed(addr, Type::DGRAM, addr.is_ipv6())?;
        let mut addr = addr;
        for sockets in per_worker.iter_mut() {
            let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_address(true)?;
            s.set_reuse_port(true)?;
            if addr.is_ipv6() {
                s.set_only_v6(true)?;
            }
            s.set_nonblocking(true)?;
            s.bind(&addr.into())?;
            let s: std::net::UdpSocket = s.into();
            addr = s.local_addr()?;
            sockets.push(s);
        }
        bound.push(addr);
    }
    Ok((bound, per_worker))
}

/// One worker's UDP echo service: its sockets, one per bound address.
#[derive(Debug)]
pub struct UdpEcho {
    waiting: Vec<std::net::UdpSocket>,
    sockets: Vec<UdpSocket>,
    reply: Reply,
    buf: Box<[u8]>,
    yielded: Vec<usize>,
}

impl UdpEcho {
    /// A service for these (non-blocking) sockets; they are registered when the worker starts.
    pub fn new(sockets: Vec<std::net::UdpSocket>, reply: Reply) -> Self {
        UdpEcho {
            waiting: sockets,
            sockets: Vec::new(),
            reply,
            buf: vec![0; MAX_DATAGRAM].into_boxed_slice(),
            yielded: Vec::new(),
        }
    }

    fn answer(&mut self, token: usize) {
        let Some(s) = self.sockets.get(token) else { return };
        for _ in 0..TURN_BUDGET {
            match s.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    self.reply.apply(&mut self.buf[..n]);
                    // WouldBlock here drops the answer (see the module doc); other errors are
                    // about that one peer (ICMP unreachable from an earlier send, say).
                    let _ = s.send_to(&self.buf[..n], from);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Interrupted, or an error queued by an earlier send: try the next datagram.
                Err(_) => {}
            }
        }
        if !self.yielded.contains(&token) {
            self.yielded.push(token);
        }
    }
}

impl Service for UdpEcho {
    type Message = ();

    fn on_start(&mut self, cx: &mut Ctx<'_, ()>) -> io::Result<()> {
        for (i, s) in self.waiting.drain(..).enumerate() {
            let mut s = UdpSocket::from_std(s);
            cx.registry.register(&mut s, Token(i), Interest::READABLE)?;
            self.sockets.push(s);
        }
        // Datagrams that came before registration produced no edge for us.
        for t in 0..self.sockets.len() {
            self.answer(t);
        }
        Ok(())
    }

    fn on_accept(&mut self, _cx: &mut Ctx<'_, ()>, _stream: TcpStream, _peer: SocketAddr, _listener: usize) {
        // No TCP listeners are configured for this service; nothing to accept.
    }

    fn on_ready(&mut self, _cx: &mut Ctx<'_, ()>, token: usize, _event: &Event) {
        self.answer(token);
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _kind: TimerKind) {}

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, ()>) {
        for mut s in self.sockets.drain(..) {
            let _ = cx.registry.deregister(&mut s);
        }
        self.yielded.clear();
    }

    fn wants_turn(&self) -> bool {
        !self.yielded.is_empty()
    }

    fn on_turn_end(&mut self, _cx: &mut Ctx<'_, ()>) {
        for t in std::mem::take(&mut self.yielded) {
            self.answer(t);
        }
    }

    fn connections(&self) -> usize {
        self.sockets.len()
    }
}
