//! What a route leads to, shared by the builder ([`crate::Router`]) and the built table
//! ([`crate::App`]): the handlers of one path by method ([`MethodRouter`], made by [`get`],
//! [`post`], …), a mounted server handler, and the [`Table`] a router hands to `App::build`.
//!
//! ```text
//!  get(h).post(h2) ─► MethodRouter ─┐
//!  nest_service(prefix, ServeDir) ──┴► Target ─► Router (collects) ─► Table ─► App (dispatches)
//! ```

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderValue, ALLOW};
use http::{Method, Request, StatusCode};
use pollux_server::Body;

use crate::extract::Cx;
use crate::handler::{erase, Endpoint, Handler};
use crate::middleware::{run_chain, Middleware};
use crate::response::{IntoResponse, Response};

/// The handlers of one path, by method. Made by [`get`], [`post`], … and chained:
/// `get(list).post(create)`.
///
/// HEAD is answered by the GET handler (the server drops the body); OPTIONS is answered with
/// `204` and `Allow` unless a handler is given for it; other methods get `405` and `Allow`.
///
/// ```
/// use pollux_web::{get, Router};
/// use http::{header::ALLOW, StatusCode};
/// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
/// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
/// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
/// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
/// #         Reply::Now(resp) => resp,
/// #         _ => unreachable!("no blocking route here"),
/// #     }
/// # }
///
/// let items = get(|| "all items").post(|body: String| format!("created {body}"));
/// let app = Router::new().route("/items", items).into_app();
///
/// assert_eq!(send(&app, "GET", "/items").status(), StatusCode::OK);
/// assert_eq!(send(&app, "HEAD", "/items").status(), StatusCode::OK); // the GET handler
/// let opts = send(&app, "OPTIONS", "/items");
/// assert_eq!(opts.status(), StatusCode::NO_CONTENT);
/// assert_eq!(opts.headers()[ALLOW], "GET, POST, HEAD, OPTIONS");
/// let del = send(&app, "DELETE", "/items");
/// assert_eq!(del.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(del.headers()[ALLOW], "GET, POST, HEAD, OPTIONS");
/// ```
pub struct MethodRouter<S = ()> {
    pub(crate) methods: Vec<(Method, Endpoint<S>)>,
    pub(crate) any: Option<Endpoint<S>>,
    pub(crate) blocking: bool,
    pub(crate) allow: HeaderValue,
}

impl<S> Clone for MethodRouter<S> {
    fn clone(&self) -> Self {
        MethodRouter {
            methods: self.methods.clone(),
            any: self.any.clone(),
            blocking: self.blocking,
            allow: self.allow.clone(),
        }
    }
}

impl<S> std::fmt::Debug for MethodRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.methods.iter().map(|(m, _)| m.as_str()).collect();
        f.debug_struct("MethodRouter").field("methods", &names).field("blocking", &self.blocking).finish()
    }
}

macro_rules! method_fns {
    ($($name:ident $chain:ident $method:ident),*) => {
        $(
            #[doc = concat!("Routes ", stringify!($method), " requests to `handler`.")]
            #[doc = ""]
            #[doc = "```"]
            #[doc = concat!("use pollux_web::{", stringify!($name), ", Router};")]
            #[doc = "# use pollux_server::{Body, ConnInfo, Handler as _, Reply};"]
            #[doc = "# fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {"]
            #[doc = "#     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();"]
            #[doc = "#     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {"]
            #[doc = "#         Reply::Now(resp) => resp,"]
            #[doc = "#         _ => unreachable!(\"no blocking route here\"),"]
            #[doc = "#     }"]
            #[doc = "# }"]
            #[doc = ""]
            #[doc = concat!("let app = Router::new().route(\"/items\", ", stringify!($name), "(|| \"ok\")).into_app();")]
            #[doc = concat!("assert_eq!(send(&app, \"", stringify!($method), "\", \"/items\").status(), 200);")]
            #[doc = "assert_eq!(send(&app, \"PURGE\", \"/items\").status(), 405); // no handler for it"]
            #[doc = "```"]
            pub fn $name<H: Handler<T, S>, T, S: 'static>(handler: H) -> MethodRouter<S> {
                MethodRouter::new().on(Method::$method, handler)
            }
        )*
        impl<S: 'static> MethodRouter<S> {
            $(
                #[doc = concat!("Also routes ", stringify!($method), " requests to `handler`.")]
                #[doc = ""]
                #[doc = "```"]
                #[doc = "use pollux_web::{MethodRouter, Router};"]
                #[doc = "# use pollux_server::{Body, ConnInfo, Handler as _, Reply};"]
                #[doc = "# fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {"]
                #[doc = "#     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();"]
                #[doc = "#     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {"]
                #[doc = "#         Reply::Now(resp) => resp,"]
                #[doc = "#         _ => unreachable!(\"no blocking route here\"),"]
                #[doc = "#     }"]
                #[doc = "# }"]
                #[doc = ""]
                #[doc = concat!("let methods = MethodRouter::new().", stringify!($chain), "(|| \"ok\");")]
                #[doc = "let app = Router::new().route(\"/items\", methods).into_app();"]
                #[doc = concat!("assert_eq!(send(&app, \"", stringify!($method), "\", \"/items\").status(), 200);")]
                #[doc = "```"]
                pub fn $chain<H: Handler<T, S>, T>(self, handler: H) -> Self {
                    self.on(Method::$method, handler)
                }
            )*
        }
    };
}

method_fns!(get get GET, post post POST, put put PUT, delete delete DELETE, patch patch PATCH,
    options options OPTIONS, trace trace TRACE);

/// Routes every method to `handler` (no 405 on this path).
///
/// ```
/// use pollux_web::{any, Router};
/// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
/// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
/// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
/// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
/// #         Reply::Now(resp) => resp,
/// #         _ => unreachable!("no blocking route here"),
/// #     }
/// # }
///
/// let app = Router::new().route("/echo", any(|m: http::Method| m.to_string())).into_app();
/// let resp = send(&app, "DELETE", "/echo");
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.body().as_bytes(), b"DELETE");
/// ```
pub fn any<H: Handler<T, S>, T, S: 'static>(handler: H) -> MethodRouter<S> {
    let mut m = MethodRouter::new();
    m.any = Some(erase(handler));
    m
}

/// Routes requests with `method` (any method, extensions included) to `handler`.
///
/// ```
/// use pollux_web::{on, Router};
/// use http::Method;
/// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
/// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
/// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
/// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
/// #         Reply::Now(resp) => resp,
/// #         _ => unreachable!("no blocking route here"),
/// #     }
/// # }
///
/// let purge = Method::from_bytes(b"PURGE").unwrap();
/// let app = Router::new().route("/cache", on(purge, || "purged")).into_app();
/// assert_eq!(send(&app, "PURGE", "/cache").status(), 200);
/// assert_eq!(send(&app, "GET", "/cache").status(), 405);
/// ```
pub fn on<H: Handler<T, S>, T, S: 'static>(method: Method, handler: H) -> MethodRouter<S> {
    MethodRouter::new().on(method, handler)
}

impl<S: 'static> Default for MethodRouter<S> {
    fn default() -> Self {
        MethodRouter::new()
    }
}

impl<S: 'static> MethodRouter<S> {
    /// No methods yet: every method but OPTIONS gets 405 until one is added.
    ///
    /// ```
    /// use pollux_web::MethodRouter;
    /// let methods: MethodRouter = MethodRouter::new().get(|| "page").post(|| "saved");
    /// # let _ = methods;
    /// ```
    pub fn new() -> Self {
        MethodRouter { methods: Vec::new(), any: None, blocking: false, allow: HeaderValue::from_static("") }
    }

    /// Routes `method` to `handler` (replacing an earlier handler for it).
    ///
    /// ```
    /// use pollux_web::{get, MethodRouter};
    /// use http::Method;
    /// let methods: MethodRouter = get(|| "page").on(Method::from_bytes(b"PURGE").unwrap(), || "purged");
    /// # let _ = methods;
    /// ```
    pub fn on<H: Handler<T, S>, T>(mut self, method: Method, handler: H) -> Self {
        self.methods.retain(|(m, _)| *m != method);
        self.methods.push((method, erase(handler)));
        self.allow = self.allow_value();
        self
    }

    /// Runs this route's handlers on the app's blocking pool instead of the worker thread.
    /// Use it for anything that blocks: file or database I/O, `sleep`, heavy computation.
    /// The worker goes on serving other connections; this connection's later pipelined
    /// requests wait their turn, so answers stay in order. When the pool's queue is full the
    /// answer is `503 Service Unavailable` with `Retry-After`.
    ///
    /// ```
    /// use pollux_web::{Router, get};
    /// fn report() -> String {
    ///     std::thread::sleep(std::time::Duration::from_millis(50)); // blocking is fine here
    ///     "report".into()
    /// }
    /// let app = Router::new().route("/report", get(report).blocking()).into_app();
    /// # let _ = app;
    /// ```
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// Wraps this route's handlers in `middleware` (inside the app's own layers).
    ///
    /// ```
    /// use pollux_web::{get, middleware::from_fn, Router};
    /// use http::header::{HeaderValue, CACHE_CONTROL};
    /// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
    /// # fn send<S: Clone + Send + Sync + 'static>(app: &pollux_web::App<S>, method: &str, uri: &str) -> http::Response<Body> {
    /// #     let req = http::Request::builder().method(method).uri(uri).body(Body::Empty).unwrap();
    /// #     match app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) {
    /// #         Reply::Now(resp) => resp,
    /// #         _ => unreachable!("no blocking route here"),
    /// #     }
    /// # }
    ///
    /// let no_store = from_fn(|req, next| {
    ///     let mut resp = next.run(req);
    ///     resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ///     resp
    /// });
    /// let app = Router::new()
    ///     .route("/account", get(|| "balance: 3").layer(no_store))
    ///     .route("/news", get(|| "all quiet"))
    ///     .into_app();
    /// assert_eq!(send(&app, "GET", "/account").headers()[CACHE_CONTROL], "no-store");
    /// assert!(send(&app, "GET", "/news").headers().get(CACHE_CONTROL).is_none());
    /// ```
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        let mw: Arc<dyn Middleware> = Arc::new(middleware);
        for (_, ep) in &mut self.methods {
            *ep = wrap(ep.clone(), mw.clone());
        }
        if let Some(ep) = &mut self.any {
            *ep = wrap(ep.clone(), mw.clone());
        }
        self
    }

    pub(crate) fn allow_value(&self) -> HeaderValue {
        let mut names: Vec<&str> = self.methods.iter().map(|(m, _)| m.as_str()).collect();
        if names.contains(&"GET") && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
        if !names.contains(&"OPTIONS") {
            names.push("OPTIONS");
        }
        HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static("OPTIONS"))
    }

    /// The endpoint for `method`, or what to answer instead.
    pub(crate) fn select(&self, method: &Method) -> Selected<'_, S> {
        let find = |m: &Method| self.methods.iter().find(|(k, _)| k == m).map(|(_, e)| e);
        if let Some(e) = find(method) {
            return Selected::Endpoint(e);
        }
        if *method == Method::HEAD {
            if let Some(e) = find(&Method::GET) {
                return Selected::Endpoint(e);
            }
        }
        if let Some(e) = &self.any {
            return Selected::Endpoint(e);
        }
        if *method == Method::OPTIONS {
            return Selected::Options(&self.allow);
        }
        Selected::NotAllowed(&self.allow)
    }
}

pub(crate) enum Selected<'a, S> {
    Endpoint(&'a Endpoint<S>),
    Options(&'a HeaderValue),
    NotAllowed(&'a HeaderValue),
}

pub(crate) fn allow_response(status: StatusCode, allow: &HeaderValue) -> Response {
    let mut r = if status == StatusCode::NO_CONTENT {
        let mut r = http::Response::new(Body::Empty);
        *r.status_mut() = status;
        r
    } else {
        status.into_response()
    };
    r.headers_mut().insert(ALLOW, allow.clone());
    r
}

pub(crate) fn wrap<S: 'static>(ep: Endpoint<S>, mw: Arc<dyn Middleware>) -> Endpoint<S> {
    Arc::new(move |req: Request<Body>, cx: &Cx<'_, S>| {
        let inner = |r: Request<Body>| ep(r, cx);
        run_chain(std::slice::from_ref(&mw), req, cx.conn, &inner)
    })
}

/// The catch-all parameter under a mounted service's prefix: what the service sees as its path.
pub(crate) const REST: &str = "__pollux_rest";

/// What a path pattern leads to.
pub(crate) enum Target<S> {
    Methods(MethodRouter<S>),
    /// A server handler (such as `ServeDir`) below a prefix, which is cut from the path it sees.
    Service {
        prefix: String,
        service: Arc<dyn pollux_server::Handler>,
        layers: Vec<Arc<dyn Middleware>>,
    },
}

impl<S> Clone for Target<S> {
    fn clone(&self) -> Self {
        match self {
            Target::Methods(m) => Target::Methods(m.clone()),
            Target::Service { prefix, service, layers } => {
                Target::Service { prefix: prefix.clone(), service: service.clone(), layers: layers.clone() }
            }
        }
    }
}

/// Size of the blocking pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolConfig {
    pub(crate) threads: usize,
    pub(crate) queue: usize,
    pub(crate) timeout: Option<Duration>,
}

/// Everything a [`crate::Router`] collected, as `App::build` takes it: the builder hands over
/// its parts, so the built app never needs to know the builder.
pub(crate) struct Table<S> {
    pub(crate) routes: Vec<(String, Target<S>)>,
    pub(crate) fallback: Option<Endpoint<S>>,
    /// Fallbacks of nested routers, by prefix (the longest matching prefix wins).
    pub(crate) nested_fallbacks: Vec<(String, Endpoint<S>)>,
    pub(crate) layers: Vec<Arc<dyn Middleware>>,
    pub(crate) body_limit: usize,
    pub(crate) pool: PoolConfig,
}
