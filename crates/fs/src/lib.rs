//! Static files as a [`pollux_server::Handler`]: [`ServeDir`].
//!
//! This is the first, small static handler: GET and HEAD of regular files under a root,
//! `index.html` for directories, `Content-Type` from the extension, 404 for the rest, and
//! never a byte from outside the root. Path resolution lives in [`path`], where every decoded
//! segment is checked before it touches the file system.

mod cache;
mod encoding;
pub mod path;

pub use encoding::Compression;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use http::header::{HeaderValue, ALLOW, CONTENT_TYPE, LOCATION};
use http::{Method, Request, Response, StatusCode};
use pollux_server::{Body, ConnInfo, Handler};

/// Serves the files under a root directory.
///
/// ```no_run
/// let handler = pollux_fs::ServeDir::new(".").expect("the root exists");
/// ```
#[derive(Debug, Clone)]
pub struct ServeDir {
    root: PathBuf,
}

impl ServeDir {
    /// Serves `root`, which must be an existing directory (it is canonicalised once, here).
    pub fn new(root: impl AsRef<Path>) -> io::Result<ServeDir> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(ServeDir { root })
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn serve(&self, req: &Request<Body>) -> Response<Body> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let Some(rel) = path::resolve(req.uri().path()) else {
            return plain(StatusCode::NOT_FOUND);
        };
        let mut full = self.root.join(&rel);
        let mut meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) => return io_error(&e),
        };
        if meta.is_dir() {
            if !req.uri().path().ends_with('/') {
                // Relative links inside an index page only work from the slash form. The
                // location is rebuilt from the resolved segments, never copied from the
                // request: `//evil.example/..` must not become a redirect to another host.
                let mut loc = path::to_url(&rel);
                if !loc.ends_with('/') {
                    loc.push('/');
                }
                if let Some(q) = req.uri().query() {
                    loc.push('?');
                    loc.push_str(q);
                }
                let mut r = plain(StatusCode::MOVED_PERMANENTLY);
                if let Ok(v) = HeaderValue::from_str(&loc) {
                    r.headers_mut().insert(LOCATION, v);
                }
                return r;
            }
            full.push("index.html");
            match std::fs::metadata(&full) {
                Ok(m) if m.is_file() => meta = m,
                _ => return plain(StatusCode::NOT_FOUND),
            }
        }
        if !meta.is_file() {
            return plain(StatusCode::NOT_FOUND);
        }
        // The path was built from checked segments, but a symlink inside the root may point
        // out of it: only files whose real path stays under the root are served.
        match full.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => {}
            _ => return plain(StatusCode::NOT_FOUND),
        }
        let file = match File::open(&full) {
            Ok(f) => f,
            Err(e) => return io_error(&e),
        };
        let mut r = Response::new(Body::File { file, offset: 0, len: meta.len() });
        r.headers_mut().insert(CONTENT_TYPE, content_type(&full));
        r
    }
}

impl Handler for ServeDir {
    fn call(&self, req: Request<Body>, _conn: &ConnInfo) -> Response<Body> {
        self.serve(&req)
    }
}

/// `Content-Type` from the extension; text types say UTF-8.
fn content_type(p: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(p).first_or_octet_stream();
    let s = if mime.type_() == mime_guess::mime::TEXT
        || mime.subtype() == "javascript"
        || mime.subtype() == "json"
    {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    };
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// The answer for a failed `stat` or `open`: the file's absence is the client's problem,
/// a descriptor shortage is ours and passes (503, retry), anything else is a 500.
fn io_error(e: &io::Error) -> Response<Body> {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename => {
            plain(StatusCode::NOT_FOUND)
        }
        io::ErrorKind::PermissionDenied => plain(StatusCode::FORBIDDEN),
        _ if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
            let mut r = plain(StatusCode::SERVICE_UNAVAILABLE);
            r.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A small plain-text status page.
fn plain(status: StatusCode) -> Response<Body> {
    let text = format!("{} {}\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
