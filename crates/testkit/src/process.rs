//! Child processes under test: the `pollux` binary and the examples, started on `127.0.0.1:0`,
//! ready once they print their address (never after a sleep), killed when dropped.
//!
//! Every server pollux ships prints one `SCHEME://ADDR` line per bound address on stdout
//! (`http://`, `tcp://`, `udp://`, `tftp://`); [`spawn_announced`] waits for those lines on a
//! reader thread, so a server that never prints fails the wait instead of hanging the test.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server gets to print its address.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// The workspace's target directory for the profile the tests were built with.
pub fn target_dir() -> PathBuf {
    // Tests run from target/[<triple>/]<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("test exe path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

/// Path of the `pollux` binary: beside the test executable's `deps/`, where cargo builds it
/// for the root package's integration tests (what `CARGO_BIN_EXE_pollux` names there; a
/// library cannot read that variable, which exists only while its test is compiled).
pub fn pollux_bin() -> PathBuf {
    let p = target_dir().join("pollux");
    assert!(p.exists(), "{} missing: only the root package's tests have the binary built", p.display());
    p
}

/// Path of an example binary (cargo builds examples before running integration tests).
pub fn example_bin(name: &str) -> PathBuf {
    let p = target_dir().join("examples").join(name);
    assert!(p.exists(), "{} missing: build the examples first", p.display());
    p
}

/// What a child wrote to a pipe so far, gathered by a thread; waiting for a line wakes on each
/// new piece instead of polling.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<(Mutex<String>, Condvar)>);

impl Log {
    /// Starts gathering everything `r` yields until its end.
    pub fn collect(mut r: impl Read + Send + 'static) -> (Log, JoinHandle<()>) {
        let log = Log::default();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let (text, grew) = &*sink.0;
                text.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                grew.notify_all();
            }
        });
        (log, reader)
    }

    /// Everything gathered so far.
    pub fn text(&self) -> String {
        self.0 .0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until the text holds `needle` (at most `secs` seconds); returns the text either way.
    pub fn wait_for(&self, needle: &str, secs: u64) -> String {
        self.wait_until(secs, |t| t.contains(needle))
    }

    /// Waits until `done` holds for the text (at most `secs` seconds, checked each time the
    /// text grows); returns the text either way.
    pub fn wait_until(&self, secs: u64, mut done: impl FnMut(&str) -> bool) -> String {
        let (text, grew) = &*self.0;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut t = text.lock().unwrap_or_else(PoisonError::into_inner);
        while !done(&t) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            t = grew.wait_timeout(t, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        t.clone()
    }
}

/// A server process, killed when dropped.
#[derive(Debug)]
pub struct Server {
    /// The process.
    pub child: Child,
    /// The first address it announced.
    pub addr: SocketAddr,
    /// Its stderr, for a test that reads it line by line; `None` once taken or being
    /// gathered into [`Server::log`].
    pub stderr: Option<ChildStderr>,
    log: Option<Log>,
}

impl Server {
    /// A started `child` listening at `addr`.
    pub fn new(child: Child, addr: SocketAddr, stderr: Option<ChildStderr>) -> Server {
        Server { child, addr, stderr, log: None }
    }

    /// Gathers stderr from now on (see [`Server::log`]).
    pub fn gather_stderr(mut self) -> Server {
        if let Some(err) = self.stderr.take() {
            self.log = Some(Log::collect(err).0);
        }
        self
    }

    /// Everything the server wrote to stderr so far (after [`Server::gather_stderr`]).
    pub fn log(&self) -> String {
        self.log.as_ref().expect("stderr is not being gathered").text()
    }

    /// Waits until stderr holds `needle` (at most `secs` seconds); returns the log.
    pub fn wait_log(&self, needle: &str, secs: u64) -> String {
        self.log.as_ref().expect("stderr is not being gathered").wait_for(needle, secs)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` and waits for `count` lines announcing a `scheme` address (`"http://"`,
/// `"tcp://"`, `"udp://"`, `"tftp://"`: anything up to white space or a trailing `/` after it).
/// Stdout is drained for the rest of the child's life so it never blocks on a full pipe.
pub fn spawn_announced(mut cmd: Command, scheme: &str, count: usize) -> (Server, Vec<SocketAddr>) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let scheme_owned = scheme.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find(&scheme_owned) {
                let a = line[i + scheme_owned.len()..].split_whitespace().next().unwrap_or("");
                if let Ok(addr) = a.trim_end_matches('/').parse::<SocketAddr>() {
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let mut addrs = Vec::new();
    let deadline = Instant::now() + READY_WITHIN;
    while addrs.len() < count {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(a) => addrs.push(a),
            Err(e) => {
                let _ = child.kill();
                let why = match e {
                    RecvTimeoutError::Timeout => "did not print",
                    RecvTimeoutError::Disconnected => "exited before printing",
                };
                panic!("{cmd:?} {why} {count} {scheme} address(es); got {addrs:?}");
            }
        }
    }
    let stderr = child.stderr.take();
    (Server::new(child, addrs[0], stderr), addrs)
}

/// Starts `cmd`, which must print `http://ADDR` on stdout once bound, and waits for it.
pub fn spawn(cmd: Command) -> Server {
    spawn_announced(cmd, "http://", 1).0
}

/// Starts `cmd`, which prints one `SCHEME://ADDR` line per bound address (as `pollux echo`,
/// `chat serve` and `udp listen` do), and waits for `count` of them. The returned server's
/// `addr` is the first.
pub fn spawn_bound(cmd: Command, scheme: &str, count: usize) -> (Server, Vec<SocketAddr>) {
    spawn_announced(cmd, scheme, count)
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

/// Runs `cmd` to completion (stdin closed), killing it after `secs` seconds; its output.
pub fn run_bounded(cmd: &mut Command, secs: u64) -> Output {
    run_limited(cmd, Duration::from_secs(secs), None).0
}

/// [`run_bounded`] with `input` written to the command's stdin, which is then closed.
pub fn run_bounded_input(cmd: &mut Command, input: &[u8], secs: u64) -> Output {
    run_limited(cmd, Duration::from_secs(secs), Some(input)).0
}

/// [`run_bounded`] for a command that must finish: panics, naming `what`, if it had to be
/// killed at `limit`.
pub fn run_within(cmd: &mut Command, limit: Duration, what: &str) -> Output {
    let (out, killed) = run_limited(cmd, limit, None);
    assert!(!killed, "{what} did not finish within {limit:?}");
    out
}

fn run_limited(cmd: &mut Command, limit: Duration, input: Option<&[u8]>) -> (Output, bool) {
    let mut child = cmd
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        // Written on a thread (a child that does not read must not block the test); closed
        // when written, so the child sees the end of its input.
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &input);
        });
    }
    // Both pipes drained on threads, so a chatty child never blocks on a full pipe.
    let out = read_to_end(child.stdout.take().expect("piped stdout"));
    let err = read_to_end(child.stderr.take().expect("piped stderr"));
    let (status, killed) = wait_killing_at(&mut child, limit);
    // The pipes end with the child (the readers see end of file): no sleep needed.
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    (Output { status, stdout, stderr }, killed)
}

/// Waits for `child` to exit, at most `limit`: its status, or `None` if it was still running
/// then (it is killed, so that a failing test leaves nothing behind).
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let (status, killed) = wait_killing_at(child, limit);
    (!killed).then_some(status)
}

/// Blocks in `wait` (no polling) while a watchdog thread kills the child at `limit` unless
/// told it ended. Its status, and whether the watchdog fired.
fn wait_killing_at(child: &mut Child, limit: Duration) -> (ExitStatus, bool) {
    let (ended, watch) = mpsc::channel::<()>();
    let pid = child.id().to_string();
    let watchdog = std::thread::spawn(move || {
        let fire = watch.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
        if fire {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        fire
    });
    let status = child.wait().expect("wait for the child");
    let _ = ended.send(());
    (status, watchdog.join().unwrap_or(false))
}

fn read_to_end(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Panics with the output unless the command succeeded.
pub fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `cond` holds, checking every 10 ms for at most `secs` seconds; panics with
/// `what` otherwise. Only for conditions no event announces (a file appearing).
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
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
