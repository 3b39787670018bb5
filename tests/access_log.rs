//! The access log says what happened: the body bytes the client really got (a download cut
//! short logs what was delivered, as nginx's `$body_bytes_sent` does, not the planned length),
//! and the request line of every answer the server made up itself (CGI failures included).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use pollux_testkit::{pollux_bin, spawn, write_scripts, Server, TempRoot};

/// `pollux serve ROOT --access-log -` with its stderr read line by line.
fn logged_server(
    root: &std::path::Path,
    extra: &[&str],
) -> (Server, std::io::Lines<BufReader<std::process::ChildStderr>>) {
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(root).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "-"]);
    cmd.args(extra);
    let mut server = spawn(cmd);
    let lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    (server, lines)
}

/// The next log line that mentions `needle` (the server's stderr blocks until it comes).
fn line_with(lines: &mut impl Iterator<Item = std::io::Result<String>>, needle: &str) -> String {
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        if line.contains(needle) {
            return line;
        }
    }
    panic!("the server exited without logging {needle}");
}

/// `"GET /x HTTP/1.1" 200 123` → (status, bytes).
fn status_and_bytes(line: &str) -> (u16, u64) {
    let mut tail = line.rsplit(' ');
    let bytes = tail.next().and_then(|b| b.parse().ok()).expect("bytes");
    let status = tail.next().and_then(|s| s.parse().ok()).expect("status");
    (status, bytes)
}

#[test]
fn a_download_cut_short_logs_the_bytes_the_client_got() {
    const SIZE: usize = 48 << 20;
    const WANT: usize = 3 << 20;
    let root = TempRoot::new("log-abort");
    std::fs::write(root.0.join("big.bin"), vec![7u8; SIZE]).expect("write");
    let (_server, mut log) = logged_server(&root.0, &[]);
    // A small receive buffer: what the client's TCP acknowledges without the application
    // reading it stays well under one segment.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(8192).expect("SO_RCVBUF");
    sock.connect(&_server.addr.into()).expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    let head_end = loop {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
        if let Some(i) = pollux_testkit::find(&got, b"\r\n\r\n") {
            break i + 4;
        }
    };
    while got.len() - head_end < WANT {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    let received = (got.len() - head_end) as u64;
    drop(s); // unread bytes in our buffer: the close is a reset
    let line = line_with(&mut log, "/big.bin");
    let (status, logged) = status_and_bytes(&line);
    assert_eq!(status, 200, "{line}");
    let segment = 65_536;
    assert!(logged.abs_diff(received) <= segment, "logged {logged}, the client received {received}: {line}");
}

#[test]
fn a_complete_download_logs_its_length() {
    let root = TempRoot::new("log-full");
    std::fs::write(root.0.join("mid.bin"), vec![1u8; 300_000]).expect("write");
    let (server, mut log) = logged_server(&root.0, &[]);
    let r = pollux_testkit::get_with(server.addr, "/mid.bin", &[]);
    assert_eq!(r.body.len(), 300_000);
    let line = line_with(&mut log, "/mid.bin");
    assert_eq!(status_and_bytes(&line), (200, 300_000), "{line}");
    // Small answers are logged as before.
    pollux_testkit::get_with(server.addr, "/index.html", &[]);
    let line = line_with(&mut log, "/index.html");
    assert_eq!(status_and_bytes(&line), (200, 15), "{line}");
}

#[test]
fn a_cgi_failure_logs_its_request_line() {
    let root = TempRoot::new("log-cgi");
    let bin = root.0.join("cgi");
    write_scripts(&bin, &[("broken.sh", "#!/bin/sh\necho 'this is not a header'\n")]);
    let spec = format!("/cgi-bin={}", bin.display());
    let (server, mut log) = logged_server(&root.0, &["--cgi", &spec]);
    let r = pollux_testkit::get_with(server.addr, "/cgi-bin/broken.sh?x=1", &[]);
    assert_eq!(r.status, 502);
    let line = line_with(&mut log, "\" 502 ");
    assert!(line.contains("\"GET /cgi-bin/broken.sh?x=1 HTTP/1.1\" 502 "), "{line}");
}
