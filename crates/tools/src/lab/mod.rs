//! The I/O-model lab: `pollux lab c10k` puts each echo server model under N idle
//! connections plus a few busy clients and measures how each I/O model copes.
//!
//! ```text
//!   for each model:  server::Server (pollux echo --model M, a child process)
//!     for each step N:  load::open_idle(N)  ── each idle connection echoes one byte
//!                       procfs::usage ─┐
//!                       load::run_active(clients, seconds)   round-trips, latencies
//!                       procfs::usage ─┘  CPU ticks and RSS of the server tree
//!   ──► Row per (model, N) ──► table (stdout), chart::write_svg
//! ```
//!
//! The servers run as separate processes so that `/proc` charges their CPU and memory to
//! them and not to the load generator. Steps a model cannot take by construction are
//! skipped with the reason (blocking serves one client at a time; select watches only
//! descriptors below FD_SETSIZE); steps that run out of time are recorded as failed, and
//! the model's larger steps are then skipped rather than tried.

pub mod chart;
pub mod load;
pub mod procfs;
pub mod server;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What can go wrong running the lab (a model failing a step is a result, not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The server binary could not be started.
    #[error("cannot start the echo server: {0}")]
    Spawn(std::io::Error),
    /// The server never printed its listening address.
    #[error("the {0} echo server did not report a listening address")]
    NoAddress(String),
    /// The chart could not be drawn or written.
    #[error("cannot write the chart: {0}")]
    Chart(String),
}

/// The models the lab knows, from the simplest to epoll; `reactor` is ours.
pub const MODELS: [&str; 8] =
    ["blocking", "process", "thread", "nonblocking", "select", "poll", "epoll", "reactor"];

/// FD_SETSIZE on Linux: select(2) cannot watch a descriptor at or above it.
const FD_SETSIZE: usize = 1024;

/// One lab run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `pollux` binary whose `echo` subcommand is measured.
    pub exe: PathBuf,
    /// Models to run, from [`MODELS`].
    pub models: Vec<String>,
    /// Idle connection counts, one step each.
    pub steps: Vec<usize>,
    /// Active clients doing round-trips.
    pub clients: usize,
    /// Length of each step's measurement window.
    pub window: Duration,
    /// Time allowed to open and check a step's idle connections.
    pub setup_timeout: Duration,
}

/// The numbers of one measured step.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Completed round-trips per second, all active clients together.
    pub rps: f64,
    /// Median round-trip latency, µs.
    pub p50_us: u32,
    /// 99th percentile round-trip latency, µs.
    pub p99_us: u32,
    /// Server CPU time (user + system, process tree) per round-trip, µs.
    pub cpu_us_per_rt: f64,
    /// Server resident memory (process tree) at the end of the window, KiB.
    pub rss_kib: u64,
    /// Why a client stopped early, if one did.
    pub note: Option<String>,
}

/// How one step went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Measured.
    Measured(Measure),
    /// Not attempted, and why.
    Skipped(String),
    /// Attempted and failed, and why.
    Failed(String),
}

/// One (model, idle connections) step.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Model name.
    pub model: String,
    /// Idle connections held open during the window.
    pub idle: usize,
    /// Active clients used (the blocking model gets one).
    pub clients: usize,
    /// What happened.
    pub outcome: Outcome,
}

/// Why `model` cannot take `idle` idle connections plus `clients` active ones, if it cannot.
fn cannot_take(model: &str, idle: usize, clients: usize) -> Option<String> {
    match model {
        "blocking" if idle > 0 => Some("blocking serves one client at a time".into()),
        // 0, 1, 2 and the listener come first; every client needs one more descriptor.
        "select" if idle + clients + 4 > FD_SETSIZE => Some(format!("select: FD_SETSIZE {FD_SETSIZE}")),
        _ => None,
    }
}

/// Runs every model through every step; `progress` hears each row as it is finished. A
/// model whose server does not start gets a failed row per step.
pub fn run_c10k(cfg: &Config, mut progress: impl FnMut(&Row)) -> Vec<Row> {
    let tck = procfs::ticks_per_second() as f64;
    let mut rows = Vec::new();
    for model in &cfg.models {
        // A second active client would wait behind the first forever.
        let clients = if model == "blocking" { 1 } else { cfg.clients };
        // One model that will not start is a result for that model, not the end of the run.
        let srv = match server::Server::start(&cfg.exe, model) {
            Ok(s) => s,
            Err(e) => {
                for &idle in &cfg.steps {
                    let row =
                        Row { model: model.clone(), idle, clients, outcome: Outcome::Failed(e.to_string()) };
                    progress(&row);
                    rows.push(row);
                }
                continue;
            }
        };
        let mut failed = false;
        for &idle in &cfg.steps {
            let outcome = if failed {
                Outcome::Skipped("a smaller step failed".into())
            } else if let Some(why) = cannot_take(model, idle, clients) {
                Outcome::Skipped(why)
            } else {
                let o = step(&srv, idle, clients, cfg, tck);
                failed = matches!(o, Outcome::Failed(_));
                o
            };
            let row = Row { model: model.clone(), idle, clients, outcome };
            progress(&row);
            rows.push(row);
        }
        drop(srv);
    }
    rows
}

fn step(srv: &server::Server, idle: usize, clients: usize, cfg: &Config, tck: f64) -> Outcome {
    let idle_conns = match load::open_idle(srv.addr, idle, Instant::now() + cfg.setup_timeout) {
        Ok(c) => c,
        Err(why) => return Outcome::Failed(why),
    };
    let before = procfs::usage(srv.pid());
    let t0 = Instant::now();
    let mut samples = load::run_active(srv.addr, clients, cfg.window);
    let elapsed = t0.elapsed().as_secs_f64();
    let after = procfs::usage(srv.pid());
    drop(std::mem::take(&mut samples.open));
    drop(idle_conns);
    let n = samples.micros.len();
    if n == 0 {
        return Outcome::Failed(samples.error.unwrap_or_else(|| "no round-trip completed".into()));
    }
    // Children that exit during the window take their ticks with them unless reaped into
    // cutime, so the difference can in principle shrink; it is clamped, not trusted below 0.
    let ticks = after.ticks.saturating_sub(before.ticks) as f64;
    Outcome::Measured(Measure {
        rps: n as f64 / elapsed,
        p50_us: samples.quantile(0.5),
        p99_us: samples.quantile(0.99),
        cpu_us_per_rt: ticks / tck * 1e6 / n as f64,
        rss_kib: after.rss_kib,
        note: samples.error,
    })
}

/// The header of [`table`], also printed alone before rows arrive one by one.
pub fn header() -> String {
    format!(
        "{:<12} {:>6} {:>7} {:>10} {:>8} {:>8} {:>10} {:>9}  {}",
        "model", "idle", "clients", "rt/s", "p50_us", "p99_us", "cpu_us/rt", "rss_MiB", "status"
    )
}

/// One row of [`table`]. Unmeasured values are `-`, so every line splits into the same
/// columns.
pub fn format_row(r: &Row) -> String {
    let mut s = format!("{:<12} {:>6} {:>7} ", r.model, r.idle, r.clients);
    let _ = match &r.outcome {
        Outcome::Measured(m) => write!(
            s,
            "{:>10.0} {:>8} {:>8} {:>10.1} {:>9.1}  {}",
            m.rps,
            m.p50_us,
            m.p99_us,
            m.cpu_us_per_rt,
            m.rss_kib as f64 / 1024.0,
            m.note.as_deref().map_or_else(|| "ok".to_string(), |n| format!("ok ({n})"))
        ),
        Outcome::Skipped(why) => {
            write!(s, "{:>10} {:>8} {:>8} {:>10} {:>9}  skipped: {why}", "-", "-", "-", "-", "-")
        }
        Outcome::Failed(why) => {
            write!(s, "{:>10} {:>8} {:>8} {:>10} {:>9}  failed: {why}", "-", "-", "-", "-", "-")
        }
    };
    s
}

/// The whole table, header first.
pub fn table(rows: &[Row]) -> String {
    let mut s = header();
    s.push('\n');
    for r in rows {
        s.push_str(&format_row(r));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_by_construction() {
        assert!(cannot_take("blocking", 0, 1).is_none());
        assert!(cannot_take("blocking", 100, 1).is_some());
        assert!(cannot_take("select", 100, 8).is_none());
        assert!(cannot_take("select", 1000, 8).is_none(), "1012 descriptors fit below 1024");
        assert!(cannot_take("select", 1020, 8).is_some());
        assert!(cannot_take("epoll", 10000, 8).is_none());
    }

    #[test]
    fn every_row_has_the_same_columns() {
        let m = Measure { rps: 1.0, p50_us: 2, p99_us: 3, cpu_us_per_rt: 4.0, rss_kib: 1024, note: None };
        for outcome in [Outcome::Measured(m), Outcome::Skipped("x y".into()), Outcome::Failed("z".into())] {
            let r = Row { model: "poll".into(), idle: 10, clients: 2, outcome };
            assert!(format_row(&r).split_whitespace().count() >= 9, "{}", format_row(&r));
        }
    }
}
