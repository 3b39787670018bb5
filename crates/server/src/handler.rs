//! The handler interface: the Rust counterpart of WSGI's `application(environ, start_response)`,
//! plus deferred replies for work that must leave the worker thread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use pollux_reactor::Remote;

use crate::Body;

/// What the server knows about the connection a request came on, and the way to answer it
/// later from another thread ([`ConnInfo::defer`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's slot in its worker; with the worker's remote it addresses a deferred
    /// reply.
    token: usize,
    remote: Option<Remote<Finished>>,
}

impl ConnInfo {
    /// Connection facts for a request from `peer`, outside a running server (tests, tools):
    /// replies deferred through it go nowhere.
    pub fn new(peer: SocketAddr) -> Self {
        ConnInfo { peer, token: 0, remote: None }
    }

    pub(crate) fn for_worker(remote: Remote<Finished>) -> Self {
        ConnInfo { peer: SocketAddr::from(([0, 0, 0, 0], 0)), token: 0, remote: Some(remote) }
    }

    pub(crate) fn set(&mut self, peer: SocketAddr, token: usize) {
        self.peer = peer;
        self.token = token;
    }

    /// Promises the answer for later: return the [`Deferred`] from the handler (as
    /// [`Reply::Later`]) and hand the [`Responder`] to another thread, which sends the
    /// response when it has one. The connection waits for it before it answers (or even
    /// reads) the requests pipelined after this one, so answers stay in order.
    ///
    /// ```
    /// use pollux_server::{Body, ConnInfo, Reply};
    /// use http::{Request, Response};
    ///
    /// fn slow(_req: Request<Body>, conn: &ConnInfo) -> Reply {
    ///     let (later, responder) = conn.defer();
    ///     std::thread::spawn(move || {
    ///         // ... blocking work ...
    ///         responder.send(Response::new(Body::from("done")));
    ///     });
    ///     Reply::Later(later)
    /// }
    /// # let _ = slow;
    /// ```
    pub fn defer(&self) -> (Deferred, Responder) {
        let shared = Arc::new(Shared { cancelled: AtomicBool::new(false), token: self.token });
        let responder = Responder { shared: shared.clone(), remote: self.remote.clone(), sent: false };
        (Deferred { shared }, responder)
    }
}

/// A handler's answer: a response now, or one promised through [`ConnInfo::defer`].
#[derive(Debug)]
pub enum Reply {
    /// The response.
    Now(Response<Body>),
    /// A [`Responder`] on another thread will send the response.
    Later(Deferred),
}

impl From<Response<Body>> for Reply {
    fn from(r: Response<Body>) -> Self {
        Reply::Now(r)
    }
}

/// The connection's half of a deferred reply (see [`ConnInfo::defer`]). Only `defer` makes
/// one, so a handler cannot promise an answer nobody can send.
#[derive(Debug)]
pub struct Deferred {
    pub(crate) shared: Arc<Shared>,
}

/// The sending half of a deferred reply. `Send`: move it to the thread doing the work.
/// Dropped without sending (the work panicked, say), it answers 500 so the client is never
/// left waiting.
#[derive(Debug)]
pub struct Responder {
    shared: Arc<Shared>,
    remote: Option<Remote<Finished>>,
    sent: bool,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// Set by the connection when it no longer waits (closed, timed out, shut down).
    pub(crate) cancelled: AtomicBool,
    pub(crate) token: usize,
}

impl Drop for Deferred {
    fn drop(&mut self) {
        // The connection no longer waits (answered, closed, or recycled).
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }
}

/// A deferred response on its way back to the connection's worker.
#[derive(Debug)]
pub struct Finished {
    pub(crate) shared: Arc<Shared>,
    pub(crate) response: Response<Body>,
}

impl Responder {
    /// Sends the response to the connection's worker, which writes it in its turn.
    pub fn send(mut self, response: Response<Body>) {
        self.sent = true;
        self.deliver(response);
    }

    /// Whether the connection stopped waiting (the client went away, or the server is
    /// shutting down past its grace period): work not yet started can be skipped.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    fn deliver(&self, response: Response<Body>) {
        if let Some(remote) = &self.remote {
            // A failure means the worker is gone; nobody is left to answer.
            let _ = remote.send(Finished { shared: self.shared.clone(), response });
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if !self.sent && !self.is_cancelled() {
            let mut r = Response::new(Body::from("500 Internal Server Error\n"));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            self.deliver(r);
        }
    }
}

/// Answers requests. Called on a worker thread: it must not block (no blocking I/O beyond
/// opening and stat-ing local files, no sleeping, no locks held for long). Work that blocks
/// goes to another thread and answers through [`ConnInfo::defer`].
///
/// Functions and closures taking `(Request<Body>, &ConnInfo)` and returning a
/// `Response<Body>` or a [`Reply`] are handlers.
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
    /// Produces the answer to one request. The request body has been read completely
    /// (bounded by `--max-body`).
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Reply;
}

impl<F, R> Handler for F
where
    F: Fn(Request<Body>, &ConnInfo) -> R + Send + Sync + 'static,
    R: Into<Reply>,
{
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Reply {
        self(req, conn).into()
    }
}
