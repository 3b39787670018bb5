//! A bounded free list, one per worker (no locks): connections take buffers when they have work
//! and give them back when they go idle, so an idle keep-alive connection holds no buffer.

/// A per-worker pool of reusable values.
#[derive(Debug)]
pub struct Pool<T> {
    free: Vec<T>,
    max_free: usize,
}

impl<T> Pool<T> {
    /// A pool that keeps at most `max_free` idle values; more are dropped on `put`.
    pub fn new(max_free: usize) -> Self {
        Pool { free: Vec::new(), max_free }
    }

    /// A pooled value, or a fresh one from `make`.
    pub fn take_or(&mut self, make: impl FnOnce() -> T) -> T {
        self.free.pop().unwrap_or_else(make)
    }

    /// Returns a value (already reset by the caller) to the pool.
    pub fn put(&mut self, value: T) {
        if self.free.len() < self.max_free {
            self.free.push(value);
        }
    }

    /// How many values wait in the pool.
    pub fn idle(&self) -> usize {
        self.free.len()
    }
}
