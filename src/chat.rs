//! `pollux chat serve|connect`: the room on the reactor, and the terminal client.

use std::net::{SocketAddr, TcpStream};

use anyhow::Context;
use clap::{Args, Subcommand};
use pollux_tools::chat::{self, Limits};

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    #[command(subcommand)]
    command: ChatCommand,
}

#[derive(Debug, Subcommand)]
enum ChatCommand {
    /// Run a chat room: /nick NAME, /who, /quit; lines are broadcast as `[nick] text`.
    Serve(ServeArgs),
    /// Join a room: typed lines are sent, the room's lines printed; Ctrl-D or /quit leaves.
    Connect(ConnectArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (repeatable): HOST:PORT, HOST or PORT, e.g. `0.0.0.0` for the LAN.
    #[arg(long = "bind", value_name = "ADDR", default_value = "127.0.0.1:7070", value_parser = crate::addr::parse_bind)]
    bind: Vec<crate::addr::Bind>,
    /// Longest line a member may send, in bytes.
    #[arg(long, default_value_t = Limits::default().max_line)]
    max_line: usize,
    /// Most unsent bytes queued for a member before it is disconnected as not reading.
    #[arg(long, default_value_t = Limits::default().max_queue)]
    max_queue: usize,
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// The room's address, HOST:PORT.
    server: String,
}

pub(crate) fn run(args: ChatArgs) -> anyhow::Result<()> {
    match args.command {
        ChatCommand::Serve(a) => serve(a),
        ChatCommand::Connect(a) => connect(a),
    }
}

/// Where the room listens when `--bind` leaves the host or port out.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7070);

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown = pollux_reactor::Shutdown::new();
    shutdown.install_signal_handlers().context("cannot catch signals")?;
    let limits = Limits { max_line: args.max_line, max_queue: args.max_queue };
    let addrs = crate::addr::resolve_all(&args.bind, DEFAULT_ADDR)?;
    chat::serve(addrs.clone(), limits, shutdown, |addrs| {
        for a in addrs {
            println!("pollux: chat listening on tcp://{a}");
        }
    })
    .map_err(|e| crate::addr::listen_error(e, &addrs))
}

fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    let stream =
        TcpStream::connect(&args.server).with_context(|| format!("cannot connect to {}", args.server))?;
    let ended = chat::client::run(stream, std::io::BufReader::new(std::io::stdin()), std::io::stdout())
        .context("chat connection failed")?;
    match ended {
        // A normal end, as for `/quit`: said, exit code 0.
        chat::client::Ended::ServerShutDown => {
            eprintln!("pollux: the room has closed (the server shut down)");
            Ok(())
        }
        chat::client::Ended::ClosedByServer => anyhow::bail!("the server closed the connection"),
        _ => Ok(()),
    }
}
