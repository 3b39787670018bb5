//! `pollux echo` through the real binary: TCP and UDP, plain and `--upper`, against `socat`
//! and raw std sockets; and backpressure — a client that writes without reading is stopped by
//! TCP flow control instead of growing the server.
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{
    byte_pattern, pollux_bin, recv_from, rss_kib, socat_io, spawn_bound, tcp_round_trip, wait_exit,
    ReadRetry, Server,
};

fn echo(extra: &[&str], scheme: &str, count: usize) -> (Server, Vec<SocketAddr>) {
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("echo").args(extra);
    if !extra.contains(&"--bind") {
        cmd.args(["--bind", "127.0.0.1:0"]);
    }
    spawn_bound(cmd, scheme, count)
}

#[test]
fn tcp_echo_answers_socat_byte_for_byte_and_closes_after_the_client() {
    let (_server, addrs) = echo(&["--workers", "2"], "tcp://", 1);
    let data = byte_pattern(300_000, 1);
    let got = socat_io(&["-t", "5", "-", &format!("TCP:{}", addrs[0])], &data);
    assert!(got == data, "socat got {} bytes back of {}", got.len(), data.len());
    assert_eq!(socat_io(&["-t", "5", "-", &format!("TCP:{}", addrs[0])], b"hello\n"), b"hello\n");
}

#[test]
fn tcp_echo_serves_raw_clients_at_once_on_every_bind_address() {
    let (_server, addrs) =
        echo(&["--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--workers", "2"], "tcp://", 2);
    assert_ne!(addrs[0], addrs[1]);
    let handles: Vec<_> = (0..8u32)
        .map(|i| {
            let addr = addrs[i as usize % 2];
            std::thread::spawn(move || {
                let data = byte_pattern(1 << 20, i + 10);
                assert!(tcp_round_trip(addr, &data) == data, "client {i}: echo differs");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn tcp_upper_answers_in_upper_case() {
    let (_server, addrs) = echo(&["--upper"], "tcp://", 1);
    let got = socat_io(&["-t", "5", "-", &format!("TCP:{}", addrs[0])], "hello, wörld 42\n".as_bytes());
    assert_eq!(String::from_utf8(got).unwrap(), "HELLO, WöRLD 42\n");
    let mut s = TcpStream::connect(addrs[0]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"abc").unwrap();
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ABC", "answers come as bytes arrive, not at the end");
}

#[test]
fn udp_echo_answers_socat_and_raw_datagrams() {
    let (_server, addrs) = echo(&["--udp", "--workers", "2"], "udp://", 1);
    let got = socat_io(&["-t", "2", "-", &format!("UDP:{}", addrs[0])], b"hello over udp\n");
    assert_eq!(got, b"hello over udp\n");
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 65_536];
    for (i, len) in [1usize, 100, 1400, 9000, 65_507].into_iter().enumerate() {
        let d = byte_pattern(len, i as u32);
        c.send_to(&d, addrs[0]).unwrap();
        let (n, from) = recv_from(&c, &mut buf).unwrap();
        assert_eq!(from, addrs[0]);
        assert!(buf[..n] == d[..], "datagram of {len} bytes echoed differently");
    }
}

#[test]
fn udp_upper_answers_in_upper_case() {
    let (_server, addrs) = echo(&["--udp", "--upper"], "udp://", 1);
    let got = socat_io(&["-t", "2", "-", &format!("UDP:{}", addrs[0])], b"shout this\n");
    assert_eq!(got, b"SHOUT THIS\n");
}

#[test]
fn a_client_that_writes_without_reading_is_held_back_and_others_are_served() {
    let (server, addrs) = echo(&["--workers", "1"], "tcp://", 1);
    let pid = server.child.id();
    let addr = addrs[0];
    let before = rss_kib(pid);
    // Write up to 64 MiB and never read: once the kernel buffers on both sides are full the
    // server must stop reading us, and our write must block.
    let mut hog = TcpStream::connect(addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut written = 0usize;
    let mut peak = before;
    let t = Instant::now();
    let blocked = loop {
        if written >= 64 << 20 || t.elapsed() > Duration::from_secs(30) {
            break false;
        }
        match hog.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break true,
            Err(e) => panic!("write failed after {written} bytes: {e}"),
        }
        peak = peak.max(rss_kib(pid));
    };
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss_kib(pid));
    }
    eprintln!(
        "hog wrote {} KiB before blocking; server VmRSS {before} KiB → peak {peak} KiB",
        written / 1024
    );
    assert!(blocked, "64 MiB went in without the server pushing back ({} KiB)", written / 1024);
    assert!(peak < before + 16 * 1024, "server grew from {before} KiB to {peak} KiB");
    // Another client on the same worker is still answered.
    let data = byte_pattern(100_000, 7);
    assert!(tcp_round_trip(addr, &data) == data);
    // And the hog gets its echo once it reads: nothing was lost, only held back.
    hog.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut echoed = 0;
    while echoed < written {
        let n = hog.read_retry(&mut buf).unwrap();
        assert!(n > 0, "echo ended after {echoed} of {written} bytes");
        assert!(buf[..n].iter().all(|&b| b == b'x'));
        echoed += n;
    }
}

#[test]
fn sigterm_closes_connections_and_exits_cleanly_tcp_and_udp() {
    for (flags, scheme) in [(&[][..], "tcp://"), (&["--udp"][..], "udp://")] {
        let (mut server, addrs) = echo(flags, scheme, 1);
        let mut idle = None;
        if scheme == "tcp://" {
            let mut s = TcpStream::connect(addrs[0]).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"ping").unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            idle = Some(s);
        }
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) }, 0);
        let status = wait_exit(&mut server.child, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{scheme} echo did not exit on SIGTERM"));
        assert!(status.success(), "{scheme}: {status}");
        if let Some(mut s) = idle {
            let mut rest = Vec::new();
            assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "the connection is closed");
        }
    }
}

#[test]
#[ignore = "needs an IPv6 loopback (::1); scripts/test.sh runs it where there is one"]
fn tcp_and_udp_echo_over_ipv6_loopback() {
    std::net::TcpListener::bind("[::1]:0").expect("this test needs an IPv6 loopback (::1)");
    let (_tcp, t) = echo(&["--bind", "[::1]:0"], "tcp://", 1);
    assert_eq!(tcp_round_trip(t[0], b"over six"), b"over six");
    let (_udp, u) = echo(&["--udp", "--bind", "[::1]:0"], "udp://", 1);
    let c = UdpSocket::bind("[::1]:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.send_to(b"six", u[0]).unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = recv_from(&c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"six");
}
