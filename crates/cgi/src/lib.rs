//! The CGI/1.1 gateway (RFC 3875): which script a request names, the environment it runs in,
//! what its output means — and the [`Cgi`] handler that runs scripts on the server's workers.
//!
//! Two layers. The sans-IO one (`env`, `resolve`, `output`, `response`) spawns nothing and
//! reads no pipe; it touches the filesystem only through the lookup closure handed to the
//! resolver, and is tested byte by byte. The driving one (`process`, `task`, `handler`) spawns
//! the script, registers its pipes and a pidfd in the worker's reactor as a
//! [`pollux_server::Task`], and calls into the first:
//!
//! ```text
//!   request path ──► Mount / ExtensionRule::resolve ──► Script { SCRIPT_NAME, PATH_INFO, file }
//!                       (pollux_path::resolve,           │    or Ok(None): not a script
//!                        dotfiles, a stat per level)     │    or ResolveError ─► 404
//!                                                        ▼
//!   request head + addresses ──► meta_variables ──► the whole environment of the script
//!
//!   child stdout ──► OutputParser::handle_bytes / handle_eof ──► Head { response, body_start }
//!       CgiResponse::Response      ─► status + fields; then body_start and the rest of stdout
//!       CgiResponse::LocalRedirect ─► re-dispatch the request to that path
//!       OutputError                ─► OutputError::status() (502)
//!   nph-* scripts (is_nph)         ─► stdout goes to the client as it is
//! ```
//!
//! Unix only: environment values are bytes (`OsStringExt`), as request header values are.
//! Linux: scripts start through `pollux_reactor::sys::spawn` (`clone`, see `process`), their
//! exit is watched through the pidfd that comes with it.

// The system calls std does not offer come from rustix (kill, access) and from the reactor's
// `sys::spawn` (the clone): no `unsafe` here.
#![forbid(unsafe_code)]

pub mod env;
mod error;
mod handler;
mod limits;
pub mod output;
mod permit;
mod process;
mod resolve;
mod response;
mod task;

pub use env::{meta_variables, RequestBody, RequestInfo};
pub use error::OutputError;
pub use handler::{Cgi, CgiLoad, SetupError};
pub use output::{is_nph, parse_output, Head, OutputParser};
pub use resolve::{stat, ConfigError, Entry, ExtensionRule, Mount, ResolveError, Script};
pub use response::{CgiResponse, Response, ResponseKind};
