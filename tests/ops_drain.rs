//! Draining on SIGTERM through the real binary (`--drain-delay`): during the delay new
//! connections are still accepted and answered with `Connection: close`; after it connecting
//! is refused; a request in flight gets its answer and then the close; the process exits soon
//! after the delay; a second signal ends the delay; `--drain-delay 0` closes at once.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pollux_testkit::{parse_responses, read_all, wait_exit, write_scripts, Server, TempRoot};

fn sigterm(pid: u32) {
    let st = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    assert!(st.is_ok_and(|s| s.success()), "kill -TERM {pid}");
}

/// A site with `f.txt` and a CGI script that answers after `ms` milliseconds.
fn site(extra: &[&str]) -> (Server, TempRoot, TempRoot) {
    let root = TempRoot::new("drain-www");
    std::fs::write(root.0.join("f.txt"), "hello\n").expect("write f.txt");
    let bin = TempRoot::new("drain-cgi");
    write_scripts(
        &bin.0,
        &[("slow.sh", "#!/bin/sh\nsleep 2\nprintf 'Content-Type: text/plain\\r\\n\\r\\nslow done\\n'\n")],
    );
    let spec = format!("/cgi-bin={}", bin.0.display());
    let mut args = vec!["--cgi", spec.as_str()];
    args.extend_from_slice(extra);
    (pollux_testkit::serve(&root.0, &args), root, bin)
}

/// One request on a fresh connection (no `Connection: close` from us): status and whether
/// the answer said `Connection: close` (and the server then closed); `Err` when connecting
/// failed.
fn get(addr: SocketAddr, path: &str) -> Result<(u16, bool), std::io::Error> {
    let mut c = TcpStream::connect(addr)?;
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    // Read by framing, not to the end: a keep-alive answer leaves the connection open.
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let r = loop {
        if let Some(r) = parse_responses(&data, &[false]).0.into_iter().next() {
            break r;
        }
        let n = std::io::Read::read(&mut c, &mut buf).expect("read the answer");
        assert!(n > 0, "closed without an answer: {:?}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
    };
    let close = r.lists("connection", "close");
    if close {
        // Said close: the server closes (the rest reads as end of file, not a timeout).
        let t = Instant::now();
        let rest = read_all(&mut c, Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(4), "no close after `Connection: close`: {rest:?}");
    }
    Ok((r.status, close))
}

/// Right after `kill` returns the signal may not have been handled yet: waits (bounded) for
/// the first answer that says `Connection: close`.
fn until_closing(addr: SocketAddr) {
    let t = Instant::now();
    while get(addr, "/f.txt").expect("accepted during the delay") != (200, true) {
        assert!(t.elapsed() < Duration::from_secs(2), "no `Connection: close` after the signal");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until connecting to `addr` is refused (at most `limit`); the time it took.
fn until_refused(addr: SocketAddr, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return t.elapsed(),
            _ => {}
        }
        assert!(t.elapsed() < limit, "still accepting after {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn during_the_delay_connections_are_answered_with_close_then_refused_and_the_process_exits() {
    let (mut s, _root, _bin) = site(&["--drain-delay", "1500ms"]);
    let addr = s.addr;
    // Before the signal: keep-alive as usual (the control for the close below).
    assert_eq!(get(addr, "/f.txt").expect("connect"), (200, false));
    let t = Instant::now();
    sigterm(s.child.id());
    until_closing(addr);
    // Within the delay, new connections are accepted and answered, each with a close.
    let mut answered = 0;
    while t.elapsed() < Duration::from_millis(1000) {
        assert_eq!(get(addr, "/f.txt").expect("accepted during the delay"), (200, true));
        answered += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    // The loop ran until 1 s into the 1.5 s delay, every request answered (however slowly a
    // loaded machine let them go).
    assert!(answered >= 2, "{answered}");
    let refused = t.elapsed() + until_refused(addr, Duration::from_secs(5));
    assert!(refused >= Duration::from_millis(1400), "refused after {refused:?}, before the delay ended");
    assert!(refused < Duration::from_millis(2500), "refused only after {refused:?}");
    let status = wait_exit(&mut s.child, Duration::from_secs(5)).expect("exits after the delay");
    assert!(status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_millis(2500), "exit took {:?}", t.elapsed());
}

#[test]
fn a_request_in_flight_on_a_keep_alive_connection_gets_its_answer_then_a_close() {
    let (mut s, _root, _bin) = site(&["--drain-delay", "500ms"]);
    let mut c = TcpStream::connect(s.addr).expect("connect");
    c.write_all(b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    // The first answer is back (a keep-alive one), the second is inside the script.
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    while parse_responses(&first, &[false]).0.is_empty() {
        let n = std::io::Read::read(&mut c, &mut buf).expect("read");
        assert!(n > 0, "closed before the first answer");
        first.extend_from_slice(&buf[..n]);
    }
    let t = Instant::now();
    sigterm(s.child.id());
    // Past the delay the listener is closed, while the script still runs.
    until_refused(s.addr, Duration::from_secs(3));
    let rest = read_all(&mut c, Duration::from_secs(10));
    let mut all = first;
    all.extend_from_slice(&rest);
    let (rs, _) = parse_responses(&all, &[false, false]);
    assert_eq!(rs.len(), 2, "{:?}", String::from_utf8_lossy(&all));
    assert!(!rs[0].lists("connection", "close"));
    assert_eq!((rs[1].status, rs[1].text().as_str()), (200, "slow done\n"));
    assert!(rs[1].lists("connection", "close"), "the answer in flight says close: {:?}", rs[1].headers);
    // `read_all` returned at the close, not at its timeout.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let status = wait_exit(&mut s.child, Duration::from_secs(5)).expect("exits once the answer is out");
    assert!(status.success(), "{status}");
}

#[test]
fn a_second_signal_ends_the_delay() {
    let (mut s, _root, _bin) = site(&["--drain-delay", "30s"]);
    let t = Instant::now();
    sigterm(s.child.id());
    until_closing(s.addr);
    sigterm(s.child.id());
    until_refused(s.addr, Duration::from_secs(3));
    let status = wait_exit(&mut s.child, Duration::from_secs(5)).expect("exits after the second signal");
    assert!(status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn drain_delay_0_closes_the_listeners_at_once() {
    let (mut s, _root, _bin) = site(&["--drain-delay", "0"]);
    let t = Instant::now();
    sigterm(s.child.id());
    let refused = until_refused(s.addr, Duration::from_secs(3));
    assert!(refused < Duration::from_millis(500), "{refused:?}");
    let status = wait_exit(&mut s.child, Duration::from_secs(5)).expect("exits");
    assert!(status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_millis(1000), "{:?}", t.elapsed());
}

#[test]
fn a_supervisor_drains_its_child_then_the_socket_closes_and_both_exit() {
    let (mut s, _root, _bin) = site(&["--drain-delay", "1s", "--supervise"]);
    let sup = s.child.id();
    let kids = pollux_testkit::children_of(sup);
    assert_eq!(kids.len(), 1, "one child: {kids:?}");
    assert_eq!(get(s.addr, "/f.txt").expect("connect"), (200, false));
    let t = Instant::now();
    sigterm(sup);
    until_closing(s.addr);
    let refused = t.elapsed() + until_refused(s.addr, Duration::from_secs(5));
    assert!(refused >= Duration::from_millis(900), "refused after {refused:?}, before the delay ended");
    let status = wait_exit(&mut s.child, Duration::from_secs(5)).expect("the supervisor exits");
    assert!(status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_millis(2000), "exit took {:?}", t.elapsed());
    assert!(!std::path::Path::new(&format!("/proc/{}", kids[0])).exists(), "the child is gone");
}
