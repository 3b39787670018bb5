//! HTTP/2 peers for the h2 tests: the real clients a user or an attacker would point at the
//! server, each run bounded in time, with what they print parsed into plain structs.
//!
//! ```text
//!   curl_h2 ── curl --http2-prior-knowledge (h2c) / --http2 (TLS, ALPN) ──┐
//!   nghttp  ── nghttp -nv: every frame both ways → Trace ─────────────────┤
//!   h2load  ── h2load: requests, status classes, traffic → H2load ────────┼─► the server
//!   python  ── tests/h2/*.py on Python's `h2` package (a virtualenv) ─────┤
//!   httpwg  ── httpwg-cli, the RFC 9113 conformance cases ────────────────┘
//!   RssWatch ── the server's resident memory, sampled while a peer runs
//! ```
//!
//! Nothing here speaks HTTP/2 itself: what the tests see is what those peers see.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::data::TempRoot;
use crate::process::{check, run_within};
use crate::procfs::rss_kib;

/// The repository's root (this crate lives in `crates/testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

// ---- curl ------------------------------------------------------------------------------------

/// How a request reaches the server.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// h2c with prior knowledge on a plain listener: `http://127.0.0.1:PORT`.
    H2c(SocketAddr),
    /// HTTPS to `localhost` (resolved to the address), verified against the CA `ca`; curl
    /// offers `h2` and `http/1.1` by ALPN.
    Tls(SocketAddr, &'a Path),
}

impl Via<'_> {
    /// The URL of `path` and the curl arguments that go with it.
    pub fn url_and_args(&self, path: &str) -> (String, Vec<String>) {
        match *self {
            Via::H2c(addr) => (format!("http://{addr}{path}"), vec!["--http2-prior-knowledge".into()]),
            Via::Tls(addr, ca) => (
                format!("https://localhost:{}{path}", addr.port()),
                vec![
                    "--http2".into(),
                    "--cacert".into(),
                    ca.display().to_string(),
                    "--resolve".into(),
                    format!("localhost:{}:{}", addr.port(), addr.ip()),
                ],
            ),
        }
    }
}

/// What one `curl` transfer got.
#[derive(Debug, Clone)]
pub struct H2Resp {
    /// curl's exit status was 0.
    pub ok: bool,
    /// curl's exit code (0 on success; 16 is "HTTP/2 framing layer", 56 "receive failure").
    pub exit: Option<i32>,
    /// `%{http_code}` (0 without a response).
    pub status: u16,
    /// `%{http_version}`: `2` for HTTP/2, `1.1`…
    pub version: String,
    /// The status line as written by `-D` (`HTTP/2 200`).
    pub status_line: String,
    /// The response's fields (`-D`), names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (`-o`).
    pub body: Vec<u8>,
    /// curl's stderr.
    pub stderr: String,
}

impl H2Resp {
    /// The first field named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `curl` for `path` over `via` with `args` (e.g. `-r 0-99`, `--data-binary @FILE`), killed
/// after 60 s.
pub fn curl_h2(via: Via<'_>, path: &str, args: &[&str]) -> H2Resp {
    let tmp = TempRoot::empty("curl-h2");
    let (head, body) = (tmp.path("head"), tmp.path("body"));
    let (url, via_args) = via.url_and_args(path);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "50"])
        .args(&via_args)
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code} %{http_version}"])
        .args(args)
        .arg(url);
    let out = run_within(&mut cmd, Duration::from_secs(60), "curl");
    let head_text = std::fs::read_to_string(&head).unwrap_or_default();
    // Interim answers (100 Continue) come first: the last head is the response.
    let last = head_text.split("\r\n\r\n").filter(|h| !h.trim().is_empty()).last().unwrap_or("");
    let mut lines = last.lines();
    let status_line = lines.next().unwrap_or("").trim().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let w = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut w = w.split_whitespace();
    H2Resp {
        ok: out.status.success(),
        exit: out.status.code(),
        status: w.next().and_then(|s| s.parse().ok()).unwrap_or(0),
        version: w.next().unwrap_or("").to_owned(),
        status_line,
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---- nghttp ----------------------------------------------------------------------------------

/// One frame in an `nghttp -nv` trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFrame {
    /// We sent it (`send`) rather than received it (`recv`).
    pub sent: bool,
    /// `SETTINGS`, `HEADERS`, `DATA`, `WINDOW_UPDATE`, `GOAWAY`…
    pub kind: String,
    /// The payload length.
    pub length: u32,
    /// The flags byte.
    pub flags: u8,
    /// The stream.
    pub stream: u32,
    /// The indented lines nghttp prints under the frame (`[SETTINGS_…(0x03):100]`,
    /// `(window_size_increment=…)`, `(last_stream_id=…, error_code=…)`), trimmed.
    pub details: Vec<String>,
}

impl TraceFrame {
    /// The value nghttp prints as `NAME=VALUE` in the details (`window_size_increment`,
    /// `last_stream_id`, `error_code` — for which the name is returned, `NO_ERROR(0x00)`).
    pub fn field(&self, name: &str) -> Option<String> {
        let key = format!("{name}=");
        self.details.iter().find_map(|d| {
            let i = d.find(&key)?;
            let rest = &d[i + key.len()..];
            let mut v = rest[..rest.find(',').unwrap_or(rest.len())].trim();
            // The last field's value runs into the closing parenthesis of the list.
            if v.matches(')').count() > v.matches('(').count() {
                v = &v[..v.len() - 1];
            }
            Some(v.to_owned())
        })
    }

    /// The numeric `field`.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.field(name)?.parse().ok()
    }

    /// A SETTINGS frame's parameters: `("SETTINGS_MAX_CONCURRENT_STREAMS", 100)`…
    pub fn settings(&self) -> Vec<(String, u64)> {
        self.details
            .iter()
            .filter_map(|d| {
                let d = d.strip_prefix('[')?.strip_suffix(']')?;
                let (name, value) = d.rsplit_once(':')?;
                let name = name.split('(').next()?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect()
    }
}

/// An `nghttp -nv` run: its frames in order, and the process's output.
#[derive(Debug)]
pub struct Trace {
    /// Every frame, both ways.
    pub frames: Vec<TraceFrame>,
    /// The process's output (stdout holds the trace).
    pub out: Output,
}

impl Trace {
    /// The frames of kind `kind` we received.
    pub fn received(&self, kind: &str) -> Vec<&TraceFrame> {
        self.frames.iter().filter(|f| !f.sent && f.kind == kind).collect()
    }

    /// The frames of kind `kind` we sent.
    pub fn sent(&self, kind: &str) -> Vec<&TraceFrame> {
        self.frames.iter().filter(|f| f.sent && f.kind == kind).collect()
    }

    /// The trace as nghttp printed it, for assertion messages (cut to `max` bytes).
    pub fn text(&self, max: usize) -> String {
        let t = String::from_utf8_lossy(&self.out.stdout);
        let cut = t.char_indices().nth(max).map_or(t.len(), |(i, _)| i);
        format!(
            "{}{}\n--- stderr\n{}",
            &t[..cut],
            if cut < t.len() { "\n[…]" } else { "" },
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

/// Parses nghttp's verbose output: a frame is a line `[  t.ttt] send|recv KIND frame <length=N,
/// flags=0xNN, stream_id=N>` followed by indented detail lines.
pub fn parse_nghttp(text: &str) -> Vec<TraceFrame> {
    let mut frames: Vec<TraceFrame> = Vec::new();
    let mut in_frame = false;
    for line in text.lines() {
        let head = line.split_once("] ").map(|(_, rest)| rest);
        if let Some(rest) = head.filter(|_| line.starts_with('[')) {
            in_frame = false;
            let (sent, rest) = match rest.split_once(' ') {
                Some(("send", r)) => (true, r),
                Some(("recv", r)) => (false, r),
                _ => continue,
            };
            let Some((kind, attrs)) = rest.split_once(" frame <") else { continue };
            let attr = |name: &str| {
                attrs.split([',', '>']).find_map(|a| a.trim().strip_prefix(name)).map(str::to_owned)
            };
            let length = attr("length=").and_then(|v| v.parse().ok()).unwrap_or(0);
            let flags = attr("flags=0x").and_then(|v| u8::from_str_radix(&v, 16).ok()).unwrap_or(0);
            let stream = attr("stream_id=").and_then(|v| v.parse().ok()).unwrap_or(0);
            frames.push(TraceFrame {
                sent,
                kind: kind.to_owned(),
                length,
                flags,
                stream,
                details: Vec::new(),
            });
            in_frame = true;
        } else if in_frame && line.starts_with(' ') {
            if let Some(f) = frames.last_mut() {
                f.details.push(line.trim().to_owned());
            }
        } else {
            in_frame = false;
        }
    }
    frames
}

/// `nghttp -nv ARGS URL…` (`-n`: bodies are discarded unless `-O`), killed after `limit`.
pub fn nghttp(args: &[&str], urls: &[String], limit: Duration) -> Trace {
    let mut cmd = Command::new("nghttp");
    cmd.args(["-nv"]).args(args).args(urls);
    let out = run_within(&mut cmd, limit, "nghttp (scripts/test.sh installs nghttp2-client)");
    Trace { frames: parse_nghttp(&String::from_utf8_lossy(&out.stdout)), out }
}

// ---- h2load ----------------------------------------------------------------------------------

/// What `h2load` reported.
#[derive(Debug, Clone, Default)]
pub struct H2load {
    /// `requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout`.
    pub total: u64,
    /// Requests done.
    pub done: u64,
    /// Requests that succeeded (a response, any status).
    pub succeeded: u64,
    /// Failed requests.
    pub failed: u64,
    /// Requests that errored (the connection failed under them).
    pub errored: u64,
    /// `status codes: N 2xx, N 3xx, N 4xx, N 5xx`.
    pub status: [u64; 4],
    /// `traffic: … (N) total`: bytes received, frames and all.
    pub traffic_total: u64,
    /// `… (N) data`: DATA payload bytes received.
    pub data: u64,
    /// The negotiated protocol line (`Application protocol: h2` / `h2c`).
    pub protocol: String,
    /// The whole output, for assertion messages.
    pub text: String,
}

/// Parses h2load's summary.
pub fn parse_h2load(text: &str) -> H2load {
    let mut r = H2load { text: text.to_owned(), ..H2load::default() };
    // "N word" pairs after the label, in the order h2load prints them.
    let numbers = |rest: &str| -> Vec<u64> {
        rest.split(',').filter_map(|p| p.split_whitespace().next().and_then(|n| n.parse().ok())).collect()
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("requests:") {
            let n = numbers(rest);
            if n.len() >= 6 {
                (r.total, r.done, r.succeeded, r.failed, r.errored) = (n[0], n[2], n[3], n[4], n[5]);
            }
        } else if let Some(rest) = line.strip_prefix("status codes:") {
            let n = numbers(rest);
            for (i, v) in n.iter().take(4).enumerate() {
                r.status[i] = *v;
            }
        } else if let Some(rest) = line.strip_prefix("traffic:") {
            // "21.08MB (22106332) total, 215.65KB (220832) headers (space savings 95.00%), 20.00MB (20480000) data"
            let paren = |label: &str| -> u64 {
                rest.split(',')
                    .find(|p| p.trim_end().ends_with(label))
                    .and_then(|p| p.split_once('(')?.1.split_once(')')?.0.parse().ok())
                    .unwrap_or(0)
            };
            r.traffic_total = paren("total");
            r.data = paren("data");
        } else if let Some(p) = line.strip_prefix("Application protocol:") {
            r.protocol = p.trim().to_owned();
        }
    }
    r
}

/// `h2load ARGS URL`, killed after `limit` (the test fails then).
pub fn h2load(args: &[&str], url: &str, limit: Duration) -> H2load {
    let mut cmd = Command::new("h2load");
    cmd.args(args).arg(url);
    let out = run_within(&mut cmd, limit, "h2load (scripts/test.sh installs nghttp2-client)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    check(&out, &format!("h2load {args:?} {url}"));
    parse_h2load(&text)
}

// ---- Python's h2 package ----------------------------------------------------------------------

/// The virtualenv's python with the packages of tests/h2/requirements.txt (Python's `h2`),
/// made once per test binary by `scripts/python-env.sh target/h2-venv REQUIREMENT…` (idempotent:
/// quick when it is up to date; scripts/test.sh makes it up front).
pub fn h2_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = repo_root();
            let venv = root.join("target/h2-venv");
            let reqs = std::fs::read_to_string(root.join("tests/h2/requirements.txt")).expect("tests/h2/requirements.txt");
            let mut cmd = Command::new(root.join("scripts/python-env.sh"));
            cmd.arg(&venv).args(reqs.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')));
            let out = run_within(&mut cmd, Duration::from_secs(600), "scripts/python-env.sh target/h2-venv");
            assert!(
                out.status.success(),
                "scripts/python-env.sh {} failed ({}): it needs python3 with venv and pip, and PyPI reachable\n{}",
                venv.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            venv.join("bin/python")
        })
        .clone()
}

/// Runs `tests/h2/SCRIPT ARGS` with [`h2_python`], killed (and the test failed) after `limit`;
/// its output.
pub fn h2_script(script: &str, args: &[&str], limit: Duration) -> Output {
    let mut cmd = h2_script_command(script, args);
    run_within(&mut cmd, limit, script)
}

/// The command [`h2_script`] runs, for a test that must watch the script while it runs.
pub fn h2_script_command(script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(h2_python());
    cmd.arg(repo_root().join("tests/h2").join(script)).args(args).env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// The last line of a script's stdout (its JSON report); panics with both outputs when there
/// is none.
pub fn last_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(l) => l.to_owned(),
        None => {
            panic!("no report on stdout ({}); stderr:\n{}", out.status, String::from_utf8_lossy(&out.stderr))
        }
    }
}

// ---- httpwg-cli --------------------------------------------------------------------------------

/// The `httpwg` binary of `cargo install --locked httpwg-cli` (scripts/test.sh installs it):
/// on PATH, else in cargo's bin directory.
pub fn httpwg_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("httpwg")).find(|p| p.is_file()))
        .unwrap_or_default();
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin/httpwg"));
    on_path.or(home.filter(|p| p.is_file())).unwrap_or_else(|| {
        panic!("httpwg not found on PATH or in ~/.cargo/bin: scripts/test.sh installs it (cargo install --locked httpwg-cli)")
    })
}

// ---- memory ----------------------------------------------------------------------------------

/// Samples a process's resident set every 20 ms on a thread until [`RssWatch::stop`]: the
/// largest value seen, so a peak between two looks of the test is not missed (no event
/// announces memory growth, so this is one of the few places that polls).
#[derive(Debug)]
pub struct RssWatch {
    /// VmRSS when the watch started, in KiB.
    pub start_kib: u64,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl RssWatch {
    /// Starts watching `pid`.
    pub fn start(pid: u32) -> RssWatch {
        let start_kib = rss_kib(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(rss_kib(pid))
        });
        RssWatch { start_kib, stop, thread: Some(thread) }
    }

    /// Stops the sampling: the peak VmRSS seen, in KiB.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped like nghttp 1.52's `-nv` output (times, frames, detail lines, header lines).
    const TRACE: &str = "\
[  0.000] Connected
[  0.001] send SETTINGS frame <length=12, flags=0x00, stream_id=0>
          (niv=2)
          [SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]
          [SETTINGS_INITIAL_WINDOW_SIZE(0x04):16383]
[  0.002] recv SETTINGS frame <length=18, flags=0x00, stream_id=0>
          (niv=3)
          [SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]
          [SETTINGS_INITIAL_WINDOW_SIZE(0x04):262144]
          [SETTINGS_MAX_HEADER_LIST_SIZE(0x06):32768]
[  0.002] recv WINDOW_UPDATE frame <length=4, flags=0x00, stream_id=0>
          (window_size_increment=983041)
[  0.003] recv (stream_id=1) :status: 200
[  0.003] recv HEADERS frame <length=104, flags=0x04, stream_id=1>
          ; END_HEADERS
          (padlen=0)
          ; First response header
[  0.004] recv DATA frame <length=3, flags=0x01, stream_id=1>
          ; END_STREAM
[  0.004] send GOAWAY frame <length=8, flags=0x00, stream_id=0>
          (last_stream_id=0, error_code=NO_ERROR(0x00), opaque_data(0)=[])
";

    #[test]
    fn an_nghttp_trace_becomes_frames_with_their_details() {
        let f = parse_nghttp(TRACE);
        let kinds: Vec<_> = f.iter().map(|f| (f.sent, f.kind.as_str(), f.stream)).collect();
        assert_eq!(
            kinds,
            [
                (true, "SETTINGS", 0),
                (false, "SETTINGS", 0),
                (false, "WINDOW_UPDATE", 0),
                (false, "HEADERS", 1),
                (false, "DATA", 1),
                (true, "GOAWAY", 0)
            ]
        );
        assert_eq!(
            f[1].settings(),
            [
                ("SETTINGS_MAX_CONCURRENT_STREAMS".to_owned(), 100),
                ("SETTINGS_INITIAL_WINDOW_SIZE".to_owned(), 262144),
                ("SETTINGS_MAX_HEADER_LIST_SIZE".to_owned(), 32768)
            ]
        );
        assert_eq!(f[2].number("window_size_increment"), Some(983041));
        assert_eq!((f[3].length, f[3].flags), (104, 0x04));
        assert_eq!((f[4].length, f[4].flags), (3, 0x01));
        assert_eq!(f[5].field("error_code").as_deref(), Some("NO_ERROR(0x00)"));
        assert_eq!(f[5].number("last_stream_id"), Some(0));
    }

    #[test]
    fn an_h2load_summary_gives_its_counts() {
        let text = "finished in 147.75ms, 13536.75 req/s, 14.86MB/s\n\
requests: 2000 total, 2000 started, 1999 done, 1998 succeeded, 2 failed, 1 errored, 0 timeout\n\
status codes: 1990 2xx, 0 3xx, 8 4xx, 0 5xx\n\
traffic: 2.20MB (2302392) total, 212.89KB (218000) headers (space savings 39.11%), 1.95MB (2048000) data\n\
Application protocol: h2c\n";
        let r = parse_h2load(text);
        assert_eq!((r.total, r.done, r.succeeded, r.failed, r.errored), (2000, 1999, 1998, 2, 1));
        assert_eq!(r.status, [1990, 0, 8, 0]);
        assert_eq!((r.traffic_total, r.data), (2302392, 2048000));
        assert_eq!(r.protocol, "h2c");
    }
}
