//! Transfers over a lossy link, between two network namespaces joined through veth pairs: 10% of
//! packets lost, 5% reordered, 2% duplicated, in both directions. Downloads and uploads,
//! lock-step and windowed, must come out byte-identical.
//!
//! ```text
//!   ns A: pollux tftp serve          ns M: the faulty link           ns B: pollux tftp get|put
//!   10.213.0.1 vA ══ veth ══ mA ── netem, or a frame relay ── mB ══ veth ══ vB 10.213.0.2
//! ```
//!
//! The faults come from `tc qdisc … netem` on both ends of the link where the kernel has
//! netem. Where it has not (this project's CI kernel ships neither netem nor the gact action),
//! a small frame relay in the middle namespace does the same job: it forwards Ethernet frames
//! between `mA` and `mB` over AF_PACKET sockets and drops, holds back (reorders) and
//! duplicates IPv4 frames at the same rates; ARP passes untouched so that neighbour discovery
//! does not dominate the run. GSO is off on the veths (`gso_max_segs 1`) so the relay sees
//! one datagram per frame, as a real wire would carry them, and the relay clears UDP
//! checksums, which the veth leaves to offload.
//!
//! Everything is created and removed by the test. Making namespaces needs root and `ip`, so the
//! test is `#[ignore]`d; scripts/test.sh runs it as root, and run anywhere else it fails.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::{Child, Command, Stdio};

use pollux_testkit::netns::ip;
use pollux_testkit::tftp::*;
use pollux_testkit::{assert_same_file, check, pollux_bin, random_bytes, run_bounded, TempRoot};

/// The relay used where there is no netem: forwards frames between two interfaces, with loss,
/// reordering (a frame is held back until the next one in its direction has gone, or 5 ms)
/// and duplication applied to IPv4 frames.
const RELAY: &str = r#"
import random, select, socket, sys, time
a, b, loss, reorder, dup = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
random.seed(int(sys.argv[6]))
socks = {}
for name in (a, b):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((name, 0))
    socks[name] = s
other = {socks[a]: socks[b], socks[b]: socks[a]}
held = {}
print("relay ready", flush=True)
while True:
    ready, _, _ = select.select(list(other), [], [], 0.005)
    now = time.monotonic()
    for out, (frame, since) in list(held.items()):
        if now - since > 0.005:
            out.send(frame)
            del held[out]
    for s in ready:
        frame, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        out = other[s]
        if frame[12:14] != b"\x08\x00":
            out.send(frame)
            continue
        if frame[23] == 17:
            # The sender left the UDP checksum to offload (veth passes it on unfinished);
            # zero means "no checksum" in IPv4, which the receiver accepts.
            at = 14 + (frame[14] & 15) * 4 + 6
            frame = frame[:at] + b"\x00\x00" + frame[at + 2:]
        r = random.random()
        if r < loss:
            continue
        if r < loss + reorder and out not in held:
            held[out] = (frame, now)
            continue
        out.send(frame)
        if r > 1 - dup:
            out.send(frame)
        if out in held:
            out.send(held.pop(out)[0])
"#;

/// The namespaces and links; removed when dropped.
struct Link {
    a: String,
    b: String,
    m: String,
    relay: Option<Child>,
    how: &'static str,
}

fn netem(ns: &str, dev: &str) -> bool {
    let args = ["netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "netem"];
    let faults = ["loss", "10%", "reorder", "5%", "duplicate", "2%", "delay", "1ms"];
    ip(&[&args[..], &faults[..]].concat())
}

impl Link {
    /// Panics if namespaces cannot be made here (not root, no iproute2).
    fn new() -> Link {
        let id = std::process::id() % 100_000;
        let mut link = Link {
            a: format!("pxtftp{id}a"),
            b: format!("pxtftp{id}b"),
            m: format!("pxtftp{id}m"),
            relay: None,
            how: "",
        };
        assert!(ip(&["netns", "add", &link.a]), "`ip netns add` failed: this test needs root and iproute2");
        let (va, ma, mb, vb) =
            (format!("pxv{id}a"), format!("pxm{id}a"), format!("pxm{id}b"), format!("pxv{id}b"));
        let ok = ip(&["netns", "add", &link.b])
            && ip(&["netns", "add", &link.m])
            && ip(&[
                "link", "add", &va, "netns", &link.a, "type", "veth", "peer", "name", &ma, "netns", &link.m,
            ])
            && ip(&[
                "link", "add", &vb, "netns", &link.b, "type", "veth", "peer", "name", &mb, "netns", &link.m,
            ])
            && ip(&["-n", &link.a, "addr", "add", "10.213.0.1/24", "dev", &va])
            && ip(&["-n", &link.b, "addr", "add", "10.213.0.2/24", "dev", &vb])
            && [(&link.a, &va), (&link.b, &vb), (&link.m, &ma), (&link.m, &mb)].iter().all(|(ns, dev)| {
                ip(&["-n", ns, "link", "set", dev, "gso_max_segs", "1"])
                    && ip(&["-n", ns, "link", "set", dev, "up"])
            });
        assert!(ok, "namespaces were created but the veth links could not be set up");
        if netem(&link.m, &ma) && netem(&link.m, &mb) {
            // The middle namespace only needs to pass frames on: a bridge does that.
            let br = format!("pxb{id}");
            let bridged = ip(&["-n", &link.m, "link", "add", &br, "type", "bridge"])
                && ip(&["-n", &link.m, "link", "set", &ma, "master", &br])
                && ip(&["-n", &link.m, "link", "set", &mb, "master", &br])
                && ip(&["-n", &link.m, "link", "set", &br, "up"]);
            assert!(bridged, "could not bridge the middle namespace");
            link.how = "tc netem";
        } else {
            let mut relay = Command::new("ip")
                .args(["netns", "exec", &link.m, "python3", "-c", RELAY, &ma, &mb, "0.10", "0.05", "0.02"])
                .arg(id.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3 for the frame relay");
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(relay.stdout.take().unwrap()),
                &mut line,
            )
            .unwrap();
            assert_eq!(line.trim(), "relay ready");
            link.relay = Some(relay);
            link.how = "a frame relay (no netem in this kernel)";
        }
        link
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(mut relay) = self.relay.take() {
            let _ = relay.kill();
            let _ = relay.wait();
        }
        // Deleting a namespace deletes its veth ends, and with them their peers.
        for ns in [&self.a, &self.b, &self.m] {
            ip(&["netns", "del", ns]);
        }
    }
}

#[test]
#[ignore = "needs root and iproute2 (ip netns); scripts/test.sh runs it as root"]
fn transfers_survive_loss_reordering_and_duplication() {
    let link = Link::new();
    eprintln!("faults by {}", link.how);
    let dir = TempRoot::empty("netns");
    let out = TempRoot::empty("netns-out");
    fs::write(dir.path("big.bin"), random_bytes(3 * 1024 * 1024 + 77, 21)).unwrap();
    fs::write(dir.path("small.bin"), random_bytes(64 * 1024 + 5, 22)).unwrap();
    fs::write(dir.path("text.txt"), b"line\n".repeat(10_000)).unwrap();

    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &link.a]).arg(pollux_bin());
    let server = serve_cmd(
        cmd,
        &dir.0,
        &["--bind", "10.213.0.1:6969", "--timeout", "100ms", "--retries", "30", "--allow-write", "--create"],
    );
    let addr = server.addr.to_string();
    let client = |args: &[&str]| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &link.b]).arg(pollux_bin()).arg("tftp").args(args);
        cmd.args(["--timeout", "100ms", "--retries", "30"]);
        run_bounded(&mut cmd, 120)
    };
    let cases: [(&str, &[&str]); 4] = [
        ("small.bin", &[]),
        ("text.txt", &["--mode", "netascii", "--windowsize", "4"]),
        ("small.bin", &["--blksize", "1024", "--windowsize", "8"]),
        ("big.bin", &["--blksize", "1428", "--windowsize", "16"]),
    ];
    for (i, (name, opts)) in cases.iter().enumerate() {
        let got = out.path(&format!("got{i}"));
        let mut args = vec!["get", &addr, name, got.to_str().unwrap()];
        args.extend_from_slice(opts);
        // On a failure the server's side of the story goes with it.
        let check = |out: &std::process::Output, what: &str| {
            if !out.status.success() {
                eprintln!("server log:\n{}", server.log());
            }
            check(out, what)
        };
        check(&client(&args), &format!("get {name} {opts:?} over the faulty link"));
        assert_same_file(&got, &dir.path(name));
        let remote = format!("up{i}.bin");
        let mut args = vec!["put", &addr, got.to_str().unwrap(), &remote];
        args.extend_from_slice(opts);
        check(&client(&args), &format!("put {name} {opts:?} over the faulty link"));
        assert_same_file(&dir.path(&remote), &dir.path(name));
    }
    eprintln!("{}", server.log());
}
