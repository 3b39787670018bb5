//! The HTTP/1.1 server: drives the sans-IO codec (`pollux-http1`) over the reactor
//! (`pollux-reactor`) and calls a [`Handler`] for every request.
//!
//! ```text
//!            reactor event (readable, writable, timer, message)
//!                 │
//!  service.rs ────┴─► drive.rs: loop { conn.poll() → Step }
//!                        │  Step::Read  ─► transport.recv ─► conn.read_buf()   (socket → bytes)
//!                        │  Step::Call  ─► Handler::call ─► conn.handle_reply() (the one call)
//!                        │  Step::Send  ─► transport.flush(conn.output())      (bytes → socket)
//!                        ▼
//!  conn.rs (sans-IO): RequestDecoder ─► Request<Body> … Reply ─► encode.rs (the one head
//!                     encoder) ─► output.rs (write buffer + file/stream body)
//! ```
//!
//! `conn.rs` knows no socket and no clock: time comes in as `handle_timeout(now)`, bytes as
//! `handle_read`, and it says what it needs as a `Step`. `transport.rs` is the seam
//! where a TLS session can sit between the socket and the connection. `conn_tests.rs` runs
//! the connection on a simulated clock.
//!
//! One worker per core, each with its own connections, buffer pool, date and log buffer:
//! nothing on the hot path is shared. Per connection the rules are those of RFC 9112: requests
//! are answered in order (pipelining, §9.3.2), persistence follows §9.3 and `Connection`, and a
//! framing error ends the connection after its 4xx/5xx (§11.2).
//!
//! Handlers run on the worker thread and must not block. A panic in a handler becomes a 500
//! and the worker lives on.

// The OS boundary is `pollux_reactor::sys` and rustix: no `unsafe` here.
#![forbid(unsafe_code)]

mod acl;
pub mod admin;
mod body;
mod config;
mod conn;
#[cfg(test)]
mod conn_tests;
mod date;
mod door;
#[cfg(test)]
mod door_tests;
mod drive;
mod encode;
mod h2conn;
#[cfg(test)]
mod h2conn_tests;
mod handler;
pub mod headers;
mod lifecycle;
mod log;
mod log_format;
mod mailbox;
pub mod metrics;
mod output;
mod page;
mod prepared;
pub mod proxy;
mod redirect;
mod service;
mod task;
mod tls;
mod transport;

pub use acl::{canonical_net, parse_cidr, AccessList, AccessRule, PerIpLimit, Refused};
pub use body::{Body, BodyStream};
pub use config::{AccessLog, Options, RedirectOptions, TlsOptions};
pub use date::civil_from_days;
pub use handler::{ConnInfo, Deferred, Handler, Reply, Responder, TlsInfo};
/// CIDR networks (`--allow`, `--deny`, `--proxy-trusted`), so callers build them with the same version.
pub use ipnet;
pub use lifecycle::Lifecycle;
pub use log_format::LogFormat;
pub use mailbox::Finished;
pub use page::{status_page, status_text};
pub use pollux_http1::Limits;
pub use pollux_reactor::Shutdown;
pub use prepared::PreparedFields;
/// The TLS library the server speaks through, so configurations are built with the same version.
pub use rustls;
pub use service::serve;
pub use task::{Nudge, Task, TaskCx, TaskWaker, TurnEnd, SOURCES};
