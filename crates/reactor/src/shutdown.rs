//! Graceful shutdown: one flag for the whole server, and a wake-up for every worker.
//!
//! The first SIGINT or SIGTERM begins a graceful shutdown; a second one exits at once. The
//! signal is caught on a thread of its own (signal-hook's iterator, which keeps the handler
//! async-signal-safe), never inside a worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mio::Waker;

/// Shared shutdown state. Cloning shares it.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    begun: AtomicBool,
    wakers: Mutex<Vec<Arc<Waker>>>,
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

    /// Starts the graceful shutdown and wakes every worker. Idempotent.
    pub fn begin(&self) {
        self.inner.begun.store(true, Ordering::SeqCst);
        if let Ok(ws) = self.inner.wakers.lock() {
            for w in ws.iter() {
                let _ = w.wake();
            }
        }
    }

    /// Whether [`begin`](Self::begin) was called.
    pub fn is_begun(&self) -> bool {
        self.inner.begun.load(Ordering::SeqCst)
    }

    pub(crate) fn register(&self, waker: Arc<Waker>) {
        if let Ok(mut ws) = self.inner.wakers.lock() {
            ws.push(waker);
        }
        // A signal that arrived before this worker registered must still reach it.
        if self.is_begun() {
            self.begin();
        }
    }

    /// Catches SIGINT and SIGTERM on a background thread: the first begins a graceful shutdown,
    /// the second exits the process at once with status 130.
    pub fn install_signal_handlers(&self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let me = self.clone();
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            for _ in signals.forever() {
                if me.is_begun() {
                    std::process::exit(130);
                }
                me.begin();
            }
        })?;
        Ok(())
    }
}
