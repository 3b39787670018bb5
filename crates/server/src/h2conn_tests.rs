//! HTTP/2 connections on the simulated clock of `conn_tests.rs`: the real [`Conn`] hands over
//! to the real [`H2Conn`] (as the service does), both driven by the real [`drive`] loop and
//! timed by the reactor's timer wheel, while the test plays an HTTP/2 client with hand-built
//! frames. Deadlines are asserted to the millisecond.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pollux_reactor::Timers;

use crate::conn::{Conn, Env, Layer, State, TimerChange, Wait};
use crate::conn_tests::{deferring, echo_path, options, Handler, Peer, TestApp, MS};
use crate::drive::{drive, CAN_READ, CAN_WRITE};
use crate::h2conn::H2Conn;
use crate::log::Log;
use crate::mailbox::{Finished, Message};
use crate::service::{timer_durations, timer_kind};
use crate::{AccessLog, Body, ConnInfo, Options};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

/// A frame as the client received it.
#[derive(Debug, Clone)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// The connection (HTTP/1.1 until the preface, then HTTP/2), its peer and the timer wheel.
struct Sim {
    conn: Conn,
    h2: Option<H2Conn>,
    peer: Peer,
    ready: u8,
    env: Env,
    timers: Timers,
    now: Instant,
    app: TestApp,
    removed: bool,
    encoder: pollux_hpack::Encoder,
    decoder: pollux_hpack::Decoder,
    /// Frames received and not yet looked at.
    inbox: Vec<Frame>,
}

impl Sim {
    fn new(opts: Options, handler: Handler) -> Sim {
        let timers = Timers::new(&timer_durations(&opts));
        let now = Instant::now() + MS;
        let env = Env::new(Arc::new(opts), Log::open(&AccessLog::Off).expect("no log"), 4);
        let mut sim = Sim {
            conn: Conn::new(([192, 0, 2, 1], 40000).into()),
            h2: None,
            peer: Peer { window: usize::MAX, ..Peer::default() },
            ready: CAN_WRITE,
            env,
            timers,
            now,
            app: TestApp { handler, info: ConnInfo::new(([192, 0, 2, 1], 40000).into()), calls: Vec::new() },
            removed: false,
            encoder: pollux_hpack::Encoder::new(),
            decoder: pollux_hpack::Decoder::new(4096),
            inbox: Vec::new(),
        };
        let change = sim.conn.start(&sim.env, now);
        sim.apply(change);
        sim
    }

    fn apply(&mut self, change: TimerChange) {
        match change {
            TimerChange::Keep => {}
            TimerChange::Arm(w) => self.timers.arm(0, timer_kind(w).expect("a timed wait"), self.now),
            TimerChange::Cancel => self.timers.cancel(0),
            TimerChange::Remove => {
                self.timers.cancel(0);
                if let Some(h) = self.h2.as_mut() {
                    h.close(&mut self.env);
                }
                self.conn.close(&mut self.env, || None);
                self.removed = true;
            }
        }
    }

    fn wait(&self) -> Wait {
        self.h2.as_ref().map_or_else(|| self.conn.wait(), H2Conn::wait)
    }

    /// One run, as `service.rs` does it: HTTP/1.1 until the connection asks to upgrade.
    fn run(&mut self) {
        if self.removed {
            return;
        }
        self.env.now = self.now;
        let before = self.wait();
        let Sim { conn, h2, peer, ready, env, app, .. } = self;
        let mut progress = match h2 {
            Some(h) => drive(h, peer, ready, env, app),
            None => drive(conn, peer, ready, env, app),
        };
        if h2.is_none() && conn.layer == Layer::H2 {
            let rbuf = conn.take_read_buf(env);
            let h = h2.insert(H2Conn::new(env, conn.peer, rbuf));
            progress |= drive(h, peer, ready, env, app);
        }
        let change = match self.h2.as_mut() {
            Some(h) => {
                let after = h.wait();
                self.conn.update_timer_to(&self.env, before, after, progress, self.now)
            }
            None => self.conn.update_timer(&self.env, before, progress, self.now),
        };
        self.apply(change);
    }

    /// Time passes; due timers fire.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        while let Some((token, _)) = self.timers.pop_expired(self.now) {
            assert_eq!(token, 0);
            if let Some(wait) = self.conn.take_expired(&self.env, self.now) {
                let h = self.h2.as_mut().expect("timeouts here are HTTP/2's");
                h.handle_timeout(&mut self.env, wait);
                self.ready |= CAN_WRITE;
            }
            self.run();
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.peer.inbound.extend(bytes);
        self.ready |= CAN_READ;
        self.run();
    }

    /// The preface and an empty SETTINGS frame.
    fn open(&mut self) {
        let mut b = PREFACE.to_vec();
        b.extend(frame(SETTINGS, 0, 0, &[]));
        self.send(&b);
    }

    /// A GET for `path` on `stream`, with END_STREAM.
    fn get(&mut self, stream: u32, path: &str) {
        let mut block = Vec::new();
        self.encoder.begin(&mut block);
        for (n, v) in [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)] {
            self.encoder.field(n.as_bytes(), v.as_bytes(), &mut block);
        }
        let f = frame(HEADERS, END_STREAM | END_HEADERS, stream, &block);
        self.send(&f);
    }

    /// Frames received since the last look (parsed from the bytes the peer got).
    fn frames(&mut self) -> Vec<Frame> {
        let bytes = std::mem::take(&mut self.peer.sent);
        let mut at = 0;
        while at + 9 <= bytes.len() {
            let len = u32::from_be_bytes([0, bytes[at], bytes[at + 1], bytes[at + 2]]) as usize;
            let stream = u32::from_be_bytes([bytes[at + 5], bytes[at + 6], bytes[at + 7], bytes[at + 8]])
                & 0x7fff_ffff;
            self.inbox.push(Frame {
                kind: bytes[at + 3],
                flags: bytes[at + 4],
                stream,
                payload: bytes[at + 9..at + 9 + len].to_vec(),
            });
            at += 9 + len;
        }
        assert_eq!(at, bytes.len(), "whole frames only");
        std::mem::take(&mut self.inbox)
    }

    /// The `:status` of a HEADERS frame's block.
    fn status(&mut self, f: &Frame) -> String {
        let mut status = String::new();
        self.decoder
            .decode(&Bytes::from(f.payload.clone()), |n, v, _| {
                if n == b":status" {
                    status = String::from_utf8_lossy(&v).into_owned();
                }
            })
            .expect("a valid block");
        status
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend(payload);
    f
}

/// The (last stream, error code) of a GOAWAY.
fn goaway(f: &Frame) -> (u32, u32) {
    assert_eq!(f.kind, GOAWAY, "{f:?}");
    let p = &f.payload;
    (u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff, u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
}

#[test]
fn the_preface_on_a_plain_connection_switches_it_to_http2() {
    let mut s = Sim::new(options(), echo_path());
    s.open();
    assert!(s.h2.is_some(), "handed over to HTTP/2");
    s.get(1, "/a");
    let frames = s.frames();
    let kinds: Vec<(u8, u32)> = frames.iter().map(|f| (f.kind, f.stream)).collect();
    // Our SETTINGS and the connection window's update, the client's SETTINGS acknowledged,
    // then the answer on stream 1.
    assert_eq!(&kinds[..2], [(SETTINGS, 0), (8, 0)]);
    assert!(frames.iter().any(|f| f.kind == SETTINGS && f.flags == 1), "SETTINGS ack");
    let head = frames.iter().find(|f| f.kind == HEADERS).expect("a response head").clone();
    assert_eq!(head.stream, 1);
    assert_eq!(s.status(&head), "200");
    let data = frames.iter().find(|f| f.kind == DATA).expect("a body");
    assert_eq!((data.stream, data.flags & END_STREAM, &data.payload[..]), (1, END_STREAM, &b"path /a"[..]));
    assert_eq!(s.app.calls, ["/a"]);
}

#[test]
fn an_idle_http2_connection_gets_goaway_at_the_keepalive_timeout() {
    let mut s = Sim::new(options(), echo_path());
    s.open();
    s.get(1, "/a");
    s.frames();
    s.advance(Duration::from_secs(75) - MS);
    assert!(s.frames().is_empty());
    assert_eq!(s.h2.as_ref().map(|h| h.state), Some(State::Open));
    s.advance(MS);
    let frames = s.frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(goaway(&frames[0]), (1, 0), "GOAWAY(NO_ERROR) naming the last stream");
    assert!(s.peer.shut, "then our side is closed");
}

#[test]
fn a_client_that_never_finishes_its_preface_is_closed_at_the_header_timeout() {
    let mut s = Sim::new(options(), echo_path());
    // The preface, but not the SETTINGS frame that must follow it.
    s.send(PREFACE);
    assert!(s.h2.is_some());
    s.frames();
    s.advance(Duration::from_secs(10) - MS);
    assert!(s.frames().is_empty());
    s.advance(MS);
    let frames = s.frames();
    assert_eq!(goaway(frames.last().expect("a GOAWAY")), (0, 0));
    assert!(s.peer.shut);
}

#[test]
fn a_deferred_answer_holds_up_no_other_stream() {
    let slot = Arc::new(std::sync::Mutex::new(None));
    let mut s = Sim::new(options(), deferring(slot.clone()));
    s.open();
    s.get(1, "/slow");
    s.get(3, "/fast");
    let frames = s.frames();
    let heads: Vec<u32> = frames.iter().filter(|f| f.kind == HEADERS).map(|f| f.stream).collect();
    assert_eq!(heads, [3], "the fast answer goes first");
    // No timer runs while the application works on stream 1, whatever time passes.
    assert_eq!(s.wait(), Wait::Handler);
    s.advance(Duration::from_secs(3600));
    assert!(!s.removed);
    let shared = slot.lock().expect("slot").take().expect("deferred");
    let done = Finished { shared, what: Message::Response(http::Response::new(Body::from("slow done"))) };
    assert!(s.h2.as_mut().expect("h2").handle_finished(&mut s.env, done));
    s.run();
    let frames = s.frames();
    let data = frames.iter().find(|f| f.kind == DATA).expect("the deferred body");
    assert_eq!((data.stream, &data.payload[..]), (1, &b"slow done"[..]));
}

#[test]
fn graceful_shutdown_sends_goaway_and_finishes_the_stream_in_flight() {
    let slot = Arc::new(std::sync::Mutex::new(None));
    let mut s = Sim::new(options(), deferring(slot.clone()));
    s.open();
    s.get(1, "/slow");
    s.frames();
    s.env.draining = true;
    s.run();
    let frames = s.frames();
    assert_eq!(goaway(frames.last().expect("a GOAWAY")), (1, 0), "no stream above 1 will be served");
    assert!(!s.peer.shut, "stream 1 is still to be answered");
    let shared = slot.lock().expect("slot").take().expect("deferred");
    let done = Finished { shared, what: Message::Response(http::Response::new(Body::from("slow done"))) };
    assert!(s.h2.as_mut().expect("h2").handle_finished(&mut s.env, done));
    s.run();
    let frames = s.frames();
    assert!(
        frames.iter().any(|f| f.kind == DATA && f.stream == 1 && f.flags & END_STREAM != 0),
        "{frames:?}"
    );
    assert!(s.peer.shut, "then the connection closes");
}

#[test]
fn a_connection_accepted_while_draining_gets_its_first_stream_answered_then_goaway() {
    let handler: Handler = Box::new(|_, _| http::Response::new(Body::from("hi")).into());
    let mut s = Sim::new(options(), handler);
    // The drain delay: still accepting, and the client's first read holds its request.
    s.env.draining = true;
    let mut b = PREFACE.to_vec();
    b.extend(frame(SETTINGS, 0, 0, &[]));
    let mut block = Vec::new();
    s.encoder.begin(&mut block);
    for (n, v) in [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")] {
        s.encoder.field(n.as_bytes(), v.as_bytes(), &mut block);
    }
    b.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, &block));
    s.send(&b);
    let frames = s.frames();
    assert!(frames.iter().any(|f| f.kind == HEADERS && f.stream == 1), "{frames:?}");
    let g = frames.iter().find(|f| f.kind == GOAWAY).expect("a GOAWAY");
    assert_eq!(goaway(g), (1, 0), "stream 1 is served, none after it");
}

#[test]
fn a_window_that_stays_shut_ends_the_connection_at_the_send_timeout() {
    let big = Bytes::from(vec![b'x'; 100_000]);
    let handler: Handler = Box::new(move |_, _| http::Response::new(Body::Bytes(big.clone())).into());
    let mut s = Sim::new(options(), handler);
    // The client allows no body bytes on any stream (SETTINGS_INITIAL_WINDOW_SIZE 0).
    let mut b = PREFACE.to_vec();
    b.extend(frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]));
    s.send(&b);
    s.get(1, "/big");
    let frames = s.frames();
    assert!(frames.iter().any(|f| f.kind == HEADERS && f.stream == 1));
    assert!(!frames.iter().any(|f| f.kind == DATA), "no window, no data");
    assert_eq!(s.wait(), Wait::Send);
    s.advance(Duration::from_secs(30) - MS);
    assert!(!s.removed);
    s.advance(MS);
    assert!(s.removed, "closed at the send timeout");
}
