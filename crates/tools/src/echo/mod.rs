//! RFC 862 echo servers: whatever arrives goes back, over TCP (a byte stream, until the client
//! closes) or UDP (each datagram answered by one datagram), optionally upper-cased (the classic
//! uppercase server).
//!
//! Both run on the reactor, one service per worker. TCP connections are spread across workers
//! by `SO_REUSEPORT` listeners; UDP sockets are bound once per worker on the same port with
//! `SO_REUSEPORT` too, so the kernel spreads clients (by address hash) the same way.
//!
//! # Example: an upper-casing TCP echo in a thread
//!
//! ```
//! use std::io::{Read, Write};
//! use pollux_tools::echo::{serve_tcp, EchoConfig, Reply};
//!
//! let cfg = EchoConfig {
//!     addrs: vec!["127.0.0.1:0".parse().unwrap()],
//!     workers: 1,
//!     reply: Reply::Upper,
//!     grace: std::time::Duration::from_secs(1),
//! };
//! let shutdown = pollux_reactor::Shutdown::new();
//! let (tx, rx) = std::sync::mpsc::channel();
//! let sd = shutdown.clone();
//! let server = std::thread::spawn(move || serve_tcp(cfg, sd, |a| tx.send(a[0]).unwrap()));
//!
//! let mut s = std::net::TcpStream::connect(rx.recv().unwrap()).unwrap();
//! s.write_all(b"hello").unwrap();
//! s.shutdown(std::net::Shutdown::Write).unwrap(); // the echo ends when the client's input does
//! let mut answer = String::new();
//! s.read_to_string(&mut answer).unwrap();
//! assert_eq!(answer, "HELLO");
//!
//! shutdown.begin();
//! server.join().unwrap().unwrap();
//! ```

mod tcp;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pollux_reactor::{ListenerConfig, RunConfig, Shutdown};

pub use tcp::TcpEcho;
pub use udp::{bind_udp, UdpEcho};

/// What the echo answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reply {
    /// The bytes as they came (RFC 862).
    #[default]
    Same,
    /// ASCII letters upper-cased; every other byte as it came, so UTF-8 stays valid.
    Upper,
}

impl Reply {
    /// Turns received bytes into the answer, in place.
    pub fn apply(self, bytes: &mut [u8]) {
        match self {
            Reply::Same => {}
            Reply::Upper => bytes.make_ascii_uppercase(),
        }
    }
}

/// How an echo server runs.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    pub addrs: Vec<SocketAddr>,
    pub workers: usize,
    pub reply: Reply,
    /// Time open connections get after SIGINT/SIGTERM (echo has no request boundary to wait
    /// for, so they are simply closed; this only bounds how long that may take).
    pub grace: Duration,
}

/// Serves TCP echo on `cfg.addrs` until `shutdown` begins. `on_bound` gets the bound
/// addresses (port 0 resolved) before the first connection is accepted.
pub fn serve_tcp(
    cfg: EchoConfig,
    shutdown: Shutdown,
    on_bound: impl FnOnce(&[SocketAddr]),
) -> io::Result<()> {
    let run = RunConfig {
        inherited: Vec::new(),
        addrs: cfg.addrs,
        workers: cfg.workers,
        listener: ListenerConfig { backlog: 1024 },
        max_conns: pollux_reactor::default_max_conns(),
        grace: cfg.grace,
        timers: Vec::new(),
    };
    let reply = cfg.reply;
    pollux_reactor::run(run, shutdown, on_bound, move |_, _| TcpEcho::new(reply))
}

/// Serves UDP echo on `cfg.addrs` until `shutdown` begins; `on_bound` as for [`serve_tcp`].
pub fn serve_udp(
    cfg: EchoConfig,
    shutdown: Shutdown,
    on_bound: impl FnOnce(&[SocketAddr]),
) -> io::Result<()> {
    let workers = cfg.workers.max(1);
    let (bound, per_worker) = bind_udp(&cfg.addrs, workers)?;
    on_bound(&bound);
    // Each worker takes its own sockets out of the shared list when it starts.
    let per_worker = std::sync::Mutex::new(per_worker.into_iter().map(Some).collect::<Vec<_>>());
    let run = RunConfig {
        inherited: Vec::new(),
        addrs: Vec::new(),
        workers,
        listener: ListenerConfig { backlog: 0 },
        max_conns: 1,
        grace: cfg.grace,
        timers: Vec::new(),
    };
    let reply = cfg.reply;
    pollux_reactor::run(
        run,
        shutdown,
        |_| {},
        move |id, _| {
            let sockets = per_worker.lock().ok().and_then(|mut v| v.get_mut(id).and_then(Option::take));
            UdpEcho::new(sockets.unwrap_or_default(), reply)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_changes_ascii_letters_only() {
        let mut b = "héllo, wörld 42\n".as_bytes().to_vec();
        Reply::Upper.apply(&mut b);
        assert_eq!(std::str::from_utf8(&b), Ok("HéLLO, WöRLD 42\n"));
        let mut same = b"abc".to_vec();
        Reply::Same.apply(&mut same);
        assert_eq!(same, b"abc");
    }
}
