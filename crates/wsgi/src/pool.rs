//! The Python threads and the queue of requests waiting for one.
//!
//! A thread holds the GIL while it runs Python and lets go of it whenever it waits: for a
//! request, for body bytes, for the client to take output. It takes the next request before
//! letting go, so under load one thread serves a batch of requests without a GIL hand-off
//! between them. A request is pushed with at most one sleeping thread woken at a time (a
//! woken thread wakes the next if more are queued), so a burst does not wake every thread to
//! fight over the GIL.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use http::request::Parts;
use pyo3::Python;

use crate::exchange::Exchange;
use crate::run::App;

/// What the app's thread needs of a request.
pub(crate) struct Request {
    pub(crate) parts: Parts,
    pub(crate) peer: SocketAddr,
    pub(crate) local: Option<SocketAddr>,
    /// The body, when it came whole with the request rather than streamed.
    pub(crate) body: Option<bytes::Bytes>,
}

pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) exchange: Arc<Exchange>,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Threads asleep on the condition variable.
    idle: usize,
    /// Threads woken and not yet running.
    waking: usize,
}

pub(crate) struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    cap: usize,
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

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a request; gives it back when the queue is full.
    #[allow(clippy::result_large_err)] // the job, given back whole to be answered 503
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        let mut q = self.lock();
        if q.jobs.len() >= self.cap {
            return Err(job);
        }
        q.jobs.push_back(job);
        let wake = q.idle > 0 && q.waking == 0;
        if wake {
            q.idle -= 1;
            q.waking += 1;
        }
        drop(q);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// A thread's life: take a request (waiting without the GIL when there is none), run it.
    fn serve(&self, py: Python<'_>, app: &App) {
        loop {
            let next = self.lock().jobs.pop_front();
            let job = match next {
                Some(job) => job,
                None => py.detach(|| self.wait()),
            };
            app.run(py, job);
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

    /// Sleeps until a request is queued and takes it.
    fn wait(&self) -> Job {
        let mut q = self.lock();
        loop {
            if let Some(job) = q.jobs.pop_front() {
                // More are queued and threads sleep: pass the wake-up on.
                let chain = !q.jobs.is_empty() && q.idle > 0 && q.waking == 0;
                if chain {
                    q.idle -= 1;
                    q.waking += 1;
                }
                drop(q);
                if chain {
                    self.ready.notify_one();
                }
                return job;
            }
            q.idle += 1;
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            // Woken by submit (which counted us out of idle and into waking), or spuriously.
            if q.waking > 0 {
                q.waking -= 1;
            } else {
                q.idle -= 1;
            }
        }
    }
}
