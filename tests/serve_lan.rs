//! Sharing on the LAN: bound to `0.0.0.0` or `[::]`, `pollux serve` prints one URL per
//! interface address (as miniserve does), not the unusable `http://0.0.0.0:PORT`.
//!
//! The server runs in a network namespace of its own with a veth pair holding made-up
//! addresses, so binding the wildcard exposes nothing of the machine running the tests.
//! Making the namespace needs root (`unshare -n`) and iproute2, so that test is `#[ignore]`d;
//! scripts/test.sh runs it as root, and run anywhere else it fails.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
#[ignore = "needs root and iproute2 (unshare -n, ip link); scripts/test.sh runs it as root"]
fn a_wildcard_bind_prints_each_interface_address() {
    let root = pollux_testkit::TempRoot::new("lan");
    let script = r#"ip link set lo up && ip link add vA type veth peer name vB \
        && ip addr add 10.213.9.1/24 dev vA && ip -6 addr add fd13::1/64 nodad dev vA \
        && ip link set vA up && ip link set vB up && exec "$@""#;
    let mut child = Command::new("unshare")
        .args(["-n", "sh", "-c", script, "sh"])
        .arg(pollux_testkit::pollux_bin())
        .arg("serve")
        .arg(&root.0)
        .args(["--bind", "0.0.0.0:0", "--bind", "[::]:0", "--access-log", "off", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run unshare (util-linux): this test needs it");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut out = Vec::new();
    // Two headings and two URLs each; a namespace we could not make prints nothing.
    for line in lines.by_ref().take(6) {
        out.push(line.expect("stdout"));
    }
    let _ = child.kill();
    let _ = child.wait();
    if out.is_empty() {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
        panic!("no network namespace here (this test needs root and iproute2): {err}");
    }
    let text = out.join("\n");
    assert!(out[0].contains("on every IPv4 interface, port "), "{text}");
    let v4_port = out[0].rsplit(' ').next().expect("port").trim_end_matches(':').to_owned();
    assert_eq!(out[1].trim(), format!("http://127.0.0.1:{v4_port}"), "{text}");
    assert_eq!(out[2].trim(), format!("http://10.213.9.1:{v4_port}"), "{text}");
    assert!(out[3].contains("on every IPv6 interface"), "{text}");
    assert!(out[4].trim().starts_with("http://[::1]:"), "{text}");
    assert!(out[5].trim().starts_with("http://[fd13::1]:"), "{text}");
    assert!(!text.contains("0.0.0.0") && !text.contains("fe80"), "{text}");
}

#[test]
fn a_loopback_bind_says_how_to_share() {
    let root = pollux_testkit::TempRoot::new("lan-hint");
    let mut child = Command::new(pollux_testkit::pollux_bin())
        .arg("serve")
        .arg(&root.0)
        .args(["--bind", "127.0.0.1:0", "--access-log", "off", "--workers", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("line").expect("read");
    let second = lines.next().expect("line").expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("on http://127.0.0.1:"), "{first}");
    assert_eq!(second, "pollux: only this machine can connect; --bind 0.0.0.0 shares on the LAN");
}
