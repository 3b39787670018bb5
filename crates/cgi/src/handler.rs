//! The [`Cgi`] handler: script paths run as CGI scripts, every other path goes to the handler
//! it wraps (a `ServeDir`, usually).
//!
//! ```text
//!   request ──► Mount / ExtensionRule ──► Ok(None) ─────────────► fallback.call (static files)
//!                                     ├─► Err ──────────────────► 404
//!                                     └─► Some(script) ─► permit? ── no ──► 503 Retry-After: 1
//!                                                           │ yes
//!                          meta_variables ─► spawn ─► Reply::Task(CgiTask) (its pipes in the
//!                                                     worker's reactor; see `task`)
//! ```
//!
//! Request bodies with a `Content-Length` stream into the script as they arrive
//! ([`Handler::streams_body`]); a chunked body is collected first (up to the server's
//! `max_body`), because RFC 3875 §4.1.2 wants `CONTENT_LENGTH` and WSGI's `CGIHandler` reads
//! nothing without it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use pollux_server::{Body, ConnInfo, Handler, Reply};

use crate::permit::{Limit, Redirects, MAX_REDIRECTS};
use crate::process;
use crate::task::CgiTask;
use crate::{meta_variables, stat, ConfigError, ExtensionRule, Mount, RequestBody, RequestInfo};
use crate::{ResolveError, Script};

/// A CGI setup that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// `--cgi` takes `PREFIX=DIR`.
    #[error("expected PREFIX=DIR (e.g. /cgi-bin=./cgi-bin), got {0:?}")]
    Spec(String),
    /// A bad prefix or extension.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The document root or a script directory cannot be used.
    #[error("{}: {source}", path.display())]
    Directory { path: PathBuf, source: io::Error },
}

/// How many scripts a [`Cgi`] runs now, readable from another thread.
#[derive(Debug, Clone)]
pub struct CgiLoad(Arc<Limit>);

impl CgiLoad {
    /// Scripts running across all workers.
    pub fn in_flight(&self) -> usize {
        self.0.running()
    }
}

/// Runs CGI scripts for the paths that name one (RFC 3875), and hands every other request to
/// `F`.
///
/// ```no_run
/// use pollux_cgi::Cgi;
/// use pollux_fs::ServeDir;
///
/// let site = ServeDir::new("./www")?;
/// let handler = Cgi::new("./www", site)?
///     .mount("/cgi-bin", "./cgi-bin")? // every file under ./cgi-bin is a script
///     .extension(".py")?               // and so is any *.py under ./www
///     .max(64);                        // at most 64 scripts at once, then 503
/// pollux_server::serve(pollux_server::Options::default(), handler, |_| {})?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Cgi<F> {
    mounts: Vec<Mount>,
    ext: Option<ExtensionRule>,
    /// DOCUMENT_ROOT, canonical.
    root: PathBuf,
    fallback: F,
    limit: Arc<Limit>,
    software: String,
    /// The scripts' `PATH`.
    path: std::ffi::OsString,
}

impl<F> fmt::Debug for Cgi<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cgi")
            .field("mounts", &self.mounts)
            .field("ext", &self.ext)
            .field("root", &self.root)
            .field("max", &self.limit.max())
            .finish_non_exhaustive()
    }
}

impl<F: Handler> Cgi<F> {
    /// No scripts yet: every request goes to `fallback`. `root` is the site's document root
    /// (`DOCUMENT_ROOT`, and where [`Cgi::extension`] looks for scripts).
    pub fn new(root: impl AsRef<Path>, fallback: F) -> Result<Self, SetupError> {
        Ok(Cgi {
            mounts: Vec::new(),
            ext: None,
            root: canonical(root.as_ref())?,
            fallback,
            limit: Limit::new(64),
            software: concat!("pollux/", env!("CARGO_PKG_VERSION")).to_owned(),
            path: crate::env::PATH.into(),
        })
    }

    /// Every file under `dir` is a script, at the URL `prefix` + its path (`--cgi`). The first
    /// mount whose prefix matches wins.
    pub fn mount(mut self, prefix: &str, dir: impl AsRef<Path>) -> Result<Self, SetupError> {
        self.mounts.push(Mount::new(prefix, canonical(dir.as_ref())?)?);
        Ok(self)
    }

    /// [`Cgi::mount`] from `PREFIX=DIR`.
    pub fn mount_spec(self, spec: &str) -> Result<Self, SetupError> {
        let (prefix, dir) = spec.split_once('=').ok_or_else(|| SetupError::Spec(spec.to_owned()))?;
        if dir.is_empty() {
            return Err(SetupError::Spec(spec.to_owned()));
        }
        self.mount(prefix, dir)
    }

    /// Files under the document root whose name ends in `ext` are scripts (`--cgi-ext`).
    pub fn extension(mut self, ext: &str) -> Result<Self, SetupError> {
        self.ext = Some(ExtensionRule::new(ext, self.root.clone())?);
        Ok(self)
    }

    /// The `PATH` scripts get (default [`crate::env::PATH`]); `pollux serve` passes its own, so
    /// `#!/usr/bin/env python3` means the Python of the environment the server runs in.
    pub fn path(mut self, path: impl Into<std::ffi::OsString>) -> Self {
        self.path = path.into();
        self
    }

    /// Most scripts running at once across the server (default 64); beyond it, 503.
    pub fn max(mut self, max: usize) -> Self {
        self.limit = Limit::new(max);
        self
    }

    /// A handle that tells how many scripts run now (for the metrics; `--cgi-max` past which
    /// requests get 503, so scripts never queue). Take it after [`Cgi::max`].
    pub fn load(&self) -> CgiLoad {
        CgiLoad(self.limit.clone())
    }

    /// The script for `path`: `Ok(None)` when no rule claims it.
    fn script(&self, path: &str) -> Result<Option<Script>, ResolveError> {
        for m in &self.mounts {
            match m.resolve(path, stat)? {
                Some(s) => return Ok(Some(s)),
                None => continue,
            }
        }
        match &self.ext {
            Some(rule) => rule.resolve(path, stat),
            None => Ok(None),
        }
    }

    fn run(&self, req: Request<Body>, conn: &ConnInfo, script: Script) -> Reply {
        let redirects = req.extensions().get::<Redirects>().map_or(0, |r| r.0);
        if redirects > MAX_REDIRECTS {
            eprintln!("pollux: cgi {}: more than {MAX_REDIRECTS} local redirects", script.script_name);
            return page(StatusCode::INTERNAL_SERVER_ERROR, false);
        }
        let Some(permit) = self.limit.acquire() else {
            return page(StatusCode::SERVICE_UNAVAILABLE, true);
        };
        let (parts, body) = req.into_parts();
        let initial = match body {
            Body::Bytes(b) => Some(b),
            _ => None,
        };
        let body = body_kind(&parts.headers, initial.as_ref().map(|b| b.len()));
        // Without a socket (tests), the unspecified address: SERVER_PORT 0 says "unknown".
        let local = conn.local_addr().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        let env = meta_variables(&RequestInfo {
            method: &parts.method,
            uri: &parts.uri,
            version: parts.version,
            headers: &parts.headers,
            body,
            peer: conn.peer,
            local,
            tls: conn.tls(),
            script: &script,
            document_root: &self.root,
            server_software: &self.software,
            path: &self.path,
        });
        let with_body = !matches!(body, RequestBody::None | RequestBody::Length(0));
        match process::spawn(&script.file, env, with_body) {
            Ok(spawned) => {
                let nph = script.is_nph();
                let task =
                    CgiTask::new(script.script_name, spawned, initial, nph, parts.headers, redirects, permit);
                Reply::Task(Box::new(task))
            }
            Err(e) => {
                // Not executable, no interpreter, too many processes: our setup, not the
                // client's request.
                let hint = match e.kind() {
                    std::io::ErrorKind::PermissionDenied => {
                        format!("; is it executable? chmod +x {}", script.file.display())
                    }
                    std::io::ErrorKind::NotFound => "; the interpreter on its #! line was not found".into(),
                    _ => String::new(),
                };
                eprintln!(
                    "pollux: cgi {}: cannot run {}: {e}{hint}",
                    script.script_name,
                    script.file.display()
                );
                page(StatusCode::INTERNAL_SERVER_ERROR, false)
            }
        }
    }
}

impl<F: Handler> Handler for Cgi<F> {
    fn call(&self, req: Request<Body>, conn: &ConnInfo) -> Reply {
        match self.script(req.uri().path()) {
            Ok(Some(script)) => self.run(req, conn, script),
            Ok(None) => self.fallback.call(req, conn),
            Err(e) => page(e.status(), false),
        }
    }

    fn streams_body(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
        match self.script(uri.path()) {
            Ok(None) => self.fallback.streams_body(method, uri, headers),
            // Chunked: collected first, so that CONTENT_LENGTH can be set (module docs).
            _ => !headers.contains_key(header::TRANSFER_ENCODING),
        }
    }
}

/// What the script reads from stdin: the body the handler got whole, else the announced
/// length of a body still streaming in.
fn body_kind(headers: &HeaderMap, whole: Option<usize>) -> RequestBody {
    if let Some(n) = whole {
        return RequestBody::Length(n as u64);
    }
    if let Some(n) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()) {
        return RequestBody::Length(n);
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        // A chunked body that turned out empty.
        return RequestBody::Length(0);
    }
    RequestBody::None
}

fn canonical(path: &Path) -> Result<PathBuf, SetupError> {
    std::fs::canonicalize(path).map_err(|source| SetupError::Directory { path: path.to_owned(), source })
}

/// A short text answer the gateway gives itself.
fn page(status: StatusCode, retry: bool) -> Reply {
    let mut resp = pollux_server::status_page(status);
    if retry {
        // RFC 9110 §10.2.3: come back in a second; scripts are short-lived.
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Reply::Now(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_kinds() {
        let mut h = HeaderMap::new();
        assert_eq!(body_kind(&h, None), RequestBody::None);
        assert_eq!(body_kind(&h, Some(3)), RequestBody::Length(3));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("42"));
        assert_eq!(body_kind(&h, None), RequestBody::Length(42));
        let mut h = HeaderMap::new();
        h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        assert_eq!(body_kind(&h, None), RequestBody::Length(0));
    }
}
