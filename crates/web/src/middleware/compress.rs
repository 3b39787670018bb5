//! [`Compression`]: br, zstd or gzip for in-memory responses, negotiated and encoded exactly as
//! static files are ([`pollux_fs::coding`]).
//!
//! ```text
//!  response ─► 200, Body::Bytes, compressible type, no Content-Encoding, ≥ min_len? ──no──► as is
//!                 │ yes                                      (no-transform, File, Stream, 206, 304)
//!                 ├─► Vary: Accept-Encoding (whatever the client accepts)
//!                 ▼
//!  HEAD, or Accept-Encoding offers nothing ──────────────────────────────────────► identity
//!                 ▼
//!  compress (br > zstd > gzip at equal q) ─► not smaller ──► identity
//!                 ▼
//!  Content-Encoding, no Content-Length, ETag weakened
//! ```

use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use pollux_fs::coding;
use pollux_server::{Body, ConnInfo};

use super::{vary, Middleware, Next};
use crate::response::Response;

/// Compresses responses whose body is in memory ([`Body::Bytes`]) when the client accepts br,
/// zstd or gzip (its q-values respected; at equal weight br, then zstd, then gzip).
///
/// A response is compressed only if all hold: status 200, a compressible `Content-Type` (text,
/// JSON, XML, JavaScript, SVG, …), a body of at least `min_len` bytes, no `Content-Encoding`
/// already, no `Cache-Control: no-transform`, and a request other than HEAD. File and stream
/// bodies are never touched: files are sent with `sendfile` (mount
/// [`pollux_fs::ServeDir`], which compresses and caches on its own) and a stream cannot be
/// compressed before it is produced.
///
/// A compressed response gets `Content-Encoding`, loses any `Content-Length` the handler set
/// (the server frames the new body), and its strong `ETag` becomes weak (`W/"…"`): the bytes
/// differ from the identity representation's, and a strong validator promises the same bytes
/// (RFC 9110 §8.8.1). Every response that could be compressed also gets
/// `Vary: Accept-Encoding`, compressed or not, so a cache never gives br to a client that did
/// not ask for it.
///
/// Compression runs on the thread of the handler, per response, at the static files' levels
/// (about 20 MB/s for br and gzip): a 100 KiB page costs ~5 ms of a worker. Mark routes with
/// large bodies [`crate::MethodRouter::blocking`], or raise `min_len`.
///
/// ```
/// use pollux_web::{Router, get, middleware::Compression};
/// let app: Router = Router::new()
///     .route("/", get(|| "a long page … ".repeat(200)))
///     .layer(Compression::new());
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct Compression {
    min_len: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::new()
    }
}

impl Compression {
    /// Compresses bodies of 1 KiB or more.
    ///
    /// ```
    /// let c = pollux_web::middleware::Compression::new();
    /// # let _ = c;
    /// ```
    pub fn new() -> Compression {
        // The static files' threshold: below it a coding saves less than its own overhead.
        Compression { min_len: coding::MIN_LEN }
    }

    /// Compresses bodies of `bytes` or more only.
    ///
    /// ```
    /// let c = pollux_web::middleware::Compression::new().min_len(4096);
    /// # let _ = c;
    /// ```
    pub fn min_len(self, bytes: usize) -> Compression {
        Compression { min_len: bytes }
    }

    /// Whether `resp` is a representation this layer would compress for some client.
    fn eligible(&self, resp: &Response) -> bool {
        let h = resp.headers();
        resp.status() == StatusCode::OK
            && matches!(resp.body(), Body::Bytes(b) if b.len() >= self.min_len)
            && !h.contains_key(CONTENT_ENCODING)
            && h.get(CONTENT_TYPE).is_some_and(coding::compressible)
            && !no_transform(h)
    }
}

impl Middleware for Compression {
    fn call(&self, req: Request<Body>, _conn: &ConnInfo, next: Next<'_>) -> Response {
        // Decided before the request moves on. HEAD gets identity: its Content-Length (from
        // the dropped body) then describes the same representation a plain GET would get.
        let chosen = if req.method() == Method::HEAD { None } else { coding::negotiate(req.headers()) };
        let mut resp = next.run(req);
        if !self.eligible(&resp) {
            return resp;
        }
        vary::add(resp.headers_mut(), "Accept-Encoding");
        let Some(c) = chosen else { return resp };
        // Random or already-compressed bytes under a text type do not shrink: identity then.
        let Ok(Some(out)) = coding::compress_smaller(c, resp.body().as_bytes()) else { return resp };
        let h = resp.headers_mut();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(c.token()));
        h.remove(CONTENT_LENGTH);
        weaken_etag(h);
        *resp.body_mut() = Body::from(out);
        resp
    }
}

/// RFC 9111 §5.2.2.6: `no-transform` asks intermediaries not to change the content; the
/// handler may mean it for us too.
fn no_transform(h: &HeaderMap) -> bool {
    h.get_all(CACHE_CONTROL).iter().any(|v| {
        v.as_bytes().split(|&b| b == b',').any(|d| d.trim_ascii().eq_ignore_ascii_case(b"no-transform"))
    })
}

/// `"x"` → `W/"x"`; a weak tag stays as it is.
fn weaken_etag(h: &mut HeaderMap) {
    let Some(tag) = h.get(ETAG) else { return };
    if tag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = Vec::with_capacity(tag.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(tag.as_bytes());
    match HeaderValue::from_bytes(&weak) {
        Ok(v) => {
            h.insert(ETAG, v);
        }
        // Cannot happen (two visible characters before a valid value), but a validator that
        // would be wrong must not survive.
        Err(_) => {
            h.remove(ETAG);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_weakened_once() {
        let mut h = HeaderMap::new();
        h.insert(ETAG, HeaderValue::from_static("\"abc\""));
        weaken_etag(&mut h);
        assert_eq!(h[ETAG], "W/\"abc\"");
        weaken_etag(&mut h);
        assert_eq!(h[ETAG], "W/\"abc\"");
    }

    #[test]
    fn no_transform_in_a_list() {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=60, No-Transform"));
        assert!(no_transform(&h));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        assert!(!no_transform(&h));
    }
}
