//! Worker-local tasks through a real socket: a task that pipes the request body through a
//! real pipe registered in the worker's reactor and streams it back upper-cased, with
//! backpressure both ways, its timeout, and a client that goes away.

use std::io::{Read, Write};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use pollux_reactor::mio::event::Event;
use pollux_reactor::mio::unix::pipe;
use pollux_reactor::mio::Interest;
use pollux_server::{Body, ConnInfo, Handler, Reply, Task, TaskCx};
use pollux_testkit::{connect, parse_responses, read_all};

/// Request body → pipe → upper-cased response; `/stall` never answers.
struct Upper {
    /// A body the handler got whole (not streamed) goes into the pipe first.
    initial: Option<Bytes>,
    tx: Option<pipe::Sender>,
    rx: pipe::Receiver,
    stall: bool,
    /// Answer as the server answers `/plain` (a CGI local redirect).
    redirect: bool,
    /// Counts aborts before the body was all in (`/leave`).
    count_abort: bool,
}

/// Aborts before the body was all in, and the signal that one happened (the test waits on it).
static ABORTED_MID_BODY: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl Upper {
    fn pump_in(&mut self, cx: &mut TaskCx<'_>) {
        while let Some(tx) = self.tx.as_mut() {
            let Some(mut chunk) = self.initial.take().or_else(|| cx.body()) else {
                if cx.body_done() {
                    self.tx = None; // EOF for the reader
                }
                return;
            };
            match tx.write(&chunk) {
                Ok(n) => {
                    let rest = chunk.split_off(n);
                    if !rest.is_empty() {
                        self.initial = Some(rest);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.initial = Some(chunk);
                    return;
                }
                Err(_) => {
                    cx.fail(StatusCode::BAD_GATEWAY);
                    return;
                }
            }
        }
    }

    fn pump_out(&mut self, cx: &mut TaskCx<'_>) {
        let mut buf = [0u8; 16 * 1024];
        while cx.room() > 0 {
            let want = cx.room().min(buf.len());
            match self.rx.read(&mut buf[..want]) {
                Ok(0) => return cx.finish(),
                Ok(n) => {
                    buf[..n].make_ascii_uppercase();
                    cx.send(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => return cx.fail(StatusCode::BAD_GATEWAY),
            }
        }
    }
}

impl Task for Upper {
    fn start(&mut self, cx: &mut TaskCx<'_>) {
        if self.stall {
            return;
        }
        if self.redirect {
            let req = Request::get("/plain").body(Body::Empty).expect("request");
            return cx.redispatch(req);
        }
        let ok = self.tx.as_mut().is_some_and(|tx| cx.register(tx, 0, Interest::WRITABLE).is_ok())
            && cx.register(&mut self.rx, 1, Interest::READABLE).is_ok();
        if !ok {
            return cx.fail(StatusCode::INTERNAL_SERVER_ERROR);
        }
        let mut head = Response::new(());
        head.headers_mut().insert("content-type", http::HeaderValue::from_static("text/plain"));
        cx.send_head(head, None);
        self.pump_in(cx);
    }
    fn on_ready(&mut self, cx: &mut TaskCx<'_>, _id: usize, _ev: &Event) {
        self.pump_in(cx);
        self.pump_out(cx);
    }
    fn on_body(&mut self, cx: &mut TaskCx<'_>) {
        self.pump_in(cx);
    }
    fn on_room(&mut self, cx: &mut TaskCx<'_>) {
        self.pump_out(cx);
    }
    fn on_timeout(&mut self, cx: &mut TaskCx<'_>) {
        cx.fail(StatusCode::GATEWAY_TIMEOUT);
    }
    fn abort(&mut self) {
        if self.count_abort && self.tx.is_some() {
            let (count, counted) = &ABORTED_MID_BODY;
            *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            counted.notify_all();
        }
    }
}

struct App;

impl Handler for App {
    fn call(&self, req: Request<Body>, _conn: &ConnInfo) -> Reply {
        if req.uri().path() == "/plain" {
            return Reply::Now(Response::new(Body::from("plain")));
        }
        let Ok((tx, rx)) = pipe::new() else { return Reply::Now(Response::new(Body::from("no pipe"))) };
        let stall = req.uri().path() == "/stall";
        let leave = req.uri().path() == "/leave";
        let req_redirect = req.uri().path() == "/redirect";
        let initial = match req.into_body() {
            Body::Bytes(b) if !b.is_empty() => Some(b),
            _ => None,
        };
        let count_abort = leave;
        let redirect = req_redirect;
        Reply::Task(Box::new(Upper { initial, tx: Some(tx), rx, stall, redirect, count_abort }))
    }
    fn streams_body(&self, _m: &http::Method, uri: &http::Uri, _h: &http::HeaderMap) -> bool {
        uri.path() != "/buffered"
    }
}

fn start() -> pollux_testkit::AppServer {
    pollux_testkit::start_app_with(App, |o| o.task_timeout = Duration::from_millis(500))
}

#[test]
fn a_body_streams_through_a_pipe_and_back_with_backpressure() {
    let s = start();
    // 8 MiB in 1000-byte chunks: far more than the pipe (64 KiB), the body queue and the
    // write buffer hold, so every stage must wait for the next.
    let body: Vec<u8> =
        (0..8 * 1024 * 1024u32).map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[(i % 27) as usize]).collect();
    let mut c = connect(s.addr);
    c.write_all(b"POST /upper HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").expect("head");
    let writer = {
        let mut c = c.try_clone().expect("clone");
        let body = body.clone();
        std::thread::spawn(move || {
            for piece in body.chunks(1000) {
                c.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).expect("size");
                c.write_all(piece).expect("chunk");
                c.write_all(b"\r\n").expect("crlf");
            }
            c.write_all(b"0\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("end");
        })
    };
    let data = read_all(&mut c, Duration::from_secs(20));
    writer.join().expect("writer");
    let (rs, _) = parse_responses(&data, &[false, false]);
    assert_eq!(rs.len(), 2, "{:?}", String::from_utf8_lossy(&data[..data.len().min(300)]));
    assert_eq!(rs[0].header("transfer-encoding"), Some("chunked"));
    assert!(rs[0].body == body.to_ascii_uppercase(), "body differs ({} bytes back)", rs[0].body.len());
    // The pipelined request after the task's is answered after it, on the same connection.
    assert_eq!(rs[1].text(), "plain");
}

#[test]
fn a_buffered_body_reaches_the_task_whole() {
    let s = start();
    let r = pollux_testkit::send_body(s.addr, "POST", "/buffered", "text/plain", b"hello task");
    assert_eq!((r.status, r.text().as_str()), (200, "HELLO TASK"));
}

#[test]
fn a_task_can_hand_the_request_back_as_another() {
    let s = start();
    let mut c = connect(s.addr);
    c.write_all(b"GET /redirect HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let data = read_all(&mut c, Duration::from_secs(5));
    let (rs, _) = parse_responses(&data, &[false, false]);
    let got: Vec<String> = rs.iter().map(|r| r.text()).collect();
    assert_eq!(got, ["plain", "plain"]);
}

#[test]
fn an_idle_task_times_out_with_504() {
    let s = start();
    let t = Instant::now();
    let r = pollux_testkit::send(s.addr, "GET", "/stall", &[]);
    assert_eq!(r.status, 504);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // The worker carries on.
    assert_eq!(pollux_testkit::send(s.addr, "GET", "/plain", &[]).text(), "plain");
}

#[test]
fn a_client_that_leaves_mid_upload_frees_the_task() {
    let s = start();
    for _ in 0..20 {
        let mut c = connect(s.addr);
        c.write_all(b"POST /leave HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n").expect("head");
        c.write_all(&[b'a'; 10_000]).expect("part");
        drop(c);
    }
    let mut c = connect(s.addr);
    c.write_all(b"POST /upper HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        .expect("w");
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let (rs, _) = parse_responses(&out, &[false]);
    assert_eq!(rs[0].text(), "ABC");
    // Every task whose client left mid-body was aborted (a CGI task kills its script there).
    let (count, counted) = &ABORTED_MID_BODY;
    let aborted = counted
        .wait_timeout_while(
            count.lock().unwrap_or_else(PoisonError::into_inner),
            Duration::from_secs(5),
            |n| *n < 20,
        )
        .unwrap_or_else(PoisonError::into_inner)
        .0;
    assert_eq!(*aborted, 20);
}
