//! The handler interface: the Rust counterpart of WSGI's `application(environ, start_response)`.

use std::net::SocketAddr;

use http::{Request, Response};

use crate::Body;

/// What the server knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
}

impl ConnInfo {
    /// Connection facts for a request from `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        ConnInfo { peer }
    }
}

/// Answers requests. Called on a worker thread: it must not block (no blocking I/O beyond
/// opening and stat-ing local files, no sleeping, no locks held for long).
///
/// ```
/// use pollux_server::{Body, ConnInfo, Handler};
/// use http::{Request, Response};
///
/// fn hello(_req: Request<Body>, _conn: &ConnInfo) -> Response<Body> {
///     Response::new(Body::from("Hello World"))
/// }
/// fn assert_handler<H: Handler>(_: H) {}
/// assert_handler(hello);
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Produces the response to one request. The request body has been read completely
    /// (bounded by `--max-body`).
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Response<Body>;
}

impl<F> Handler for F
where
    F: Fn(Request<Body>, &ConnInfo) -> Response<Body> + Send + Sync + 'static,
{
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Response<Body> {
        self(req, conn)
    }
}
