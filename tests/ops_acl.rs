//! `--allow`/`--deny`, `--max-conns-per-ip` and `--tcp-keepalive` through the real binary.
//! Clients take distinct loopback addresses (127.0.0.1, 127.0.0.2, …: all of 127/8 is local
//! on Linux) by binding before they connect; behind `--proxy-protocol` the rules see the
//! address the header carries.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use pollux_testkit::{pollux_bin, spawn, wait_until, Server, TempRoot};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn server(bind: &str, extra: &[&str]) -> (Server, TempRoot) {
    let root = TempRoot::new("acl");
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(&root.0).args(["--bind", bind, "--workers", "2", "--access-log", "off"]);
    cmd.args(extra);
    (spawn(cmd), root)
}

/// A connection to `to` from the local address `from`.
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let ip: IpAddr = from.parse().expect("address");
    let domain = if ip.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::new(ip, 0).into()).expect("bind");
    sock.connect(&to.into()).expect("connect");
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s
}

/// Reads until the server closes (or resets); the bytes that came.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Whether a GET from `from` is answered 200 (`false`: closed without an answer).
fn served(from: &str, to: SocketAddr) -> bool {
    let mut s = connect_from(from, to);
    // A refused connection may be closed before the request is even written.
    if s.write_all(GET).is_err() {
        return false;
    }
    let got = read_to_close(&mut s);
    if got.is_empty() {
        return false;
    }
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
    true
}

#[test]
fn deny_closes_at_accept_and_the_rest_is_served() {
    let (s, _r) = server("127.0.0.1:0", &["--deny", "127.0.0.2", "--deny", "127.0.1.0/24"]);
    assert!(served("127.0.0.1", s.addr));
    assert!(!served("127.0.0.2", s.addr));
    assert!(!served("127.0.1.200", s.addr));
    assert!(served("127.0.2.1", s.addr));
    // Closed before anything is read: the connection ends without our writing a byte.
    let mut c = connect_from("127.0.0.2", s.addr);
    assert!(read_to_close(&mut c).is_empty());
}

#[test]
fn rules_apply_in_command_line_order_first_match_wins() {
    // Allow one address out of a denied network…
    let (s, _r) = server("127.0.0.1:0", &["--allow", "127.0.0.2", "--deny", "127.0.0.0/8"]);
    assert!(served("127.0.0.2", s.addr));
    assert!(!served("127.0.0.1", s.addr));
    assert!(!served("127.0.0.3", s.addr));
    // …and the other way round the network rule comes first and takes it too.
    let (s, _r) = server("127.0.0.1:0", &["--deny", "127.0.0.0/8", "--allow", "127.0.0.2"]);
    assert!(!served("127.0.0.2", s.addr));
}

#[test]
fn an_allow_list_refuses_what_it_does_not_name() {
    let (s, _r) = server("127.0.0.1:0", &["--allow", "127.0.0.0/30", "--allow", "127.9.0.0/16"]);
    assert!(served("127.0.0.1", s.addr));
    assert!(served("127.0.0.3", s.addr));
    assert!(!served("127.0.0.4", s.addr), "127.0.0.4 is outside 127.0.0.0/30");
    assert!(served("127.9.200.1", s.addr));
    assert!(!served("127.10.0.1", s.addr));
}

#[test]
fn bad_rules_are_one_line_errors() {
    for (flag, value, want) in [
        ("--allow", "10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("--deny", "ten", "is not an address or CIDR network"),
        ("--proxy-trusted", "10.0.0.0/33", "is not an address or CIDR network"),
        ("--tcp-keepalive", "soon", "not a duration"),
        ("--max-conns-per-ip", "0", "0"),
    ] {
        let out = Command::new(pollux_bin())
            .args(["serve", "--bind", "127.0.0.1:0", flag, value])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("pollux: ") && err.contains(want), "{flag} {value}: {err}");
    }
    let out = Command::new(pollux_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--proxy-protocol"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "pollux: --proxy-protocol: no trusted balancer: name each with --proxy-trusted CIDR \
         (0.0.0.0/0 and ::/0 trust any peer)"
    );
}

#[test]
#[ignore = "needs an IPv6 loopback (::1); scripts/test.sh runs it where there is one"]
fn ipv6_rules_on_the_ipv6_loopback() {
    let (s, _r) = server("[::1]:0", &["--deny", "::1/128"]);
    assert!(!served("::1", s.addr));
    // An IPv4 rule does not touch an IPv6 client.
    let (s, _r) = server("[::1]:0", &["--deny", "127.0.0.0/8"]);
    assert!(served("::1", s.addr));
    let (s, _r) = server("[::1]:0", &["--allow", "::1", "--deny", "::/0"]);
    assert!(served("::1", s.addr));
}

/// Behind `--proxy-protocol`, the rules and the limit judge the client the header names
/// (an IPv4-mapped IPv6 one included), not the balancer.
#[test]
fn with_proxy_protocol_the_rules_see_the_proxied_client() {
    let (s, _r) = server(
        "127.0.0.1:0",
        &[
            "--proxy-protocol",
            "--proxy-trusted",
            "127.0.0.1",
            "--deny",
            "203.0.113.0/24",
            "--max-conns-per-ip",
            "1",
        ],
    );
    let ask = |header: &str| {
        let mut c = connect_from("127.0.0.1", s.addr);
        c.write_all(header.as_bytes()).expect("write");
        let _ = c.write_all(GET);
        !read_to_close(&mut c).is_empty()
    };
    assert!(!ask("PROXY TCP4 203.0.113.7 127.0.0.1 1000 80\r\n"));
    assert!(!ask("PROXY TCP6 ::ffff:203.0.113.7 ::1 1000 80\r\n"), "a mapped address is its IPv4 one");
    assert!(ask("PROXY TCP4 198.51.100.1 127.0.0.1 1000 80\r\n"));
    // The limit counts the proxied client: the balancer's many connections are not one client.
    let mut held = connect_from("127.0.0.1", s.addr);
    held.write_all(b"PROXY TCP4 198.51.100.2 127.0.0.1 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 12];
    held.read_exact(&mut buf).expect("first answer");
    assert!(!ask("PROXY TCP4 198.51.100.2 127.0.0.1 1001 80\r\n"), "the second from 198.51.100.2");
    assert!(ask("PROXY TCP4 198.51.100.3 127.0.0.1 1000 80\r\n"));
}

/// Open keep-alive connections from `from`, each answered once (so each is surely accepted
/// and counted).
fn hold(from: &str, to: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut c = connect_from(from, to);
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
            let mut head = [0u8; 12];
            c.read_exact(&mut head)
                .unwrap_or_else(|e| panic!("connection {} of {n} from {from}: {e}", i + 1));
            assert_eq!(&head, b"HTTP/1.1 200");
            c
        })
        .collect()
}

#[test]
fn max_conns_per_ip_across_workers_is_exact() {
    // Two workers, each with its own listener (SO_REUSEPORT): the count is shared.
    let (s, _r) = server("127.0.0.1:0", &["--max-conns-per-ip", "3"]);
    let mut held = hold("127.0.0.1", s.addr, 3);
    // The fourth, fifth, sixth: closed at once, whichever worker takes them.
    for _ in 0..3 {
        let mut c = connect_from("127.0.0.1", s.addr);
        let _ = c.write_all(GET);
        assert!(read_to_close(&mut c).is_empty(), "connection over the limit was served");
    }
    // Others are served meanwhile, up to their own limit.
    let _others = hold("127.0.0.2", s.addr, 3);
    assert!(!served("127.0.0.2", s.addr));
    // One of the three closes: its place is given back (once the server saw the close).
    drop(held.pop());
    let mut tries = 0;
    wait_until(5, "a freed place", || {
        tries += 1;
        served("127.0.0.1", s.addr)
    });
    // Exactly one place was freed: with it taken again, the next is refused.
    let _again = hold("127.0.0.1", s.addr, 1);
    assert!(!served("127.0.0.1", s.addr));
    assert!(tries < 500);
}

/// The keepalive timer of the server's side of the one established connection to `port`, as
/// `ss -tno` shows it: `timer:(keepalive,14sec,0)` → Some(14); no keepalive → None.
fn keepalive_secs(port: u16) -> Option<u64> {
    let out = Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            "( sport = :PORT )".replace("PORT", &port.to_string()).as_str(),
        ])
        .output()
        .expect("ss (iproute2)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.lines().count(), 1, "one connection expected: {text}");
    let rest = text.split("timer:(keepalive,").nth(1)?;
    let secs = rest.split("sec").next()?;
    // `1min2sec` is 62 s.
    Some(match secs.split_once("min") {
        Some((m, s)) => m.parse::<u64>().ok()? * 60 + s.parse::<u64>().unwrap_or(0),
        None => secs.parse().ok()?,
    })
}

#[test]
fn tcp_keepalive_on_accepted_sockets() {
    for (flag, want) in [(None, Some(15)), (Some("40s"), Some(40)), (Some("off"), None)] {
        let extra: Vec<&str> = flag.map(|f| vec!["--tcp-keepalive", f]).unwrap_or_default();
        let (s, _r) = server("127.0.0.1:0", &extra);
        let _c = hold("127.0.0.1", s.addr, 1);
        let got = keepalive_secs(s.addr.port());
        match want {
            None => assert_eq!(got, None, "{flag:?}"),
            Some(w) => {
                let g = got.unwrap_or_else(|| panic!("{flag:?}: no keepalive timer"));
                assert!(g <= w && g + 3 >= w, "{flag:?}: keepalive in {g} s, want about {w}");
            }
        }
    }
}
