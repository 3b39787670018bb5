//! O(1) timers for connection deadlines.
//!
//! Every deadline a server keeps is "a fixed duration after now" (head timeout, keep-alive,
//! body and send stalls), so each kind of timer gets its own FIFO queue: arming appends to the
//! tail, and the head is always the earliest deadline of its kind. Arming, re-arming and
//! cancelling are O(1) unlinks and appends on an intrusive doubly linked list indexed by
//! connection token; expiry pops from the heads. This is the degenerate, exact form of a timer
//! wheel: one slot per distinct duration.
//!
//! A token is in at most one queue at a time (a connection is waiting for one thing at once),
//! which keeps the per-connection cost at 16 bytes.

use std::time::{Duration, Instant};

const NIL: u32 = u32::MAX;

/// Which queue a timer sits in: the index into the durations given to [`Timers::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerKind(pub u8);

#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    /// Milliseconds since `Timers::epoch`, wrapping: compared with wrapping subtraction, which is
    /// right as long as no duration exceeds 24 days.
    deadline: u32,
    /// `NIL_KIND` when not armed.
    kind: u8,
}

const NIL_KIND: u8 = u8::MAX;
const UNARMED: Link = Link { prev: NIL, next: NIL, deadline: 0, kind: NIL_KIND };

#[derive(Debug, Clone, Copy)]
struct Queue {
    head: u32,
    tail: u32,
    duration_ms: u32,
}

/// Deadline queues, one per fixed duration.
#[derive(Debug)]
pub struct Timers {
    epoch: Instant,
    queues: Vec<Queue>,
    links: Vec<Link>,
}

impl Timers {
    /// One queue per duration; `TimerKind(i)` arms `durations[i]`.
    pub fn new(durations: &[Duration]) -> Self {
        assert!(durations.len() < NIL_KIND as usize, "too many timer kinds");
        let queues = durations
            .iter()
            .map(|d| Queue { head: NIL, tail: NIL, duration_ms: d.as_millis().min(i32::MAX as u128) as u32 })
            .collect();
        Timers { epoch: Instant::now(), queues, links: Vec::new() }
    }

    fn ms(&self, now: Instant) -> u32 {
        // Wrapping on purpose; see `Link::deadline`.
        now.saturating_duration_since(self.epoch).as_millis() as u32
    }

    /// The duration of a kind.
    pub fn duration(&self, kind: TimerKind) -> Duration {
        Duration::from_millis(u64::from(self.queues[kind.0 as usize].duration_ms))
    }

    /// (Re)arms `token`'s timer of `kind` to fire one duration after `now`.
    pub fn arm(&mut self, token: usize, kind: TimerKind, now: Instant) {
        self.cancel(token);
        if token >= self.links.len() {
            self.links.resize(token + 1, UNARMED);
        }
        let at = self.ms(now);
        let q = &mut self.queues[kind.0 as usize];
        let t = token as u32;
        let old_tail = q.tail;
        self.links[token] =
            Link { prev: old_tail, next: NIL, deadline: at.wrapping_add(q.duration_ms), kind: kind.0 };
        if old_tail == NIL {
            q.head = t;
        } else {
            self.links[old_tail as usize].next = t;
        }
        q.tail = t;
    }

    /// Disarms `token`'s timer, if any.
    pub fn cancel(&mut self, token: usize) {
        let Some(link) = self.links.get(token).copied() else { return };
        if link.kind == NIL_KIND {
            return;
        }
        let q = &mut self.queues[link.kind as usize];
        if link.prev == NIL {
            q.head = link.next;
        } else {
            self.links[link.prev as usize].next = link.next;
        }
        if link.next == NIL {
            q.tail = link.prev;
        } else {
            self.links[link.next as usize].prev = link.prev;
        }
        self.links[token] = UNARMED;
    }

    /// The kind of `token`'s armed timer.
    pub fn armed(&self, token: usize) -> Option<TimerKind> {
        self.links.get(token).filter(|l| l.kind != NIL_KIND).map(|l| TimerKind(l.kind))
    }

    /// How long until the earliest deadline, if any timer is armed.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let at = self.ms(now);
        self.queues
            .iter()
            .filter(|q| q.head != NIL)
            .map(|q| {
                let left = self.links[q.head as usize].deadline.wrapping_sub(at) as i32;
                // Round up so a poll timeout never wakes a millisecond early and spins.
                Duration::from_millis(left.max(0) as u64 + 1)
            })
            .min()
    }

    /// Removes and returns one expired timer, earliest queue first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(usize, TimerKind)> {
        let at = self.ms(now);
        let (kind, token) = self.queues.iter().enumerate().find_map(|(i, q)| {
            (q.head != NIL && at.wrapping_sub(self.links[q.head as usize].deadline) as i32 >= 0)
                .then_some((i, q.head as usize))
        })?;
        self.cancel(token);
        Some((token, TimerKind(kind as u8)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: TimerKind = TimerKind(0);
    const B: TimerKind = TimerKind(1);

    #[test]
    fn fires_in_deadline_order_and_rearm_moves_to_tail() {
        let mut t = Timers::new(&[Duration::from_secs(10), Duration::from_secs(2)]);
        let t0 = t.epoch;
        t.arm(1, A, t0);
        t.arm(2, A, t0 + Duration::from_secs(1));
        t.arm(3, B, t0);
        assert_eq!(t.next_timeout(t0), Some(Duration::from_millis(2001)));
        // Re-arming 1 later puts it behind 2.
        t.arm(1, A, t0 + Duration::from_secs(5));
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(1)), None);
        let later = t0 + Duration::from_secs(20);
        assert_eq!(t.pop_expired(later), Some((2, A)));
        assert_eq!(t.pop_expired(later), Some((1, A)));
        assert_eq!(t.pop_expired(later), Some((3, B)));
        assert_eq!(t.pop_expired(later), None);
        assert_eq!(t.next_timeout(later), None);
    }

    #[test]
    fn cancel_unlinks_from_the_middle_and_switches_kind() {
        let mut t = Timers::new(&[Duration::from_secs(1), Duration::from_secs(3)]);
        let t0 = t.epoch;
        for tok in 0..5 {
            t.arm(tok, A, t0);
        }
        t.cancel(2);
        t.arm(4, B, t0);
        assert_eq!(t.armed(4), Some(B));
        assert_eq!(t.armed(2), None);
        let fired: Vec<_> = std::iter::from_fn(|| t.pop_expired(t0 + Duration::from_secs(2))).collect();
        assert_eq!(fired, vec![(0, A), (1, A), (3, A)]);
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(3)), Some((4, B)));
    }
}
