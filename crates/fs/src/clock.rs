//! The clock the file cache's revalidation window and the sidecar probes' lifetime are
//! measured on: a [`Clock`], read once per lookup and handed down as a plain `Duration`, so the
//! cache and the coding layer take the time as an argument and tests can run them on a
//! simulated one ([`ServeDir::clock`](crate::ServeDir::clock)).

use std::time::Duration;

/// A monotonic clock: the time since some fixed, arbitrary start. A plain function pointer,
/// not a trait object: one indirect call per lookup, no allocation or reference count per
/// request, and `ServeDir` stays `Clone + Send + Sync` for free.
pub type Clock = fn() -> Duration;

/// The default [`Clock`]: the monotonic clock at the kernel's tick resolution
/// (`CLOCK_MONOTONIC_COARSE`, a few ms). Plenty for a one-second window, and it reads a cached
/// value where `Instant::now` reads the TSC — the latter showed as 1.5% of the cycles of a
/// pipelined 1 KiB file request (and ~110 instructions per compressed answer).
pub fn coarse_monotonic() -> Duration {
    pollux_reactor::sys::coarse_monotonic()
}
