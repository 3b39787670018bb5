//! Running a script: the child process, its three pipes as reactor sources, and its end.
//!
//! ```text
//!   spawn ──► execve(file) directly (no shell), env from scratch, cwd = the script's directory,
//!             its own process group (pgid = pid), stdin/stdout/stderr piped, O_NONBLOCK;
//!             the worker does not wait for the execve (see `spawn`)
//!   exit  ──► pidfd (CLONE_PIDFD) turns readable ──► waitpid(pid, WNOHANG) reaps it
//!   abort ──► kill(-pgid, SIGKILL) ──► the reaper thread waitpid()s it (blocking, briefly)
//! ```
//!
//! No SIGCHLD handler: a handler is process-wide state that a library should not take, and
//! `waitpid(-1)` in one would reap children that are not ours. A pidfd is a descriptor like any
//! other, so the worker's epoll watches it next to the pipes. Where the kernel has no
//! `CLONE_PIDFD` (before 5.2), exit is noticed at stdout's end instead.
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

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::mpsc;
use std::sync::OnceLock;

use pollux_reactor::mio::unix::pipe;
use pollux_reactor::sys::spawn::{self as sys_spawn, Child, Spec};
use rustix::fs::Access;
use rustix::process::{Pid, Signal};

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
///
/// Why not `std::process::Command`: it spawns through glibc's `posix_spawn`, whose
/// `CLONE_VFORK` stops the calling thread — here the worker, with every other connection it
/// serves — until the child has reached `execve`. The child is queued on the worker's own CPU,
/// so the worker waited behind it: in `bench/cgi.sh` unpinned, `clone3` took 0.8-1.9 ms on
/// average, 70-80% of the only worker's wall time, and pollux served a static C script at
/// 0.91x lighttpd's mod_cgi, which forks and carries on (docs/benchmarks.md, 2026-12-07).
/// Pinned to one core the wait is hidden: the child runs where the worker would have anyway.
/// So the child is started without waiting for its `execve` (reactor's `sys::spawn`; no
/// `fork` either, which would copy the page tables of this multi-threaded process), and its
/// `execve` errors arrive later: `clone` now returns in 0.06 ms, and the same bench reads
/// 1.87x unpinned, 1.48x pinned.
///
/// The execute bit is checked here first, so the common setup mistake still gets a 500 and the
/// `chmod +x` hint at once; what only `execve` can tell (a missing `#!` interpreter, a file
/// with no `#!` line, `ETXTBSY`) becomes a line on the script's stderr ("cannot run FILE: os
/// error N", logged with the script's name) and exit status 127: a script with no output, 502.
pub(crate) fn spawn(file: &Path, env: Vec<(OsString, OsString)>, with_body: bool) -> io::Result<Spawned> {
    rustix::fs::access(file, Access::EXEC_OK)?;
    let program = CString::new(file.as_os_str().as_bytes())?;
    let env = env
        .into_iter()
        .map(|(name, value)| {
            let mut v = name.into_vec();
            v.push(b'=');
            v.extend_from_slice(value.as_bytes());
            CString::new(v)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // RFC 3875 §7.2: "the current working directory for the script SHOULD be set to the
    // directory containing the script". `file` is absolute (the handler's roots are
    // canonical), so changing directory does not change what is run.
    let cwd = file.parent().map(|dir| CString::new(dir.as_os_str().as_bytes())).transpose()?;
    // Blocking for the script, close-on-exec for everyone else (std::io::pipe sets O_CLOEXEC).
    let (stdin_child, stdin): (OwnedFd, Option<pipe::Sender>) = if with_body {
        let (r, w) = std::io::pipe()?;
        (r.into(), Some(pipe::Sender::from(OwnedFd::from(w))))
    } else {
        (std::fs::File::open("/dev/null")?.into(), None)
    };
    let (stdout, stdout_child) = std::io::pipe()?;
    let (stderr, stderr_child) = std::io::pipe()?;
    let child = sys_spawn::spawn(Spec {
        program,
        env,
        cwd,
        stdio: [stdin_child.as_fd(), stdout_child.as_fd(), stderr_child.as_fd()],
        // Its own group, so a timeout or a vanished client kills its children too.
        new_group: true,
    })?;
    // The child has its copies; ours go now, so the script's exit is our end's EOF.
    drop((stdin_child, stdout_child, stderr_child));
    // From here on, `Process` owns the child: any early return kills and reaps it.
    let process = Process { child: Some(child) };
    let stdin = match stdin {
        Some(s) => {
            s.set_nonblocking(true)?;
            Some(s)
        }
        None => None,
    };
    let stdout = pipe::Receiver::from(OwnedFd::from(stdout));
    stdout.set_nonblocking(true)?;
    let stderr = pipe::Receiver::from(OwnedFd::from(stderr));
    stderr.set_nonblocking(true)?;
    Ok(Spawned { process, stdin, stdout, stderr })
}

/// A script process until it is reaped.
#[derive(Debug)]
pub(crate) struct Process {
    /// `None` once reaped (or handed to the reaper).
    child: Option<Child>,
}

impl Process {
    /// The descriptor that turns readable at exit, if the kernel gave us one (CLONE_PIDFD,
    /// Linux 5.2).
    pub(crate) fn pidfd(&self) -> Option<RawFd> {
        self.child.as_ref()?.pidfd().map(|fd| fd.as_raw_fd())
    }

    /// Reaps the process if it has exited (`waitpid(WNOHANG)`); its status then, and on every
    /// later call.
    pub(crate) fn try_reap(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            Ok(None) => None,
            // ECHILD: someone else reaped it (cannot happen without a SIGCHLD handler
            // elsewhere); either way there is nothing left to wait for.
            Err(_) => {
                self.child = None;
                None
            }
        }
    }

    /// Waits until the child has run `execve` or given up, and says which. For tests: the
    /// server learns of a failed `execve` from the script's stderr and exit status.
    #[cfg(test)]
    pub(crate) fn exec_result(&self) -> io::Result<()> {
        let Some(child) = self.child.as_ref() else { return Ok(()) };
        while !child.left() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        child.exec_error().map_or(Ok(()), Err)
    }

    /// Whether the process has been reaped.
    pub(crate) fn reaped(&self) -> bool {
        self.child.is_none()
    }

    /// Kills the process group unless the script is already reaped, and makes sure the
    /// script is reaped soon (here if it is already dead, else on the reaper thread).
    pub(crate) fn kill(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if let Ok(pgid) = i32::try_from(child.id()) {
            // The group id is the unreaped script's pid (both the script and `spawn` set it
            // before anyone can call this), so no other process can hold it.
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

    /// The child's exit status, once it has exited (nothing announces the exit to a test:
    /// it looks every 5 ms, for at most `limit`).
    fn reap_within(s: &mut Spawned, limit: Duration) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = s.process.try_reap() {
                return st;
            }
            assert!(t.elapsed() < limit, "the child did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(5));
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
            let s = spawn(&file, env.clone(), false).expect("spawn");
            match s.process.exec_result() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => {
                    r.expect("execve");
                    break s;
                }
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
        let status = reap_within(&mut s, Duration::from_secs(5));
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

    #[test]
    fn the_script_gets_default_signal_dispositions() {
        // SIGPIPE is SIG_IGN in a Rust program; the script must get the default back, or a
        // `cmd | head` in it would see EPIPE errors instead of ending quietly.
        let (mut s, _file) =
            sh("while read k v; do [ \"$k\" = SigIgn: ] && echo \"$v\"; done < /proc/$$/status");
        let out = String::from_utf8(read_to_end(&mut s.stdout)).expect("utf-8");
        let ignored = u64::from_str_radix(out.trim(), 16).expect("SigIgn mask");
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
    }

    #[test]
    fn exec_failures_say_why() {
        // No execute bit: refused before any process exists.
        let dir = std::env::temp_dir();
        let file = dir.join(format!("pollux-cgi-noexec-{}", std::process::id()));
        std::fs::write(&file, "#!/bin/sh\n").expect("write");
        let _guard = Script(file.clone());
        let env = vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))];
        let e = spawn(&file, env.clone(), false).expect_err("not executable");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);

        // A #! interpreter that does not exist: only execve can tell; the script then has no
        // output, a line on stderr and exit status 127.
        let (mut s, _file) = {
            let file = dir.join(format!("pollux-cgi-nointerp-{}", std::process::id()));
            std::fs::write(&file, "#!/nonexistent/interpreter\n").expect("write");
            let mut perm = std::fs::metadata(&file).expect("stat").permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
            std::fs::set_permissions(&file, perm).expect("chmod");
            (spawn(&file, env, false).expect("spawn"), Script(file))
        };
        let err = s.process.exec_result().expect_err("execve fails");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(read_to_end(&mut s.stdout).is_empty());
        let line = String::from_utf8(read_to_end(&mut s.stderr)).expect("utf-8");
        assert_eq!(line, format!("cannot run {}: os error {}\n", _file.0.display(), libc::ENOENT));
        let status = reap_within(&mut s, Duration::from_secs(5));
        assert_eq!(status.code(), Some(127));
    }
}
