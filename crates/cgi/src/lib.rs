//! The sans-IO half of the CGI/1.1 gateway (RFC 3875): which script a request names, the
//! environment it runs in, and what its output means.
//!
//! This crate spawns nothing and reads no pipe; it touches the filesystem only through the
//! lookup closure the caller hands to the resolver. The server owns the child process and
//! its pipes, drives them in its reactor, and calls in here:
//!
//! ```text
//!   request path ──► Mount / ExtensionRule::resolve ──► Script { SCRIPT_NAME, PATH_INFO, file }
//!                       (pollux_fs::path::resolve,       │    or Ok(None): not a script
//!                        dotfiles, a stat per level)     │    or ResolveError ─► 404
//!                                                        ▼
//!   request head + addresses ──► meta_variables ──► Command::env_clear().envs(..)   (server)
//!
//!   child stdout ──► OutputParser::handle_bytes / handle_eof ──► Head { response, body_start }
//!       CgiResponse::Response      ─► status + fields; then body_start and the rest of stdout
//!       CgiResponse::LocalRedirect ─► re-dispatch the request to that path
//!       OutputError                ─► OutputError::status() (502)
//!   nph-* scripts (is_nph)         ─► stdout goes to the client as it is
//! ```
//!
//! Unix only: environment values are bytes (`OsStringExt`), as request header values are.

#![forbid(unsafe_code)]

pub mod env;
mod error;
pub mod output;
mod resolve;
mod response;

pub use env::{meta_variables, RequestBody, RequestInfo};
pub use error::OutputError;
pub use output::{is_nph, parse_output, Head, OutputParser};
pub use resolve::{stat, ConfigError, Entry, ExtensionRule, Mount, ResolveError, Script};
pub use response::{CgiResponse, Response, ResponseKind};
