//! HTTP over TLS with a real client: `curl --http1.1` verifying against our test CA gets files
//! byte-exact, ranges, conditionals and compressed bodies; an upload goes through a CGI script
//! that sees the TLS meta-variables; one process serves HTTPS and plain HTTP, with HSTS only on
//! the former; `--redirect-http` answers 308 to the HTTPS URL; `--log-tls` adds the version and
//! cipher to the access log.
#![allow(clippy::unwrap_used)]

use pollux_testkit::tls::{curl_https, get_close, https_command, s_client, serve_https, spawn_https, Pki};
use pollux_testkit::{env_map, random_bytes, send, write_scripts, TempRoot};
use sha2::{Digest, Sha256};

/// A compressible text of about 20 KiB (compressed: above the 1 KiB floor, under 2 MiB).
fn text_file() -> Vec<u8> {
    (0..400)
        .map(|i| format!("line {i:05}: the quick brown fox jumps over the lazy dog\n"))
        .collect::<String>()
        .into()
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn curl_gets_a_file_byte_exact_over_tls_and_the_startup_line_says_https() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-get");
    let data = random_bytes(3 << 20, 15);
    std::fs::write(root.path("big.bin"), &data).unwrap();
    let s = serve_https(&root.0, &pki, &[], 0);
    let startup = s.stdout.text();
    let want = format!("pollux: serving {} on https://127.0.0.1:{}", root.0.display(), s.tls.port());
    assert!(startup.contains(&want), "startup lines:\n{startup}");

    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/big.bin", &[]);
    assert!(r.ok, "curl failed: {}", r.stderr);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "the 3 MiB body differs from the file");
    // The small file too (served from the file cache, from memory).
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/index.html", &[]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<h1>hello</h1>\n"[..]), "{}", r.stderr);
    // By IP: the certificate's IP SAN verifies, with no SNI sent.
    let r = curl_https(&pki.cert("ca"), s.tls, "127.0.0.1", "/index.html", &[]);
    assert_eq!(r.status, 200, "{}", r.stderr);
}

#[test]
fn a_range_request_is_206_with_the_right_bytes() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-range");
    let data = random_bytes(200_000, 7);
    std::fs::write(root.path("r.bin"), &data).unwrap();
    let s = serve_https(&root.0, &pki, &[], 0);
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/r.bin", &["-r", "100000-100999"]);
    assert_eq!(r.status, 206, "{}", r.stderr);
    assert_eq!(r.header("content-range"), Some("bytes 100000-100999/200000"));
    assert!(r.body == data[100_000..101_000], "the range's bytes");
    // A suffix range.
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/r.bin", &["-r", "-10"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[199_990..]));
}

#[test]
fn conditional_requests_are_304_over_tls() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-cond");
    let s = serve_https(&root.0, &pki, &[], 0);
    let ca = pki.cert("ca");
    let first = curl_https(&ca, s.tls, "localhost", "/index.html", &[]);
    assert_eq!(first.status, 200, "{}", first.stderr);
    let etag = first.header("etag").expect("an ETag").to_owned();
    let modified = first.header("last-modified").expect("a Last-Modified").to_owned();
    let r = curl_https(&ca, s.tls, "localhost", "/index.html", &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!((r.status, r.body.len()), (304, 0), "{}", r.stderr);
    let r = curl_https(
        &ca,
        s.tls,
        "localhost",
        "/index.html",
        &["-H", &format!("If-Modified-Since: {modified}")],
    );
    assert_eq!((r.status, r.body.len()), (304, 0), "{}", r.stderr);
    // A stale validator gets the body.
    let r = curl_https(&ca, s.tls, "localhost", "/index.html", &["-H", "If-None-Match: \"stale\""]);
    assert_eq!(r.status, 200);
}

#[test]
fn compressed_bodies_decode_to_the_file() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-gzip");
    let text = text_file();
    std::fs::write(root.path("t.txt"), &text).unwrap();
    let s = serve_https(&root.0, &pki, &[], 0);
    let ca = pki.cert("ca");
    let r = curl_https(&ca, s.tls, "localhost", "/t.txt", &["--compressed", "-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.status, 200, "{}", r.stderr);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body == text, "gunzipped body differs from the file ({} bytes)", r.body.len());
    // curl's own Accept-Encoding (deflate, gzip, br, zstd): whichever the server picks decodes.
    let r = curl_https(&ca, s.tls, "localhost", "/t.txt", &["--compressed"]);
    assert!(r.header("content-encoding").is_some(), "{:?}", r.headers);
    assert!(r.body == text, "decoded body differs from the file");
}

/// Echoes the body's length and SHA-256, then the TLS and scheme variables.
const UPLOAD: &str = "#!/bin/sh
tmp=$(mktemp)
cat >\"$tmp\"
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo \"len=$(wc -c <\"$tmp\" | tr -d ' ')\"
echo \"sha256=$(sha256sum <\"$tmp\" | cut -d' ' -f1)\"
rm -f \"$tmp\"
env | grep -E '^(HTTPS|SSL_[A-Z_]*|SERVER_PORT|REQUEST_SCHEME)=' || true
";

#[test]
fn an_upload_through_cgi_arrives_whole_and_the_script_sees_https() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-cgi");
    let bin = TempRoot::empty("tls-cgi-bin");
    write_scripts(&bin.0, &[("upload.sh", UPLOAD)]);
    let upload = random_bytes(3 << 20, 99);
    std::fs::write(root.path("upload.bin"), &upload).unwrap();
    let spec = format!("/cgi-bin={}", bin.0.display());
    let s = serve_https(&root.0, &pki, &["--cgi", &spec], 0);
    let ca = pki.cert("ca");
    let data = format!("@{}", root.path("upload.bin").display());

    // TLS 1.3 with the cipher suite chosen by the client, so the variable's value is known.
    let r = curl_https(
        &ca,
        s.tls,
        "localhost",
        "/cgi-bin/upload.sh",
        &["--data-binary", &data, "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"],
    );
    assert_eq!(r.status, 200, "{}", r.stderr);
    let env = env_map(&r.body);
    assert_eq!(env.get("len"), Some(&upload.len().to_string()), "{env:#?}");
    assert_eq!(env.get("sha256"), Some(&hex_sha256(&upload)), "{env:#?}");
    assert_eq!(env.get("HTTPS").map(String::as_str), Some("on"), "{env:#?}");
    assert_eq!(env.get("SSL_PROTOCOL").map(String::as_str), Some("TLSv1.3"), "{env:#?}");
    assert_eq!(env.get("SSL_CIPHER").map(String::as_str), Some("TLS_CHACHA20_POLY1305_SHA256"), "{env:#?}");
    assert_eq!(env.get("SSL_TLS_SNI").map(String::as_str), Some("localhost"), "{env:#?}");
    assert_eq!(env.get("SERVER_PORT"), Some(&s.tls.port().to_string()), "{env:#?}");
    // No client certificate was asked for: none is claimed.
    assert!(!env.contains_key("SSL_CLIENT_S_DN") && !env.contains_key("SSL_CLIENT_VERIFY"), "{env:#?}");

    // TLS 1.2, by IP (no SNI): the protocol follows, and SSL_TLS_SNI is not made up.
    let r = curl_https(
        &ca,
        s.tls,
        "127.0.0.1",
        "/cgi-bin/upload.sh",
        &["--data-binary", "abc", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"],
    );
    assert_eq!(r.status, 200, "{}", r.stderr);
    let env = env_map(&r.body);
    assert_eq!(env.get("len").map(String::as_str), Some("3"), "{env:#?}");
    assert_eq!(env.get("HTTPS").map(String::as_str), Some("on"), "{env:#?}");
    assert_eq!(env.get("SSL_PROTOCOL").map(String::as_str), Some("TLSv1.2"), "{env:#?}");
    let cipher = env.get("SSL_CIPHER").cloned().unwrap_or_default();
    assert!(cipher.contains("CHACHA20"), "SSL_CIPHER {cipher:?} for ECDHE-ECDSA-CHACHA20-POLY1305: {env:#?}");
    assert!(env.get("SSL_TLS_SNI").is_none_or(|v| v.is_empty()), "no SNI was sent: {env:#?}");
}

/// Bodies that arrive in one large record leave plaintext in the TLS session beyond what one
/// read takes: each size here once hung (the socket was drained, the session was not).
#[test]
fn bodies_of_every_size_are_read_whole_over_tls() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-bodies");
    let bin = TempRoot::empty("tls-bodies-bin");
    write_scripts(&bin.0, &[("upload.sh", UPLOAD)]);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let s = serve_https(&root.0, &pki, &["--cgi", &spec], 0);
    let ca = pki.cert("ca");
    for (i, size) in
        [3usize, 8191, 8193, 10_000, 16_000, 16_384, 17_000, 40_000, 65_536, 70_000].into_iter().enumerate()
    {
        let body = random_bytes(size, i as u64);
        let file = root.path(&format!("body-{size}"));
        std::fs::write(&file, &body).unwrap();
        let data = format!("@{}", file.display());
        let r = curl_https(&ca, s.tls, "localhost", "/cgi-bin/upload.sh", &["--data-binary", &data]);
        assert_eq!(r.status, 200, "{size} bytes: {}", r.stderr);
        let env = env_map(&r.body);
        assert_eq!(env.get("len"), Some(&size.to_string()), "{size} bytes");
        assert_eq!(env.get("sha256"), Some(&hex_sha256(&body)), "{size} bytes");
        // And to a static file, which refuses the method once it has the request.
        let r = curl_https(&ca, s.tls, "localhost", "/index.html", &["--data-binary", &data]);
        assert_eq!(r.status, 405, "{size} bytes to a file: {}", r.stderr);
    }
}

#[test]
fn a_cgi_request_sent_the_moment_the_handshake_is_done_sees_https() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-cgi-at-once");
    let bin = TempRoot::empty("tls-cgi-at-once-bin");
    write_scripts(&bin.0, &[("upload.sh", UPLOAD)]);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let s = serve_https(&root.0, &pki, &["--cgi", &spec], 0);
    // s_client writes the request right after its Finished, often in the same segment.
    for i in 0..10 {
        let h = s_client(
            s.tls,
            &["-servername", "localhost"],
            &get_close(&format!("/cgi-bin/upload.sh?{i}"), "x"),
        );
        let env = env_map(h.stdout.split("\r\n\r\n").nth(1).unwrap_or("").as_bytes());
        assert_eq!(env.get("HTTPS").map(String::as_str), Some("on"), "request {i}: {}", h.dump());
        assert_eq!(
            env.get("SSL_TLS_SNI").map(String::as_str),
            Some("localhost"),
            "request {i}: {}",
            h.dump()
        );
    }
}

#[test]
fn one_process_serves_https_and_http_with_hsts_only_on_https() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-hsts");
    let bin = TempRoot::empty("tls-hsts-bin");
    write_scripts(&bin.0, &[("upload.sh", UPLOAD)]);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let hsts = "max-age=31536000; includeSubDomains";
    let s = serve_https(&root.0, &pki, &["--bind", "127.0.0.1:0", "--hsts", hsts, "--cgi", &spec], 1);
    let ca = pki.cert("ca");
    for path in ["/index.html", "/missing", "/cgi-bin/upload.sh"] {
        let r = curl_https(&ca, s.tls, "localhost", path, &[]);
        assert!(r.ok, "{path}: {}", r.stderr);
        assert_eq!(r.header("strict-transport-security"), Some(hsts), "{path} over HTTPS: {:?}", r.headers);
    }
    let plain = s.plain[0];
    for path in ["/index.html", "/missing", "/cgi-bin/upload.sh"] {
        let r = send(plain, "GET", path, &[]);
        assert!(r.status == 200 || r.status == 404, "{path}: {}", r.status);
        assert_eq!(r.header("strict-transport-security"), None, "{path} over plain HTTP: {:?}", r.headers);
    }
    // The plain listener's CGI requests are not told they are HTTPS.
    let env = env_map(&send(plain, "GET", "/cgi-bin/upload.sh", &[]).body);
    assert!(!env.contains_key("HTTPS") && !env.contains_key("SSL_PROTOCOL"), "{env:#?}");
}

#[test]
fn redirect_http_answers_308_to_the_same_url_on_https() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-redirect");
    let s = serve_https(&root.0, &pki, &["--redirect-http", "127.0.0.1:0"], 1);
    let port = s.tls.port();
    // Raw requests: the Host (with another port) is ours.
    let raw = "GET /a%20b/c.html?x=1&y=%2F HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n";
    let r = pollux_testkit::request(s.plain[0], raw);
    assert_eq!(r.status, 308, "{r:?}");
    assert_eq!(
        r.header("location"),
        Some(format!("https://example.test:{port}/a%20b/c.html?x=1&y=%2F").as_str())
    );
    // HEAD and POST are redirected alike (308 keeps the method).
    let raw =
        "POST /form?q=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let r = pollux_testkit::request(s.plain[0], raw);
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some(format!("https://example.test:{port}/form?q=1").as_str()));
    // The redirect is not HSTS-marked (plain HTTP), and curl following it lands on the file.
    let out = pollux_testkit::curl(&[
        "-L",
        "--cacert",
        pki.cert("ca").to_str().unwrap(),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        "--resolve",
        &format!("localhost:{}:127.0.0.1", s.plain[0].port()),
        &format!("http://localhost:{}/index.html", s.plain[0].port()),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<h1>hello</h1>\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_host_without_a_port_is_redirected_to_the_tls_port() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-redirect-host");
    let s = serve_https(&root.0, &pki, &["--redirect-http", "127.0.0.1:0"], 1);
    let raw = "GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n";
    let r = pollux_testkit::request(s.plain[0], raw);
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some(format!("https://example.test:{}/", s.tls.port()).as_str()));
}

/// The access log on stderr, with `--log-tls` or not, over TLS and over plain HTTP.
#[test]
fn log_tls_ends_lines_with_version_and_cipher_and_plain_with_dashes() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-log");
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "-", "--log-tls", "--bind", "127.0.0.1:0"])
        .args(pki.cert_args("localhost"));
    let s = spawn_https(cmd, 1);
    let ca = pki.cert("ca");
    let r = curl_https(
        &ca,
        s.tls,
        "localhost",
        "/index.html?tls=13",
        &["--tls13-ciphers", "TLS_AES_128_GCM_SHA256"],
    );
    assert_eq!(r.status, 200, "{}", r.stderr);
    let r = curl_https(
        &ca,
        s.tls,
        "localhost",
        "/index.html?tls=12",
        &["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"],
    );
    assert_eq!(r.status, 200, "{}", r.stderr);
    assert_eq!(send(s.plain[0], "GET", "/index.html?plain", &[]).status, 200);
    let log = s.server.wait_log("?plain", 10);
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line for {needle} in:\n{log}"))
            .to_owned()
    };
    let l13 = line("GET /index.html?tls=13 ");
    assert!(l13.starts_with("127.0.0.1 - - ["), "{l13}");
    assert!(l13.ends_with("\" 200 15 TLSv1.3 TLS_AES_128_GCM_SHA256"), "{l13}");
    let l12 = line("GET /index.html?tls=12 ");
    assert!(l12.contains("\" 200 15 TLSv1.2 "), "{l12}");
    // The IANA name, as for TLS 1.3 (or OpenSSL's, as Apache's mod_ssl writes it).
    let cipher12 = l12.rsplit(' ').next().unwrap();
    assert!(
        ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"].contains(&cipher12),
        "{l12}"
    );
    let plain = line("GET /index.html?plain ");
    assert!(plain.ends_with("\" 200 15 - -"), "{plain}");

    // A request sent the moment the handshake is done (s_client writes it right after its
    // Finished, often in the same segment) is logged with its TLS fields too.
    for i in 0..20 {
        let h = s_client(
            s.tls,
            &["-tls1_3", "-servername", "localhost"],
            &get_close(&format!("/index.html?at-once={i}"), "x"),
        );
        assert!(h.stdout.contains("HTTP/1.1 200 OK"), "{}", h.dump());
    }
    let log = s.server.wait_log("?at-once=19 ", 10);
    let untagged: Vec<&str> =
        log.lines().filter(|l| l.contains("?at-once=") && !l.contains(" 200 15 TLSv1.3 TLS_")).collect();
    assert!(untagged.is_empty(), "TLS requests logged without their TLS fields:\n{}", untagged.join("\n"));
}

#[test]
fn the_access_log_over_tls_without_log_tls_is_the_common_log_format() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-log-plain");
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "-"]).args(pki.cert_args("localhost"));
    let s = spawn_https(cmd, 0);
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/index.html?x=1", &[]);
    assert_eq!(r.status, 200, "{}", r.stderr);
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/nope", &[]);
    assert_eq!(r.status, 404, "{}", r.stderr);
    let log = s.server.wait_log("/nope", 10);
    let ok = log.lines().find(|l| l.contains("/index.html?x=1")).unwrap_or_else(|| panic!("{log}"));
    assert!(
        ok.starts_with("127.0.0.1 - - [") && ok.ends_with("\"GET /index.html?x=1 HTTP/1.1\" 200 15"),
        "{ok}"
    );
    let missing = log.lines().find(|l| l.contains("/nope")).unwrap();
    assert!(missing.contains("\"GET /nope HTTP/1.1\" 404 "), "{missing}");
    assert!(!missing.contains("TLSv1"), "{missing}");
}

const WSGI_APP: &str = "\
def application(environ, start_response):
    keys = ['wsgi.url_scheme', 'HTTPS', 'SSL_PROTOCOL', 'SSL_CIPHER', 'SSL_TLS_SNI']
    body = ''.join('%s=%s\\n' % (k, environ[k]) for k in keys if k in environ).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
";

#[test]
fn a_wsgi_app_sees_the_https_scheme_over_tls_and_http_over_plain() {
    let pki = Pki::new();
    let app = TempRoot::empty("tls-wsgi");
    std::fs::write(app.path("tlsenv.py"), WSGI_APP).unwrap();
    let mut cmd = https_command(&app.0);
    cmd.args(["--wsgi", "tlsenv", "--workers", "1", "--access-log", "off", "--bind", "127.0.0.1:0"])
        .args(pki.cert_args("localhost"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("VIRTUAL_ENV");
    let s = spawn_https(cmd, 1);
    let r =
        curl_https(&pki.cert("ca"), s.tls, "localhost", "/x", &["--tls13-ciphers", "TLS_AES_256_GCM_SHA384"]);
    assert_eq!(r.status, 200, "{}", r.stderr);
    let env = env_map(&r.body);
    assert_eq!(env.get("wsgi.url_scheme").map(String::as_str), Some("https"), "{env:#?}");
    assert_eq!(env.get("HTTPS").map(String::as_str), Some("on"), "{env:#?}");
    assert_eq!(env.get("SSL_PROTOCOL").map(String::as_str), Some("TLSv1.3"), "{env:#?}");
    assert_eq!(env.get("SSL_CIPHER").map(String::as_str), Some("TLS_AES_256_GCM_SHA384"), "{env:#?}");
    assert_eq!(env.get("SSL_TLS_SNI").map(String::as_str), Some("localhost"), "{env:#?}");
    let env = env_map(&send(s.plain[0], "GET", "/x", &[]).body);
    assert_eq!(env.get("wsgi.url_scheme").map(String::as_str), Some("http"), "{env:#?}");
    assert!(!env.contains_key("HTTPS") && !env.contains_key("SSL_PROTOCOL"), "{env:#?}");
}
