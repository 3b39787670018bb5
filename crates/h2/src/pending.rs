//! A field block while it is being received (the HEADERS frame and the CONTINUATIONs still
//! to come): what the connection keeps between frames, and what `block.rs` turns it into.

use bytes::Bytes;

use crate::error::ErrorCode;
use crate::StreamId;

/// A field block being received: the HEADERS frame and the CONTINUATIONs that must follow
/// it with nothing in between (§4.3, §6.10).
#[derive(Debug)]
pub(crate) struct PendingBlock {
    pub(crate) stream: StreamId,
    pub(crate) end_stream: bool,
    pub(crate) purpose: Purpose,
    pub(crate) continuations: u32,
    /// The HEADERS fragment: the whole block, without a copy, when no CONTINUATION follows.
    pub(crate) first: Bytes,
    pub(crate) len: usize,
}

/// What a field block will become once decoded (decided by its HEADERS frame). Every block is
/// decoded, whatever its fate, to keep the HPACK table in step with the peer's (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A new stream's request head.
    Open,
    /// The trailers of a live stream.
    Trailers,
    /// A stream error with this code once decoded.
    Reject(ErrorCode),
    /// A stream refused with REFUSED_STREAM (over SETTINGS_MAX_CONCURRENT_STREAMS).
    Refuse,
    /// Dropped: a stream we reset, or a new one after GOAWAY (§6.8).
    Ignore,
}
