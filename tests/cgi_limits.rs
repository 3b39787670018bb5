//! The CGI gateway's limits through the real binary: the timeout kills the script's whole
//! process group (504), a client that leaves kills its script (mid-body, mid-output, or by a
//! reset while the script is silent), `--cgi-max` answers 503 with
//! Retry-After, and 200 concurrent requests are all answered. No zombies after any of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pollux_testkit::{assert_no_zombies, group_members, send, write_scripts, TempRoot};

struct Site {
    server: pollux_testkit::Server,
    bin: TempRoot,
    _root: TempRoot,
}

impl Drop for Site {
    fn drop(&mut self) {
        assert_no_zombies(self.server.child.id());
    }
}

fn site(scripts: &[(&str, &str)], extra: &[&str]) -> Site {
    let root = TempRoot::new("cgi-lim-www");
    let bin = TempRoot::new("cgi-lim-bin");
    write_scripts(&bin.0, scripts);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let mut args = vec!["--cgi", spec.as_str()];
    args.extend_from_slice(extra);
    let server = pollux_testkit::serve(&root.0, &args);
    Site { server, bin, _root: root }
}

/// A script that starts a child of its own, records its pid (= its process group) in
/// `NAME.pid`, then sleeps; `head` says whether it sends its header block first. The child is
/// forked before the pid is written, so a test that reads the pid finds both in the group.
fn sleeper(head: bool) -> String {
    let head = if head { "printf 'Content-Type: text/plain\\n\\nstarted\\n'\n" } else { "" };
    format!("#!/bin/sh\n{head}sleep 60 &\necho $$ > \"$SCRIPT_FILENAME.pid.tmp\"\nmv \"$SCRIPT_FILENAME.pid.tmp\" \"$SCRIPT_FILENAME.pid\"\nsleep 60\n")
}

fn wait_pid(dir: &Path, script: &str) -> u32 {
    let file: PathBuf = dir.join(format!("{script}.pid"));
    let t = Instant::now();
    loop {
        if let Some(pid) = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse().ok()) {
            let _ = std::fs::remove_file(&file);
            return pid;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{script} never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to 5 s for process group `pgid` to be empty.
fn assert_group_gone(pgid: u32) {
    let t = Instant::now();
    while !group_members(pgid).is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(group_members(pgid), Vec::<u32>::new(), "process group {pgid} survived");
}

#[test]
fn timeout_is_504_and_kills_the_process_group() {
    let s = site(&[("slow.sh", &sleeper(false))], &["--cgi-timeout", "1s"]);
    let bin = s.bin.0.clone();
    let addr = s.server.addr;
    let t = Instant::now();
    let client = std::thread::spawn(move || send(addr, "GET", "/cgi-bin/slow.sh", &[]));
    let pgid = wait_pid(&bin, "slow.sh");
    // Its own group, with its child in it: the script is the group's leader.
    let members = group_members(pgid);
    assert!(members.contains(&pgid) && members.len() >= 2, "{members:?}");
    let r = client.join().expect("client");
    assert_eq!(r.status, 504);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_group_gone(pgid);
}

#[test]
fn timeout_after_the_head_cuts_the_response_and_kills_the_group() {
    let s = site(&[("slow.sh", &sleeper(true))], &["--cgi-timeout", "1s"]);
    let bin = s.bin.0.clone();
    let mut c = pollux_testkit::connect(s.server.addr);
    c.write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let pgid = wait_pid(&bin, "slow.sh");
    let data = pollux_testkit::read_all(&mut c, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&data);
    // The head and the first bytes went out; the chunked body never ends (no last chunk),
    // and the connection closes, so the client knows it is incomplete.
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("started\n"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "{text}");
    assert_group_gone(pgid);
}

/// Closes `c` with a reset (SO_LINGER 0), as a client that gives up does when unread bytes
/// are waiting, or a proxy tearing a connection down.
fn reset(c: std::net::TcpStream) {
    socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).expect("linger");
    drop(c);
}

#[test]
fn a_client_that_leaves_kills_its_script() {
    let ticker = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho $$ > \"$SCRIPT_FILENAME.pid\"\n\
        while :; do echo tick; sleep 0.2; done\n";
    let s = site(&[("slow.sh", &sleeper(false)), ("upload.sh", &sleeper(true)), ("ticker.sh", ticker)], &[]);
    let bin = s.bin.0.clone();
    // In the middle of a body the script does not read: the body's end never comes.
    let mut c = pollux_testkit::connect(s.server.addr);
    c.write_all(b"POST /cgi-bin/upload.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        .expect("write");
    c.write_all(&[b'x'; 100_000]).expect("part of the body");
    let pgid = wait_pid(&bin, "upload.sh");
    drop(c);
    assert_group_gone(pgid);
    // While the script streams: the next bytes it writes meet the closed socket.
    let mut c = pollux_testkit::connect(s.server.addr);
    c.write_all(b"GET /cgi-bin/ticker.sh HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let pgid = wait_pid(&bin, "ticker.sh");
    drop(c);
    assert_group_gone(pgid);
    // Waiting for a silent script, the client resets the connection. (A plain FIN is not
    // enough here: it may be a half-close from a client still waiting for the answer, so a
    // silent script then runs until it writes or --cgi-timeout.)
    let mut c = pollux_testkit::connect(s.server.addr);
    c.write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let pgid = wait_pid(&bin, "slow.sh");
    reset(c);
    assert_group_gone(pgid);
    // The server carries on.
    assert_eq!(send(s.server.addr, "GET", "/index.html", &[]).status, 200);
}

#[test]
fn beyond_cgi_max_is_503_with_retry_after() {
    let s = site(
        &[
            ("slow.sh", &sleeper(false)),
            ("quick.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok\\n'\n"),
        ],
        &["--cgi-max", "1", "--cgi-timeout", "60s"],
    );
    let bin = s.bin.0.clone();
    let mut c = pollux_testkit::connect(s.server.addr);
    c.write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let pgid = wait_pid(&bin, "slow.sh");
    let r = send(s.server.addr, "GET", "/cgi-bin/quick.sh", &[]);
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
    // Static files are not scripts: no limit for them.
    assert_eq!(send(s.server.addr, "GET", "/index.html", &[]).status, 200);
    reset(c);
    assert_group_gone(pgid);
    // The place is free again once the script is gone.
    let t = Instant::now();
    loop {
        let r = send(s.server.addr, "GET", "/cgi-bin/quick.sh", &[]);
        if r.status == 200 {
            assert_eq!(r.text(), "ok\n");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "still {}", r.status);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_hundred_concurrent_requests_are_all_answered() {
    let echo = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"n=$QUERY_STRING pid=$$\"\n";
    let s = site(&[("echo.sh", echo)], &["--cgi-max", "256"]);
    let addr = s.server.addr;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (i, send(addr, "GET", &format!("/cgi-bin/echo.sh?{i}"), &[]))
            })
        })
        .collect();
    let mut pids = std::collections::HashSet::new();
    for c in clients {
        let (i, r) = c.join().expect("client");
        assert_eq!(r.status, 200, "request {i}");
        let text = r.text();
        assert!(text.starts_with(&format!("n={i} pid=")), "request {i}: {text}");
        pids.insert(text.trim_end().rsplit('=').next().unwrap_or_default().to_owned());
    }
    // One process per request.
    assert_eq!(pids.len(), 200);
}
