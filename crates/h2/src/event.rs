//! What [`crate::Connection::poll_event`] tells the server.

use bytes::Bytes;

use crate::error::ErrorCode;
use crate::headers::RequestHead;
use crate::StreamId;

/// Something the client did that the server acts on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A request's field block (HEADERS + CONTINUATIONs), decoded and validated per RFC 9113
    /// §8.1–8.3 (see [`RequestHead`]). `end_stream`: no body follows.
    Request { stream: StreamId, head: RequestHead, end_stream: bool },
    /// Request body bytes (padding stripped). They count against our windows until the
    /// server calls [`crate::Connection::release`] for them. An empty `data` only ever comes
    /// with `end_stream`.
    Data { stream: StreamId, data: Bytes, end_stream: bool },
    /// Trailers ended the body (a HEADERS with END_STREAM after the request head).
    Trailers { stream: StreamId, fields: http::HeaderMap },
    /// The stream is gone: the client sent RST_STREAM (`code` is theirs), or we reset it for a
    /// stream error (`code` is ours). The server drops its work for it; nothing more can be
    /// sent on it. Only streams the server was told of (a `Request` event) get one.
    Reset { stream: StreamId, code: ErrorCode },
}

impl Event {
    /// The stream the event is about.
    pub fn stream(&self) -> StreamId {
        match self {
            Event::Request { stream, .. }
            | Event::Data { stream, .. }
            | Event::Trailers { stream, .. }
            | Event::Reset { stream, .. } => *stream,
        }
    }
}
