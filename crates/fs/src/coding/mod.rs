//! Content codings for bodies built in memory: the same negotiation, codecs and list of
//! compressible types that static files use, for other handlers and middleware (pollux-web's
//! `Compression` middleware is built on these three functions).
//!
//! ```text
//!  request headers ─► negotiate ─► Some(coding) ─┐
//!  response Content-Type ─► compressible ────────┼─► compress(coding, bytes)
//! ```
//!
//! Sharing them keeps one answer to "what does this client get": a file and a generated page
//! with the same `Accept-Encoding` are encoded alike (br > zstd > gzip at equal weight, q-values
//! respected, identity when nothing is acceptable).

use std::io;

use http::{HeaderMap, HeaderValue};

use crate::encoding::{self, Accept, Offer};

pub use crate::encoding::Coding;

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
    encoding::compress(coding, input)
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
    encoding::compressible(content_type)
}
