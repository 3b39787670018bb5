//! The one place a response head is encoded, and the placing of its body in the output:
//! a handler's answer, a task's head and the server's own error pages all pass through
//! [`head`].

use std::io;

use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use http::{HeaderMap, Method, Response, StatusCode, Uri, Version};
use pollux_http1::{encode_head, Framing, ResponseHead};

use crate::date::Clock;
use crate::output::{Output, Sending, INLINE_BYTES, INLINE_FILE};
use crate::{Body, PreparedFields};

/// What encoding an answer needs to know of its request, kept while the answer is computed.
pub(crate) struct Asked {
    pub(crate) method: Method,
    pub(crate) version: Version,
    /// The request allows the connection to go on (RFC 9112 §9.3), and the server is not
    /// shutting down.
    pub(crate) keep_alive: bool,
    /// For the access log, when it is on.
    pub(crate) uri: Option<Uri>,
    /// When the request's head was complete (the worker's turn time): the latency histogram
    /// counts from here.
    pub(crate) started: std::time::Instant,
    /// `Referer` and `User-Agent`, kept only when the log format shows them.
    pub(crate) meta: crate::log_format::Meta,
}

impl Asked {
    pub(crate) fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }

    /// What a refused request (no head could be parsed) is answered as.
    pub(crate) fn refused(started: std::time::Instant) -> Asked {
        Asked {
            // Counted as `other` in the metrics; the log shows `"-"` for the request line.
            method: Method::from_bytes(b"-").unwrap_or(Method::GET),
            version: Version::HTTP_11,
            keep_alive: false,
            uri: None,
            started,
            meta: crate::log_format::Meta::default(),
        }
    }
}

/// A response on its way to the wire: a handler's `Response`, or a prepared reply's parts.
pub(crate) struct Outgoing {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) prepared: Option<PreparedFields>,
    pub(crate) body: Body,
}

impl From<Response<Body>> for Outgoing {
    fn from(r: Response<Body>) -> Outgoing {
        let (parts, body) = r.into_parts();
        Outgoing { status: parts.status, headers: parts.headers, prepared: None, body }
    }
}

pub(crate) fn internal_error() -> Response<Body> {
    let mut r = Response::new(Body::from("500 Internal Server Error\n"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

/// What [`head`] decided.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) framing: Framing,
    /// The connection closes after this answer.
    pub(crate) close: bool,
    /// A body follows the head (not for HEAD, 1xx, 204, 304).
    pub(crate) with_body: bool,
}

/// The worker's parts of every head: the `Server` name and the current `Date`.
#[derive(Clone, Copy)]
pub(crate) struct Stamp<'a> {
    pub(crate) clock: &'a Clock,
    pub(crate) server: &'a str,
    /// Encoded field lines for every response of this connection (HSTS over TLS).
    pub(crate) extra: &'a [u8],
}

/// Encodes the head answering `asked` into `out`: the framing (RFC 9112 §6) chosen from the
/// method, version, status and body length, and whether the connection goes on (the request,
/// the handler's own `Connection: close`, a close-delimited body).
#[allow(clippy::too_many_arguments)]
pub(crate) fn head(
    out: &mut Vec<u8>,
    stamp: Stamp<'_>,
    asked: &Asked,
    status: StatusCode,
    headers: &HeaderMap,
    len: Option<u64>,
    prepared: Option<&PreparedFields>,
) -> Head {
    let framing = Framing::choose(&asked.method, asked.version, status, len);
    let close = !asked.keep_alive || framing == Framing::Close || wants_close(headers);
    encode_head(
        out,
        &ResponseHead {
            status,
            headers,
            framing,
            close,
            keep_alive_header: asked.version == Version::HTTP_10 && !close,
            date: stamp.clock.http(),
            server: stamp.server.as_bytes(),
            server_and_date: stamp.clock.server_and_date(),
            encoded: prepared.map(PreparedFields::encoded),
            extra: stamp.extra,
        },
    );
    let with_body = asked.method != Method::HEAD && !matches!(framing, Framing::None);
    Head { framing, close, with_body }
}

/// Puts `body` behind its head: copied into the buffer when small, queued as the body to
/// send after it when large. Returns the bytes promised and whether the connection must
/// close (a file that could not be read).
pub(crate) fn place_body(out: &mut Output, h: Head, body: Body, len: Option<u64>) -> (u64, bool) {
    if !h.with_body {
        return (0, false);
    }
    match body {
        Body::Empty => {}
        Body::Bytes(b) if b.len() > INLINE_BYTES => out.sending = Some(Sending::Bytes(b)),
        Body::Bytes(b) => out.wbuf.extend_from_slice(&b),
        Body::File { file, offset, len } if len <= INLINE_FILE => {
            if read_file_into(&file, offset, len, &mut out.wbuf).is_err() {
                // The head promised `len` bytes we cannot deliver: the only honest end of
                // this message is closing the connection.
                return (0, true);
            }
        }
        Body::File { file, offset, len } => {
            out.sending = Some(Sending::File { file, offset, left: len, corked: false })
        }
        Body::Stream(stream) => {
            out.sending = Some(Sending::Stream { stream, chunked: h.framing == Framing::Chunked, left: len })
        }
    }
    (len.unwrap_or(0), false)
}

/// The server's own plain-text answer for `status` (408, 400, a failed task's 502…).
/// Returns the head's decisions and the body length.
pub(crate) fn error_page(
    out: &mut Vec<u8>,
    stamp: Stamp<'_>,
    asked: &Asked,
    status: StatusCode,
) -> (Head, u64) {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    let body = crate::status_text(status);
    let h = head(out, stamp, asked, status, &headers, Some(body.len() as u64), None);
    if h.with_body {
        out.extend_from_slice(&body);
        return (h, body.len() as u64);
    }
    (h, 0)
}

/// `Connection: close` from the handler.
fn wants_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .any(|v| v.as_bytes().split(|&c| c == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close")))
}

fn read_file_into(file: &std::fs::File, offset: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let start = out.len();
    out.resize(start + len as usize, 0);
    let res = file.read_exact_at(&mut out[start..], offset);
    if res.is_err() {
        out.truncate(start);
    }
    res
}
