//! Content codings (RFC 9110 §8.4, §12.5.3): br, zstd and gzip — one negotiation of
//! `Accept-Encoding`, one set of compressors, one list of compressible types, for static files
//! and for bodies built in memory alike (pollux-web's `Compression` middleware is built on
//! [`negotiate`], [`compress_smaller`] and [`compressible`]).
//!
//! ```text
//!  request headers ─► negotiate (accept.rs) ─► Some(coding) ─┐
//!  response Content-Type ─► compressible (types.rs) ─────────┼─► compress (codec.rs)
//!
//!  static files only (files.rs): Compression::select
//!      sidecars (sidecar.rs, probe cached) + on-the-fly candidates (size window)
//!                        │ choose: q, then sidecar > fly, then br > zstd > gzip
//!            ┌───────────┴────────────┐
//!        sidecar                  on the fly
//!   Body::File (sendfile)   cache hit ─► Body::Bytes (shared, no copy)
//!                           miss ─► read, compress once, store (store.rs)
//! ```
//!
//! Sharing them keeps one answer to "what does this client get": a file and a generated page
//! with the same `Accept-Encoding` are encoded alike (br > zstd > gzip at equal weight, q-values
//! respected, identity when nothing is acceptable).
//!
//! This module and `accept`, `codec`, `types` know nothing of files; `files` (the static files'
//! [`Compression`](crate::Compression)) builds on them and on the file cache.

mod accept;
mod codec;
pub(crate) mod files;
mod sidecar;
mod store;
mod types;

use std::io;

use http::{HeaderMap, HeaderValue};

use pollux_server::Body;

pub(crate) use accept::{Accept, Offer};

/// A content coding pollux can send (RFC 9110 §8.4.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli (RFC 7932).
    Br,
    /// Zstandard (RFC 8878).
    Zstd,
    /// gzip (RFC 1952).
    Gzip,
}

impl Coding {
    /// Every coding, in our order of preference at equal weight: smallest output first.
    pub(crate) const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token: `br`, `zstd` or `gzip`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// Position in [`Coding::ALL`], for per-coding arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Below this many bytes a coding saves less than its header and the client's decoder setup
/// cost: one TCP segment carries the body either way. Static files and the web middleware
/// both start here.
pub const MIN_LEN: usize = 1024;

/// An encoded representation chosen for a request.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) coding: Coding,
    pub(crate) body: Body,
    pub(crate) len: u64,
    /// The encoded representation's own strong validator (it differs from the identity one).
    pub(crate) etag: HeaderValue,
}

/// The coding to send to a client with these request `headers`, or `None` for identity.
///
/// All three codings are assumed available; the rules are those of static files: highest
/// q-value first, then br > zstd > gzip; `q=0` refuses a coding; identity wins only when the
/// client weighs it above every coding; no `Accept-Encoding` at all means identity. The header
/// is network-controlled and never makes this fail: junk elements are ignored.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::ACCEPT_ENCODING};
/// use pollux_fs::coding::{negotiate, Coding};
///
/// let mut h = HeaderMap::new();
/// h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br;q=0.5"));
/// assert_eq!(negotiate(&h), Some(Coding::Gzip));
/// h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0"));
/// assert_eq!(negotiate(&h), None);
/// ```
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    Accept::from_headers(headers).choose([Offer::Fly; 3])
}

/// `input` compressed with `coding` as one complete stream, at the levels static files use
/// (brotli 5, zstd 6, gzip 6). It runs on the calling thread: about 20 MB/s for br and gzip.
///
/// ```
/// use pollux_fs::coding::{compress, Coding};
/// let text = "hello hello hello hello hello hello hello hello".repeat(40);
/// let gz = compress(Coding::Gzip, text.as_bytes()).expect("in-memory compression");
/// assert!(gz.len() < text.len());
/// assert_eq!(&gz[..2], &[0x1f, 0x8b]); // the gzip magic
/// ```
pub fn compress(coding: Coding, input: &[u8]) -> io::Result<Vec<u8>> {
    codec::compress(coding, input)
}

/// [`compress`], kept only if it made `input` smaller: `Ok(None)` when it did not (random or
/// already-compressed bytes under a text type), and then identity is the better answer.
///
/// ```
/// use pollux_fs::coding::{compress_smaller, Coding};
/// let text = "hello hello hello hello hello hello hello hello".repeat(40);
/// assert!(compress_smaller(Coding::Br, text.as_bytes()).expect("in memory").is_some());
/// assert_eq!(compress_smaller(Coding::Br, b"x").expect("in memory"), None);
/// ```
pub fn compress_smaller(coding: Coding, input: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let out = codec::compress(coding, input)?;
    Ok((out.len() < input.len()).then_some(out))
}

/// Whether a body of this `Content-Type` is worth a coding: text, JSON, XML, JavaScript, wasm,
/// SVG and other uncompressed formats. Unknown types are not (they are assumed compressed or
/// binary already).
///
/// ```
/// use http::HeaderValue;
/// use pollux_fs::coding::compressible;
/// assert!(compressible(&HeaderValue::from_static("text/html; charset=utf-8")));
/// assert!(compressible(&HeaderValue::from_static("application/json")));
/// assert!(!compressible(&HeaderValue::from_static("image/png")));
/// ```
pub fn compressible(content_type: &HeaderValue) -> bool {
    types::compressible(content_type)
}
