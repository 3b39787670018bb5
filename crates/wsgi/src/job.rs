//! A request on its way to a Python thread: what the worker hands over ([`Request`]) and the
//! [`Exchange`] it and the thread talk through, queued together as a [`Job`]. Its own module so
//! the queue (`pool`), the app's run (`run`) and the environ builder (`environ`) all use it and
//! none of them the others' internals.

use std::net::SocketAddr;
use std::sync::Arc;

use http::request::Parts;

use crate::exchange::Exchange;

/// What the app's thread needs of a request.
pub(crate) struct Request {
    pub(crate) parts: Parts,
    pub(crate) peer: SocketAddr,
    pub(crate) local: Option<SocketAddr>,
    /// The TLS session the request came over (`wsgi.url_scheme` https, `HTTPS`, `SSL_*`).
    pub(crate) tls: Option<pollux_server::TlsInfo>,
    /// The body, when it came whole with the request rather than streamed.
    pub(crate) body: Option<bytes::Bytes>,
}

pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) exchange: Arc<Exchange>,
}
