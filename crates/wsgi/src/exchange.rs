//! The meeting point of one request's task (on the worker) and its Python thread: the body
//! on its way in, the head and body on their way out, each bounded.
//!
//! The Python side waits on the condition variable, always without the GIL; the worker side
//! never waits: it takes what is there and is woken ([`TaskWaker`]) when there is more.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use pollux_server::{Nudge, TaskWaker};

/// Request body bytes held for the app beyond which the task stops taking them from the
/// connection (which then stops reading the socket).
pub(crate) const IN_WINDOW: usize = 64 * 1024;
/// Response bytes queued for the client beyond which the app's thread waits.
pub(crate) const OUT_WINDOW: usize = 256 * 1024;

/// The response head as the app set it.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// The body's length when known (the app's `Content-Length`, or a list's total).
    pub(crate) len: Option<u64>,
}

/// A piece of response body.
#[derive(Debug)]
pub(crate) enum Out {
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset` (`wsgi.file_wrapper` around a real file).
    File {
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Bytes(b) => b.len(),
            Out::File { len, .. } => (*len).min(OUT_WINDOW as u64) as usize,
        }
    }
}

/// How the response ended, from the app's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Everything was produced.
    Complete,
    /// The app failed: a 500 before the head, a cut connection after it.
    Failed,
}

/// The client (or the server) went away: the app's thread stops at its next wait.
#[derive(Debug)]
pub(crate) struct Gone;

#[derive(Debug, Default)]
pub(crate) struct State {
    body: VecDeque<Bytes>,
    body_len: usize,
    body_end: bool,
    /// The task left body bytes with the connection for want of room here.
    task_wants_body_room: bool,
    pub(crate) head: Option<Head>,
    pub(crate) out: VecDeque<Out>,
    out_len: usize,
    pub(crate) end: Option<End>,
    /// The Python thread waits on the condition variable.
    python_waits: bool,
    gone: bool,
}

#[derive(Debug)]
pub(crate) struct Exchange {
    state: Mutex<State>,
    python: Condvar,
    waker: TaskWaker,
}

impl Exchange {
    pub(crate) fn new(waker: TaskWaker, body_end: bool) -> Arc<Exchange> {
        let state = State { body_end, ..State::default() };
        Arc::new(Exchange { state: Mutex::new(state), python: Condvar::new(), waker })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.python.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    // ---- the Python side (called without the GIL) ----

    /// Whether the client went away.
    pub(crate) fn is_gone(&self) -> bool {
        self.lock().gone
    }

    /// At most `max` bytes of body, waiting for them; `None` at the end of the body.
    pub(crate) fn read_body(&self, max: usize) -> Result<Option<Bytes>, Gone> {
        let mut g = self.lock();
        loop {
            if g.gone {
                return Err(Gone);
            }
            if let Some(mut b) = g.body.pop_front() {
                if b.len() > max {
                    g.body.push_front(b.split_off(max));
                }
                g.body_len -= b.len();
                if std::mem::take(&mut g.task_wants_body_room) {
                    drop(g);
                    self.waker.wake();
                }
                return Ok(Some(b));
            }
            if g.body_end {
                return Ok(None);
            }
            g.python_waits = true;
            g = self.wait(g);
            g.python_waits = false;
        }
    }

    /// Queues output (a head, body pieces, the end) for the client, then waits while more
    /// than [`OUT_WINDOW`] bytes are queued.
    pub(crate) fn send(
        &self,
        head: Option<Head>,
        out: impl IntoIterator<Item = Out>,
        end: Option<End>,
    ) -> Result<(), Gone> {
        let mut g = self.lock();
        if g.gone {
            return Err(Gone);
        }
        if head.is_some() {
            g.head = head;
        }
        for o in out {
            g.out_len += o.len();
            g.out.push_back(o);
        }
        if end.is_some() {
            g.end = end;
        }
        drop(g);
        if !self.waker.wake() {
            return Err(Gone);
        }
        let mut g = self.lock();
        while g.out_len > OUT_WINDOW && !g.gone {
            g.python_waits = true;
            g = self.wait(g);
            g.python_waits = false;
        }
        if g.gone {
            return Err(Gone);
        }
        Ok(())
    }

    /// The last hand-over of a response: what is left and how it ended. Does not wait for
    /// the client (the app is done; what it produced is already in memory), and leaves the
    /// worker's wake to the caller, who gives it once for a batch of answers.
    pub(crate) fn finish(
        &self,
        head: Option<Head>,
        out: impl IntoIterator<Item = Out>,
        end: End,
    ) -> Option<Nudge> {
        let mut g = self.lock();
        if g.gone {
            return None;
        }
        if head.is_some() {
            g.head = head;
        }
        for o in out {
            g.out_len += o.len();
            g.out.push_back(o);
        }
        g.end = Some(end);
        drop(g);
        self.waker.wake_later()
    }

    // ---- the worker side (never waits) ----

    /// Runs `f` on the state under the lock, then lets the Python thread go on if it waits.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.lock();
        let r = f(&mut g);
        let waits = g.python_waits;
        drop(g);
        if waits {
            self.python.notify_one();
        }
        r
    }

    /// The client is gone (or the server no longer waits): wake the Python thread to stop.
    pub(crate) fn abandon(&self) {
        self.with(|s| s.gone = true);
    }
}

impl State {
    /// Room for more request body.
    pub(crate) fn body_room(&self) -> bool {
        self.body_len < IN_WINDOW
    }

    pub(crate) fn push_body(&mut self, b: Bytes) {
        self.body_len += b.len();
        self.body.push_back(b);
    }

    pub(crate) fn end_body(&mut self) {
        self.body_end = true;
    }

    /// The task stopped taking body for want of room: wake it when the app reads.
    pub(crate) fn want_body_room(&mut self) {
        self.task_wants_body_room = true;
    }

    /// Takes the next piece of output, at most `max` bytes of it.
    pub(crate) fn take_out(&mut self, max: usize) -> Option<Out> {
        let o = self.out.pop_front()?;
        let o = match o {
            Out::Bytes(mut b) if b.len() > max => {
                let rest = b.split_off(max);
                self.out.push_front(Out::Bytes(rest));
                Out::Bytes(b)
            }
            o => o,
        };
        self.out_len = self.out_len.saturating_sub(o.len());
        Some(o)
    }
}
