//! Middleware: code around every request of an app (or of one route).
//!
//! A middleware gets the request and a [`Next`] that runs the rest of the chain (the inner
//! middleware, then the handler); it may change the request, answer without calling `next`,
//! or change the response. `Router::layer(a).layer(b)` runs `b` first (the last layer added is
//! the outermost), as in tower and axum.
//!
//! Middleware runs where its handler runs: on the worker thread, or for a
//! [`crate::MethodRouter::blocking`] route on the blocking pool.
//!
//! # Built-ins, and an order for them
//!
//! - [`CatchPanic`]: a panicking handler becomes a 500 the outer layers still see.
//! - [`Compression`]: br, zstd or gzip for in-memory bodies, as the client accepts.
//! - [`Cors`]: answers preflights and states the CORS policy on every response.
//! - [`AccessLog`]: one line per request with the app's time.
//! - [`RequestId`]: an `x-request-id` for each request, in the handler and the response.
//!
//! Read a stack bottom-up: the last layer added sees the request first and the response last.
//! A useful order, innermost first: `CatchPanic` (so the panic's 500 passes through the rest),
//! `Compression`, `Cors`, `AccessLog` (outside `Cors`, so preflights are logged too), and
//! `RequestId` outermost (every response, preflights included, carries the id).
//!
//! ```
//! use pollux_web::{get, Router};
//! use pollux_web::middleware::{AccessLog, CatchPanic, Compression, Cors, RequestId};
//! use pollux_server::{Body, ConnInfo, Handler, Reply};
//! use http::{header, Request, StatusCode};
//!
//! fn page() -> String { "All work and no play makes Jack a dull boy.\n".repeat(100) }
//! fn broken() -> String { panic!("the cache is gone") }
//!
//! let app = Router::new()
//!     .route("/", get(page))
//!     .route("/broken", get(broken))
//!     .layer(CatchPanic::new())
//!     .layer(Compression::new())
//!     .layer(Cors::permissive())
//!     .layer(AccessLog::new())
//!     .layer(RequestId::new())
//!     .into_app();
//!
//! let conn = ConnInfo::new(([127, 0, 0, 1], 4000).into());
//! let call = |req| match app.call(req, &conn) { Reply::Now(r) => r, _ => unreachable!() };
//!
//! let req = Request::get("/").header(header::ACCEPT_ENCODING, "gzip").body(Body::Empty).unwrap();
//! let resp = call(req);
//! assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
//! assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
//! assert!(resp.headers().contains_key("x-request-id"));
//!
//! let resp = call(Request::get("/broken").body(Body::Empty).unwrap());
//! assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR); // logged as such, with an id
//! assert!(resp.headers().contains_key("x-request-id"));
//! ```

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
    /// Handles `req`, calling `next.run` for the inner chain (or not). The router calls it;
    /// implement it as in the trait's example, or use [`from_fn`] for a closure.
    ///
    /// ```
    /// use pollux_web::middleware::{Middleware, Next};
    /// use pollux_web::response::{IntoResponse, Response};
    /// use pollux_server::{Body, ConnInfo};
    /// use http::{Request, StatusCode};
    ///
    /// /// Only clients on the loopback interface get through; others get 403.
    /// struct LocalOnly;
    /// impl Middleware for LocalOnly {
    ///     fn call(&self, req: Request<Body>, conn: &ConnInfo, next: Next<'_>) -> Response {
    ///         if !conn.peer.ip().is_loopback() {
    ///             return StatusCode::FORBIDDEN.into_response(); // `next` never runs
    ///         }
    ///         next.run(req)
    ///     }
    /// }
    /// ```
    fn call(&self, req: Request<Body>, conn: &ConnInfo, next: Next<'_>) -> Response;
}

/// The rest of the chain: the inner middleware and the handler. A middleware gets it by
/// value, so it runs the rest at most once.
///
/// ```
/// use pollux_web::{get, middleware::from_fn, Router};
/// use pollux_web::response::IntoResponse;
/// use http::{header::AUTHORIZATION, StatusCode};
///
/// // Answers 401 without running the handler unless the request has credentials.
/// let require_auth = from_fn(|req, next| {
///     if !req.headers().contains_key(AUTHORIZATION) {
///         return StatusCode::UNAUTHORIZED.into_response();
///     }
///     next.run(req)
/// });
/// let app = Router::new().route("/admin", get(|| "welcome")).layer(require_auth).into_app();
/// # let _ = app;
/// ```
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
    ///
    /// ```
    /// use std::time::Instant;
    /// use pollux_web::middleware::from_fn;
    ///
    /// let timing = from_fn(|req, next| {
    ///     let start = Instant::now();
    ///     let mut resp = next.run(req);
    ///     let ms = format!("app;dur={:.1}", start.elapsed().as_secs_f64() * 1000.0);
    ///     resp.headers_mut().insert("server-timing", ms.parse().unwrap());
    ///     resp
    /// });
    /// # let _ = timing;
    /// ```
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

/// A closure as a [`Middleware`]; made by [`from_fn`].
///
/// ```
/// use pollux_web::middleware::{from_fn, FromFn, Middleware, Next};
/// use pollux_web::response::Response;
/// use pollux_server::Body;
///
/// fn passthrough(req: http::Request<Body>, next: Next<'_>) -> Response { next.run(req) }
/// let mw: FromFn<_> = from_fn(passthrough);
/// fn is_middleware(_: &impl Middleware) {}
/// is_middleware(&mw);
/// ```
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
