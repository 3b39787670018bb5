//! Flow-control windows (RFC 9113 §5.2, §6.9), one pair per stream and one for the connection.
//!
//! A [`SendWindow`] is what the peer lets us send; it grows with its WINDOW_UPDATEs and may go
//! negative when a smaller SETTINGS_INITIAL_WINDOW_SIZE arrives (§6.9.2). A [`RecvWindow`] is
//! what we let the peer send; it shrinks with each DATA frame (padding included, §6.1) and
//! reopens only when the server has *consumed* the bytes ([`crate::Connection::release`]), so
//! the memory held in undelivered request bodies never passes the windows we advertised.

use crate::frame::MAX_WINDOW;

/// The window would pass 2^31-1 (§6.9.1): FLOW_CONTROL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// Octets we may still send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow(i64);

impl SendWindow {
    pub(crate) fn new(size: u32) -> SendWindow {
        SendWindow(i64::from(size))
    }

    /// What may go now: never negative.
    pub(crate) fn available(self) -> usize {
        usize::try_from(self.0.max(0)).unwrap_or(usize::MAX)
    }

    /// A WINDOW_UPDATE (§6.9.1).
    pub(crate) fn grow(&mut self, increment: u32) -> Result<(), Overflow> {
        self.shift(i64::from(increment))
    }

    /// A change of SETTINGS_INITIAL_WINDOW_SIZE by `delta` (§6.9.2): may go negative.
    pub(crate) fn shift(&mut self, delta: i64) -> Result<(), Overflow> {
        let next = self.0 + delta;
        if next > i64::from(MAX_WINDOW) {
            return Err(Overflow);
        }
        self.0 = next;
        Ok(())
    }

    /// Octets sent. The caller checked `n <= available()`.
    pub(crate) fn spend(&mut self, n: usize) {
        self.0 -= n as i64;
    }

    #[cfg(test)]
    pub(crate) fn value(self) -> i64 {
        self.0
    }
}

/// Octets the peer may still send us, and those consumed but not yet handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// May go negative when our SETTINGS shrink the initial window after the peer used the
    /// old one.
    window: i64,
    /// Consumed octets not yet announced with WINDOW_UPDATE.
    unacked: u32,
}

/// The peer sent more than the window allowed (§6.9.1): FLOW_CONTROL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded;

impl RecvWindow {
    pub(crate) fn new(size: u32) -> RecvWindow {
        RecvWindow { window: i64::from(size), unacked: 0 }
    }

    /// A flow-controlled frame of `n` octets arrived.
    pub(crate) fn receive(&mut self, n: usize) -> Result<(), Exceeded> {
        let n = i64::try_from(n).map_err(|_| Exceeded)?;
        if n > self.window {
            return Err(Exceeded);
        }
        self.window -= n;
        Ok(())
    }

    /// Our SETTINGS_INITIAL_WINDOW_SIZE changed by `delta` and the peer acknowledged it.
    pub(crate) fn shift(&mut self, delta: i64) {
        self.window += delta;
    }

    /// `n` octets were consumed. Returns the WINDOW_UPDATE increment to send once half of
    /// `target` (the window we advertise) has been consumed: fewer, larger updates.
    pub(crate) fn release(&mut self, n: usize, target: u32) -> Option<u32> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.unacked = self.unacked.saturating_add(n);
        if self.unacked == 0 || self.unacked < target / 2 {
            return None;
        }
        let increment = self.unacked.min(MAX_WINDOW);
        self.unacked -= increment;
        self.window += i64::from(increment);
        Some(increment)
    }

    #[cfg(test)]
    pub(crate) fn value(self) -> i64 {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_window_grows_to_the_maximum_and_no_further() {
        let mut w = SendWindow::new(65_535);
        assert_eq!(w.grow(MAX_WINDOW - 65_535), Ok(()));
        assert_eq!(w.available(), MAX_WINDOW as usize);
        assert_eq!(w.grow(1), Err(Overflow));
        assert_eq!(w.available(), MAX_WINDOW as usize, "a refused update changes nothing");
    }

    #[test]
    fn send_window_goes_negative_and_offers_nothing() {
        let mut w = SendWindow::new(3);
        w.spend(3);
        assert_eq!(w.available(), 0);
        // SETTINGS_INITIAL_WINDOW_SIZE 3 -> 2
        assert_eq!(w.shift(-1), Ok(()));
        assert_eq!(w.value(), -1);
        assert_eq!(w.available(), 0);
        assert_eq!(w.grow(2), Ok(()));
        assert_eq!(w.available(), 1);
    }

    #[test]
    fn recv_window_refuses_more_than_advertised() {
        let mut w = RecvWindow::new(10);
        assert_eq!(w.receive(6), Ok(()));
        assert_eq!(w.receive(5), Err(Exceeded));
        assert_eq!(w.receive(4), Ok(()));
        assert_eq!(w.receive(1), Err(Exceeded));
        assert_eq!(w.receive(0), Ok(()));
    }

    #[test]
    fn recv_window_reopens_in_half_window_steps() {
        let mut w = RecvWindow::new(100);
        w.receive(100).expect("within the window");
        assert_eq!(w.release(30, 100), None);
        assert_eq!(w.release(19, 100), None);
        assert_eq!(w.release(1, 100), Some(50));
        assert_eq!(w.value(), 50);
        assert_eq!(w.release(0, 100), None);
        assert_eq!(w.release(50, 100), Some(50));
        assert_eq!(w.value(), 100);
    }

    #[test]
    fn recv_window_shrunk_by_settings_can_go_negative() {
        let mut w = RecvWindow::new(65_535);
        w.receive(60_000).expect("within the window");
        w.shift(16_384 - 65_535);
        assert_eq!(w.value(), 5_535 - 49_151);
        assert_eq!(w.receive(1), Err(Exceeded));
    }
}
