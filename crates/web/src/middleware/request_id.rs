//! [`RequestId`]: a name for each request, shared by the client, the logs and the handler.
//!
//! A well-formed `x-request-id` from the client (or a proxy in front) is kept, so one id
//! follows a request across services; anything else is replaced by a fresh id. Ids made here
//! are a per-process random prefix and a counter: unique within the process without a lock or
//! a system call per request, and unlikely to repeat across restarts and machines.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::HeaderName;
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};
use pollux_server::{Body, ConnInfo};

use super::{Middleware, Next};
use crate::extract::{Cx, FromRequestParts, Rejection};
use crate::response::Response;

/// The header that carries the id, both ways.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id kept: enough for a UUID with a prefix, short enough for a log line.
const MAX_LEN: usize = 64;

/// Gives every request an id: the client's `x-request-id` when it is 1–64 characters of
/// letters, digits, `-`, `_` and `.`, else a new one (`3f9c0a1b2c3d4e5f-1a`). The id goes into
/// the request's extensions as a [`RequestIdValue`] (and its `x-request-id` header, for code
/// that reads headers), and onto the response's `x-request-id`.
///
/// The character rule keeps a client's id from smuggling spaces, quotes or control characters
/// into logs that print it.
///
/// ```
/// use pollux_web::{Router, get, middleware::{RequestId, RequestIdValue}};
///
/// fn show(id: RequestIdValue) -> String {
///     format!("you are request {id}\n")
/// }
/// let app: Router = Router::new().route("/", get(show)).layer(RequestId::new());
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestId {
    _private: (),
}

impl RequestId {
    /// The middleware.
    ///
    /// ```
    /// let layer = pollux_web::middleware::RequestId::new();
    /// # let _ = layer;
    /// ```
    pub fn new() -> RequestId {
        RequestId { _private: () }
    }
}

/// The id of the current request, put in the request extensions by [`RequestId`]. As an
/// extractor it answers 500 when the layer is missing (a wiring bug, not the client's fault).
///
/// ```
/// use pollux_web::middleware::RequestIdValue;
///
/// // In a handler: `fn h(id: RequestIdValue) -> String { id.to_string() }`; or from parts:
/// let (parts, ()) = http::Request::new(()).into_parts();
/// let id = parts.extensions.get::<RequestIdValue>().map(RequestIdValue::as_str);
/// assert_eq!(id, None); // no RequestId layer ran on this request
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestIdValue(pub String);

impl RequestIdValue {
    /// The id as text.
    ///
    /// ```
    /// let id = pollux_web::middleware::RequestIdValue("abc-1".into());
    /// assert_eq!(id.as_str(), "abc-1");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestIdValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S> FromRequestParts<S> for RequestIdValue {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        parts.extensions.get::<RequestIdValue>().cloned().ok_or_else(|| {
            Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "no request id: the RequestId layer is missing")
        })
    }
}

impl Middleware for RequestId {
    fn call(&self, mut req: Request<Body>, _conn: &ConnInfo, next: Next<'_>) -> Response {
        let kept = req
            .headers()
            .get(X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|s| acceptable(s.as_bytes()));
        let text = kept.map_or_else(generate, str::to_owned);
        // Kept ids and generated ones (hex digits and `-`) are always valid field values.
        let Ok(value) = HeaderValue::from_str(&text) else { return next.run(req) };
        req.headers_mut().insert(X_REQUEST_ID, value.clone());
        req.extensions_mut().insert(RequestIdValue(text));
        let mut resp = next.run(req);
        resp.headers_mut().insert(X_REQUEST_ID, value);
        resp
    }
}

/// 1–64 of `A-Z a-z 0-9 - _ .`.
fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.iter().all(|&b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `prefix-counter` in hex: the prefix is drawn once per process, the counter counts.
fn generate() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        // `RandomState` carries OS-seeded random keys; hashing the clock and the pid with them
        // gives a prefix that differs between processes, restarts and machines without a
        // dependency on a random number crate.
        let mut h = RandomState::new().build_hasher();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        h.write_u128(now);
        h.write_u32(std::process::id());
        h.finish()
    });
    // Relaxed: only uniqueness matters, not ordering with other memory.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}-{n:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_ids_are_kept() {
        assert!(acceptable(b"a"));
        assert!(acceptable(b"3f9c-1A_b.c"));
        assert!(acceptable(&[b'x'; 64]));
        assert!(!acceptable(b""));
        assert!(!acceptable(&[b'x'; 65]));
        for bad in [&b"a b"[..], b"a\"b", b"a\tb", b"a/b", b"\xc3\xa9", b"a;b"] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_unique_and_acceptable() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.split('-').next(), b.split('-').next(), "one prefix per process");
        assert!(acceptable(a.as_bytes()), "{a}");
        assert!(HeaderValue::from_str(&a).is_ok());
    }
}
