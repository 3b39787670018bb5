//! [`AccessLog`]: one line per request, with the time the app took.
//!
//! The server has its own access log (Common Log Format, batched per worker); this one sits
//! inside the app, so it sees what the app answered and how long the handler and the layers
//! inside it took, and it can go anywhere a `Write` goes (a file, a test buffer).

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Instant;

use http::Request;
use pollux_server::{Body, ConnInfo};

use super::{Middleware, Next};
use crate::response::Response;

/// Writes one line per request:
///
/// ```text
/// 127.0.0.1 "GET /x?y HTTP/1.1" 200 13 57us
/// ```
///
/// client address, request line, status, body length (`-` when not known in advance, as for
/// a stream) and the microseconds from the request reaching this layer to the response leaving
/// it (not the time to send it). The request target is the client's bytes and is escaped, so a
/// request cannot forge a log line.
///
/// Place it outside [`super::CatchPanic`] (add it later) so a panicking handler is logged as
/// the 500 it becomes. Lines are written one `write_all` each under a lock, unbuffered: for a
/// busy server prefer the server's own batched log (`Options::access_log`).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use pollux_web::{Router, get, middleware::AccessLog};
///
/// let app: Router = Router::new()
///     .route("/", get(|| "hi"))
///     .layer(AccessLog::new()); // to stderr
///
/// // Or into any writer: a file, a buffer.
/// let file = std::io::sink();
/// let app2: Router = Router::new().route("/", get(|| "hi")).layer(AccessLog::to_writer(file));
/// # let _ = (app, app2);
/// ```
pub struct AccessLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessLog")
    }
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog::new()
    }
}

impl AccessLog {
    /// Logs to standard error.
    ///
    /// ```
    /// let log = pollux_web::middleware::AccessLog::new();
    /// # let _ = log;
    /// ```
    pub fn new() -> AccessLog {
        AccessLog::to_writer(io::stderr())
    }

    /// Logs to `w`. Write errors are ignored: a full disk must not fail requests.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let path = std::env::temp_dir().join("pollux-doc-access.log");
    /// let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    /// let log = pollux_web::middleware::AccessLog::to_writer(file);
    /// # let _ = log; let _ = std::fs::remove_file(&path);
    /// # Ok(()) }
    /// ```
    pub fn to_writer(w: impl Write + Send + 'static) -> AccessLog {
        AccessLog { out: Mutex::new(Box::new(w)) }
    }
}

impl Middleware for AccessLog {
    fn call(&self, req: Request<Body>, conn: &ConnInfo, next: Next<'_>) -> Response {
        let start = Instant::now();
        // What the line needs of the request, taken before it moves into the chain.
        let mut line = Vec::with_capacity(96);
        let _ = write!(line, "{} \"{} ", conn.peer.ip(), req.method());
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        escape_into(&mut line, target.as_bytes());
        let _ = write!(line, " {:?}\" ", req.version());

        let resp = next.run(req);

        let micros = start.elapsed().as_micros();
        let _ = write!(line, "{} ", resp.status().as_u16());
        match resp.body().len() {
            Some(n) => {
                let _ = write!(line, "{n}");
            }
            None => line.push(b'-'),
        }
        let _ = writeln!(line, " {micros}us");
        // A panic elsewhere while holding the lock leaves a writer that is still usable.
        let mut out = self.out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // One `write_all` per line, so lines of different workers never interleave.
        let _ = out.write_all(&line);
        let _ = out.flush();
        resp
    }
}

/// Copies visible ASCII except `"` and `\`; everything else becomes `\xHH`.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &c in bytes {
        if c.is_ascii_graphic() && c != b'"' && c != b'\\' {
            out.push(c);
        } else {
            let _ = write!(out, "\\x{c:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_and_controls() {
        let mut out = Vec::new();
        escape_into(&mut out, b"/a\"b\\c\n\x7f");
        assert_eq!(out, b"/a\\x22b\\x5cc\\x0a\\x7f");
    }
}
