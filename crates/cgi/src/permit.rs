//! What bounds the scripts a [`crate::Cgi`] runs: a [`Permit`] per running script under a
//! limit shared by all workers (`--cgi-max`; past it, 503), and the count of local redirects
//! that led to a request ([`Redirects`], at most [`MAX_REDIRECTS`]). The handler takes them
//! out and the script's task carries them, so both use this module and neither the other.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Local redirects in a row before the request fails (Apache's limit): a script that
/// redirects to itself must not keep the server busy forever.
pub(crate) const MAX_REDIRECTS: u8 = 10;

/// Scripts running across all workers.
#[derive(Debug)]
pub(crate) struct Limit {
    max: usize,
    running: AtomicUsize,
}

/// One running script's place under the limit, given back when its task is dropped.
#[derive(Debug)]
pub(crate) struct Permit(Arc<Limit>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limit {
    /// At most `max` scripts at once (`Cgi::max`).
    pub(crate) fn new(max: usize) -> Arc<Limit> {
        Arc::new(Limit { max, running: AtomicUsize::new(0) })
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Scripts running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// A place under the limit, or `None` when `max` scripts run (the caller's 503).
    pub(crate) fn acquire(self: &Arc<Self>) -> Option<Permit> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1))
            .ok()?;
        Some(Permit(self.clone()))
    }
}

/// How many local redirects led to this request (a request extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Redirects(pub(crate) u8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_permits() {
        let limit = Limit::new(2);
        let a = limit.acquire();
        let b = limit.acquire();
        assert!(a.is_some() && b.is_some());
        assert!(limit.acquire().is_none());
        drop(a);
        assert!(limit.acquire().is_some());
    }
}
