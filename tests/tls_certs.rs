//! Certificates in operation: replaced on disk and reloaded on SIGHUP while `wrk` keeps two
//! kinds of load on the server (keep-alive, and a new handshake per request) with zero errors;
//! a broken replacement keeps the certificate in use and says why; a changed file is picked up
//! without a signal; client certificates (`--client-ca`) are required and their subject reaches
//! CGI; `--self-signed` prints the fingerprint of what it serves; chains and SEC1 keys load.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pollux_testkit::tls::{
    curl_https, fingerprint, get_close, https_command, replace_file, s_client, s_client_brief, spawn_https,
    x509_text, Https, Pki,
};
use pollux_testkit::{wait_exit, write_scripts, TempRoot};

/// A server whose default certificate is `live/cert.pem` + `live/key.pem` (a copy of the
/// `localhost` one), so a test can replace them; with the PKI's `second` and `third`
/// localhost certificates (`O=second`, `O=third`) ready to install.
struct Live {
    pki: Pki,
    _root: TempRoot,
    cert: PathBuf,
    key: PathBuf,
    s: Https,
}

const FIRST: &str = "CN = localhost";
const SECOND: &str = "O = second, CN = localhost";
const THIRD: &str = "O = third, CN = localhost";

fn live(workers: &str) -> Live {
    let pki = Pki::new();
    let sans = ["DNS:localhost", "IP:127.0.0.1"];
    pki.server_signed_by("second", "/O=second/CN=localhost", &sans, "ca");
    pki.server_signed_by("third", "/O=third/CN=localhost", &sans, "ca");
    let root = TempRoot::new("tls-live");
    std::fs::create_dir(root.path("live")).unwrap();
    let (cert, key) = (root.path("live/cert.pem"), root.path("live/key.pem"));
    pki.install("localhost", &cert, &key);
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", workers, "--access-log", "off", "--cert"]).arg(&cert).arg("--key").arg(&key);
    let s = spawn_https(cmd, 0);
    Live { pki, _root: root, cert, key, s }
}

impl Live {
    /// The subject a new connection sees (verified against the CA).
    fn subject(&self) -> String {
        let ca = self.pki.cert("ca").display().to_string();
        let h = s_client(
            self.s.tls,
            &["-servername", "localhost", "-CAfile", &ca, "-verify_return_error"],
            &get_close("/", "localhost"),
        );
        assert!(h.stdout.contains("HTTP/1.1 200 OK"), "{}", h.dump());
        h.subject.clone().unwrap_or_else(|| panic!("no subject: {}", h.dump()))
    }

    /// Sends SIGHUP and waits until stderr holds `needle` once more than before, in a whole
    /// line (stderr is unbuffered: a line may arrive in several writes). The log's whole lines.
    fn sighup_expect(&self, needle: &str) -> String {
        let lines = |log: String| log[..log.rfind('\n').map_or(0, |i| i + 1)].to_owned();
        let before = lines(self.s.log()).matches(needle).count();
        self.s.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = lines(self.s.server.wait_log(needle, 1));
            if log.matches(needle).count() > before {
                return log;
            }
            assert!(Instant::now() < deadline, "no new {needle:?} within 5 s of SIGHUP; stderr:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `wrk -t1 -c2 -d4s` over TLS (with `extra` arguments); its output once it ends.
fn start_wrk(url: &str, extra: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new("wrk")
        .args(["-t1", "-c2", "-d4s", "--timeout", "3s"])
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wrk (scripts/test.sh installs it)");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits for wrk to end (15 s at most) and returns its report, which must show requests and no
/// error of any kind.
fn wrk_report(mut child: std::process::Child, lines: std::sync::mpsc::Receiver<String>, what: &str) -> u64 {
    let status = wait_exit(&mut child, Duration::from_secs(15));
    assert!(status.is_some_and(|s| s.success()), "wrk ({what}) did not end well: {status:?}");
    let report: Vec<String> = lines.try_iter().collect();
    let report = report.join("\n");
    assert!(!report.contains("Socket errors"), "wrk ({what}) saw socket errors:\n{report}");
    assert!(!report.contains("Non-2xx"), "wrk ({what}) saw non-2xx answers:\n{report}");
    let requests: u64 = report
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's report:\n{report}"));
    assert!(requests > 50, "wrk ({what}) made only {requests} requests:\n{report}");
    requests
}

#[test]
fn certificates_replaced_and_sighup_under_wrk_load_lose_no_request() {
    let l = live("2");
    assert_eq!(l.subject(), FIRST);
    let url = format!("https://127.0.0.1:{}/index.html", l.s.tls.port());
    let (keep, keep_lines) = start_wrk(&url, &[]);
    let (fresh, fresh_lines) = start_wrk(&url, &["-H", "Connection: close"]);
    // Both are under way once each prints its first line (before it connects), plus a moment.
    for rx in [&keep_lines, &fresh_lines] {
        let first = rx.recv_timeout(Duration::from_secs(5)).expect("wrk started");
        assert!(first.starts_with("Running"), "{first}");
    }
    std::thread::sleep(Duration::from_millis(500));
    l.pki.install("second", &l.cert, &l.key);
    l.sighup_expect("pollux: SIGHUP: certificates reloaded");
    assert_eq!(l.subject(), SECOND, "a new connection after the reload");
    std::thread::sleep(Duration::from_millis(500));
    l.pki.install("third", &l.cert, &l.key);
    l.sighup_expect("pollux: SIGHUP: certificates reloaded");
    assert_eq!(l.subject(), THIRD);
    let kept = wrk_report(keep, keep_lines, "keep-alive");
    let new = wrk_report(fresh, fresh_lines, "Connection: close");
    eprintln!(
        "wrk over TLS during two reloads: {kept} keep-alive requests, {new} one-per-handshake requests"
    );
    assert_eq!(l.subject(), THIRD, "after the load");
}

#[test]
fn a_broken_replacement_keeps_the_certificate_in_use_and_says_why() {
    let l = live("1");
    assert_eq!(l.subject(), FIRST);
    let keeping = "pollux: SIGHUP: keeping the certificates in use: ";
    // A key that is not a key.
    replace_file(&l.key, b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
    let log = l.sighup_expect(keeping);
    let why = log.lines().rfind(|x| x.contains(keeping)).unwrap().to_owned();
    assert!(why.len() > keeping.len() + 5, "the line says why: {why}");
    assert_eq!(l.subject(), FIRST, "after a garbage key: {why}");
    // A certificate that does not belong to the key (the key back, another certificate).
    replace_file(&l.key, &std::fs::read(l.pki.key("localhost")).unwrap());
    replace_file(&l.cert, &std::fs::read(l.pki.cert("second")).unwrap());
    let log = l.sighup_expect(keeping);
    let why = log.lines().rfind(|x| x.contains(keeping)).unwrap().to_owned();
    assert_eq!(l.subject(), FIRST, "after a mismatched pair: {why}");
    // A missing file.
    std::fs::remove_file(&l.cert).unwrap();
    let log = l.sighup_expect(keeping);
    let why = log.lines().rfind(|x| x.contains(keeping)).unwrap().to_owned();
    assert!(why.contains("cert.pem"), "the line names the missing file: {why}");
    assert_eq!(l.subject(), FIRST, "after a missing certificate: {why}");
    // And a good pair is taken again.
    l.pki.install("second", &l.cert, &l.key);
    l.sighup_expect("pollux: SIGHUP: certificates reloaded");
    assert_eq!(l.subject(), SECOND);
}

#[test]
fn a_changed_certificate_file_is_picked_up_without_a_signal() {
    let l = live("1");
    assert_eq!(l.subject(), FIRST);
    l.pki.install("second", &l.cert, &l.key);
    // Checked every second: seen within 5 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = l.subject();
    while seen != SECOND && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        seen = l.subject();
    }
    assert_eq!(seen, SECOND, "the replaced files were not loaded within 5 s; stderr:\n{}", l.s.log());
    // A broken change is not taken either, and is logged.
    replace_file(&l.key, b"garbage\n");
    let log = l.s.server.wait_log("certificate files changed: keeping the certificates in use", 5);
    assert!(log.contains("certificate files changed: keeping the certificates in use"), "stderr:\n{log}");
    assert_eq!(l.subject(), SECOND);
}

/// The TLS variables and the client's subject, as a CGI script sees them.
const ENV: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv | grep -E '^(HTTPS|SSL_[A-Z_]*)=' || true\n";

#[test]
fn client_certificates_are_required_and_the_subject_reaches_cgi() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-mtls");
    let bin = TempRoot::empty("tls-mtls-bin");
    write_scripts(&bin.0, &[("env.sh", ENV)]);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let ca = pki.cert("ca").display().to_string();
    let s = pollux_testkit::tls::serve_https(&root.0, &pki, &["--client-ca", &ca, "--cgi", &spec], 0);
    let (alice_cert, alice_key) =
        (pki.cert("alice").display().to_string(), pki.key("alice").display().to_string());
    let (mal_cert, mal_key) =
        (pki.cert("mallory").display().to_string(), pki.key("mallory").display().to_string());

    for version in ["1.3", "1.2"] {
        let max = ["--tls-max", version];
        // No client certificate: refused, no answer.
        let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/cgi-bin/env.sh", &max);
        assert!(!r.ok && r.status == 0 && r.body.is_empty(), "TLS {version} without a certificate: {r:?}");
        // A certificate of another CA: refused.
        let with_mallory = ["--tls-max", version, "--cert", &mal_cert, "--key", &mal_key];
        let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/cgi-bin/env.sh", &with_mallory);
        assert!(
            !r.ok && r.status == 0 && r.body.is_empty(),
            "TLS {version} with another CA's certificate: {r:?}"
        );
        // Alice: her subject, verified.
        let with_alice = ["--tls-max", version, "--cert", &alice_cert, "--key", &alice_key];
        let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/cgi-bin/env.sh", &with_alice);
        assert_eq!(r.status, 200, "TLS {version} with alice: {}", r.stderr);
        let env = String::from_utf8_lossy(&r.body).into_owned();
        for want in ["SSL_CLIENT_S_DN=CN=alice,O=Example", "SSL_CLIENT_VERIFY=SUCCESS", "HTTPS=on"] {
            assert!(env.lines().any(|l| l == want), "TLS {version}: {want} missing from:\n{env}");
        }
        assert!(env.lines().any(|l| l == format!("SSL_PROTOCOL=TLSv{version}")), "{env}");
    }

    // What the refusals look like to s_client: the server's alerts.
    let h = s_client_brief(s.tls, &["-tls1_3", "-servername", "localhost"], Duration::from_millis(500));
    assert!(h.stdout.contains("Acceptable client certificate CA names"), "{}", h.dump());
    assert!(h.stdout.contains("CN = pollux test CA"), "the CertificateRequest names our CA: {}", h.dump());
    assert_eq!(
        h.alert().as_deref(),
        Some("certificate required"),
        "TLS 1.3 without a certificate: {}",
        h.dump()
    );
    let h = s_client_brief(s.tls, &["-tls1_2", "-servername", "localhost"], Duration::from_millis(500));
    assert!(!h.established(), "TLS 1.2 without a certificate: {}", h.dump());
    assert!(h.alert().is_some(), "{}", h.dump());
    let h = s_client_brief(
        s.tls,
        &["-tls1_3", "-servername", "localhost", "-cert", &mal_cert, "-key", &mal_key],
        Duration::from_millis(500),
    );
    let alert = h.alert();
    assert!(matches!(alert.as_deref(), Some("unknown ca" | "bad certificate")), "another CA's: {}", h.dump());
}

#[test]
fn self_signed_prints_the_fingerprint_of_the_certificate_it_serves() {
    let root = TempRoot::new("tls-selfsigned");
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "off", "--self-signed=dev.test"]);
    let s = spawn_https(cmd, 0);
    // On stdout with the addresses, or on stderr.
    let mut said = s.stdout.text();
    if !said.contains("SHA-256 fingerprint") {
        said.push_str(&s.server.wait_log("SHA-256 fingerprint", 2));
    }
    let line = said
        .lines()
        .find(|l| l.starts_with("pollux: self-signed certificate, SHA-256 fingerprint "))
        .unwrap_or_else(|| panic!("no fingerprint line in:\n{said}"));
    let printed = line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(printed.len(), 32 * 3 - 1, "32 bytes as AB:CD:…: {line}");
    for name in ["localhost", "dev.test"] {
        let h = s_client(s.tls, &["-servername", name], &get_close("/", name));
        assert!(h.stdout.contains("HTTP/1.1 200 OK"), "{}", h.dump());
        let pem = h.peer_pem().expect("the server's certificate");
        assert_eq!(fingerprint(&pem), printed, "{name}: the printed fingerprint is the served certificate's");
        let sans = x509_text(&pem, &["-ext", "subjectAltName"]);
        for want in ["DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "DNS:dev.test"] {
            assert!(sans.contains(want), "{want} missing: {sans}");
        }
    }
    // curl -k (the development use) works; without -k it is refused as unverifiable.
    let url = format!("https://localhost:{}/index.html", s.tls.port());
    let resolve = format!("localhost:{}:127.0.0.1", s.tls.port());
    let out = pollux_testkit::curl(&["-k", "--resolve", &resolve, &url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "<h1>hello</h1>\n");
    let out = pollux_testkit::curl(&["--resolve", &resolve, &url]);
    assert!(!out.status.success(), "a self-signed certificate must not verify against the system store");
}

#[test]
fn a_chain_file_is_served_whole_and_a_sec1_key_loads() {
    let pki = Pki::new();
    pki.intermediate("int", "/CN=pollux intermediate", "ca");
    pki.server_signed_by("leaf", "/CN=localhost", &["DNS:localhost", "IP:127.0.0.1"], "int");
    let root = TempRoot::new("tls-chain");
    let chain = root.path("chain.pem");
    let mut bytes = std::fs::read(pki.cert("leaf")).unwrap();
    bytes.extend(std::fs::read(pki.cert("int")).unwrap());
    std::fs::write(&chain, bytes).unwrap();
    // The key in SEC1 form ("BEGIN EC PRIVATE KEY"), as `openssl ecparam -genkey` writes it.
    let sec1 = root.path("leaf.sec1.key");
    let out = pollux_testkit::run_within(
        Command::new("openssl").arg("ec").arg("-in").arg(pki.key("leaf")).arg("-out").arg(&sec1),
        Duration::from_secs(20),
        "openssl ec",
    );
    pollux_testkit::check(&out, "openssl ec");
    assert!(std::fs::read_to_string(&sec1).unwrap().contains("BEGIN EC PRIVATE KEY"));
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "off", "--cert"]).arg(&chain).arg("--key").arg(&sec1);
    let s = spawn_https(cmd, 0);
    let ca = pki.cert("ca").display().to_string();
    // Only the root is trusted: verification needs the intermediate from the server.
    let h = s_client(
        s.tls,
        &["-servername", "localhost", "-CAfile", &ca, "-verify_return_error", "-showcerts"],
        &get_close("/", "localhost"),
    );
    assert_eq!(h.verify_code, Some(0), "{}", h.dump());
    assert!(
        h.stdout.contains(" 1 s:CN = pollux intermediate"),
        "the chain holds the intermediate: {}",
        h.dump()
    );
    let r = curl_https(&pki.cert("ca"), s.tls, "localhost", "/index.html", &[]);
    assert_eq!(r.status, 200, "{}", r.stderr);
}

/// A WSGI app in several processes (a supervisor and its children): every process presents
/// the one `--self-signed` certificate the supervisor made and printed, and the supervisor
/// announces the HTTPS address once its children serve.
#[test]
fn wsgi_processes_share_one_self_signed_certificate() {
    let app = TempRoot::empty("tls-wsgi-processes");
    std::fs::write(
        app.path("pidapp.py"),
        "import os\n\
         def application(environ, start_response):\n\
         \x20   body = ('%s %d' % (environ['wsgi.url_scheme'], os.getpid())).encode()\n\
         \x20   start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])\n\
         \x20   return [body]\n",
    )
    .unwrap();
    let mut cmd = https_command(&app.0);
    cmd.args(["--wsgi", "pidapp", "--processes", "2", "--self-signed", "--access-log", "off"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("VIRTUAL_ENV");
    // Returns once the supervisor printed the https:// address, which it does when both
    // children said they serve.
    let s = spawn_https(cmd, 0);
    let said = s.stdout.text();
    let printed = said
        .lines()
        .find_map(|l| l.strip_prefix("pollux: self-signed certificate, SHA-256 fingerprint "))
        .unwrap_or_else(|| panic!("no fingerprint line in:\n{said}"))
        .to_owned();
    assert_eq!(said.matches("SHA-256 fingerprint").count(), 1, "printed once, by the supervisor:\n{said}");
    let mut pids = std::collections::BTreeSet::new();
    // The two processes accept from the same socket; within 60 connections both answer.
    for _ in 0..60 {
        let h = s_client(s.tls, &["-servername", "localhost"], &get_close("/", "localhost"));
        let pem = h.peer_pem().unwrap_or_else(|| panic!("no certificate: {}", h.dump()));
        assert_eq!(fingerprint(&pem), printed, "every process serves the printed certificate");
        let body = h.stdout.lines().find_map(|l| l.strip_prefix("https ")).map(str::to_owned);
        pids.insert(body.unwrap_or_else(|| panic!("no answer from the app: {}", h.dump())));
        if pids.len() == 2 {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "both processes answered: {pids:?}");
}
