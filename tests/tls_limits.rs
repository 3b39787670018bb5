//! What the TLS port does with peers that do not speak TLS or stop halfway: plain HTTP gets a
//! plaintext 400 and a close, junk is closed, a stalled handshake (nothing sent, or half a
//! ClientHello) neither delays other clients on the same single worker nor outlives
//! `--tls-handshake-timeout` — which, once the handshake is done, no longer applies.
#![allow(clippy::unwrap_used)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pollux_testkit::tls::{curl_https, get_close, serve_https, Pki};
use pollux_testkit::TempRoot;

/// The first 60 bytes of a 205-byte TLS 1.2/1.3 ClientHello record: the record header
/// announces more than is sent.
fn half_client_hello() -> Vec<u8> {
    let mut v = vec![0x16, 0x03, 0x01, 0x00, 0xc8]; // handshake record, 200 bytes
    v.extend([0x01, 0x00, 0x00, 0xc4, 0x03, 0x03]); // ClientHello, 196 bytes, legacy 1.2
    v.extend((0u8..32).map(|i| i.wrapping_mul(37))); // random
    v.extend([0x00]); // empty legacy session id
    v.extend([0x00, 0x04, 0x13, 0x01, 0x13, 0x02]); // two suites
    v.truncate(60);
    v
}

/// Reads (discarding) until the server ends the connection: the time that took, with what it
/// sent, or `None` if it was still open at `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some((start.elapsed(), got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return None,
            // A reset is an end too.
            Err(_) => return Some((start.elapsed(), got)),
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

#[test]
fn plain_http_on_the_tls_port_gets_a_plaintext_400_then_a_close() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-plain400");
    let s = serve_https(&root.0, &pki, &[], 0);
    let mut c = connect(s.tls);
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let (_, got) = closed_within(&mut c, Duration::from_secs(5)).expect("the server closes after its 400");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text:?}");
    // The server is unharmed.
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/index.html", &[]);
    assert_eq!(r.status, 200, "{}", r.stderr);
}

#[test]
fn junk_on_the_tls_port_is_closed_without_an_http_answer() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-junk");
    let s = serve_https(&root.0, &pki, &[], 0);
    for junk in [
        &b"\x00\x01\x02\x03\xff\xfe\xfd\xfc garbage garbage\r\n\r\n"[..],
        b"\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff",
    ] {
        let mut c = connect(s.tls);
        c.write_all(junk).unwrap();
        let (_, got) = closed_within(&mut c, Duration::from_secs(5)).expect("junk is closed");
        // Nothing, or a TLS alert record (content type 21): never an HTTP answer.
        assert!(got.is_empty() || got[0] == 0x15, "{junk:?} got {:?}", String::from_utf8_lossy(&got));
    }
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/index.html", &[]);
    assert_eq!(r.status, 200, "{}", r.stderr);
}

#[test]
fn stalled_handshakes_and_junk_do_not_delay_a_client_on_the_same_worker() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-stall");
    let data = pollux_testkit::random_bytes(1 << 20, 3);
    std::fs::write(root.path("m.bin"), &data).unwrap();
    // One worker: everything below shares one event loop with the client being served.
    let s = serve_https(&root.0, &pki, &[], 0);
    let mut silent: Vec<TcpStream> = (0..20).map(|_| connect(s.tls)).collect();
    let mut halves: Vec<TcpStream> = (0..20).map(|_| connect(s.tls)).collect();
    for h in &mut halves {
        h.write_all(&half_client_hello()).unwrap();
    }
    let mut junk = connect(s.tls);
    junk.write_all(b"\x00\x00\x00\x00junk").unwrap();
    let mut plain = connect(s.tls);
    plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    for round in 0..5 {
        let t = Instant::now();
        let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/m.bin", &[]);
        let took = t.elapsed();
        assert_eq!(r.status, 200, "round {round}: {}", r.stderr);
        assert!(r.body == data, "round {round}: the body differs");
        assert!(
            took < Duration::from_secs(2),
            "round {round}: served in {took:?} beside 40 stalled handshakes"
        );
    }
    // The stalled ones are still open (the default handshake timeout is 10 s): what was served
    // was served beside them, not after them.
    for c in silent.iter_mut().chain(halves.iter_mut()) {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let e = c.read(&mut b).expect_err("still open, nothing to read");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
    assert!(closed_within(&mut junk, Duration::from_secs(5)).is_some(), "junk is closed");
    let (_, got) = closed_within(&mut plain, Duration::from_secs(5)).expect("plain HTTP is closed");
    assert!(got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"), "{:?}", String::from_utf8_lossy(&got));
}

#[test]
fn a_stalled_handshake_is_closed_at_the_handshake_timeout() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-hs-timeout");
    let s = serve_https(&root.0, &pki, &["--tls-handshake-timeout", "1s"], 0);
    let mut silent = connect(s.tls);
    let mut half = connect(s.tls);
    half.write_all(&half_client_hello()).unwrap();
    for (what, c) in [("nothing sent", &mut silent), ("half a ClientHello", &mut half)] {
        // Both were opened at about the same moment; the second is measured from then too.
        let (took, _) = closed_within(c, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{what}: still open 5 s after a 1 s handshake timeout"));
        assert!(took < Duration::from_secs(3), "{what}: closed after {took:?}");
    }
}

#[test]
fn the_handshake_timeout_stops_applying_once_the_handshake_is_done() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-hs-done");
    let s = serve_https(&root.0, &pki, &["--tls-handshake-timeout", "1s"], 0);
    // s_client completes the handshake at once, then sends its request after 2.5 s of silence.
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["s_client", "-quiet", "-connect", &s.tls.to_string(), "-servername", "localhost"]);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    std::thread::sleep(Duration::from_millis(2500));
    let _ = stdin.write_all(&get_close("/index.html", "localhost"));
    drop(stdin);
    let status = pollux_testkit::wait_exit(&mut child, Duration::from_secs(10));
    let out = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(status.is_some(), "s_client did not end");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "after 2.5 s idle past the handshake: {out:?}");
    assert!(out.ends_with("<h1>hello</h1>\n"), "{out:?}");
}
