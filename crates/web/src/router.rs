//! Routes: path patterns (`matchit`) to per-method handlers, nested routers, mounted services
//! and a fallback.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::handler::{erase, Endpoint, Handler};
use crate::middleware::Middleware;
use crate::route::{wrap, MethodRouter, PoolConfig, Table, Target, REST};

/// Bodies larger than this are refused (413) by the body extractors unless
/// [`Router::body_limit`] says otherwise; axum's default too.
///
/// ```
/// assert_eq!(pollux_web::DEFAULT_BODY_LIMIT, 2 * 1024 * 1024); // 2 MiB
/// ```
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The routing table: path patterns to handlers, and what to do when nothing matches.
///
/// Patterns are `matchit`'s: `/users/{id}` matches one segment, `/files/{*path}` the rest of
/// the path; a static segment wins over a parameter. An unmatched path is 404 (or the
/// fallback), a matched path with another method 405 with `Allow`.
///
/// `S` is the application state that [`crate::extract::State`] extracts; give it with
/// [`Router::with_state`].
///
/// ```
/// use pollux_web::{Router, get, post};
/// use pollux_web::extract::Path;
///
/// let api = Router::new()
///     .route("/items", get(|| "all items").post(|body: String| body))
///     .route("/items/{id}", get(|Path(id): Path<u32>| format!("item {id}")));
/// let app = Router::new()
///     .route("/", get(|| "Hello World"))
///     .nest("/api", api)
///     .fallback(|| (http::StatusCode::NOT_FOUND, "nothing here\n"))
///     .into_app();
/// # let _ = app;
/// ```
pub struct Router<S = ()> {
    pub(crate) routes: Vec<(String, Target<S>)>,
    pub(crate) fallback: Option<Endpoint<S>>,
    /// Fallbacks of nested routers, by prefix (the longest matching prefix wins).
    pub(crate) nested_fallbacks: Vec<(String, Endpoint<S>)>,
    pub(crate) layers: Vec<Arc<dyn Middleware>>,
    pub(crate) body_limit: usize,
    pub(crate) pool: PoolConfig,
}

impl<S> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&str> = self.routes.iter().map(|(p, _)| p.as_str()).collect();
        f.debug_struct("Router").field("routes", &paths).field("layers", &self.layers.len()).finish()
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Router<S> {
    fn default() -> Self {
        Router::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    /// An empty router: every path 404.
    ///
    /// ```
    /// use pollux_web::Router;
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// let app = Router::new().into_app();
    /// assert_eq!(send(&app, "GET", "/").status(), 404);
    /// ```
    pub fn new() -> Self {
        Router {
            routes: Vec::new(),
            fallback: None,
            nested_fallbacks: Vec::new(),
            layers: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            pool: PoolConfig { threads: default_threads(), queue: 256, timeout: None },
        }
    }

    /// Routes `path` to `methods`. Routing the same path twice merges the methods.
    ///
    /// ```
    /// use pollux_web::{get, post, Router};
    /// use pollux_web::extract::Path;
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// let app = Router::new()
    ///     .route("/items", get(|| "all items"))
    ///     .route("/items", post(|| "created")) // merged with the GET above
    ///     .route("/items/{id}", get(|Path(id): Path<u32>| format!("item {id}")))
    ///     .route("/files/{*path}", get(|Path(p): Path<String>| p))
    ///     .into_app();
    /// assert_eq!(send(&app, "POST", "/items").status(), 200);
    /// assert_eq!(send(&app, "GET", "/items/7").body().as_bytes(), b"item 7");
    /// assert_eq!(send(&app, "GET", "/items/seven").status(), 400); // not a u32
    /// assert_eq!(send(&app, "GET", "/files/css/site.css").body().as_bytes(), b"css/site.css");
    /// ```
    ///
    /// # Panics
    /// When [`Router::with_state`] (or [`Router::into_app`]) builds the table, on a pattern
    /// `matchit` refuses or two patterns that conflict: a programming error found at start-up,
    /// never per request.
    ///
    /// ```should_panic
    /// use pollux_web::{get, Router};
    /// let app = Router::new()
    ///     .route("/users/{id}", get(|| "by id"))
    ///     .route("/users/{name}", get(|| "by name")) // conflicts with the route above
    ///     .into_app(); // panics here
    /// # let _ = app;
    /// ```
    pub fn route(mut self, path: &str, methods: MethodRouter<S>) -> Self {
        if let Some((_, Target::Methods(existing))) = self.routes.iter_mut().find(|(p, _)| p == path) {
            for (m, ep) in methods.methods {
                existing.methods.retain(|(k, _)| *k != m);
                existing.methods.push((m, ep));
            }
            existing.any = methods.any.or(existing.any.take());
            existing.blocking |= methods.blocking;
            existing.allow = existing.allow_value();
            return self;
        }
        self.routes.push((path.to_owned(), Target::Methods(methods)));
        self
    }

    /// Mounts a server handler — [`pollux_fs::ServeDir`], say — at `prefix`: it answers
    /// everything below `prefix/`, seeing the path with `prefix` cut off (`/static/a.css`
    /// reaches it as `/a.css`, `/static/` as `/`). Redirects it makes are given the prefix back.
    ///
    /// `prefix` itself, without the slash, is redirected to `prefix/` (`301`, or `308` for
    /// methods other than GET and HEAD so a body is sent again), query kept — what a mounted
    /// directory answers for any of its subdirectories, and what nginx answers for a prefix
    /// location. A mount is a tree: the page at its root can only use relative links
    /// (`style.css`) if the browser is at `prefix/`.
    ///
    /// ```
    /// use pollux_web::{Router, get};
    /// use pollux_fs::ServeDir;
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    /// # let assets = std::env::temp_dir().join(format!("pollux-doc-nest-service-{}", std::process::id()));
    /// # std::fs::create_dir_all(&assets).unwrap();
    /// # std::fs::write(assets.join("index.html"), "<link rel=stylesheet href=site.css>").unwrap();
    /// # std::fs::write(assets.join("site.css"), "body{}").unwrap();
    /// let app = Router::new()
    ///     .route("/", get(|| "home"))
    ///     .nest_service("/static", ServeDir::new(&assets).expect("the directory exists"))
    ///     .into_app();
    ///
    /// assert_eq!(send(&app, "GET", "/static/site.css").body().as_bytes(), b"body{}");
    /// assert_eq!(send(&app, "GET", "/static/").status(), 200); // index.html
    /// let bare = send(&app, "GET", "/static?v=2");
    /// assert_eq!(bare.status(), 301);
    /// assert_eq!(bare.headers()["location"], "/static/?v=2");
    /// # std::fs::remove_dir_all(&assets).unwrap();
    /// ```
    pub fn nest_service(mut self, prefix: &str, service: impl pollux_server::Handler) -> Self {
        let prefix = prefix.trim_end_matches('/').to_owned();
        let service: Arc<dyn pollux_server::Handler> = Arc::new(service);
        let target =
            || Target::Service { prefix: prefix.clone(), service: service.clone(), layers: Vec::new() };
        // matchit's catch-all needs at least one character, so `prefix/` is a route of its
        // own; `prefix` (the redirect, see `App::call`) too unless the mount is at the root.
        if !prefix.is_empty() {
            self.routes.push((prefix.clone(), target()));
        }
        self.routes.push((format!("{prefix}/"), target()));
        self.routes.push((format!("{prefix}/{{*{REST}}}"), target()));
        self
    }

    /// Routes exactly `path` to a server handler such as [`pollux_fs::ServeFile`] (which then
    /// sees the whole path).
    ///
    /// ```
    /// use pollux_web::{get, Router};
    /// use pollux_fs::ServeFile;
    /// use pollux_server::{Body, ConnInfo};
    /// use http::{Request, Response};
    /// # use pollux_server::{Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// # let dir = std::env::temp_dir().join(format!("pollux-doc-route-service-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # std::fs::write(dir.join("robots.txt"), "User-agent: *\nDisallow:\n").unwrap();
    /// let robots = ServeFile::new(dir.join("robots.txt")).expect("the directory exists");
    /// // Any `pollux_server::Handler` will do, a plain function too.
    /// fn health(_req: Request<Body>, _conn: &ConnInfo) -> Response<Body> {
    ///     Response::new(Body::from("ok"))
    /// }
    /// let app = Router::new()
    ///     .route("/", get(|| "home"))
    ///     .route_service("/robots.txt", robots)
    ///     .route_service("/healthz", health)
    ///     .into_app();
    /// assert_eq!(send(&app, "GET", "/robots.txt").status(), 200);
    /// assert_eq!(send(&app, "GET", "/healthz").body().as_bytes(), b"ok");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn route_service(mut self, path: &str, service: impl pollux_server::Handler) -> Self {
        let service: Arc<dyn pollux_server::Handler> = Arc::new(service);
        self.routes
            .push((path.to_owned(), Target::Service { prefix: String::new(), service, layers: Vec::new() }));
        self
    }

    /// Adds `router`'s routes under `prefix` (`/api` + `/items` = `/api/items`). Its layers
    /// wrap its own routes only; its fallback answers unmatched paths below `prefix`.
    ///
    /// ```
    /// use pollux_web::{get, Router};
    /// use http::StatusCode;
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// let api = Router::new()
    ///     .route("/items", get(|| "[]"))
    ///     .fallback(|| (StatusCode::NOT_FOUND, "no such API\n"));
    /// let app = Router::new().route("/", get(|| "home")).nest("/api", api).into_app();
    ///
    /// assert_eq!(send(&app, "GET", "/api/items").body().as_bytes(), b"[]");
    /// let missing = send(&app, "GET", "/api/nope");
    /// assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    /// assert_eq!(missing.body().as_bytes(), b"no such API\n"); // the nested fallback
    /// ```
    pub fn nest(mut self, prefix: &str, router: Router<S>) -> Self {
        let prefix = prefix.trim_end_matches('/');
        let Router { routes, fallback, nested_fallbacks, layers, .. } = router;
        for (path, mut target) in routes {
            for mw in &layers {
                target = apply_layer(target, mw.clone());
            }
            let full = if path == "/" { prefix.to_owned() } else { format!("{prefix}{path}") };
            let full = if full.is_empty() { "/".to_owned() } else { full };
            if let Target::Service { prefix: p, .. } = &mut target {
                if !p.is_empty() {
                    *p = format!("{prefix}{p}");
                }
            }
            self = match target {
                Target::Methods(m) => self.route(&full, m),
                t => {
                    self.routes.push((full, t));
                    self
                }
            };
        }
        for (p, mut ep) in nested_fallbacks.into_iter().chain(fallback.map(|f| (String::new(), f))) {
            for mw in &layers {
                ep = wrap(ep, mw.clone());
            }
            self.nested_fallbacks.push((format!("{prefix}{p}"), ep));
        }
        self
    }

    /// Answers requests whose path matches no route (instead of the plain 404). It is a
    /// handler like any other: it may take extractors.
    ///
    /// ```
    /// use pollux_web::{get, Router};
    /// use http::{StatusCode, Uri};
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// let app = Router::new()
    ///     .route("/", get(|| "home"))
    ///     .fallback(|uri: Uri| (StatusCode::NOT_FOUND, format!("no page at {}\n", uri.path())))
    ///     .into_app();
    /// let resp = send(&app, "GET", "/nowhere");
    /// assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    /// assert_eq!(resp.body().as_bytes(), b"no page at /nowhere\n");
    /// ```
    pub fn fallback<H: Handler<T, S>, T>(mut self, handler: H) -> Self {
        self.fallback = Some(erase(handler));
        self
    }

    /// Wraps everything this router answers — routes, mounted services, 404s and 405s — in
    /// `middleware`. The last layer added runs first (it is the outermost).
    ///
    /// ```
    /// use pollux_web::{get, middleware::from_fn, Router};
    /// use pollux_web::response::IntoResponse;
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// // Each layer appends its name to the request's `x-trail`; the handler echoes it.
    /// fn mark(name: &'static str) -> impl pollux_web::middleware::Middleware {
    ///     from_fn(move |mut req, next| {
    ///         let trail = req.headers().get("x-trail").and_then(|v| v.to_str().ok()).unwrap_or("");
    ///         let trail = HeaderValue::from_str(&format!("{trail}{name} ")).unwrap();
    ///         req.headers_mut().insert("x-trail", trail);
    ///         next.run(req)
    ///     })
    /// }
    /// let app = Router::new()
    ///     .route("/", get(|h: HeaderMap| h["x-trail"].to_str().unwrap().to_owned()))
    ///     .layer(mark("inner"))
    ///     .layer(mark("outer")) // added last: runs first
    ///     .into_app();
    /// assert_eq!(send(&app, "GET", "/").body().as_bytes(), b"outer inner ");
    ///
    /// // Layers see 404s too.
    /// let teapot = from_fn(|req, next| {
    ///     let resp = next.run(req);
    ///     if resp.status() == StatusCode::NOT_FOUND { StatusCode::IM_A_TEAPOT.into_response() } else { resp }
    /// });
    /// let app = Router::new().route("/", get(|| "home")).layer(teapot).into_app();
    /// assert_eq!(send(&app, "GET", "/missing").status(), StatusCode::IM_A_TEAPOT);
    /// ```
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.layers.push(Arc::new(middleware));
        self
    }

    /// The largest body the body extractors accept (default 2 MiB); larger is 413. The server's
    /// own `max_body` limit applies first.
    ///
    /// ```
    /// use pollux_web::{post, Router};
    /// use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    ///
    /// let app = Router::new()
    ///     .route("/notes", post(|note: String| format!("{} bytes", note.len())))
    ///     .body_limit(16)
    ///     .into_app();
    /// let req = http::Request::post("/notes").body(Body::from("far more than sixteen bytes")).unwrap();
    /// let Reply::Now(resp) = app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) else {
    ///     unreachable!("not a blocking route")
    /// };
    /// assert_eq!(resp.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    /// ```
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Size of the blocking pool: `threads` threads (default: 4 per core, at least 8) and room
    /// for `queue` waiting requests (default 256); beyond that, blocking routes answer 503.
    /// The pool is started only if some route is [`MethodRouter::blocking`].
    ///
    /// ```
    /// use pollux_web::{get, Router};
    /// fn export() -> String { std::fs::read_to_string("/etc/hostname").unwrap_or_default() }
    /// let app = Router::new()
    ///     .route("/export", get(export).blocking())
    ///     .blocking_pool(4, 32) // 4 threads, 32 waiting requests, then 503
    ///     .into_app();
    /// # let _ = app;
    /// ```
    pub fn blocking_pool(mut self, threads: usize, queue: usize) -> Self {
        self.pool.threads = threads.max(1);
        self.pool.queue = queue;
        self
    }

    /// Time limit for blocking routes, from the request's arrival: a request still queued when
    /// it runs out is answered `503` with `Retry-After` (its handler never runs); one whose
    /// handler is still running gets `504 Gateway Timeout` (the handler's late answer is
    /// dropped). Handlers on the worker thread cannot overrun — they must not block.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pollux_web::{get, Router};
    /// fn report() -> &'static str { std::thread::sleep(Duration::from_millis(20)); "report" }
    /// let app = Router::new()
    ///     .route("/report", get(report).blocking())
    ///     .timeout(Duration::from_secs(10)) // 503 if still queued, 504 if still running
    ///     .into_app();
    /// # let _ = app;
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.pool.timeout = Some(limit);
        self
    }

    /// Builds the app with `state` for [`crate::extract::State`]; serve it with
    /// [`crate::serve`] or `pollux_server::serve`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use pollux_web::{get, Router, extract::State};
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// struct Config { site: String }
    /// let app = Router::new()
    ///     .route("/", get(|State(c): State<Arc<Config>>| format!("welcome to {}", c.site)))
    ///     .with_state(Arc::new(Config { site: "pollux".into() }));
    /// assert_eq!(send(&app, "GET", "/").body().as_bytes(), b"welcome to pollux");
    /// ```
    pub fn with_state(self, state: S) -> App<S> {
        App::build(self.into_table(), state)
    }

    /// The parts the app is built from.
    fn into_table(self) -> Table<S> {
        let Router { routes, fallback, nested_fallbacks, layers, body_limit, pool } = self;
        Table { routes, fallback, nested_fallbacks, layers, body_limit, pool }
    }
}

impl Router<()> {
    /// Builds an app without state (the same as `.with_state(())`).
    ///
    /// ```
    /// use pollux_web::{get, Router};
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// let app = Router::new().route("/", get(|| "Hello World")).into_app();
    /// assert_eq!(send(&app, "GET", "/").body().as_bytes(), b"Hello World");
    /// ```
    pub fn into_app(self) -> App<()> {
        App::build(self.into_table(), ())
    }
}

fn apply_layer<S: 'static>(target: Target<S>, mw: Arc<dyn Middleware>) -> Target<S> {
    match target {
        Target::Methods(mut m) => {
            for (_, ep) in &mut m.methods {
                *ep = wrap(ep.clone(), mw.clone());
            }
            if let Some(ep) = &mut m.any {
                *ep = wrap(ep.clone(), mw.clone());
            }
            Target::Methods(m)
        }
        Target::Service { prefix, service, mut layers } => {
            // Later layers are outer ones (`run_chain` runs the last first).
            layers.push(mw);
            Target::Service { prefix, service, layers }
        }
    }
}

fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 4).max(8)
}
