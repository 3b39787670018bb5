//! HTTP/1.1 behaviour of the server core, black-box: `examples/hello` on 127.0.0.1:0, raw
//! bytes in, responses parsed out.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use pollux_testkit::*;
use sha2::{Digest, Sha256};

fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hello_routes_follow_the_techempower_rules() {
    let s = hello(1);
    let r = request(s.addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello World"));
    let r = request(s.addr, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("server"), Some("pollux"));
    let date = r.header("date").unwrap();
    assert!(date.ends_with(" GMT") && date.len() == 29, "Date is an IMF-fixdate: {date}");
    let r = request(s.addr, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(json(&r), serde_json::json!({"message": "Hello, World!"}));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = hello(1);
    let mut raw = String::new();
    for i in 0..20 {
        raw.push_str(&format!("GET /item/{i} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    raw.push_str("POST /last HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    raw.push_str("GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw.push_str("GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
    let data = exchange(s.addr, raw.as_bytes());
    let (rs, _) = parse_responses(&data, &[]);
    assert_eq!(rs.len(), 22, "one answer per request up to Connection: close, none after");
    for (i, r) in rs.iter().take(20).enumerate() {
        assert_eq!(json(r)["target"], format!("/item/{i}"));
    }
    assert_eq!(json(&rs[20])["body_len"], 3);
    assert_eq!(rs[21].text(), "Hello, World!");
    assert_eq!(rs[21].header("connection"), Some("close"));
}

#[test]
fn pipelined_requests_split_across_many_writes() {
    let s = hello(1);
    let raw = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut c = connect(s.addr);
    for b in raw.as_bytes().chunks(7) {
        c.write_all(b).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let data = read_all(&mut c, Duration::from_secs(5));
    let (rs, _) = parse_responses(&data, &[]);
    let targets: Vec<_> = rs.iter().map(|r| json(r)["target"].as_str().unwrap().to_owned()).collect();
    assert_eq!(targets, ["/a", "/b", "/c"]);
    assert_eq!(json(&rs[1])["body_len"], 3);
}

#[test]
fn chunked_upload_is_dechunked() {
    let s = hello(1);
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut raw =
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for (i, piece) in body.chunks(7919).enumerate() {
        // Extensions are ignored (RFC 9112 §7.1.1).
        raw.extend_from_slice(
            format!("{:x}{}\r\n", piece.len(), if i == 1 { ";name=value" } else { "" }).as_bytes(),
        );
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
    let data = exchange(s.addr, &raw);
    let (rs, _) = parse_responses(&data, &[]);
    let j = json(&rs[0]);
    assert_eq!(j["body_len"], body.len());
    assert_eq!(j["body_sha256"], sha256_hex(&body));
}

#[test]
fn expect_100_continue_waits_for_the_interim_response() {
    let s = hello(1);
    let mut c = connect(s.addr);
    c.write_all(b"PUT /file HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    let n = c.read_retry(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"hello").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let data = read_all(&mut c, Duration::from_secs(5));
    let (rs, _) = parse_responses(&data, &[]);
    assert_eq!(rs[0].status, 200);
    assert_eq!(json(&rs[0])["body_len"], 5);
}

#[test]
fn expect_100_continue_with_oversized_body_gets_413_and_no_100() {
    let s = hello(1);
    let mut c = connect(s.addr);
    c.write_all(
        b"PUT /file HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let data = read_all(&mut c, Duration::from_secs(5));
    assert!(data.starts_with(b"HTTP/1.1 413 "), "{}", String::from_utf8_lossy(&data));
    assert!(find(&data, b"100 Continue").is_none());
}

#[test]
fn http10_closes_unless_keep_alive_is_asked_for() {
    let s = hello(1);
    let data = exchange(s.addr, b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
    let (rs, _) = parse_responses(&data, &[]);
    assert_eq!(rs.len(), 1, "HTTP/1.0 without keep-alive: one answer, then close");
    assert_eq!(rs[0].header("connection"), Some("close"));

    let data = exchange(
        s.addr,
        b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.0\r\n\r\n",
    );
    let (rs, _) = parse_responses(&data, &[]);
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0].header("connection"), Some("keep-alive"));
    assert_eq!(rs[2].header("connection"), Some("close"));
    assert_eq!(json(&rs[2])["version"], "HTTP/1.0");
}

#[test]
fn head_has_headers_but_no_body() {
    let s = hello(1);
    let data = exchange(s.addr, b"HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (rs, _) = parse_responses(&data, &[true, false]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].header("content-length"), Some("13"));
    assert!(rs[0].body.is_empty());
    assert_eq!(rs[1].text(), "Hello, World!", "the HEAD answer carried no stray body bytes");
}

/// Every framing and limit rule of the issue, with its status code; after each, the
/// connection is closed and nothing behind the bad request is answered.
#[test]
fn rejections_have_their_status_and_close() {
    let s = hello(2);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let big_head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(70_000));
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many_headers = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "CL and TE",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .into(),
            400,
        ),
        (
            "differing CLs",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".into(),
            400,
        ),
        ("bad CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello".into(), 400),
        (
            "unknown coding",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".into(),
            501,
        ),
        (
            "chunked not last",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n".into(),
            400,
        ),
        (
            "bad chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
            400,
        ),
        (
            "chunk size overflow",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n".into(),
            400,
        ),
        ("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n".into(), 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n".into(), 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n".into(), 400),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n".into(), 400),
        ("duplicate Host", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n".into(), 400),
        ("bad header name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n".into(), 400),
        ("NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n".into(), 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n".into(), 505),
        ("HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n".into(), 505),
        ("target too long", long_target, 414),
        ("head too large", big_head, 431),
        ("too many headers", many_headers, 431),
        ("body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 16777217\r\n\r\n".into(), 413),
    ];
    let mut failures = Vec::new();
    for (name, raw, want) in cases {
        let raw = format!("{raw}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
        let data = exchange(s.addr, raw.as_bytes());
        let (rs, _) = parse_responses(&data, &[]);
        let got: Vec<u16> = rs.iter().map(|r| r.status).collect();
        let closes = rs.first().and_then(|r| r.header("connection")) == Some("close");
        if got != [want] || !closes {
            failures.push(format!(
                "{name}: want [{want}] + close, got {got:?} ({:.120})",
                String::from_utf8_lossy(&data)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let s = hello(1);
    let mut c = connect(s.addr);
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let piece = vec![b'x'; 1 << 20];
    let mut sent = 0;
    // 17 MiB in 1 MiB chunks: past the 16 MiB default; the server answers before the end.
    for _ in 0..17 {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(&piece);
        chunk.extend_from_slice(b"\r\n");
        if c.write_all(&chunk).is_err() {
            break;
        }
        sent += 1;
    }
    let data = read_all(&mut c, Duration::from_secs(5));
    assert!(data.starts_with(b"HTTP/1.1 413 "), "after {sent} MiB: {:.100}", String::from_utf8_lossy(&data));
}

#[test]
fn leading_empty_line_is_ignored() {
    let s = hello(1);
    let r = request(s.addr, "\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "Hello, World!");
}

#[test]
fn higher_minor_version_is_treated_as_http11() {
    // RFC 9110 §2.5: a recipient of HTTP/1.x with x > 1 processes it as HTTP/1.1.
    let s = hello(1);
    let r = request(s.addr, "GET /v HTTP/1.9\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
}

#[test]
fn absolute_form_target_is_accepted() {
    let s = hello(1);
    let r = request(s.addr, "GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["target"], "http://example.com/abs?q=1");
}

#[test]
fn keepalive_connection_survives_many_requests_and_reports_body_hash() {
    let s = hello(2);
    let mut c = connect(s.addr);
    for i in 0..200u32 {
        let body = format!("payload-{i}");
        let req = format!("POST /k HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        c.write_all(req.as_bytes()).unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let r = loop {
            let n = c.read_retry(&mut buf).unwrap();
            assert!(n > 0, "server closed a keep-alive connection");
            data.extend_from_slice(&buf[..n]);
            let (rs, _) = parse_responses(&data, &[]);
            if let Some(r) = rs.into_iter().next() {
                break r;
            }
        };
        assert_eq!(json(&r)["body_sha256"], sha256_hex(body.as_bytes()));
    }
}
