//! What the server is told (`ServerConfig`) and what its workers share (`Shared`): apart from
//! the server's start-up so that the log and the worker's service read them without using
//! the module that starts them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pollux_tftp::Config;

use crate::files::WritePolicy;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory served; canonicalised by [`crate::serve`].
    pub root: PathBuf,
    /// The well-known address (port 69 by default; port 0 picks one).
    pub bind: SocketAddr,
    /// Worker threads, each with its own socket on the port.
    pub workers: usize,
    /// Retransmission and negotiation caps (timeout, retries, max blksize, max window).
    pub protocol: Config,
    /// Whether write requests are allowed, and for which files.
    pub writes: WritePolicy,
    /// Most transfers at once across workers (also kept within the descriptor limit);
    /// further requests get ERROR 0 "Server busy".
    pub max_transfers: usize,
    /// Time running transfers get to finish after SIGINT/SIGTERM.
    pub grace: Duration,
    /// A log line per transfer on stderr.
    pub log: bool,
}

/// What every worker's service reads and nobody writes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    /// Most transfers at once in one worker.
    pub(crate) per_worker: usize,
}
