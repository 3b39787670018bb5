//! What every file response says about itself, against the real binary: `Content-Type` from
//! the extension with `charset=utf-8` for text, `nosniff`, the methods a static file answers
//! (OPTIONS 204, others 405, both with `Allow`), and `--cache-control` rules by glob.
#![allow(clippy::unwrap_used)]

use pollux_testkit::{get_with, send, serve, TempRoot};

fn root_with(files: &[&str]) -> TempRoot {
    let tmp = TempRoot::new("types");
    for f in files {
        let p = tmp.0.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }
    tmp
}

#[test]
fn content_type_comes_from_the_extension_with_utf8_for_text() {
    let tmp = root_with(&[
        "a.html",
        "a.css",
        "a.js",
        "a.json",
        "a.txt",
        "a.svg",
        "a.png",
        "a.jpg",
        "a.wasm",
        "a.csv",
        "a.pdf",
        "README",
        "UPPER.HTML",
        "x.tar.gz",
        "x.unknownext",
    ]);
    let server = serve(&tmp.0, &[]);
    for (file, want) in [
        ("a.html", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.json", "application/json; charset=utf-8"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.csv", "text/csv; charset=utf-8"),
        ("a.svg", "image/svg+xml"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.wasm", "application/wasm"),
        ("a.pdf", "application/pdf"),
        ("UPPER.HTML", "text/html; charset=utf-8"),
        ("README", "application/octet-stream"),
        ("x.unknownext", "application/octet-stream"),
    ] {
        let r = get_with(server.addr, &format!("/{file}"), &[]);
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type"), Some(want), "{file}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{file}");
    }
    let r = get_with(server.addr, "/x.tar.gz", &[]);
    assert!(r.header("content-type").is_some_and(|t| t.contains("gzip")), "{:?}", r.header("content-type"));
}

#[test]
fn options_is_204_with_allow() {
    let tmp = root_with(&["a.txt"]);
    let server = serve(&tmp.0, &[]);
    for target in ["/a.txt", "/", "/missing", "*"] {
        let r = send(server.addr, "OPTIONS", target, &[]);
        assert_eq!(r.status, 204, "OPTIONS {target}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "OPTIONS {target}");
        assert!(r.body.is_empty());
    }
}

#[test]
fn other_methods_are_405_with_allow() {
    let tmp = root_with(&["a.txt"]);
    let server = serve(&tmp.0, &[]);
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"] {
        let r = send(server.addr, method, "/a.txt", &[("Content-Length", "0")]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{method}");
    }
    // The file is untouched.
    assert_eq!(std::fs::read_to_string(tmp.0.join("a.txt")).unwrap(), "x");
}

#[test]
fn head_has_the_length_of_get_and_no_body() {
    let tmp = TempRoot::new("types-head");
    std::fs::write(tmp.0.join("big.bin"), vec![7u8; 200_000]).unwrap();
    let server = serve(&tmp.0, &[]);
    let data = pollux_testkit::exchange(
        server.addr,
        b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (rs, used) = pollux_testkit::parse_responses(&data, &[true, false]);
    assert_eq!((rs.len(), used), (2, data.len()));
    assert_eq!(rs[0].header("content-length"), Some("200000"));
    assert_eq!(rs[0].header("accept-ranges"), Some("bytes"));
    assert!(rs[0].header("etag").is_some());
    assert_eq!(rs[1].text(), "<h1>hello</h1>\n");
}

#[test]
fn cache_control_first_matching_glob_wins_then_the_default() {
    let tmp = root_with(&["a.html", "b.css", "assets/app.js", "assets/deep/x.js", "c.txt"]);
    let server = serve(
        &tmp.0,
        &[
            "--cache-control",
            "*.html=no-cache",
            "--cache-control",
            "/assets/**=public, max-age=31536000, immutable",
            "--cache-control",
            "*.js=max-age=1",
            "--cache-control",
            "max-age=600",
        ],
    );
    for (file, want) in [
        ("/a.html", "no-cache"),
        ("/", "no-cache"), // index.html
        ("/assets/app.js", "public, max-age=31536000, immutable"),
        ("/assets/deep/x.js", "public, max-age=31536000, immutable"),
        ("/b.css", "max-age=600"),
        ("/c.txt", "max-age=600"),
    ] {
        let r = get_with(server.addr, file, &[]);
        assert_eq!(r.header("cache-control"), Some(want), "{file}");
    }
}

#[test]
fn no_cache_control_without_the_flag() {
    let tmp = root_with(&["a.html"]);
    let server = serve(&tmp.0, &[]);
    assert_eq!(get_with(server.addr, "/a.html", &[]).header("cache-control"), None);
}

#[test]
fn a_bad_cache_control_rule_stops_start_up() {
    let tmp = root_with(&[]);
    let out = std::process::Command::new(pollux_testkit::pollux_bin())
        .args(["serve", tmp.0.to_str().unwrap(), "--bind", "127.0.0.1:0", "--cache-control", "*.html=a\x01b"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cache-control"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_cached_files_answers_carry_each_field_once_every_time() {
    // Cached files are answered with fields prepared once per cache entry: the first answer,
    // the ones after it, HEAD and 304 must all carry exactly the fields they should.
    let tmp = root_with(&["a.html"]);
    let server = serve(&tmp.0, &["--cache-control", "max-age=60"]);
    let etag = get_with(server.addr, "/a.html", &[]).header("etag").unwrap().to_owned();
    let raw = format!(
        "GET /a.html HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.html HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /a.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n\
         GET /a.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let data = pollux_testkit::exchange(server.addr, raw.as_bytes());
    let (rs, used) = pollux_testkit::parse_responses(&data, &[false, true, false, false]);
    assert_eq!((rs.len(), used), (4, data.len()));
    let names = |r: &pollux_testkit::Resp| {
        let mut n: Vec<String> = r.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
        n.sort();
        n
    };
    let full = [
        "accept-ranges",
        "cache-control",
        "content-length",
        "content-type",
        "date",
        "etag",
        "last-modified",
        "server",
        "vary",
        "x-content-type-options",
    ];
    for (i, r) in [(0, &rs[0]), (1, &rs[1]), (3, &rs[3])] {
        assert_eq!(r.status, 200, "answer {i}");
        let mut want = full.to_vec();
        if i == 3 {
            want.insert(2, "connection");
        }
        assert_eq!(names(r), want, "answer {i}");
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert_eq!(r.header("content-length"), Some("1"));
    }
    assert_eq!(rs[0].text(), "x");
    assert!(rs[1].body.is_empty());
    assert_eq!(rs[2].status, 304);
    assert_eq!(names(&rs[2]), ["cache-control", "date", "etag", "last-modified", "server", "vary"]);
    assert_eq!(rs[3].header("connection"), Some("close"));
}
