//! A child process in a process group of its own, with its output gathered, and the whole
//! group killed when dropped.
//!
//! A supervising server (`pollux serve --supervise`, HAProxy's master) has children of its
//! own; killing only the pid a test started could leave them serving in a namespace that is
//! being deleted. Starting the child as the leader of a new group lets [`Group`] signal
//! either the leader alone ([`Group::signal`], what an operator's `kill PID` does) or every
//! process of the group ([`Group::signal_group`], a machine's crash), and always the group
//! when dropped, even while a test unwinds from a panic.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, kill_process_group, Pid};

/// The signals a test sends (re-exported so tests need no rustix of their own).
pub use rustix::process::Signal;

use crate::process::{wait_exit, Log};

/// A started process group; every member gets SIGKILL on drop.
#[derive(Debug)]
pub struct Group {
    child: Child,
    /// The group's id: the first leader's pid.
    pid: Pid,
    /// The process that now stands for the group (the first leader, or the process that
    /// took over from it: a supervisor started by a binary upgrade).
    leader: Pid,
    /// What the leader (and its children) wrote to stdout.
    pub out: Log,
    /// What they wrote to stderr.
    pub err: Log,
    exited: Option<ExitStatus>,
}

impl Group {
    /// Starts `cmd` as the leader of a new process group, stdin closed, both outputs gathered.
    pub fn spawn(mut cmd: Command) -> Group {
        cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw).expect("a child's pid");
        let out = Log::collect(child.stdout.take().expect("piped stdout")).0;
        let err = Log::collect(child.stderr.take().expect("piped stderr")).0;
        Group { child, pid, leader: pid, out, err, exited: None }
    }

    /// The leader's pid.
    pub fn pid(&self) -> u32 {
        self.leader.as_raw_pid() as u32
    }

    /// From now on `pid` (a process of the group that took over from the leader, which
    /// exited) is the leader that [`Group::signal`] and [`Group::wait_exit`] mean.
    pub fn follow(&mut self, pid: u32) {
        self.leader = i32::try_from(pid).ok().and_then(Pid::from_raw).expect("a pid");
    }

    /// Sends `sig` to the leader only.
    pub fn signal(&self, sig: Signal) {
        kill_process(self.leader, sig).unwrap_or_else(|e| panic!("kill -{sig:?} {}: {e}", self.pid()));
    }

    /// Sends `sig` to every process of the group (those that left it excepted).
    pub fn signal_group(&self, sig: Signal) {
        // ESRCH: the group is empty already, which is what a kill wants.
        let _ = kill_process_group(self.pid, sig);
    }

    /// Waits at most `limit` for the leader to exit: its status and how long the wait took,
    /// or `None` (the leader was then killed) if it was still running. A leader that is not
    /// the process the test started (see [`Group::follow`]) has no status to collect: its
    /// disappearance is checked every 10 ms, and the status is a made-up success.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let t0 = Instant::now();
        if self.leader != self.pid {
            // Not our child: no status to wait for, only its disappearance.
            let proc = format!("/proc/{}", self.pid());
            while std::path::Path::new(&proc).exists() {
                if t0.elapsed() >= limit {
                    let _ = kill_process(self.leader, Signal::KILL);
                    return None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            return Some((ExitStatus::default(), t0.elapsed()));
        }
        if let Some(status) = self.exited {
            return Some((status, Duration::ZERO));
        }
        let status = wait_exit(&mut self.child, limit)?;
        self.exited = Some(status);
        Some((status, t0.elapsed()))
    }

    /// Whether the leader has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited.is_some()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal_group(Signal::KILL);
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
