//! One file as a resource: [`ServeFile`].

use std::path::{Path, PathBuf};

use http::{Method, Request, Response, StatusCode};
use pollux_server::{Body, ConnInfo, Handler, Reply};

use crate::{cache, file, pages, ConfigError, ServeDir};

/// Serves one file, whatever the request path, with everything [`ServeDir`] does for a file:
/// validators and conditional requests, ranges, negotiated compression, `sendfile`. For a
/// route such as `/favicon.ico`, or a handler that picks a file at run time.
///
/// ```no_run
/// use pollux_fs::ServeFile;
/// use pollux_server::Body;
/// use http::Request;
///
/// let file = ServeFile::new("assets/report.pdf").expect("the file's directory exists");
/// let resp = file.serve(Request::new(Body::Empty));
/// assert!(resp.status().is_success());
/// ```
#[derive(Debug, Clone)]
pub struct ServeFile {
    dir: ServeDir,
    name: PathBuf,
}

impl ServeFile {
    /// Serves `path`. Its directory must exist now; the file itself is looked up (and
    /// revalidated) per request, so it may come and go.
    pub fn new(path: impl AsRef<Path>) -> Result<ServeFile, ConfigError> {
        let path = path.as_ref();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path.file_name().map(PathBuf::from).ok_or_else(|| ConfigError::Page {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        Ok(ServeFile { dir: ServeDir::new(parent)?, name })
    }

    /// Answers `req` with the file (GET and HEAD; OPTIONS 204; other methods 405).
    pub fn serve(&self, req: Request<Body>) -> Response<Body> {
        // Every answer here is one now: nothing is deferred.
        self.reply(req).into_response().unwrap_or_else(|_| pages::plain(StatusCode::INTERNAL_SERVER_ERROR))
    }

    fn reply(&self, req: Request<Body>) -> Reply {
        match *req.method() {
            Method::GET | Method::HEAD => {}
            Method::OPTIONS => return pages::options().into(),
            _ => return pages::not_allowed().into(),
        }
        // The name was chosen by whoever configured this, not by the client: symlinks are
        // theirs to use.
        match cache::lookup(&self.dir.root, &self.name, true, (self.dir.clock)()) {
            Ok(o) if !o.facts.is_dir => {
                let (req, _body) = req.into_parts();
                file::respond(&self.dir, &req.method, req.headers, &self.name, &o, StatusCode::OK)
            }
            Ok(_) => pages::plain(StatusCode::NOT_FOUND).into(),
            Err(e) if pages::is_not_found(&e) => pages::plain(StatusCode::NOT_FOUND).into(),
            Err(e) => pages::io_error(&e).into(),
        }
    }
}

impl Handler for ServeFile {
    fn call(&self, req: Request<Body>, _conn: &ConnInfo) -> Reply {
        self.reply(req)
    }
}
