//! Local policy: our caps for negotiated options and our retransmission behaviour.

use std::time::Duration;

use crate::blksize::{MAX_BLKSIZE, MIN_BLKSIZE};

/// Settings for one side of transfers; one value is typically shared by a whole server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long to wait for the peer before retransmitting, unless the `timeout` option
    /// (RFC 2349) was negotiated. Default 1 s.
    pub timeout: Duration,
    /// Consecutive retransmissions without progress before the transfer fails with
    /// [`crate::TransferError::TimedOut`]. Default 5.
    pub max_retries: u32,
    /// The largest blksize a server accepts (RFC 2348); requests above it are clamped down.
    /// Default 1468: a DATA packet then fits an Ethernet MTU (1500 − IPv4 20 − UDP 8 − TFTP 4)
    /// and never needs IP fragmentation, whose loss would cost the whole block.
    pub max_blksize: u16,
    /// The largest windowsize a server accepts (RFC 7440); requests above it are clamped down.
    /// Default 64. A sender buffers up to `windowsize × blksize` bytes per transfer.
    pub max_window: u16,
    /// How many timeouts the receiver dallies after its final ACK, re-acknowledging a
    /// retransmitted last DATA (RFC 1350 §6) before it closes. Default 4: the sender's
    /// retransmissions come one timeout apart, so with 2 the second one raced the end of the
    /// dally and a lost final ACK plus one lost retransmission (1% of uploads at 10% loss)
    /// failed a transfer whose data had all arrived; with 4, three retransmissions in a row
    /// must be lost.
    pub dally_timeouts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: Duration::from_secs(1),
            max_retries: 5,
            max_blksize: 1468,
            max_window: 64,
            dally_timeouts: 4,
        }
    }
}

impl Config {
    /// `max_blksize` within the range RFC 2348 allows.
    pub(crate) fn blksize_cap(&self) -> u16 {
        self.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE)
    }

    /// `max_window`, at least 1.
    pub(crate) fn window_cap(&self) -> u16 {
        self.max_window.max(1)
    }
}
