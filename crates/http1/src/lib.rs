//! Sans-IO HTTP/1.1 for servers (RFC 9112 message syntax, RFC 9110 semantics).
//!
//! This crate knows nothing of sockets or clocks: the caller owns the buffers, reads bytes
//! from wherever it likes into a [`bytes::BytesMut`], and hands them to a [`RequestDecoder`];
//! the caller asks the encoder functions to append responses to its write buffer. The
//! current date is passed in as bytes.
//!
//! ```text
//!   bytes in ──► RequestDecoder::decode ──► Event::Head / Event::Data / Event::End
//!                                          (or Error ─► Error::status() 400/413/414/431/501/505)
//!   Response parts ──► encode_head / encode_chunk / encode_last_chunk ──► bytes out
//! ```

#![forbid(unsafe_code)]

mod chunked;
mod decode;
mod encode;
mod error;
mod fields;
mod framing;
mod head;
mod name_case;
mod names;
mod request_line;
mod scan;
mod syntax;

pub use decode::{Event, RequestDecoder};
pub use encode::{encode_chunk, encode_head, encode_last_chunk, EncodedFields, Framing, ResponseHead};
pub use error::Error;
pub use head::{BodyKind, Limits, RequestHead};
