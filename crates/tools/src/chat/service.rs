//! The chat room on the reactor: connections in, [`Room`] decides, queued lines out.
//!
//! One worker holds the whole room (members of one room must see one order of lines, and a
//! chat's traffic is far below what one core moves), so the server runs a single worker.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use pollux_reactor::mio::event::Event;
use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::mio::{Interest, Token};
use pollux_reactor::{Ctx, Service, TimerKind};
use slab::Slab;

use super::room::{ClientId, Limits, Room};

/// Bytes read at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read from one member per loop turn before the others get their turn, so one
/// flooding member cannot keep the worker (and everyone's output) to itself.
const TURN_BUDGET: usize = 64 * 1024;

/// The room's reactor service.
#[derive(Debug)]
pub struct ChatService {
    room: Room,
    conns: Slab<TcpStream>,
    buf: Box<[u8]>,
    yielded: Vec<ClientId>,
}

impl ChatService {
    /// An empty room with these limits.
    pub fn new(limits: Limits) -> Self {
        ChatService {
            room: Room::new(limits),
            conns: Slab::new(),
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            yielded: Vec::new(),
        }
    }

    /// Reads what a member sent, up to the turn's budget.
    fn read(&mut self, cx: &mut Ctx<'_, ()>, id: ClientId) {
        let mut taken = 0;
        loop {
            let Some(stream) = self.conns.get_mut(id) else { return };
            if taken >= TURN_BUDGET {
                if !self.yielded.contains(&id) {
                    self.yielded.push(id);
                }
                return;
            }
            match stream.read(&mut self.buf) {
                Ok(0) => return self.hang_up(cx, id),
                Ok(n) => {
                    taken += n;
                    self.room.handle_bytes(id, &self.buf[..n]);
                    // Out with it before reading more, so queues hold as little as possible.
                    self.settle(cx);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.hang_up(cx, id),
            }
        }
    }

    /// Writes a member's queued lines until done or `WouldBlock`; closes a quitter once done.
    fn flush(&mut self, cx: &mut Ctx<'_, ()>, id: ClientId) {
        loop {
            let Some(stream) = self.conns.get_mut(id) else { return };
            let out = self.room.poll_output(id);
            if out.is_empty() {
                break;
            }
            match stream.write(out) {
                Ok(0) => return self.hang_up(cx, id),
                Ok(n) => self.room.handle_written(id, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.hang_up(cx, id),
            }
        }
        if self.room.should_close(id) {
            self.hang_up(cx, id);
        }
    }

    /// Closes a member's connection and tells the room.
    fn hang_up(&mut self, cx: &mut Ctx<'_, ()>, id: ClientId) {
        self.close(cx, id);
        self.room.handle_hangup(id);
    }

    fn close(&mut self, cx: &mut Ctx<'_, ()>, id: ClientId) {
        if let Some(mut s) = self.conns.try_remove(id) {
            let _ = cx.registry.deregister(&mut s);
        }
        self.yielded.retain(|&y| y != id);
    }

    /// Acts on what the room decided: closes dropped members, writes new output. Writing can
    /// fail and announce a departure, which is new output: repeat until quiet.
    fn settle(&mut self, cx: &mut Ctx<'_, ()>) {
        loop {
            for event in self.room.take_events() {
                // The operator's view of the room, as the members see it announced.
                eprintln!("pollux: chat: {event}");
            }
            let closed = self.room.take_closed();
            let touched = self.room.take_touched();
            if closed.is_empty() && touched.is_empty() {
                return;
            }
            for id in closed {
                self.close(cx, id);
            }
            for id in touched {
                self.flush(cx, id);
            }
        }
    }
}

impl Service for ChatService {
    type Message = ();

    fn on_accept(&mut self, cx: &mut Ctx<'_, ()>, stream: TcpStream, _peer: SocketAddr, _listener: usize) {
        let entry = self.conns.vacant_entry();
        let id = entry.key();
        let mut stream = stream;
        if cx.registry.register(&mut stream, Token(id), Interest::READABLE | Interest::WRITABLE).is_err() {
            return;
        }
        entry.insert(stream);
        self.room.handle_join(id);
        self.settle(cx);
        // Lines may have come with the handshake, before we registered for their edge.
        self.read(cx, id);
    }

    fn on_ready(&mut self, cx: &mut Ctx<'_, ()>, token: usize, event: &Event) {
        if event.is_writable() {
            self.flush(cx, token);
        }
        self.read(cx, token);
        self.settle(cx);
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _kind: TimerKind) {}

    fn on_shutdown(&mut self, cx: &mut Ctx<'_, ()>) {
        self.room.announce("the server is shutting down");
        self.settle(cx);
        let ids: Vec<ClientId> = self.conns.iter().map(|(id, _)| id).collect();
        for id in ids {
            self.close(cx, id);
        }
    }

    fn wants_turn(&self) -> bool {
        !self.yielded.is_empty()
    }

    fn on_turn_end(&mut self, cx: &mut Ctx<'_, ()>) {
        for id in std::mem::take(&mut self.yielded) {
            self.read(cx, id);
        }
        self.settle(cx);
    }

    fn connections(&self) -> usize {
        self.conns.len()
    }
}
