//! Message bodies: bytes in memory, a region of a file (sent with `sendfile`), or a stream.

use std::fmt;
use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

/// A request or response body.
#[non_exhaustive]
#[derive(Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes in memory.
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset`. Small regions are copied into the write buffer;
    /// large ones go out with `sendfile(2)`, so a slow reader never makes the server hold the
    /// file in memory. The file is shared so a cache can keep one descriptor open for many
    /// responses (no `open`/`close` per request).
    File { file: Arc<File>, offset: u64, len: u64 },
    /// Chunks produced on demand, as the socket can take them (chunked unless the length
    /// is known).
    Stream(Box<dyn BodyStream>),
}

/// A body produced piece by piece. Called on the worker thread when the connection can take
/// more, so `next_chunk` must not block.
pub trait BodyStream: Send {
    /// The next piece; `None` at the end. An error ends the connection (the response is cut).
    fn next_chunk(&mut self) -> Option<io::Result<Bytes>>;
    /// The total length, if known in advance (then `Content-Length` is sent, not chunked).
    fn size_hint(&self) -> Option<u64> {
        None
    }
}

impl Body {
    /// The body's length, if known before sending it.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::Stream(s) => s.size_hint(),
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes of an in-memory body; empty for files and streams.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => b,
            _ => &[],
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::Bytes(b)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::Bytes(Bytes::from_static(s))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::Bytes(Bytes::from(s))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::Bytes(Bytes::from(v))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::File { offset, len, .. } => write!(f, "Body::File({offset}+{len})"),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}
