//! `pollux tftp serve` on its own: write permissions (--allow-write, --create), paths confined
//! to DIR (traversal, dotfiles, symlinks), the TID rule, option caps, the log line, many
//! transfers at once, IPv6; and `pollux tftp get`'s promise never to replace a file with a
//! partial download, with its exit codes.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::tftp::*;
use pollux_testkit::{assert_same_file, check, pollux_bin, random_bytes, recv_from, run_bounded, TempRoot};

/// What came back first for a request.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Data(u16, Vec<u8>),
    Ack(u16),
    Error(u16, String),
    Oack(Vec<(String, String)>),
}

fn request(opcode: u8, name: &[u8], mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, opcode];
    p.extend_from_slice(name);
    p.push(0);
    p.extend_from_slice(mode.as_bytes());
    p.push(0);
    for (k, v) in options {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

fn parse(d: &[u8]) -> Reply {
    let n = u16::from_be_bytes([d[2], d[3]]);
    match d[1] {
        3 => Reply::Data(n, d[4..].to_vec()),
        4 => Reply::Ack(n),
        5 => Reply::Error(n, String::from_utf8_lossy(&d[4..d.len() - 1]).into_owned()),
        6 => {
            let fields: Vec<String> =
                d[2..].split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
            Reply::Oack(
                fields.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())).collect(),
            )
        }
        other => panic!("opcode {other}"),
    }
}

fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends a request and returns the first reply and where it came from.
fn first_reply(server: SocketAddr, packet: &[u8]) -> (Reply, SocketAddr) {
    let s = client();
    s.send_to(packet, server).unwrap();
    let mut buf = [0u8; 65536];
    let (n, from) = recv_from(&s, &mut buf).unwrap();
    (parse(&buf[..n]), from)
}

fn error_code(reply: &Reply) -> Option<u16> {
    match reply {
        Reply::Error(code, _) => Some(*code),
        _ => None,
    }
}

fn code_of(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Files in `dir` (names only), so tests can check no temporary file was left behind.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn writes_are_refused_without_allow_write() {
    let dir = TempRoot::empty("ro");
    fs::write(dir.path("old.txt"), "old").unwrap();
    let local = TempRoot::empty("ro-local");
    fs::write(local.path("up.txt"), "new content").unwrap();
    let server = serve(&dir.0, &[]);
    let addr = server.addr.to_string();
    for remote in ["old.txt", "new.txt"] {
        let out = pollux(&["put", &addr, local.path("up.txt").to_str().unwrap(), remote]);
        assert_eq!(code_of(&out), 5, "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (reply, _) = first_reply(server.addr, &request(2, b"new.txt", "octet", &[]));
    assert_eq!(error_code(&reply), Some(2), "{reply:?}");
    assert_eq!(fs::read_to_string(dir.path("old.txt")).unwrap(), "old");
    assert_eq!(listing(&dir.0), ["old.txt"]);
    assert!(server.wait_log("refused", 5).contains("WRQ \"new.txt\" octet refused"));
}

#[test]
fn allow_write_replaces_and_create_adds() {
    let local = TempRoot::empty("rw-local");
    fs::write(local.path("up.txt"), "uploaded").unwrap();
    let up = local.path("up.txt");
    let up = up.to_str().unwrap();
    // (flags, remote, expected exit code, expected content afterwards or None for absent)
    let cases: [(&[&str], &str, i32, Option<&str>); 7] = [
        (&["--allow-write"], "old.txt", 0, Some("uploaded")),
        (&["--allow-write"], "new.txt", 5, None),
        (&["--create"], "new.txt", 0, Some("uploaded")),
        (&["--create"], "old.txt", 5, Some("old")),
        (&["--allow-write", "--create"], "old.txt", 0, Some("uploaded")),
        (&["--allow-write", "--create"], "new.txt", 0, Some("uploaded")),
        (&["--allow-write", "--create"], "no-such-dir/new.txt", 4, None),
    ];
    for (flags, remote, code, content) in cases {
        let dir = TempRoot::empty("rw");
        fs::write(dir.path("old.txt"), "old").unwrap();
        let server = serve(&dir.0, flags);
        let out = pollux(&["put", &server.addr.to_string(), up, remote]);
        assert_eq!(code_of(&out), code, "{flags:?} {remote}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(fs::read_to_string(dir.path(remote)).ok().as_deref(), content, "{flags:?} {remote}");
        // Uploads go through a hidden temporary: none is left, whatever happened.
        assert!(listing(&dir.0).iter().all(|n| !n.starts_with('.')), "{:?}", listing(&dir.0));
    }
    // --create alone answers an existing file with ERROR 6 (file already exists).
    let dir = TempRoot::empty("rw6");
    fs::write(dir.path("old.txt"), "old").unwrap();
    let server = serve(&dir.0, &["--create"]);
    let (reply, _) = first_reply(server.addr, &request(2, b"old.txt", "octet", &[]));
    assert_eq!(error_code(&reply), Some(6), "{reply:?}");
}

#[test]
fn paths_stay_inside_the_directory() {
    let top = TempRoot::empty("confine");
    let srv = top.path("srv");
    fs::create_dir_all(srv.join("sub")).unwrap();
    fs::create_dir_all(top.path("outside")).unwrap();
    fs::write(top.path("secret.txt"), "TOP SECRET").unwrap();
    fs::write(srv.join("sub/ok.txt"), "fine").unwrap();
    fs::write(srv.join(".env"), "PASSWORD=x").unwrap();
    std::os::unix::fs::symlink(top.path("secret.txt"), srv.join("link-out")).unwrap();
    std::os::unix::fs::symlink(srv.join("sub/ok.txt"), srv.join("link-in")).unwrap();
    std::os::unix::fs::symlink(top.path("outside"), srv.join("dir-out")).unwrap();
    let server = serve(&srv, &["--allow-write", "--create"]);

    // Reads: names aimed at the secret and the conformance corpus's traversal attempts
    // (HTTP paths, used as TFTP names: TFTP names are not percent-decoded, so an escape is
    // part of the name) must never produce DATA.
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/http/traversal.txt");
    let corpus = fs::read_to_string(corpus).expect("conformance/http/traversal.txt");
    let mut names: Vec<String> = [
        "../secret.txt",
        "/../secret.txt",
        "sub/../../secret.txt",
        "..\\secret.txt",
        "sub/..\\..\\secret.txt",
        "....//secret.txt",
        "./../secret.txt",
        "link-out",
        ".env",
        "sub/../.env",
        "sub",
        "/",
        "dir-out/../../secret.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(
        corpus
            .lines()
            .filter(|l| !l.is_empty() && l.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .take(60)
            .map(String::from),
    );
    for name in &names {
        let (reply, _) = first_reply(server.addr, &request(1, name.as_bytes(), "octet", &[]));
        let code = error_code(&reply);
        assert!(matches!(code, Some(1 | 2)), "{name:?} got {reply:?}");
    }
    // Symlinks that stay inside are served; a plain file in a subdirectory too.
    for name in ["link-in", "sub/ok.txt", "/sub/ok.txt"] {
        let (reply, _) = first_reply(server.addr, &request(1, name.as_bytes(), "octet", &[]));
        assert_eq!(reply, Reply::Data(1, b"fine".to_vec()), "{name}");
    }
    // Writes: nothing lands outside, nothing replaces the link, no dotfile appears.
    for name in ["../evil.txt", "sub/../../evil.txt", "dir-out/evil.txt", "link-out", ".evil", "sub/.evil"] {
        let (reply, _) = first_reply(server.addr, &request(2, name.as_bytes(), "octet", &[]));
        assert_eq!(error_code(&reply), Some(2), "WRQ {name:?} got {reply:?}");
    }
    assert_eq!(listing(&top.0), ["outside", "secret.txt", "srv"]);
    assert!(listing(&top.path("outside")).is_empty());
    assert_eq!(fs::read_to_string(top.path("secret.txt")).unwrap(), "TOP SECRET");
    assert!(fs::symlink_metadata(srv.join("link-out")).unwrap().file_type().is_symlink());
}

#[test]
fn a_stranger_gets_error_5_and_the_transfer_goes_on() {
    let dir = TempRoot::empty("tid");
    let content = random_bytes(1800, 3);
    fs::write(dir.path("f.bin"), &content).unwrap();
    let server = serve(&dir.0, &[]);
    let me = client();
    me.send_to(&request(1, b"f.bin", "octet", &[]), server.addr).unwrap();
    let mut buf = [0u8; 2048];
    let (n, tid) = recv_from(&me, &mut buf).unwrap();
    assert_ne!(tid, server.addr, "the transfer runs on its own port");
    let Reply::Data(1, first) = parse(&buf[..n]) else { panic!("{:?}", parse(&buf[..n])) };
    // Someone else acknowledges block 1 to the transfer's port: ERROR 5, to them only.
    let stranger = client();
    stranger.send_to(&[0, 4, 0, 1], tid).unwrap();
    let (n, from) = recv_from(&stranger, &mut buf).unwrap();
    assert_eq!(from, tid);
    assert_eq!(error_code(&parse(&buf[..n])), Some(5));
    // The real client carries on to the end.
    let mut last = first.len() < 512;
    let mut got = first;
    let mut block = 1u16;
    loop {
        me.send_to(&[0, 4, (block >> 8) as u8, block as u8], tid).unwrap();
        if last {
            break;
        }
        let (n, from) = recv_from(&me, &mut buf).unwrap();
        assert_eq!(from, tid);
        let Reply::Data(b, payload) = parse(&buf[..n]) else { panic!("{:?}", parse(&buf[..n])) };
        assert_eq!(b, block + 1);
        block = b;
        last = payload.len() < 512;
        got.extend_from_slice(&payload);
    }
    assert_eq!(got, content);
    let log = server.wait_log("RRQ \"f.bin\"", 5);
    assert!(log.contains(&format!("RRQ \"f.bin\" octet {} bytes", content.len())), "{log}");
    assert!(log.contains(" ok"), "{log}");
}

#[test]
fn options_are_negotiated_within_the_caps() {
    let dir = TempRoot::empty("opts");
    fs::write(dir.path("f.bin"), random_bytes(5000, 9)).unwrap();
    let server = serve(&dir.0, &["--max-blksize", "1024", "--max-window", "4"]);
    let (reply, _) = first_reply(
        server.addr,
        &request(
            1,
            b"f.bin",
            "octet",
            &[("blksize", "9000"), ("windowsize", "100"), ("tsize", "0"), ("x-unknown", "1")],
        ),
    );
    let Reply::Oack(mut opts) = reply else { panic!("{reply:?}") };
    opts.sort();
    let want: Vec<(String, String)> = [("blksize", "1024"), ("tsize", "5000"), ("windowsize", "4")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(opts, want);
    // A value no cap can fix: ERROR 8.
    let (reply, _) = first_reply(server.addr, &request(1, b"f.bin", "octet", &[("blksize", "7")]));
    assert_eq!(error_code(&reply), Some(8), "{reply:?}");
    // Our client gets the file whatever it asks for.
    let out = TempRoot::empty("opts-out");
    let got = out.path("f.bin");
    let r = pollux(&[
        "get",
        &server.addr.to_string(),
        "f.bin",
        got.to_str().unwrap(),
        "--blksize",
        "60000",
        "--windowsize",
        "64",
    ]);
    check(&r, "get with large options");
    assert_same_file(&got, &dir.path("f.bin"));
}

#[test]
fn a_failed_download_never_touches_the_local_file() {
    let dir = TempRoot::empty("partial");
    let local = TempRoot::empty("partial-local");
    let keep = local.path("keep.bin");
    fs::write(&keep, "precious").unwrap();
    let server = serve(&dir.0, &[]);
    // Not found: exit 4.
    let out = pollux(&["get", &server.addr.to_string(), "missing", keep.to_str().unwrap()]);
    assert_eq!(code_of(&out), 4, "{}", String::from_utf8_lossy(&out.stderr));
    // A server that sends block 1 and then nothing: exit 3 after the retries, file untouched.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let fake_addr = fake.local_addr().unwrap();
    let (client_done, wait_client) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let (_, from) = recv_from(&fake, &mut buf).unwrap();
        let tid = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut data = vec![0, 3, 0, 1];
        data.extend_from_slice(&[b'x'; 512]);
        tid.send_to(&data, from).unwrap();
        // Keep the socket open (no ICMP) until the client has given up.
        let _ = wait_client.recv_timeout(Duration::from_secs(10));
    });
    let start = Instant::now();
    let out = pollux(&[
        "get",
        &fake_addr.to_string(),
        "f",
        keep.to_str().unwrap(),
        "--timeout",
        "200ms",
        "--retries",
        "2",
    ]);
    let _ = client_done.send(());
    assert_eq!(code_of(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    t.join().unwrap();
    assert_eq!(fs::read_to_string(&keep).unwrap(), "precious");
    assert_eq!(listing(&local.0), ["keep.bin"], "no temporary file left");
    // A successful download replaces it.
    fs::write(dir.path("f"), "fresh").unwrap();
    check(&pollux(&["get", &server.addr.to_string(), "f", keep.to_str().unwrap()]), "get");
    assert_eq!(fs::read_to_string(&keep).unwrap(), "fresh");
    assert_eq!(listing(&local.0), ["keep.bin"]);
}

/// `clients` lock-step downloads started together; all must arrive intact.
fn many_at_once(clients: usize, workers: &str) {
    let dir = TempRoot::empty("many");
    let content = random_bytes(20_000, 5);
    fs::write(dir.path("f.bin"), &content).unwrap();
    let server = serve(&dir.0, &["--quiet", "--workers", workers]);
    let addr = server.addr;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut out = Vec::new();
                let opts = pollux_tftp_io::client::ClientOptions {
                    timeout: Duration::from_secs(2),
                    ..Default::default()
                };
                pollux_tftp_io::client::get(
                    addr,
                    "f.bin",
                    &mut out,
                    &opts,
                    &mut pollux_tftp_io::client::NoProgress,
                )
                .map(|_| out)
                .map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().as_deref(), Ok(&content[..]));
    }
}

#[test]
fn many_transfers_at_once_on_one_worker() {
    many_at_once(400, "1");
}

#[test]
fn transfers_spread_over_workers_sharing_the_port() {
    // SO_REUSEPORT: each worker has its own socket on the port; a client's retransmitted
    // request reaches the same one, and each transfer lives in one worker only.
    many_at_once(200, "2");
}

#[test]
#[ignore = "needs an IPv6 loopback (::1); scripts/test.sh runs it where there is one"]
fn ipv6_loopback() {
    UdpSocket::bind("[::1]:0").expect("this test needs an IPv6 loopback (::1)");
    let dir = TempRoot::empty("v6");
    fs::write(dir.path("f.bin"), random_bytes(70_000, 11)).unwrap();
    let server = serve(&dir.0, &["--bind", "[::1]:0", "--allow-write", "--create"]);
    assert!(server.addr.is_ipv6());
    let out = TempRoot::empty("v6-out");
    let got = out.path("f.bin");
    check(
        &pollux(&["get", &server.addr.to_string(), "f.bin", got.to_str().unwrap(), "--windowsize", "8"]),
        "get v6",
    );
    assert_same_file(&got, &dir.path("f.bin"));
    check(&pollux(&["put", &server.addr.to_string(), got.to_str().unwrap(), "back.bin"]), "put v6");
    assert_same_file(&dir.path("back.bin"), &got);
}

#[test]
fn unacknowledged_data_is_retransmitted_then_abandoned() {
    let dir = TempRoot::empty("retx");
    fs::write(dir.path("f.bin"), random_bytes(3000, 4)).unwrap();
    let server = serve(&dir.0, &["--timeout", "150ms", "--retries", "3"]);
    let me = client();
    me.send_to(&request(1, b"f.bin", "octet", &[]), server.addr).unwrap();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut arrivals = Vec::new();
    // DATA 1, then three retransmissions of it, then nothing: we never acknowledge.
    // Long enough to see a fifth copy if there were one, even on a loaded machine.
    me.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
    while let Ok((n, _)) = recv_from(&me, &mut buf) {
        assert_eq!(parse(&buf[..n]), Reply::Data(1, random_bytes(3000, 4)[..512].to_vec()));
        arrivals.push(start.elapsed());
    }
    assert_eq!(arrivals.len(), 4, "{arrivals:?}");
    // Resends keep to the timeout's schedule: the k-th no earlier than k timeouts after the
    // first send (one late wake-up does not make the next one early), and none much later.
    for (k, at) in arrivals.iter().enumerate().skip(1) {
        assert!(*at >= Duration::from_millis(145 * k as u64), "resend {k} early: {arrivals:?}");
    }
    for pair in arrivals.windows(2) {
        assert!(pair[1] - pair[0] < Duration::from_millis(1000), "{arrivals:?}");
    }
    let log = server.wait_log("timed out", 5);
    assert!(log.contains("RRQ \"f.bin\" octet") && log.contains("failed: timed out after 3"), "{log}");

    // A negotiated timeout (RFC 2349) replaces --timeout for that transfer.
    let me = client();
    me.send_to(&request(1, b"f.bin", "octet", &[("timeout", "1")]), server.addr).unwrap();
    let (n, _) = recv_from(&me, &mut buf).unwrap();
    assert_eq!(parse(&buf[..n]), Reply::Oack(vec![("timeout".into(), "1".into())]));
    let start = Instant::now();
    me.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let (n, _) = recv_from(&me, &mut buf).unwrap();
    assert_eq!(error_code(&parse(&buf[..n])), None, "the OACK again, not an error");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_millis(2000), "{waited:?}");
}

#[test]
fn get_to_stdout_and_put_from_stdin() {
    use std::io::Write;
    let dir = TempRoot::empty("stdio");
    fs::write(dir.path("hello.txt"), "hello over tftp\n".repeat(100)).unwrap();
    let server = serve(&dir.0, &["--create"]);
    let addr = server.addr.to_string();
    let out = pollux(&["get", &addr, "hello.txt", "-"]);
    check(&out, "get to stdout");
    assert_eq!(out.stdout, "hello over tftp\n".repeat(100).into_bytes());
    let mut child = std::process::Command::new(pollux_bin())
        .args(["tftp", "put", &addr, "-", "from-stdin.txt", "--windowsize", "4"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&"piped\n".repeat(500).into_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(fs::read_to_string(dir.path("from-stdin.txt")).unwrap(), "piped\n".repeat(500));
}

#[test]
fn a_wildcard_server_answers_from_the_address_it_was_asked_on() {
    // 127.0.0.2 is not the address a route back to 127.0.0.1 would pick: without packet info
    // the reply would come from 127.0.0.1 and the client would take it for a stranger's.
    let dir = TempRoot::empty("wild");
    fs::write(dir.path("f.txt"), "wildcard\n").unwrap();
    let v6 = UdpSocket::bind("[::1]:0").is_ok();
    let binds: &[&str] = if v6 { &["0.0.0.0:0", "[::]:0"] } else { &["0.0.0.0:0"] };
    for bind in binds {
        let server = serve(&dir.0, &["--bind", bind]);
        let port = server.addr.port();
        let mut targets = vec![format!("127.0.0.2:{port}")];
        if bind.starts_with('[') {
            targets.push(format!("[::1]:{port}"));
        }
        for target in &targets {
            let out = TempRoot::empty("wild-out");
            let got = out.path("f.txt");
            let opts = ["--timeout", "300ms", "--retries", "2"];
            let r = pollux(&[&["get", target, "f.txt", got.to_str().unwrap()][..], &opts].concat());
            check(&r, &format!("get from {target} on {bind}"));
            assert_eq!(fs::read_to_string(&got).unwrap(), "wildcard\n");
            // A refusal comes from the right address too: exit 4, not a timeout.
            let r = pollux(&[&["get", target, "missing", got.to_str().unwrap()][..], &opts].concat());
            assert_eq!(code_of(&r), 4, "{target} on {bind}: {}", String::from_utf8_lossy(&r.stderr));
        }
        // IPv4 clients of `[::]` are logged as IPv4.
        assert!(server.wait_log("127.0.0.1:", 5).contains("tftp: 127.0.0.1:"), "{}", server.log());
    }
}

#[test]
fn beyond_max_transfers_requests_are_told_the_server_is_busy() {
    let dir = TempRoot::empty("busy");
    fs::write(dir.path("f.bin"), random_bytes(10_000, 8)).unwrap();
    let server = serve(&dir.0, &["--max-transfers", "2", "--timeout", "2s"]);
    // Two transfers that stay open (never acknowledged), then a third request.
    let open: Vec<_> =
        (0..2).map(|_| first_reply(server.addr, &request(1, b"f.bin", "octet", &[])).0).collect();
    assert!(open.iter().all(|r| matches!(r, Reply::Data(1, _))), "{open:?}");
    let (reply, _) = first_reply(server.addr, &request(1, b"f.bin", "octet", &[]));
    assert_eq!(reply, Reply::Error(0, "Server busy, try again later".into()));
}

#[test]
fn a_lost_final_ack_is_logged_as_such() {
    // Clients do not dally: if their last ACK is lost, the server times out on a client that
    // has the whole file, and its log says so.
    let dir = TempRoot::empty("lastack");
    fs::write(dir.path("f.bin"), random_bytes(1000, 6)).unwrap();
    let server = serve(&dir.0, &["--timeout", "100ms", "--retries", "2"]);
    let me = client();
    me.send_to(&request(1, b"f.bin", "octet", &[]), server.addr).unwrap();
    let mut buf = [0u8; 1024];
    let (n, tid) = recv_from(&me, &mut buf).unwrap();
    assert!(matches!(parse(&buf[..n]), Reply::Data(1, _)));
    me.send_to(&[0, 4, 0, 1], tid).unwrap();
    let (n, _) = recv_from(&me, &mut buf).unwrap();
    assert!(matches!(parse(&buf[..n]), Reply::Data(2, ref p) if p.len() == 488));
    // No ACK 2: the client "left".
    let log = server.wait_log("timed out", 5);
    assert!(log.contains("failed: timed out after 2 retransmissions waiting for the last ACK"), "{log}");
}

#[test]
fn a_second_server_on_a_port_in_use_fails() {
    // SO_REUSEPORT would let the second join the port and take a share of the requests.
    let dir = TempRoot::empty("in-use");
    let first = serve(&dir.0, &[]);
    let addr = first.addr.to_string();
    let dir_arg = dir.0.to_string_lossy().into_owned();
    let out = run_bounded(
        Command::new(pollux_bin())
            .env("RUST_BACKTRACE", "0")
            .args(["tftp", "serve", &dir_arg, "--bind", &addr]),
        10,
    );
    assert!(!out.status.success(), "the second server started");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{addr} is already in use")), "{err}");
}
