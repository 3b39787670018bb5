//! `pollux`: the command line. Parsing and wiring only; the work happens in the crates.

mod addr;
mod chat;
mod check_config;
mod config_file;
mod duration;
mod echo;
mod edge;
mod lab;
mod lan;
mod life;
mod observe;
mod serve;
mod tftp;
mod tls;
mod udp;

use std::process::ExitCode;

use clap::{FromArgMatches, Parser, Subcommand};

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
    /// Serve the files under ROOT (or a WSGI app, or CGI scripts) over HTTP/1.1 and HTTP/2.
    Serve(serve::ServeArgs),
    /// TFTP server and client (RFC 1350, 2347, 2348, 2349, 7440).
    Tftp(tftp::TftpArgs),
    /// Echo server, TCP or UDP (RFC 862), optionally upper-casing.
    Echo(echo::EchoArgs),
    /// Line-based chat room and its terminal client.
    Chat(chat::ChatArgs),
    /// Send or receive UDP datagrams, broadcast included.
    Udp(udp::UdpArgs),
    /// Measure the echo server's I/O models against each other (blocking ... epoll, the reactor).
    Lab(lab::LabArgs),
    /// Check a config file for `pollux serve --config` (syntax, keys, values) and exit.
    CheckConfig(check_config::CheckArgs),
}

fn main() -> ExitCode {
    // `pollux serve`'s settings from --config FILE and POLLUX_* variables go into the command
    // line before clap parses it (see config_file).
    let prepared = match config_file::prepare(std::env::args_os().collect(), &|v| std::env::var_os(v)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pollux: {}", one_line(&e));
            return ExitCode::FAILURE;
        }
    };
    let parsed = config_file::cli_command()
        .try_get_matches_from(&prepared.argv)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => match prepared.explain(&e) {
            Some(line) => {
                eprintln!("pollux: {line}");
                return ExitCode::FAILURE;
            }
            None => return usage_error(&e),
        },
    };
    let result = match cli.command {
        Command::Serve(args) if args.config.dump_options => {
            if let Some(("serve", m)) = matches.subcommand() {
                print!("{}", config_file::dump(m, &prepared));
            }
            Ok(())
        }
        Command::Serve(args) => serve::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::Tftp(args) => tftp::run(args),
        Command::Echo(args) => echo::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Udp(args) => udp::run(args),
        Command::Lab(args) => lab::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Printed by hand, not by returning the error from `main`: that prints anyhow's
            // `Debug` form, a multi-line cause list with a backtrace whenever RUST_BACKTRACE is
            // set in the user's environment.
            eprintln!("pollux: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Help and version as clap prints them; a bad command line as one line with clap's tips
/// (`pollux: unexpected argument '--bnd' found; tip: a similar argument exists: '--bind'`),
/// exit code 2 as clap gives it.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    eprintln!("pollux: {}", clap_line(e));
    ExitCode::from(2)
}

/// clap's error as one line, its tips after `; `.
pub(crate) fn clap_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines();
    let mut line = lines.next().unwrap_or("").trim_start_matches("error: ").to_owned();
    // "the following required arguments were not provided:" names them on the next lines.
    let listed = line.ends_with(':');
    for l in lines.map(str::trim) {
        if l.starts_with("tip:") {
            line.push_str("; ");
            line.push_str(l);
        } else if listed && l.starts_with('-') {
            line.push(' ');
            line.push_str(l);
        }
    }
    line
}

/// A hint for the user, attached to an error with `.context(Hint(..))`: printed after the
/// error's causes, separated by `; ` (`pollux: 8080: No such file or directory; did you mean
/// --bind 127.0.0.1:8080?`).
#[derive(Debug)]
pub(crate) struct Hint(pub(crate) String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The error and its causes as one line, `what failed: why`, as curl and ripgrep print them.
/// A cause whose text its parent already contains is left out: libraries often say
/// "/x: No such file or directory" and then give the io::Error itself as the source.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    // anyhow finds a context value of a given type in any layer; the chain itself only shows
    // its text.
    let hint = e.downcast_ref::<Hint>().map(|h| h.0.as_str());
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let mut text = text.trim();
        if text.is_empty() || line.contains(text) || Some(text) == hint {
            continue;
        }
        // "cannot serve /x" then "/x: No such file or directory": the subject once.
        if let Some((subject, rest)) = text.split_once(": ") {
            if line.ends_with(subject) {
                text = rest;
            }
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    if let Some(h) = hint {
        line.push_str("; ");
        line.push_str(h);
    }
    // One line, whatever a message held.
    line.replace(['\n', '\r'], " ")
}

/// `pollux serve`'s settings as at start (file and environment under the command line), read
/// again for a SIGHUP reload. Here, between the two, so `serve` and `config_file` need not
/// know each other.
pub(crate) fn serve_args_again(argv: Vec<std::ffi::OsString>) -> anyhow::Result<serve::ServeArgs> {
    config_file::serve_args(argv)
}
