//! The blocking pool: threads for routes marked [`crate::MethodRouter::blocking`], a bounded
//! queue in front of them (full → 503), and a watchdog for [`crate::Router::timeout`].
//!
//! ```text
//!  worker: ConnInfo::defer ─► try_send(job) ──full──► 503 + Retry-After (now)
//!                                  │ queued
//!  pool thread: job ─► handler ─► Slot::take ─► Responder::send ─► worker's Remote ─► socket
//!  watchdog:   deadline ─► Slot::take ─► 503 (never started) or 504 (still running)
//! ```
//!
//! The [`Slot`] makes the answer single: whoever takes the responder first (the job or the
//! watchdog) answers; the other finds the slot empty.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use http::header::{HeaderValue, RETRY_AFTER};
use http::StatusCode;
use pollux_server::Responder;

use crate::response::{IntoResponse, Response};

pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Where a blocking request's answer goes.
#[derive(Debug)]
pub(crate) struct Slot {
    responder: Mutex<Option<Responder>>,
    started: AtomicBool,
}

impl Slot {
    pub(crate) fn new(responder: Responder) -> Arc<Slot> {
        Arc::new(Slot { responder: Mutex::new(Some(responder)), started: AtomicBool::new(false) })
    }

    fn take(&self) -> Option<Responder> {
        self.responder.lock().ok().and_then(|mut r| r.take())
    }

    /// Marks the job started; `false` if it should not run (answered by the watchdog, or the
    /// client is gone).
    pub(crate) fn start(&self) -> bool {
        self.started.store(true, Ordering::Release);
        match self.responder.lock() {
            Ok(r) => r.as_ref().is_some_and(|r| !r.is_cancelled()),
            Err(_) => false,
        }
    }

    pub(crate) fn answer(&self, resp: Response) {
        if let Some(r) = self.take() {
            r.send(resp);
        }
    }
}

/// `503` and `Retry-After: 1`: the pool is saturated; a client may try again shortly.
pub(crate) fn busy() -> Response {
    let mut r = StatusCode::SERVICE_UNAVAILABLE.into_response();
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

pub(crate) struct Pool {
    tx: Sender<Job>,
    watchdog: Option<Sender<(Instant, Weak<Slot>)>>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("timeout", &self.timeout).finish()
    }
}

impl Pool {
    pub(crate) fn start(threads: usize, queue: usize, timeout: Option<Duration>) -> Pool {
        // A zero-capacity channel would be a rendezvous: with every thread busy, all would be
        // refused; "no queue" means exactly that, so it is allowed.
        let (tx, rx) = bounded::<Job>(queue);
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("blocking-{i}")).spawn(move || run(rx));
            if let Err(e) = spawned {
                eprintln!("pollux-web: blocking pool thread {i}: {e}");
            }
        }
        let watchdog = timeout.and_then(|_| {
            let (wtx, wrx) = unbounded();
            std::thread::Builder::new().name("blocking-watchdog".into()).spawn(move || watch(wrx)).ok()?;
            Some(wtx)
        });
        Pool { tx, watchdog, timeout }
    }

    /// Queues `job` for `slot`'s request; gives the job back when the queue is full.
    pub(crate) fn submit(&self, job: Job, slot: &Arc<Slot>, arrived: Instant) -> Result<(), Job> {
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => return Err(job),
        }
        if let (Some(w), Some(t)) = (&self.watchdog, self.timeout) {
            let _ = w.send((arrived + t, Arc::downgrade(slot)));
        }
        Ok(())
    }
}

fn run(rx: Receiver<Job>) {
    for job in rx.iter() {
        // A panicking handler was already turned into a 500 inside the job; this guards the
        // thread against a panic anywhere else in it.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Every deadline is arrival + the same limit, so they come in order: a queue, not a heap.
fn watch(rx: Receiver<(Instant, Weak<Slot>)>) {
    let mut due: VecDeque<(Instant, Weak<Slot>)> = VecDeque::new();
    loop {
        let now = Instant::now();
        while let Some((at, _)) = due.front() {
            if *at > now {
                break;
            }
            let Some((_, slot)) = due.pop_front() else { break };
            let Some(slot) = slot.upgrade() else { continue };
            let Some(r) = slot.take() else { continue };
            if slot.started.load(Ordering::Acquire) {
                r.send(StatusCode::GATEWAY_TIMEOUT.into_response());
            } else {
                r.send(busy());
            }
        }
        let next = match due.front() {
            Some((at, _)) => rx.recv_timeout(at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(entry) => due.push_back(entry),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
