//! A built router: the [`pollux_server::Handler`] that dispatches each request.
//!
//! ```text
//!  request ─► matchit (path) ─┬─ methods ─┬─ handler ─────────► layers ─► endpoint (worker)
//!                             │           ├─ blocking ────────► pool: layers ─► endpoint
//!                             │           ├─ OPTIONS ─────────► 204 + Allow
//!                             │           └─ other method ────► 405 + Allow
//!                             ├─ service ─► prefix cut ───────► layers ─► ServeDir, …
//!                             │             (bare mount point ► layers ─► 301 to `prefix/`)
//!                             └─ none ────► nested fallback, fallback, or 404
//! ```

use std::cell::Cell;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use http::header::LOCATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use pollux_server::{Body, ConnInfo, Reply};

use crate::blocking::{busy, Pool, Slot};
use crate::extract::{Cx, Params};
use crate::handler::Endpoint;
use crate::middleware::{run_chain, Middleware};
use crate::response::{IntoResponse, Response};
use crate::route::{allow_response, Selected, Table, Target, REST};

/// Static routes scanned linearly before matchit; more than this and matchit alone is faster.
const STATIC_SCAN_MAX: usize = 16;

/// A router built with its state, ready to serve: pass it to [`crate::serve`] (or
/// `pollux_server::serve`, whose `Handler` it is). Cloning shares it.
///
/// Made by [`crate::Router::into_app`] or [`crate::Router::with_state`].
///
/// ```no_run
/// use pollux_web::{get, Options, Router};
///
/// let app = Router::new().route("/", get(|| "Hello World")).into_app();
/// let opts = Options { addrs: vec!["127.0.0.1:8080".parse().unwrap()], ..Options::default() };
/// pollux_web::serve(opts, app, |addrs| println!("listening on http://{}", addrs[0])).unwrap();
/// ```
///
/// Being a [`pollux_server::Handler`], it can be called directly, without a socket — handy in
/// tests (a route marked [`crate::MethodRouter::blocking`] answers [`pollux_server::Reply::Later`]
/// that way, so test those through a server):
///
/// ```
/// use pollux_web::{get, Router};
/// use pollux_server::{Body, ConnInfo, Handler, Reply};
/// use http::{Request, StatusCode};
///
/// let app = Router::new().route("/", get(|| "Hello World")).into_app();
/// let conn = ConnInfo::new(([127, 0, 0, 1], 4000).into());
/// let Reply::Now(resp) = app.call(Request::get("/").body(Body::Empty).unwrap(), &conn) else {
///     unreachable!("no blocking route")
/// };
/// assert_eq!(resp.status(), StatusCode::OK);
/// assert_eq!(resp.body().as_bytes(), b"Hello World");
/// ```
pub struct App<S = ()> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App { inner: self.inner.clone() }
    }
}

impl<S> std::fmt::Debug for App<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("routes", &self.inner.targets.len()).finish()
    }
}

struct Inner<S> {
    /// Routes without parameters, checked before `matcher` when there are few: an exact match
    /// is what matchit would answer (a static segment wins), for a fraction of its cost.
    statics: Vec<(Box<str>, usize)>,
    matcher: matchit::Router<usize>,
    targets: Vec<Target<S>>,
    fallback: Option<Endpoint<S>>,
    nested_fallbacks: Vec<(String, Endpoint<S>)>,
    layers: Vec<Arc<dyn Middleware>>,
    body_limit: usize,
    state: S,
    /// Started only if some route is blocking.
    pool: Option<Pool>,
}

impl<S: Clone + Send + Sync + 'static> App<S> {
    /// The app for the routes a [`crate::Router`] collected (`Router::with_state`).
    pub(crate) fn build(router: Table<S>, state: S) -> App<S> {
        let mut matcher = matchit::Router::new();
        let mut targets = Vec::with_capacity(router.routes.len());
        let mut statics = Vec::new();
        for (path, target) in router.routes {
            if let Err(e) = matcher.insert(path.as_str(), targets.len()) {
                panic!("pollux-web: route {path:?}: {e}");
            }
            if !path.contains('{') {
                statics.push((path.into_boxed_str(), targets.len()));
            }
            targets.push(target);
        }
        // A linear scan beats matchit's walk only while it is short.
        if statics.len() > STATIC_SCAN_MAX {
            statics.clear();
        }
        let any_blocking = targets.iter().any(|t| matches!(t, Target::Methods(m) if m.blocking));
        let pool =
            any_blocking.then(|| Pool::start(router.pool.threads, router.pool.queue, router.pool.timeout));
        let mut nested_fallbacks = router.nested_fallbacks;
        // Longest prefix first, so the innermost router's fallback wins.
        nested_fallbacks.sort_by_key(|f| std::cmp::Reverse(f.0.len()));
        App {
            inner: Arc::new(Inner {
                statics,
                matcher,
                targets,
                fallback: router.fallback,
                nested_fallbacks,
                layers: router.layers,
                body_limit: router.body_limit,
                state,
                pool,
            }),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> pollux_server::Handler for App<S> {
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Reply {
        let inner = &self.inner;
        let path = req.uri().path();
        let exact = inner.statics.iter().find(|(p, _)| p.len() == path.len() && **p == *path);
        let found = match exact {
            Some(&(_, idx)) => Ok((idx, Params::default())),
            None => inner.matcher.at(path).map(|m| {
                (*m.value, Params { pairs: m.params.iter().map(|(k, v)| (k, offset_in(path, v))).collect() })
            }),
        };
        let (idx, params) = match found {
            Ok(found) => found,
            Err(_) => {
                let ep = inner.unmatched(path);
                return Reply::Now(inner.run(ep, req, conn, Params::default()));
            }
        };
        match &inner.targets[idx] {
            Target::Methods(methods) => match methods.select(req.method()) {
                Selected::Endpoint(ep) if methods.blocking => self.submit(ep.clone(), req, conn),
                Selected::Endpoint(ep) => Reply::Now(inner.run(Some(ep), req, conn, params)),
                Selected::Options(allow) => {
                    let allow = allow.clone();
                    Reply::Now(inner.chain(req, conn, &|_| allow_response(StatusCode::NO_CONTENT, &allow)))
                }
                Selected::NotAllowed(allow) => {
                    let allow = allow.clone();
                    Reply::Now(
                        inner.chain(req, conn, &|_| allow_response(StatusCode::METHOD_NOT_ALLOWED, &allow)),
                    )
                }
            },
            Target::Service { prefix, service, layers } => {
                // `route_service` (no prefix): the service sees the whole path. Otherwise the
                // prefix as this request spelled it (a nested `{param}` in it has a value).
                let rest = params.pairs.iter().find(|(k, _)| *k == REST).map(|(_, r)| r.clone());
                // `nest_service`'s mount point without its slash: `prefix` → `prefix/`.
                let to_slash = !prefix.is_empty() && rest.is_none() && !req.uri().path().ends_with('/');
                let (req, mounted_at) = if prefix.is_empty() || to_slash {
                    (req, String::new())
                } else {
                    let path = req.uri().path();
                    let at = match &rest {
                        Some(r) => path.get(..r.start.saturating_sub(1)).unwrap_or(""),
                        None => path.trim_end_matches('/'),
                    };
                    let at = at.to_owned();
                    (strip_prefix(req, rest), at)
                };
                let later: Cell<Option<Reply>> = Cell::new(None);
                // A prepared reply (ServeDir's cached files) is built out into a `Response`
                // here, so the middleware sees its fields.
                let terminal = |r: Request<Body>| {
                    if to_slash {
                        return redirect_to_slash(&r);
                    }
                    match service.call(r, conn).into_response() {
                        Ok(resp) => with_prefix(resp, &mounted_at),
                        Err(other) => {
                            later.set(Some(other));
                            http::Response::new(Body::Empty)
                        }
                    }
                };
                let inner_chain = |r: Request<Body>| run_chain(layers, r, conn, &terminal);
                let resp = inner.chain(req, conn, &inner_chain);
                match later.take() {
                    // A service that answers later or through a task (a CGI gateway, say)
                    // bypasses what the middleware did to the placeholder.
                    Some(reply) => reply,
                    None => Reply::Now(resp),
                }
            }
        }
    }
}

impl<S: Clone + Send + Sync + 'static> App<S> {
    /// Hands a blocking route's request to the pool; the answer comes back through the
    /// worker's remote.
    fn submit(&self, ep: Endpoint<S>, req: Request<Body>, conn: &ConnInfo) -> Reply {
        let Some(pool) = &self.inner.pool else {
            // `build` starts the pool whenever a route is blocking.
            return Reply::Now(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let (later, responder) = conn.defer();
        let slot = Slot::new(responder);
        let app = self.inner.clone();
        let conn = conn.clone();
        let job_slot = slot.clone();
        let job = Box::new(move || {
            if !job_slot.start() {
                return;
            }
            let path = req.uri().path().to_owned();
            let params = match app.matcher.at(&path) {
                Ok(m) => Params { pairs: m.params.iter().map(|(k, v)| (k, offset_in(&path, v))).collect() },
                Err(_) => Params::default(),
            };
            let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                app.run(Some(&ep), req, &conn, params)
            }))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
            job_slot.answer(resp);
        });
        match pool.submit(job, &slot, Instant::now()) {
            Ok(()) => Reply::Later(later),
            Err(job) => {
                // Drop the promise first: the job's responder then knows nobody waits and
                // sends nothing when it is dropped.
                drop(later);
                drop(job);
                Reply::Now(busy())
            }
        }
    }
}

impl<S> Inner<S> {
    fn unmatched(&self, path: &str) -> Option<&Endpoint<S>> {
        self.nested_fallbacks
            .iter()
            .find(|(p, _)| path.strip_prefix(p.as_str()).is_some_and(|r| r.is_empty() || r.starts_with('/')))
            .map(|(_, ep)| ep)
            .or(self.fallback.as_ref())
    }

    /// Runs `ep` (or the 404) inside the app's layers.
    fn run(
        &self,
        ep: Option<&Endpoint<S>>,
        req: Request<Body>,
        conn: &ConnInfo,
        params: Params<'_>,
    ) -> Response {
        let cx = Cx { state: &self.state, conn, params, body_limit: self.body_limit };
        match ep {
            Some(ep) => self.chain(req, conn, &|r| ep(r, &cx)),
            None => self.chain(req, conn, &|_| StatusCode::NOT_FOUND.into_response()),
        }
    }

    fn chain(
        &self,
        req: Request<Body>,
        conn: &ConnInfo,
        inner: &dyn Fn(Request<Body>) -> Response,
    ) -> Response {
        if self.layers.is_empty() {
            return inner(req);
        }
        run_chain(&self.layers, req, conn, inner)
    }
}

/// Where `part` (a slice of `path`, as matchit returns it) sits in `path`.
fn offset_in(path: &str, part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(path.as_ptr() as usize);
    start..start + part.len()
}

/// The request as a mounted service sees it: `rest` (the part after the prefix) as its path.
fn strip_prefix(req: Request<Body>, rest: Option<Range<usize>>) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path();
    let new_path = match rest.and_then(|r| path.get(r)) {
        Some(rest) => format!("/{rest}"),
        None => "/".to_owned(),
    };
    let pq = match parts.uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    if let Ok(pq) = PathAndQuery::try_from(pq) {
        let mut uri = std::mem::take(&mut parts.uri).into_parts();
        uri.path_and_query = Some(pq);
        parts.uri = Uri::from_parts(uri).unwrap_or_default();
    }
    Request::from_parts(parts, body)
}

/// `301` (`308` for a method a browser would turn into GET) from a mount point to its slash
/// form, query kept. The path is one matchit matched against a mount's pattern, so it starts
/// with `/` and a segment: the location cannot name another host.
fn redirect_to_slash(req: &Request<Body>) -> Response {
    let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let uri = req.uri();
    let loc = match uri.query() {
        Some(q) => format!("{}/?{q}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// A mounted service's redirect (`/dir` → `/dir/`) pointed at its own path; the client
/// needs the prefix back.
fn with_prefix(mut resp: Response, prefix: &str) -> Response {
    if prefix.is_empty() || !resp.status().is_redirection() {
        return resp;
    }
    let loc = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok()).filter(|l| l.starts_with('/'));
    if let Some(v) = loc.and_then(|l| HeaderValue::from_str(&format!("{prefix}{l}")).ok()) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}
