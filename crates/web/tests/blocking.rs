//! Blocking routes through a real socket: they run off the worker, answer in pipeline order,
//! refuse with 503 + Retry-After when the pool is saturated, time out with 503/504, and a
//! panic anywhere is a 500 after which the server still answers.

use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use pollux_testkit::{connect, get_with, parse_responses, read_all, start_app, ReadRetry};
use pollux_web::extract::{Path, Query};
use pollux_web::{get, Router};
use serde::Deserialize;

#[derive(Deserialize)]
struct Ms {
    ms: u64,
}

fn sleepy(Query(q): Query<Ms>) -> String {
    std::thread::sleep(Duration::from_millis(q.ms));
    format!("slept {}", q.ms)
}

/// A blocking handler the test holds: it says when it starts and returns only when released
/// (or after 10 s, so that a failing test does not keep a pool thread forever). The test orders
/// events by these signals, not by sleeping.
struct Gate {
    started: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

impl Gate {
    /// The gate, and a router with it at `/held` (a blocking route) beside [`router`]'s.
    fn router() -> (Gate, Router) {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let held = move || -> &'static str {
            let _ = started_tx.send(());
            let released = release_rx.lock().map(|r| r.recv_timeout(Duration::from_secs(10)).is_ok());
            if released.unwrap_or(false) {
                "released"
            } else {
                "never released"
            }
        };
        (Gate { started, release }, router().route("/held", get(held).blocking()))
    }

    /// Waits (10 s at most) until a held request has started on a pool thread.
    fn wait_started(&self) {
        self.started.recv_timeout(Duration::from_secs(10)).expect("a held request started");
    }

    fn release(&self) {
        self.release.send(()).expect("release");
    }
}

fn router() -> Router {
    Router::new()
        .route("/slow", get(sleepy).blocking())
        .route("/fast/{n}", get(|Path(n): Path<u32>| format!("fast {n}")))
        .route("/boom", get(|| -> &'static str { panic!("handler bug (expected by the test)") }))
        .route(
            "/boom-blocking",
            get(|| -> &'static str { panic!("blocking bug (expected by the test)") }).blocking(),
        )
}

#[test]
fn blocking_work_leaves_the_worker_free() {
    let (gate, router) = Gate::router();
    let s = start_app(router.into_app());
    let addr = s.addr;
    let slow = std::thread::spawn(move || get_with(addr, "/held", &[]));
    gate.wait_started();
    // The single worker answers others while the pool's thread is held (bounds leave room for
    // a loaded machine: blocked, these would wait the gate's 10 s).
    let t = Instant::now();
    for i in 0..20 {
        assert_eq!(get_with(s.addr, &format!("/fast/{i}"), &[]).text(), format!("fast {i}"));
    }
    assert!(t.elapsed() < Duration::from_millis(2000), "fast requests waited {:?}", t.elapsed());
    assert!(!slow.is_finished(), "the held request is answered only once released");
    gate.release();
    assert_eq!(slow.join().expect("slow").text(), "released");
}

#[test]
fn pipelined_answers_stay_in_order_across_blocking_and_worker_routes() {
    let s = start_app(router().into_app());
    let mut c = connect(s.addr);
    let targets = ["/slow?ms=300", "/fast/1", "/slow?ms=10", "/fast/2", "/slow?ms=100", "/fast/3"];
    let mut raw = String::new();
    for t in targets {
        raw.push_str(&format!("GET {t} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    raw.push_str("GET /fast/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.write_all(raw.as_bytes()).expect("write");
    let data = read_all(&mut c, Duration::from_secs(10));
    let (rs, _) = parse_responses(&data, &[false; 7]);
    let bodies: Vec<String> = rs.iter().map(|r| r.text()).collect();
    assert_eq!(bodies, ["slept 300", "fast 1", "slept 10", "fast 2", "slept 100", "fast 3", "fast 4"]);
}

#[test]
fn a_saturated_pool_answers_503_with_retry_after() {
    // One thread, room for one waiting request. The thread is held by a first request; of
    // three more at once, one waits in the queue and two are refused at once.
    let (gate, router) = Gate::router();
    let s = start_app(router.blocking_pool(1, 1).into_app());
    let addr = s.addr;
    let running = std::thread::spawn(move || get_with(addr, "/held", &[]));
    gate.wait_started();
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send(get_with(addr, "/held", &[])));
    }
    for _ in 0..2 {
        let r = rx.recv_timeout(Duration::from_secs(10)).expect("a refusal while the pool is full");
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert!(rx.try_recv().is_err(), "the queued request is answered only once it has run");
    // Released, the running one and the queued one are answered.
    gate.release();
    gate.release();
    assert_eq!(running.join().expect("running").text(), "released");
    let queued = rx.recv_timeout(Duration::from_secs(10)).expect("the queued request's answer");
    assert_eq!((queued.status, queued.text()), (200, "released".to_owned()));
    // Once drained, the pool serves again.
    assert_eq!(get_with(s.addr, "/slow?ms=1", &[]).text(), "slept 1");
}

/// The timeout's wiring, end to end: `Router::timeout` reaches the pool and its answers reach
/// the client. When exactly each answer is due, and which one, is pinned down on a simulated
/// clock beside the pool (`blocking_tests.rs`); here the order of events is set by the gate.
#[test]
fn timeouts_give_504_while_running_and_503_while_queued() {
    let (gate, router) = Gate::router();
    let s = start_app(router.blocking_pool(1, 8).timeout(Duration::from_millis(300)).into_app());
    let addr = s.addr;
    // The first runs past the limit (504); the second waits behind it and never starts (503).
    let first = std::thread::spawn(move || get_with(addr, "/held", &[]));
    gate.wait_started();
    let second = get_with(s.addr, "/slow?ms=50", &[]);
    let first = first.join().expect("first");
    // Both answered while the first handler is still held: only the watchdog can have.
    assert_eq!((first.status, second.status), (504, 503), "{} / {}", first.text(), second.text());
    assert_eq!(second.header("retry-after"), Some("1"));
    // Once the first handler ends (released now), the pool serves again.
    gate.release();
    assert_eq!(get_with(s.addr, "/slow?ms=10", &[]).text(), "slept 10");
}

#[test]
fn panics_become_500_and_the_server_lives_on() {
    let s = start_app(router().into_app());
    for target in ["/boom", "/boom-blocking"] {
        let r = get_with(s.addr, target, &[]);
        assert_eq!(r.status, 500, "{target}");
        assert_eq!(r.text(), "500 Internal Server Error\n");
        assert!(!r.text().contains("bug"), "the panic message must not reach the client");
    }
    // Same connection: a panic in a pipelined request does not break the ones after it.
    let mut c = connect(s.addr);
    c.write_all(
        b"GET /boom-blocking HTTP/1.1\r\nHost: x\r\n\r\nGET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /fast/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .expect("write");
    let data = read_all(&mut c, Duration::from_secs(10));
    let (rs, _) = parse_responses(&data, &[false; 3]);
    let got: Vec<(u16, String)> = rs.iter().map(|r| (r.status, r.text())).collect();
    assert_eq!(got[2], (200, "fast 5".to_owned()), "{got:?}");
    assert_eq!((got[0].0, got[1].0), (500, 500));
}

#[test]
fn a_client_that_leaves_does_not_wedge_the_pool() {
    let (gate, router) = Gate::router();
    let s = start_app(router.blocking_pool(1, 4).into_app());
    let addr = s.addr;
    // A first request holds the pool's only thread.
    let running = std::thread::spawn(move || get_with(addr, "/held", &[]));
    gate.wait_started();
    // Three more queue behind it, and their clients abort the connection (a reset, as a killed
    // client or a closed browser tab with unread data does); a FIN alone is a half-close that
    // still wants the answer. Each held request follows a fast one in the same write: the fast
    // answer is the signal that the worker has read both and queued the held one (it writes
    // the answers of one read once it has gone through all of its requests).
    for _ in 0..3 {
        let mut c = connect(s.addr);
        c.write_all(b"GET /fast/0 HTTP/1.1\r\nHost: x\r\n\r\nGET /held HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut got = Vec::new();
        while !got.ends_with(b"fast 0") {
            let mut buf = [0u8; 512];
            let n = c.read_retry(&mut buf).expect("the fast answer");
            assert!(n > 0, "closed before the fast answer: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
        drop(c);
    }
    // A round trip through the single worker: it has seen the three resets (they reached it
    // before this connection did).
    assert_eq!(get_with(s.addr, "/fast/1", &[]).text(), "fast 1");
    gate.release();
    assert_eq!(running.join().expect("running").text(), "released");
    // The requests queued behind it are skipped, their clients being gone: none starts (each
    // would hold the thread for the gate's 10 s).
    let t = Instant::now();
    assert_eq!(get_with(s.addr, "/slow?ms=1", &[]).text(), "slept 1");
    assert!(t.elapsed() < Duration::from_millis(1200), "waited {:?}", t.elapsed());
    assert!(gate.started.try_recv().is_err(), "a request whose client had left was started");
}
