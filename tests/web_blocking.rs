//! Blocking routes through a real socket: they run off the worker, answer in pipeline order,
//! refuse with 503 + Retry-After when the pool is saturated, time out with 503/504, and a
//! panic anywhere is a 500 after which the server still answers.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{connect, get_with, parse_responses, read_all, start_app};
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

/// Sends each request on its own connection at once; returns the responses in order.
fn concurrent(addr: SocketAddr, targets: &[&str]) -> Vec<common::Resp> {
    let handles: Vec<_> = targets
        .iter()
        .map(|t| {
            let t = t.to_string();
            std::thread::spawn(move || get_with(addr, &t, &[]))
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("client thread")).collect()
}

#[test]
fn blocking_work_leaves_the_worker_free() {
    let s = start_app(router().into_app());
    let addr = s.addr;
    let slow = std::thread::spawn(move || get_with(addr, "/slow?ms=3000", &[]));
    std::thread::sleep(Duration::from_millis(100));
    // The single worker answers others while the pool sleeps (bounds leave room for a loaded
    // machine: blocked, these would wait the whole 3 s).
    let t = Instant::now();
    for i in 0..20 {
        assert_eq!(get_with(s.addr, &format!("/fast/{i}"), &[]).text(), format!("fast {i}"));
    }
    assert!(t.elapsed() < Duration::from_millis(2000), "fast requests waited {:?}", t.elapsed());
    assert_eq!(slow.join().expect("slow").text(), "slept 3000");
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
    // One thread, room for one waiting request: of four at once, at least two are refused
    // (three when all four arrive before the thread has taken the first from the queue).
    let s = start_app(router().blocking_pool(1, 1).into_app());
    let rs = concurrent(s.addr, &["/slow?ms=700"; 4]);
    let ok = rs.iter().filter(|r| r.status == 200).count();
    let busy: Vec<_> = rs.iter().filter(|r| r.status == 503).collect();
    let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
    assert!((1..=2).contains(&ok) && ok + busy.len() == 4, "{statuses:?}");
    for r in busy {
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    // Once drained, the pool serves again.
    assert_eq!(get_with(s.addr, "/slow?ms=1", &[]).text(), "slept 1");
}

#[test]
fn timeouts_give_504_while_running_and_503_while_queued() {
    let s = start_app(router().blocking_pool(1, 8).timeout(Duration::from_millis(300)).into_app());
    let t = Instant::now();
    let addr = s.addr;
    // The first runs past the limit (504); the second waits behind it and never starts (503).
    let first = std::thread::spawn(move || get_with(addr, "/slow?ms=2500", &[]));
    std::thread::sleep(Duration::from_millis(100));
    let second = get_with(s.addr, "/slow?ms=50", &[]);
    let first = first.join().expect("first");
    assert_eq!((first.status, second.status), (504, 503), "{} / {}", first.text(), second.text());
    // Both answered long before the first handler ends (2.5 s).
    assert!(t.elapsed() < Duration::from_millis(1800), "answered after {:?}", t.elapsed());
    assert_eq!(second.header("retry-after"), Some("1"));
    std::thread::sleep(Duration::from_millis(2500));
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
    let s = start_app(router().blocking_pool(1, 4).into_app());
    // Ask for slow work and abort the connection (a reset, as a killed client or a closed
    // browser tab with unread data does); a FIN alone is a half-close that still wants the
    // answer.
    for _ in 0..3 {
        let mut c = connect(s.addr);
        c.write_all(b"GET /slow?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        std::thread::sleep(Duration::from_millis(20));
        socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
        drop(c);
    }
    // Requests queued behind them are skipped once their clients are gone: only the one
    // already running (500 ms) is waited for, not all three (1.5 s).
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    assert_eq!(get_with(s.addr, "/slow?ms=1", &[]).text(), "slept 1");
    assert!(t.elapsed() < Duration::from_millis(1200), "waited {:?}", t.elapsed());
}
