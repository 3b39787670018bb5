//! The access log, Common Log Format, batched per worker: lines accumulate during a loop turn
//! and go out in one `write` at its end, so logging costs no syscall per request.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;

use http::{Method, StatusCode, Uri, Version};

use crate::AccessLog;

#[derive(Debug)]
pub(crate) struct Log {
    out: Option<Sink>,
    buf: Vec<u8>,
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
        Ok(Log { out, buf: Vec::new(), with_tls: false, tls: None })
    }

    pub(crate) fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// `host - - [date] "METHOD target VERSION" status bytes`
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        peer: &SocketAddr,
        stamp: &[u8],
        method: &Method,
        uri: &Uri,
        version: Version,
        status: StatusCode,
        bytes: u64,
    ) {
        if self.out.is_none() {
            return;
        }
        let b = &mut self.buf;
        let _ = write!(b, "{} - - ", peer.ip());
        b.extend_from_slice(stamp);
        let _ = write!(b, " \"{} ", method);
        // The target is the client's bytes: escape anything that could forge a log line.
        for &c in uri.to_string().as_bytes() {
            if c.is_ascii_graphic() && c != b'"' && c != b'\\' {
                b.push(c);
            } else {
                let _ = write!(b, "\\x{c:02x}");
            }
        }
        let _ = write!(b, " {:?}\" {} {}", version, status.as_u16(), bytes);
        self.end_line();
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

    /// A request refused before it was understood (400, 408, ...): `"-"` as the request line.
    pub(crate) fn record_refused(&mut self, peer: &SocketAddr, stamp: &[u8], status: StatusCode, bytes: u64) {
        if self.out.is_none() {
            return;
        }
        let _ = write!(self.buf, "{} - - ", peer.ip());
        self.buf.extend_from_slice(stamp);
        let _ = write!(self.buf, " \"-\" {} {}", status.as_u16(), bytes);
        self.end_line();
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
