//! Helpers for the TFTP black-box tests: the real `pollux tftp serve` on `127.0.0.1:0`, tftpd-hpa's
//! `in.tftpd` in the foreground on a free loopback port, the other clients, and test files.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[path = "../io_retry/mod.rs"]
mod io_retry;
pub use io_retry::recv_from;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn pollux_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pollux"))
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let p = std::env::temp_dir().join(format!("pollux-tftp-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p.canonicalize().unwrap())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` pseudo-random bytes (xorshift; the same for the same seed).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Compares two files without printing megabytes on failure.
pub fn assert_same_file(a: &Path, b: &Path) {
    let x = std::fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let y = std::fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert_eq!(x.len(), y.len(), "{} and {} differ in size", a.display(), b.display());
    if let Some(i) = x.iter().zip(&y).position(|(p, q)| p != q) {
        panic!("{} and {} differ at byte {i}", a.display(), b.display());
    }
}

/// A child process killed when dropped, with its stderr collected.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl Proc {
    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `needle` (at most `secs` seconds); returns the log.
    pub fn wait_log(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
}

/// `pollux tftp serve DIR --bind 127.0.0.1:0 --workers 1` plus `extra` (which may replace the
/// address or the workers); waits for the address.
pub fn serve(dir: &Path, extra: &[&str]) -> Proc {
    serve_cmd(Command::new(pollux_bin()), dir, extra)
}

/// Like [`serve`] but from a prepared command (e.g. `ip netns exec NS pollux`).
pub fn serve_cmd(mut cmd: Command, dir: &Path, extra: &[&str]) -> Proc {
    cmd.args(["tftp", "serve"]).arg(dir);
    if !extra.contains(&"--bind") {
        cmd.args(["--bind", "127.0.0.1:0"]);
    }
    if !extra.contains(&"--workers") {
        cmd.args(["--workers", "1"]);
    }
    cmd.args(extra).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn pollux tftp serve");
    let log = collect(child.stderr.take().unwrap());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("server exited before printing its address").unwrap();
    let at = line.find("tftp://").unwrap_or_else(|| panic!("no address in {line:?}"));
    let addr: SocketAddr = line[at + 7..].trim().parse().unwrap();
    std::thread::spawn(move || for _ in lines {});
    Proc { child, addr, log }
}

/// A loopback UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// tftpd-hpa's `in.tftpd` in the foreground on a free loopback port, serving `dir`, as the
/// current user (we are root in CI, so `-u root`; otherwise the user running the tests), with
/// uploads creating files (`-c`) and the blksize cap at `max_blksize`.
pub fn in_tftpd(dir: &Path, max_blksize: u16) -> Proc {
    let user = if uid() == 0 { "root".to_owned() } else { std::env::var("USER").unwrap_or_default() };
    for _ in 0..5 {
        let port = free_udp_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = Command::new("in.tftpd")
            .args(["--foreground", "--create", "--permissive", "--user", &user, "--secure"])
            .args(["--blocksize", &max_blksize.to_string(), "--address", &addr.to_string()])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("in.tftpd (apt-get install tftpd-hpa; scripts/test.sh does)");
        let log = collect(child.stderr.take().unwrap());
        let proc = Proc { child, addr, log };
        if probe(addr) {
            return proc;
        }
    }
    panic!("in.tftpd did not start");
}

/// Whether a TFTP server answers at `addr` (an RRQ for a missing file draws an ERROR).
pub fn probe(addr: SocketAddr) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 1024];
    for _ in 0..25 {
        let _ = s.send_to(b"\x00\x01no-such-file-probe\0octet\0", addr);
        if let Ok((n, _)) = recv_from(&s, &mut buf) {
            return n >= 4;
        }
    }
    false
}

/// The user id, from `id -u` (no unsafe libc call in the tests).
pub fn uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(1)
}

/// Runs `pollux tftp ARGS…` with a time limit; the output.
pub fn pollux(args: &[&str]) -> Output {
    run_bounded(Command::new(pollux_bin()).arg("tftp").args(args), 120)
}

/// Runs `cmd` to completion, killing it after `secs` seconds.
pub fn run_bounded(cmd: &mut Command, secs: u64) -> Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Let the readers see end of file.
    std::thread::sleep(Duration::from_millis(20));
    let stdout = out.lock().unwrap().clone().into_bytes();
    let stderr = err.lock().unwrap().clone().into_bytes();
    Output { status, stdout, stderr }
}

/// Panics with the output unless the command succeeded.
pub fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// tftp-hpa's client: `tftp -m MODE HOST PORT -c get|put A B`.
pub fn hpa(addr: SocketAddr, mode: &str, command: &[&str]) -> Output {
    let mut cmd = Command::new("tftp");
    cmd.args(["-m", mode, &addr.ip().to_string(), &addr.port().to_string(), "-c"]).args(command);
    run_bounded(&mut cmd, 120)
}

/// atftp: `atftp [--option …] -g|-p -l LOCAL -r REMOTE HOST PORT`.
pub fn atftp(addr: SocketAddr, args: &[&str]) -> Output {
    let mut cmd = Command::new("atftp");
    cmd.args(args).args([&addr.ip().to_string(), &addr.port().to_string()]);
    run_bounded(&mut cmd, 120)
}

/// curl with a time limit.
pub fn curl(args: &[&str]) -> Output {
    run_bounded(Command::new("curl").args(["-sS", "--max-time", "60"]).args(args), 90)
}
