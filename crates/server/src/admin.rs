//! The admin listener (`--admin ADDR`): `/metrics` (Prometheus text format 0.0.4),
//! `/healthz` and `/status`, served by a thread of its own in the supervisor process.
//!
//! It is deliberately not one of the reactor's listeners: it must answer while every worker
//! is busy, while the serving child is stopped (SIGSTOP) and across reloads, and none of the
//! main listeners' rules (PROXY protocol, allow/deny, connection limits) apply to it. Each
//! scrape reads the counters the workers keep in shared memory ([`crate::metrics::Area`]);
//! nothing here is on a request's path.
//!
//! ```text
//!  admin thread: accept ─► a short-lived thread per client (at most MAX_CLIENTS at once)
//!     GET /metrics ─► exposition::render(view)      GET /status ─► status_page::render(view)
//!     GET /healthz ─► 200 ok | 503 draining (Lifecycle::is_draining)
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod exposition;
mod status_page;

use crate::metrics::Area;
use crate::Lifecycle;

/// Scrapers served at once; more are closed (a scraper retries, a flood does not grow threads).
const MAX_CLIENTS: usize = 16;
/// Time a client gets to send its request line.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What the admin listener reports on.
/// Listeners with their labels, swappable at a reload.
pub type SharedListeners = Arc<Mutex<Vec<(String, Arc<TcpListener>)>>>;

#[derive(Debug, Clone)]
pub struct AdminView {
    /// The main listeners, each with its URL (e.g. `http://0.0.0.0:8080`) as its label: their
    /// accept queue and backlog are read from the sockets at each scrape.
    pub listeners: Vec<(String, Arc<TcpListener>)>,
    /// Draining (`/healthz` 503) and the configuration generation.
    pub lifecycle: Arc<Lifecycle>,
    /// The counters of every serving process (retired ones included).
    pub area: Arc<Area>,
    /// When the server started (for the uptime).
    pub started: Instant,
    /// Listeners may change at a reload: the supervisor swaps this list.
    pub replace: Option<SharedListeners>,
}

impl AdminView {
    /// A view of `area` with no listeners yet.
    pub fn new(lifecycle: Arc<Lifecycle>, area: Arc<Area>) -> AdminView {
        AdminView { listeners: Vec::new(), lifecycle, area, started: Instant::now(), replace: None }
    }

    /// The listeners to report now.
    pub(crate) fn current_listeners(&self) -> Vec<(String, Arc<TcpListener>)> {
        match &self.replace {
            Some(m) => m.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            None => self.listeners.clone(),
        }
    }
}

/// Binds `addr` and serves the admin pages on a thread of its own until the process exits.
pub fn spawn(addr: SocketAddr, view: AdminView) -> io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr)?;
    spawn_on(listener, view)
}

/// [`spawn`] on a socket already bound.
pub fn spawn_on(listener: TcpListener, view: AdminView) -> io::Result<JoinHandle<()>> {
    let view = Arc::new(view);
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("admin".into()).spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            if busy.load(Ordering::Acquire) >= MAX_CLIENTS {
                continue; // dropped: closed
            }
            busy.fetch_add(1, Ordering::AcqRel);
            let (view, busy2) = (view.clone(), busy.clone());
            let spawned = std::thread::Builder::new().name("admin-client".into()).spawn(move || {
                let _ = answer(stream, &view);
                busy2.fetch_sub(1, Ordering::AcqRel);
            });
            if spawned.is_err() {
                busy.fetch_sub(1, Ordering::AcqRel);
            }
        }
    })
}

/// Which page a request line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Page {
    Metrics,
    Health,
    Status,
    NotFound,
    /// Not GET or HEAD.
    Method,
    Bad,
}

/// `GET /path HTTP/1.1` → the page (the query string is ignored).
fn route(line: &str) -> (Page, bool) {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return (Page::Bad, false);
    };
    if !version.starts_with("HTTP/1.") {
        return (Page::Bad, false);
    }
    let head = method == "HEAD";
    if method != "GET" && !head {
        return (Page::Method, head);
    }
    let path = target.split('?').next().unwrap_or("");
    let page = match path {
        "/metrics" => Page::Metrics,
        "/healthz" => Page::Health,
        "/status" | "/" => Page::Status,
        _ => Page::NotFound,
    };
    (page, head)
}

fn answer(mut stream: TcpStream, view: &AdminView) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    // The request head, up to its end or 8 KiB: only the request line matters.
    let mut buf = [0u8; 8192];
    let mut len = 0;
    while len < buf.len() {
        let n = stream.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") || buf[..len].windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let line = head.lines().next().unwrap_or("");
    let (page, is_head) = route(line);
    let (status, ctype, body) = match page {
        Page::Metrics => ("200 OK", exposition::CONTENT_TYPE, exposition::render(view)),
        Page::Health if view.lifecycle.is_draining() => {
            ("503 Service Unavailable", TEXT, "draining\n".into())
        }
        Page::Health => ("200 OK", TEXT, "ok\n".into()),
        Page::Status => ("200 OK", "text/html; charset=utf-8", status_page::render(view)),
        Page::NotFound => ("404 Not Found", TEXT, "not found: try /metrics, /healthz or /status\n".into()),
        Page::Method => ("405 Method Not Allowed", TEXT, "only GET and HEAD\n".into()),
        Page::Bad => ("400 Bad Request", TEXT, "bad request\n".into()),
    };
    let allow = if page == Page::Method { "Allow: GET, HEAD\r\n" } else { "" };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out)?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // Let the client read the answer before the close (no reset for unread request bytes).
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read(&mut buf);
    Ok(())
}

const TEXT: &str = "text/plain; charset=utf-8";

/// Whether `addr` may be used for the admin listener without `--admin-public`.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_path_and_method() {
        assert_eq!(route("GET /metrics HTTP/1.1"), (Page::Metrics, false));
        assert_eq!(route("HEAD /healthz?x=1 HTTP/1.0"), (Page::Health, true));
        assert_eq!(route("GET / HTTP/1.1"), (Page::Status, false));
        assert_eq!(route("POST /metrics HTTP/1.1").0, Page::Method);
        assert_eq!(route("GET /nope HTTP/1.1").0, Page::NotFound);
        assert_eq!(route("garbage").0, Page::Bad);
        assert_eq!(route("GET / SPDY/3").0, Page::Bad);
    }
}
