//! Budgets against frame floods: cheap frames that each cost the server work or queued
//! output (PING and SETTINGS acks, Rapid Reset's HEADERS + RST_STREAM pairs, empty DATA,
//! PRIORITY, refused streams, WINDOW_UPDATE). RFC 9113 §10.5 lets an endpoint treat such
//! "excessive" use as a connection error of type ENHANCE_YOUR_CALM.
//!
//! Each kind has its own token bucket: `burst` frames at once, refilled at `per_second`.
//! Time is the `now_ms` given to [`crate::Connection::handle_read`]; no clock is read here.
//! Tokens are counted in thousandths so that a refill rate below one per millisecond still
//! accrues exactly.

/// A token bucket's size and refill rate, the same for every kind of frame counted.
///
/// The default, 1,000 at once and 100 per second, is far above what clients send in
/// practice (a browser sends a handful of PINGs and SETTINGS per connection, cancels a few
/// dozen streams when a page is left, and sends PRIORITY, if at all, once per request), yet a
/// peer held to 100 cheap frames a second per kind costs the server less than it costs the
/// peer. WINDOW_UPDATE is the exception that legitimately scales with traffic: its bucket is
/// also refilled by every DATA frame we send (see [`Budgets::credit_window_updates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    pub burst: u32,
    pub per_second: u32,
}

impl Default for Flood {
    fn default() -> Self {
        Flood { burst: 1000, per_second: 100 }
    }
}

/// The kinds of frames with a budget each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ping,
    Settings,
    /// RST_STREAM for a stream whose response had not ended (CVE-2023-44487).
    RapidReset,
    /// DATA with no payload and no END_STREAM: no progress, but work for us.
    EmptyData,
    Priority,
    /// HEADERS refused for exceeding SETTINGS_MAX_CONCURRENT_STREAMS.
    Refused,
    WindowUpdate,
}

const KINDS: usize = 7;

impl Kind {
    fn index(self) -> usize {
        self as usize
    }

    /// For logs: the `reason` of the connection error.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Kind::Ping => "PING flood",
            Kind::Settings => "SETTINGS flood",
            Kind::RapidReset => "too many streams reset by the client (Rapid Reset)",
            Kind::EmptyData => "empty DATA flood",
            Kind::Priority => "PRIORITY flood",
            Kind::Refused => "too many streams refused over SETTINGS_MAX_CONCURRENT_STREAMS",
            Kind::WindowUpdate => "WINDOW_UPDATE flood",
        }
    }
}

const MILLI: u64 = 1000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of a token.
    milli: u64,
    last_ms: u64,
}

/// One bucket per [`Kind`].
#[derive(Debug, Clone)]
pub(crate) struct Budgets {
    flood: Flood,
    buckets: [Bucket; KINDS],
}

impl Budgets {
    /// Full buckets: a new connection may burst at once.
    pub(crate) fn new(flood: Flood) -> Budgets {
        let full = u64::from(flood.burst) * MILLI;
        Budgets { flood, buckets: [Bucket { milli: full, last_ms: 0 }; KINDS] }
    }

    /// Spends one token of `kind` at `now_ms`; `false` when the budget is exhausted.
    pub(crate) fn take(&mut self, kind: Kind, now_ms: u64) -> bool {
        let cap = u64::from(self.flood.burst) * MILLI;
        let b = &mut self.buckets[kind.index()];
        // A clock that steps back refills nothing (and is not an error: time is the caller's).
        let elapsed = now_ms.saturating_sub(b.last_ms);
        b.last_ms = b.last_ms.max(now_ms);
        // `per_second` tokens per 1000 ms is `per_second` thousandths per millisecond.
        b.milli = cap.min(b.milli.saturating_add(elapsed.saturating_mul(u64::from(self.flood.per_second))));
        if b.milli < MILLI {
            return false;
        }
        b.milli -= MILLI;
        true
    }

    /// Every DATA frame we send may be answered by a WINDOW_UPDATE for the stream and one
    /// for the connection: those are earned, not a flood.
    pub(crate) fn credit_window_updates(&mut self, frames: u64) {
        let cap = u64::from(self.flood.burst) * MILLI;
        let b = &mut self.buckets[Kind::WindowUpdate.index()];
        b.milli = cap.min(b.milli.saturating_add(frames.saturating_mul(2 * MILLI)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_nothing_without_time() {
        let mut b = Budgets::new(Flood { burst: 3, per_second: 10 });
        assert!(b.take(Kind::Ping, 0));
        assert!(b.take(Kind::Ping, 0));
        assert!(b.take(Kind::Ping, 0));
        assert!(!b.take(Kind::Ping, 0));
        // Other kinds have their own budget.
        assert!(b.take(Kind::Settings, 0));
    }

    #[test]
    fn refill_follows_simulated_time() {
        let mut b = Budgets::new(Flood { burst: 2, per_second: 10 });
        assert!(b.take(Kind::Priority, 1_000));
        assert!(b.take(Kind::Priority, 1_000));
        assert!(!b.take(Kind::Priority, 1_000));
        // 10 per second: one token every 100 ms, none before.
        assert!(!b.take(Kind::Priority, 1_099));
        assert!(b.take(Kind::Priority, 1_100));
        assert!(!b.take(Kind::Priority, 1_100));
        // A long pause refills only up to the burst.
        assert!(b.take(Kind::Priority, 60_000));
        assert!(b.take(Kind::Priority, 60_000));
        assert!(!b.take(Kind::Priority, 60_000));
    }

    #[test]
    fn slow_rates_accrue_in_fractions() {
        let mut b = Budgets::new(Flood { burst: 1, per_second: 3 });
        assert!(b.take(Kind::EmptyData, 0));
        // 3 per second is one per 333.3 ms: 333 ms leaves 999 thousandths.
        assert!(!b.take(Kind::EmptyData, 333));
        assert!(b.take(Kind::EmptyData, 334));
    }

    #[test]
    fn time_stepping_back_refills_nothing() {
        let mut b = Budgets::new(Flood { burst: 1, per_second: 1000 });
        assert!(b.take(Kind::Ping, 5_000));
        assert!(!b.take(Kind::Ping, 4_000));
        assert!(!b.take(Kind::Ping, 5_000));
        assert!(b.take(Kind::Ping, 5_001));
    }

    #[test]
    fn data_sent_earns_window_updates() {
        let mut b = Budgets::new(Flood { burst: 4, per_second: 0 });
        for _ in 0..4 {
            assert!(b.take(Kind::WindowUpdate, 0));
        }
        assert!(!b.take(Kind::WindowUpdate, 0));
        b.credit_window_updates(1);
        assert!(b.take(Kind::WindowUpdate, 0));
        assert!(b.take(Kind::WindowUpdate, 0));
        assert!(!b.take(Kind::WindowUpdate, 0));
        // capped at the burst
        b.credit_window_updates(1_000_000);
        for _ in 0..4 {
            assert!(b.take(Kind::WindowUpdate, 0));
        }
        assert!(!b.take(Kind::WindowUpdate, 0));
    }
}
