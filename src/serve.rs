//! `pollux serve`: flags to `pollux_server::Options`, a `ServeDir` as the handler.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use pollux_server::{AccessLog, Limits, Options};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Directory to serve.
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Address to listen on (repeatable; IPv4 and IPv6, e.g. `[::1]:8000`).
    #[arg(long = "bind", default_value = "127.0.0.1:8000")]
    bind: Vec<SocketAddr>,
    /// Worker threads, one event loop each [default: available cores].
    #[arg(long)]
    workers: Option<usize>,
    /// listen(2) backlog.
    #[arg(long, default_value_t = 4096)]
    backlog: i32,
    /// Most open connections across workers [default: from RLIMIT_NOFILE].
    #[arg(long)]
    max_conns: Option<usize>,
    /// Time for a complete request head before 408 (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Idle time allowed between requests on a keep-alive connection.
    #[arg(long, default_value = "75s", value_parser = parse_duration)]
    keepalive_timeout: Duration,
    /// Longest pause while reading a request body before 408.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// Longest pause while the client does not read the response.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    send_timeout: Duration,
    /// Time in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    grace: Duration,
    /// Largest request body in bytes (413 beyond it).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body: u64,
    /// Access log in Common Log Format: `off`, `-` (stderr) or a file path.
    #[arg(long, default_value = "-")]
    access_log: String,
}

/// `10s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let handler = pollux_fs::ServeDir::new(&args.root)
        .with_context(|| format!("cannot serve {}", args.root.display()))?;
    let root = handler.root().to_path_buf();
    let defaults = Options::default();
    let opts = Options {
        addrs: args.bind,
        workers: args.workers.unwrap_or(defaults.workers),
        backlog: args.backlog,
        max_conns: args.max_conns,
        header_timeout: args.header_timeout,
        keepalive_timeout: args.keepalive_timeout,
        body_timeout: args.body_timeout,
        send_timeout: args.send_timeout,
        grace: args.grace,
        limits: Limits { max_body: args.max_body, ..Limits::default() },
        access_log: match args.access_log.as_str() {
            "off" => AccessLog::Off,
            "-" => AccessLog::Stderr,
            p => AccessLog::File(p.into()),
        },
        ..defaults
    };
    pollux_server::serve(opts, handler, |addrs| {
        for a in addrs {
            println!("pollux: serving {} on http://{a}", root.display());
        }
    })
    .context("server failed")
}
