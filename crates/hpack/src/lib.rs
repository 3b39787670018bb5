//! Sans-IO HPACK (RFC 7541): header compression for HTTP/2.
//!
//! This crate knows nothing of frames, streams, sockets or clocks. The HTTP/2 codec joins a
//! HEADERS frame and its CONTINUATION frames into one header block and hands it to a
//! [`Decoder`], which calls back once per field; to answer, it asks an [`Encoder`] to append
//! a block to its write buffer and cuts that into frames itself.
//!
//! ```text
//!   header block ──► Decoder::decode ──► emit(name, value, never_indexed) per field
//!                                        (or DecodeError ─► COMPRESSION_ERROR)
//!   Encoder::begin, status, field… ──► header block bytes
//! ```
//!
//! One connection has one of each, and they must see every block in order: each end keeps
//! a *dynamic table* of recently sent fields that the other end mirrors (RFC 7541 §2.3.2),
//! so a block that is skipped, or decoded twice, puts the two tables out of step for good.
//! That is why a decoding error is a connection error in HTTP/2 and why
//! [`Decoder::decode`] always reads a block to its end.
//!
//! # Files
//!
//! | file | RFC 7541 | what |
//! |---|---|---|
//! | `integer.rs` | §5.1 | prefix-coded integers, with a bound on their size |
//! | `huffman.rs` | §5.2, App. B | the Huffman code, a nibble-at-a-time decoding state machine built at compile time |
//! | `table.rs` | §2.3, §4, App. A | the static table, the dynamic table with its size accounting and eviction |
//! | `decoder.rs` | §3, §6 | header blocks in, fields out, zero-copy where the wire allows |
//! | `encoder.rs` | §6, §7.1 | fields in, header blocks out: the indexing policy, O(1) table lookups |
//!
//! # Costs
//!
//! Neither side allocates per field in steady state. The decoder hands out values as
//! [`Bytes`]: slices of the block for plain literals, clones of table handles for indexed
//! fields, slices of a reused chunk for Huffman-coded strings. The encoder finds a field in
//! its table through a hash index (and an array for static names) rather than a scan. Both allocate when an entry enters the
//! dynamic table (one buffer for its name and value together), and the hash index of the
//! encoder may grow up to the most entries a table holds. `tests/allocations.rs` counts.
//!
//! # Limits
//!
//! Memory stays bounded whatever the peer sends: the dynamic table by our
//! SETTINGS_HEADER_TABLE_SIZE (the `max_table_size` of [`Decoder::new`]), each string by
//! [`Decoder::set_max_string`], integers by 2³² − 1. The *header list* size (the sum over a
//! block's fields) is the HTTP/2 codec's to count, in its `emit` callback.

#![forbid(unsafe_code)]

mod decoder;
mod encoder;
mod error;
pub mod huffman;
mod integer;
mod table;
#[cfg(test)]
mod test_util;

pub use bytes::Bytes;
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::DecodeError;
