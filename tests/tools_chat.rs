//! `pollux chat` through the real binary: three members joining, renaming, listing and
//! leaving, with every announcement in order; a member that stops reading while the others
//! flood is dropped and the room carries on; long lines are refused; and the terminal client
//! (`pollux chat connect`) talks to raw members.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pollux_testkit::{pollux_bin, spawn_bound, wait_exit, Server};

fn chat_server() -> (Server, SocketAddr) {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["chat", "serve", "--bind", "127.0.0.1:0"]);
    let (server, addrs) = spawn_bound(cmd, "tcp://", 1);
    (server, addrs[0])
}

/// A raw member: a socket and its lines.
struct Member {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Member {
    /// Connects and reads the welcome line; returns the member and its guest name.
    fn join(addr: SocketAddr) -> (Member, String) {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut m = Member { w: s.try_clone().unwrap(), r: BufReader::new(s) };
        let welcome = m.line();
        let name = welcome
            .strip_prefix("* welcome, you are ")
            .and_then(|r| r.split(';').next())
            .unwrap_or_else(|| panic!("not a welcome: {welcome:?}"))
            .to_owned();
        (m, name)
    }

    fn say(&mut self, line: &str) {
        self.w.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// The next line, without its end.
    fn line(&mut self) -> String {
        let mut l = String::new();
        let n = self.r.read_line(&mut l).unwrap();
        assert!(n > 0, "the server closed the connection");
        l.trim_end_matches('\n').to_owned()
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.line(), want);
    }

    /// Asserts the server closes the connection (after any lines still in flight).
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.r.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
}

#[test]
fn three_members_see_joins_renames_who_messages_and_leaves_in_order() {
    let (_server, addr) = chat_server();
    let (mut a, ga) = Member::join(addr);
    let (mut b, gb) = Member::join(addr);
    a.expect(&format!("* {gb} joined"));
    let (mut c, gc) = Member::join(addr);
    a.expect(&format!("* {gc} joined"));
    b.expect(&format!("* {gc} joined"));
    assert_eq!((ga.as_str(), gb.as_str(), gc.as_str()), ("guest1", "guest2", "guest3"));

    // One rename at a time: lines from separate connections have no order between them.
    for (who, new) in [(0, "alice"), (1, "bob"), (2, "carol")] {
        [&mut a, &mut b, &mut c][who].say(&format!("/nick {new}"));
        let want = format!("* guest{} is now {new}", who + 1);
        for m in [&mut a, &mut b, &mut c] {
            m.expect(&want);
        }
    }
    c.say("/nick Alice");
    c.expect("! the nickname Alice is taken");
    c.say("/nick 1x");
    c.expect("! a nickname starts with a letter");
    c.say("/nick");
    c.expect("! a nickname cannot be empty: /nick NAME");
    a.say("/who");
    a.expect("* online (3): alice, bob, carol");
    a.say("hello room");
    b.expect("[alice] hello room");
    c.expect("[alice] hello room");
    b.say("/quit");
    b.expect("* bye");
    b.expect_closed();
    a.expect("* bob left");
    c.expect("* bob left");
    // A member that just disconnects is announced too.
    drop(c);
    a.expect("* carol left");
    a.say("/who");
    a.expect("* online (1): alice");
    // The author does not get their own message back: the next line is the /who answer.
}

#[test]
fn a_member_that_stops_reading_is_dropped_while_the_others_carry_on() {
    let (server, addr) = chat_server();
    let pid = server.child.id();
    let before = pollux_testkit::rss_kib(pid);
    let mut peak = before;
    let (mut a, _) = Member::join(addr);
    let (mut b, _) = Member::join(addr);
    let (mut stuck, _) = Member::join(addr);
    a.expect("* guest2 joined");
    a.expect("* guest3 joined");
    b.expect("* guest3 joined");
    // One rename at a time: members on separate connections are not ordered otherwise.
    for (who, line) in [(0, "alice"), (1, "bob"), (2, "stuck")] {
        [&mut a, &mut b, &mut stuck][who].say(&format!("/nick {line}"));
        let want = format!("* guest{} is now {line}", who + 1);
        a.expect(&want);
        b.expect(&want);
    }
    // From here on `stuck` reads nothing. Bob reads everything on a thread and reports the
    // notice; alice floods until it comes (bounded in bytes and time), then says "end". Bob
    // reads on to that line: flood lines still buffered on their way from alice are broadcast
    // after the notice, and a bob who stopped at the notice would be dropped in his turn.
    let (tx, rx) = mpsc::channel();
    let mut b_reader = b.r;
    let bob_reader = std::thread::spawn(move || {
        let mut seen = 0usize;
        let mut notified = false;
        let mut l = String::new();
        loop {
            l.clear();
            match b_reader.read_line(&mut l) {
                Ok(0) | Err(_) => return (seen, b_reader, notified),
                Ok(_) => {}
            }
            if l.starts_with("* stuck was disconnected: not reading") {
                notified = true;
                let _ = tx.send(());
                continue;
            }
            if l == "[alice] end\n" {
                return (seen, b_reader, notified);
            }
            assert!(l.starts_with("[alice] flood "), "bob got {l:?}");
            if !notified {
                seen += 1;
            }
        }
    });
    let line = format!("flood {}\n", "x".repeat(1000));
    let mut sent = 0usize;
    let t = Instant::now();
    while rx.try_recv().is_err() {
        assert!(sent < 256 << 20 && t.elapsed() < Duration::from_secs(60), "stuck member never dropped");
        a.w.write_all(line.repeat(16).as_bytes()).unwrap();
        sent += line.len() * 16;
        peak = peak.max(pollux_testkit::rss_kib(pid));
    }
    a.say("end");
    let (seen, b_reader, notified) = bob_reader.join().unwrap();
    assert!(notified);
    eprintln!(
        "alice sent {} KiB, bob read {seen} lines before the drop; server VmRSS {before} → {peak} KiB",
        sent / 1024
    );
    assert!(peak < before + 16 * 1024, "the server grew from {before} KiB to {peak} KiB");
    a.expect_eventually("* stuck was disconnected: not reading");
    // The room carries on.
    let mut b = Member { w: b.w, r: b_reader };
    b.say("still here");
    a.expect_eventually("[bob] still here");
    a.say("/who");
    a.expect("* online (2): alice, bob");
    // And the stuck member finds its connection closed once it reads again.
    stuck.r.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stuck.expect_closed();
}

impl Member {
    /// Skips lines until one starts with `prefix` (bounded by the read timeout).
    fn expect_eventually(&mut self, prefix: &str) {
        let t = Instant::now();
        loop {
            let l = self.line();
            if l.starts_with(prefix) {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "no line starting {prefix:?}");
        }
    }
}

#[test]
fn a_long_line_is_refused_and_the_next_one_goes_through() {
    let (_server, addr) = chat_server();
    let (mut a, _) = Member::join(addr);
    let (mut b, _) = Member::join(addr);
    a.expect("* guest2 joined");
    a.say(&"y".repeat(5000));
    a.expect("! line longer than 4096 bytes: not sent");
    a.say("ok");
    b.expect("[guest1] ok");
}

#[test]
fn the_terminal_client_sends_typed_lines_prints_the_room_and_quits_at_end_of_input() {
    let (_server, addr) = chat_server();
    let (mut raw, _) = Member::join(addr);
    let mut client = Command::new(pollux_bin())
        .args(["chat", "connect", &addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = client.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l);
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).expect("a line from the client");
    assert!(next().starts_with("* welcome, you are guest2;"));
    raw.expect("* guest2 joined");
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"/nick zed\nhello from the terminal\n").unwrap();
    raw.expect("* guest2 is now zed");
    raw.expect("[zed] hello from the terminal");
    assert_eq!(next(), "* guest2 is now zed");
    raw.say("hi zed");
    assert_eq!(next(), "[guest1] hi zed");
    // End of input: the client says /quit, prints the goodbye, and exits by itself.
    drop(stdin);
    assert_eq!(next(), "* bye");
    raw.expect("* zed left");
    let status = wait_exit(&mut client, Duration::from_secs(10)).expect("the client did not exit");
    assert!(status.success(), "{status}");
}

#[test]
fn sigterm_tells_the_room_and_exits_cleanly() {
    let (mut server, addr) = chat_server();
    let (mut a, _) = Member::join(addr);
    // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) }, 0);
    a.expect("* the server is shutting down");
    a.expect_closed();
    let status =
        wait_exit(&mut server.child, Duration::from_secs(10)).expect("chat serve did not exit on SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn the_terminal_client_says_so_when_the_server_closes_first() {
    let (mut server, addr) = chat_server();
    let mut client = Command::new(pollux_bin())
        .args(["chat", "connect", &addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap());
    let mut welcome = String::new();
    out.read_line(&mut welcome).unwrap();
    assert!(welcome.starts_with("* welcome"), "{welcome}");
    // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) }, 0);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "* the server is shutting down\n");
    let status = wait_exit(&mut client, Duration::from_secs(10)).expect("the client did not exit");
    // A shutdown the server announced is a normal end (issue 19), not a failure.
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    client.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(err, "pollux: the room has closed (the server shut down)\n");
    let _ = server.child.wait();
}

#[test]
fn a_room_of_200_hears_one_member() {
    let (_server, addr) = chat_server();
    let mut members: Vec<Member> = (0..200).map(|_| Member::join(addr).0).collect();
    members[0].say("/who");
    let who = loop {
        let l = members[0].line();
        if l.starts_with("* online") {
            break l;
        }
    };
    assert!(who.starts_with("* online (200): guest1, guest10, guest100,"), "{who}");
    members[0].say("hello, everyone");
    for m in &mut members[1..] {
        m.expect_eventually("[guest1] hello, everyone");
    }
}
