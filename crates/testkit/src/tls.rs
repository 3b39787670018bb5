//! HTTPS peers for the TLS tests: certificates made with the `openssl` CLI into a temporary
//! directory, the real binary started with `--tls-bind` (ready once it prints `https://ADDR`),
//! and the real clients a user would point at it — `openssl s_client` (bounded in time, its
//! report parsed) and `curl` over TLS.
//!
//! ```text
//!   Pki::new ── openssl req/x509 ──► ca.pem ─┬─► a.test  b.test  localhost (+IP 127.0.0.1)
//!      (ECDSA P-256 everywhere)               └─► alice (client, "O=Example/CN=alice")
//!                                 other-ca.pem ──► mallory (client of another CA)
//!   spawn_https ──► pollux serve … --tls-bind 127.0.0.1:0 ──► "https://ADDR" (+ "http://ADDR")
//!   s_client / curl_https ── real TLS handshakes ──► the server under test
//! ```
//!
//! Everything here runs the CLI tools a user has (openssl 3, curl), never a TLS library of our
//! own, so that what the tests see is what those peers see.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::data::TempRoot;
use crate::process::{check, pollux_bin, run_within, wait_exit, Log, Server};

/// How long one `openssl` or `curl` run may take before it is killed and the test fails.
const PEER_LIMIT: Duration = Duration::from_secs(20);

/// The extensions the certificates are made with (a config of our own, so that the
/// distribution's `openssl.cnf` cannot add or forbid any).
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// A test PKI in a temporary directory: two CAs and the certificates the TLS tests use, all
/// ECDSA P-256 with SHA-256 signatures, valid from an hour ago for 30 days.
///
/// Files (each `NAME.pem` certificate beside its `NAME.key`, PKCS#8 PEM):
/// - `ca` — `CN=pollux test CA`, the CA the clients trust (`--cacert`, `-CAfile`, `--client-ca`);
/// - `a.test`, `b.test` — servers for those names (`CN=` the name, SAN `DNS:` the name);
/// - `localhost` — `CN=localhost`, SAN `DNS:localhost, IP:127.0.0.1, IP:::1`;
/// - `alice` — a client certificate of `ca`, subject `O=Example, CN=alice` (in that order, so
///   RFC 4514 writes it `CN=alice,O=Example`);
/// - `other-ca` — `CN=pollux other CA`, and `mallory`, a client certificate it signed.
#[derive(Debug)]
pub struct Pki {
    /// The directory holding the files.
    pub dir: TempRoot,
    serial: std::cell::Cell<u32>,
}

impl Pki {
    /// Makes the CAs and every certificate listed on [`Pki`].
    pub fn new() -> Pki {
        let pki = Pki { dir: TempRoot::empty("pki"), serial: std::cell::Cell::new(100) };
        std::fs::write(pki.dir.path("openssl.cnf"), OPENSSL_CNF).expect("write openssl.cnf");
        pki.ca("ca", "/CN=pollux test CA");
        pki.ca("other-ca", "/CN=pollux other CA");
        pki.server("a.test", "a.test", &["DNS:a.test"]);
        pki.server("b.test", "b.test", &["DNS:b.test"]);
        pki.server("localhost", "localhost", &["DNS:localhost", "IP:127.0.0.1", "IP:::1"]);
        pki.client("alice", "/O=Example/CN=alice", "ca");
        pki.client("mallory", "/O=Example/CN=mallory", "other-ca");
        pki
    }

    /// `NAME.pem` (a certificate, or a chain).
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.path(&format!("{name}.pem"))
    }

    /// `NAME.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.path(&format!("{name}.key"))
    }

    /// `--cert NAME.pem --key NAME.key` as owned arguments.
    pub fn cert_args(&self, name: &str) -> Vec<String> {
        vec![
            "--cert".into(),
            self.cert(name).display().to_string(),
            "--key".into(),
            self.key(name).display().to_string(),
        ]
    }

    /// `--tls SNI=NAME.pem,NAME.key` as owned arguments.
    pub fn sni_args(&self, sni: &str, name: &str) -> Vec<String> {
        vec!["--tls".into(), format!("{sni}={},{}", self.cert(name).display(), self.key(name).display())]
    }

    /// A self-signed CA `name` with subject `subj` (`/CN=…`).
    pub fn ca(&self, name: &str, subj: &str) {
        let cnf = self.dir.path("openssl.cnf");
        let mut cmd = Command::new("openssl");
        cmd.args(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
            .arg("-config")
            .arg(&cnf)
            .args(["-extensions", "ca", "-sha256", "-days", "30", "-subj", subj])
            .arg("-keyout")
            .arg(self.key(name))
            .arg("-out")
            .arg(self.cert(name));
        openssl(&mut cmd, "openssl req -x509 (CA)");
    }

    /// A server certificate `name` for subject `CN=cn`, with `sans` (`DNS:…`, `IP:…`), signed
    /// by `ca`.
    pub fn server(&self, name: &str, cn: &str, sans: &[&str]) {
        self.server_signed_by(name, &format!("/CN={cn}"), sans, "ca");
    }

    /// A server certificate `name` for subject `subj` (`/O=…/CN=…`) and `sans`, signed by
    /// `issuer`.
    pub fn server_signed_by(&self, name: &str, subj: &str, sans: &[&str], issuer: &str) {
        let ext = format!(
            "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = {}\nsubjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid\n",
            sans.join(",")
        );
        self.leaf(name, subj, &ext, issuer);
    }

    /// A client certificate `name` for subject `subj`, signed by `issuer`.
    pub fn client(&self, name: &str, subj: &str, issuer: &str) {
        let ext = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
                   extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
        self.leaf(name, subj, ext, issuer);
    }

    /// An intermediate CA `name` signed by `issuer`.
    pub fn intermediate(&self, name: &str, subj: &str, issuer: &str) {
        let ext = std::fs::read_to_string(self.dir.path("openssl.cnf")).expect("openssl.cnf");
        let section = ext.split("[intermediate]").nth(1).expect("intermediate section");
        self.leaf(name, subj, section, issuer);
    }

    /// A new key and a certificate for it with the extensions `ext`, signed by `issuer`.
    fn leaf(&self, name: &str, subj: &str, ext: &str, issuer: &str) {
        let csr = self.dir.path(&format!("{name}.csr"));
        let extfile = self.dir.path(&format!("{name}.ext"));
        std::fs::write(&extfile, format!("[ext]\n{ext}")).expect("write ext file");
        let mut req = Command::new("openssl");
        req.args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
            .arg("-config")
            .arg(self.dir.path("openssl.cnf"))
            .args(["-subj", subj])
            .arg("-keyout")
            .arg(self.key(name))
            .arg("-out")
            .arg(&csr);
        openssl(&mut req, "openssl req (CSR)");
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        let mut sign = Command::new("openssl");
        sign.args(["x509", "-req", "-sha256", "-days", "30", "-set_serial", &serial.to_string()])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(self.cert(issuer))
            .arg("-CAkey")
            .arg(self.key(issuer))
            .arg("-extfile")
            .arg(&extfile)
            .args(["-extensions", "ext"])
            .arg("-out")
            .arg(self.cert(name));
        openssl(&mut sign, "openssl x509 -req (sign)");
    }

    /// Writes `NAME.pem`'s and `NAME.key`'s contents over `dest_cert` and `dest_key`, each by
    /// a rename (as certbot and most deploy tools replace certificates): key first, then the
    /// certificate.
    pub fn install(&self, name: &str, dest_cert: &Path, dest_key: &Path) {
        replace_file(dest_key, &std::fs::read(self.key(name)).expect("read key"));
        replace_file(dest_cert, &std::fs::read(self.cert(name)).expect("read cert"));
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// Replaces `path` with `bytes` by writing a sibling and renaming it over `path`.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).expect("write replacement");
    std::fs::rename(&tmp, path).expect("rename replacement");
}

fn openssl(cmd: &mut Command, what: &str) {
    let out = run_within(cmd, PEER_LIMIT, what);
    check(&out, what);
}

/// The SHA-256 fingerprint of the PEM certificate `pem` as `openssl x509 -fingerprint` prints
/// it (`AB:CD:…`, upper case).
pub fn fingerprint(pem: &[u8]) -> String {
    let out = pipe(Command::new("openssl").args(["x509", "-noout", "-fingerprint", "-sha256"]), pem);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.trim().rsplit('=').next().unwrap_or_default().to_owned()
}

/// `openssl x509 -noout ARGS` on the PEM certificate `pem`: its output.
pub fn x509_text(pem: &[u8], args: &[&str]) -> String {
    let out = pipe(Command::new("openssl").args(["x509", "-noout"]).args(args), pem);
    check(&out, "openssl x509");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd` with `input` on its stdin, at most [`PEER_LIMIT`].
fn pipe(cmd: &mut Command, input: &[u8]) -> Output {
    run_fed(cmd, input, PEER_LIMIT, None)
}

/// Runs `cmd`, writes `input` to its stdin, keeps stdin open for `hold` more if given (for a
/// client that quits at end of input), then closes it; kills the command at `limit` and
/// panics then. Its output.
fn run_fed(cmd: &mut Command, input: &[u8], limit: Duration, hold: Option<Duration>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e} (scripts/test.sh installs openssl and curl)"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        if let Some(h) = hold {
            std::thread::sleep(h);
        }
    });
    let out = read_on_thread(child.stdout.take().expect("stdout"));
    let err = read_on_thread(child.stderr.take().expect("stderr"));
    let status = wait_exit(&mut child, limit);
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    let _ = feeder.join();
    let status = status.unwrap_or_else(|| {
        panic!(
            "{cmd:?} did not finish within {limit:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    });
    Output { status, stdout, stderr }
}

fn read_on_thread(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

// ---- The server ------------------------------------------------------------------------------

/// A `pollux serve` with TLS: the process, its HTTPS address, its plain HTTP address when it
/// has one, and what it printed on stdout.
#[derive(Debug)]
pub struct Https {
    /// The process (its stderr gathered: [`Server::log`], [`Server::wait_log`]).
    pub server: Server,
    /// The first `https://` address it announced.
    pub tls: SocketAddr,
    /// Every `http://` address it announced, in order (`--bind`, `--redirect-http`).
    pub plain: Vec<SocketAddr>,
    /// Its stdout so far and from now on.
    pub stdout: Log,
}

impl Https {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.server.child.id()
    }

    /// Sends `signal` (`HUP`, `TERM`…) to the server with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -{signal} {}", self.pid());
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

/// `pollux serve ROOT --tls-bind 127.0.0.1:0` (nothing else: the test adds `--cert`, workers…).
pub fn https_command(root: &Path) -> Command {
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(root).args(["--tls-bind", "127.0.0.1:0"]);
    cmd
}

/// Starts `cmd` and waits (20 s at most) until it has announced one `https://` address and
/// `plain` `http://` addresses on stdout. Its stderr is gathered from the start.
pub fn spawn_https(mut cmd: Command, plain: usize) -> Https {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<(bool, SocketAddr)>();
    // The reader thread keeps all of stdout in `log`; the lines that announce an address are
    // also sent here as they pass.
    let (log, _reader) = Log::collect(Announced { inner: stdout, line: Vec::new(), tx });
    let stderr = child.stderr.take();
    let mut server = Server::new(child, "0.0.0.0:0".parse().expect("addr"), stderr).gather_stderr();
    let (mut tls, mut http) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(20);
    while tls.is_empty() || http.len() < plain {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((true, a)) => tls.push(a),
            Ok((false, a)) => http.push(a),
            Err(_) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                panic!(
                    "{cmd:?} did not announce https:// and {plain} http:// address(es)\nstdout: {}\nstderr: {}",
                    log.text(),
                    server.log()
                );
            }
        }
    }
    // An address is sent from inside the read that brought it, before the log holds that
    // text: wait for the log to catch up, so `stdout` has every announcing line.
    for a in tls.iter().chain(&http) {
        log.wait_for(&a.to_string(), 5);
    }
    server.addr = tls[0];
    Https { server, tls: tls[0], plain: http, stdout: log }
}

/// Stdout as it passes to the [`Log`]: each complete line that holds `https://ADDR` or
/// `http://ADDR` is sent on `tx` (true for https).
struct Announced<R> {
    inner: R,
    line: Vec<u8>,
    tx: mpsc::Sender<(bool, SocketAddr)>,
}

impl<R: Read> Read for Announced<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.line.clear();
            for (scheme, tls) in [("https://", true), ("http://", false)] {
                if let Some(i) = line.find(scheme) {
                    let a = line[i + scheme.len()..].split_whitespace().next().unwrap_or("");
                    if let Ok(addr) = a.trim_end_matches('/').parse::<SocketAddr>() {
                        let _ = self.tx.send((tls, addr));
                    }
                }
            }
        }
        Ok(n)
    }
}

// ---- openssl s_client --------------------------------------------------------------------------

/// What `openssl s_client` reported about one connection.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Its exit status was 0.
    pub exit_ok: bool,
    /// `TLSv1.2`, `TLSv1.3`…, from the `New, …`/`Reused, …` line; `None` when no session was
    /// established (`(NONE)`).
    pub protocol: Option<String>,
    /// The cipher suite (OpenSSL's name), from the same line.
    pub cipher: Option<String>,
    /// The session was resumed (`Reused, …`).
    pub reused: bool,
    /// `ALPN protocol: X` → `Some(X)`; `No ALPN negotiated` → `None`.
    pub alpn: Option<String>,
    /// The server certificate's `subject=` line, after the `=` (`CN = a.test`).
    pub subject: Option<String>,
    /// Its `issuer=` line, after the `=`.
    pub issuer: Option<String>,
    /// `Verify return code: N (…)` → N.
    pub verify_code: Option<u32>,
    /// Everything on stdout (the report and the server's bytes).
    pub stdout: String,
    /// Everything on stderr (errors, alerts).
    pub stderr: String,
}

impl Handshake {
    /// A session the server accepted: a protocol was agreed and no alert came. (s_client
    /// reports the protocol from the ServerHello on, so a handshake the server ends with an
    /// alert after it still names one.)
    pub fn established(&self) -> bool {
        self.protocol.is_some() && self.alert().is_none()
    }

    /// The alert the server sent, as OpenSSL names it in its error line (`tlsv1 alert
    /// protocol version` → `protocol version`), if the connection ended with one.
    pub fn alert(&self) -> Option<String> {
        let i = self.stderr.find(" alert ")?;
        // "…:tlsv13 alert certificate required:…" or "…:sslv3 alert handshake failure:…"
        let rest = &self.stderr[i + " alert ".len()..];
        Some(rest.split(':').next().unwrap_or_default().trim().to_owned())
    }

    /// Both outputs, for assertion messages.
    pub fn dump(&self) -> String {
        format!("--- s_client stdout\n{}\n--- s_client stderr\n{}", self.stdout, self.stderr)
    }

    /// The first PEM certificate in stdout (the server's, unless `-showcerts`).
    pub fn peer_pem(&self) -> Option<Vec<u8>> {
        let start = self.stdout.find("-----BEGIN CERTIFICATE-----")?;
        let end = self.stdout[start..].find("-----END CERTIFICATE-----")? + start + 25;
        Some(format!("{}\n", &self.stdout[start..end]).into_bytes())
    }
}

/// `openssl s_client -connect ADDR ARGS`, writing `input` once connected and waiting for the
/// server to close (`-ign_eof`: a request with `Connection: close` ends it), killed after
/// 20 s. Nothing is verified unless `ARGS` says so (`-CAfile`, `-verify_return_error`).
pub fn s_client(addr: SocketAddr, args: &[&str], input: &[u8]) -> Handshake {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string(), "-ign_eof"]).args(args);
    parse_s_client(run_fed(&mut cmd, input, PEER_LIMIT, None))
}

/// `s_client` that quits at the end of its input (no `-ign_eof`) after `hold` more of open
/// stdin: for handshakes that should fail, where no request is sent, and for TLS 1.3, where a
/// client that leaves at once may not wait for the server's alert.
pub fn s_client_brief(addr: SocketAddr, args: &[&str], hold: Duration) -> Handshake {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string()]).args(args);
    parse_s_client(run_fed(&mut cmd, b"", PEER_LIMIT, Some(hold)))
}

/// A request that ends the connection: `GET PATH` with `Connection: close`.
pub fn get_close(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

fn parse_s_client(out: Output) -> Handshake {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut h = Handshake {
        exit_ok: out.status.success(),
        protocol: None,
        cipher: None,
        reused: false,
        alpn: None,
        subject: None,
        issuer: None,
        verify_code: None,
        stdout,
        stderr,
    };
    for line in h.stdout.lines() {
        let line = line.trim();
        // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" / "Reused, TLSv1.2, Cipher is …"
        let session = line.strip_prefix("New, ").map(|r| (false, r));
        if let Some((reused, rest)) = session.or(line.strip_prefix("Reused, ").map(|r| (true, r))) {
            if let Some((proto, cipher)) = rest.split_once(", Cipher is ") {
                if proto != "(NONE)" {
                    h.protocol = Some(proto.to_owned());
                    h.cipher = Some(cipher.to_owned());
                    h.reused = reused;
                }
            }
        } else if let Some(p) = line.strip_prefix("ALPN protocol: ") {
            h.alpn = Some(p.to_owned());
        } else if let Some(s) = line.strip_prefix("subject=") {
            h.subject.get_or_insert_with(|| s.trim().to_owned());
        } else if let Some(s) = line.strip_prefix("issuer=") {
            h.issuer.get_or_insert_with(|| s.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("Verify return code: ") {
            h.verify_code = v.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    h
}

// ---- curl ----------------------------------------------------------------------------------------

/// What `curl` got over HTTPS.
#[derive(Debug, Clone)]
pub struct CurlResp {
    /// curl's exit status was 0.
    pub ok: bool,
    /// The status code (`%{http_code}`; 0 when there was no response).
    pub status: u16,
    /// The last response's header lines (`-D`), names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as written (`-o`), decoded if `--compressed` was given.
    pub body: Vec<u8>,
    /// curl's stderr.
    pub stderr: String,
}

impl CurlResp {
    /// The first field named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `curl --http1.1 --cacert CA https://HOST:PORT/PATH ARGS`, with HOST resolved to `addr`'s IP
/// (`--resolve`), so that SNI and verification use HOST.
pub fn curl_https(ca: &Path, addr: SocketAddr, host: &str, path: &str, args: &[&str]) -> CurlResp {
    let tmp = TempRoot::empty("curl");
    let (head, body) = (tmp.path("head"), tmp.path("body"));
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--http1.1", "--max-time", "20", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{host}:{}:{}", addr.port(), addr.ip()))
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(format!("https://{host}:{}{path}", addr.port()));
    let out = run_within(&mut cmd, PEER_LIMIT + Duration::from_secs(5), "curl");
    let head_text = std::fs::read_to_string(&head).unwrap_or_default();
    // With redirects or 100-continue, -D holds several heads: the last one is the answer.
    let last = head_text.split("\r\n\r\n").filter(|h| !h.trim().is_empty()).last().unwrap_or("");
    let headers = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    CurlResp {
        ok: out.status.success(),
        status: String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0),
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `pollux serve ROOT --tls-bind 127.0.0.1:0 --workers 1 --access-log off` with the
/// `localhost` certificate of `pki` as the default (`--cert`, `--key`) plus `extra`; waits for
/// its `https://` address and `plain` `http://` ones.
pub fn serve_https(root: &Path, pki: &Pki, extra: &[&str], plain: usize) -> Https {
    let mut cmd = https_command(root);
    cmd.args(["--workers", "1", "--access-log", "off"]).args(pki.cert_args("localhost")).args(extra);
    spawn_https(cmd, plain)
}
