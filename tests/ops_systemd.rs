//! systemd integration through the real binary: socket activation under
//! `systemd-socket-activate` (the socket is systemd's, the connection that started us is
//! answered), and `Type=notify-reload` readiness to a fake `NOTIFY_SOCKET` that records
//! READY, RELOADING (with MONOTONIC_USEC), READY, STOPPING across a SIGHUP and a SIGTERM.

use std::io::Write;
use std::net::TcpStream;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pollux_testkit::{parse_responses, read_all, wait_exit, TempRoot};

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status();
    assert!(st.is_ok_and(|s| s.success()), "kill -{sig} {pid}");
}

/// CLOCK_MONOTONIC in microseconds, as the service manager reads it.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// A fake service manager's notify socket (abstract, as systemd's own is): every datagram
/// it receives, in order.
fn notify_socket(name: &str) -> mpsc::Receiver<String> {
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            if tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                break;
            }
        }
    });
    rx
}

fn next(rx: &mpsc::Receiver<String>, what: &str) -> String {
    rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no {what} notification"))
}

#[test]
fn socket_activated_with_ready_reloading_ready_stopping_in_order() {
    // Named as a socket unit's FileDescriptorName=http names it.
    activated(Some("http"));
}

#[test]
fn an_unnamed_activated_socket_goes_to_the_first_listener() {
    activated(None);
}

/// Runs `pollux serve` (no --bind) under `systemd-socket-activate`, its socket named `name`,
/// through a request, a SIGHUP and a SIGTERM, checking the notifications.
fn activated(name: Option<&str>) {
    let fdname = name.map(|n| format!("--fdname={n}"));
    let root = TempRoot::new("systemd-www");
    std::fs::write(root.0.join("f.txt"), "hello\n").expect("write f.txt");
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let name = format!("pollux-test-notify-{}-{}", std::process::id(), fdname.is_some());
    let notes = notify_socket(&name);
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &format!("127.0.0.1:{port}")])
        .args(&fdname)
        .arg("-E")
        .arg(format!("NOTIFY_SOCKET=@{name}"))
        .arg(pollux_testkit::pollux_bin())
        .arg("serve")
        .arg(&root.0)
        .args(["--workers", "1", "--access-log", "off", "--drain-delay", "200ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("systemd-socket-activate (apt package systemd)");
    let (log, _) = pollux_testkit::Log::collect(child.stderr.take().expect("stderr"));
    // The first connection starts pollux (systemd-socket-activate waits for it); it waits in
    // the socket's queue meanwhile and must be answered.
    let t = Instant::now();
    let mut c = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(_) if t.elapsed() < Duration::from_secs(10) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("systemd-socket-activate does not listen: {e}; {}", log.text()),
        }
    };
    c.write_all(b"GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let data = read_all(&mut c, Duration::from_secs(20));
    let (rs, _) = parse_responses(&data, &[false]);
    assert_eq!(
        rs.first().map(|r| r.status),
        Some(200),
        "{:?}; {}",
        String::from_utf8_lossy(&data),
        log.text()
    );
    assert_eq!(next(&notes, "READY"), "READY=1");
    // Socket activation means a supervisor: pollux runs as systemd-socket-activate's pid.
    let pid = child.id();
    assert!(!pollux_testkit::children_of(pid).is_empty(), "a serving child under the supervisor");

    let before = monotonic_usec();
    signal(pid, "HUP");
    let reloading = next(&notes, "RELOADING");
    let usec: u64 = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{reloading:?}"));
    assert!(usec >= before && usec <= monotonic_usec(), "MONOTONIC_USEC {usec} not between {before} and now");
    assert_eq!(next(&notes, "READY after the reload"), "READY=1");
    let data = pollux_testkit::exchange(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        b"GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(parse_responses(&data, &[false]).0.first().map(|r| r.status), Some(200));

    signal(pid, "TERM");
    assert_eq!(next(&notes, "STOPPING"), "STOPPING=1");
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}; {}", log.text());
    assert!(notes.try_recv().is_err(), "nothing after STOPPING");
}
