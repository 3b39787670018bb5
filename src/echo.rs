//! `pollux echo`: flags to `pollux_tools::echo`, and the bound addresses on stdout.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use pollux_tools::echo::{self, EchoConfig, Reply};
use pollux_tools::models::{self, Model};

#[derive(Debug, Args)]
pub(crate) struct EchoArgs {
    /// Address to listen on (repeatable): HOST:PORT, HOST or PORT, e.g. `[::1]:7007`, `0.0.0.0`.
    #[arg(long = "bind", value_name = "ADDR", default_value = "127.0.0.1:7007", value_parser = crate::addr::parse_bind)]
    bind: Vec<crate::addr::Bind>,
    /// Echo datagrams (UDP) instead of a byte stream (TCP).
    #[arg(long)]
    udp: bool,
    /// Answer in upper case (ASCII letters; other bytes as sent).
    #[arg(long)]
    upper: bool,
    /// Worker threads, one event loop each [default: available cores] (reactor only).
    #[arg(long, value_parser = crate::addr::at_least_one)]
    workers: Option<usize>,
    /// I/O model of the TCP server: our reactor, or one of seven textbook servers, one per I/O model (these
    /// serve the first --bind address only, and stop only when killed).
    #[arg(long, value_enum, default_value_t = ModelArg::Reactor)]
    model: ModelArg,
}

/// `--model` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModelArg {
    /// The pollux reactor: epoll, one event loop per worker.
    Reactor,
    /// One client at a time.
    Blocking,
    /// A forked child process per client.
    Process,
    /// A thread per client.
    Thread,
    /// Non-blocking sockets tried in a loop.
    Nonblocking,
    /// select(2), descriptors below 1024 only.
    Select,
    /// poll(2).
    Poll,
    /// epoll(7) used directly, level-triggered.
    Epoll,
}

impl ModelArg {
    fn model(self) -> Option<Model> {
        Some(match self {
            ModelArg::Reactor => return None,
            ModelArg::Blocking => Model::Blocking,
            ModelArg::Process => Model::Process,
            ModelArg::Thread => Model::Thread,
            ModelArg::Nonblocking => Model::Nonblocking,
            ModelArg::Select => Model::Select,
            ModelArg::Poll => Model::Poll,
            ModelArg::Epoll => Model::Epoll,
        })
    }
}

/// Runs one of the textbook I/O-model servers; no signal thread is started, since the process model forks
/// and must stay single-threaded.
fn run_model(model: Model, args: &EchoArgs, addrs: &[SocketAddr]) -> anyhow::Result<()> {
    anyhow::ensure!(!args.udp, "--model is for the TCP echo; --udp runs on the reactor only");
    let addr = *addrs.first().context("no --bind address")?;
    let reply = if args.upper { Reply::Upper } else { Reply::Same };
    models::serve(model, addr, reply, |a| {
        println!("pollux: echo listening on tcp://{a}");
    })
    .with_context(|| format!("echo server ({model:?} model) failed"))
}

/// Where echo listens when `--bind` leaves the host or port out.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7007);

pub(crate) fn run(args: EchoArgs) -> anyhow::Result<()> {
    let addrs = crate::addr::resolve_all(&args.bind, DEFAULT_ADDR)?;
    if let Some(model) = args.model.model() {
        return run_model(model, &args, &addrs);
    }
    let cfg = EchoConfig {
        addrs: addrs.clone(),
        workers: args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        reply: if args.upper { Reply::Upper } else { Reply::Same },
        grace: Duration::from_secs(1),
    };
    let shutdown = pollux_reactor::Shutdown::new();
    shutdown.install_signal_handlers().context("cannot catch signals")?;
    let scheme = if args.udp { "udp" } else { "tcp" };
    let on_bound = |addrs: &[SocketAddr]| {
        for a in addrs {
            println!("pollux: echo listening on {scheme}://{a}");
        }
    };
    let result = if args.udp {
        echo::serve_udp(cfg, shutdown, on_bound)
    } else {
        echo::serve_tcp(cfg, shutdown, on_bound)
    };
    result.map_err(|e| crate::addr::listen_error(e, &addrs))
}
