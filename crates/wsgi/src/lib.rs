//! A WSGI server (PEP 3333) on the reactor: a Python application imported once and called
//! for every request from a pool of Python threads, its answers streamed back through the
//! connection's worker.
//!
//! ```text
//!  worker thread (never runs Python)           Python threads (--wsgi-threads, GIL held
//!                                               only while Python runs)
//!  Wsgi::call ─► Reply::Task(WsgiTask)
//!  WsgiTask::start ─► Pool::submit(Job) ───────► job = queue.pop()  (waits without the GIL)
//!                                               environ + start_response ─► application(...)
//!  request body ─► cx.body() ─► Exchange.body ─► wsgi.input.read()   (waits without the GIL)
//!  socket ◄─ cx.send ◄─ on_wake ◄─ TaskWaker ◄─ Exchange.out ◄─ the iterable's items
//!                      on_room (client took bytes) ─► Exchange has room ─► the app goes on
//! ```
//!
//! The [`Exchange`](exchange) between a request's task and its Python thread is bounded both
//! ways: the body waits in at most [`IN_WINDOW`](exchange::IN_WINDOW) bytes (the connection
//! stops reading the socket behind it), the output in at most
//! [`OUT_WINDOW`](exchange::OUT_WINDOW) (the app's thread waits for the client). An upload
//! or a download of any size costs a bounded amount of memory.
//!
//! [`load`] initialises the embedded interpreter (without Python's signal handlers: SIGINT
//! and SIGTERM stay the server's), sets `sys.path` from `--pythonpath` and a virtualenv,
//! and imports the application; [`Wsgi`] is the [`pollux_server::Handler`] that serves it.

#![forbid(unsafe_code)]

mod config;
mod environ;
mod error;
mod exchange;
mod handler;
mod interp;
mod job;
mod objects;
mod pool;
mod run;
mod task;

pub use config::{AppSpec, Config, DEFAULT_THREADS};
pub use error::LoadError;
pub use handler::{Wsgi, WsgiLoad};
pub use interp::python_version;
