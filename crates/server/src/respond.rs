//! Turning a decoded request into an encoded answer: the handler call (panics caught), the
//! framing decision, the body placement, and the access-log line.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};

use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use pollux_http1::{encode_head, Framing, ResponseHead};

use crate::conn::{Active, InFlight, PendingLog, Sending, INLINE_BYTES, INLINE_FILE};
use crate::handler::{Deferred, Reply};
use crate::service::Env;
use crate::{headers, Body, Handler, PreparedFields, Task};

/// What encoding an answer needs to know of its request, kept while a deferred answer is
/// computed elsewhere.
pub(crate) struct Asked {
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) keep_alive: bool,
    /// For the access log, when it is on.
    pub(crate) uri: Option<Uri>,
}

/// What became of a request handed to the handler.
pub(crate) enum Answer {
    /// Encoded; `true` if the connection must close after it.
    Sent { close: bool },
    /// The handler deferred it: encode with [`finish`] when it arrives.
    Waiting(Asked, Deferred),
    /// A worker-local task produces it.
    Task(Asked, Box<dyn Task>),
}

impl Asked {
    pub(crate) fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
}

/// Calls the handler and encodes its answer, unless the handler defers it.
pub(crate) fn respond<H: Handler>(
    env: &mut Env<H>,
    a: &mut Active,
    r: InFlight,
    peer: &SocketAddr,
    token: usize,
    fd: RawFd,
) -> Answer {
    let InFlight { head, body } = r;
    let asked = Asked {
        method: head.method.clone(),
        version: head.version,
        keep_alive: head.keep_alive && !env.draining,
        uri: env.log.enabled().then(|| head.uri.clone()),
    };
    let mut req = Request::new(body.into_body());
    *req.method_mut() = head.method;
    *req.uri_mut() = head.uri;
    *req.version_mut() = asked.version;
    *req.headers_mut() = head.headers;
    env.info.set(*peer, token, fd);
    let (handler, info) = (&env.handler, &env.info);
    let reply = catch_unwind(AssertUnwindSafe(|| handler.call(req, info))).unwrap_or_else(|_| {
        // The default panic hook has printed the message; the worker carries on.
        Reply::Now(internal_error())
    });
    answer(env, a, asked, reply, peer)
}

/// What becomes of a handler's reply: encoded now, or waited for.
pub(crate) fn answer<H>(
    env: &mut Env<H>,
    a: &mut Active,
    asked: Asked,
    reply: Reply,
    peer: &SocketAddr,
) -> Answer {
    match reply {
        Reply::Now(resp) => Answer::Sent { close: finish(env, a, asked, resp.into(), peer) },
        Reply::Prepared { status, fields, body } => {
            // The handler's request map went back to the pool (or was dropped): it, or an
            // empty one, carries the next request's fields.
            let out = Outgoing { status, headers: headers::take(), prepared: Some(fields), body };
            Answer::Sent { close: finish(env, a, asked, out, peer) }
        }
        Reply::Later(d) => Answer::Waiting(asked, d),
        Reply::Task(t) => Answer::Task(asked, t),
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

/// Encodes the answer to `asked`. Returns whether the connection must close.
pub(crate) fn finish<H>(
    env: &mut Env<H>,
    a: &mut Active,
    asked: Asked,
    out: Outgoing,
    peer: &SocketAddr,
) -> bool {
    let Asked { method, version, keep_alive, uri } = asked;
    let Outgoing { status, headers, prepared, body } = out;
    let len = body.len();
    let framing = Framing::choose(&method, version, status, len);
    let close = !keep_alive || framing == Framing::Close || wants_close(&headers);
    let with_body = method != Method::HEAD && !matches!(framing, Framing::None);
    encode_head(
        &mut a.wbuf,
        &ResponseHead {
            status,
            headers: &headers,
            framing,
            close,
            keep_alive_header: version == Version::HTTP_10 && !close,
            date: env.clock.http(),
            server: env.server_name.as_bytes(),
            server_and_date: env.clock.server_and_date(),
            encoded: prepared.as_ref().map(PreparedFields::encoded),
        },
    );
    let mut sent = 0;
    let mut close = close;
    if with_body {
        sent = len.unwrap_or(0);
        match body {
            Body::Empty => {}
            Body::Bytes(b) if b.len() > INLINE_BYTES => a.sending = Some(Sending::Bytes(b)),
            Body::Bytes(b) => a.wbuf.extend_from_slice(&b),
            Body::File { file, offset, len } if len <= INLINE_FILE => {
                if read_file_into(&file, offset, len, &mut a.wbuf).is_err() {
                    // The head promised `len` bytes we cannot deliver: the only honest end
                    // of this message is closing the connection.
                    close = true;
                }
            }
            Body::File { file, offset, len } => {
                a.sending = Some(Sending::File { file, offset, left: len, corked: false })
            }
            Body::Stream(stream) => {
                a.sending = Some(Sending::Stream { stream, chunked: framing == Framing::Chunked, left: len })
            }
        }
    }
    if let Some(uri) = uri {
        if a.sending.is_some() {
            // A large body: logged once it is out, with the bytes that really went.
            let body_start = a.written + (a.wbuf.len() - a.wpos) as u64;
            a.log_pending = Some(PendingLog { method, uri, version, status, body_start });
        } else {
            env.log.record(peer, env.clock.clf(), &method, &uri, version, status, sent);
        }
    }
    // The next request's fields go into this map: no header map is allocated per request.
    a.decoder.recycle_headers(headers);
    close
}

/// `Connection: close` from the handler.
fn wants_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .any(|v| v.as_bytes().split(|&c| c == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close")))
}

/// A small plain-text error answer that closes the connection (and its access-log line).
pub(crate) fn error_response<H>(env: &mut Env<H>, a: &mut Active, peer: &SocketAddr, status: StatusCode) {
    write_error(env, a, peer, status, true, None);
}

/// A small plain-text error answer; `close` says it ends the connection. `asked`: the request
/// it answers, when there is one (a task that failed), for the log's request line.
pub(crate) fn write_error<H>(
    env: &mut Env<H>,
    a: &mut Active,
    peer: &SocketAddr,
    status: StatusCode,
    close: bool,
    asked: Option<&Asked>,
) {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    let body = crate::status_text(status);
    encode_head(
        &mut a.wbuf,
        &ResponseHead {
            status,
            headers: &headers,
            framing: Framing::Length(body.len() as u64),
            close,
            keep_alive_header: false,
            date: env.clock.http(),
            server: env.server_name.as_bytes(),
            server_and_date: env.clock.server_and_date(),
            encoded: None,
        },
    );
    a.wbuf.extend_from_slice(&body);
    match asked {
        Some(Asked { method, version, uri: Some(uri), .. }) => {
            let sent = if *method == Method::HEAD { 0 } else { body.len() as u64 };
            env.log.record(peer, env.clock.clf(), method, uri, *version, status, sent);
        }
        _ => env.log.record_refused(peer, env.clock.clf(), status, body.len() as u64),
    }
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
