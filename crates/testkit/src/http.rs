//! HTTP/1.1 over a real socket, as raw bytes: requests written by hand, responses parsed by
//! their framing (`Content-Length`, chunked, or to the close) so that one connection can carry
//! several, and pipelined answers can be split.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::retry::ReadRetry;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status code (0 if the status line was unreadable).
    pub status: u16,
    /// Field lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
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

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A TCP connection to `addr` with a 10 s read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s
}

/// Reads everything until the server closes or `timeout` passes without data.
pub fn read_all(s: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(timeout)).expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read_retry(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // The timeout, or a reset.
            Err(_) => break,
        }
    }
    out
}

/// Sends `raw`, half-closes, and reads until the server closes.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(raw).expect("write");
    let _ = s.shutdown(Shutdown::Write);
    read_all(&mut s, Duration::from_secs(10))
}

/// Parses as many complete responses as `data` holds. `head_only[i]` says the i-th response
/// answers a HEAD request (no body despite Content-Length). Returns the responses and the
/// number of bytes consumed. Interim (1xx) responses are skipped.
pub fn parse_responses(data: &[u8], head_only: &[bool]) -> (Vec<Resp>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &data[pos..];
        let Some(end) = find(rest, b"\r\n\r\n") else { break };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut p = end + 4;
        let is_head = head_only.get(out.len()).copied().unwrap_or(false);
        let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if (100..200).contains(&status) {
            pos += p;
            continue; // interim response: not counted
        }
        if is_head || status == 204 || status == 304 {
        } else if let Some(cl) = get("content-length") {
            let n: usize = cl.parse().unwrap_or(0);
            if rest.len() < p + n {
                break;
            }
            body.extend_from_slice(&rest[p..p + n]);
            p += n;
        } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut q = p;
            let mut done = false;
            while let Some(le) = find(&rest[q..], b"\r\n") {
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&rest[q..q + le]).split(';').next().unwrap_or("").trim(),
                    16,
                )
                .unwrap_or(0);
                q += le + 2;
                if size == 0 {
                    if let Some(te) = find(&rest[q..], b"\r\n") {
                        // no trailers in our responses
                        q += te + 2;
                        done = true;
                    }
                    break;
                }
                if rest.len() < q + size + 2 {
                    break;
                }
                body.extend_from_slice(&rest[q..q + size]);
                q += size + 2;
            }
            if !done {
                break;
            }
            p = q;
        } else {
            // close-delimited
            body.extend_from_slice(&rest[p..]);
            p = rest.len();
        }
        out.push(Resp { status, headers, body });
        pos += p;
    }
    (out, pos)
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh connection; the single response.
pub fn request(addr: SocketAddr, raw: &str) -> Resp {
    let head = raw.starts_with("HEAD ");
    let data = exchange(addr, raw.as_bytes());
    let (rs, _) = parse_responses(&data, &[head]);
    rs.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no response to {raw:?}; got {:?}", String::from_utf8_lossy(&data)))
}

/// `METHOD target` with extra header fields, on a fresh connection (`Connection: close`).
pub fn send(addr: SocketAddr, method: &str, target: &str, fields: &[(&str, &str)]) -> Resp {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in fields {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    request(addr, &raw)
}

/// `GET target` with extra header fields.
pub fn get_with(addr: SocketAddr, target: &str, fields: &[(&str, &str)]) -> Resp {
    send(addr, "GET", target, fields)
}

/// `METHOD target` with a body and its `Content-Type`.
pub fn send_body(addr: SocketAddr, method: &str, target: &str, content_type: &str, body: &[u8]) -> Resp {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let data = exchange(addr, &raw);
    let (rs, _) = parse_responses(&data, &[false]);
    rs.into_iter().next().unwrap_or_else(|| panic!("no response; got {:?}", String::from_utf8_lossy(&data)))
}

/// Runs `curl -sS --max-time 60` with `args` (scripts/test.sh installs curl).
pub fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl").args(["-sS", "--max-time", "60"]).args(args).output().expect("run curl")
}

/// One persistent client connection that reads each response by its framing, so that the
/// next request can follow on the same connection.
#[derive(Debug)]
pub struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    /// Connects to `addr` (10 s read timeout).
    pub fn open(addr: SocketAddr) -> Conn {
        Conn { r: BufReader::new(connect(addr)) }
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

/// One request on a fresh [`Conn`] (no `Connection: close`; the answer is read by framing).
pub fn fetch(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    Conn::open(addr).request(method, path, headers)
}

/// `NAME=value` lines (a CGI or WSGI test app's report of its environment) into a map;
/// values never hold newlines in these tests.
pub fn env_map(body: &[u8]) -> std::collections::HashMap<String, String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
