//! The access log, batched per worker: lines accumulate during a loop turn and go out in one
//! `write` at its end, so logging costs no syscall per request. Three formats
//! (`--log-format`): `common` (Common Log Format), `combined` (nginx's `combined`, which
//! fail2ban's nginx filters read) and `json` (one object per line).
//!
//! The same call counts the request in the worker's metrics block, log or no log: it is the
//! one place every answered request passes with its method, status and start time.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;

use http::header::HeaderValue;
use http::{StatusCode, Uri, Version};

use crate::encode::Asked;
use crate::log_format::LogFormat;
use crate::metrics::Block;
use crate::AccessLog;

#[derive(Debug)]
pub(crate) struct Log {
    out: Option<Sink>,
    buf: Vec<u8>,
    pub(crate) format: LogFormat,
    /// The worker's counters (requests by class and method, latency).
    pub(crate) metrics: Option<Block>,
    /// Lines end with the connection's TLS version and cipher (`Options::log_tls`).
    pub(crate) with_tls: bool,
    /// The TLS version and cipher of the connection being served (set by the worker before
    /// it runs a connection), `None` for plain TCP.
    pub(crate) tls: Option<(&'static str, &'static str)>,
}

#[derive(Debug)]
enum Sink {
    Stderr,
    File(File),
}

impl Log {
    pub(crate) fn open(cfg: &AccessLog) -> io::Result<Log> {
        let out = match cfg {
            AccessLog::Off => None,
            AccessLog::Stderr => Some(Sink::Stderr),
            AccessLog::File(p) => {
                Some(Sink::File(OpenOptions::new().create(true).append(true).open(p).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot open the access log {}: {e}", p.display()))
                })?))
            }
        };
        Ok(Log { out, buf: Vec::new(), format: LogFormat::Common, metrics: None, with_tls: false, tls: None })
    }

    pub(crate) fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// A request answered (or refused before it was understood: no `uri`, logged with `"-"`
    /// as its request line), `bytes` of body sent.
    pub(crate) fn record(
        &mut self,
        peer: &SocketAddr,
        stamp: &[u8],
        asked: &Asked,
        status: StatusCode,
        bytes: u64,
    ) {
        if let Some(m) = &self.metrics {
            m.request(&asked.method, status.as_u16(), asked.started.elapsed());
        }
        if self.out.is_none() {
            return;
        }
        match self.format {
            LogFormat::Json => self.json(peer, stamp, asked, status, bytes),
            f => {
                let b = &mut self.buf;
                let _ = write!(b, "{} - - ", peer.ip());
                b.extend_from_slice(stamp);
                match &asked.uri {
                    Some(uri) => {
                        let _ = write!(b, " \"{} ", asked.method);
                        // The target is the client's bytes: escape anything that could forge
                        // a log line.
                        escape(b, uri.to_string().as_bytes());
                        let _ = write!(b, " {:?}\" {} {}", asked.version, status.as_u16(), bytes);
                    }
                    None => {
                        let _ = write!(b, " \"-\" {} {}", status.as_u16(), bytes);
                    }
                }
                if f == LogFormat::Combined {
                    for v in [&asked.meta.referer, &asked.meta.agent] {
                        b.extend_from_slice(b" \"");
                        match v {
                            Some(v) => escape(b, v.as_bytes()),
                            None => b.push(b'-'),
                        }
                        b.push(b'"');
                    }
                }
                self.end_line();
            }
        }
    }

    fn json(&mut self, peer: &SocketAddr, stamp: &[u8], asked: &Asked, status: StatusCode, bytes: u64) {
        let (referer, agent) = (text(&asked.meta.referer), text(&asked.meta.agent));
        let uri = asked.uri.as_ref().map(target);
        let time = String::from_utf8_lossy(stamp.get(1..stamp.len().saturating_sub(1)).unwrap_or(stamp));
        let line = JsonLine {
            time: &time,
            remote_addr: peer.ip(),
            method: asked.uri.as_ref().map(|_| asked.method.as_str()),
            uri: uri.as_deref(),
            protocol: asked.uri.as_ref().map(|_| version(asked.version)),
            status: status.as_u16(),
            bytes,
            referer: referer.as_deref(),
            user_agent: agent.as_deref(),
            duration: asked.started.elapsed().as_secs_f64(),
            tls_version: self.with_tls.then(|| self.tls.map(|t| t.0)).flatten(),
            tls_cipher: self.with_tls.then(|| self.tls.map(|t| t.1)).flatten(),
        };
        if serde_json::to_writer(&mut self.buf, &line).is_ok() {
            self.buf.push(b'\n');
        }
    }

    /// ` TLSv1.3 TLS_AES_128_GCM_SHA256` (or ` - -` over plain TCP) when asked for, then the
    /// newline.
    fn end_line(&mut self) {
        if self.with_tls {
            let (v, c) = self.tls.unwrap_or(("-", "-"));
            let _ = write!(self.buf, " {v} {c}");
        }
        self.buf.push(b'\n');
    }

    /// Writes what the turn logged. A failing log never stops the server.
    pub(crate) fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let _ = match &mut self.out {
            Some(Sink::Stderr) => io::stderr().lock().write_all(&self.buf),
            Some(Sink::File(f)) => f.write_all(&self.buf),
            None => Ok(()),
        };
        self.buf.clear();
    }
}

/// One `json` line. `method`, `uri` and `protocol` are null for a request refused before
/// its line was understood.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    time: &'a str,
    remote_addr: std::net::IpAddr,
    method: Option<&'a str>,
    uri: Option<&'a str>,
    protocol: Option<&'static str>,
    status: u16,
    bytes: u64,
    referer: Option<&'a str>,
    user_agent: Option<&'a str>,
    /// Seconds from the complete request head to the log line.
    duration: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cipher: Option<&'static str>,
}

/// A header's value as text (invalid UTF-8 replaced, no copy when valid).
fn text(v: &Option<HeaderValue>) -> Option<std::borrow::Cow<'_, str>> {
    v.as_ref().map(|v| String::from_utf8_lossy(v.as_bytes()))
}

/// The request target as the client sent it (origin form needs no allocation).
fn target(uri: &Uri) -> std::borrow::Cow<'_, str> {
    match (uri.scheme(), uri.path_and_query()) {
        (None, Some(pq)) => pq.as_str().into(),
        _ => uri.to_string().into(),
    }
}

fn version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Client bytes in a quoted field: `"`, `\`, controls and non-ASCII as `\xHH` (as nginx
/// escapes them), so no client can end the field or the line.
fn escape(b: &mut Vec<u8>, bytes: &[u8]) {
    for &c in bytes {
        if (c.is_ascii_graphic() || c == b' ') && c != b'"' && c != b'\\' {
            b.push(c);
        } else {
            let _ = write!(b, "\\x{c:02x}");
        }
    }
}
