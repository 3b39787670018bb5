//! A service without TCP listeners: it registers its own UDP socket in `on_start` and answers
//! datagrams (the shape of the TFTP server and the UDP tools).
#![allow(clippy::unwrap_used)]

#[path = "../../testkit/src/retry.rs"]
mod io_retry;
use io_retry::recv_from;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use pollux_reactor::mio::{event::Event, net::UdpSocket as MioUdp, Interest, Token};
use pollux_reactor::{Ctx, ListenerConfig, RunConfig, Service, Shutdown, TimerKind};

/// Answers each datagram with its bytes upper-cased (an upper-casing echo server, over UDP).
struct Upper {
    socket: Option<MioUdp>,
    addr_tx: mpsc::Sender<SocketAddr>,
}

impl Service for Upper {
    type Message = ();

    fn on_start(&mut self, cx: &mut Ctx<'_, ()>) -> std::io::Result<()> {
        let mut s = MioUdp::bind("127.0.0.1:0".parse().unwrap())?;
        cx.registry.register(&mut s, Token(0), Interest::READABLE)?;
        let _ = self.addr_tx.send(s.local_addr()?);
        self.socket = Some(s);
        Ok(())
    }

    fn on_accept(
        &mut self,
        _cx: &mut Ctx<'_, ()>,
        _s: pollux_reactor::mio::net::TcpStream,
        _p: SocketAddr,
        _l: usize,
    ) {
        unreachable!("no TCP listener")
    }

    fn on_ready(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _ev: &Event) {
        let Some(s) = &self.socket else { return };
        let mut buf = [0u8; 2048];
        // Edge-triggered: drain every queued datagram.
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            buf[..n].make_ascii_uppercase();
            let _ = s.send_to(&buf[..n], from);
        }
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _kind: TimerKind) {}

    fn on_shutdown(&mut self, _cx: &mut Ctx<'_, ()>) {
        self.socket = None;
    }

    fn connections(&self) -> usize {
        usize::from(self.socket.is_some())
    }
}

#[test]
fn a_udp_service_registers_its_socket_at_start() {
    let shutdown = Shutdown::new();
    let cfg = RunConfig {
        inherited: Vec::new(),
        addrs: Vec::new(),
        workers: 1,
        listener: ListenerConfig { backlog: 16 },
        max_conns: 16,
        grace: Duration::from_secs(1),
        timers: Vec::new(),
    };
    let (tx, rx) = mpsc::channel();
    let sd = shutdown.clone();
    let h = std::thread::spawn(move || {
        pollux_reactor::run(
            cfg,
            sd,
            |a| assert!(a.is_empty()),
            move |_, _| Upper { socket: None, addr_tx: tx.clone() },
        )
    });
    let server = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    for word in ["hello", "udp", "world"] {
        client.send_to(word.as_bytes(), server).unwrap();
        let (n, from) = recv_from(&client, &mut buf).unwrap();
        assert_eq!((&buf[..n], from), (word.to_uppercase().as_bytes(), server));
    }
    shutdown.begin();
    h.join().unwrap().unwrap();
}
