//! The library's handler contract, through a real socket: panics become 500s and the worker
//! lives on; file and stream bodies; the Shutdown handle stops the server.
#![allow(clippy::unwrap_used)]

#[path = "../../testkit/src/retry.rs"]
mod io_retry;
use io_retry::ReadRetry;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use pollux_server::{AccessLog, Body, BodyStream, ConnInfo, Options, Shutdown};

struct Counter(u32);

impl BodyStream for Counter {
    fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.0 == 0 {
            return None;
        }
        self.0 -= 1;
        Some(Ok(Bytes::from(format!("line {}\n", self.0))))
    }
}

fn app(req: Request<Body>, conn: &ConnInfo) -> Response<Body> {
    match req.uri().path() {
        "/panic" => panic!("handler bug"),
        "/stream" => Response::new(Body::Stream(Box::new(Counter(3)))),
        "/peer" => Response::new(Body::from(conn.peer.ip().to_string())),
        "/big" => Response::new(Body::from(big_body())),
        "/close" => Response::builder().header("connection", "close").body(Body::from("bye")).unwrap(),
        _ => Response::new(Body::from("ok")),
    }
}

fn big_body() -> Vec<u8> {
    (0..(3 << 20) as u32).map(|i| (i % 253) as u8).collect()
}

fn start() -> (SocketAddr, Shutdown, std::thread::JoinHandle<std::io::Result<()>>) {
    let shutdown = Shutdown::new();
    let opts = Options {
        addrs: vec!["127.0.0.1:0".parse().unwrap()],
        workers: 1,
        access_log: AccessLog::Off,
        handle_signals: false,
        shutdown: shutdown.clone(),
        ..Options::default()
    };
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || pollux_server::serve(opts, app, move |a| tx.send(a[0]).unwrap()));
    (rx.recv_timeout(Duration::from_secs(10)).unwrap(), shutdown, h)
}

fn roundtrip(c: &mut TcpStream, req: &str, want_end: &str) -> String {
    c.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).ends_with(want_end) {
        let n = c.read_retry(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn panicking_handler_gives_500_and_the_worker_lives_on() {
    let (addr, shutdown, h) = start();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = roundtrip(&mut c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", "Error\n");
    assert!(r.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{r}");
    // Same connection, same (only) worker: still serving.
    let r = roundtrip(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ok");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    shutdown.begin();
    h.join().unwrap().unwrap();
}

#[test]
fn stream_bodies_are_chunked_and_handler_close_is_honoured() {
    let (addr, shutdown, h) = start();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = roundtrip(&mut c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", "0\r\n\r\n");
    assert!(
        r.contains("transfer-encoding: chunked\r\n") || r.contains("Transfer-Encoding: chunked\r\n"),
        "{r}"
    );
    assert!(r.ends_with("7\r\nline 2\n\r\n7\r\nline 1\n\r\n7\r\nline 0\n\r\n0\r\n\r\n"), "{r}");
    let r = roundtrip(&mut c, "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1");
    assert!(r.starts_with("HTTP/1.1 200"));
    c.write_all(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.to_lowercase().contains("connection: close") && rest.ends_with("bye"), "{rest}");
    // HTTP/1.0 peer and a stream of unknown length: close-delimited.
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /stream HTTP/1.0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    assert!(String::from_utf8_lossy(&all).ends_with("\r\n\r\nline 2\nline 1\nline 0\n"));
    shutdown.begin();
    h.join().unwrap().unwrap();
}

#[test]
fn large_in_memory_body_goes_out_whole_between_pipelined_answers() {
    let (addr, shutdown, h) = start();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let body = big_body();
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(all[..head_end].starts_with(b"HTTP/1.1 200"));
    assert!(all[head_end..].starts_with(&body), "the body arrived whole and in order");
    let rest = String::from_utf8_lossy(&all[head_end + body.len()..]).into_owned();
    assert!(rest.starts_with("HTTP/1.1 200") && rest.ends_with("ok"), "{rest}");
    shutdown.begin();
    h.join().unwrap().unwrap();
}
