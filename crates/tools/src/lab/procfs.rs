//! What the kernel says a server costs: CPU time and resident memory of a process and its
//! children, read from `/proc`, and the descriptor limit the lab raises before it starts one.
//!
//! The process model forks a child per client, so a server is a process *tree*: its own
//! `utime`/`stime` (fields 14–15 of `/proc/PID/stat`) cover its threads, `cutime`/`cstime`
//! (16–17) cover children already reaped, and the live children are found by their parent
//! pid (field 4) and counted the same way.

use std::fs;
use std::io;

/// CPU time and memory of a process tree at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// utime + stime + cutime + cstime of the process and its live children, in clock ticks.
    pub ticks: u64,
    /// VmRSS of the process and its live children, in KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of the `/proc/PID/stat` times.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant of the running system; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Fields of a `/proc/PID/stat` line after the command name, which may itself hold spaces
/// and parentheses, hence the split at the *last* `)`. Index 0 here is field 3 (state).
fn stat_fields(line: &str) -> Option<Vec<&str>> {
    let rest = &line[line.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

/// (parent pid, utime + stime + cutime + cstime) of one process.
fn stat_of(pid: u32) -> Option<(u32, u64)> {
    let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f = stat_fields(&line)?;
    // Field n of the man page is f[n - 3]: ppid is field 4, utime..cstime are 14..=17.
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = (14..=17).map(|n| f.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)).sum();
    Some((ppid, ticks))
}

/// VmRSS of one process in KiB (0 once it has gone).
fn rss_of(pid: u32) -> u64 {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else { return 0 };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The live children of `pid`, found by scanning `/proc` for processes whose parent it is.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat_of(p).is_some_and(|(ppid, _)| ppid == pid))
        .collect()
}

/// CPU time and memory of `pid` and its live children.
pub fn usage(pid: u32) -> Usage {
    let mut total = Usage::default();
    for p in std::iter::once(pid).chain(children_of(pid)) {
        if let Some((_, ticks)) = stat_of(p) {
            total.ticks += ticks;
            total.rss_kib += rss_of(p);
        }
    }
    total
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit; servers
/// spawned afterwards inherit it, and the lab itself needs one descriptor per idle client.
pub fn raise_nofile_limit() -> io::Result<u64> {
    pollux_reactor::sys::raise_nofile_limit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_split_after_the_last_parenthesis() {
        let line = "42 (a (b) c) S 7 42 42 0 -1 4194560 1 0 0 0 11 22 33 44 20 0 1 0";
        let f = stat_fields(line).unwrap_or_default();
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "7");
        assert_eq!((14..=17).map(|n| f[n - 3]).collect::<Vec<_>>(), ["11", "22", "33", "44"]);
    }

    #[test]
    fn own_usage_is_visible() {
        let u = usage(std::process::id());
        assert!(u.rss_kib > 0);
    }
}
