//! `pollux serve`: flags to `pollux_server::Options`, a `ServeDir` as the handler.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use pollux_server::{AccessLog, Limits, Options};

use crate::addr::{self, Bind};
use crate::Hint;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Directory to serve.
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Address to listen on (repeatable): HOST:PORT, HOST or PORT, e.g. `0.0.0.0` (every IPv4
    /// interface, for the LAN), `[::]:8000`, `localhost:9000`, `9000` (loopback, port 9000).
    #[arg(long = "bind", value_name = "ADDR", default_value = "127.0.0.1:8000", value_parser = addr::parse_bind)]
    bind: Vec<Bind>,
    /// Worker threads, one event loop each [default: available cores].
    #[arg(long, value_parser = crate::addr::at_least_one)]
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
    /// List directories that have no index.html (HTML, or JSON for `Accept: application/json`);
    /// without it they are 404.
    #[arg(long)]
    listing: bool,
    /// Serve and list dotfiles; without it any path segment starting with `.` is 404, except
    /// `.well-known`.
    #[arg(long)]
    hidden: bool,
    /// Follow symlinks that point outside ROOT (by default only targets inside ROOT are served).
    #[arg(long)]
    follow_symlinks: bool,
    /// Serve DIR for requests whose Host is NAME (repeatable; port ignored, case-insensitive).
    #[arg(long = "vhost", value_name = "NAME=DIR")]
    vhosts: Vec<String>,
    /// For GET/HEAD paths that match nothing, serve FILE with 200 (single-page apps). A relative
    /// FILE is looked up under the request's root.
    #[arg(long, value_name = "FILE")]
    fallback: Option<PathBuf>,
    /// Custom not-found page, sent with status 404. A relative FILE is looked up under the
    /// request's root.
    #[arg(long = "404", value_name = "FILE")]
    not_found: Option<PathBuf>,
    /// Cache-Control for files (repeatable): `GLOB=VALUE` (e.g. `*.html=no-cache`, first match
    /// wins) or a bare VALUE for the rest (e.g. `max-age=3600`).
    #[arg(long = "cache-control", value_name = "[GLOB=]VALUE")]
    cache_control: Vec<String>,
    /// Content coding (gzip, brotli, zstd) for compressible files.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    compress: String,
    /// The CGI gateway (boxed: most runs leave it off, and `Command` stays small).
    #[command(flatten)]
    cgi: Box<CgiArgs>,
}

/// `--cgi*`: scripts run per RFC 3875 (pollux-cgi).
#[derive(Debug, Args)]
#[command(next_help_heading = "CGI")]
struct CgiArgs {
    /// Run the files under DIR as CGI scripts at the URL PREFIX (repeatable), e.g.
    /// `/cgi-bin=./cgi-bin`. Scripts get this server's PATH: started from an activated
    /// virtualenv, `#!/usr/bin/env python3` is the virtualenv's Python.
    #[arg(long = "cgi", value_name = "PREFIX=DIR")]
    mounts: Vec<String>,
    /// Run the files under ROOT whose name ends in EXT as CGI scripts (e.g. `.py`).
    #[arg(long = "cgi-ext", value_name = "EXT")]
    ext: Option<String>,
    /// Longest time a CGI script may go without a byte in or out; then its process group is
    /// killed (504 if nothing was sent yet).
    #[arg(long = "cgi-timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Most CGI scripts running at once; beyond that, 503 with Retry-After.
    #[arg(long = "cgi-max", value_name = "N", default_value_t = 64)]
    max: usize,
}

fn family(a: &SocketAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// `10s`, `500ms`, `2m` or a bare number of seconds (every duration flag of the binary).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// Where `serve` listens when `--bind` leaves the host or port out.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let addrs = addr::resolve_all(&args.bind, DEFAULT_ADDR)?;
    let handler = pollux_fs::ServeDir::new(&args.root).map_err(|e| {
        let e = anyhow::Error::new(e).context(format!("cannot serve {}", args.root.display()));
        // `pollux serve 8080` is the `python -m http.server 8080` habit: ROOT comes first here.
        match args.root.to_str().and_then(|s| s.parse::<u16>().ok()) {
            Some(p) => e.context(Hint(format!(
                "did you mean --bind 127.0.0.1:{p} (or --bind 0.0.0.0:{p} to share on the LAN)?"
            ))),
            None => e,
        }
    })?;
    // Refusing would be too strict (a directory may be searchable but not listable on purpose),
    // but a root nobody can read answers 403 to everything, which is worth a word at start.
    if let Err(e) = std::fs::read_dir(handler.root()) {
        eprintln!("pollux: warning: cannot read {}: {e}; requests will be refused", handler.root().display());
    }
    let mut handler = handler
        .listing(args.listing)
        .hidden(args.hidden)
        .follow_symlinks(args.follow_symlinks)
        .compression(pollux_fs::Compression::new(args.compress == "on"));
    for v in &args.vhosts {
        handler = handler.vhost_spec(v).context("--vhost")?;
    }
    if let Some(f) = &args.fallback {
        handler = handler.fallback(f).context("--fallback")?;
    }
    if let Some(f) = &args.not_found {
        handler = handler.not_found_page(f).context("--404")?;
    }
    for rule in &args.cache_control {
        handler = handler.cache_control(rule).context("--cache-control")?;
    }
    let root = handler.root().to_path_buf();
    let defaults = Options::default();
    let opts = Options {
        addrs: addrs.clone(),
        workers: args.workers.unwrap_or(defaults.workers),
        backlog: args.backlog,
        max_conns: args.max_conns,
        header_timeout: args.header_timeout,
        keepalive_timeout: args.keepalive_timeout,
        body_timeout: args.body_timeout,
        send_timeout: args.send_timeout,
        grace: args.grace,
        task_timeout: args.cgi.timeout,
        limits: Limits { max_body: args.max_body, ..Limits::default() },
        access_log: match args.access_log.as_str() {
            "off" => AccessLog::Off,
            "-" => AccessLog::Stderr,
            p => AccessLog::File(p.into()),
        },
        ..defaults
    };
    let on_bound = |addrs: &[SocketAddr]| {
        for a in addrs {
            let urls = crate::lan::urls(*a);
            if a.ip().is_unspecified() {
                println!(
                    "pollux: serving {} on every {} interface, port {}:",
                    root.display(),
                    family(a),
                    a.port()
                );
                for u in urls {
                    println!("  {u}");
                }
            } else {
                for u in urls {
                    println!("pollux: serving {} on {u}", root.display());
                }
            }
        }
        if addrs.iter().all(|a| a.ip().is_loopback()) {
            println!("pollux: only this machine can connect; --bind 0.0.0.0 shares on the LAN");
        }
    };
    let failed = |e| addr::listen_error(e, &addrs);
    if args.cgi.mounts.is_empty() && args.cgi.ext.is_none() {
        return pollux_server::serve(opts, handler, on_bound).map_err(failed);
    }
    let mut cgi = pollux_cgi::Cgi::new(&root, handler).context("--cgi")?.max(args.cgi.max);
    // Our PATH, as Apache's mod_cgi passes its own: `#!/usr/bin/env python3` then finds the
    // virtualenv's Python when the server was started from an activated virtualenv.
    if let Some(path) = std::env::var_os("PATH") {
        cgi = cgi.path(path);
    }
    for spec in &args.cgi.mounts {
        cgi = cgi.mount_spec(spec).context("--cgi")?;
    }
    if let Some(ext) = &args.cgi.ext {
        cgi = cgi.extension(ext).context("--cgi-ext")?;
    }
    pollux_server::serve(opts, cgi, on_bound).map_err(failed)
}
