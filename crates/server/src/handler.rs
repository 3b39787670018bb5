//! The handler interface: the Rust counterpart of WSGI's `application(environ, start_response)`,
//! plus deferred replies for work that must leave the worker thread.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use pollux_reactor::Remote;

use crate::mailbox::{Finished, Message, Shared};
use crate::{Body, PreparedFields, Task};

/// What the server knows about the connection a request came on, and the way to answer it
/// later from another thread ([`ConnInfo::defer`]).
///
/// ```
/// use pollux_server::{Body, ConnInfo};
/// use http::{Request, Response};
///
/// fn whoami(_req: Request<Body>, conn: &ConnInfo) -> Response<Body> {
///     Response::new(Body::from(format!("you are {}\n", conn.peer.ip())))
/// }
/// let resp = whoami(Request::new(Body::Empty), &ConnInfo::new(([192, 0, 2, 7], 50000).into()));
/// assert_eq!(resp.body().as_bytes(), b"you are 192.0.2.7\n");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's slot in its worker; with the worker's remote it addresses a deferred
    /// reply.
    token: usize,
    /// The connection's socket, for [`ConnInfo::local_addr`]; -1 outside a server and in
    /// clones (see there).
    fd: RawFd,
    remote: Option<Remote<Finished>>,
    /// [`ConnInfo::local_addr`]'s answers by connection (slab keys are small and dense): a
    /// keep-alive connection asks the socket once, not once per request. Forgotten when
    /// the connection closes ([`ConnInfo::forget`]).
    local: std::sync::Mutex<Vec<Option<SocketAddr>>>,
    /// The TLS session's facts, for a request that came over HTTPS.
    pub(crate) tls: Option<crate::TlsInfo>,
}

impl Clone for ConnInfo {
    /// A clone may outlive the connection, so it does not keep the socket: its
    /// [`ConnInfo::local_addr`] is `None`.
    fn clone(&self) -> Self {
        ConnInfo {
            peer: self.peer,
            token: self.token,
            fd: -1,
            remote: self.remote.clone(),
            local: Default::default(),
            tls: self.tls.clone(),
        }
    }
}

impl ConnInfo {
    /// Connection facts for a request from `peer`, outside a running server (tests, tools):
    /// replies deferred through it go nowhere.
    ///
    /// ```
    /// use pollux_server::ConnInfo;
    /// let conn = ConnInfo::new("127.0.0.1:50000".parse().unwrap());
    /// assert_eq!(conn.peer.port(), 50000);
    /// ```
    pub fn new(peer: SocketAddr) -> Self {
        ConnInfo { peer, token: 0, fd: -1, remote: None, local: Default::default(), tls: None }
    }

    pub(crate) fn for_worker(remote: Remote<Finished>) -> Self {
        ConnInfo {
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
            token: 0,
            fd: -1,
            remote: Some(remote),
            local: Default::default(),
            tls: None,
        }
    }

    /// The worker's mailbox, for a task's waker.
    pub(crate) fn remote(&self) -> Option<&Remote<Finished>> {
        self.remote.as_ref()
    }

    /// The connection `token` closed: its cached address no longer holds.
    pub(crate) fn forget(&mut self, token: usize) {
        let cached = self.local.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = cached.get_mut(token) {
            *slot = None;
        }
    }

    pub(crate) fn set(&mut self, peer: SocketAddr, token: usize, fd: RawFd) {
        self.peer = peer;
        self.token = token;
        self.fd = fd;
    }

    /// The TLS session the request came over (`None` for plain HTTP): version, cipher, the
    /// server name the client asked for, and the verified client certificate's subject.
    pub fn tls(&self) -> Option<&crate::TlsInfo> {
        self.tls.as_ref()
    }

    /// Marks these connection facts as HTTPS (for tests and tools outside a server).
    pub fn with_tls(mut self, tls: crate::TlsInfo) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Our end of the connection (a CGI script's `SERVER_PORT`). Asked of the socket the
    /// first time a connection's request wants it (one `getsockname`) and remembered while
    /// the connection lasts, so requests that never ask pay nothing and the others pay once. `None` outside
    /// a running server and on clones: only the `ConnInfo` the server lends to
    /// [`Handler::call`] knows its socket, and only during that call.
    ///
    /// ```
    /// use pollux_server::ConnInfo;
    /// assert_eq!(ConnInfo::new("127.0.0.1:50000".parse().unwrap()).local_addr(), None);
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        if self.fd < 0 {
            return None;
        }
        let mut cached = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(addr)) = cached.get(self.token) {
            return Some(*addr);
        }
        // `fd` is set by the worker to the socket of the connection whose request is being
        // handled, right before the handler is called with `&self`; the connection (and so
        // the descriptor) outlives that call, and clones never carry the descriptor.
        let addr = pollux_reactor::sys::local_addr_of_raw(self.fd)?;
        if cached.len() <= self.token {
            cached.resize(self.token + 1, None);
        }
        cached[self.token] = Some(addr);
        Some(addr)
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
        let shared = Shared::new(self.token);
        let responder = Responder { shared: shared.clone(), remote: self.remote.clone(), sent: false };
        (Deferred { shared }, responder)
    }
}

/// A handler's answer: a response now (or one with its fields prepared beforehand), one
/// promised through [`ConnInfo::defer`], or one a worker-local [`Task`] produces.
///
/// A `Response<Body>` converts into `Reply::Now`, so handlers that always answer at once just
/// return the response.
///
/// ```
/// use pollux_server::{Body, ConnInfo, Reply};
/// use http::{Request, Response, StatusCode};
///
/// fn answer(req: Request<Body>, conn: &ConnInfo) -> Reply {
///     if req.uri().path() != "/slow" {
///         return Response::new(Body::from("fast\n")).into(); // Reply::Now
///     }
///     let (later, responder) = conn.defer();
///     std::thread::spawn(move || responder.send(Response::new(Body::from("slow\n"))));
///     Reply::Later(later)
/// }
///
/// let conn = ConnInfo::new(([127, 0, 0, 1], 4000).into());
/// match answer(Request::get("/").body(Body::Empty).unwrap(), &conn) {
///     Reply::Now(resp) => assert_eq!(resp.status(), StatusCode::OK),
///     _ => unreachable!("`/` is answered at once"),
/// }
/// assert!(matches!(answer(Request::get("/slow").body(Body::Empty).unwrap(), &conn), Reply::Later(_)));
/// ```
#[non_exhaustive]
pub enum Reply {
    /// The response.
    Now(Response<Body>),
    /// A [`Responder`] on another thread will send the response.
    Later(Deferred),
    /// A [`Task`] on this worker produces the response, reading the request body as it
    /// arrives when [`Handler::streams_body`] said so.
    Task(Box<dyn Task>),
    /// The response, its fields prepared once for many answers (a cache's; see
    /// [`PreparedFields`]). The server copies them into the head as they are.
    Prepared {
        /// The status code.
        status: StatusCode,
        /// The fields, without framing (the server writes `Content-Length` from `body`).
        fields: PreparedFields,
        /// The body.
        body: Body,
    },
}

impl Reply {
    /// The response, if this reply is one now: `Now`'s, or a `Prepared` one built out into a
    /// `Response`. A reply still to come (`Later`, `Task`) is given back.
    ///
    /// ```
    /// use pollux_server::{Body, Reply};
    /// use http::Response;
    ///
    /// let reply = Reply::from(Response::new(Body::from("now")));
    /// assert_eq!(reply.into_response().map(|r| r.into_body().as_bytes().to_vec()).ok(), Some(b"now".to_vec()));
    /// ```
    // The error is the reply itself, given back whole: boxing it would allocate for nothing.
    #[allow(clippy::result_large_err)]
    pub fn into_response(self) -> Result<Response<Body>, Reply> {
        match self {
            Reply::Now(r) => Ok(r),
            Reply::Prepared { status, fields, body } => Ok(fields.to_response(status, body)),
            other => Err(other),
        }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Now(r) => f.debug_tuple("Now").field(r).finish(),
            Reply::Later(d) => f.debug_tuple("Later").field(d).finish(),
            Reply::Task(_) => f.write_str("Task"),
            Reply::Prepared { status, fields, body } => f
                .debug_struct("Prepared")
                .field("status", status)
                .field("fields", fields)
                .field("body", body)
                .finish(),
        }
    }
}

impl From<Response<Body>> for Reply {
    fn from(r: Response<Body>) -> Self {
        Reply::Now(r)
    }
}

/// The connection's half of a deferred reply (see [`ConnInfo::defer`]). Only `defer` makes
/// one, so a handler cannot promise an answer nobody can send. Return it as [`Reply::Later`];
/// dropping it tells the [`Responder`] nobody waits any more.
///
/// ```
/// use pollux_server::{ConnInfo, Reply};
///
/// let conn = ConnInfo::new(([127, 0, 0, 1], 4000).into());
/// let (later, responder) = conn.defer();
/// let reply = Reply::Later(later); // what the handler returns
/// assert!(!responder.is_cancelled());
/// drop(reply); // the connection went away before the answer
/// assert!(responder.is_cancelled());
/// ```
#[derive(Debug)]
pub struct Deferred {
    pub(crate) shared: Arc<Shared>,
}

/// The sending half of a deferred reply. `Send`: move it to the thread doing the work.
/// Dropped without sending (the work panicked, say), it answers 500 so the client is never
/// left waiting.
///
/// ```
/// use std::sync::mpsc;
/// use pollux_server::{Body, ConnInfo, Reply, Responder};
/// use http::{Request, Response};
///
/// // One thread doing the blocking work for every request that needs it.
/// let (jobs, queue) = mpsc::channel::<(String, Responder)>();
/// let worker = std::thread::spawn(move || {
///     for (path, responder) in queue {
///         if responder.is_cancelled() {
///             continue; // the client is gone: skip the work
///         }
///         // ... blocking work for `path` ...
///         responder.send(Response::new(Body::from(format!("report for {path}\n"))));
///     }
/// });
///
/// let handler = move |req: Request<Body>, conn: &ConnInfo| -> Reply {
///     let (later, responder) = conn.defer();
///     match jobs.send((req.uri().path().to_owned(), responder)) {
///         Ok(()) => Reply::Later(later),
///         Err(mpsc::SendError((_, responder))) => {
///             // The worker is gone: answer now. Drop the promise first, so the unsent
///             // responder knows nobody waits and sends no 500.
///             drop(later);
///             drop(responder);
///             Reply::Now(Response::new(Body::from("unavailable\n")))
///         }
///     }
/// };
/// let conn = ConnInfo::new(([127, 0, 0, 1], 4000).into());
/// let reply = handler(Request::get("/q3").body(Body::Empty).unwrap(), &conn);
/// assert!(matches!(reply, Reply::Later(_)));
/// drop(handler); // closes the queue, so the worker ends
/// worker.join().unwrap();
/// ```
#[derive(Debug)]
pub struct Responder {
    shared: Arc<Shared>,
    remote: Option<Remote<Finished>>,
    sent: bool,
}

impl Drop for Deferred {
    fn drop(&mut self) {
        // The connection no longer waits (answered, closed, or recycled).
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }
}

impl Responder {
    /// Sends the response to the connection's worker, which writes it in its turn. If the
    /// connection no longer waits, the response is dropped.
    ///
    /// ```
    /// use pollux_server::{Body, ConnInfo};
    /// use http::Response;
    ///
    /// let (later, responder) = ConnInfo::new(([127, 0, 0, 1], 4000).into()).defer();
    /// std::thread::spawn(move || responder.send(Response::new(Body::from("done\n"))))
    ///     .join()
    ///     .unwrap();
    /// # drop(later);
    /// ```
    pub fn send(mut self, response: Response<Body>) {
        self.sent = true;
        self.deliver(response);
    }

    /// Whether the connection stopped waiting (the client went away, or the server is
    /// shutting down past its grace period): work not yet started can be skipped.
    ///
    /// ```
    /// use pollux_server::ConnInfo;
    /// let (later, responder) = ConnInfo::new(([127, 0, 0, 1], 4000).into()).defer();
    /// assert!(!responder.is_cancelled());
    /// drop(later); // what the connection does when it stops waiting
    /// assert!(responder.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    fn deliver(&self, response: Response<Body>) {
        if let Some(remote) = &self.remote {
            // A failure means the worker is gone; nobody is left to answer.
            let _ = remote.send(Finished { shared: self.shared.clone(), what: Message::Response(response) });
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
    ///
    /// ```
    /// use pollux_server::{Body, ConnInfo, Handler, Reply};
    /// use http::{Request, Response};
    ///
    /// let hello = |_req: Request<Body>, _conn: &ConnInfo| Response::new(Body::from("Hello World"));
    /// let conn = ConnInfo::new(([127, 0, 0, 1], 4000).into());
    /// let Reply::Now(resp) = hello.call(Request::new(Body::Empty), &conn) else { unreachable!() };
    /// assert_eq!(resp.body().as_bytes(), b"Hello World");
    /// ```
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Reply;

    /// Whether this request's body should reach the handler as it arrives instead of whole:
    /// then `call` runs as soon as the head is in, with an empty body, and a [`Reply::Task`]
    /// reads the body from its [`crate::TaskCx`] (a CGI script's stdin is fed this way, and a
    /// 100 MiB upload never sits in memory). Any other reply discards the body. Asked only
    /// for requests that have a body.
    fn streams_body(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> bool {
        let _ = (method, uri, headers);
        false
    }
}

impl<F, R> Handler for F
where
    F: Fn(Request<Body>, &ConnInfo) -> R + Send + Sync + 'static,
    R: Into<Reply>,
{
    // Inlined into the connection's loop, the request and the response are built in place
    // instead of copied through this call (two `memcpy`s of ~250 bytes per request otherwise).
    #[inline(always)]
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Reply {
        self(req, conn).into()
    }
}

/// What a handler may know of a connection's TLS session (from [`crate::ConnInfo::tls`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3` (the names nginx's `$ssl_protocol` and Apache's `SSL_PROTOCOL`
    /// use).
    pub version: &'static str,
    /// The cipher suite's OpenSSL name, as nginx's `$ssl_cipher` and Apache's `SSL_CIPHER`
    /// give it: `TLS_AES_128_GCM_SHA256`, `ECDHE-ECDSA-AES128-GCM-SHA256`.
    pub cipher: &'static str,
    /// The server name the client asked for (SNI), if it sent one.
    pub server_name: Option<Arc<str>>,
    /// The verified client certificate's subject (RFC 4514, most specific first: `CN=alice,O=Example`),
    /// when client certificates are required.
    pub client_subject: Option<Arc<str>>,
}
