//! pollux-web: the application framework on pollux's server — a routing table of plain
//! functions, as a small WSGI framework has, with typed extractors, responses,
//! middleware and a pool for blocking work.
//!
//! # A whole app
//!
//! ```no_run
//! use std::sync::Arc;
//! use pollux_web::{get, post, Router, Options};
//! use pollux_web::extract::{Form, Json, Path, State};
//! use pollux_web::response::{Html, Redirect};
//!
//! struct Config { greeting: String }
//!
//! #[derive(serde::Deserialize)]
//! struct Comment { name: String, text: String }
//!
//! fn index() -> Html<&'static str> { Html("<h1>Hello World</h1>") }
//! fn greet(State(cfg): State<Arc<Config>>, Path(name): Path<String>) -> String {
//!     format!("{}, {name}!", cfg.greeting)
//! }
//! fn comment(Form(c): Form<Comment>) -> String { format!("{} says {}", c.name, c.text) }
//! fn user(Path(id): Path<u64>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "id": id }))
//! }
//! fn report() -> String {
//!     std::thread::sleep(std::time::Duration::from_secs(1)); // blocks: see `blocking` below
//!     "done".into()
//! }
//!
//! let app = Router::new()
//!     .route("/", get(index))
//!     .route("/hello/{name}", get(greet))
//!     .route("/comments", post(comment))
//!     .route("/api/users/{id}", get(user))
//!     .route("/old", get(|| Redirect::permanent("/")))
//!     .route("/report", get(report).blocking())
//!     .with_state(Arc::new(Config { greeting: "Hello".into() }));
//! let opts = Options { addrs: vec!["127.0.0.1:8080".parse().unwrap()], ..Options::default() };
//! pollux_web::serve(opts, app, |addrs| println!("listening on http://{}", addrs[0])).unwrap();
//! ```
//!
//! # The one rule: handlers must not block
//!
//! Handlers run on the server's worker threads, one per core, each serving thousands of
//! connections. A handler that sleeps, waits on a lock, a socket, a database or a slow disk
//! stalls every connection of its worker. Mark such routes [`MethodRouter::blocking`]: they
//! run on a bounded thread pool and their answers come back to the connection in order; when
//! the pool's queue is full they answer `503` with `Retry-After`, and [`Router::timeout`]
//! bounds how long they may take (`503` if never started, `504` if still running).
//!
//! # Middleware
//!
//! [`Router::layer`] wraps everything a router answers (404s and 405s too),
//! [`MethodRouter::layer`] one route. The last layer added is the outermost: it sees the
//! request first and the response last. Built-ins: [`middleware::CatchPanic`],
//! [`middleware::Compression`], [`middleware::Cors`], [`middleware::AccessLog`] and
//! [`middleware::RequestId`]; [`middleware::from_fn`] makes one from a closure.
//!
//! ```
//! use pollux_web::{get, Router};
//! use pollux_web::middleware::{AccessLog, CatchPanic, Compression, RequestId};
//!
//! let app = Router::new()
//!     .route("/", get(|| "Hello World"))
//!     .layer(CatchPanic::new())  // innermost: a panic becomes a 500 …
//!     .layer(Compression::new())
//!     .layer(AccessLog::new())   // … which the access log records
//!     .layer(RequestId::new())   // outermost: every response gets its x-request-id
//!     .into_app();
//! # let _ = app;
//! ```
//!
//! # Pieces
//!
//! - [`Router`]: `route(path, get(h).post(h2))`, `nest`, `nest_service` (mount
//!   [`pollux_fs::ServeDir`]), `route_service` ([`pollux_fs::ServeFile`]), `fallback`, `layer`.
//! - [`extract`]: `Path`, `Query`, `Form`, `Json`, `RawBody` / `Bytes` / `String`, `HeaderMap`,
//!   `Cookies`, `ClientAddr`, `Tls`, `State`, and your own via `FromRequestParts`.
//! - [`response`]: `IntoResponse` for text, `Html`, `Json`, bytes, `Redirect`, `Stream`,
//!   status and header tuples, `Result`.
//! - [`middleware`]: `Middleware`, `from_fn`, and built-ins (access log, compression,
//!   request id, CORS, panic capture).

// The OS boundary is `pollux_reactor::sys` and rustix: no `unsafe` here.
#![forbid(unsafe_code)]

mod app;
mod blocking;
pub mod extract;
mod handler;
pub mod middleware;
pub mod response;
mod route;
mod router;

pub use app::App;
pub use handler::Handler;
pub use route::{any, delete, get, on, options, patch, post, put, trace, MethodRouter};
pub use router::{Router, DEFAULT_BODY_LIMIT};

/// Re-exported: build `Set-Cookie` values with `cookie::Cookie::build`.
pub use cookie;
pub use pollux_server::{serve, Options};

// The README's example apps (framework and bare handler) must keep compiling; this crate
// sees every crate they use.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
