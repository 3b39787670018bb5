//! Byte-string tests of the whole decoder: every framing rule, with the status it maps to.

use super::*;
use http::{Method, Version};

/// Decodes all of `raw` in one buffer: the events as short strings, then `ERR <status>` or
/// `MORE` (needs more bytes).
fn run_with(raw: &[u8], limits: Limits) -> Vec<String> {
    let mut d = RequestDecoder::new(limits);
    let mut buf = BytesMut::from(raw);
    let mut out = Vec::new();
    loop {
        match d.decode(&mut buf) {
            Ok(Some(Event::Head(h))) => out.push(format!(
                "{} {} {:?} {:?}{}",
                h.method,
                h.uri,
                h.version,
                h.body,
                if h.keep_alive { "" } else { " close" }
            )),
            Ok(Some(Event::Data(b))) => out.push(format!("data {}", String::from_utf8_lossy(&b))),
            Ok(Some(Event::End(None))) => out.push("end".into()),
            Ok(Some(Event::End(Some(t)))) => out.push(format!("end +{} trailers", t.len())),
            Ok(None) => {
                out.push("MORE".into());
                return out;
            }
            Err(e) => {
                out.push(format!("ERR {}", e.status().as_u16()));
                return out;
            }
        }
    }
}

fn run(raw: &[u8]) -> Vec<String> {
    run_with(raw, Limits::default())
}

/// The status of the first error, or 0 if all of `raw` decoded (or ran out) without one.
fn status(raw: &[u8]) -> u16 {
    run(raw).last().and_then(|l| l.strip_prefix("ERR ")).map_or(0, |s| s.parse().unwrap_or(1))
}

#[test]
fn a_get_yields_head_then_end() {
    assert_eq!(
        run(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
        ["GET /index.html HTTP/1.1 Empty", "end", "MORE"]
    );
}

#[test]
fn content_length_body_and_pipelining() {
    assert_eq!(
        run(b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
        [
            "POST /a HTTP/1.1 Length(5)",
            "data hello",
            "end",
            "GET /b HTTP/1.1 Empty",
            "end",
            "MORE"
        ]
    );
}

#[test]
fn chunked_body_with_trailers_then_pipelined() {
    let raw = b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        run(raw),
        [
            "POST /c HTTP/1.1 Chunked",
            "data hello",
            "data  world",
            "end +1 trailers",
            "GET / HTTP/1.1 Empty",
            "end",
            "MORE"
        ]
    );
}

#[test]
fn empty_lines_before_a_request_line_are_ignored() {
    let out = run(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(out, ["GET / HTTP/1.1 Empty", "end", "MORE"]);
    // A bare LF is not an empty line.
    assert_eq!(status(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

#[test]
fn body_bytes_arrive_in_pieces() {
    let mut d = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhel"[..]);
    assert!(matches!(d.decode(&mut buf), Ok(Some(Event::Head(_)))));
    assert!(matches!(d.decode(&mut buf), Ok(Some(Event::Data(b))) if &b[..] == b"hel"));
    assert!(matches!(d.decode(&mut buf), Ok(None)));
    buf.extend_from_slice(b"lo worldGET");
    assert!(matches!(d.decode(&mut buf), Ok(Some(Event::Data(b))) if &b[..] == b"lo worl"));
    assert!(matches!(d.decode(&mut buf), Ok(Some(Event::End(None)))));
    assert_eq!(&buf[..], b"dGET");
}

#[test]
fn idle_only_between_messages() {
    let mut d = RequestDecoder::new(Limits::default());
    assert!(d.is_idle());
    let mut buf = BytesMut::from(&b"\r\n"[..]);
    assert!(matches!(d.decode(&mut buf), Ok(None)));
    assert!(d.is_idle(), "an empty line is not part of a message");
    buf.extend_from_slice(b"GET / HT");
    assert!(matches!(d.decode(&mut buf), Ok(None)));
    assert!(!d.is_idle());
    buf.extend_from_slice(b"TP/1.1\r\nHost: a\r\n\r\n");
    assert!(matches!(d.decode(&mut buf), Ok(Some(Event::Head(_)))));
    assert!(!d.is_idle());
    assert!(matches!(d.decode(&mut buf), Ok(Some(Event::End(None)))));
    assert!(d.is_idle());
}

#[test]
fn errors_are_sticky() {
    let mut d = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..]);
    assert_eq!(d.decode(&mut buf).err(), Some(Error::BareLf));
    let mut fresh = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
    assert_eq!(d.decode(&mut fresh).err(), Some(Error::BareLf));
    assert!(!d.is_idle());
}

#[test]
fn head_fields_and_persistence() {
    let mut d = RequestDecoder::new(Limits::default());
    let mut buf =
        BytesMut::from(&b"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\nX-A: 1\r\nX-A: 2\r\n\r\n"[..]);
    let Ok(Some(Event::Head(h))) = d.decode(&mut buf) else {
        panic!("expected a head");
    };
    assert_eq!(h.method, Method::OPTIONS);
    assert_eq!(h.uri, "*");
    assert_eq!(h.version, Version::HTTP_10);
    assert!(h.keep_alive);
    assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
    assert!(!h.expect_continue);
}

#[test]
fn connection_close_and_http10_are_not_persistent() {
    assert_eq!(run(b"GET / HTTP/1.0\r\n\r\n")[0], "GET / HTTP/1.0 Empty close");
    assert_eq!(
        run(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n")[0],
        "GET / HTTP/1.1 Empty close"
    );
}

#[test]
fn framing_conflicts_are_refused() {
    let te_cl =
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(status(te_cl), 400);
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        400
    );
    assert_eq!(status(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
    assert_eq!(status(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    assert_eq!(status(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
    assert_eq!(
        run(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n")[..2],
        ["POST / HTTP/1.1 Chunked", "end"]
    );
}

#[test]
fn syntax_errors_map_to_400() {
    for raw in [
        &b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
        b"GET / HTTP/1.1\r\nHo\x00st: a\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / ICE/1.0\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        b"GET\r\n\r\n",
    ] {
        assert_eq!(status(raw), 400, "{:?}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn unsupported_versions_are_505() {
    assert_eq!(status(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    assert_eq!(status(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
    assert_eq!(run(b"GET / HTTP/1.9\r\nHost: a\r\n\r\n")[0], "GET / HTTP/1.1 Empty");
}

#[test]
fn limits() {
    let limits = Limits { max_target: 64, max_head: 512, max_headers: 8, max_body: 100, max_trailer: 64 };
    let status_with = |raw: &[u8]| -> u16 {
        let out = run_with(raw, limits);
        out.last().and_then(|l| l.strip_prefix("ERR ")).map_or(0, |s| s.parse().unwrap_or(1))
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(64));
    assert_eq!(status_with(long_target.as_bytes()), 414);
    let fits = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(63));
    assert_eq!(status_with(fits.as_bytes()), 0);
    // Unterminated: refused once it is clearly too long, without waiting for the end.
    assert_eq!(status_with(format!("GET /{}", "a".repeat(400)).as_bytes()), 414);
    let big_head = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "x".repeat(500));
    assert_eq!(status_with(big_head.as_bytes()), 431);
    assert_eq!(status_with(format!("GET / HTTP/1.1\r\nX: {}", "x".repeat(600)).as_bytes()), 431);
    let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: y\r\n".repeat(8));
    assert_eq!(status_with(many.as_bytes()), 431);
    assert_eq!(status_with(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n"), 413);
    let chunks = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n{}\r\n33\r\n",
        "x".repeat(50)
    );
    assert_eq!(status_with(chunks.as_bytes()), 413);
    let trailer = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: {}\r\n\r\n",
        "t".repeat(64)
    );
    assert_eq!(status_with(trailer.as_bytes()), 431);
}

#[test]
fn a_mebibyte_target_is_refused_without_buffering_it() {
    let mut d = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"GET /"[..]);
    let mut fed = 0;
    let err = loop {
        match d.decode(&mut buf) {
            Ok(None) => {
                buf.extend_from_slice(&[b'a'; 1024]);
                fed += 1024;
                assert!(fed <= 1 << 20, "buffered the whole target");
            }
            Ok(Some(ev)) => panic!("unexpected {ev:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.status(), 414);
    assert!(fed < 16 * 1024);
}

#[test]
fn content_length_near_u64_max_is_refused() {
    assert_eq!(status(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n"), 413);
    assert_eq!(status(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n"), 400);
    let chunk = b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
    assert_eq!(status(chunk), 413);
    let overflow = b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n";
    assert_eq!(status(overflow), 400);
}

#[test]
fn expect_continue() {
    let mut d = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(
        &b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"[..],
    );
    let Ok(Some(Event::Head(h))) = d.decode(&mut buf) else {
        panic!("expected a head");
    };
    assert!(h.expect_continue);
}
