//! Shared helpers for pollux-web's black-box tests: serve an app in-process on `127.0.0.1:0`
//! and speak HTTP/1.1 to it over a real socket, reading responses by their framing so one
//! connection can carry several.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// A server running an app on a background thread; shut down when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: pollux_server::Shutdown,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.begin();
    }
}

/// Serves `app` on `127.0.0.1:0` with one worker, signals and the server's own log off.
pub fn start<S: Clone + Send + Sync + 'static>(app: pollux_web::App<S>) -> TestServer {
    let shutdown = pollux_server::Shutdown::new();
    let opts = pollux_server::Options {
        addrs: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        workers: 1,
        handle_signals: false,
        shutdown: shutdown.clone(),
        access_log: pollux_server::AccessLog::Off,
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        pollux_server::serve(opts, app, move |a| {
            let _ = tx.send(a[0]);
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).expect("server bound");
    TestServer { addr, shutdown }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first field named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every field line named `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// Whether some line of the list field `name` holds `item` (any case).
    pub fn lists(&self, name: &str, item: &str) -> bool {
        self.all(name).iter().flat_map(|v| v.split(',')).any(|i| i.trim().eq_ignore_ascii_case(item))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client connection.
pub struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
        Conn { r: BufReader::new(s) }
    }

    /// Sends `method path` with `headers` (and `Host`), no body, and reads the answer.
    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (n, v) in headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        self.r.get_mut().write_all(raw.as_bytes()).expect("write request");
        self.read_response(method == "HEAD")
    }

    /// Reads one response: by `Content-Length`, chunked, or no body (HEAD, 1xx, 204, 304).
    pub fn read_response(&mut self, head_request: bool) -> Resp {
        let mut line = String::new();
        self.r.read_line(&mut line).expect("status line");
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            self.r.read_line(&mut l).expect("field line");
            let l = l.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("field line with a colon");
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
        let mut resp = Resp { status, headers, body: Vec::new() };
        if head_request || status / 100 == 1 || status == 204 || status == 304 {
            return resp;
        }
        if let Some(len) = resp.header("content-length") {
            let mut body = vec![0; len.parse().expect("content-length")];
            self.r.read_exact(&mut body).expect("body");
            resp.body = body;
        } else if resp.lists("transfer-encoding", "chunked") {
            loop {
                let mut size = String::new();
                self.r.read_line(&mut size).expect("chunk size");
                let size =
                    usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).expect("hex size");
                let mut chunk = vec![0; size + 2];
                self.r.read_exact(&mut chunk).expect("chunk");
                if size == 0 {
                    break; // no trailers from this server
                }
                resp.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            self.r.read_to_end(&mut resp.body).expect("body to close");
        }
        resp
    }
}

/// One request on a fresh connection.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    Conn::open(addr).request(method, path, headers)
}

/// `GET path` on a fresh connection.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    request(addr, "GET", path, headers)
}
