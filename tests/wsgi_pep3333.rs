//! `pollux serve --wsgi` against PEP 3333, rule by rule, with the real binary and the
//! applications in `tests/wsgi_apps/behaviours.py` (each route exercises one rule).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{connect, exchange, parse_responses, read_all, request, ReadRetry, Server};

fn apps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wsgi_apps")
}

/// `pollux serve --wsgi MODULE` on one worker, the app from tests/wsgi_apps.
fn wsgi(module: &str, extra: &[&str]) -> Server {
    let mut cmd = Command::new(pollux_testkit::pollux_bin());
    cmd.args(["serve", "--wsgi", module, "--pythonpath"]).arg(apps_dir());
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.args(extra).env("PYTHONDONTWRITEBYTECODE", "1").env_remove("VIRTUAL_ENV");
    pollux_testkit::spawn(cmd)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn get(addr: SocketAddr, target: &str) -> pollux_testkit::Resp {
    request(addr, &format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
}

/// Everything the server wrote on its stderr so far (the server must have exited or been
/// killed first).
fn stderr_of(mut server: Server) -> String {
    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut err = String::new();
    if let Some(mut s) = server.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    err
}

#[test]
fn every_environ_key_has_its_type_and_value() {
    let server = wsgi("behaviours", &[]);
    let port = server.addr.port();
    let raw = "POST /environ/caf%C3%A9%20x?a=1&b=%20 HTTP/1.1\r\nHost: example.test:8080\r\n\
               Content-Type: text/plain\r\nContent-Length: 3\r\nX-Multi: one\r\nX-Multi: two\r\n\
               Cookie: a=1\r\nCookie: b=2\r\nProxy: http://evil.test\r\nX_Under: sneaky\r\n\
               Connection: close\r\n\r\nabc";
    let r = request(server.addr, raw);
    assert_eq!(r.status, 200);
    let text = r.text();
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
    has("problems=none");
    has("REQUEST_METHOD=POST");
    has("SCRIPT_NAME=");
    // Percent-decoded UTF-8 bytes as latin-1 code points: é is C3 A9.
    has(&format!("PATH_INFO bytes={}", hex("/environ/café x".as_bytes())));
    has("QUERY_STRING=a=1&b=%20");
    has("REQUEST_URI=/environ/caf%C3%A9%20x?a=1&b=%20");
    has("CONTENT_TYPE=text/plain");
    has("CONTENT_LENGTH=3");
    has("SERVER_NAME=example.test");
    has(&format!("SERVER_PORT={port}"));
    has("SERVER_PROTOCOL=HTTP/1.1");
    has(concat!("SERVER_SOFTWARE=pollux/", env!("CARGO_PKG_VERSION")));
    has("REMOTE_ADDR=127.0.0.1");
    has("HTTP_HOST=example.test:8080");
    has("HTTP_X_MULTI=one, two");
    has("HTTP_COOKIE=a=1; b=2");
    has("wsgi.url_scheme=http");
    has("wsgi.version=(1, 0)");
    has("wsgi.input_terminated=True");
    has("wsgi.multithread=True");
    has("wsgi.multiprocess=False");
    has("wsgi.run_once=False");
    assert!(text.lines().any(|l| l.starts_with("REMOTE_PORT=") && l[12..].parse::<u16>().is_ok()), "{text}");
    for absent in ["HTTP_PROXY=", "HTTP_CONTENT_TYPE=", "HTTP_CONTENT_LENGTH=", "HTTP_X_UNDER="] {
        assert!(!text.contains(absent), "{absent} must not be in environ:\n{text}");
    }
    // Nothing of the server's own environment (PATH, HOME, ...) reaches the app.
    for leaked in ["PATH=", "HOME=", "PYTHONDONTWRITEBYTECODE="] {
        assert!(!text.lines().any(|l| l.starts_with(leaked)), "{leaked} leaked:\n{text}");
    }

    // HTTP/1.0 is reported as such; a request without a body has no CONTENT_LENGTH.
    let r = request(server.addr, "GET /environ HTTP/1.0\r\n\r\n");
    let text = r.text();
    assert!(text.contains("\nSERVER_PROTOCOL=HTTP/1.0\n"), "{text}");
    assert!(!text.contains("CONTENT_LENGTH="), "{text}");
    assert!(text.contains("\nSERVER_NAME=127.0.0.1\n"), "without Host, our own address: {text}");
}

#[test]
fn the_body_reaches_wsgi_input_through_read_readline_and_iteration() {
    let server = wsgi("behaviours", &[]);
    let body = "first line\nsecond line\nthird\nfourth\nfifth";
    let raw = format!(
        "POST /lines HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let r = request(server.addr, &raw);
    assert_eq!(
        r.text(),
        "[b'first line\\n', b'sec', b'ond line\\n', [b'third\\n'], [b'fourth\\n', b'fifth']]\n"
    );

    // A chunked body, read in pieces of 7 bytes, arrives whole (wsgi.input_terminated).
    let raw =
        "POST /hash?piece=7 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
               5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let r = request(server.addr, raw);
    // sha256("hello world")
    assert_eq!(r.text(), "11 b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9\n");
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let server = wsgi("behaviours", &[]);
    let mut c = connect(server.addr);
    c.write_all(b"POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .expect("head");
    let mut buf = [0u8; 64];
    let n = c.read_retry(&mut buf).expect("interim response");
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"hello").expect("body");
    let data = read_all(&mut c, Duration::from_secs(10));
    let (rs, _) = parse_responses(&data, &[false]);
    assert_eq!(rs[0].text(), "5 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n");
}

#[test]
fn a_generator_reaches_the_client_line_by_line() {
    let server = wsgi("behaviours", &[]);
    let mut c = connect(server.addr);
    c.write_all(b"GET /stream?n=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    // Each line is made 100 ms after the one before; each must arrive before the next is made.
    let mut arrivals = Vec::new();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        match c.read_retry(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                let lines = String::from_utf8_lossy(&data).matches("line ").count();
                while arrivals.len() < lines {
                    arrivals.push(start.elapsed());
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&data);
    assert!(text.contains("Transfer-Encoding: chunked"), "no length given: chunked\n{text}");
    assert_eq!(arrivals.len(), 5, "{text}");
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(60), "lines arrived together (gap {gap:?}): {arrivals:?}");
    }
}

#[test]
fn close_is_called_exactly_once_on_every_path() {
    let server = wsgi("behaviours", &[]);
    // Normal end.
    assert_eq!(get(server.addr, "/close-normal").text(), "abc");
    // An exception in the middle of the body: the response is cut (chunked, no last chunk).
    let data = exchange(server.addr, b"GET /close-raise HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "a failed body must not end like a complete one: {text:?}");
    // A client that leaves mid-stream: 256 MiB offered, a few KiB read.
    let mut c = connect(server.addr);
    c.write_all(b"GET /close-gone HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut buf = [0u8; 8192];
    let _ = c.read_retry(&mut buf).expect("first bytes");
    drop(c);
    // close() of the abandoned response runs when the app's thread notices the departure.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = get(server.addr, "/closes").text();
        if report.contains("gone=") || Instant::now() > deadline {
            assert_eq!(report, "gone=1 normal=1 raise=1\n");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn exc_info_replaces_the_head_before_it_is_sent_and_cuts_the_response_after() {
    let server = wsgi("behaviours", &[]);
    let r = get(server.addr, "/exc-before");
    assert_eq!((r.status, r.header("x-replaced"), r.text().as_str()), (500, Some("yes"), "replaced head\n"));

    let data = exchange(server.addr, b"GET /exc-after HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("first part\n"), "{text}");
    assert!(!text.contains("never sent") && !text.ends_with("0\r\n\r\n"), "must be cut: {text:?}");

    // start_response twice without exc_info is the app's error: 500 before the head.
    assert_eq!(get(server.addr, "/twice").status, 500);
}

#[test]
fn start_response_may_be_called_lazily_inside_the_generator() {
    let server = wsgi("behaviours", &[]);
    let r = get(server.addr, "/lazy");
    assert_eq!((r.status, r.header("x-lazy"), r.text().as_str()), (201, Some("1"), "made lazily\n"));
    let r = get(server.addr, "/empty-gen");
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = get(server.addr, "/write");
    assert_eq!(r.text(), "written imperatively\nthen returned\n");
}

#[test]
fn content_length_short_closes_and_long_is_cut() {
    let server = wsgi("behaviours", &[]);
    // Short: 50 of the 100 promised bytes, then the connection closes (never a hang).
    let mut c = connect(server.addr);
    c.write_all(b"GET /cl-short HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let start = Instant::now();
    let data = read_all(&mut c, Duration::from_secs(20));
    assert!(start.elapsed() < Duration::from_secs(5), "the short body must end in a close, not a timeout");
    let text = String::from_utf8_lossy(&data);
    assert!(text.contains("Content-Length: 100\r\n"), "{text}");
    let body = &data[pollux_testkit::find(&data, b"\r\n\r\n").expect("head") + 4..];
    assert_eq!(body.len(), 50);

    // Long: exactly the promised 5 bytes, then the next request on the same connection works.
    let data = exchange(
        server.addr,
        b"GET /cl-long HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (rs, _) = parse_responses(&data, &[false, false]);
    assert_eq!(rs.len(), 2, "{:?}", String::from_utf8_lossy(&data));
    assert_eq!((rs[0].text().as_str(), rs[1].text().as_str()), ("12345", "Hello World!\n"));
    let err = stderr_of(server);
    assert!(err.contains("produced 18 bytes of body after a Content-Length of 5"), "{err}");
}

#[test]
fn head_sends_the_head_only() {
    let server = wsgi("behaviours", &[]);
    let data = exchange(
        server.addr,
        b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nHEAD /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (rs, used) = parse_responses(&data, &[true, true, false]);
    assert_eq!(rs.len(), 3, "{:?}", String::from_utf8_lossy(&data));
    assert_eq!(used, data.len(), "no body bytes after a HEAD answer");
    assert_eq!(rs[0].header("content-length"), Some("13"));
    assert_eq!(rs[2].text(), "Hello World!\n");
}

#[test]
fn app_errors_are_500_with_the_traceback_in_the_log_only() {
    let server = wsgi("behaviours", &[]);
    for path in ["/raise", "/hop", "/not-bytes"] {
        let r = get(server.addr, path);
        assert_eq!(r.status, 500, "{path}");
        assert!(!r.text().contains("Traceback"), "{path}: the client sees no traceback");
    }
    let r = get(server.addr, "/errors");
    assert_eq!(r.text(), "logged\n");
    // The server carries on.
    assert_eq!(get(server.addr, "/hello").text(), "Hello World!\n");
    let err = stderr_of(server);
    assert!(err.contains("pollux: wsgi GET /raise: Traceback (most recent call last):"), "{err}");
    assert!(err.contains("RuntimeError: before the head"), "{err}");
    assert!(err.contains("\"Connection\" is a hop-by-hop header"), "{err}");
    assert!(err.contains("must be an iterable of bytes, not of str"), "{err}");
    assert!(err.contains("pollux: wsgi GET /errors: first line\n"), "{err}");
    assert!(err.contains("pollux: wsgi GET /errors: second line\n"), "{err}");
}

#[test]
fn ten_thousand_requests_on_one_keep_alive_connection() {
    let server = wsgi("behaviours", &[]);
    let mut c = connect(server.addr);
    let mut buf = vec![0u8; 65536];
    let mut pending = Vec::new();
    for i in 0..10_000 {
        c.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        // Read this answer before the next request: one in flight at a time.
        loop {
            let (rs, used) = parse_responses(&pending, &[false]);
            if let Some(r) = rs.first() {
                assert_eq!((r.status, r.body.as_slice()), (200, &b"Hello World!\n"[..]), "request {i}");
                pending.drain(..used);
                break;
            }
            let n = c.read_retry(&mut buf).expect("read");
            assert!(n > 0, "closed after {i} requests");
            pending.extend_from_slice(&buf[..n]);
        }
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = wsgi("behaviours", &[]);
    let mut raw = Vec::new();
    for i in 0..50 {
        let path = if i % 2 == 0 { "/sleep?ms=5".to_owned() } else { format!("/environ?i={i}") };
        raw.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    raw.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let data = exchange(server.addr, &raw);
    let (rs, _) = parse_responses(&data, &[false; 51]);
    assert_eq!(rs.len(), 51);
    for (i, r) in rs.iter().take(50).enumerate() {
        if i % 2 == 0 {
            assert_eq!(r.text(), "slept\n", "answer {i}");
        } else {
            assert!(r.text().contains(&format!("\nQUERY_STRING=i={i}\n")), "answer {i} out of order");
        }
    }
}

#[test]
fn an_import_error_prints_the_traceback_and_exits_before_listening() {
    let out = Command::new(pollux_testkit::pollux_bin())
        .args(["serve", "--wsgi", "broken", "--pythonpath"])
        .arg(apps_dir())
        .args(["--bind", "127.0.0.1:0"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success());
    assert!(!stdout.contains("http://"), "nothing may listen: {stdout}");
    assert!(stderr.contains("importing broken failed"), "{stderr}");
    assert!(stderr.contains("Traceback (most recent call last):"), "{stderr}");
    assert!(
        stderr.contains("ModuleNotFoundError: No module named 'this_module_does_not_exist_anywhere'"),
        "{stderr}"
    );

    let out = Command::new(pollux_testkit::pollux_bin())
        .args(["serve", "--wsgi", "behaviours:nothing_here", "--pythonpath"])
        .arg(apps_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("module behaviours has no attribute nothing_here"));
}

#[test]
fn the_app_mounts_below_a_prefix_beside_static_files_and_cgi_scripts() {
    let files = pollux_testkit::TempRoot::new("wsgi-static");
    std::fs::write(files.0.join("app.css"), "body { color: red }\n").expect("css");
    let bin = pollux_testkit::TempRoot::new("wsgi-cgi");
    pollux_testkit::write_scripts(
        &bin.0,
        &[("hi.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nfrom cgi\\n'\n")],
    );
    let statics = format!("/static={}", files.0.display());
    let cgi = format!("/cgi-bin={}", bin.0.display());
    let server = wsgi("behaviours", &["--wsgi-mount", "/app/", "--static", &statics, "--cgi", &cgi]);
    // SCRIPT_NAME is the mount, PATH_INFO the rest.
    let text = get(server.addr, "/app/environ/x").text();
    assert!(text.contains("\nSCRIPT_NAME=/app\n") && text.contains("\nPATH_INFO=/environ/x\n"), "{text}");
    // The mount point itself: an empty PATH_INFO.
    assert_eq!(get(server.addr, "/app").text(), "no route \n");
    // Outside the mount: 404 from the server, not the app.
    let r = get(server.addr, "/application");
    assert_eq!((r.status, r.text().as_str()), (404, "404 Not Found\n"));
    // Static files ahead of the app, with what `pollux serve` does for files.
    let r = get(server.addr, "/static/app.css");
    assert_eq!((r.status, r.text().as_str()), (200, "body { color: red }\n"));
    assert!(
        r.header("etag").is_some() && r.header("content-type").is_some_and(|t| t.starts_with("text/css"))
    );
    assert_eq!(get(server.addr, "/static/missing.css").status, 404);
    // CGI beside it.
    assert_eq!(get(server.addr, "/cgi-bin/hi.sh").text(), "from cgi\n");
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    // One Python thread, two places in the queue.
    let server = wsgi("behaviours", &["--wsgi-threads", "1", "--wsgi-queue", "2"]);
    let addr = server.addr;
    let dir = pollux_testkit::TempRoot::new("wsgi-queue");
    let gate = dir.0.join("gate");
    let send = |target: &str| {
        let mut c = connect(addr);
        c.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .expect("write");
        c
    };
    // The thread is held inside the app until the gate opens; the app says when it entered.
    let blocked = send(&format!("/block?file={}", gate.display()));
    let entered = gate.with_extension("entered");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !entered.exists() {
        assert!(Instant::now() < deadline, "the request never reached the app");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Three more: two fit the queue, the last to arrive is refused at once.
    let others: Vec<_> = (0..3).map(|_| send("/hello")).collect();
    let mut answers: Vec<pollux_testkit::Resp> = Vec::new();
    let mut waiting = Vec::new();
    for mut c in others {
        c.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let data = read_all(&mut c, Duration::from_millis(300));
        match parse_responses(&data, &[false]).0.into_iter().next() {
            Some(r) => answers.push(r),
            None => waiting.push(c),
        }
    }
    assert_eq!(answers.len(), 1, "exactly one refused at once");
    assert_eq!(answers[0].status, 503);
    assert_eq!(answers[0].header("retry-after"), Some("1"));
    assert!(answers[0].text().starts_with("503 Service Unavailable"), "{}", answers[0].text());
    // Opening the gate lets the held and the queued requests through.
    std::fs::write(&gate, "").expect("open the gate");
    for mut c in std::iter::once(blocked).chain(waiting) {
        let data = read_all(&mut c, Duration::from_secs(10));
        let (rs, _) = parse_responses(&data, &[false]);
        assert_eq!(rs.first().map(|r| r.status), Some(200), "{:?}", String::from_utf8_lossy(&data));
    }
}

#[test]
fn the_binary_loads_the_libpython_it_was_built_against() {
    // The python3 the build used (the one on PATH) names its library directory.
    let out = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"])
        .output()
        .expect("python3");
    let libdir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ldd = Command::new("ldd").arg(pollux_testkit::pollux_bin()).output().expect("ldd");
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    let line =
        ldd.lines().find(|l| l.contains("libpython")).unwrap_or_else(|| panic!("no libpython in:\n{ldd}"));
    assert!(line.contains(&format!("=> {libdir}/libpython")), "{line} (want {libdir})");
}

#[test]
fn without_a_length_http_1_0_gets_a_body_ended_by_the_close() {
    let server = wsgi("behaviours", &[]);
    // An HTTP/1.0 client knows no chunked coding: the body runs to the connection's end.
    let data = exchange(server.addr, b"GET /stream?n=2 HTTP/1.0\r\n\r\n");
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("transfer-encoding"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("content-length"), "{text}");
    let body = &text[text.find("\r\n\r\n").expect("head") + 4..];
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "{body:?}");
    assert!(lines[0].starts_with("line 0 ") && lines[1].starts_with("line 1 "), "{body:?}");
}
