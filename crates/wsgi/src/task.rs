//! The worker's half of a WSGI request: hands the request to the pool, moves body bytes to
//! the app's thread, and sends what the app produced as the client takes it.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use pollux_reactor::mio::event::Event;
use pollux_server::{Task, TaskCx, TurnEnd};

use crate::exchange::{End, Exchange, Out};
use crate::job::{Job, Request};
use crate::pool::Pool;

/// One request on its way through the app.
pub(crate) struct WsgiTask {
    pool: Arc<Pool>,
    /// The same pool, as what wakes its threads at the end of the worker's turn.
    turn_end: Arc<dyn TurnEnd>,
    /// The request, until `start` hands it to the pool.
    request: Option<Request>,
    exchange: Option<Arc<Exchange>>,
}

impl WsgiTask {
    pub(crate) fn new(pool: Arc<Pool>, request: Request) -> WsgiTask {
        let turn_end: Arc<dyn TurnEnd> = pool.clone();
        WsgiTask { pool, turn_end, request: Some(request), exchange: None }
    }

    /// Moves body and output as far as each side has room, and ends the response when the
    /// app has.
    fn pump(&mut self, cx: &mut TaskCx<'_>) {
        let Some(x) = self.exchange.clone() else { return };
        let done = x.with(|s| {
            while s.body_room() {
                match cx.body() {
                    Some(b) => s.push_body(b),
                    None => break,
                }
            }
            if cx.body_done() {
                s.end_body();
            } else if !s.body_room() {
                s.want_body_room();
            }
            if let Some(head) = s.head.take() {
                let mut resp = Response::new(());
                *resp.status_mut() = head.status;
                *resp.headers_mut() = head.headers;
                cx.send_head(resp, head.len);
            }
            loop {
                let room = cx.room();
                if room == 0 {
                    break;
                }
                match s.take_out(room) {
                    Some(Out::Bytes(b)) => cx.send(&b),
                    Some(Out::File { file, offset, len }) => send_file(cx, s, file, offset, len),
                    None => break,
                }
            }
            if s.out.is_empty() {
                s.end
            } else {
                None
            }
        });
        match done {
            Some(End::Complete) => cx.finish(),
            Some(End::Failed) => cx.fail(StatusCode::INTERNAL_SERVER_ERROR),
            None => {}
        }
    }
}

/// A file body: `sendfile` when the framing allows, else read here in pieces of the room.
fn send_file(
    cx: &mut TaskCx<'_>,
    s: &mut crate::exchange::State,
    file: Arc<std::fs::File>,
    offset: u64,
    len: u64,
) {
    if cx.send_file(file.clone(), offset, len) {
        return;
    }
    // A chunked response (no length known): each piece needs its framing, so read it.
    let take = (len as usize).min(cx.room()).min(64 * 1024);
    let mut buf = vec![0u8; take];
    let n = match std::os::unix::fs::FileExt::read_at(&*file, &mut buf, offset) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("pollux: wsgi: reading a file_wrapper file: {e}");
            s.end = Some(End::Failed);
            s.out.clear();
            return;
        }
    };
    if n == 0 {
        return; // the file shrank: what it had is sent
    }
    cx.send(&buf[..n]);
    if (n as u64) < len {
        s.out.push_front(Out::File { file, offset: offset + n as u64, len: len - n as u64 });
    }
}

impl Task for WsgiTask {
    fn start(&mut self, cx: &mut TaskCx<'_>) {
        let Some(mut request) = self.request.take() else { return };
        let x = Exchange::new(cx.waker(), cx.body_done());
        if let Some(body) = request.body.take() {
            x.with(|s| s.push_body(body));
        }
        self.exchange = Some(x.clone());
        let submitted = self.pool.submit(Job { request, exchange: x });
        if submitted.is_ok() {
            cx.at_turn_end(&self.turn_end);
        }
        if submitted.is_err() {
            // Every thread is busy and the queue is full: come back shortly (gunicorn and
            // nginx answer the same 503 when they are overloaded).
            self.exchange = None;
            let mut resp = Response::new(());
            *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
            resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            let body = Bytes::from_static(b"503 Service Unavailable: the application is busy\n");
            cx.send_head(resp, Some(body.len() as u64));
            cx.send(&body);
            cx.finish();
            return;
        }
        self.pump(cx);
    }

    fn on_ready(&mut self, _cx: &mut TaskCx<'_>, _id: usize, _event: &Event) {}

    fn on_body(&mut self, cx: &mut TaskCx<'_>) {
        self.pump(cx);
    }

    fn on_room(&mut self, cx: &mut TaskCx<'_>) {
        self.pump(cx);
    }

    fn on_wake(&mut self, cx: &mut TaskCx<'_>) {
        self.pump(cx);
    }

    fn on_timeout(&mut self, cx: &mut TaskCx<'_>) {
        // How long the application may take is its own business (a report, a long poll), as
        // for deferred answers; a client that stops reading is the send timeout's.
        let _ = cx;
    }

    fn abort(&mut self) {
        if let Some(x) = self.exchange.take() {
            x.abandon();
        }
    }
}
