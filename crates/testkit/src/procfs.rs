//! Processes as /proc shows them: for the CGI and process-model tests, which must leave no
//! zombie and no stray process group behind.

use std::time::{Duration, Instant};

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
/// the wait; one that is still a zombie after it was never going to be reaped. (Polling: no
/// event announces another process's child being reaped.)
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
