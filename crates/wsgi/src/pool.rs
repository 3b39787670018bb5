//! The Python threads and the queue of requests waiting for one.
//!
//! A thread holds the GIL while it runs Python and lets go of it whenever it waits: for a
//! request, for body bytes, for the client to take output. It takes the next request before
//! letting go, so under load one thread serves a batch of requests without a GIL hand-off
//! between them. A request is pushed with at most one sleeping thread woken at a time (a
//! woken thread wakes the next if more are queued), so a burst does not wake every thread to
//! fight over the GIL.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use pyo3::Python;

use pollux_server::{Nudge, TurnEnd};

use crate::job::Job;
use crate::run::App;

/// Answers a thread gives before it wakes the workers, even with more requests queued: the
/// first of the batch must not wait for long behind the rest.
const BATCH: usize = 32;
/// Requests faster than this on average (µs) have their answers' wake-ups batched.
const QUICK_US: u64 = 100;
/// The longest (µs) an answer is held for its batch before the next request starts.
const HOLD_US: u128 = 1000;

struct Queue {
    jobs: VecDeque<Job>,
    /// Threads asleep on the condition variable.
    idle: usize,
    /// Wake-ups sent and not yet taken by a thread (at most one at a time: a woken thread
    /// passes it on if more requests wait).
    waking: usize,
}

pub(crate) struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    cap: usize,
    /// Python threads started.
    threads: usize,
    /// Requests answered so far, and what to do once `retire.0` were (`--max-requests`).
    answered: AtomicU64,
    retire: OnceLock<(u64, Box<dyn Fn() + Send + Sync>)>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("cap", &self.cap).finish()
    }
}

impl Pool {
    /// Starts `threads` Python threads calling `app`.
    pub(crate) fn start(app: Arc<App>, threads: usize, cap: usize) -> std::io::Result<Arc<Pool>> {
        let pool = Arc::new(Pool {
            queue: Mutex::new(Queue { jobs: VecDeque::new(), idle: 0, waking: 0 }),
            ready: Condvar::new(),
            cap,
            threads: threads.max(1),
            answered: AtomicU64::new(0),
            retire: OnceLock::new(),
        });
        for i in 0..threads.max(1) {
            let (pool, app) = (pool.clone(), app.clone());
            std::thread::Builder::new()
                .name(format!("wsgi-{i}"))
                .stack_size(2 << 20)
                .spawn(move || Python::attach(|py| pool.serve(py, &app)))?;
        }
        Ok(pool)
    }

    /// Requests being called now (threads not asleep) and requests waiting for a thread.
    pub(crate) fn load(&self) -> (usize, usize) {
        let q = self.lock();
        (self.threads.saturating_sub(q.idle), q.jobs.len())
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a request without waking a thread: the worker calls [`TurnEnd::turn_end`] at
    /// the end of its turn, which wakes one for everything queued in the turn. Gives the
    /// request back when the queue is full.
    #[allow(clippy::result_large_err)] // the job, given back whole to be answered 503
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        let mut q = self.lock();
        if q.jobs.len() >= self.cap {
            return Err(job);
        }
        q.jobs.push_back(job);
        Ok(())
    }

    /// A thread's life: take a request (waiting without the GIL when there is none), run it.
    /// The workers are woken for the answers once per batch: before the thread waits for
    /// the next request, or after [`BATCH`] answers in a row.
    fn serve(&self, py: Python<'_>, app: &App) {
        let mut owed: Vec<Nudge> = Vec::new();
        let mut batch = 0;
        // How long requests take here, on average (µs, moving; assumed slow until seen to be
        // quick): only answers of quick requests are held for a batch. What a held answer
        // can wait for is the rest of the batch: quick requests, or at most one that turns
        // out slow.
        let mut typical = 1_000_000u64;
        let mut owed_since = Instant::now();
        loop {
            if typical > QUICK_US || (!owed.is_empty() && owed_since.elapsed().as_micros() > HOLD_US) {
                owed.drain(..).for_each(Nudge::wake);
            }
            let next = if batch >= BATCH { None } else { self.lock().jobs.pop_front() };
            let job = match next {
                Some(job) => job,
                None => {
                    owed.drain(..).for_each(Nudge::wake);
                    batch = 0;
                    // (The guard must be gone before `wait` locks again.)
                    let queued = self.lock().jobs.pop_front();
                    match queued {
                        Some(job) => job,
                        None => py.detach(|| self.wait()),
                    }
                }
            };
            batch += 1;
            let started = Instant::now();
            // A bug of ours must not take a Python thread away for good.
            let nudge = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.run(py, job)))
                .unwrap_or_else(|_| {
                    eprintln!("pollux: wsgi: a request failed inside the server (see the panic above)");
                    None
                });
            let took = started.elapsed().as_micros().min(1_000_000) as u64;
            typical = (typical * 7 + took) / 8;
            if let Some(n) = nudge {
                if owed.is_empty() {
                    owed_since = Instant::now();
                }
                if !owed.iter().any(|o| o.same_worker(&n)) {
                    owed.push(n);
                }
            }
            let n = self.answered.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some((limit, retire)) = self.retire.get() {
                if n == *limit {
                    retire();
                }
            }
        }
    }

    /// Calls `f` once, after `n` requests were answered.
    pub(crate) fn retire_after(&self, n: u64, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.retire.set((n.max(1), f));
    }

    /// Wakes one sleeping thread if requests wait and no wake-up is on its way already.
    fn wake_one(&self, mut q: MutexGuard<'_, Queue>) {
        let wake = !q.jobs.is_empty() && q.idle > 0 && q.waking == 0;
        if wake {
            q.waking += 1;
        }
        drop(q);
        if wake {
            self.ready.notify_one();
        }
    }

    /// Sleeps until a request is queued and takes it.
    fn wait(&self) -> Job {
        let mut q = self.lock();
        loop {
            if let Some(job) = q.jobs.pop_front() {
                // More are queued and threads sleep: pass the wake-up on.
                self.wake_one(q);
                return job;
            }
            q.idle += 1;
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            // Whoever woke (the notified thread, or one woken spuriously) takes the
            // notification: either way a thread is up and looks at the queue.
            q.idle -= 1;
            q.waking = q.waking.saturating_sub(1);
        }
    }
}

impl TurnEnd for Pool {
    /// Requests were queued during the worker's turn: wake a thread (it wakes more if the
    /// queue stays long).
    fn turn_end(&self) {
        self.wake_one(self.lock());
    }
}
