//! The connection on a simulated clock: the real [`Conn`], driven by the real [`drive`] loop
//! and timed by the reactor's real timer wheel, over an in-memory transport whose peer the
//! test plays. Time moves only when a test says so, so every deadline is asserted exactly
//! (one millisecond before it nothing happens, at it the timeout does).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{Request, Response, StatusCode};
use pollux_reactor::Timers;

use crate::conn::{App, Conn, Env, Expired, State, TimerChange, Wait};
use crate::drive::{drive, CAN_READ, CAN_WRITE, HUP};
use crate::log::Log;
use crate::mailbox::{Finished, Message, Shared};
use crate::output::{Output, Sending};
use crate::service::{timer_durations, timer_kind};
use crate::transport::{Flushed, Recv, Transport, READ_CHUNK};
use crate::{AccessLog, Body, ConnInfo, Options, Reply};

pub(crate) const MS: Duration = Duration::from_millis(1);

/// The peer, in memory: what it sent that we have not read, what we sent it, and how many
/// more bytes it takes before our sends block (its receive window).
#[derive(Default)]
pub(crate) struct Peer {
    pub(crate) inbound: VecDeque<u8>,
    pub(crate) eof: bool,
    pub(crate) sent: Vec<u8>,
    pub(crate) window: usize,
    /// Sends that moved bytes: pipelined answers should go out in one.
    pub(crate) writes: usize,
    pub(crate) shut: bool,
    /// A TLS handshake is under way (the transport, not the connection, knows when it ends).
    pub(crate) handshaking: bool,
}

impl Transport for Peer {
    fn recv(&mut self, buf: &mut BytesMut, _hup: bool) -> io::Result<Recv> {
        if self.inbound.is_empty() {
            return Ok(if self.eof { Recv::Eof } else { Recv::Drained });
        }
        let n = self.inbound.len().min(READ_CHUNK);
        buf.extend(self.inbound.drain(..n));
        Ok(Recv::Bytes { drained: self.inbound.is_empty() })
    }

    fn flush(&mut self, out: &mut Output, moved: &mut bool) -> io::Result<Flushed> {
        let mut wrote = false;
        loop {
            let n = match &out.sending {
                _ if !out.pending().is_empty() => {
                    let n = out.pending().len().min(self.window);
                    self.sent.extend_from_slice(&out.pending()[..n]);
                    n
                }
                Some(Sending::Bytes(b)) if !b.is_empty() => {
                    let n = b.len().min(self.window);
                    self.sent.extend_from_slice(&b[..n]);
                    n
                }
                Some(Sending::File { .. }) => unreachable!("no files in these tests"),
                Some(_) => {
                    out.refill()?;
                    if out.has_output() {
                        continue;
                    }
                    0
                }
                None => 0,
            };
            if n > 0 {
                out.advance(n);
                self.window -= n;
                wrote = true;
                *moved = true;
                continue;
            }
            self.writes += usize::from(wrote);
            return Ok(if out.has_output() { Flushed::Blocked } else { Flushed::All });
        }
    }

    fn shutdown_write(&mut self) {
        self.shut = true;
    }

    fn is_handshaking(&self) -> bool {
        self.handshaking
    }

    fn is_reset(&self) -> bool {
        false
    }

    fn bytes_acked(&self) -> Option<u64> {
        None
    }
}

pub(crate) type Handler = Box<dyn FnMut(Request<Body>, &ConnInfo) -> Reply>;

/// The test's application: its handler, and the paths it was called for, in order.
pub(crate) struct TestApp {
    pub(crate) handler: Handler,
    pub(crate) info: ConnInfo,
    pub(crate) calls: Vec<String>,
}

impl App for TestApp {
    fn streams_body(&self, _: &http::Method, _: &http::Uri, _: &http::HeaderMap) -> bool {
        false
    }

    fn call(&mut self, req: Request<Body>) -> Reply {
        self.calls.push(req.uri().path().to_owned());
        (self.handler)(req, &self.info)
    }
}

/// One connection, its peer and the worker's timer wheel, at a simulated `now`.
struct Sim {
    conn: Conn,
    peer: Peer,
    ready: u8,
    env: Env,
    timers: Timers,
    now: Instant,
    app: TestApp,
    removed: bool,
}

pub(crate) fn options() -> Options {
    Options {
        header_timeout: Duration::from_secs(10),
        keepalive_timeout: Duration::from_secs(75),
        body_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(30),
        linger: Duration::from_secs(2),
        drain_idle: Duration::from_secs(1),
        grace: Duration::from_secs(10),
        access_log: AccessLog::Off,
        handle_signals: false,
        ..Options::default()
    }
}

/// Answers every request with its path.
pub(crate) fn echo_path() -> Handler {
    Box::new(|req, _| Response::new(Body::from(format!("path {}", req.uri().path()))).into())
}

impl Sim {
    fn new(app: Handler) -> Sim {
        Sim::with(options(), app)
    }

    /// A connection on a TLS listener, its handshake under way.
    fn tls(opts: Options) -> Sim {
        let mut sim = Sim::with(opts, echo_path());
        sim.conn = Conn::new_tls(([192, 0, 2, 1], 40000).into());
        sim.peer.handshaking = true;
        let change = sim.conn.start(&sim.env, sim.now);
        sim.apply(change);
        sim
    }

    fn with(opts: Options, handler: Handler) -> Sim {
        let timers = Timers::new(&timer_durations(&opts));
        // The wheel counts from its own creation; the simulation starts a little later.
        let now = Instant::now() + Duration::from_millis(1);
        let env = Env::new(Arc::new(opts), Log::open(&AccessLog::Off).expect("no log"), 4);
        let mut sim = Sim {
            conn: Conn::new(([192, 0, 2, 1], 40000).into()),
            peer: Peer { window: usize::MAX, ..Peer::default() },
            ready: CAN_WRITE,
            env,
            timers,
            now,
            app: TestApp { handler, info: ConnInfo::new(([192, 0, 2, 1], 40000).into()), calls: Vec::new() },
            removed: false,
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
                self.conn.close(&mut self.env, || None);
                self.removed = true;
            }
        }
    }

    /// One run of the driver, as the service does it after an event.
    fn run(&mut self) {
        if self.removed {
            return;
        }
        let before = self.conn.wait();
        let Sim { conn, peer, ready, env, app, .. } = self;
        let progress = drive(conn, peer, ready, env, app);
        let change = self.conn.update_timer(&self.env, before, progress, self.now);
        self.apply(change);
    }

    /// The client sends `bytes` (the socket becomes readable).
    fn send(&mut self, bytes: &str) {
        self.peer.inbound.extend(bytes.as_bytes());
        self.ready |= CAN_READ;
        self.run();
    }

    /// The client closes its side.
    fn hang_up(&mut self) {
        self.peer.eof = true;
        self.ready |= CAN_READ | HUP;
        self.run();
    }

    /// The client's receive window opens by `n` bytes (the socket becomes writable).
    fn take(&mut self, n: usize) {
        self.peer.window = self.peer.window.saturating_add(n);
        self.ready |= CAN_WRITE;
        self.run();
    }

    /// Time passes; due timers fire, as in the worker loop.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        while let Some((token, _kind)) = self.timers.pop_expired(self.now) {
            assert_eq!(token, 0);
            match self.conn.handle_timeout(&mut self.env, self.now) {
                Expired::Handled => self.ready |= CAN_WRITE,
                Expired::No => {}
                Expired::Task => unreachable!("no tasks here"),
            }
            self.run();
        }
    }

    /// What the client received since it last looked.
    fn received(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.peer.sent)).expect("utf-8 answers")
    }

    /// The statuses in `text`, in order.
    fn statuses(text: &str) -> Vec<u16> {
        text.match_indices("HTTP/1.1 ").map(|(i, _)| text[i + 9..i + 12].parse().expect("a status")).collect()
    }
}

const GET: &str = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn header_timeout_answers_408_at_the_deadline_however_slowly_the_head_trickles() {
    let mut s = Sim::new(echo_path());
    s.send("GET /a HTTP/1.1\r\n");
    s.advance(Duration::from_secs(4));
    s.send("Host: x\r\n"); // progress does not restart the head timer
    s.advance(Duration::from_secs(6) - MS);
    assert_eq!(s.received(), "");
    assert_eq!(s.conn.state, State::Open);
    s.advance(MS);
    let out = s.received();
    assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
    assert!(out.contains("connection: close\r\n") || out.contains("Connection: close\r\n"), "{out}");
    // The 408 is out: write side shut, lingering.
    assert!(s.peer.shut);
    assert_eq!(s.conn.state, State::Lingering);
    assert!(s.app.calls.is_empty());
}

#[test]
fn the_header_timer_starts_at_accept_for_a_silent_client() {
    let mut s = Sim::new(echo_path());
    s.advance(Duration::from_secs(10) - MS);
    assert_eq!(s.conn.state, State::Open);
    s.advance(MS);
    assert_eq!(Sim::statuses(&s.received()), [408]);
}

#[test]
fn keep_alive_idle_connection_closes_at_the_keepalive_timeout() {
    let mut s = Sim::new(echo_path());
    s.send(GET);
    assert_eq!(Sim::statuses(&s.received()), [200]);
    s.advance(Duration::from_secs(75) - MS);
    assert!(!s.removed);
    s.advance(MS);
    assert!(s.removed, "closed at the keep-alive timeout");
    assert_eq!(s.received(), "", "closed without a word (RFC 9112 §9.3)");
    assert!(s.conn.active.is_none(), "buffers back in the pool");
}

#[test]
fn a_new_request_restarts_the_keepalive_timer_as_a_head_timer() {
    let mut s = Sim::new(echo_path());
    s.send(GET);
    s.advance(Duration::from_secs(70));
    s.send("GET /b HTTP/1.1\r\n"); // a head begins: 10 s from now, not 5
    s.advance(Duration::from_secs(10) - MS);
    assert_eq!(Sim::statuses(&s.received()), [200]);
    s.advance(MS);
    assert_eq!(Sim::statuses(&s.received()), [408]);
}

#[test]
fn body_timeout_restarts_on_every_byte_then_answers_408() {
    let mut s = Sim::new(echo_path());
    s.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    s.advance(Duration::from_secs(59));
    s.send("6"); // progress: the body timer starts over
    s.advance(Duration::from_secs(60) - MS);
    assert_eq!(s.received(), "");
    s.advance(MS);
    assert_eq!(Sim::statuses(&s.received()), [408]);
    assert!(s.app.calls.is_empty(), "the handler never saw a partial body");
}

#[test]
fn send_timeout_closes_a_client_that_stops_reading() {
    let mut s = Sim::new(Box::new(|_, _| Response::new(Body::from(vec![b'x'; 100_000])).into()));
    s.peer.window = 1000;
    s.send(GET);
    assert_eq!(s.peer.sent.len(), 1000);
    s.advance(Duration::from_secs(20));
    s.take(500); // progress restarts the send timer
    assert_eq!(s.peer.sent.len(), 1500);
    s.advance(Duration::from_secs(30) - MS);
    assert!(!s.removed);
    s.advance(MS);
    assert!(s.removed, "closed at the send timeout");
}

#[test]
fn lingering_close_discards_what_the_client_sends_then_ends_at_the_linger_timeout() {
    let mut s = Sim::new(echo_path());
    s.send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let out = s.received();
    assert_eq!(Sim::statuses(&out), [200]);
    assert!(s.peer.shut, "our FIN follows the last answer");
    assert_eq!(s.conn.state, State::Lingering);
    s.send(GET); // read and dropped, never answered
    assert_eq!(s.received(), "");
    assert!(s.peer.inbound.is_empty(), "the client's bytes are read, so no reset");
    s.advance(Duration::from_secs(2) - MS);
    assert!(!s.removed);
    s.advance(MS);
    assert!(s.removed);
    assert_eq!(s.app.calls, ["/a"]);
}

#[test]
fn lingering_ends_when_the_client_closes() {
    let mut s = Sim::new(echo_path());
    s.send("GET /a HTTP/1.0\r\n\r\n");
    assert_eq!(s.conn.state, State::Lingering);
    s.hang_up();
    assert!(s.removed);
}

#[test]
fn expect_100_continue_is_answered_before_the_body_arrives_and_not_after() {
    let mut s = Sim::new(echo_path());
    s.send("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(s.received(), "HTTP/1.1 100 Continue\r\n\r\n");
    s.send("abc");
    assert_eq!(Sim::statuses(&s.received()), [200]);
    // The body came with the head: the client is not waiting, no interim answer.
    s.send("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(Sim::statuses(&s.received()), [200]);
}

#[test]
fn pipelined_answers_leave_in_one_write_in_order() {
    let mut s = Sim::new(echo_path());
    s.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
    let out = s.received();
    assert_eq!(s.peer.writes, 1, "one write for the batch");
    let bodies: Vec<&str> = out.match_indices("path /").map(|(i, _)| &out[i..i + 7]).collect();
    assert_eq!(bodies, ["path /1", "path /2", "path /3"]);
}

#[test]
fn a_client_that_does_not_read_is_not_read_either() {
    let mut s = Sim::new(Box::new(|_, _| Response::new(Body::from(vec![b'x'; 10_000])).into()));
    s.peer.window = 0;
    let two = GET.repeat(2);
    s.send(&two);
    assert_eq!(s.app.calls.len(), 2, "both answered into the write buffer (below its high mark)");
    // More requests while our answers wait: they stay in the client's socket.
    s.send(&GET.repeat(5));
    assert_eq!(s.app.calls.len(), 2);
    assert_eq!(s.peer.inbound.len(), GET.len() * 5, "nothing more was read");
    s.take(usize::MAX);
    assert_eq!(s.app.calls.len(), 7, "reading resumes once the client reads");
    assert!(s.peer.inbound.is_empty());
    assert_eq!(Sim::statuses(&s.received()).len(), 7);
}

/// A handler that defers `/slow` (keeping the shared half to answer it later) and answers
/// the rest at once.
pub(crate) fn deferring(slot: Arc<std::sync::Mutex<Option<Arc<Shared>>>>) -> Handler {
    Box::new(move |req, info| {
        if req.uri().path() == "/slow" {
            let (later, responder) = info.defer();
            *slot.lock().expect("slot") = Some(later.shared.clone());
            std::mem::forget(responder); // the test plays the responder
            return Reply::Later(later);
        }
        Response::new(Body::from(format!("path {}", req.uri().path()))).into()
    })
}

#[test]
fn deferred_answers_go_out_in_request_order() {
    let slot = Arc::new(std::sync::Mutex::new(None));
    let mut s = Sim::new(deferring(slot.clone()));
    s.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(s.app.calls, ["/slow"], "nothing after a deferred request is answered first");
    assert_eq!(s.received(), "");
    // No timer runs while the application works.
    s.advance(Duration::from_secs(3600));
    assert!(!s.removed);
    let shared = slot.lock().expect("slot").take().expect("deferred");
    let done = Finished { shared, what: Message::Response(Response::new(Body::from("slow done"))) };
    assert!(s.conn.handle_finished(&mut s.env, done));
    s.run();
    let out = s.received();
    let slow = out.find("slow done").expect("the deferred answer");
    let fast = out.find("path /fast").expect("the next answer");
    assert!(slow < fast, "{out}");
    assert_eq!(s.app.calls, ["/slow", "/fast"]);
}

#[test]
fn a_stale_deferred_answer_is_ignored() {
    let slot = Arc::new(std::sync::Mutex::new(None));
    let mut s = Sim::new(deferring(slot));
    s.send(GET);
    let stranger = Finished { shared: Shared::new(0), what: Message::Response(Response::new(Body::Empty)) };
    assert!(!s.conn.handle_finished(&mut s.env, stranger));
}

#[test]
fn graceful_drain_answers_a_request_already_on_its_way_with_close() {
    let mut s = Sim::new(echo_path());
    s.send(GET);
    assert_eq!(Sim::statuses(&s.received()), [200]);
    // Shutdown begins: the idle connection gets `drain_idle` for one more request.
    s.env.draining = true;
    s.run();
    s.advance(Duration::from_secs(1) - Duration::from_millis(10));
    s.send(GET);
    let out = s.received();
    assert_eq!(Sim::statuses(&out), [200]);
    assert!(out.to_ascii_lowercase().contains("connection: close\r\n"), "{out}");
    assert!(s.peer.shut);
}

#[test]
fn graceful_drain_closes_an_idle_connection_at_drain_idle() {
    let mut s = Sim::new(echo_path());
    s.send(GET);
    s.received();
    s.env.draining = true;
    s.run();
    s.advance(Duration::from_secs(1) - MS);
    assert!(!s.removed);
    s.advance(MS);
    assert!(s.removed);
    assert_eq!(s.received(), "");
}

#[test]
fn a_framing_error_is_answered_then_the_connection_closes() {
    let mut s = Sim::new(echo_path());
    s.send(
        "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    );
    assert_eq!(Sim::statuses(&s.received()), [400]);
    assert!(s.app.calls.is_empty());
    assert_eq!(s.conn.state, State::Lingering);
}

#[test]
fn a_500_from_the_handler_does_not_end_a_keep_alive_connection() {
    let mut s = Sim::new(Box::new(|req, _| {
        if req.uri().path() == "/boom" {
            let mut r = Response::new(Body::Empty);
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r.into();
        }
        Response::new(Body::from("ok")).into()
    }));
    s.send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(Sim::statuses(&s.received()), [500, 200]);
    assert_eq!(s.conn.state, State::Open);
}

#[test]
fn a_stalled_tls_handshake_is_closed_at_its_own_deadline_without_an_answer() {
    let mut s = Sim::tls(Options { tls_handshake_timeout: Duration::from_secs(3), ..options() });
    assert_eq!(s.conn.wait(), Wait::Handshake);
    s.advance(Duration::from_secs(2));
    // Handshake records trickle in (the transport takes them; no plaintext yet): the
    // deadline still runs from the accept.
    s.ready |= CAN_READ;
    s.run();
    s.advance(Duration::from_secs(1) - MS);
    assert_eq!(s.conn.state, State::Open);
    s.advance(MS);
    assert!(s.removed, "closed at the handshake deadline");
    assert_eq!(s.received(), "", "no 408: nothing can be said before the handshake ends");
}

#[test]
fn after_the_handshake_the_first_request_has_the_header_timeout() {
    let mut s = Sim::tls(Options { tls_handshake_timeout: Duration::from_secs(3), ..options() });
    s.advance(Duration::from_secs(2));
    s.peer.handshaking = false;
    s.ready |= CAN_READ;
    s.run();
    assert!(!s.conn.is_handshaking());
    // Past the handshake deadline nothing happens: the header timeout (10 s) runs now, as
    // for a new plain connection.
    s.advance(Duration::from_secs(10) - MS);
    assert_eq!(s.conn.state, State::Open);
    assert_eq!(s.received(), "");
    s.advance(MS);
    assert_eq!(Sim::statuses(&s.received()), [408]);
}
