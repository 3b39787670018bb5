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
//!
//! The watchdog's rules live in [`Watchdog`], which has no thread and no clock: arrivals and
//! the current time are passed in (`push`, `handle_timeout`) and the next deadline comes out
//! (`poll_timeout`), so the tests drive it on a simulated clock. Its thread only feeds it the
//! real time. The arrival is stamped by the caller ([`Pool::submit`]'s `arrived`).

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

    /// Answers an overdue request: 503 if its job has not started (it waited in the queue the
    /// whole time), 504 if it is still running. `None` if it was answered already.
    fn expire(&self) -> Option<Overdue> {
        let r = self.take()?;
        if self.started.load(Ordering::Acquire) {
            r.send(StatusCode::GATEWAY_TIMEOUT.into_response());
            Some(Overdue::Running)
        } else {
            r.send(busy());
            Some(Overdue::Queued)
        }
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
        let watchdog = timeout.and_then(|limit| {
            let (wtx, wrx) = unbounded();
            let dog = Watchdog::new(limit);
            std::thread::Builder::new()
                .name("blocking-watchdog".into())
                .spawn(move || watch(wrx, dog))
                .ok()?;
            Some(wtx)
        });
        Pool { tx, watchdog, timeout }
    }

    /// Queues `job` for `slot`'s request, which arrived at `arrived` (the timeout counts from
    /// then); gives the job back when the queue is full.
    pub(crate) fn submit(&self, job: Job, slot: &Arc<Slot>, arrived: Instant) -> Result<(), Job> {
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => return Err(job),
        }
        if let Some(w) = &self.watchdog {
            let _ = w.send((arrived, Arc::downgrade(slot)));
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

/// What the watchdog did to an overdue request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overdue {
    /// Never started: 503 + Retry-After, like a full queue.
    Queued,
    /// Started and still running: 504.
    Running,
}

/// The timeout's rules, without a thread or a clock: requests in with their arrival time,
/// `now` in, answers to the overdue out.
///
/// Why a queue, not a heap: every deadline is arrival + the same limit, and arrivals come in
/// order, so deadlines do too.
#[derive(Debug)]
pub(crate) struct Watchdog {
    limit: Duration,
    due: VecDeque<(Instant, Weak<Slot>)>,
}

impl Watchdog {
    pub(crate) fn new(limit: Duration) -> Watchdog {
        Watchdog { limit, due: VecDeque::new() }
    }

    /// A request that arrived at `arrived` is waiting in the pool.
    pub(crate) fn push(&mut self, arrived: Instant, slot: Weak<Slot>) {
        self.due.push_back((arrived + self.limit, slot));
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work, if ever.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.due.front().map(|(at, _)| *at)
    }

    /// The clock reached `now`: every request whose deadline is `now` or earlier and that is
    /// still unanswered gets its 503 or 504. Returns what was done, in deadline order.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Overdue> {
        let mut done = Vec::new();
        while self.due.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, slot)) = self.due.pop_front() else { break };
            // Gone (the request finished and its slot was dropped) or answered: nothing to do.
            if let Some(overdue) = slot.upgrade().and_then(|s| s.expire()) {
                done.push(overdue);
            }
        }
        done
    }
}

/// The watchdog's thread: feeds it arrivals and the real time.
fn watch(rx: Receiver<(Instant, Weak<Slot>)>, mut dog: Watchdog) {
    loop {
        let now = Instant::now();
        dog.handle_timeout(now);
        let next = match dog.poll_timeout() {
            Some(at) => rx.recv_timeout(at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((arrived, slot)) => dog.push(arrived, slot),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
