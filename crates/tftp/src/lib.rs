//! Sans-IO TFTP: RFC 1350 (TFTP rev 2) with options (RFC 2347), blksize (RFC 2348), timeout
//! and tsize (RFC 2349) and windowsize (RFC 7440), and the RFC 1123 §4.2.3.1 fix for the
//! Sorcerer's Apprentice bug.
//!
//! This crate knows nothing of sockets, clocks, threads or files. Datagrams go in through
//! `handle_datagram(now, source, bytes)`, expired timers through `handle_timeout(now)`;
//! datagrams come out of `poll_transmit`, each with its destination, and the next deadline
//! out of `poll_timeout`. The current time is always an argument. The UDP driver (server or
//! client) lives elsewhere and owns the sockets and the file handles.
//!
//! ```text
//!   datagram + source ──► handle_datagram ──┐
//!   now ────────────────► handle_timeout  ──┤   Sender or Receiver,
//!   file bytes ─────────► write_data ───────┤   one per transfer ID
//!                                           ├──► poll_transmit ──► datagram + destination
//!                                           ├──► poll_timeout  ──► next deadline
//!                                           ├──► poll_event    ──► Negotiated / Complete / Failed
//!                                           └──► pending_data  ──► file bytes (Receiver)
//! ```
//!
//! # How file data flows, and why
//!
//! The [`Sender`] is *pushed* bytes: the driver asks [`Sender::data_wanted`] after each
//! input, reads up to that much from the file and hands it over with
//! [`Sender::write_data`] (then [`Sender::finish_data`] at end of file). The [`Receiver`]
//! buffers decoded in-order bytes that the driver drains with [`Receiver::pending_data`]
//! and [`Receiver::consume_data`]. We chose this over a `&mut dyn Read` passed into the
//! machine because:
//!
//! - the machine never blocks or fails on file I/O, so a reactor can drive thousands of
//!   transfers and do the disk reads wherever it likes (inline, a thread pool, io_uring);
//!   file errors become [`Sender::abort`] / [`Receiver::abort`] with the right ERROR code;
//! - a window must be resendable after a timeout or a gap (RFC 7440), and in netascii mode
//!   the encoded stream cannot be re-read by seeking the file (encoded offsets are not file
//!   offsets), so the sender keeps the encoded bytes of its unacknowledged blocks anyway —
//!   at most `windowsize × blksize`, which the server caps in [`Config`];
//! - the machines own no borrowed state, so they are plain `'static` values in a slab.
//!
//! # Roles
//!
//! | role                | machine      | constructor          |
//! |---------------------|--------------|----------------------|
//! | server, RRQ arrived | [`Sender`]   | [`Sender::accept`]   |
//! | server, WRQ arrived | [`Receiver`] | [`Receiver::accept`] |
//! | client get          | [`Receiver`] | [`Receiver::get`]    |
//! | client put          | [`Sender`]   | [`Sender::put`]      |
//!
//! The server's driver parses the request on port 69 with [`Packet::parse`], decides
//! whether to serve the file (answering ERROR 1, 2… itself with [`emit::encode_error`] if
//! not), then creates the machine and gives it a fresh socket: its transfer ID. A client
//! retransmitting its request may reach port 69 twice; a driver that starts a second
//! transfer for it is harmless (the client answers the second TID with ERROR 5).
//!
//! # Driving a machine
//!
//! After every input (a datagram, a timeout, file bytes): feed the sender while
//! `data_wanted() > 0`, drain the receiver's `pending_data`, call `poll_transmit` until it
//! returns `None`, collect `poll_event`s, then sleep until `poll_timeout`. Drop the machine
//! once `is_closed()`; a receiver that completed stays open a little to dally (re-ACK a
//! retransmitted last block, RFC 1350 §6). The receiver does not hold back ACKs when its
//! buffer is not drained: drain it after every input and it never holds more than a block.
//!
//! Rules the machines enforce: only the timer retransmits, never a duplicate ACK (RFC 1123
//! §4.2.3.1, the Sorcerer's Apprentice); a datagram from anyone but the peer's TID gets
//! ERROR 5 and changes nothing; an ERROR from the peer ends the transfer without an answer;
//! block numbers roll over from 65535 to 0, so transfers have no size limit.
//!
//! Not here: multicast (RFC 2090), and the `mail` mode (obsolete).
//!
//! # Example: a get, driven in memory
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use pollux_tftp::{Config, Mode, Packet, Receiver, RequestOptions, Sender};
//!
//! let (client, server_69, server_tid): (SocketAddr, SocketAddr, SocketAddr) =
//!     ("10.0.0.2:3000".parse().unwrap(), "10.0.0.1:69".parse().unwrap(), "10.0.0.1:4000".parse().unwrap());
//! let now = Instant::now();
//! let config = Config::default();
//! let file = b"hello, world\n".repeat(100);
//!
//! let options = RequestOptions { blksize: Some(1024), ..Default::default() };
//! let mut get = Receiver::get("hello.txt", Mode::Octet, options, server_69, &config, now).unwrap();
//! let mut buf = Vec::new();
//! assert_eq!(get.poll_transmit(&mut buf), Some(server_69));
//! let Ok(Packet::Request(rrq)) = Packet::parse(&buf) else { panic!() };
//! let mut serve = Sender::accept(&rrq, client, &config, Some(file.len() as u64), now).unwrap();
//! serve.write_data(&file);
//! serve.finish_data();
//!
//! let mut received = Vec::new();
//! while !serve.is_closed() {
//!     while let Some(to) = serve.poll_transmit(now, &mut buf) {
//!         assert_eq!(to, client);
//!         get.handle_datagram(now, server_tid, &buf);
//!     }
//!     while let Some(to) = get.poll_transmit(&mut buf) {
//!         assert_eq!(to, server_tid);
//!         serve.handle_datagram(now, client, &buf);
//!     }
//!     let pending = get.pending_data();
//!     received.extend_from_slice(pending);
//!     let n = pending.len();
//!     get.consume_data(n);
//! }
//! assert!(get.is_complete() && serve.is_complete());
//! assert_eq!(received, file);
//! ```

#![forbid(unsafe_code)]

mod blksize;
mod config;
pub mod emit;
mod error;
mod error_code;
mod link;
mod machine;
pub mod netascii;
pub mod options;
pub mod packet;
mod receive;
mod send;

pub use config::Config;
pub use error::{OptionError, OptionName, PacketError, RequestError, TransferError};
pub use error_code::ErrorCode;
pub use link::Event;
pub use machine::Machine;
pub use options::{negotiate, Negotiation, RequestOptions, TransferOptions};
pub use packet::{Mode, Opcode, Options, Packet, Request, RequestKind};
pub use receive::Receiver;
pub use send::Sender;
