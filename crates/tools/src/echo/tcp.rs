//! TCP echo: one fixed buffer per connection, and backpressure by construction.
//!
//! A connection reads only when its buffer is empty, i.e. when everything it read before has
//! been written back. A client that sends without reading fills our socket's send buffer,
//! the write blocks, and we stop reading: its bytes then wait in *its* kernel buffers, and
//! finally its `write` blocks. The server holds at most [`BUF`] bytes per connection however
//! much the client sends.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use pollux_reactor::mio::event::Event;
use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::mio::{Interest, Token};
use pollux_reactor::{Ctx, Service, TimerKind};
use slab::Slab;

use super::Reply;

/// Bytes read at a time, and the most a connection holds.
const BUF: usize = 16 * 1024;
/// Bytes one connection may echo per loop turn before the others get the worker: a client
/// that reads as fast as it writes would otherwise keep the loop to itself.
const TURN_BUDGET: usize = 256 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading and echoing.
    Open,
    /// The client closed its side (FIN): echo what is left, then close ours (RFC 862 ends
    /// the exchange when the client does).
    InputClosed,
}

/// What [`Conn::drive`] decided.
enum Next {
    /// Wait for the next readiness edge.
    Wait,
    /// The turn's budget is spent with work left: come back without waiting for an edge.
    Yield,
    /// Done: close the connection.
    Close,
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// Unsent bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    phase: Phase,
}

impl Conn {
    /// Writes what is pending, then reads more, until the socket says `WouldBlock` either way
    /// or the turn's budget is spent.
    fn drive(&mut self, reply: Reply) -> io::Result<Next> {
        let mut moved = 0;
        loop {
            while self.start < self.end {
                match self.stream.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.start += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.start = 0;
            self.end = 0;
            if self.phase == Phase::InputClosed {
                return Ok(Next::Close);
            }
            if moved >= TURN_BUDGET {
                return Ok(Next::Yield);
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => self.phase = Phase::InputClosed,
                Ok(n) => {
                    reply.apply(&mut self.buf[..n]);
                    self.end = n;
                    moved += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One worker's TCP echo service.
#[derive(Debug)]
pub struct TcpEcho {
    conns: Slab<Conn>,
    reply: Reply,
    /// Connections that yielded their turn with work left.
    yielded: Vec<usize>,
}

impl TcpEcho {
    /// A service answering with `reply`.
    pub fn new(reply: Reply) -> Self {
        TcpEcho { conns: Slab::new(), reply, yielded: Vec::new() }
    }

    fn run(&mut self, cx: &mut Ctx<'_, ()>, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else { return };
        match conn.drive(self.reply) {
            Ok(Next::Wait) => {}
            Ok(Next::Yield) => {
                if !self.yielded.contains(&token) {
                    self.yielded.push(token);
                }
            }
            Ok(Next::Close) | Err(_) => self.close(cx, token),
        }
    }

    fn close(&mut self, cx: &mut Ctx<'_, ()>, token: usize) {
        if let Some(mut conn) = self.conns.try_remove(token) {
            let _ = cx.registry.deregister(&mut conn.stream);
        }
        self.yielded.retain(|&t| t != token);
    }
}

impl Service for TcpEcho {
    type Message = ();

    fn on_accept(&mut self, cx: &mut Ctx<'_, ()>, stream: TcpStream, _peer: SocketAddr, _listener: usize) {
        let entry = self.conns.vacant_entry();
        let token = entry.key();
        let mut conn =
            Conn { stream, buf: vec![0; BUF].into_boxed_slice(), start: 0, end: 0, phase: Phase::Open };
        // Both directions at once, edge-triggered: one registration for the connection's life.
        if cx
            .registry
            .register(&mut conn.stream, Token(token), Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            return;
        }
        entry.insert(conn);
        // Bytes may have arrived with the handshake; their edge came before we registered.
        self.run(cx, token);
    }

    fn on_ready(&mut self, cx: &mut Ctx<'_, ()>, token: usize, _event: &Event) {
        self.run(cx, token);
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _kind: TimerKind) {}

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, ()>) {
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        for t in tokens {
            self.close(cx, t);
        }
    }

    fn wants_turn(&self) -> bool {
        !self.yielded.is_empty()
    }

    fn on_turn_end(&mut self, cx: &mut Ctx<'_, ()>) {
        for token in std::mem::take(&mut self.yielded) {
            self.run(cx, token);
        }
    }

    fn connections(&self) -> usize {
        self.conns.len()
    }
}
