//! `pollux udp send|listen`: one datagram out, or datagrams printed as `FROM: text`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::ControlFlow;

use anyhow::Context;
use clap::{Args, Subcommand};
use pollux_tools::udp;

#[derive(Debug, Args)]
pub(crate) struct UdpArgs {
    #[command(subcommand)]
    command: UdpCommand,
}

#[derive(Debug, Subcommand)]
enum UdpCommand {
    /// Send MESSAGE as one datagram to HOST:PORT.
    Send(SendArgs),
    /// Print each datagram received on PORT as `FROM: text`.
    Listen(ListenArgs),
}

#[derive(Debug, Args)]
struct SendArgs {
    /// Where to send, HOST:PORT (a subnet's broadcast address with --broadcast).
    target: String,
    /// The datagram's text.
    message: String,
    /// Allow sending to a broadcast address (SO_BROADCAST).
    #[arg(long)]
    broadcast: bool,
}

#[derive(Debug, Args)]
struct ListenArgs {
    /// Port to listen on (0: any free port, printed at start); or give it in --bind.
    port: Option<u16>,
    /// Local address, as every --bind takes it: HOST:PORT, HOST or PORT. The wildcard address
    /// (the default) also receives broadcasts.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0", value_parser = crate::addr::parse_bind)]
    bind: crate::addr::Bind,
    /// Exit after N datagrams (for scripts).
    #[arg(long)]
    count: Option<u64>,
}

pub(crate) fn run(args: UdpArgs) -> anyhow::Result<()> {
    match args.command {
        UdpCommand::Send(a) => {
            udp::send(&a.target, a.message.as_bytes(), a.broadcast)?;
            Ok(())
        }
        UdpCommand::Listen(a) => listen(a),
    }
}

fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let port = match (args.port, args.bind.has_port()) {
        (Some(p), false) => p,
        (None, true) => 0, // replaced by --bind's
        (Some(_), true) => anyhow::bail!("the port is given twice: as PORT and in --bind"),
        (None, false) => anyhow::bail!("no port to listen on: give PORT (e.g. 9999) or --bind HOST:PORT"),
    };
    let addr = *args
        .bind
        .resolve(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))?
        .first()
        .context("no address")?;
    let socket = udp::bind(addr).map_err(|e| match e {
        udp::UdpError::Bind { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            crate::addr::listen_error(source, &[addr]).context(format!("cannot bind {addr}"))
        }
        e => e.into(),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "pollux: listening on udp://{}", socket.local_addr()?)?;
    out.flush()?;
    if args.count == Some(0) {
        return Ok(());
    }
    let mut seen = 0;
    let mut failed = None;
    udp::listen(&socket, |from, data| {
        let text = String::from_utf8_lossy(data);
        // One datagram, one line: a trailing newline is the sender's, not a second line.
        let text = text.strip_suffix('\n').unwrap_or(&text);
        if let Err(e) = writeln!(out, "{from}: {text}").and_then(|()| out.flush()) {
            failed = Some(e);
            return ControlFlow::Break(());
        }
        seen += 1;
        if args.count.is_some_and(|c| seen >= c) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    match failed {
        Some(e) => Err(e).context("cannot write to stdout"),
        None => Ok(()),
    }
}
