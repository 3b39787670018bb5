//! SIGHUP reload and SIGUSR2 binary upgrade under `--supervise`, through the real binary:
//! clients hammering (bounded) across the signal see no error, the listening socket is the
//! same one (its inode), the generation goes up, the old processes are gone. Without a
//! supervisor, SIGHUP and SIGUSR2 leave the process serving.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pollux_testkit::{children_of, parse_responses, read_all, wait_exit, Server, TempRoot};

fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status();
    assert!(st.is_ok_and(|s| s.success()), "kill -{sig} {pid}");
}

fn site(extra: &[&str]) -> (Server, TempRoot) {
    let root = TempRoot::new("reload-www");
    std::fs::write(root.0.join("f.txt"), "hello\n").expect("write f.txt");
    let mut args = vec!["--drain-delay", "300ms"];
    args.extend_from_slice(extra);
    (pollux_testkit::serve(&root.0, &args).gather_stderr(), root)
}

/// The inode of the socket listening on `port` (from /proc/net/tcp, state 0A = LISTEN).
fn listening_inode(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let want = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A")
        .and_then(|f| f[9].parse().ok())
        .unwrap_or_else(|| panic!("nothing listens on port {port}"))
}

/// Whether process `pid` holds socket `inode` among its descriptors.
fn holds(pid: u32, inode: u64) -> bool {
    let target = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten().any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == target))
        })
        .unwrap_or(false)
}

/// One request on a new connection; `Err` says what went wrong.
fn get(addr: SocketAddr) -> Result<(), String> {
    let mut c = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.write_all(b"GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let data = read_all(&mut c, Duration::from_secs(10));
    match parse_responses(&data, &[false]).0.first() {
        Some(r) if r.status == 200 && r.body == b"hello\n" => Ok(()),
        Some(r) => Err(format!("status {}", r.status)),
        None => Err(format!("no answer: {:?}", String::from_utf8_lossy(&data))),
    }
}

/// Clients requesting in a loop until stopped (or 20 s, or 100,000 requests: bounded).
struct Hammer {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Hammer {
    fn start(addr: SocketAddr, clients: usize) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|_| {
                let (stop, done) = (stop.clone(), done.clone());
                std::thread::spawn(move || {
                    let t = Instant::now();
                    let mut errors = Vec::new();
                    while !stop.load(Ordering::Relaxed) && t.elapsed() < Duration::from_secs(20) {
                        if done.fetch_add(1, Ordering::Relaxed) > 100_000 {
                            break;
                        }
                        if let Err(e) = get(addr) {
                            errors.push(e);
                        }
                    }
                    errors
                })
            })
            .collect();
        let h = Hammer { stop, done, threads };
        h.wait_for(50);
        h
    }

    /// Waits until `n` more requests went out.
    fn wait_for(&self, n: u64) {
        let start = self.done.load(Ordering::Relaxed);
        let t = Instant::now();
        while self.done.load(Ordering::Relaxed) < start + n {
            assert!(t.elapsed() < Duration::from_secs(10), "the clients are stuck");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the clients: every error they saw.
    fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let errors = self.threads.into_iter().flat_map(|t| t.join().expect("client")).collect();
        (self.done.load(Ordering::Relaxed), errors)
    }
}

#[test]
fn sighup_under_load_starts_generation_2_on_the_same_socket_with_zero_errors() {
    let (s, _root) = site(&["--supervise"]);
    let sup = s.child.id();
    let inode = listening_inode(s.addr.port());
    assert!(holds(sup, inode), "the supervisor holds the listening socket");
    let old = children_of(sup);
    assert_eq!(old.len(), 1, "{old:?}");
    let hammer = Hammer::start(s.addr, 4);
    signal(sup, "HUP");
    let log = s.wait_log("pollux: generation 2 serving", 20);
    assert!(log.contains("pollux: generation 2 serving"), "{log}");
    // The old child drains (300 ms) and exits; the clients go on meanwhile.
    let t = Instant::now();
    while children_of(sup).contains(&old[0]) {
        assert!(t.elapsed() < Duration::from_secs(10), "the old child did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    hammer.wait_for(200);
    let (requests, errors) = hammer.stop();
    assert!(
        errors.is_empty(),
        "{} of {requests} requests failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    let now = children_of(sup);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, old, "a new child serves");
    assert_eq!(listening_inode(s.addr.port()), inode, "the same listening socket");
    assert!(holds(sup, inode) && holds(now[0], inode));
    // The child knows its generation (what /metrics reports once the admin listener is in).
    let env = std::fs::read(format!("/proc/{}/environ", now[0])).expect("environ");
    assert!(
        env.split(|&b| b == 0).any(|v| v == b"POLLUX_GENERATION=2"),
        "generation 2 in the child's environment"
    );
}

#[test]
fn sigusr2_under_load_hands_the_sockets_to_a_new_supervisor_with_zero_errors() {
    // The binary runs from a copy that is replaced (renamed over, as a package upgrade does)
    // before the signal: the new supervisor must run the new file.
    let (mut s, bin_dir, bin, root) = supervised_copy("upgrade-bin");
    let old_sup = s.child.id();
    let staged = bin_dir.0.join("pollux.new");
    cp(&pollux_testkit::pollux_bin(), &staged);
    std::fs::rename(&staged, &bin).expect("replace the binary");
    let exe = |pid: u32| {
        std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe").to_string_lossy().into_owned()
    };
    assert!(
        exe(old_sup).ends_with(" (deleted)"),
        "the old supervisor runs the replaced file: {}",
        exe(old_sup)
    );
    let inode = listening_inode(s.addr.port());
    let hammer = Hammer::start(s.addr, 4);
    signal(old_sup, "USR2");
    // The old supervisor exits once the new one serves and its own child drained.
    let status = wait_exit(&mut s.child, Duration::from_secs(20)).expect("the old supervisor exits");
    assert!(status.success(), "{status}");
    hammer.wait_for(200);
    let (requests, errors) = hammer.stop();
    // The new supervisor: the process that holds the socket now, not the old one's pid.
    let holders: Vec<u32> = pollux_testkit::processes()
        .into_iter()
        .map(|(pid, ..)| pid)
        .filter(|&pid| holds(pid, inode))
        .collect();
    let new_sup = holders
        .iter()
        .copied()
        .find(|&p| !children_of(p).is_empty())
        .unwrap_or_else(|| panic!("no new supervisor among {holders:?}"));
    // Whatever happens below, the new supervisor is stopped.
    let _stop = Stop(new_sup);
    assert!(
        errors.is_empty(),
        "{} of {requests} requests failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_ne!(new_sup, old_sup);
    assert_eq!(exe(new_sup), bin.to_string_lossy(), "the new supervisor runs the new file");
    assert_eq!(listening_inode(s.addr.port()), inode, "the same listening socket");
    assert!(!std::path::Path::new(&format!("/proc/{old_sup}")).exists(), "the old supervisor is gone");
    get(s.addr).expect("the new supervisor's child answers");
    let log = s.log();
    assert!(log.contains("pollux: upgraded: process"), "{log}");
    drop(root);
}

#[test]
fn a_new_binary_that_does_not_come_up_leaves_the_old_supervisor_serving() {
    let (s, bin_dir, bin, _root) = supervised_copy("upgrade-broken");
    let kids = children_of(s.child.id());
    // The "new binary" fails at once, as one built for another machine would.
    let staged = bin_dir.0.join("pollux.new");
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf '#!/bin/sh\\nexit 1\\n' > \"$1\" && chmod 755 \"$1\"")
        .arg("sh")
        .arg(&staged)
        .status();
    assert!(st.is_ok_and(|s| s.success()), "write the broken binary");
    std::fs::rename(&staged, &bin).expect("replace the binary");
    let t = Instant::now();
    signal(s.child.id(), "USR2");
    // (The whole line: stderr is written in pieces.)
    let log = s.wait_log("did not come up; serving on", 10);
    assert!(
        log.contains(&format!("pollux: upgrade failed: {} did not come up; serving on", bin.display())),
        "{log}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "noticed at once, not at the 60 s limit: {:?}",
        t.elapsed()
    );
    assert_eq!(children_of(s.child.id()), kids, "the same child serves on");
    get(s.addr).expect("still serving");
}

/// A supervised server run from a copy of the binary in a directory of its own (which the
/// upgrade tests replace): the server, that directory, the copy's path and the site's root.
fn supervised_copy(name: &str) -> (Server, TempRoot, std::path::PathBuf, TempRoot) {
    let bin_dir = TempRoot::new(name);
    let bin = bin_dir.0.join("pollux");
    cp(&pollux_testkit::pollux_bin(), &bin);
    let root = TempRoot::new("reload-www");
    std::fs::write(root.0.join("f.txt"), "hello\n").expect("write f.txt");
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("serve").arg(&root.0).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.args(["--drain-delay", "300ms", "--supervise"]);
    (pollux_testkit::spawn(cmd).gather_stderr(), bin_dir, bin, root)
}

/// Copies an executable with `cp`, not from this process: a file this multi-threaded test
/// process had open for writing could be inherited by a child another test forks meanwhile,
/// and executing it would then fail with ETXTBSY.
fn cp(from: &std::path::Path, to: &std::path::Path) {
    let st = std::process::Command::new("cp").arg(from).arg(to).status();
    assert!(st.is_ok_and(|s| s.success()), "cp {} {}", from.display(), to.display());
}

/// SIGTERMs a process when dropped (one this test did not start as a child).
struct Stop(u32);

impl Drop for Stop {
    fn drop(&mut self) {
        signal(self.0, "TERM");
        let t = Instant::now();
        while std::path::Path::new(&format!("/proc/{}", self.0)).exists()
            && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn without_a_supervisor_sighup_and_sigusr2_say_so_and_serving_goes_on() {
    let (s, _root) = site(&[]);
    signal(s.child.id(), "HUP");
    let log = s.wait_log(
        "pollux: SIGHUP: reloading the configuration needs --supervise or --config; serving on",
        10,
    );
    assert!(log.contains("SIGHUP: reloading the configuration needs --supervise or --config"), "{log}");
    signal(s.child.id(), "USR2");
    let log = s.wait_log("pollux: SIGUSR2: a binary upgrade needs --supervise or --config; serving on", 10);
    assert!(log.contains("SIGUSR2"), "{log}");
    get(s.addr).expect("still serving");
}

/// A free port on 127.0.0.1 (bound and let go: nothing else here takes ports meanwhile).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn write_config(path: &std::path::Path, root: &std::path::Path, binds: &[String]) {
    let binds: Vec<String> = binds.iter().map(|b| format!("{b:?}")).collect();
    let text = format!(
        "root = {:?}\nbind = [{}]\nworkers = 1\naccess-log = \"off\"\ndrain-delay = \"300ms\"\nsupervise = true\n",
        root.display().to_string(),
        binds.join(", ")
    );
    std::fs::write(path, text).expect("write the config");
}

fn refused(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

#[test]
fn sighup_with_a_changed_config_keeps_one_listener_opens_a_new_one_and_closes_a_removed_one() {
    let root = TempRoot::new("reload-config");
    std::fs::write(root.0.join("f.txt"), "hello\n").expect("write f.txt");
    let config = root.0.join("..").join(format!("pollux-reload-{}.toml", std::process::id()));
    let (removed, added) = (free_port(), free_port());
    let kept = "127.0.0.1:0".to_owned();
    write_config(&config, &root.0, &[kept.clone(), format!("127.0.0.1:{removed}")]);
    let mut cmd = std::process::Command::new(pollux_testkit::pollux_bin());
    cmd.arg("serve").arg("--config").arg(&config);
    let (s, addrs) = pollux_testkit::spawn_bound(cmd, "http://", 2);
    let s = s.gather_stderr();
    let sup = s.child.id();
    let removed_addr = SocketAddr::from(([127, 0, 0, 1], removed));
    let added_addr = SocketAddr::from(([127, 0, 0, 1], added));
    assert!(addrs.contains(&removed_addr), "{addrs:?}");
    let inode = listening_inode(s.addr.port());
    let old = children_of(sup);
    get(removed_addr).expect("the listener to be removed serves until the reload");
    assert!(refused(added_addr), "nothing on the new port before the reload");

    write_config(&config, &root.0, &[kept, format!("127.0.0.1:{added}")]);
    let hammer = Hammer::start(s.addr, 2);
    signal(sup, "HUP");
    let log = s.wait_log("pollux: generation 2 serving", 20);
    assert!(log.contains("pollux: generation 2 serving"), "{log}");
    get(added_addr).expect("the new listener answers");
    // The removed one closes once the old child (which accepts what was queued on it) is gone.
    let t = Instant::now();
    while !refused(removed_addr) {
        assert!(t.elapsed() < Duration::from_secs(10), "the removed listener stays open");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!children_of(sup).contains(&old[0]), "closed only after the old child exited");
    hammer.wait_for(100);
    let (requests, errors) = hammer.stop();
    assert!(
        errors.is_empty(),
        "{} of {requests} requests failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(listening_inode(s.addr.port()), inode, "the unchanged listener is the same socket");
    let _ = std::fs::remove_file(&config);
}

#[test]
fn a_bad_config_on_sighup_keeps_the_old_generation_serving() {
    let root = TempRoot::new("reload-bad");
    std::fs::write(root.0.join("f.txt"), "hello\n").expect("write f.txt");
    let config = root.0.join("..").join(format!("pollux-reload-bad-{}.toml", std::process::id()));
    write_config(&config, &root.0, &["127.0.0.1:0".to_owned()]);
    let mut cmd = std::process::Command::new(pollux_testkit::pollux_bin());
    cmd.arg("serve").arg("--config").arg(&config);
    let s = pollux_testkit::spawn(cmd).gather_stderr();
    let sup = s.child.id();
    let kids = children_of(sup);
    // Line 3 misspells a key.
    let good = std::fs::read_to_string(&config).expect("read");
    let bad = good.replacen("workers = 1", "wrokers = 1", 1);
    std::fs::write(&config, &bad).expect("write");
    signal(sup, "HUP");
    let needle = format!("pollux: reload failed: {}:3:", config.display());
    let log = s.wait_log(&needle, 10);
    assert!(log.contains(&needle), "{log}");
    assert_eq!(children_of(sup), kids, "the old generation serves on");
    get(s.addr).expect("still serving");
    // Fixed, the next SIGHUP goes through: generation 2 (the failed one did not count).
    std::fs::write(&config, &good).expect("write");
    signal(sup, "HUP");
    let log = s.wait_log("pollux: generation 2 serving", 20);
    assert!(log.contains("pollux: generation 2 serving"), "{log}");
    get(s.addr).expect("serving after the reload");
    let _ = std::fs::remove_file(&config);
}
