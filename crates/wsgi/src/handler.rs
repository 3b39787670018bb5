//! The [`Handler`]: every request below the mount point becomes a [`WsgiTask`].

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use pollux_server::{Body, ConnInfo, Handler, Reply};

use crate::interp::load;
use crate::job::Request as Job;
use crate::pool::Pool;
use crate::task::WsgiTask;
use crate::{Config, LoadError};

/// A WSGI application served by pollux: loaded once by [`Wsgi::load`], then called for every
/// request from a pool of Python threads.
///
/// ```no_run
/// use pollux_wsgi::{Config, Wsgi};
/// let mut config = Config::new("app:app".parse()?);
/// config.pythonpath.push("examples/wsgi/flask_app".into());
/// let app = Wsgi::load(&config)?;
/// pollux_server::serve(pollux_server::Options::default(), app, |addrs| println!("http://{}", addrs[0]))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Wsgi {
    pool: Arc<Pool>,
    mount: Arc<str>,
    /// Directories served ahead of the app: (URL prefix, handler), longest prefix first.
    statics: Vec<(String, Arc<dyn Handler>)>,
}

impl std::fmt::Debug for Wsgi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefixes: Vec<&str> = self.statics.iter().map(|(p, _)| p.as_str()).collect();
        f.debug_struct("Wsgi").field("mount", &self.mount).field("statics", &prefixes).finish()
    }
}

/// How busy a [`Wsgi`]'s Python threads are, readable from another thread (the metrics).
#[derive(Debug, Clone)]
pub struct WsgiLoad(Arc<Pool>);

impl WsgiLoad {
    /// Requests the application is being called for now, and requests waiting for a thread.
    pub fn now(&self) -> (usize, usize) {
        self.0.load()
    }
}

impl Wsgi {
    /// A handle on the load of the application's threads.
    pub fn busy(&self) -> WsgiLoad {
        WsgiLoad(self.pool.clone())
    }

    /// Starts the interpreter, imports the application and starts its threads. Call it once
    /// per process: Python can be initialised only once.
    pub fn load(config: &Config) -> Result<Wsgi, LoadError> {
        let app = Arc::new(load(config)?);
        let pool = Pool::start(app, config.threads, config.queue)
            .map_err(|e| LoadError::Python(format!("cannot start the Python threads: {e}")))?;
        Ok(Wsgi { pool, mount: config.mount.clone().into(), statics: Vec::new() })
    }

    /// Calls `f` once, after the application answered `n` requests (`--max-requests`: a
    /// supervised process then asks to be replaced).
    pub fn retire_after(&self, n: u64, f: impl Fn() + Send + Sync + 'static) {
        self.pool.retire_after(n, Box::new(f));
    }

    /// Answers requests for `prefix` and below with `handler` (a `pollux_fs::ServeDir`, say)
    /// instead of the app, the prefix taken off the path: `--static /static=DIR` serves
    /// `/static/app.css` from `DIR/app.css`, as nginx's `location /static/ { alias DIR/; }`
    /// does for Django's `collectstatic` output.
    pub fn serve_static(mut self, prefix: &str, handler: impl Handler) -> Self {
        let prefix = format!("/{}", prefix.trim_matches('/'));
        self.statics.push((prefix, Arc::new(handler)));
        self.statics.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        self
    }

    /// The static handler for `path`, with the path it should see.
    fn static_for(&self, path: &str) -> Option<(&Arc<dyn Handler>, String)> {
        self.statics.iter().find_map(|(prefix, h)| {
            let rest = if prefix == "/" { path } else { path.strip_prefix(prefix.as_str())? };
            match rest {
                "" => Some((h, "/".to_owned())),
                r if r.starts_with('/') => Some((h, r.to_owned())),
                _ => None,
            }
        })
    }

    /// Whether `path` lies below the mount point.
    fn mounted(&self, path: &str) -> bool {
        path.strip_prefix(&*self.mount).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

impl Handler for Wsgi {
    fn call(&self, mut req: Request<Body>, conn: &ConnInfo) -> Reply {
        if !self.statics.is_empty() {
            if let Some((handler, path)) = self.static_for(req.uri().path()) {
                let target = match req.uri().query() {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                match target.parse() {
                    Ok(uri) => *req.uri_mut() = uri,
                    Err(_) => return Reply::Now(status(StatusCode::BAD_REQUEST)),
                }
                return handler.call(req, conn);
            }
        }
        if !self.mounted(req.uri().path()) {
            return Reply::Now(status(StatusCode::NOT_FOUND));
        }
        let (parts, body) = req.into_parts();
        // Through a router that does not stream bodies, the server collected it whole.
        let body = match body {
            Body::Bytes(b) if !b.is_empty() => Some(b),
            _ => None,
        };
        let job = Job { parts, peer: conn.peer, local: conn.local_addr(), tls: conn.tls().cloned(), body };
        Reply::Task(Box::new(WsgiTask::new(self.pool.clone(), job)))
    }

    fn streams_body(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> bool {
        match self.static_for(uri.path()) {
            Some((h, _)) => h.streams_body(method, uri, headers),
            None => true,
        }
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let text = format!("{} {}\n", code.as_u16(), code.canonical_reason().unwrap_or(""));
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = code;
    r
}
