//! Sans-IO HPACK (RFC 7541): header compression for HTTP/2.
//!
//! This crate knows nothing of frames, streams or sockets: the HTTP/2 codec hands the
//! [`Decoder`] one complete header block (HEADERS plus any CONTINUATION payloads, joined)
//! and asks the [`Encoder`] to append a block to its write buffer.

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
