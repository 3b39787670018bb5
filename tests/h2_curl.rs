//! HTTP/2 with curl, the client people type: over TLS (`--http2`, ALPN `h2`) and as h2c with
//! prior knowledge on the plain listener (`--http2-prior-knowledge`). The same handlers answer
//! as over HTTP/1.1: static files (whole, ranges), CGI (an upload hashed by a script, the
//! meta-variables), WSGI (PEP 3333's environ, the body read by the app); the access log writes
//! `HTTP/2.0`; `--no-http2` turns it all back into HTTP/1.1.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use pollux_testkit::tls::{https_command, spawn_https, Https, Pki};
use pollux_testkit::{
    byte_pattern, check, curl_h2, env_map, h2_script, last_line, pollux_bin, random_bytes, run_within, send,
    write_scripts, TempRoot, Via,
};

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes the request body; prints what the script was told of the request.
const SHA_CGI: &str = "#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo \"sha256=$(sha256sum | cut -d' ' -f1)\"
echo \"CONTENT_LENGTH=$CONTENT_LENGTH\"
echo \"SERVER_PROTOCOL=$SERVER_PROTOCOL\"
echo \"HTTPS=${HTTPS:-}\"
";

/// A site served over both listeners, with its access log on stderr.
struct Site {
    s: Https,
    root: TempRoot,
    /// The test CA's certificate, which curl trusts.
    ca: PathBuf,
    _pki: Pki,
    _bin: TempRoot,
}

impl Site {
    fn h2c(&self) -> Via<'_> {
        Via::H2c(self.s.plain[0])
    }

    fn tls(&self) -> Via<'_> {
        Via::Tls(self.s.tls, &self.ca)
    }
}

/// `pollux serve ROOT --bind 127.0.0.1:0 --tls-bind 127.0.0.1:0` with the `localhost`
/// certificate, CGI at /cgi-bin, the access log on stderr, plus `extra`. ROOT holds `a.txt`
/// (text), `r.bin` (1 MiB of random bytes) and `p/0.txt`…`p/99.txt` (each its own length and
/// bytes).
fn site(extra: &[&str]) -> Site {
    let pki = Pki::new();
    let root = TempRoot::new("h2-curl");
    let bin = TempRoot::empty("h2-curl-bin");
    write_scripts(
        &bin.0,
        &[("sha.sh", SHA_CGI), ("env.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n")],
    );
    std::fs::write(root.path("a.txt"), text_file()).unwrap();
    std::fs::write(root.path("r.bin"), random_bytes(1 << 20, 16)).unwrap();
    std::fs::create_dir(root.path("p")).unwrap();
    for i in 0..100 {
        std::fs::write(root.path(&format!("p/{i}.txt")), part(i)).unwrap();
    }
    let spec = format!("/cgi-bin={}", bin.0.display());
    let mut cmd = https_command(&root.0);
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "-", "--cgi", &spec])
        .args(pki.cert_args("localhost"))
        .args(extra);
    let s = spawn_https(cmd, 1);
    Site { s, root, ca: pki.cert("ca"), _pki: pki, _bin: bin }
}

fn text_file() -> Vec<u8> {
    (0..400).flat_map(|i| format!("line {i} of a text file served over HTTP/2\n").into_bytes()).collect()
}

/// `p/I.txt`: a length and bytes of its own, so a body delivered on the wrong stream shows.
fn part(i: usize) -> Vec<u8> {
    byte_pattern(1000 + 37 * i, i as u32 + 1)
}

#[test]
fn curl_gets_a_file_as_http2_over_h2c_and_over_tls_and_the_log_says_http_2_0() {
    let site = site(&[]);
    let want = text_file();
    for via in [site.h2c(), site.tls()] {
        let r = curl_h2(via, "/a.txt", &[]);
        assert!(r.ok, "{via:?}: curl failed: {}", r.stderr);
        assert_eq!(
            (r.status, r.version.as_str(), r.status_line.as_str()),
            (200, "2", "HTTP/2 200"),
            "{via:?}"
        );
        assert_eq!(r.header("content-length"), Some(want.len().to_string().as_str()), "{via:?}");
        assert!(r.body == want, "{via:?}: the body differs ({} bytes, want {})", r.body.len(), want.len());
    }
    // One Common Log Format line per request, the request line's version `HTTP/2.0`.
    let line = format!("\"GET /a.txt HTTP/2.0\" 200 {}", want.len());
    let log = site.s.server.wait_log(&line, 10);
    assert_eq!(log.matches(&line).count(), 2, "two lines with {line:?} in:\n{log}");
    assert!(!log.contains("HTTP/1.1\""), "every request was HTTP/2:\n{log}");
}

#[test]
fn a_range_request_over_http2_is_206_with_exactly_those_bytes() {
    let site = site(&[]);
    let file = std::fs::read(site.root.path("r.bin")).unwrap();
    for via in [site.h2c(), site.tls()] {
        let r = curl_h2(via, "/r.bin", &["-r", "100000-100999"]);
        assert_eq!((r.status, r.version.as_str()), (206, "2"), "{via:?}: {}", r.stderr);
        assert_eq!(r.header("content-range"), Some("bytes 100000-100999/1048576"), "{via:?}");
        assert!(r.body == file[100_000..101_000], "{via:?}: wrong bytes ({} of them)", r.body.len());
        let r = curl_h2(via, "/r.bin", &["-r", "-10"]);
        assert_eq!((r.status, r.body.as_slice()), (206, &file[file.len() - 10..]), "{via:?}");
    }
}

#[test]
fn an_upload_of_several_mib_over_http2_reaches_a_cgi_script_whole() {
    let site = site(&[]);
    // 6 MiB: many times the stream window (256 KiB) and the connection window (1 MiB), so the
    // body crosses only as the server reads it and opens the windows again.
    let upload = random_bytes(6 << 20, 1616);
    let file = site.root.path("upload.bin");
    std::fs::write(&file, &upload).unwrap();
    let data = format!("@{}", file.display());
    for (via, https) in [(site.h2c(), ""), (site.tls(), "on")] {
        let r = curl_h2(
            via,
            "/cgi-bin/sha.sh",
            &["--data-binary", &data, "-H", "Content-Type: application/octet-stream"],
        );
        assert_eq!((r.status, r.version.as_str()), (200, "2"), "{via:?}: {}", r.stderr);
        let env = env_map(&r.body);
        assert_eq!(env.get("sha256"), Some(&hex_sha256(&upload)), "{via:?}: {env:#?}");
        assert_eq!(env.get("CONTENT_LENGTH"), Some(&upload.len().to_string()), "{via:?}: {env:#?}");
        assert_eq!(env.get("SERVER_PROTOCOL").map(String::as_str), Some("HTTP/2"), "{via:?}: {env:#?}");
        assert_eq!(env.get("HTTPS").map(String::as_str), Some(https), "{via:?}: {env:#?}");
    }
}

#[test]
fn a_cgi_script_sees_http2_as_its_server_protocol() {
    let site = site(&[]);
    let r = curl_h2(site.h2c(), "/cgi-bin/env.sh/x?q=1", &[]);
    assert_eq!((r.status, r.version.as_str()), (200, "2"), "{}", r.stderr);
    let env = env_map(&r.body);
    let port = site.s.plain[0].port().to_string();
    for (k, v) in [
        ("SERVER_PROTOCOL", "HTTP/2"),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", "/cgi-bin/env.sh"),
        ("PATH_INFO", "/x"),
        ("QUERY_STRING", "q=1"),
        ("SERVER_PORT", port.as_str()),
        // :authority reaches the script as the Host field (RFC 9113 §8.3.1).
        ("HTTP_HOST", &*format!("127.0.0.1:{port}")),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}: {env:#?}");
    }
}

/// curl 7.88 (Debian 12) cannot reuse an h2c prior-knowledge connection for a second transfer
/// (curl issue 10634, fixed in 8.0): the multiplexed run goes over TLS, where curl learns
/// `h2` by ALPN. (h2c multiplexing is h2load's and nghttp's part, in tests/h2_tools.rs.)
#[test]
fn a_hundred_parallel_requests_share_one_connection_and_each_gets_its_own_body() {
    let site = site(&[]);
    let out = TempRoot::empty("h2-parallel");
    let (_, via_args) = site.tls().url_and_args("/");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "50", "--parallel", "--parallel-max", "100"])
        .args(&via_args)
        .args(["-w", "%{http_code} %{http_version} %{local_port} %{url_effective}\\n"]);
    for i in 0..100 {
        let (url, _) = site.tls().url_and_args(&format!("/p/{i}.txt"));
        cmd.arg("-o").arg(out.path(&format!("{i}.txt"))).arg(url);
    }
    let res = run_within(&mut cmd, Duration::from_secs(60), "curl --parallel");
    check(&res, "curl --parallel");
    let report = String::from_utf8_lossy(&res.stdout).into_owned();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 100, "{report}");
    let mut ports = std::collections::BTreeSet::new();
    for l in &lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!((f[0], f[1]), ("200", "2"), "{l}\n{report}");
        ports.insert(f[2].to_owned());
    }
    assert_eq!(ports.len(), 1, "one connection (one local port) for all 100: {ports:?}");
    for i in 0..100 {
        let got = std::fs::read(out.path(&format!("{i}.txt"))).unwrap();
        assert!(got == part(i), "p/{i}.txt: {} bytes, want {}", got.len(), part(i).len());
    }
    let log = site.s.server.wait_log("\"GET /p/99.txt HTTP/2.0\" 200", 10);
    assert_eq!(log.matches(" HTTP/2.0\" 200 ").count(), 100, "{log}");
}

#[test]
fn no_http2_serves_http1_only_on_both_listeners() {
    let site = site(&["--no-http2"]);
    // ALPN offers only http/1.1: curl --http2 falls back to it.
    let r = curl_h2(site.tls(), "/a.txt", &[]);
    assert_eq!((r.status, r.version.as_str()), (200, "1.1"), "{}", r.stderr);
    assert!(r.body == text_file());
    // The plain listener does not speak h2c: the preface gets the HTTP/1 answer and curl
    // gives up on the framing.
    let r = curl_h2(site.h2c(), "/a.txt", &[]);
    assert!(!r.ok && r.status != 200, "prior knowledge must fail with --no-http2: {r:?}");
    // HTTP/1.1 goes on as ever.
    let r = send(site.s.plain[0], "GET", "/a.txt", &[]);
    assert_eq!(r.status, 200);
    let log = site.s.server.wait_log("\"GET /a.txt HTTP/1.1\" 200", 10);
    assert!(!log.contains("HTTP/2.0"), "{log}");
}

// ---- WSGI --------------------------------------------------------------------------------------

fn wsgi_apps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wsgi_apps")
}

#[test]
fn a_wsgi_app_sees_http2_and_reads_the_request_body() {
    let pki = Pki::new();
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["serve", "--wsgi", "behaviours", "--pythonpath"])
        .arg(wsgi_apps())
        .args(["--bind", "127.0.0.1:0", "--tls-bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"])
        .args(pki.cert_args("localhost"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("VIRTUAL_ENV");
    let s = spawn_https(cmd, 1);
    let ca = pki.cert("ca");
    for (via, scheme) in [(Via::H2c(s.plain[0]), "http"), (Via::Tls(s.tls, &ca), "https")] {
        let r = curl_h2(via, "/environ/x?a=1", &["-H", "X-Multi: one"]);
        assert_eq!((r.status, r.version.as_str()), (200, "2"), "{via:?}: {}", r.stderr);
        let text = String::from_utf8_lossy(&r.body).into_owned();
        for line in [
            "problems=none".to_owned(),
            "SERVER_PROTOCOL=HTTP/2".to_owned(),
            "REQUEST_METHOD=GET".to_owned(),
            "PATH_INFO=/environ/x".to_owned(),
            "QUERY_STRING=a=1".to_owned(),
            "HTTP_X_MULTI=one".to_owned(),
            format!("wsgi.url_scheme={scheme}"),
        ] {
            assert!(text.lines().any(|l| l == line), "{via:?}: no line {line:?} in:\n{text}");
        }
        // The body, read by the app in pieces of its own choosing, hashed there.
        let body = random_bytes(3 << 20, 3);
        let tmp = TempRoot::empty("h2-wsgi-body");
        std::fs::write(tmp.path("b"), &body).unwrap();
        let r =
            curl_h2(via, "/hash?piece=10000", &["--data-binary", &format!("@{}", tmp.path("b").display())]);
        assert_eq!((r.status, r.version.as_str()), (200, "2"), "{via:?}: {}", r.stderr);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            format!("{} {}\n", body.len(), hex_sha256(&body)),
            "{via:?}"
        );
    }
}

#[test]
fn a_body_over_max_body_is_413_over_http2_whether_gathered_or_read_by_a_wsgi_app() {
    let upload = |addr: &str, path: &str, bytes: usize, length: bool| -> serde_json::Value {
        let n = bytes.to_string();
        let mut args = vec!["upload", addr, path, "--bytes", &n, "--seconds", "20"];
        if !length {
            args.push("--no-length");
        }
        let out = h2_script("client.py", &args, Duration::from_secs(40));
        serde_json::from_str(&last_line(&out)).expect("a JSON report")
    };
    // Gathered whole before the handler runs (a static file answers POST once it is in): the
    // announced length is refused at once, and the rest of the body is not wanted (the stream
    // is reset with NO_ERROR after the answer, RFC 9113 §8.1).
    let site = site(&["--max-body", "100000"]);
    let r = upload(&site.s.plain[0].to_string(), "/a.txt", 300_000, true);
    assert_eq!((r["status"].as_u64(), r["ended"].as_bool()), (Some(413), Some(true)), "{r}");
    assert_eq!(r["reset"], "NO_ERROR", "{r}");
    assert!(r["sent"].as_u64().is_some_and(|n| n < 300_000), "{r}");
    // Read by a WSGI app as it arrives, with no length to go by: the bytes are counted, and
    // past the limit the answer is 413, not the app's.
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["serve", "--wsgi", "behaviours", "--pythonpath"])
        .arg(wsgi_apps())
        .args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off", "--max-body", "100000"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("VIRTUAL_ENV");
    let server = pollux_testkit::spawn(cmd);
    let addr = server.addr.to_string();
    let r = upload(&addr, "/hash?piece=10000", 300_000, false);
    assert_eq!(r["status"].as_u64(), Some(413), "{r}");
    // Under the limit the app reads all of it (its answer: the length and the SHA-256).
    let r = upload(&addr, "/hash?piece=10000", 90_000, false);
    assert_eq!((r["status"].as_u64(), r["sent"].as_u64()), (Some(200), Some(90_000)), "{r}");
    assert_eq!(r["reset"], serde_json::Value::Null, "{r}");
}
