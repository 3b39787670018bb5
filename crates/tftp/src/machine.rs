//! What every transfer offers its driver, whichever way the file goes: the inputs
//! (`handle_*`), the outputs (`poll_*`), the local abort and the end. One driver loop serves
//! a [`Sender`] and a [`Receiver`] alike through this trait, and adds only the file side:
//! feeding the sender, draining the receiver.

use std::net::SocketAddr;
use std::time::Instant;

use crate::{ErrorCode, Event, Receiver, Sender, TransferOptions};

/// A transfer's protocol machine: [`Sender`] or [`Receiver`]. Each method is the inherent
/// method of the same name; see [`Sender`] for how to drive one.
pub trait Machine {
    /// A datagram arrived from `src`.
    fn handle_datagram(&mut self, now: Instant, src: SocketAddr, datagram: &[u8]);
    /// The clock reached `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// When [`handle_timeout`](Self::handle_timeout) wants to run, if at all.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Writes the next datagram into `buf` (cleared first) and returns where to send it;
    /// `now` times the DATA a sender puts on the wire (a receiver ignores it).
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<SocketAddr>;
    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Event>;
    /// Ends the transfer locally, sending the peer ERROR `code` with `message` if it is known.
    fn abort(&mut self, code: ErrorCode, message: &str);
    /// Over, with nothing left to send: the driver may drop it.
    fn is_closed(&self) -> bool;
    /// The options in force (defaults until negotiation is over).
    fn options(&self) -> TransferOptions;
}

macro_rules! machine {
    ($t:ty, $poll_transmit:expr) => {
        impl Machine for $t {
            fn handle_datagram(&mut self, now: Instant, src: SocketAddr, datagram: &[u8]) {
                <$t>::handle_datagram(self, now, src, datagram)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<SocketAddr> {
                $poll_transmit(self, now, buf)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
            fn abort(&mut self, code: ErrorCode, message: &str) {
                <$t>::abort(self, code, message)
            }
            fn is_closed(&self) -> bool {
                <$t>::is_closed(self)
            }
            fn options(&self) -> TransferOptions {
                <$t>::options(self)
            }
        }
    };
}

machine!(Sender, Sender::poll_transmit);
// The receiver needs no clock to send: its ACKs are timed when they are queued.
machine!(Receiver, |r: &mut Receiver, _: Instant, buf: &mut Vec<u8>| r.poll_transmit(buf));
