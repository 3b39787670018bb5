//! wrk (Debian's package) as the load of a fleet test: a fixed number of keep-alive
//! connections for a fixed time, and its counts of failed requests read from a Lua `done`
//! hook rather than from the human-readable summary.

use std::path::Path;
use std::time::Duration;

use crate::netns::Node;
use crate::process::run_bounded;

/// wrk's `done` hook: one line with the totals the tests assert on.
const DONE_HOOK: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-totals requests=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
end
"#;

/// A load to run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Open connections (`-c`).
    pub connections: u32,
    /// How long (`-d`).
    pub duration: Duration,
    /// A request without an answer for this long counts as a timeout error (`--timeout`,
    /// whole seconds: wrk takes no smaller unit).
    pub timeout: Duration,
}

/// What wrk counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests answered (any status).
    pub requests: u64,
    /// Connections that could not be made.
    pub connect: u64,
    /// Reads that failed (a reset, or the server closing with a request unanswered).
    pub read: u64,
    /// Writes that failed.
    pub write: u64,
    /// Answers with a status of 400 or more (wrk's "Non-2xx or 3xx responses").
    pub status: u64,
    /// Requests not answered within the timeout.
    pub timeout: u64,
}

impl Totals {
    /// Socket errors of every kind (wrk's "Socket errors" line).
    pub fn socket_errors(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }

    /// Requests that failed one way or another.
    pub fn failed(&self) -> u64 {
        self.socket_errors() + self.status
    }

    fn parse(stdout: &str) -> Option<Totals> {
        let line = stdout.lines().find_map(|l| l.strip_prefix("wrk-totals "))?;
        let mut t = Totals::default();
        for pair in line.split_whitespace() {
            let (k, v) = pair.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "requests" => t.requests = v,
                "connect" => t.connect = v,
                "read" => t.read = v,
                "write" => t.write = v,
                "status" => t.status = v,
                "timeout" => t.timeout = v,
                _ => return None,
            }
        }
        Some(t)
    }
}

impl Load {
    /// Runs wrk in `node`'s namespace against `url` (two threads) and returns its totals;
    /// `dir` receives the Lua hook. Panics if wrk fails or overruns its duration by 15 s.
    pub fn run(&self, node: &Node, dir: &Path, url: &str) -> Totals {
        let hook = dir.join("wrk-done.lua");
        std::fs::write(&hook, DONE_HOOK).expect("write the wrk hook");
        let mut cmd = node.command("wrk");
        cmd.args(["-t2", &format!("-c{}", self.connections)])
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .args(["--timeout", &format!("{}s", self.timeout.as_secs().max(1))])
            .arg("-s")
            .arg(&hook)
            .arg(url);
        let out = run_bounded(&mut cmd, self.duration.as_secs() + 15);
        let stdout = String::from_utf8_lossy(&out.stdout);
        Totals::parse(&stdout).unwrap_or_else(|| {
            panic!("wrk gave no totals ({:?}): {stdout}{}", out.status, String::from_utf8_lossy(&out.stderr))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_come_from_the_done_hooks_line() {
        let out = "Running 20s test @ http://10.218.0.2:8080/\n  2 threads and 32 connections\n\
                   wrk-totals requests=1000 connect=1 read=2 write=3 status=4 timeout=5\n";
        let t = Totals::parse(out).expect("parsed");
        assert_eq!(t, Totals { requests: 1000, connect: 1, read: 2, write: 3, status: 4, timeout: 5 });
        assert_eq!((t.socket_errors(), t.failed()), (11, 15));
        assert_eq!(Totals::parse("Requests/sec: 5.00\n"), None, "no hook line");
        assert_eq!(Totals::parse("wrk-totals requests=x\n"), None, "not a number");
    }
}
