//! Middleware: code around every request of an app (or of one route).
//!
//! A middleware gets the request and a [`Next`] that runs the rest of the chain (the inner
//! middleware, then the handler); it may change the request, answer without calling `next`,
//! or change the response. `Router::layer(a).layer(b)` runs `b` first (the last layer added is
//! the outermost), as in tower and axum.
//!
//! Middleware runs where its handler runs: on the worker thread, or for a
//! [`crate::MethodRouter::blocking`] route on the blocking pool.

mod compress;
mod cors;
mod log;
mod panic;
mod request_id;
mod vary;

pub use compress::Compression;
pub use cors::Cors;
pub use log::AccessLog;
pub use panic::{panic_message, CatchPanic};
pub use request_id::{RequestId, RequestIdValue};

use http::Request;
use pollux_server::{Body, ConnInfo};

use crate::response::Response;

/// Code that runs around handlers. See the module docs for the order.
///
/// ```
/// use pollux_web::middleware::{Middleware, Next};
/// use pollux_web::response::Response;
/// use pollux_server::{Body, ConnInfo};
/// use http::Request;
///
/// /// Adds `X-Powered-By: pollux`.
/// struct PoweredBy;
/// impl Middleware for PoweredBy {
///     fn call(&self, req: Request<Body>, _conn: &ConnInfo, next: Next<'_>) -> Response {
///         let mut resp = next.run(req);
///         resp.headers_mut().insert("x-powered-by", http::HeaderValue::from_static("pollux"));
///         resp
///     }
/// }
/// ```
pub trait Middleware: Send + Sync + 'static {
    /// Handles `req`, calling `next.run` for the inner chain (or not).
    fn call(&self, req: Request<Body>, conn: &ConnInfo, next: Next<'_>) -> Response;
}

/// The rest of the chain.
pub struct Next<'a> {
    inner: &'a dyn Fn(Request<Body>) -> Response,
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Next")
    }
}

impl<'a> Next<'a> {
    pub(crate) fn new(inner: &'a dyn Fn(Request<Body>) -> Response) -> Next<'a> {
        Next { inner }
    }

    /// Runs the inner middleware and the handler.
    pub fn run(self, req: Request<Body>) -> Response {
        (self.inner)(req)
    }
}

/// A middleware from a closure.
///
/// ```
/// use pollux_web::{Router, get, middleware::from_fn};
/// let app = Router::new()
///     .route("/", get(|| "hi"))
///     .layer(from_fn(|req, next| {
///         let mut resp = next.run(req);
///         resp.headers_mut().insert("x-frame-options", http::HeaderValue::from_static("DENY"));
///         resp
///     }))
///     .into_app();
/// # let _ = app;
/// ```
pub fn from_fn<F>(f: F) -> FromFn<F>
where
    F: Fn(Request<Body>, Next<'_>) -> Response + Send + Sync + 'static,
{
    FromFn(f)
}

/// See [`from_fn`].
#[derive(Debug, Clone)]
pub struct FromFn<F>(F);

impl<F> Middleware for FromFn<F>
where
    F: Fn(Request<Body>, Next<'_>) -> Response + Send + Sync + 'static,
{
    fn call(&self, req: Request<Body>, _conn: &ConnInfo, next: Next<'_>) -> Response {
        (self.0)(req, next)
    }
}

/// Runs `req` through `layers` (the last one outermost), then `inner`.
pub(crate) fn run_chain(
    layers: &[std::sync::Arc<dyn Middleware>],
    req: Request<Body>,
    conn: &ConnInfo,
    inner: &dyn Fn(Request<Body>) -> Response,
) -> Response {
    match layers.split_last() {
        None => inner(req),
        Some((outer, rest)) => {
            let next = |r: Request<Body>| run_chain(rest, r, conn, inner);
            outer.call(req, conn, Next::new(&next))
        }
    }
}
