//! Sans-IO HTTP/2 for servers (RFC 9113), with HPACK from `pollux-hpack` (RFC 7541).
//!
//! This crate knows nothing of sockets, clocks or threads. The server reads bytes from
//! wherever it likes into a [`bytes::BytesMut`] and hands them to
//! [`Connection::handle_read`] with the current time in milliseconds; it takes decoded
//! requests and body bytes from [`Connection::poll_event`] and the control frames it owes
//! the client (SETTINGS and PING acks, WINDOW_UPDATE, RST_STREAM, GOAWAY) from
//! [`Connection::poll_transmit`]; it writes responses with [`Connection::send_headers`] and
//! [`Connection::send_data`] straight into its own output buffer, as much as
//! [`Connection::send_capacity`] allows.
//!
//! ```text
//!   bytes in + now ──► handle_read ──┬──► poll_event    ──► Request / Data / Trailers / Reset
//!                                    └──► poll_transmit ──► acks, WINDOW_UPDATE, RST_STREAM, GOAWAY
//!   response ──► send_headers / send_data / data_frame_header ──► HEADERS, CONTINUATION, DATA
//!   body consumed ──► release ──► WINDOW_UPDATE (via poll_transmit)
//! ```
//!
//! # What the crate owns
//!
//! The protocol: the connection preface, frames and their size and padding rules, SETTINGS,
//! stream states (§5.1) and identifiers, flow control on the connection and every stream in
//! both directions, HPACK, request validation (§8), and the limits that keep a hostile peer
//! from costing memory or CPU out of proportion: SETTINGS_MAX_CONCURRENT_STREAMS, header list
//! and header block sizes, a cap on CONTINUATION frames, and token buckets against floods of
//! PING, SETTINGS, Rapid Reset, empty DATA, PRIORITY, refused streams and WINDOW_UPDATE
//! ([`Flood`]). Each breach ends the stream or the connection with the RFC's error code.
//!
//! Server push is never used; PRIORITY frames are checked and otherwise ignored (RFC 9113
//! deprecates the priority scheme).
//!
//! # Memory
//!
//! Request body bytes count against the receive windows we advertised until the server
//! says it consumed them ([`Connection::release`]), so a connection never holds more
//! undelivered body than `connection_window`. Header blocks are bounded by
//! `max_header_block` before decoding and decoded fields by `max_header_list_size`. The
//! stream table holds at most `max_concurrent_streams` entries and a fixed number of
//! recently closed ids. Control frames the peer provokes but does not read are bounded too
//! (see [`Connection::poll_transmit`]). DATA payloads and header values are slices of the
//! read buffer (`Bytes`), not copies.

#![forbid(unsafe_code)]

mod connection;
mod error;
mod event;
mod flood;
mod flow;
mod frame;
mod headers;
mod recv;
mod send;
mod settings;
mod stream;

pub use connection::Connection;
pub use error::{ConnError, ErrorCode, SendError};
pub use event::Event;
pub use flood::Flood;
pub use headers::RequestHead;
pub use send::Fields;
pub use settings::Config;
pub use stream::State;

/// A stream identifier (RFC 9113 §5.1.1): 31 bits; client-initiated streams are odd.
pub type StreamId = u32;

#[cfg(test)]
mod tests;
