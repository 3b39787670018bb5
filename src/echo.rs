//! `pollux echo`: flags to `pollux_tools::echo`, and the bound addresses on stdout.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use pollux_tools::echo::{self, EchoConfig, Reply};

#[derive(Debug, Args)]
pub(crate) struct EchoArgs {
    /// Address to listen on (repeatable; e.g. `[::1]:7007`).
    #[arg(long = "bind", default_value = "127.0.0.1:7007")]
    bind: Vec<SocketAddr>,
    /// Echo datagrams (UDP) instead of a byte stream (TCP).
    #[arg(long)]
    udp: bool,
    /// Answer in upper case (ASCII letters; other bytes as sent).
    #[arg(long)]
    upper: bool,
    /// Worker threads, one event loop each [default: available cores].
    #[arg(long)]
    workers: Option<usize>,
}

pub(crate) fn run(args: EchoArgs) -> anyhow::Result<()> {
    let cfg = EchoConfig {
        addrs: args.bind,
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
    if args.udp {
        echo::serve_udp(cfg, shutdown, on_bound).context("echo server failed")
    } else {
        echo::serve_tcp(cfg, shutdown, on_bound).context("echo server failed")
    }
}
