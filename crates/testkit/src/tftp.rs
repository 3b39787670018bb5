//! TFTP peers for the black-box tests: the real `pollux tftp serve` on `127.0.0.1:0`,
//! tftpd-hpa's `in.tftpd` in the foreground on a free loopback port, and the other clients
//! (tftp-hpa's `tftp`, `atftp`, `pollux tftp get|put`), each run with a time limit.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::process::{pollux_bin, run_bounded, spawn_announced, Server};
use crate::retry::recv_from;

/// `pollux tftp serve DIR --bind 127.0.0.1:0 --workers 1` plus `extra` (which may replace the
/// address or the workers); waits for the address. Stderr (the log) is gathered.
pub fn serve(dir: &Path, extra: &[&str]) -> Server {
    serve_cmd(Command::new(pollux_bin()), dir, extra)
}

/// Like [`serve`] but from a prepared command (e.g. `ip netns exec NS pollux`).
pub fn serve_cmd(mut cmd: Command, dir: &Path, extra: &[&str]) -> Server {
    cmd.args(["tftp", "serve"]).arg(dir);
    if !extra.contains(&"--bind") {
        cmd.args(["--bind", "127.0.0.1:0"]);
    }
    if !extra.contains(&"--workers") {
        cmd.args(["--workers", "1"]);
    }
    cmd.args(extra);
    spawn_announced(cmd, "tftp://", 1).0.gather_stderr()
}

/// A loopback UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("bind a UDP port").port()
}

/// tftpd-hpa's `in.tftpd` in the foreground on a free loopback port, serving `dir`, as the
/// current user (we are root in CI, so `-u root`; otherwise the user running the tests), with
/// uploads creating files (`-c`) and the blksize cap at `max_blksize`. Ready once it answers.
pub fn in_tftpd(dir: &Path, max_blksize: u16) -> Server {
    let user = if uid() == 0 { "root".to_owned() } else { std::env::var("USER").unwrap_or_default() };
    for _ in 0..5 {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
        let mut child = Command::new("in.tftpd")
            .args(["--foreground", "--create", "--permissive", "--user", &user, "--secure"])
            .args(["--blocksize", &max_blksize.to_string(), "--address", &addr.to_string()])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("in.tftpd (apt-get install tftpd-hpa; scripts/test.sh does)");
        let stderr = child.stderr.take();
        let server = Server::new(child, addr, stderr).gather_stderr();
        // It prints nothing when ready: the readiness signal is its answer to a probe.
        if probe(addr) {
            return server;
        }
    }
    panic!("in.tftpd did not start");
}

/// Whether a TFTP server answers at `addr` (an RRQ for a missing file draws an ERROR).
pub fn probe(addr: SocketAddr) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
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
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(1)
}

/// Runs `pollux tftp ARGS…` with a time limit; the output.
pub fn pollux(args: &[&str]) -> Output {
    run_bounded(Command::new(pollux_bin()).arg("tftp").args(args), 120)
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
