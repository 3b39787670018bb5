//! The built-in middleware over a real socket: compression (decoded with the clients' codecs
//! and with curl), request ids, CORS, panic capture and the access log.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, Method, StatusCode};
use pollux_web::middleware::{
    panic_message, AccessLog, CatchPanic, Compression, Cors, RequestId, RequestIdValue,
};
use pollux_web::response::{Html, IntoResponse, Stream};
use pollux_web::{get, Router};

use pollux_testkit::{fetch, start_app as start, AppServer, Conn, Resp};

// ---------------------------------------------------------------------------------------------
// Compression

/// 8 KiB of HTML-ish text: compressible and well above the 1 KiB threshold.
fn page() -> String {
    let mut s = String::from("<ul>\n");
    let mut i = 0u64;
    while s.len() < 8 * 1024 {
        s.push_str(&format!("<li class=\"row\">item {i}: {}</li>\n", i * 7919 % 1013));
        i += 1;
    }
    s
}

fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("gzip stream"),
        "br" => brotli::Decompressor::new(data, 4096).read_to_end(&mut out).expect("br stream"),
        "zstd" => zstd::stream::read::Decoder::new(data)
            .and_then(|mut d| d.read_to_end(&mut out))
            .expect("zstd stream"),
        other => panic!("unexpected coding {other}"),
    };
    out
}

fn compressing_app() -> AppServer {
    let app = Router::new()
        .route("/page", get(|| Html(page())))
        .route("/small", get(|| Html("<p>short</p>")))
        .route("/png", get(|| ([(header::CONTENT_TYPE, "image/png")], page())))
        .route(
            "/stream",
            get(|| ([(header::CONTENT_TYPE, "text/plain")], Stream::new([Bytes::from(page())]))),
        )
        .route("/partial", get(|| (StatusCode::PARTIAL_CONTENT, page())))
        .route("/tagged", get(|| ([(header::ETAG, "\"v1\""), (header::VARY, "Cookie")], Html(page()))))
        .route("/encoded", get(|| ([(header::CONTENT_ENCODING, "gzip")], Html(page()))))
        .route("/no-transform", get(|| ([(header::CACHE_CONTROL, "public, no-transform")], Html(page()))))
        .layer(Compression::new());
    start(app.into_app())
}

#[test]
fn compressed_bodies_decode_to_the_original() {
    let srv = compressing_app();
    for (accept, want) in [
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("zstd, gzip", "zstd"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0.5, zstd;q=0.9, gzip;q=0.8", "zstd"),
        ("*", "br"),
    ] {
        let r = fetch(srv.addr, "GET", "/page", &[("Accept-Encoding", accept)]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(want), "{accept}");
        assert!(r.lists("vary", "accept-encoding"), "{accept}: {:?}", r.headers);
        assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()));
        assert!(r.body.len() < page().len() / 2, "{accept}: {} bytes", r.body.len());
        assert_eq!(decode(want, &r.body), page().as_bytes(), "{accept}");
    }
}

#[test]
fn refused_codings_send_identity_with_vary() {
    let srv = compressing_app();
    for accept in [Some("gzip;q=0, br;q=0, zstd;q=0"), Some("*;q=0"), Some("deflate"), Some(""), None] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept-Encoding", *a)).collect();
        let r = fetch(srv.addr, "GET", "/page", &headers);
        assert_eq!(r.header("content-encoding"), None, "{accept:?}");
        assert_eq!(r.body, page().as_bytes(), "{accept:?}");
        assert!(r.lists("vary", "accept-encoding"), "{accept:?}: a cache must know");
    }
}

#[test]
fn what_is_never_compressed() {
    let srv = compressing_app();
    let ae = [("Accept-Encoding", "gzip, br, zstd")];
    // Small body, incompressible type, stream, not 200: as is, and no Vary (no client gets
    // anything else).
    for path in ["/small", "/png", "/stream", "/partial"] {
        let r = fetch(srv.addr, "GET", path, &ae);
        assert_eq!(r.header("content-encoding"), None, "{path}");
        assert!(!r.lists("vary", "accept-encoding"), "{path}");
    }
    assert_eq!(fetch(srv.addr, "GET", "/small", &ae).text(), "<p>short</p>");
    assert_eq!(fetch(srv.addr, "GET", "/stream", &ae).body, page().as_bytes());
    assert_eq!(fetch(srv.addr, "GET", "/partial", &ae).status, 206);

    // Already encoded by the handler: untouched.
    let r = fetch(srv.addr, "GET", "/encoded", &ae);
    assert_eq!(r.all("content-encoding"), ["gzip"]);
    assert_eq!(r.body, page().as_bytes());

    // no-transform is honoured.
    let r = fetch(srv.addr, "GET", "/no-transform", &ae);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, page().as_bytes());
}

#[test]
fn head_is_identity_with_the_identity_length() {
    let srv = compressing_app();
    let r = fetch(srv.addr, "HEAD", "/page", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("content-length"), Some(page().len().to_string().as_str()));
    assert!(r.lists("vary", "accept-encoding"));
}

#[test]
fn existing_vary_is_kept_and_strong_etag_weakened() {
    let srv = compressing_app();
    let r = fetch(srv.addr, "GET", "/tagged", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.lists("vary", "cookie") && r.lists("vary", "accept-encoding"), "{:?}", r.all("vary"));
    assert_eq!(r.header("etag"), Some("W/\"v1\""));
    assert_eq!(decode("gzip", &r.body), page().as_bytes());

    // Identity keeps the strong tag.
    let r = fetch(srv.addr, "GET", "/tagged", &[]);
    assert_eq!(r.header("etag"), Some("\"v1\""));
}

#[test]
fn min_len_is_configurable() {
    let app = Router::new()
        .route("/small", get(|| "small text, compressed anyway ".repeat(4)))
        .route("/page", get(|| Html(page())))
        .layer(Compression::new().min_len(64));
    let srv = start(app.into_app());
    let r = fetch(srv.addr, "GET", "/small", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &r.body), "small text, compressed anyway ".repeat(4).as_bytes());

    let app = Router::new().route("/page", get(|| Html(page()))).layer(Compression::new().min_len(1 << 20));
    let srv = start(app.into_app());
    assert_eq!(
        fetch(srv.addr, "GET", "/page", &[("Accept-Encoding", "gzip")]).header("content-encoding"),
        None
    );
}

#[test]
fn curl_compressed_gets_the_decoded_body() {
    let srv = compressing_app();
    let out = Command::new("/usr/bin/curl")
        .args(["-sS", "--compressed", "--max-time", "10", "-D", "/dev/stderr"])
        .arg(format!("http://{}/page", srv.addr))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    let head = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
    assert!(head.contains("content-encoding: "), "curl asked for a coding and got one:\n{head}");
    assert_eq!(out.stdout, page().as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Request ids

fn id_app() -> AppServer {
    // The handler sees the id through the extractor and through the request header.
    let show = |id: RequestIdValue, h: HeaderMap| {
        let header = h.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
        format!("{id} {header}")
    };
    let app = Router::new().route("/id", get(show)).layer(RequestId::new());
    start(app.into_app())
}

fn is_generated(id: &str) -> bool {
    let Some((prefix, n)) = id.split_once('-') else { return false };
    prefix.len() == 16
        && prefix.bytes().all(|b| b.is_ascii_hexdigit())
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn request_id_is_generated_and_seen_by_the_handler() {
    let srv = id_app();
    let a = fetch(srv.addr, "GET", "/id", &[]);
    let b = fetch(srv.addr, "GET", "/id", &[]);
    let id = a.header("x-request-id").expect("response id").to_owned();
    assert!(is_generated(&id), "{id}");
    assert_eq!(a.text(), format!("{id} {id}"));
    let other = b.header("x-request-id").expect("response id");
    assert_ne!(id, other, "one id per request");
    assert_eq!(id.split('-').next(), other.split('-').next(), "one prefix per process");
}

#[test]
fn request_id_from_the_client_is_echoed() {
    let srv = id_app();
    for id in ["abc-123_X.y", "7", "0123456789012345678901234567890123456789012345678901234567890123"] {
        let r = fetch(srv.addr, "GET", "/id", &[("X-Request-Id", id)]);
        assert_eq!(r.header("x-request-id"), Some(id));
        assert_eq!(r.text(), format!("{id} {id}"));
    }
}

#[test]
fn invalid_request_id_is_replaced() {
    let srv = id_app();
    let too_long = "x".repeat(65);
    for bad in ["has space", "\"quoted\"", "a/b", "semi;colon", too_long.as_str()] {
        let r = fetch(srv.addr, "GET", "/id", &[("X-Request-Id", bad)]);
        let id = r.header("x-request-id").expect("response id");
        assert!(is_generated(id), "{bad:?} → {id}");
        assert_eq!(r.text(), format!("{id} {id}"), "the handler sees the replacement too");
    }
}

#[test]
fn request_id_extractor_without_the_layer_is_500() {
    let app = Router::new().route("/id", get(|id: RequestIdValue| id.to_string()));
    let srv = start(app.into_app());
    let r = fetch(srv.addr, "GET", "/id", &[]);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("x-request-id"), None);
}

// ---------------------------------------------------------------------------------------------
// CORS

const ORIGIN: &str = "https://a.example";

fn cors_app(cors: Cors) -> AppServer {
    let app = Router::new()
        .route(
            "/api",
            get(|| ([(header::ETAG, "\"1\"")], "data"))
                // Proves preflights never reach the app: it would answer 418.
                .options(|| StatusCode::IM_A_TEAPOT),
        )
        .layer(cors);
    start(app.into_app())
}

fn strict() -> Cors {
    Cors::new()
        .allow_origin(ORIGIN)
        .allow_origin("http://localhost:5173")
        .allow_methods([Method::GET, Method::PUT])
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static("x-api-key")])
        .expose_headers([header::ETAG])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

fn preflight(srv: &AppServer, origin: &str) -> Resp {
    fetch(
        srv.addr,
        "OPTIONS",
        "/api",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "content-type,x-api-key"),
        ],
    )
}

#[test]
fn cors_preflight_for_an_allowed_origin() {
    let srv = cors_app(strict());
    let r = preflight(&srv, ORIGIN);
    assert_eq!(r.status, 204, "answered by the middleware");
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(r.header("access-control-allow-headers"), Some("content-type, x-api-key"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(r.lists("vary", "origin"));
    assert_eq!(
        preflight(&srv, "http://localhost:5173").header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
}

#[test]
fn cors_preflight_for_other_origins_has_no_grant() {
    let srv = cors_app(strict());
    for origin in
        ["https://evil.example", "https://A.example", "https://a.example/", "http://a.example", "null"]
    {
        let r = preflight(&srv, origin);
        assert_eq!(r.status, 204, "{origin}");
        for h in
            ["access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers"]
        {
            assert_eq!(r.header(h), None, "{origin}: {h}");
        }
        assert!(r.lists("vary", "origin"), "{origin}");
    }
}

#[test]
fn cors_options_without_request_method_reaches_the_app() {
    let srv = cors_app(strict());
    let r = fetch(srv.addr, "OPTIONS", "/api", &[("Origin", ORIGIN)]);
    assert_eq!(r.status, 418);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
}

#[test]
fn cors_actual_requests() {
    let srv = cors_app(strict());
    let r = fetch(srv.addr, "GET", "/api", &[("Origin", ORIGIN)]);
    assert_eq!((r.status, r.text().as_str()), (200, "data"));
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-expose-headers"), Some("etag"));
    assert!(r.lists("vary", "origin"));

    // Not allowed: still answered (CORS is the browser's to enforce), but nothing granted.
    let r = fetch(srv.addr, "GET", "/api", &[("Origin", "https://evil.example")]);
    assert_eq!((r.status, r.text().as_str()), (200, "data"));
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-expose-headers"), None);
    assert!(r.lists("vary", "origin"), "the answer depends on Origin");

    // Not a CORS request: no grant, but Vary all the same (Fetch §3.2.5).
    let r = fetch(srv.addr, "GET", "/api", &[]);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert!(r.lists("vary", "origin"));
}

#[test]
fn cors_permissive() {
    let srv = cors_app(Cors::permissive());
    let r = preflight(&srv, "https://anyone.example");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-headers"), Some("content-type,x-api-key"), "echoed");
    assert!(r.lists("access-control-allow-methods", "DELETE"));
    assert_eq!(r.header("access-control-allow-credentials"), None);

    // `*` on every response, CORS or not, and no Vary: Origin.
    for headers in [&[("Origin", "https://anyone.example")][..], &[]] {
        let r = fetch(srv.addr, "GET", "/api", headers);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(!r.lists("vary", "origin"));
    }

    // With credentials the origin is echoed instead, and varies.
    let srv = cors_app(Cors::permissive().allow_credentials(true));
    let r = fetch(srv.addr, "GET", "/api", &[("Origin", "https://anyone.example")]);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://anyone.example"));
    assert!(r.lists("vary", "origin"));
}

// ---------------------------------------------------------------------------------------------
// Panics and the access log

/// A writer into shared memory, for reading the log back.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).lines().map(str::to_owned).collect()
    }
}

fn boom() -> &'static str {
    panic!("secret detail 42")
}

#[test]
fn panic_becomes_500_and_the_connection_goes_on() {
    let log = SharedBuf::default();
    let app = Router::new()
        .route("/boom", get(boom))
        .route("/ok", get(|| "ok"))
        .layer(CatchPanic::new())
        .layer(AccessLog::to_writer(log.clone()));
    let srv = start(app.into_app());

    let mut conn = Conn::open(srv.addr);
    let r = conn.request("GET", "/boom", &[]);
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "500 Internal Server Error\n");
    assert!(r.header("content-type").is_some_and(|t| t.starts_with("text/plain")));
    let r = conn.request("GET", "/ok", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "ok"), "same connection, same worker");
    assert_eq!(fetch(srv.addr, "GET", "/ok", &[]).status, 200);

    let lines = log.lines();
    assert!(lines[0].starts_with("127.0.0.1 \"GET /boom HTTP/1.1\" 500 26 "), "{lines:?}");
    assert!(lines[1].starts_with("127.0.0.1 \"GET /ok HTTP/1.1\" 200 2 "), "{lines:?}");
}

#[test]
fn custom_panic_handler_sees_the_payload_but_the_client_does_not() {
    let seen = Arc::new(Mutex::new(None::<String>));
    let record = seen.clone();
    let app = Router::new()
        .route("/boom", get(boom))
        .layer(CatchPanic::custom(move |p| {
            *record.lock().expect("record") = panic_message(p).map(str::to_owned);
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
        }))
        .layer(RequestId::new());
    let srv = start(app.into_app());
    let r = fetch(srv.addr, "GET", "/boom", &[]);
    assert_eq!((r.status, r.text().as_str()), (503, "try again later\n"));
    assert!(r.header("x-request-id").is_some(), "outer layers still shape the answer");
    assert_eq!(seen.lock().expect("seen").as_deref(), Some("secret detail 42"));
}

#[test]
fn access_log_lines() {
    let log = SharedBuf::default();
    let app = Router::new()
        .route("/x", get(|| "hello, world\n"))
        .route("/stream", get(|| Stream::new([Bytes::from_static(b"a")])))
        .layer(AccessLog::to_writer(log.clone()));
    let srv = start(app.into_app());
    assert_eq!(fetch(srv.addr, "GET", "/x?y=1&z", &[]).status, 200);
    assert_eq!(fetch(srv.addr, "GET", "/missing", &[]).status, 404);
    assert_eq!(fetch(srv.addr, "POST", "/x", &[("Content-Length", "0")]).status, 405);
    assert_eq!(fetch(srv.addr, "GET", "/stream", &[]).status, 200);

    let lines = log.lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let expect = [
        "127.0.0.1 \"GET /x?y=1&z HTTP/1.1\" 200 13 ",
        "127.0.0.1 \"GET /missing HTTP/1.1\" 404 ",
        "127.0.0.1 \"POST /x HTTP/1.1\" 405 ",
        "127.0.0.1 \"GET /stream HTTP/1.1\" 200 - ",
    ];
    for (line, start) in lines.iter().zip(expect) {
        assert!(line.starts_with(start), "{line:?} should start with {start:?}");
        let micros = line.rsplit(' ').next().and_then(|t| t.strip_suffix("us")).expect("duration");
        assert!(micros.parse::<u64>().is_ok(), "{line}");
    }
}
