//! Running a script: the child process, its three pipes as reactor sources, and its end.
//!
//! ```text
//!   spawn ──► execve(file) directly (no shell), env from scratch, cwd = the script's directory,
//!             its own process group (pgid = pid), stdin/stdout/stderr piped, O_NONBLOCK
//!   exit  ──► pidfd (pidfd_open) turns readable ──► waitpid(pid, WNOHANG) reaps it
//!   abort ──► kill(-pgid, SIGKILL) ──► the reaper thread waitpid()s it (blocking, briefly)
//! ```
//!
//! No SIGCHLD handler: a handler is process-wide state that a library should not take, and
//! `waitpid(-1)` in one would reap children that are not ours. A pidfd is a descriptor like any
//! other, so the worker's epoll watches it next to the pipes. Where the kernel has no
//! `pidfd_open` (before 5.3, or a seccomp filter), exit is noticed at stdout's end instead.
//!
//! No zombies: [`Process`] reaps on its own when the exit is seen, and dropping an unreaped
//! `Process` kills the group and hands the child to the reaper thread. SIGKILL cannot be
//! caught, so the reaper's blocking `waitpid` returns at once; one thread serves the whole
//! server, started on first use.
//!
//! The group is killed, not just the script, because a script's own children (a shell
//! pipeline, a `sleep`) would otherwise outlive it holding the pipes open. The group id is the
//! script's pid, which cannot be reused while the script is unreaped, so the kill never hits
//! a stranger.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;

use pollux_reactor::mio::unix::pipe;
use rustix::process::{Pid, PidfdFlags, Signal};

/// A spawned script and the parent's ends of its pipes (non-blocking).
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) process: Process,
    /// `None` when the request has no body: the script's stdin is `/dev/null`.
    pub(crate) stdin: Option<pipe::Sender>,
    pub(crate) stdout: pipe::Receiver,
    pub(crate) stderr: pipe::Receiver,
}

/// Starts `file` with exactly `env`, in its own directory and process group.
pub(crate) fn spawn(file: &Path, env: Vec<(OsString, OsString)>, with_body: bool) -> io::Result<Spawned> {
    let mut cmd = Command::new(file);
    cmd.env_clear()
        .envs(env)
        .stdin(if with_body { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout or a vanished client kills its children too.
        .process_group(0);
    // RFC 3875 §7.2: "the current working directory for the script SHOULD be set to the
    // directory containing the script". `file` is absolute (the handler's roots are
    // canonical), so changing directory does not change what is run.
    if let Some(dir) = file.parent() {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn()?;
    // From here on, `Process` owns the child: any early return kills and reaps it.
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let pidfd = pidfd_open(child.id());
    let process = Process { child: Some(child), pidfd };
    let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
        return Err(io::Error::other("child pipes missing"));
    };
    let stdin = match stdin {
        Some(s) => {
            let s = pipe::Sender::from(s);
            s.set_nonblocking(true)?;
            Some(s)
        }
        None => None,
    };
    let stdout = pipe::Receiver::from(stdout);
    stdout.set_nonblocking(true)?;
    let stderr = pipe::Receiver::from(stderr);
    stderr.set_nonblocking(true)?;
    Ok(Spawned { process, stdin, stdout, stderr })
}

/// A script process until it is reaped.
#[derive(Debug)]
pub(crate) struct Process {
    /// `None` once reaped (or handed to the reaper).
    child: Option<Child>,
    /// Readable when the process has exited.
    pidfd: Option<OwnedFd>,
}

impl Process {
    /// The descriptor that turns readable at exit, if the kernel gave us one.
    pub(crate) fn pidfd(&self) -> Option<RawFd> {
        self.pidfd.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Reaps the process if it has exited (`waitpid(WNOHANG)`); its status then, and on every
    /// later call.
    pub(crate) fn try_reap(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.pidfd = None;
                Some(status)
            }
            Ok(None) => None,
            // ECHILD: someone else reaped it (cannot happen without a SIGCHLD handler
            // elsewhere); either way there is nothing left to wait for.
            Err(_) => {
                self.child = None;
                self.pidfd = None;
                None
            }
        }
    }

    /// Whether the process has been reaped.
    pub(crate) fn reaped(&self) -> bool {
        self.child.is_none()
    }

    /// Kills the process group unless the script is already reaped, and makes sure the
    /// script is reaped soon (here if it is already dead, else on the reaper thread).
    pub(crate) fn kill(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        self.pidfd = None;
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if let Ok(pgid) = i32::try_from(child.id()) {
            // The group id is the unreaped script's pid (process_group(0)), so no other
            // process can hold it.
            if let Some(pgid) = Pid::from_raw(pgid) {
                let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
            }
        }
        reap_later(child);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `pidfd_open(2)`: a descriptor that turns readable when `pid` exits.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
    // pidfd_open sets O_CLOEXEC itself, so no later script inherits it.
    rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()
}

/// Waits for `child` on the reaper thread. Only killed children come here, so each wait is
/// short; should the thread not start, the wait happens right here instead.
fn reap_later(child: Child) {
    static REAPER: OnceLock<Option<mpsc::Sender<Child>>> = OnceLock::new();
    let reaper = REAPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Child>();
        std::thread::Builder::new()
            .name("cgi-reaper".into())
            .spawn(move || {
                for mut child in rx {
                    let _ = child.wait();
                }
            })
            .ok()
            .map(|_| tx)
    });
    let child = match reaper {
        Some(tx) => match tx.send(child) {
            Ok(()) => return,
            Err(mpsc::SendError(child)) => child,
        },
        None => child,
    };
    let mut child = child;
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::{Duration, Instant};

    use super::*;

    /// The script file, removed when dropped (not before: the interpreter opens it by name
    /// after exec).
    struct Script(std::path::PathBuf);

    impl Drop for Script {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn sh(script: &str) -> (Spawned, Script) {
        let env = vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))];
        let dir = std::env::temp_dir();
        let file = dir.join(format!("pollux-cgi-process-{}-{:?}.sh", std::process::id(), Instant::now()));
        let file = std::path::PathBuf::from(file.to_string_lossy().replace([' ', ':', '{', '}'], "_"));
        std::fs::write(&file, format!("#!/bin/sh\n{script}\n")).expect("write script");
        let mut perm = std::fs::metadata(&file).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&file, perm).expect("chmod");
        // ETXTBSY: another test thread forked while our write descriptor was open, and its
        // child holds a copy until it execs. Gone a moment later.
        let mut tries = 0;
        let s = loop {
            match spawn(&file, env.clone(), false) {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => break r.expect("spawn"),
            }
        };
        (s, Script(file))
    }

    fn read_to_end(rx: &mut pipe::Receiver) -> Vec<u8> {
        rx.set_nonblocking(false).expect("blocking");
        let mut out = Vec::new();
        rx.read_to_end(&mut out).expect("read");
        out
    }

    #[test]
    fn the_environment_is_only_what_we_give() {
        let (mut s, _file) = sh("env; pwd");
        let out = String::from_utf8(read_to_end(&mut s.stdout)).expect("utf-8");
        let vars: Vec<&str> = out.lines().filter(|l| l.contains('=')).collect();
        assert!(vars.iter().all(|l| l.starts_with("PATH=") || l.starts_with("PWD=")), "{vars:?}");
        assert!(out.lines().any(|l| Path::new(l) == std::env::temp_dir()), "{out}");
    }

    #[test]
    fn exit_is_reaped_and_kill_takes_the_group() {
        let (mut s, _file) = sh("exit 3");
        let _ = read_to_end(&mut s.stdout);
        let t = Instant::now();
        let status = loop {
            if let Some(st) = s.process.try_reap() {
                break st;
            }
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(status.code(), Some(3));
        assert!(s.process.reaped());

        // A script with a child of its own: killing the group ends both, so stdout closes.
        let (mut s, _file) = sh("sleep 30 & sleep 30");
        s.process.kill();
        assert!(s.process.reaped());
        let t = Instant::now();
        assert!(read_to_end(&mut s.stdout).is_empty());
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
