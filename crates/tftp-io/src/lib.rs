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

pub mod client;
pub mod files;
mod server;
mod transfer;
mod udp;

pub use server::{serve, ServerConfig};
