//! TFTP over real sockets: the sans-IO machines of [`pollux_tftp`] driven by the reactor on the
//! server side and by a plain blocking loop on the client side.
//!
//! ```text
//!   pollux tftp serve DIR ──► server::serve ──► pollux_reactor workers ──► TftpService
//!                                                 per transfer: UDP socket + Sender/Receiver + file
//!   pollux tftp get|put   ──► client::get / client::put ──► one std UdpSocket, one machine
//! ```
//!
//! The protocol (packets, options, netascii, retransmission, the TID rule) is all in
//! `pollux-tftp`; this crate only moves datagrams, file bytes and time in and out of it, and
//! decides which files a request may touch ([`files`]).
//!
//! Why the client does not use the reactor: it drives one transfer, so a blocking socket
//! with a read timeout set from the machine's next deadline is the whole event loop, with one
//! system call per datagram and nothing to register.

//! # Example: a server and a client in one process
//!
//! ```
//! use std::time::Duration;
//! use pollux_tftp_io::client::{self, ClientOptions, NoProgress};
//! use pollux_tftp_io::{files::WritePolicy, serve, ServerConfig};
//!
//! let dir = std::env::temp_dir().join(format!("tftp-io-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("hello.txt"), b"hello, tftp\n".repeat(1000)).unwrap();
//!
//! let config = ServerConfig {
//!     root: dir.clone(),
//!     bind: "127.0.0.1:0".parse().unwrap(),
//!     workers: 1,
//!     protocol: pollux_tftp::Config::default(),
//!     writes: WritePolicy::default(), // read-only
//!     max_transfers: 100,
//!     grace: Duration::from_secs(1),
//!     log: false,
//! };
//! let shutdown = pollux_reactor::Shutdown::new();
//! let (tx, rx) = std::sync::mpsc::channel();
//! let server = {
//!     let shutdown = shutdown.clone();
//!     std::thread::spawn(move || serve(config, shutdown, move |addr| tx.send(addr).unwrap()))
//! };
//! let addr = rx.recv().unwrap();
//!
//! let opts = ClientOptions { blksize: Some(1428), windowsize: Some(16), ..Default::default() };
//! let mut got = Vec::new();
//! let summary = client::get(addr, "hello.txt", &mut got, &opts, &mut NoProgress).unwrap();
//! assert_eq!(summary.bytes, 12_000);
//! assert_eq!(got, b"hello, tftp\n".repeat(1000));
//!
//! // Read-only: an upload is refused with ERROR 2.
//! let refused = client::put(addr, "new.txt", &mut &b"x"[..], Some(1), &opts, &mut NoProgress);
//! assert!(refused.is_err());
//!
//! shutdown.begin();
//! server.join().unwrap().unwrap();
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

// The OS boundary is `pollux_reactor::sys` and rustix: no `unsafe` here.
#![forbid(unsafe_code)]

pub mod client;
mod config;
pub mod files;
mod log;
mod pump;
mod server;
mod service;
mod transfer;
mod udp;

pub use config::ServerConfig;
pub use server::serve;
