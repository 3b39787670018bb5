//! Extractors for the connection and the application state.

use std::net::SocketAddr;

use http::request::Parts;

use super::{Cx, FromRequestParts, Rejection};

/// The client's address (the TCP peer; no proxy headers are trusted).
///
/// ```
/// use pollux_web::extract::ClientAddr;
/// fn whoami(ClientAddr(addr): ClientAddr) -> String { addr.ip().to_string() }
/// # let _ = whoami;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl<S> FromRequestParts<S> for ClientAddr {
    fn from_request_parts(_parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(ClientAddr(cx.conn.peer))
    }
}

/// The TLS session a request came over, `None` for plain HTTP: its version, cipher, the
/// server name the client asked for, and the verified client certificate's subject (with
/// `--client-ca`), as `pollux_server::TlsInfo`.
///
/// ```
/// use pollux_web::extract::Tls;
/// fn whoami(Tls(tls): Tls) -> String {
///     match tls.and_then(|t| t.client_subject) {
///         Some(subject) => format!("hello, {subject}"),
///         None => "hello, stranger".into(),
///     }
/// }
/// # let _ = whoami;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls(pub Option<pollux_server::TlsInfo>);

impl<S> FromRequestParts<S> for Tls {
    fn from_request_parts(_parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(Tls(cx.conn.tls().cloned()))
    }
}

/// The application state given to [`crate::Router::with_state`], cloned: make it an `Arc`
/// (or a struct of `Arc`s) so the clone is a reference count.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
/// use pollux_web::{Router, get, extract::State};
///
/// struct Counter { hits: AtomicU64 }
/// fn hit(State(c): State<Arc<Counter>>) -> String {
///     (c.hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
/// }
/// let app = Router::new().route("/hit", get(hit)).with_state(Arc::new(Counter { hits: AtomicU64::new(0) }));
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

impl<S: Clone> FromRequestParts<S> for State<S> {
    fn from_request_parts(_parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(State(cx.state.clone()))
    }
}
