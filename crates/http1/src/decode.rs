//! Request decoding: heads with httparse, bodies by Content-Length or chunked.
// STUB: signatures only.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use crate::{Error, Limits, RequestHead};

/// What the decoder found in the buffer.
#[derive(Debug)]
pub enum Event {
    /// A complete, validated request head.
    Head(RequestHead),
    /// A piece of the (decoded) body, split off the caller's buffer without copying.
    Data(Bytes),
    /// The message is complete; chunked trailers, if any.
    End(Option<HeaderMap>),
}

/// Decodes a stream of pipelined requests.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder { limits }
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Consumes what it can from `buf`. `Ok(None)`: need more bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        let _ = buf;
        Ok(None)
    }
    /// True between messages: no byte of the next message consumed yet.
    pub fn is_idle(&self) -> bool {
        true
    }
}
