//! What handlers return, as the client sees it: types and bodies, redirects, status and
//! header tuples, chunked streams, files with ranges and conditionals.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, LOCATION};
use http::{Request, StatusCode};
use pollux_fs::ServeFile;
use pollux_server::Body;
use pollux_testkit::{connect, get_with, parse_responses, read_all, send, start_app, TempRoot};
use pollux_web::extract::{Json, Path};
use pollux_web::response::{Html, Redirect, Stream};
use pollux_web::{get, Router};

fn app(file: std::path::PathBuf) -> pollux_web::App {
    let report = ServeFile::new(file).expect("file");
    Router::new()
        .route("/text", get(|| "plain"))
        .route("/string", get(|| String::from("owned")))
        .route("/html", get(|| Html("<b>bold</b>")))
        .route("/json", get(|| Json(serde_json::json!({ "a": [1, 2] }))))
        .route("/bytes", get(|| Bytes::from_static(b"\x00\x01")))
        .route("/vec", get(|| vec![1u8, 2, 3]))
        .route("/empty", get(|| ()))
        .route("/status", get(|| StatusCode::IM_A_TEAPOT))
        .route(
            "/created",
            get(|| (StatusCode::CREATED, [(LOCATION, "/items/1"), (CACHE_CONTROL, "no-store")], "made")),
        )
        .route("/headers-only", get(|| ([("x-one", "1")], "with header")))
        .route("/result/{ok}", get(result))
        .route("/redirect/{code}", get(redirect))
        .route("/stream", get(|| Stream::new((1..=5).map(|i| Bytes::from(format!("line {i}\n"))))))
        .route(
            "/stream-fails",
            get(|| {
                Stream::try_new(vec![
                    Ok(Bytes::from_static(b"first\n")),
                    Err(std::io::Error::other("disk gone")),
                ])
            }),
        )
        .route("/report", get(move |req: Request<Body>| report.serve(req)))
        .into_app()
}

fn result(Path(ok): Path<bool>) -> Result<&'static str, (StatusCode, String)> {
    if ok {
        Ok("fine")
    } else {
        Err((StatusCode::CONFLICT, "conflict: try again".to_owned()))
    }
}

fn redirect(Path(code): Path<u16>) -> Redirect {
    match code {
        301 => Redirect::moved("/m"),
        302 => Redirect::found("/f"),
        303 => Redirect::to("/t"),
        307 => Redirect::temporary("/tmp"),
        _ => Redirect::permanent("/p"),
    }
}

fn start() -> (pollux_testkit::AppServer, TempRoot) {
    let root = TempRoot::new("web-resp");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.0.join("report.bin"), &data).expect("write");
    (start_app(app(root.0.join("report.bin"))), root)
}

#[test]
fn bodies_get_their_content_types() {
    let (s, _root) = start();
    let cases = [
        ("/text", "text/plain; charset=utf-8", &b"plain"[..]),
        ("/string", "text/plain; charset=utf-8", b"owned"),
        ("/html", "text/html; charset=utf-8", b"<b>bold</b>"),
        ("/json", "application/json", br#"{"a":[1,2]}"#),
        ("/bytes", "application/octet-stream", b"\x00\x01"),
        ("/vec", "application/octet-stream", b"\x01\x02\x03"),
    ];
    for (path, ct, body) in cases {
        let r = get_with(s.addr, path, &[]);
        assert_eq!((r.status, r.header("content-type")), (200, Some(ct)), "{path}");
        assert_eq!(r.body, body, "{path}");
    }
    let r = get_with(s.addr, "/empty", &[]);
    assert_eq!((r.status, r.header("content-length"), r.body.len()), (200, Some("0"), 0));
    let r = get_with(s.addr, "/status", &[]);
    assert_eq!((r.status, r.text().as_str()), (418, "418 I'm a teapot\n"));
}

#[test]
fn status_and_header_tuples_and_results() {
    let (s, _root) = start();
    let r = get_with(s.addr, "/created", &[]);
    assert_eq!((r.status, r.text().as_str()), (201, "made"));
    assert_eq!(r.header("location"), Some("/items/1"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = get_with(s.addr, "/headers-only", &[]);
    assert_eq!((r.status, r.header("x-one")), (200, Some("1")));
    assert_eq!(get_with(s.addr, "/result/true", &[]).text(), "fine");
    let r = get_with(s.addr, "/result/false", &[]);
    assert_eq!((r.status, r.text().as_str()), (409, "conflict: try again"));
}

#[test]
fn redirects_carry_status_and_location() {
    let (s, _root) = start();
    for (code, loc) in [(301, "/m"), (302, "/f"), (303, "/t"), (307, "/tmp"), (308, "/p")] {
        let r = get_with(s.addr, &format!("/redirect/{code}"), &[]);
        assert_eq!((r.status, r.header("location")), (code, Some(loc)));
    }
    // curl follows it.
    let out = pollux_testkit::curl(&[
        "-L",
        "-o",
        "/dev/null",
        "-w",
        "%{url_effective} %{http_code}",
        &format!("http://{}/redirect/303", s.addr),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("http://{}/t 404", s.addr));
}

#[test]
fn streams_are_chunked_and_a_failing_stream_is_cut() {
    let (s, _root) = start();
    let r = get_with(s.addr, "/stream", &[]);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text(), "line 1\nline 2\nline 3\nline 4\nline 5\n");
    // HTTP/1.0 has no chunks: the body is delimited by closing the connection.
    let data = pollux_testkit::exchange(s.addr, b"GET /stream HTTP/1.0\r\n\r\n");
    let text = String::from_utf8_lossy(&data);
    assert!(text.ends_with("\r\n\r\nline 1\nline 2\nline 3\nline 4\nline 5\n"), "{text}");
    // A stream error after the head: the chunked body never gets its last chunk, so no
    // client can take the cut response for a complete one.
    let mut c = connect(s.addr);
    c.write_all(b"GET /stream-fails HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let data = read_all(&mut c, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "{text}");
    let (rs, _) = parse_responses(&data, &[false]);
    assert!(rs.is_empty(), "a cut stream must not parse as a complete response");
}

#[test]
fn files_from_handlers_keep_ranges_and_conditionals() {
    let (s, _root) = start();
    let r = get_with(s.addr, "/report", &[]);
    assert_eq!((r.status, r.body.len()), (200, 100_000));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let r2 = get_with(s.addr, "/report", &[("Range", "bytes=99990-")]);
    assert_eq!(r2.status, 206);
    assert_eq!(r2.header("content-range"), Some("bytes 99990-99999/100000"));
    assert_eq!(r2.body, &r.body[99_990..]);
    let etag = r.header("etag").expect("etag");
    assert_eq!(get_with(s.addr, "/report", &[("If-None-Match", etag)]).status, 304);
    assert_eq!(send(s.addr, "HEAD", "/report", &[]).header("content-length"), Some("100000"));
}
