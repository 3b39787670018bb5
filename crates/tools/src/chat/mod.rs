//! A line-based chat room: nicknames, join and leave announcements (the classic online and
//! offline notices), `/who`, `/quit`, and messages broadcast as `[nick] text`.
//!
//! ```text
//!   client ─ bytes ─► ChatService ─► Room::handle_bytes ─► LineBuffer ─► Command ─► queues
//!   client ◄─ bytes ─ ChatService ◄─ Room::poll_output ◄────────────────────────────┘
//! ```
//!
//! Limits keep one member from costing the others: a line is at most 4 KiB, and a member
//! whose unsent output passes 64 KiB is disconnected (see [`Limits`]).

pub mod client;
mod command;
mod line;
mod nick;
mod room;
mod service;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pollux_reactor::{ListenerConfig, RunConfig, Shutdown};

pub use command::Command;
pub use line::{LineBuffer, LineTooLong};
pub use nick::{validate as validate_nick, NickError, MAX_NICK};
pub use room::{ClientId, Limits, Presence, Room};
pub use service::ChatService;

/// Serves one chat room on `addrs` until `shutdown` begins; `on_bound` gets the bound
/// addresses before the first member is accepted.
pub fn serve(
    addrs: Vec<SocketAddr>,
    limits: Limits,
    shutdown: Shutdown,
    on_bound: impl FnOnce(&[SocketAddr]),
) -> io::Result<()> {
    let run = RunConfig {
        inherited: Vec::new(),
        addrs,
        workers: 1,
        listener: ListenerConfig { backlog: 1024 },
        max_conns: pollux_reactor::default_max_conns(),
        grace: Duration::from_secs(1),
        timers: Vec::new(),
    };
    pollux_reactor::run(run, shutdown, on_bound, move |_, _| ChatService::new(limits))
}
