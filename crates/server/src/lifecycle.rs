//! What the process as a whole is doing, as the admin listener and the signal handling see it:
//! whether it is draining (so `/healthz` turns 503 before the listeners close) and which
//! generation of the configuration it runs (incremented by every reload).
//!
//! One [`Lifecycle`] is shared, behind an `Arc`, by everything that reports or changes the
//! process's state; nothing on a request's path reads it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The process's state as operators see it.
#[derive(Debug)]
pub struct Lifecycle {
    draining: AtomicBool,
    generation: AtomicU64,
}

impl Lifecycle {
    /// Serving, configuration generation 1.
    pub fn new() -> Self {
        Lifecycle { draining: AtomicBool::new(false), generation: AtomicU64::new(1) }
    }

    /// From now on health checks fail; the listeners stay open until the drain delay is over.
    pub fn begin_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether health checks should fail because this process is on its way out.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// The configuration generation: 1 at start, one more after each reload.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Sets the generation (a process started by a reload takes over its parent's count).
    pub fn set_generation(&self, generation: u64) {
        self.generation.store(generation, Ordering::Release);
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle::new()
    }
}
