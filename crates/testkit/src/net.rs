//! Small raw-socket clients: a TCP round trip through an echo, and socat.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Sends `data` to a TCP echo at `addr` from one thread while reading on this one, closes
/// the writing side, and returns everything read until the server closed.
pub fn tcp_round_trip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let owned = data.to_vec();
    let writer = std::thread::spawn(move || {
        w.write_all(&owned).expect("write");
        w.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read the echo");
    writer.join().expect("writer");
    out
}

/// Runs `socat ARGS` with `input` on its stdin and returns its stdout (socat must succeed).
pub fn socat_io(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("socat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run socat (scripts/test.sh installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("socat");
    writer.join().expect("writer");
    assert!(out.status.success(), "socat {args:?} failed");
    out.stdout
}
