//! One running script as a worker-local [`Task`]: the request body into its stdin, its stdout
//! through [`OutputParser`] to the client, its stderr to the error log, its exit reaped.
//!
//! ```text
//!   cx.body() ──► pending ──► stdin (id 0)          closed at body_done: the script sees EOF
//!   stdout (id 1) ──► Out::Head(parser) ──► send_head ──► Out::Body ──► cx.send (≤ cx.room())
//!                         │ LocalRedirect ──► cx.redispatch(GET path, no body)
//!                         └ OutputError ────► cx.fail(502)
//!   nph-*: stdout ──► Out::Raw ──► cx.send, as it is
//!   stderr (id 2) ──► lines ──► eprintln!("cgi SCRIPT_NAME: line")
//!   pidfd  (id 3) ──► reaped; stdout at EOF and reaped ──► cx.finish()
//! ```
//!
//! Backpressure: stdout is read only while the connection has room (a slow client stops the
//! script at its next full pipe, not in our memory), and the socket is read only while the
//! body queue is short (a script that does not read stops the client). The response ends
//! when stdout is closed *and* the script is reaped, so a finished response never leaves a
//! zombie behind; a script that closes stdout and lingers is bounded by the task timeout.
//!
//! A client that goes away aborts the task ([`Task::abort`] kills the group) as soon as the
//! server knows: mid-body (the body never ends), when the script's output meets the closed
//! socket, or on a reset. A bare FIN while the script is silent is not taken for a departure:
//! it may be a half-close from a client still waiting for the answer, so such a script runs
//! until it writes or the task timeout.

use std::io::{self, Read, Write};
use std::os::fd::RawFd;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, Request, Response, StatusCode};
use pollux_reactor::mio::event::Event;
use pollux_reactor::mio::unix::{pipe, SourceFd};
use pollux_reactor::mio::Interest;
use pollux_server::{Body, Task, TaskCx};

use crate::permit::{Permit, Redirects};
use crate::process::{Process, Spawned};
use crate::{CgiResponse, Head, OutputParser};

const STDIN: usize = 0;
const STDOUT: usize = 1;
const STDERR: usize = 2;
const EXIT: usize = 3;

/// Longest stderr line kept whole; a longer one is logged in pieces.
const ERR_LINE: usize = 4096;
/// One read from stdout (at most the connection's room, too).
const READ: usize = 32 * 1024;

/// What the script's stdout is in the middle of.
#[derive(Debug)]
enum Out {
    /// The header block (RFC 3875 §6.3).
    Head(Box<OutputParser>),
    /// The body, after the head was sent.
    Body,
    /// An NPH script's whole response, passed through.
    Raw,
}

/// A running script; see the module docs.
#[derive(Debug)]
pub(crate) struct CgiTask {
    /// SCRIPT_NAME, for log lines.
    name: String,
    process: Process,
    stdin: Option<pipe::Sender>,
    /// Body bytes taken but not yet written (a partial write, or a body the handler got whole).
    pending: Option<Bytes>,
    stdout: Option<pipe::Receiver>,
    stderr: Option<pipe::Receiver>,
    err_line: Vec<u8>,
    out: Out,
    /// The request's fields, for a local redirect's request.
    headers: HeaderMap,
    redirects: u8,
    _permit: Permit,
}

impl CgiTask {
    pub(crate) fn new(
        name: String,
        spawned: Spawned,
        initial: Option<Bytes>,
        nph: bool,
        headers: HeaderMap,
        redirects: u8,
        permit: Permit,
    ) -> CgiTask {
        let Spawned { process, stdin, stdout, stderr } = spawned;
        CgiTask {
            name,
            process,
            stdin,
            pending: initial.filter(|b| !b.is_empty()),
            stdout: Some(stdout),
            stderr: Some(stderr),
            err_line: Vec::new(),
            out: if nph { Out::Raw } else { Out::Head(Box::default()) },
            headers,
            redirects,
            _permit: permit,
        }
    }

    fn register(&mut self, cx: &mut TaskCx<'_>) -> io::Result<()> {
        if let Some(tx) = self.stdin.as_mut() {
            cx.register(tx, STDIN, Interest::WRITABLE)?;
        }
        if let Some(rx) = self.stdout.as_mut() {
            cx.register(rx, STDOUT, Interest::READABLE)?;
        }
        if let Some(rx) = self.stderr.as_mut() {
            cx.register(rx, STDERR, Interest::READABLE)?;
        }
        if let Some(fd) = self.process.pidfd() {
            cx.register(&mut SourceFd(&fd as &RawFd), EXIT, Interest::READABLE)?;
        }
        Ok(())
    }

    /// Request body → stdin, until the pipe is full or the body queue is empty.
    fn pump_in(&mut self, cx: &mut TaskCx<'_>) {
        loop {
            let Some(tx) = self.stdin.as_mut() else {
                // The script closed its stdin (or has no body to read): the rest of the body
                // is dropped as it comes, so the connection can carry on after the response.
                self.pending = None;
                while cx.body().is_some() {}
                return;
            };
            let Some(mut chunk) = self.pending.take().or_else(|| cx.body()) else {
                if cx.body_done() {
                    self.stdin = None; // EOF for the script
                }
                return;
            };
            match tx.write(&chunk) {
                Ok(n) => {
                    let rest = chunk.split_off(n);
                    if !rest.is_empty() {
                        self.pending = Some(rest);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.pending = Some(chunk);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.pending = Some(chunk),
                // EPIPE: the script does not want (the rest of) the body. Not an error: many
                // scripts answer without reading it.
                Err(_) => self.stdin = None,
            }
        }
    }

    /// Stdout → the parser or the client, while the client has room.
    fn pump_out(&mut self, cx: &mut TaskCx<'_>) {
        let mut buf = [0u8; READ];
        loop {
            let Some(rx) = self.stdout.as_mut() else { return };
            // The head is bounded by the parser's limit, whatever the client's room.
            let want = match self.out {
                Out::Head(_) => READ,
                Out::Body | Out::Raw => cx.room().min(READ),
            };
            if want == 0 {
                return; // on_room resumes
            }
            match rx.read(&mut buf[..want]) {
                Ok(0) => {
                    self.stdout = None;
                    return self.stdout_closed(cx);
                }
                Ok(n) => {
                    if !self.output(cx, &buf[..n]) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    eprintln!("pollux: cgi {}: reading output: {e}", self.name);
                    return self.fail(cx, StatusCode::BAD_GATEWAY);
                }
            }
        }
    }

    /// Bytes the script wrote. Returns whether to go on reading.
    fn output(&mut self, cx: &mut TaskCx<'_>, data: &[u8]) -> bool {
        let parser = match &mut self.out {
            Out::Body | Out::Raw => {
                cx.send(data);
                return true;
            }
            Out::Head(parser) => parser,
        };
        match parser.handle_bytes(data) {
            Ok(None) => true,
            Ok(Some(head)) => self.head(cx, head),
            Err(e) => {
                eprintln!("pollux: cgi {}: {e}", self.name);
                self.fail(cx, e.status());
                false
            }
        }
    }

    /// The header block is complete.
    fn head(&mut self, cx: &mut TaskCx<'_>, head: Head) -> bool {
        match head.response {
            CgiResponse::Response(r) => {
                let mut resp = Response::new(());
                *resp.status_mut() = r.status;
                *resp.headers_mut() = r.headers;
                cx.send_head(resp, r.content_length);
                self.out = Out::Body;
                cx.send(&head.body_start);
                true
            }
            CgiResponse::LocalRedirect(target) => {
                // §6.2.2: the response is what a GET of that path would get; the script's
                // body is discarded (and the script killed when the task is dropped).
                let mut req = Request::new(Body::Empty);
                *req.uri_mut() = target.into();
                let mut headers = std::mem::take(&mut self.headers);
                for name in [CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING, EXPECT] {
                    headers.remove(name);
                }
                *req.headers_mut() = headers;
                req.extensions_mut().insert(Redirects(self.redirects.saturating_add(1)));
                cx.redispatch(req);
                false
            }
        }
    }

    fn stdout_closed(&mut self, cx: &mut TaskCx<'_>) {
        if let Out::Head(parser) = &mut self.out {
            if let Err(e) = parser.handle_eof() {
                self.drain_stderr();
                let how = match self.process.try_reap() {
                    Some(status) => format!(" ({status})"),
                    None => String::new(),
                };
                eprintln!("pollux: cgi {}: {e}{how}", self.name);
                return self.fail(cx, e.status());
            }
        }
        self.maybe_finish(cx);
    }

    /// The response ends when stdout is closed and the script is reaped (or cannot be
    /// watched: then the drop reaps it).
    fn maybe_finish(&mut self, cx: &mut TaskCx<'_>) {
        if self.stdout.is_some() || matches!(self.out, Out::Head(_)) {
            return;
        }
        if self.process.pidfd().is_some() && self.process.try_reap().is_none() && !self.process.reaped() {
            return;
        }
        self.drain_stderr();
        cx.finish();
    }

    fn fail(&mut self, cx: &mut TaskCx<'_>, status: StatusCode) {
        self.process.kill();
        cx.fail(status);
    }

    /// Stderr → the server's stderr, one line per line, prefixed with the script.
    fn pump_err(&mut self) {
        let mut buf = [0u8; 4096];
        while let Some(rx) = self.stderr.as_mut() {
            match rx.read(&mut buf) {
                Ok(0) => {
                    self.stderr = None;
                    self.flush_err_line();
                }
                Ok(n) => self.err_bytes(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn err_bytes(&mut self, mut data: &[u8]) {
        while let Some(lf) = data.iter().position(|&b| b == b'\n') {
            self.err_line.extend_from_slice(&data[..lf]);
            self.flush_err_line();
            data = &data[lf + 1..];
        }
        self.err_line.extend_from_slice(data);
        if self.err_line.len() >= ERR_LINE {
            self.flush_err_line();
        }
    }

    fn flush_err_line(&mut self) {
        if !self.err_line.is_empty() {
            let line = String::from_utf8_lossy(&self.err_line);
            eprintln!("pollux: cgi {}: {}", self.name, line.trim_end_matches('\r'));
            self.err_line.clear();
        }
    }

    /// What the script wrote to stderr before it ended.
    fn drain_stderr(&mut self) {
        self.pump_err();
        self.flush_err_line();
    }
}

impl Task for CgiTask {
    fn start(&mut self, cx: &mut TaskCx<'_>) {
        if let Err(e) = self.register(cx) {
            eprintln!("pollux: cgi {}: cannot watch the script: {e}", self.name);
            return self.fail(cx, StatusCode::INTERNAL_SERVER_ERROR);
        }
        if matches!(self.out, Out::Raw) {
            cx.send_raw();
        }
        self.pump_in(cx);
        self.pump_out(cx);
        self.pump_err();
    }

    fn on_ready(&mut self, cx: &mut TaskCx<'_>, id: usize, _event: &Event) {
        match id {
            STDIN => self.pump_in(cx),
            STDOUT => self.pump_out(cx),
            STDERR => self.pump_err(),
            _ => {
                // Exited. Its output may still be in the pipe: the end is stdout's EOF.
                self.process.try_reap();
                self.pump_out(cx);
                self.maybe_finish(cx);
            }
        }
    }

    fn on_body(&mut self, cx: &mut TaskCx<'_>) {
        self.pump_in(cx);
    }

    fn on_room(&mut self, cx: &mut TaskCx<'_>) {
        self.pump_out(cx);
    }

    fn on_timeout(&mut self, cx: &mut TaskCx<'_>) {
        eprintln!("pollux: cgi {}: timed out; killing its process group", self.name);
        self.drain_stderr();
        if self.stdout.is_none() && !matches!(self.out, Out::Head(_)) {
            // The whole output was sent; only the script's exit was awaited.
            self.process.kill();
            return cx.finish();
        }
        // Before the head: 504. After it: the response is cut, as it must be.
        self.fail(cx, StatusCode::GATEWAY_TIMEOUT);
    }

    fn abort(&mut self) {
        self.process.kill();
    }
}
