//! Shared helpers for the black-box tests: start the real binaries on `127.0.0.1:0`, speak raw
//! bytes to them, and parse what comes back.
#![allow(dead_code, unreachable_pub)]

#[path = "../io_retry/mod.rs"]
mod io_retry;
#[allow(unused_imports)] // each test binary uses some of them
pub use io_retry::{recv_from, ReadRetry};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Option<std::process::ChildStderr>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace's target directory for the profile the tests were built with.
pub fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<test>-<hash>
    let exe = std::env::current_exe().expect("test exe path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

/// Path of the `pollux` binary built for these tests.
pub fn pollux_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pollux"))
}

/// Path of an example binary (cargo builds examples before running integration tests).
pub fn example_bin(name: &str) -> PathBuf {
    let p = target_dir().join("examples").join(name);
    assert!(p.exists(), "{} missing: build the examples first", p.display());
    p
}

/// Starts `cmd` (which must print `http://ADDR` on stdout once bound) and waits for the address.
pub fn spawn(mut cmd: Command) -> Server {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = cmd.spawn().expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        assert!(Instant::now() < deadline, "server did not print its address");
        let line = lines.next().expect("server exited before printing its address").expect("read stdout");
        if let Some(i) = line.find("http://") {
            let a = line[i + 7..].split_whitespace().next().unwrap_or("");
            break a.trim_end_matches('/').parse::<SocketAddr>().expect("address");
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let stderr = child.stderr.take();
    Server { child, addr, stderr }
}

/// `pollux serve ROOT --bind 127.0.0.1:0 --workers 1 --access-log off` plus `extra` flags.
pub fn serve(root: &Path, extra: &[&str]) -> Server {
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(root).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.args(extra);
    spawn(cmd)
}

/// `examples/hello --bind 127.0.0.1:0 --workers N`.
pub fn hello(workers: usize) -> Server {
    let mut cmd = Command::new(example_bin("hello"));
    cmd.args(["--bind", "127.0.0.1:0", "--workers", &workers.to_string()]);
    spawn(cmd)
}

/// A fresh temporary directory holding `index.html` (removed when dropped).
pub struct TempRoot(pub PathBuf);

impl TempRoot {
    pub fn new(tag: &str) -> TempRoot {
        let p = std::env::temp_dir().join(format!(
            "pollux-test-{tag}-{}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        let p = PathBuf::from(p.to_string_lossy().replace([' ', '{', '}', ':'], "_"));
        std::fs::create_dir_all(&p).expect("mkdir");
        std::fs::write(p.join("index.html"), "<h1>hello</h1>\n").expect("write index");
        TempRoot(p)
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Every field line named `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads everything until the server closes or `timeout` passes without data.
pub fn read_all(s: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(timeout)).expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read_retry(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // The timeout, or a reset.
            Err(_) => break,
        }
    }
    out
}

/// Sends `raw`, half-closes, and reads until the server closes.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(raw).expect("write");
    let _ = s.shutdown(Shutdown::Write);
    read_all(&mut s, Duration::from_secs(10))
}

/// Parses as many complete responses as `data` holds. `head_only[i]` says the i-th response
/// answers a HEAD request (no body despite Content-Length). Returns the responses and the
/// number of bytes consumed.
pub fn parse_responses(data: &[u8], head_only: &[bool]) -> (Vec<Resp>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &data[pos..];
        let Some(end) = find(rest, b"\r\n\r\n") else { break };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut p = end + 4;
        let is_head = head_only.get(out.len()).copied().unwrap_or(false);
        let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if (100..200).contains(&status) {
            pos += p;
            continue; // interim response: not counted
        }
        if is_head || status == 204 || status == 304 {
        } else if let Some(cl) = get("content-length") {
            let n: usize = cl.parse().unwrap_or(0);
            if rest.len() < p + n {
                break;
            }
            body.extend_from_slice(&rest[p..p + n]);
            p += n;
        } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut q = p;
            let mut done = false;
            while let Some(le) = find(&rest[q..], b"\r\n") {
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&rest[q..q + le]).split(';').next().unwrap_or("").trim(),
                    16,
                )
                .unwrap_or(0);
                q += le + 2;
                if size == 0 {
                    if let Some(te) = find(&rest[q..], b"\r\n") {
                        // no trailers in our responses
                        q += te + 2;
                        done = true;
                    }
                    break;
                }
                if rest.len() < q + size + 2 {
                    break;
                }
                body.extend_from_slice(&rest[q..q + size]);
                q += size + 2;
            }
            if !done {
                break;
            }
            p = q;
        } else {
            // close-delimited
            body.extend_from_slice(&rest[p..]);
            p = rest.len();
        }
        out.push(Resp { status, headers, body });
        pos += p;
    }
    (out, pos)
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh connection; the single response.
pub fn request(addr: SocketAddr, raw: &str) -> Resp {
    let head = raw.starts_with("HEAD ");
    let data = exchange(addr, raw.as_bytes());
    let (rs, _) = parse_responses(&data, &[head]);
    rs.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no response to {raw:?}; got {:?}", String::from_utf8_lossy(&data)))
}

/// `METHOD target` with extra header fields, on a fresh connection (`Connection: close`).
pub fn send(addr: SocketAddr, method: &str, target: &str, fields: &[(&str, &str)]) -> Resp {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in fields {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    request(addr, &raw)
}

/// `GET target` with extra header fields.
pub fn get_with(addr: SocketAddr, target: &str, fields: &[(&str, &str)]) -> Resp {
    send(addr, "GET", target, fields)
}

/// Runs `curl -sS --max-time 20` with `args` (scripts/test.sh installs curl).
pub fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl").args(["-sS", "--max-time", "20"]).args(args).output().expect("run curl")
}

/// An app served in-process on `127.0.0.1:0` by one worker; shut down when dropped.
pub struct AppServer {
    pub addr: SocketAddr,
    shutdown: pollux_server::Shutdown,
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.shutdown.begin();
    }
}

/// Serves `app` (any server handler: a `pollux_web::App`, a closure) in this process.
pub fn start_app(app: impl pollux_server::Handler) -> AppServer {
    start_app_with(app, |_| {})
}

/// [`start_app`] with options changed by `tweak`.
pub fn start_app_with(
    app: impl pollux_server::Handler,
    tweak: impl FnOnce(&mut pollux_server::Options),
) -> AppServer {
    let shutdown = pollux_server::Shutdown::new();
    let mut opts = pollux_server::Options {
        addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        workers: 1,
        handle_signals: false,
        shutdown: shutdown.clone(),
        access_log: pollux_server::AccessLog::Off,
        grace: Duration::from_secs(2),
        ..Default::default()
    };
    tweak(&mut opts);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pollux_server::serve(opts, app, move |a| {
            let _ = tx.send(a[0]);
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).expect("server bound");
    AppServer { addr, shutdown }
}

/// `METHOD target` with a body and its `Content-Type`.
pub fn send_body(addr: SocketAddr, method: &str, target: &str, content_type: &str, body: &[u8]) -> Resp {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let data = exchange(addr, &raw);
    let (rs, _) = parse_responses(&data, &[false]);
    rs.into_iter().next().unwrap_or_else(|| panic!("no response; got {:?}", String::from_utf8_lossy(&data)))
}

/// Writes each `(name, text)` into `dir` as an executable file (CGI scripts).
pub fn write_scripts(dir: &Path, scripts: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("mkdir");
    for (name, text) in scripts {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// `(pid, state, ppid, pgrp)` of every process in /proc.
pub fn processes() -> Vec<(u32, char, u32, u32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let pgrp = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, state, ppid, pgrp));
    }
    out
}

/// Zombie children of `parent`.
pub fn zombies_of(parent: u32) -> Vec<u32> {
    processes().into_iter().filter(|&(_, st, pp, _)| st == 'Z' && pp == parent).map(|p| p.0).collect()
}

/// Children of `parent`, in any state.
pub fn children_of(parent: u32) -> Vec<u32> {
    processes().into_iter().filter(|&(_, _, pp, _)| pp == parent).map(|p| p.0).collect()
}

/// Waits up to 5 s for `parent` to have no children at all, then asserts none is a zombie.
///
/// Waiting for "no zombie" alone is racy: a script killed a moment ago may still be alive at
/// the first look (so no zombie is seen and the wait ends) and a zombie at the second, in the
/// instant before the server's reaper thread collects it. Every test that calls this has
/// finished with its scripts, so each child either ends or is killed and reaped well within
/// the wait; one that is still a zombie after it was never going to be reaped.
pub fn assert_no_zombies(parent: u32) {
    let t = Instant::now();
    while !children_of(parent).is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(zombies_of(parent), Vec::<u32>::new(), "zombie children of {parent}");
}

/// Processes in process group `pgid` (zombies included).
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes().into_iter().filter(|&(_, _, _, pg)| pg == pgid).map(|p| p.0).collect()
}

/// Resident set size of `pid` in KiB (VmRSS), 0 if it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Starts `cmd`, which prints one `SCHEME://ADDR` line per bound address on stdout (`scheme`
/// is `"tcp://"` or `"udp://"`, as `pollux echo`, `chat serve` and `udp listen` print them),
/// and waits for `count` of them. The returned server's `addr` is the first.
pub fn spawn_bound(mut cmd: Command, scheme: &str, count: usize) -> (Server, Vec<SocketAddr>) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = cmd.spawn().expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let scheme_owned = scheme.to_owned();
    // A thread reads the lines so that a server that never prints fails the wait below
    // instead of blocking the test, and keeps draining stdout afterwards.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find(&scheme_owned) {
                let a = line[i + scheme_owned.len()..].split_whitespace().next().unwrap_or("");
                if let Ok(addr) = a.parse::<SocketAddr>() {
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let mut addrs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while addrs.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(a) => addrs.push(a),
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not print {count} {scheme} address(es); got {addrs:?}");
            }
        }
    }
    let stderr = child.stderr.take();
    (Server { child, addr: addrs[0], stderr }, addrs)
}

/// A pseudo-random byte pattern of `len` bytes (every byte value, not just text).
pub fn byte_pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `data` to a TCP echo at `addr` from one thread while reading on this one, closes
/// the writing side, and returns everything read until the server closed.
pub fn tcp_round_trip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let owned = data.to_vec();
    let writer = std::thread::spawn(move || {
        w.write_all(&owned).expect("write");
        w.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read the echo");
    writer.join().expect("writer");
    out
}

/// Runs `socat ARGS` with `input` on its stdin and returns its stdout (socat must succeed).
pub fn socat_io(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("socat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run socat (scripts/test.sh installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("socat");
    writer.join().expect("writer");
    assert!(out.status.success(), "socat {args:?} failed");
    out.stdout
}

/// A detached tmux session on a private tmux server (its own socket), for what needs a
/// terminal: Ctrl-C, a progress bar, an interactive client. Killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `cmd` (a shell command line) in a new session. When it ends, the pane prints
    /// `EXIT=<code>` and signals the tmux channel `done` (see [`Tmux::wait_done`]), then waits
    /// on its terminal so that its output stays readable. Panics if tmux cannot start it (not
    /// installed: scripts/test.sh installs it, as it does curl and socat).
    pub fn start(tag: &str, cmd: &str) -> Tmux {
        let socket = format!("pollux-{tag}-{}", std::process::id());
        // The shell traps SIGINT (so Ctrl-C reaches the command and the shell lives on to
        // report); a trapped signal is reset to its default in the command it starts.
        let script = format!("trap : INT; {cmd}; echo EXIT=$?; tmux -L {socket} wait-for -S done; read _");
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "40",
                "sh",
                "-c",
                &script,
            ])
            .env_remove("TMUX")
            .status()
            .expect("run tmux: this test needs tmux (scripts/test.sh installs it)")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { socket }
    }

    /// Types `keys` into the pane (tmux key names: `C-c`, `Enter`, or literal text).
    pub fn send_keys(&self, keys: &[&str]) {
        let st =
            Command::new("tmux").args(["-L", &self.socket, "send-keys"]).args(keys).status().expect("tmux");
        assert!(st.success(), "tmux send-keys failed");
    }

    /// Blocks until the command has ended (the `done` channel), 60 s at most.
    pub fn wait_done(&self) {
        let st = Command::new("timeout")
            .args(["60", "tmux", "-L", &self.socket, "wait-for", "done"])
            .status()
            .expect("timeout tmux wait-for");
        assert!(st.success(), "the command in tmux did not end:\n{}", self.capture());
    }

    /// What the pane shows.
    pub fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-S", "-200"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

/// Waits until `cond` holds, checking every 10 ms for at most `secs` seconds; panics with
/// `what` otherwise. For conditions no event announces (a file appearing).
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A 1 MiB block for large uploads: not a repeating pattern of a pipe's or a buffer's size,
/// so a lost or doubled piece changes the hash. Send block `i` with its first byte set to
/// `i as u8` (see [`upload_sha256`]).
pub fn upload_block() -> Vec<u8> {
    let mut block = vec![0u8; 1 << 20];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    block
}

/// The SHA-256 (hex) of `count` numbered blocks, as an upload of them should hash.
pub fn upload_sha256(block: &mut [u8], count: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for i in 0..count {
        block[0] = i as u8;
        hasher.update(&*block);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
