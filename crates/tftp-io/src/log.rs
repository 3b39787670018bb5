//! The log line per transfer (peer, file, mode, bytes, duration, result), and per refusal.
//!
//! One `write_all` of a whole line on a locked stderr, so lines from several workers never
//! interleave.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Instant;

use pollux_tftp::{Request, RequestKind};

use crate::config::ServerConfig;
use crate::files::Refusal;
use crate::transfer::Transfer;

/// `tftp: PEER RRQ "name" MODE refused: REASON`
pub(crate) fn refusal(config: &ServerConfig, src: SocketAddr, request: &Request<'_>, r: &Refusal) {
    if config.log {
        let kind = kind_name(request.kind);
        let src = SocketAddr::new(src.ip().to_canonical(), src.port());
        let line = format!(
            "tftp: {src} {kind} {:?} {} refused: {}\n",
            request.filename,
            request.mode.as_str(),
            r.message
        );
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }
}

fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Read => "RRQ",
        RequestKind::Write => "WRQ",
    }
}

/// `tftp: PEER RRQ "name" MODE BYTES bytes SECONDSs ok` (or `failed: REASON`).
pub(crate) fn transfer(config: &ServerConfig, t: &Transfer, now: Instant) {
    if !config.log {
        return;
    }
    let result = match &t.outcome {
        Some(Ok(())) => "ok".to_owned(),
        Some(Err(e)) => format!("failed: {e}"),
        None => "unknown".to_owned(),
    };
    let secs = now.saturating_duration_since(t.started).as_secs_f64();
    let peer = SocketAddr::new(t.peer.ip().to_canonical(), t.peer.port());
    let line = format!(
        "tftp: {} {} {:?} {} {} bytes {:.3}s {}\n",
        peer,
        kind_name(t.kind()),
        t.filename,
        t.mode.as_str(),
        t.bytes,
        secs,
        result
    );
    let _ = io::stderr().lock().write_all(line.as_bytes());
}
