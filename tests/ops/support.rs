//! What tests/ops_metrics.rs and tests/ops_status_browser.rs share: a server with the admin
//! listener, and scraping `/metrics` through Python's `prometheus_client` parser.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use pollux_testkit::process::spawn_announced;
use pollux_testkit::{pollux_bin, run_within, Server};

/// A server started with `--admin 127.0.0.1:0`: the supervisor prints the admin URL first,
/// then the serving one.
pub(crate) struct Admin {
    pub(crate) server: Server,
    pub(crate) admin: std::net::SocketAddr,
    pub(crate) http: std::net::SocketAddr,
}

/// `pollux serve ROOT --bind 127.0.0.1:0 --admin 127.0.0.1:0` plus `extra`.
pub(crate) fn serve_with_admin(root: &std::path::Path, extra: &[&str]) -> Admin {
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(root).args(["--bind", "127.0.0.1:0", "--admin", "127.0.0.1:0"]).args(extra);
    let (server, addrs) = spawn_announced(cmd, "http://", 2);
    Admin { server, admin: addrs[0], http: addrs[1] }
}

/// GET `path` from the admin listener: (status, body).
pub(crate) fn admin_get(admin: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = pollux_testkit::request(admin, &format!("GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n"));
    (r.status, r.text())
}

/// The virtualenv's python with tests/ops/requirements.txt (prometheus_client), made once per
/// test binary by `scripts/python-env.sh target/obs-venv …` (scripts/test.sh makes it up front).
pub(crate) fn ops_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = pollux_testkit::h2::repo_root();
            let venv = root.join("target/obs-venv");
            let reqs = std::fs::read_to_string(root.join("tests/ops/requirements.txt")).expect("requirements");
            let mut cmd = Command::new(root.join("scripts/python-env.sh"));
            cmd.arg(&venv).args(reqs.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')));
            let out = run_within(&mut cmd, Duration::from_secs(600), "scripts/python-env.sh target/obs-venv");
            assert!(
                out.status.success(),
                "scripts/python-env.sh failed ({}): it needs python3 with venv and pip, and PyPI reachable\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            venv.join("bin/python")
        })
        .clone()
}

/// `/metrics`, parsed by prometheus_client.
pub(crate) struct Scrape {
    pub(crate) families: serde_json::Map<String, serde_json::Value>,
    pub(crate) samples: Vec<(String, serde_json::Map<String, serde_json::Value>, f64)>,
}

impl Scrape {
    /// The value of the sample `name` whose labels include all of `labels`; panics if none.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?} in the scrape"))
    }

    pub(crate) fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| {
                n == name && labels.iter().all(|(k, v)| l.get(*k).and_then(|x| x.as_str()) == Some(*v))
            })
            .map(|s| s.2)
    }

    /// Every sample of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<&(String, serde_json::Map<String, serde_json::Value>, f64)> {
        self.samples.iter().filter(|s| s.0 == name).collect()
    }
}

/// Scrapes the admin listener's `/metrics` and parses it with the reference parser.
pub(crate) fn scrape(admin: std::net::SocketAddr) -> Scrape {
    let r = pollux_testkit::request(admin, "GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n");
    assert_eq!(r.status, 200, "GET /metrics");
    assert!(
        r.header("content-type").is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "the content type of text format 0.0.4: {:?}",
        r.header("content-type")
    );
    parse(&r.text())
}

/// Parses an exposition with prometheus_client (tests/ops/metrics.py).
pub(crate) fn parse(text: &str) -> Scrape {
    use std::io::Write;
    let mut cmd = Command::new(ops_python());
    cmd.arg(pollux_testkit::h2::repo_root().join("tests/ops/metrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn python");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write exposition");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "prometheus_client rejected the page:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json from metrics.py");
    let families = v["families"].as_object().cloned().unwrap_or_default();
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| {
            (
                s[0].as_str().unwrap_or("").to_owned(),
                s[1].as_object().cloned().unwrap_or_default(),
                s[2].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    Scrape { families, samples }
}
