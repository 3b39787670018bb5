//! `pollux`: the command line. Parsing and wiring only; the work happens in the crates.

mod chat;
mod echo;
mod lab;
mod serve;
mod tftp;
mod udp;

use clap::{Parser, Subcommand};

/// A network server suite: an HTTP/1.1 server on its own epoll reactor, and companion tools.
#[derive(Debug, Parser)]
#[command(name = "pollux", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size difference between subcommands' flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the files under ROOT over HTTP/1.1.
    Serve(serve::ServeArgs),
    /// TFTP server and client (RFC 1350, 2347, 2348, 2349, 7440).
    Tftp(tftp::TftpArgs),
    /// Echo server, TCP or UDP (RFC 862), optionally upper-casing.
    Echo(echo::EchoArgs),
    /// Line-based chat room and its terminal client.
    Chat(chat::ChatArgs),
    /// Send or receive UDP datagrams, broadcast included.
    Udp(udp::UdpArgs),
    /// Measurements of the echo server models (the seeds' claims, rerunnable).
    Lab(lab::LabArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Tftp(args) => tftp::run(args),
        Command::Echo(args) => echo::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Udp(args) => udp::run(args),
        Command::Lab(args) => lab::run(args),
    }
}
