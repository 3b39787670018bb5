//! `pollux echo --model …` through the real binary: each of the seven textbook servers echoes
//! byte for byte for raw-socket clients (eight at once; one after another for the blocking
//! model) and for `socat`, answers in upper case with `--upper`; the process model leaves no
//! zombie children; and the select model refuses a descriptor ≥ FD_SETSIZE cleanly and goes
//! on serving.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{
    assert_no_zombies, byte_pattern, pollux_bin, socat_io, spawn_bound, tcp_round_trip, ReadRetry, Server,
};

const MODELS: [&str; 7] = ["blocking", "process", "thread", "nonblocking", "select", "poll", "epoll"];

/// `pollux echo --model MODEL --bind 127.0.0.1:0 EXTRA…`, run behind `prefix` (e.g. prlimit).
fn model(prefix: &[&str], name: &str, extra: &[&str]) -> (Server, SocketAddr) {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(pollux_bin());
            c
        }
        None => Command::new(pollux_bin()),
    };
    cmd.args(["echo", "--model", name, "--bind", "127.0.0.1:0"]).args(extra);
    let (server, addrs) = spawn_bound(cmd, "tcp://", 1);
    (server, addrs[0])
}

/// Eight clients of 256 KiB each (concurrently, or one after another when `serial`), then
/// a 100 KB socat run; every echo must be the bytes sent.
fn echoes_correctly(name: &'static str, serial: bool) {
    let (_server, addr) = model(&[], name, &[]);
    let clients = 8u32;
    let run = move |i: u32| {
        let data = byte_pattern(256 * 1024, i + 1);
        let got = tcp_round_trip(addr, &data);
        assert!(got == data, "{name}: client {i} got {} bytes back of {}", got.len(), data.len());
    };
    if serial {
        (0..clients).for_each(run);
    } else {
        let handles: Vec<_> = (0..clients).map(|i| std::thread::spawn(move || run(i))).collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    let data = byte_pattern(100_000, 99);
    let got = socat_io(&["-t", "5", "-", &format!("TCP:{addr}")], &data);
    assert!(got == data, "{name}: socat got {} bytes back of {}", got.len(), data.len());
}

#[test]
fn blocking_model_echoes_clients_one_after_another() {
    echoes_correctly("blocking", true);
}

#[test]
fn process_model_echoes_eight_concurrent_clients() {
    echoes_correctly("process", false);
}

#[test]
fn thread_model_echoes_eight_concurrent_clients() {
    echoes_correctly("thread", false);
}

#[test]
fn nonblocking_model_echoes_eight_concurrent_clients() {
    echoes_correctly("nonblocking", false);
}

#[test]
fn select_model_echoes_eight_concurrent_clients() {
    echoes_correctly("select", false);
}

#[test]
fn poll_model_echoes_eight_concurrent_clients() {
    echoes_correctly("poll", false);
}

#[test]
fn epoll_model_echoes_eight_concurrent_clients() {
    echoes_correctly("epoll", false);
}

#[test]
fn every_model_answers_in_upper_case_with_upper() {
    for name in MODELS {
        let (_server, addr) = model(&[], name, &["--upper"]);
        let got = tcp_round_trip(addr, "héllo, wörld 42\n".as_bytes());
        assert_eq!(String::from_utf8(got).unwrap(), "HéLLO, WöRLD 42\n", "{name}");
    }
}

#[test]
fn udp_with_a_model_is_refused() {
    let out = Command::new(pollux_bin())
        .args(["echo", "--model", "poll", "--udp", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--udp"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn process_model_leaves_no_zombie_children() {
    let (server, addr) = model(&[], "process", &[]);
    let pid = server.child.id();
    for i in 0..20u32 {
        let data = byte_pattern(1000, i + 1);
        assert_eq!(tcp_round_trip(addr, &data), data);
    }
    // Every child exits once its client saw EOF; with SIGCHLD ignored none lingers as a zombie
    // (this waits for the children to be gone, then looks for zombies).
    assert_no_zombies(pid);
    // And the children are gone, not merely reaped later: none of the server's children is
    // left once the clients are.
    let left: Vec<_> = pollux_testkit::processes().into_iter().filter(|p| p.2 == pid).collect();
    assert!(left.is_empty(), "children still running: {left:?}");
}

/// Raises this process's soft RLIMIT_NOFILE to `want` (or the hard limit); the new soft limit.
fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_cur < want {
        lim.rlim_cur = want.min(lim.rlim_max);
        // SAFETY: as above; raising the soft limit up to the hard one needs no privilege.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    }
    lim.rlim_cur
}

#[test]
#[ignore = "needs a hard RLIMIT_NOFILE of 1200 or more (ulimit -Hn); scripts/test.sh runs it where it is"]
fn select_model_refuses_a_descriptor_above_fd_setsize_and_keeps_serving() {
    let conns = 1100;
    let limit = raise_nofile(4096);
    assert!(
        limit >= conns as u64 + 100,
        "this test needs a hard RLIMIT_NOFILE of {} or more to open {conns} connections; it is {limit}",
        conns + 100
    );
    let (mut server, addr) = model(&["prlimit", "--nofile=4096:4096"], "select", &[]);
    let t0 = Instant::now();
    // A first client that stays connected throughout, on a low descriptor.
    let mut first = TcpStream::connect(addr).unwrap();
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..conns {
        held.push(TcpStream::connect(addr).unwrap());
    }
    // The server gets descriptors 5.. (0-2 stdio, 3 listener, 4 the first client), so the
    // last ~80 clients land at 1024 and above: each of those must see its connection closed.
    let mut refused = 0;
    for s in held.iter_mut().rev().take(100) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"x");
        let mut b = [0u8; 1];
        match s.read_retry(&mut b) {
            Ok(0) | Err(_) => refused += 1,
            Ok(_) => {}
        }
    }
    assert!(refused >= 50, "only {refused} of the last 100 clients were refused");
    assert!(server.child.try_wait().unwrap().is_none(), "the select server died");
    // The first client is still served.
    first.write_all(b"still here").unwrap();
    let mut b = [0u8; 10];
    first.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"still here");
    // Freeing low descriptors lets a new client land below 1024 and be served, once the server
    // has seen the closes; until then a new client may still land above and be refused. The
    // signal is an echo: probe until one comes back.
    held.truncate(10);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut probe = TcpStream::connect(addr).unwrap();
        probe.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = probe.write_all(b"x");
        let mut b = [0u8; 1];
        if matches!(probe.read_retry(&mut b), Ok(1)) {
            break;
        }
        assert!(Instant::now() < deadline, "no new client was served after the others left");
    }
    let data = byte_pattern(50_000, 7);
    assert_eq!(tcp_round_trip(addr, &data), data);
    assert!(t0.elapsed() < Duration::from_secs(20), "took {:?}", t0.elapsed());
    drop(held);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut err = String::new();
    server.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("select cannot watch descriptor 1024 ≥ FD_SETSIZE (1024)"), "stderr: {err}");
}
