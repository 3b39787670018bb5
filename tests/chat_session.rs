//! A chat session in a terminal (tmux): the server logs who joins and leaves, and when it shuts
//! down, a connected client says so and exits 0 — a normal end, not an error.

use std::io::{BufRead, BufReader};
use std::process::Command;

use pollux_testkit::{pollux_bin, spawn_bound, Tmux};

#[test]
fn a_server_shutdown_ends_the_client_normally_and_the_server_logs_members() {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["chat", "serve", "--bind", "127.0.0.1:0"]);
    let (mut server, _) = spawn_bound(cmd, "tcp://", 1);
    let mut log = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let cmd = format!("'{}' chat connect {}", pollux_bin().display(), server.addr);
    let tmux = Tmux::start("chat", &cmd);
    // The server's log line is the signal that the client is in the room.
    let joined = log.next().expect("a log line").expect("stderr");
    assert_eq!(joined, "pollux: chat: guest1 joined");
    tmux.send_keys(&["/nick ada", "Enter"]);
    assert_eq!(log.next().expect("a log line").expect("stderr"), "pollux: chat: guest1 is now ada");
    // SIGTERM: the graceful shutdown.
    // SAFETY: kill(2) with a valid pid and signal has no memory effects.
    let rc = unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    tmux.wait_done();
    let screen = tmux.capture();
    assert!(screen.contains("* the server is shutting down"), "{screen}");
    assert!(screen.contains("pollux: the room has closed (the server shut down)"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(!screen.contains("Error") && !screen.contains("closed the connection"), "{screen}");
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}

#[test]
fn leaving_is_logged() {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["chat", "serve", "--bind", "127.0.0.1:0"]);
    let (mut server, _) = spawn_bound(cmd, "tcp://", 1);
    let mut log = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let out = Command::new(pollux_bin())
        .args(["chat", "connect", &server.addr.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("client");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(log.next().expect("line").expect("stderr"), "pollux: chat: guest1 joined");
    assert_eq!(log.next().expect("line").expect("stderr"), "pollux: chat: guest1 left");
}
