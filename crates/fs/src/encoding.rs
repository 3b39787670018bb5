//! Content codings for static files (RFC 9110 §8.4, §12.5.3): negotiation of
//! `Accept-Encoding`, precompressed sidecars, and on-the-fly compression kept in a bounded cache.
//!
//! STUB: never encodes. The compression helper replaces the inside of this module.

use http::{HeaderMap, HeaderValue};
use pollux_server::Body;

use crate::cache::Opened;

/// A content coding we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }
}

/// An encoded representation chosen for a request.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) coding: Coding,
    pub(crate) body: Body,
    pub(crate) len: u64,
    /// The encoded representation's own strong validator (it differs from the identity one).
    pub(crate) etag: HeaderValue,
}

/// Compression settings and the per-worker cache of compressed results.
#[derive(Debug, Clone)]
pub struct Compression {
    enabled: bool,
}

impl Compression {
    /// `enabled: false` is `--compress off`: identity only, sidecars ignored.
    pub fn new(enabled: bool) -> Compression {
        Compression { enabled }
    }

    /// Whether responses for this content type vary by `Accept-Encoding` (so `Vary` must be
    /// sent even when identity is chosen).
    pub(crate) fn varies(&self, content_type: &HeaderValue) -> bool {
        let _ = content_type;
        self.enabled && false
    }

    /// The encoded representation to send for a full (non-range) GET/HEAD of `file`, or `None`
    /// for identity.
    pub(crate) fn select(&self, req: &HeaderMap, file: &Opened, content_type: &HeaderValue) -> Option<Encoded> {
        let _ = (req, file, content_type);
        None
    }
}
