//! The HTTP/1.1 server: drives the sans-IO codec (`pollux-http1`) over the reactor
//! (`pollux-reactor`) and calls a [`Handler`] for every request.
//!
//! ```text
//!  socket ─► Conn::on_readable ─► rbuf ─► RequestDecoder ─► Request<Body> ─► Handler::call
//!                                                                            │
//!  socket ◄─ Conn::flush ◄─ wbuf (all responses of one read, in order) ◄─ encode_head + body
//! ```
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

mod body;
mod config;
mod conn;
mod date;
mod handler;
pub mod headers;
mod io;
mod log;
mod page;
mod prepared;
mod respond;
mod service;
mod task;

pub use body::{Body, BodyStream};
pub use config::{AccessLog, Options};
pub use date::civil_from_days;
pub use handler::{ConnInfo, Deferred, Finished, Handler, Reply, Responder};
pub use page::{status_page, status_text};
pub use pollux_http1::Limits;
pub use pollux_reactor::Shutdown;
pub use prepared::PreparedFields;
pub use service::serve;
pub use task::{Nudge, Task, TaskCx, TaskWaker, TurnEnd, SOURCES};
