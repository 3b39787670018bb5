//! `--proxy-protocol` through the real binary: headers written by hand (v1 and v2, whole and
//! in pieces), by curl (`--haproxy-protocol`, over TLS and HTTP/2 too) and by HAProxy
//! (`send-proxy`, `send-proxy-v2`). The client address they carry is what the access log,
//! a CGI script and a WSGI application see; an untrusted peer, a broken header, plain HTTP
//! and a silent peer are each closed without an HTTP answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pollux_testkit::{
    env_map, parse_responses, pollux_bin, spawn, wait_until, write_scripts, Server, TempRoot,
};

const ENV: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n";
const GET_ENV: &[u8] = b"GET /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// `pollux serve` with a CGI directory holding `env.sh`, the access log gathered, every
/// listener expecting a PROXY header from `trusted`.
struct Site {
    server: Server,
    _root: TempRoot,
    _bin: TempRoot,
}

fn site(trusted: &str, extra: &[&str]) -> Site {
    let root = TempRoot::new("proxy-www");
    std::fs::write(root.0.join("index.html"), "hello\n").expect("write");
    let bin = TempRoot::new("proxy-cgi");
    write_scripts(&bin.0, &[("env.sh", ENV)]);
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(&root.0).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "-"]);
    cmd.arg("--cgi").arg(format!("/cgi-bin={}", bin.0.display()));
    cmd.args(["--proxy-protocol", "--proxy-trusted", trusted]);
    cmd.args(extra);
    Site { server: spawn(cmd).gather_stderr(), _root: root, _bin: bin }
}

/// Sends `pieces` (pausing between them, so each arrives on its own), then reads until the
/// server closes. `Err` when the server reset the connection.
fn talk(addr: SocketAddr, pieces: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        // A refused connection may already be gone.
        if s.write_all(p).is_err() {
            return (Vec::new(), true);
        }
    }
    read_to_close(&mut s)
}

/// Reads until EOF or reset (10 s at most); returns the bytes and whether it ended in a reset.
fn read_to_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, false),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(e) => panic!("read: {e} (after {} bytes)", out.len()),
        }
    }
}

/// The environment the CGI script reported in the one response of `raw`.
fn script_env(raw: &[u8]) -> std::collections::HashMap<String, String> {
    let (resps, _) = parse_responses(raw, &[false]);
    let r = resps.first().unwrap_or_else(|| panic!("no response in {:?}", String::from_utf8_lossy(raw)));
    assert_eq!(r.status, 200, "{}", r.text());
    env_map(&r.body)
}

fn v1(src: &str, sport: u16) -> Vec<u8> {
    let family = if src.contains(':') { "TCP6" } else { "TCP4" };
    let dst = if src.contains(':') { "::1" } else { "127.0.0.1" };
    format!("PROXY {family} {src} {dst} {sport} 80\r\n").into_bytes()
}

/// A version 2 header: `command` 1 PROXY or 0 LOCAL, with an IPv4 or IPv6 source and a TLV.
fn v2(command: u8, src: Option<SocketAddr>) -> Vec<u8> {
    let mut body = Vec::new();
    let family = match src {
        Some(SocketAddr::V4(a)) => {
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(&[127, 0, 0, 1]);
            body.extend_from_slice(&a.port().to_be_bytes());
            body.extend_from_slice(&80u16.to_be_bytes());
            0x11
        }
        Some(SocketAddr::V6(a)) => {
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
            body.extend_from_slice(&a.port().to_be_bytes());
            body.extend_from_slice(&80u16.to_be_bytes());
            0x21
        }
        None => 0x00,
    };
    // PP2_TYPE_ALPN "http/1.1": TLVs are carried and ignored.
    body.extend_from_slice(&[0x01, 0x00, 0x08]);
    body.extend_from_slice(b"http/1.1");
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&body);
    h
}

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    [a, b].concat()
}

#[test]
fn v1_by_hand_the_script_and_the_access_log_see_the_client() {
    let s = site("127.0.0.1", &[]);
    let (raw, _) = talk(s.server.addr, &[&cat(&v1("203.0.113.7", 50123), GET_ENV)]);
    let env = script_env(&raw);
    assert_eq!(env.get("REMOTE_ADDR").map(String::as_str), Some("203.0.113.7"));
    assert_eq!(env.get("REMOTE_PORT").map(String::as_str), Some("50123"));
    let log = s.server.wait_log("203.0.113.7 - - [", 5);
    assert!(log.contains("\"GET /cgi-bin/env.sh HTTP/1.1\" 200"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("127.0.0.1 - -")), "the balancer was logged: {log}");
}

#[test]
fn v2_by_hand_in_pieces_ipv6_source_and_keep_alive() {
    let s = site("127.0.0.0/8", &[]);
    let src: SocketAddr = "[2001:db8::7]:40000".parse().expect("address");
    let h = v2(1, Some(src));
    // Cut inside the signature, inside the addresses, and between the header and the request.
    let (raw, _) = talk(s.server.addr, &[&h[..5], &h[5..20], &h[20..], GET_ENV]);
    let env = script_env(&raw);
    assert_eq!(env.get("REMOTE_ADDR").map(String::as_str), Some("2001:db8::7"));
    assert_eq!(env.get("REMOTE_PORT").map(String::as_str), Some("40000"));
    // One header per connection: the second request on it is from the same client.
    let two = b"GET /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\n\r\nGET /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let src4: SocketAddr = "198.51.100.9:1234".parse().expect("address");
    let (raw, _) = talk(s.server.addr, &[&cat(&v2(1, Some(src4)), two)]);
    let (resps, _) = parse_responses(&raw, &[false, false]);
    assert_eq!(resps.len(), 2, "{}", String::from_utf8_lossy(&raw));
    for r in resps {
        assert_eq!(env_map(&r.body).get("REMOTE_ADDR").map(String::as_str), Some("198.51.100.9"));
    }
}

#[test]
fn local_command_and_unknown_use_the_socket_addresses() {
    let s = site("127.0.0.1", &[]);
    for header in
        [v2(0, None), v2(0, Some("203.0.113.1:9".parse().expect("address"))), b"PROXY UNKNOWN\r\n".to_vec()]
    {
        let (raw, _) = talk(s.server.addr, &[&cat(&header, GET_ENV)]);
        let env = script_env(&raw);
        assert_eq!(env.get("REMOTE_ADDR").map(String::as_str), Some("127.0.0.1"), "{header:?}");
    }
}

/// What a refused connection gets: no byte of HTTP, then the close.
fn assert_refused(addr: SocketAddr, pieces: &[&[u8]], what: &str) {
    let (raw, _) = talk(addr, pieces);
    assert!(raw.is_empty(), "{what}: answered {:?}", String::from_utf8_lossy(&raw));
}

#[test]
fn untrusted_malformed_and_plain_http_are_closed_unanswered() {
    let s = site("127.0.0.1", &[]);
    assert_refused(s.server.addr, &[GET_ENV], "plain HTTP");
    assert_refused(s.server.addr, &[b"PROXY TCP4 203.0.113.300 127.0.0.1 1 80\r\n", GET_ENV], "bad address");
    assert_refused(s.server.addr, &[b"PROXY TCP4 1.2.3.4 127.0.0.1 01 80\r\n", GET_ENV], "bad port");
    let mut bad_version = v2(1, Some("203.0.113.7:1".parse().expect("address")));
    bad_version[12] = 0x31;
    assert_refused(s.server.addr, &[&cat(&bad_version, GET_ENV)], "v2 version 3");
    // A TLS ClientHello where the header should be.
    assert_refused(s.server.addr, &[b"\x16\x03\x01\x00\x05hello"], "TLS");
    // The same good header from a peer that is not a trusted balancer: 127.0.0.2.
    let only_two = site("127.0.0.2", &[]);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().expect("address").into()).expect("bind");
    sock.connect(&only_two.server.addr.into()).expect("connect");
    let mut c: TcpStream = sock.into();
    let _ = c.write_all(&cat(&v1("203.0.113.7", 5), GET_ENV));
    let (raw, _) = read_to_close(&mut c);
    assert!(raw.is_empty(), "untrusted peer answered: {}", String::from_utf8_lossy(&raw));
    // …while the trusted one is served by the same server.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&"127.0.0.2:0".parse::<SocketAddr>().expect("address").into()).expect("bind");
    sock.connect(&only_two.server.addr.into()).expect("connect");
    let mut c: TcpStream = sock.into();
    c.write_all(&cat(&v1("203.0.113.7", 5), GET_ENV)).expect("write");
    let (raw, _) = read_to_close(&mut c);
    assert_eq!(script_env(&raw).get("REMOTE_ADDR").map(String::as_str), Some("203.0.113.7"));
    // The first server still serves after all that.
    let (raw, _) = talk(s.server.addr, &[&cat(&v1("192.0.2.5", 7), GET_ENV)]);
    assert_eq!(script_env(&raw).get("REMOTE_ADDR").map(String::as_str), Some("192.0.2.5"));
}

#[test]
fn a_silent_peer_and_a_half_header_are_closed_after_three_seconds() {
    let s = site("127.0.0.1", &[]);
    for sent in [&b""[..], b"PROXY TCP4 203.0.113.7 "] {
        let mut c = TcpStream::connect(s.server.addr).expect("connect");
        c.write_all(sent).expect("write");
        let t0 = Instant::now();
        let (raw, _) = read_to_close(&mut c);
        let took = t0.elapsed();
        assert!(raw.is_empty());
        assert!(
            took >= Duration::from_millis(2900) && took < Duration::from_millis(4500),
            "closed after {took:?} with {sent:?}"
        );
    }
}

#[test]
fn the_header_timeout_is_not_the_http_header_timeout() {
    // A whole header, then a request slower than 3 s: the HTTP head timeout (here 6 s) is
    // what applies once the header is in.
    let s = site("127.0.0.1", &["--header-timeout", "6s"]);
    let mut c = TcpStream::connect(s.server.addr).expect("connect");
    c.write_all(&v1("203.0.113.7", 1)).expect("write");
    c.write_all(b"GET /cgi-bin/env.sh HTTP/1.1\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(3500));
    c.write_all(b"Host: x\r\nConnection: close\r\n\r\n").expect("write");
    let (raw, _) = read_to_close(&mut c);
    assert_eq!(script_env(&raw).get("REMOTE_ADDR").map(String::as_str), Some("203.0.113.7"));
}

#[test]
fn a_wsgi_application_sees_the_client() {
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wsgi_apps");
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["serve", "--wsgi", "behaviours", "--pythonpath"]).arg(&apps);
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.args(["--proxy-protocol", "--proxy-trusted", "127.0.0.1"]);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").env_remove("VIRTUAL_ENV");
    let server = spawn(cmd);
    let req = b"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (raw, _) = talk(server.addr, &[&cat(&v1("203.0.113.44", 4444), req)]);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.lines().any(|l| l == "REMOTE_ADDR=203.0.113.44"), "{text}");
}

/// curl's `--haproxy-protocol` sends a v1 header with its own source address: bound to
/// 127.0.0.6, that is what the script must see, over plain HTTP, TLS and HTTP/2.
#[test]
fn curl_haproxy_protocol_over_plain_tls_and_h2() {
    let root = TempRoot::new("proxy-tls");
    let bin = TempRoot::new("proxy-tls-cgi");
    write_scripts(&bin.0, &[("env.sh", ENV)]);
    let mut cmd = pollux_testkit::tls::https_command(&root.0);
    cmd.args(["--bind", "127.0.0.1:0", "--self-signed", "--workers", "1", "--access-log", "off"]);
    cmd.args(["--proxy-protocol", "--proxy-trusted", "127.0.0.0/8"]);
    cmd.arg("--cgi").arg(format!("/cgi-bin={}", bin.0.display()));
    let https = pollux_testkit::tls::spawn_https(cmd, 1);
    let (plain, tls) = (https.plain[0], https.tls);
    let urls = [
        (format!("http://{plain}/cgi-bin/env.sh"), "--http1.1"),
        (format!("https://{tls}/cgi-bin/env.sh"), "--http1.1"),
        (format!("https://{tls}/cgi-bin/env.sh"), "--http2"),
    ];
    for (url, version) in urls {
        let out = pollux_testkit::curl(&[
            "-sk",
            "--max-time",
            "10",
            "--haproxy-protocol",
            "--interface",
            "127.0.0.6",
            version,
            "-w",
            "\nHTTP_VERSION_SEEN=%{http_version}\n",
            &url,
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().any(|l| l == "REMOTE_ADDR=127.0.0.6"), "{url} {version}: {text}");
        let want = if version == "--http2" { "2" } else { "1.1" };
        assert!(text.contains(&format!("HTTP_VERSION_SEEN={want}")), "{url} {version}: {text}");
    }
    // Without the header, TLS is refused like plain HTTP (no answer, not even the "use
    // https://" page).
    let out = pollux_testkit::curl(&["-sk", "--max-time", "10", &format!("https://{tls}/")]);
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
}

/// HAProxy (Debian's) in front, `send-proxy` and `send-proxy-v2`: the client, bound to
/// 127.0.0.7, is seen through it (HAProxy's side of the connection is 127.0.0.1).
#[test]
fn behind_haproxy_send_proxy_and_send_proxy_v2() {
    let s = site("127.0.0.1", &[]);
    for (mode, client) in [("send-proxy", "127.0.0.7"), ("send-proxy-v2", "127.0.0.8")] {
        let lb = Haproxy::start(s.server.addr, mode);
        let url = format!("http://{}/cgi-bin/env.sh", lb.addr);
        let out = pollux_testkit::curl(&["-s", "--max-time", "10", "--interface", client, &url]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().any(|l| l == format!("REMOTE_ADDR={client}")), "{mode}: {text}");
        s.server.wait_log(&format!("{client} - - ["), 5);
    }
}

/// A HAProxy process relaying one frontend to one pollux backend, killed when dropped.
struct Haproxy {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: TempRoot,
}

impl Haproxy {
    fn start(backend: SocketAddr, mode: &str) -> Haproxy {
        let dir = TempRoot::new("haproxy");
        // A free port: bound and released here, then bound by HAProxy.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port");
        let cfg = format!(
            "global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  \
             timeout server 10s\nfrontend fe\n  bind {addr}\n  default_backend be\n\
             backend be\n  server s1 {backend} {mode}\n"
        );
        let path = dir.0.join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("write haproxy.cfg");
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (apt install haproxy; scripts/test.sh does)");
        wait_until(10, "HAProxy listening", || TcpStream::connect(addr).is_ok());
        Haproxy { child, addr, _dir: dir }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
