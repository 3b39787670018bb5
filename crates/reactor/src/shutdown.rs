//! Graceful shutdown: one state for the whole server, and a wake-up for every worker.
//!
//! A graceful shutdown has two phases, so that a load balancer notices a server is leaving
//! before its listeners close:
//!
//! ```text
//!   begin_draining(delay) ─► Draining: still accepting; the service answers with
//!                            `Connection: close` and closes idle connections
//!   delay over, or stop_accepting() ─► Closing: what is queued is accepted, the listeners
//!                            close, the workers exit when no connection is left (or at grace)
//! ```
//!
//! With the signal handlers installed, the first SIGINT or SIGTERM begins it; a second one
//! during the delay skips the rest of the delay; one more exits at once. The signals are
//! caught on a thread of their own (signal-hook's iterator, which keeps the handler
//! async-signal-safe), never inside a worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::Waker;

/// Something to run once when a graceful shutdown begins (report it to health checks, say).
type Hook = Box<dyn Fn() + Send + Sync>;

/// Shared shutdown state. Cloning shares it.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    begun: AtomicBool,
    /// Until when the listeners keep accepting (`None` before the shutdown began).
    accept_until: Mutex<Option<Instant>>,
    wakers: Mutex<Vec<Arc<Waker>>>,
    hooks: Mutex<Vec<Hook>>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown").field("begun", &self.is_begun()).finish()
    }
}

impl Shutdown {
    /// A fresh, not yet begun, shutdown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the graceful shutdown with no drain delay: the listeners close at once (after
    /// taking what is queued). Idempotent.
    pub fn begin(&self) {
        self.begin_draining(Duration::ZERO);
    }

    /// Starts the graceful shutdown: connections are told to close from now on, and the
    /// listeners keep accepting for `delay` more. Only the first call counts.
    pub fn begin_draining(&self, delay: Duration) {
        {
            let mut until = self.inner.accept_until.lock().unwrap_or_else(PoisonError::into_inner);
            if until.is_some() {
                return;
            }
            *until = Some(Instant::now() + delay);
            self.inner.begun.store(true, Ordering::SeqCst);
        }
        for hook in self.inner.hooks.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            hook();
        }
        self.wake_all();
    }

    /// Ends the drain delay now (a second signal): the listeners close. Begins the shutdown
    /// if it had not begun.
    pub fn stop_accepting(&self) {
        self.begin_draining(Duration::ZERO);
        let now = Instant::now();
        if let Some(t) = self.inner.accept_until.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            *t = (*t).min(now);
        }
        self.wake_all();
    }

    /// Whether the shutdown began ([`begin`](Self::begin) or
    /// [`begin_draining`](Self::begin_draining) was called).
    pub fn is_begun(&self) -> bool {
        self.inner.begun.load(Ordering::SeqCst)
    }

    /// Until when the listeners keep accepting: `None` before the shutdown began.
    pub fn accept_until(&self) -> Option<Instant> {
        *self.inner.accept_until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the drain delay is still running (the shutdown began, the listeners accept).
    pub fn in_delay(&self) -> bool {
        self.accept_until().is_some_and(|t| Instant::now() < t)
    }

    /// Runs `hook` when the shutdown begins (at once if it already has).
    pub fn on_begin(&self, hook: impl Fn() + Send + Sync + 'static) {
        if self.is_begun() {
            hook();
            return;
        }
        self.inner.hooks.lock().unwrap_or_else(PoisonError::into_inner).push(Box::new(hook));
    }

    fn wake_all(&self) {
        for w in self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = w.wake();
        }
    }

    pub(crate) fn register(&self, waker: Arc<Waker>) {
        self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner).push(waker);
        // A signal that arrived before this worker registered must still reach it.
        if self.is_begun() {
            self.wake_all();
        }
    }

    /// Catches SIGINT and SIGTERM on a background thread: the first begins a graceful
    /// shutdown with no drain delay, the second exits the process at once with status 130.
    pub fn install_signal_handlers(&self) -> std::io::Result<()> {
        self.install_draining_signal_handlers(Duration::ZERO)
    }

    /// Catches SIGINT and SIGTERM on a background thread: the first begins a graceful
    /// shutdown that keeps accepting for `delay`, a second one during the delay ends it, and
    /// one more exits the process at once with status 130.
    pub fn install_draining_signal_handlers(&self, delay: Duration) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let me = self.clone();
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            for _ in signals.forever() {
                if !me.is_begun() {
                    me.begin_draining(delay);
                } else if me.in_delay() {
                    me.stop_accepting();
                } else {
                    std::process::exit(130);
                }
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_runs_from_the_first_begin_and_a_stop_ends_it() {
        let s = Shutdown::new();
        assert_eq!(s.accept_until(), None);
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        s.on_begin(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        s.begin_draining(Duration::from_secs(60));
        assert!(s.is_begun() && s.in_delay());
        let first = s.accept_until();
        // A later begin neither moves the end nor runs the hooks again.
        s.begin_draining(Duration::from_secs(600));
        s.begin();
        assert_eq!(s.accept_until(), first);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        s.stop_accepting();
        assert!(!s.in_delay());
        assert!(s.accept_until().is_some_and(|t| t <= Instant::now()));
    }
}
