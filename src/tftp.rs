//! `pollux tftp serve|get|put`: flags to `pollux_tftp_io`, a progress bar, and exit codes.
//!
//! Exit codes of `get` and `put`, for scripts:
//!
//! | code | meaning                                                        |
//! |------|----------------------------------------------------------------|
//! | 0    | the transfer completed                                         |
//! | 1    | a local error: the file could not be read, written or renamed  |
//! | 2    | bad command line (from clap)                                   |
//! | 3    | timed out: no answer after `--retries` retransmissions         |
//! | 4    | the server answered ERROR 1, file not found                    |
//! | 5    | the server answered ERROR 2 or 6, access violation / file exists |
//! | 6    | the server answered any other ERROR (disk full, options, …)    |
//! | 7    | the server broke the protocol (malformed or unexpected packet, bad OACK) |
//! | 8    | a network error (the socket failed, the host did not resolve)  |

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pollux_tftp::{Config, ErrorCode, Mode, TransferError};
use pollux_tftp_io::client::{self, ClientError, ClientOptions, Progress};
use pollux_tftp_io::files::WritePolicy;
use pollux_tftp_io::ServerConfig;

#[derive(Debug, Args)]
pub(crate) struct TftpArgs {
    #[command(subcommand)]
    command: TftpCommand,
}

/// The exit codes, as `--help` shows them (the table in the module doc says the same).
const EXIT_CODES: &str = "Exit codes: 0 done; 1 local file error; 2 bad command line; 3 timed out; \
4 server: file not found (ERROR 1); 5 server: access violation or file exists (ERROR 2, 6); \
6 server: any other ERROR; 7 the server broke the protocol; 8 network error or unknown host.";

#[derive(Debug, Subcommand)]
enum TftpCommand {
    /// Serve the files under DIR over TFTP (read-only unless --allow-write / --create).
    Serve(ServeArgs),
    /// Download REMOTE from a TFTP server into LOCAL (default: REMOTE's file name).
    #[command(after_help = EXIT_CODES)]
    Get(GetArgs),
    /// Upload LOCAL to a TFTP server as REMOTE (default: LOCAL's file name).
    #[command(after_help = EXIT_CODES)]
    Put(PutArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Directory to serve.
    dir: PathBuf,
    /// Address of the well-known port: HOST:PORT, HOST or PORT (e.g. `[::]:69`, which takes
    /// IPv4 too; `6969`, which needs no root). Ports below 1024 need root or
    /// CAP_NET_BIND_SERVICE.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:69", value_parser = crate::addr::parse_bind)]
    bind: crate::addr::Bind,
    /// Worker threads, each an event loop driving its share of the transfers [default: cores].
    #[arg(long, value_parser = crate::addr::at_least_one)]
    workers: Option<usize>,
    /// Retransmission timeout when the client negotiates none (e.g. 1s, 500ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// Retransmissions without progress before a transfer is abandoned.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// Allow write requests that replace existing files.
    #[arg(long)]
    allow_write: bool,
    /// Allow write requests that create new files (existing ones still need --allow-write).
    #[arg(long)]
    create: bool,
    /// Largest blksize granted (RFC 2348); larger requests are lowered to it.
    #[arg(long, default_value_t = 1468)]
    max_blksize: u16,
    /// Largest windowsize granted (RFC 7440); larger requests are lowered to it.
    #[arg(long, default_value_t = 64)]
    max_window: u16,
    /// Most transfers at once; further requests get ERROR 0 "Server busy".
    #[arg(long, default_value_t = 10_000)]
    max_transfers: usize,
    /// Time running transfers get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    grace: Duration,
    /// No log line per transfer on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Octet,
    Netascii,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// Block size to request (RFC 2348, 8–65464); without it, 512.
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=65464))]
    blksize: Option<u16>,
    /// Window size to request (RFC 7440, 1–65535); without it, lock-step.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    windowsize: Option<u16>,
    /// Transfer mode: octet (bytes as they are) or netascii (text, CR LF on the wire).
    #[arg(long, value_enum, default_value = "octet")]
    mode: ModeArg,
    /// Retransmission timeout (e.g. 1s, 300ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// Retransmissions without progress before giving up.
    #[arg(long, default_value_t = 5)]
    retries: u32,
}

#[derive(Debug, Args)]
struct GetArgs {
    /// Server, as HOST or HOST:PORT (port 69 by default; IPv6 in brackets: `[::1]:69`).
    server: String,
    /// File name on the server.
    remote: String,
    /// Where to write it (`-`: standard output); a partial download never replaces an
    /// existing file.
    local: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
struct PutArgs {
    /// Server, as HOST or HOST:PORT (port 69 by default; IPv6 in brackets: `[::1]:69`).
    server: String,
    /// The file to upload (`-`: standard input, REMOTE then required).
    local: PathBuf,
    /// File name on the server.
    remote: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// A duration as `pollux serve` takes them (`10s`, `500ms`, `2m`), at least 1 ms: a zero
/// retransmission timeout would resend in a loop.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = crate::duration::parse_duration(s)?;
    if d < Duration::from_millis(1) {
        return Err("a timeout must be at least 1ms".into());
    }
    Ok(d)
}

pub(crate) fn run(args: TftpArgs) -> anyhow::Result<()> {
    match args.command {
        TftpCommand::Serve(a) => serve(a),
        TftpCommand::Get(a) => exit_with(get(a), false),
        TftpCommand::Put(a) => exit_with(put(a), true),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let shutdown = pollux_reactor::Shutdown::new();
    shutdown.install_signal_handlers().context("signal handlers")?;
    let workers = a.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let default = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 69);
    let bind = *a.bind.resolve(default)?.first().context("no --bind address")?;
    let config = ServerConfig {
        root: a.dir.clone(),
        bind,
        workers,
        protocol: Config {
            timeout: a.timeout,
            max_retries: a.retries,
            max_blksize: a.max_blksize,
            max_window: a.max_window,
            ..Config::default()
        },
        writes: WritePolicy { allow_write: a.allow_write, create: a.create },
        max_transfers: a.max_transfers,
        grace: a.grace,
        log: !a.quiet,
    };
    let dir = a.dir.display().to_string();
    pollux_tftp_io::serve(config, shutdown, |addr| {
        println!("pollux: serving {dir} over TFTP on tftp://{addr}");
    })
    .map_err(|e| crate::addr::listen_error(e, &[bind]))
    .with_context(|| format!("cannot serve {dir} over TFTP"))
}

/// A client outcome: prints the error (with a hint where there is one) and exits with its
/// documented code.
fn exit_with(result: Result<(), ClientError>, put: bool) -> anyhow::Result<()> {
    let Err(e) = result else { return Ok(()) };
    let hint = match &e {
        ClientError::Transfer(TransferError::Peer { code: ErrorCode::AccessViolation, .. }) if put => {
            "; the server refuses uploads (a pollux server takes them with --create for new files, \
             --allow-write to replace; tftp-hpa with -c)"
        }
        _ => "",
    };
    eprintln!("pollux tftp: {e}{hint}");
    std::process::exit(exit_code(&e))
}

fn exit_code(e: &ClientError) -> i32 {
    match e {
        ClientError::Local { .. } => 1,
        ClientError::Request(_) => 2,
        ClientError::Network(_) => 8,
        ClientError::Transfer(t) => match t {
            TransferError::TimedOut { .. } => 3,
            TransferError::Peer { code: ErrorCode::FileNotFound, .. } => 4,
            TransferError::Peer { code: ErrorCode::AccessViolation | ErrorCode::FileExists, .. } => 5,
            TransferError::Peer { .. } => 6,
            TransferError::Aborted(_) => 1,
            _ => 7,
        },
        // As a shell reports a command killed by SIGINT.
        ClientError::Cancelled => 130,
        _ => 1,
    }
}

fn resolve(server: &str) -> Result<SocketAddr, ClientError> {
    let not_found = || ClientError::Network(std::io::Error::other(format!("cannot resolve {server}")));
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = server.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(server);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 69));
    }
    let lookup = match server.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => {
            (host, port.parse::<u16>().unwrap_or(69)).to_socket_addrs()
        }
        _ => (server, 69).to_socket_addrs(),
    };
    lookup.map_err(ClientError::Network)?.next().ok_or_else(not_found)
}

fn options(c: &ClientArgs, bar: bool) -> ClientOptions {
    ClientOptions {
        mode: match c.mode {
            ModeArg::Octet => Mode::Octet,
            ModeArg::Netascii => Mode::Netascii,
        },
        blksize: c.blksize,
        windowsize: c.windowsize,
        // Only a progress bar needs the size; asking costs an OACK round trip.
        tsize: bar,
        timeout: c.timeout,
        retries: c.retries,
    }
}

fn file_name(path: &str) -> String {
    Path::new(path).file_name().map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

fn get(a: GetArgs) -> Result<(), ClientError> {
    let server = resolve(&a.server)?;
    let local = a.local.unwrap_or_else(|| PathBuf::from(file_name(&a.remote)));
    let mut bar = Bar::new();
    let opts = options(&a.client, bar.shown());
    let summary = if local.as_os_str() == "-" {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
        client::get(server, &a.remote, &mut out, &opts, &mut bar)?
    } else {
        client::get_file(server, &a.remote, &local, &opts, &mut bar)?
    };
    bar.finish(summary);
    Ok(())
}

fn put(a: PutArgs) -> Result<(), ClientError> {
    let server = resolve(&a.server)?;
    let stdin = a.local.as_os_str() == "-";
    let remote = match a.remote {
        Some(r) => r,
        None if stdin => {
            let e = std::io::Error::other("a REMOTE name is needed when reading standard input");
            return Err(ClientError::Local { path: a.local, source: e });
        }
        None => file_name(&a.local.to_string_lossy()),
    };
    let mut bar = Bar::new();
    let opts = options(&a.client, bar.shown());
    let summary = if stdin {
        client::put(server, &remote, &mut std::io::stdin().lock(), None, &opts, &mut bar)?
    } else {
        client::put_file(server, &remote, &a.local, &opts, &mut bar)?
    };
    bar.finish(summary);
    Ok(())
}

/// A progress bar with rate and ETA on a terminal; nothing at all otherwise. It also carries
/// Ctrl-C to the transfer: SIGINT, SIGTERM and SIGHUP set a flag the transfer loop asks about,
/// so a download stops through its error path, which removes the partial file (the default
/// action would kill the process and leave `.NAME.part-PID` behind).
struct Bar(Option<ProgressBar>, Arc<AtomicBool>);

impl Bar {
    fn new() -> Bar {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
            // Without the handler Ctrl-C still stops the client, only less tidily.
            let _ = signal_hook::flag::register(sig, stop.clone());
        }
        if !std::io::stderr().is_terminal() {
            return Bar(None, stop);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Bar(Some(bar), stop)
    }

    fn shown(&self) -> bool {
        self.0.is_some()
    }

    fn finish(self, summary: client::Summary) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
            let secs = summary.elapsed.as_secs_f64();
            let rate = summary.bytes as f64 / secs.max(1e-9) / (1024.0 * 1024.0);
            eprintln!("{} bytes in {secs:.2}s ({rate:.1} MiB/s)", summary.bytes);
        }
    }
}

impl Progress for Bar {
    fn total(&mut self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    fn cancelled(&mut self) -> bool {
        self.1.load(Ordering::Relaxed)
    }
}
