//! The reactor on its own, with a tiny echo service: accepting, edge-triggered reads and
//! writes, timers, messages from other threads through the waker, and graceful shutdown.
#![allow(clippy::unwrap_used)]

#[path = "../../testkit/src/retry.rs"]
mod io_retry;
use io_retry::ReadRetry;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pollux_reactor::mio::{event::Event, net::TcpStream as MioStream, Interest, Token};
use pollux_reactor::{Ctx, ListenerConfig, RunConfig, Service, Shutdown, TimerKind};

const IDLE: TimerKind = TimerKind(0);

/// Echoes bytes; "ping\n" is answered by a helper thread through `Remote`; closes connections
/// idle for the timer's duration with "bye\n".
struct Echo {
    conns: HashMap<usize, MioStream>,
    next: usize,
}

impl Service for Echo {
    type Message = usize;

    fn on_accept(&mut self, cx: &mut Ctx<'_, usize>, mut stream: MioStream, _peer: SocketAddr, _l: usize) {
        let t = self.next;
        self.next += 1;
        cx.registry.register(&mut stream, Token(t), Interest::READABLE).unwrap();
        cx.timers.arm(t, IDLE, cx.now);
        self.conns.insert(t, stream);
    }

    fn on_ready(&mut self, cx: &mut Ctx<'_, usize>, token: usize, _ev: &Event) {
        let Some(s) = self.conns.get_mut(&token) else { return };
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    self.conns.remove(&token);
                    cx.timers.cancel(token);
                    return;
                }
                Ok(n) if &buf[..n] == b"ping\n" => {
                    let remote = cx.remote();
                    std::thread::spawn(move || remote.send(token).unwrap());
                }
                Ok(n) => {
                    s.write_all(&buf[..n]).unwrap();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.conns.remove(&token);
                    return;
                }
            }
        }
        cx.timers.arm(token, IDLE, cx.now);
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_, usize>, token: usize, kind: TimerKind) {
        assert_eq!(kind, IDLE);
        if let Some(mut s) = self.conns.remove(&token) {
            let _ = s.write_all(b"bye\n");
        }
    }

    fn on_message(&mut self, _cx: &mut Ctx<'_, usize>, token: usize) {
        if let Some(s) = self.conns.get_mut(&token) {
            s.write_all(b"pong from another thread\n").unwrap();
        }
    }

    fn on_shutdown(&mut self, _cx: &mut Ctx<'_, usize>) {
        self.conns.clear();
    }

    fn connections(&self) -> usize {
        self.conns.len()
    }
}

fn read_line(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while s.read_retry(&mut b).unwrap() == 1 {
        out.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn echo_service_accepts_echoes_times_out_and_wakes() {
    let shutdown = Shutdown::new();
    let cfg = RunConfig {
        inherited: Vec::new(),
        addrs: vec!["127.0.0.1:0".parse().unwrap()],
        workers: 2,
        listener: ListenerConfig { backlog: 128 },
        max_conns: 100,
        grace: Duration::from_secs(2),
        timers: vec![Duration::from_millis(300)],
    };
    let (tx, rx) = mpsc::channel();
    let sd = shutdown.clone();
    let h = std::thread::spawn(move || {
        pollux_reactor::run(
            cfg,
            sd,
            move |a| tx.send(a[0]).unwrap(),
            |_, _| Echo { conns: HashMap::new(), next: 0 },
        )
    });
    let addr = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let mut clients: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(format!("hello {i}\n").as_bytes()).unwrap();
        assert_eq!(read_line(c), format!("hello {i}\n"));
        c.write_all(b"ping\n").unwrap();
        assert_eq!(read_line(c), "pong from another thread\n");
    }
    // Idle past the timer: each connection is told goodbye and closed.
    let t = Instant::now();
    for c in clients.iter_mut() {
        assert_eq!(read_line(c), "bye\n");
    }
    assert!(t.elapsed() < Duration::from_secs(2));
    shutdown.begin();
    h.join().unwrap().unwrap();
}
