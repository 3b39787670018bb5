//! `pollux udp send|listen` through the real binary: a datagram on loopback, the refusal to
//! broadcast without `--broadcast`, and a subnet broadcast between two network namespaces.
//!
//! ```text
//!   ns A: pollux udp send 10.214.N.255:PORT --broadcast
//!   10.214.N.1/24 vA ══ veth ══ vB 10.214.N.2/24
//!   ns B: pollux udp listen PORT --count 1      (bound to 0.0.0.0: gets the broadcast)
//! ```
//!
//! Loopback carries no broadcast, hence the namespaces. They are created and removed by the
//! test, which needs root and iproute2 for it: `#[ignore]`d, run as root by scripts/test.sh.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pollux_testkit::netns::ip;
use pollux_testkit::pollux_bin;

/// A listener process and the lines it prints, killed when dropped.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    /// Starts `cmd` (a `pollux udp listen`) and waits for its `listening on udp://` line.
    fn start(mut cmd: Command) -> Listener {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                let _ = tx.send(l);
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(10)).expect("the listener's address line");
        let addr = first
            .split("udp://")
            .nth(1)
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("not an address line: {first:?}"));
        Listener { child, lines, addr }
    }

    /// Waits (bounded) for the process to exit; its status.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        pollux_testkit::wait_exit(&mut self.child, Duration::from_secs(10))
            .expect("the listener did not exit")
    }
}

fn pollux(args: &[&str]) -> Output {
    Command::new(pollux_bin()).args(args).output().unwrap()
}

#[test]
fn listen_count_1_prints_a_datagram_from_udp_send_and_exits() {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["udp", "listen", "0", "--bind", "127.0.0.1", "--count", "1"]);
    let mut l = Listener::start(cmd);
    assert_eq!(l.addr.ip().to_string(), "127.0.0.1");
    let out = pollux(&["udp", "send", &l.addr.to_string(), "hello, datagram"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = l.lines.recv_timeout(Duration::from_secs(10)).unwrap();
    let (from, text) = line.split_once(": ").unwrap();
    assert!(from.parse::<SocketAddr>().unwrap().ip().is_loopback(), "{line}");
    assert_eq!(text, "hello, datagram");
    assert!(l.wait_exit().success());
}

#[test]
fn listen_prints_each_datagram_on_its_own_line() {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["udp", "listen", "0", "--bind", "127.0.0.1", "--count", "3"]);
    let mut l = Listener::start(cmd);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    for m in ["one\n", "two", "thr\u{e9}e"] {
        sock.send_to(m.as_bytes(), l.addr).unwrap();
    }
    for want in ["one", "two", "thr\u{e9}e"] {
        assert_eq!(l.lines.recv_timeout(Duration::from_secs(10)).unwrap(), format!("{me}: {want}"));
    }
    assert!(l.wait_exit().success());
}

#[test]
fn sending_to_a_broadcast_address_needs_the_flag() {
    let out = pollux(&["udp", "send", "255.255.255.255:9", "x"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs --broadcast"), "{err}");
}

/// Two namespaces joined by a veth pair, removed when dropped.
struct Veth {
    a: String,
    b: String,
    net: String,
}

impl Veth {
    /// Panics if namespaces cannot be made here (not root, no iproute2).
    fn new() -> Veth {
        let id = std::process::id() % 100_000;
        let v =
            Veth { a: format!("pxudp{id}a"), b: format!("pxudp{id}b"), net: format!("10.214.{}", id % 250) };
        assert!(ip(&["netns", "add", &v.a]), "`ip netns add` failed: this test needs root and iproute2");
        let (va, vb) = (format!("pxu{id}a"), format!("pxu{id}b"));
        let ok = ip(&["netns", "add", &v.b])
            && ip(&["link", "add", &va, "netns", &v.a, "type", "veth", "peer", "name", &vb, "netns", &v.b])
            && ip(&["-n", &v.a, "addr", "add", &format!("{}.1/24", v.net), "dev", &va])
            && ip(&["-n", &v.b, "addr", "add", &format!("{}.2/24", v.net), "dev", &vb])
            && ip(&["-n", &v.a, "link", "set", &va, "up"])
            && ip(&["-n", &v.b, "link", "set", &vb, "up"]);
        assert!(ok, "namespaces were created but the veth link could not be set up");
        v
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(pollux_bin()).args(args);
        cmd
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the pair.
        ip(&["netns", "del", &self.a]);
        ip(&["netns", "del", &self.b]);
    }
}

#[test]
#[ignore = "needs root and iproute2 (ip netns); scripts/test.sh runs it as root"]
fn a_subnet_broadcast_reaches_a_listener_in_another_namespace() {
    let v = Veth::new();
    let mut l = Listener::start(v.exec(&v.b, &["udp", "listen", "0", "--count", "1"]));
    assert!(l.addr.ip().is_unspecified(), "listening on the wildcard address: {}", l.addr);
    let target = format!("{}.255:{}", v.net, l.addr.port());
    // Without the flag the kernel refuses the broadcast address.
    let out = v.exec(&v.a, &["udp", "send", &target, "no flag"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --broadcast"));
    // The link may take a moment to come up: resend until the listener prints (bounded).
    let t = Instant::now();
    let line = loop {
        let out = v.exec(&v.a, &["udp", "send", &target, "hello, subnet", "--broadcast"]).output().unwrap();
        assert!(out.status.success(), "send failed: {}", String::from_utf8_lossy(&out.stderr));
        if let Ok(line) = l.lines.recv_timeout(Duration::from_millis(300)) {
            break line;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no broadcast arrived in 10 s");
    };
    let (from, text) = line.split_once(": ").unwrap();
    assert_eq!(from.parse::<SocketAddr>().unwrap().ip().to_string(), format!("{}.1", v.net));
    assert_eq!(text, "hello, subnet");
    assert!(l.wait_exit().success());
}
