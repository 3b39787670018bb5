//! The receiving side of a transfer: a server answering a WRQ, or a client doing a get (RRQ).
//!
//! ```text
//!   client: RequestSent ──DATA 1 / OACK (we ACK 0)──┐
//!   server (ACK 0 or OACK sent) ────────────────────┴──► Transfer ──short DATA──► Dallying
//!                                                                                   │ timer
//!            any state ── ERROR / timeout / bad packet ──► Failed          Closed ◄─┘
//! ```
//!
//! In-order DATA is decoded (netascii) into a buffer the caller drains with
//! [`Receiver::pending_data`] and [`Receiver::consume_data`]. Each datagram adds at most one
//! block, so a caller that drains after every input holds at most `blksize` bytes per
//! transfer. Out-of-order blocks are dropped: RFC 7440 has the sender resume after the last
//! block we acknowledge, so keeping them would buy nothing.

use std::net::SocketAddr;
use std::time::Instant;

use crate::error::{RequestError, TransferError};
use crate::link::{blocks_past, Control, Event, Link};
use crate::netascii::Decoder;
use crate::options::{negotiate, Negotiation, RequestOptions, TransferOptions};
use crate::packet::{Mode, Packet, Request, RequestKind};
use crate::{Config, ErrorCode, OptionError};

/// Where a receiver is (RFC 1350 §4 and §6, RFC 2347, RFC 7440 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Client: RRQ sent; waiting for DATA 1 or an OACK from the server's new TID.
    RequestSent,
    /// Receiving DATA.
    Transfer,
    /// The final block is in and acknowledged; we linger to re-ACK a retransmitted final
    /// DATA in case our ACK was lost (RFC 1350 §6).
    Dallying,
    /// Dallying is over.
    Closed,
    /// Ended by an ERROR, a timeout or a protocol violation.
    Failed,
}

/// Receives one file: the server side of a WRQ or the client side of an RRQ.
///
/// Driven like [`crate::Sender`]; drain [`pending_data`](Self::pending_data) after each input.
#[derive(Debug)]
pub struct Receiver {
    link: Link,
    state: State,
    mode: Mode,
    /// Client: what the RRQ asked for, to check the OACK against.
    requested: RequestOptions,
    opts: TransferOptions,
    decoder: Decoder,
    /// Decoded file bytes the caller has not consumed yet.
    data: Vec<u8>,
    /// Absolute number of the last block received in order (see `Sender::acked`).
    received: u64,
    /// The highest block we have acknowledged; a window is complete when `received` is
    /// `windowsize` past it.
    acked_through: u64,
    /// We already reported the current gap; more out-of-order blocks from the same window
    /// would only repeat the same ACK.
    gap_reported: bool,
    /// Server: our "ACK 0" is the OACK (RFC 2347), so that is what a timeout repeats.
    oack_is_ack0: bool,
}

impl Receiver {
    /// Server side: answers the WRQ `request` from `peer`. Fails if the request's options are
    /// unacceptable; answer the client with ERROR 8 ([`OptionError::error_code`]). To refuse
    /// a file by its announced `tsize`, run [`negotiate`] first and use
    /// [`with_negotiation`](Self::with_negotiation).
    pub fn accept(
        request: &Request<'_>,
        peer: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> Result<Self, OptionError> {
        let negotiation = negotiate(request, config, None)?;
        Ok(Receiver::with_negotiation(request.mode, negotiation, peer, config, now))
    }

    /// Server side, for a caller that ran [`negotiate`] itself.
    pub fn with_negotiation(
        mode: Mode,
        negotiation: Negotiation,
        peer: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> Self {
        let mut receiver =
            Receiver::new(Link::answer(peer, config, &negotiation), mode, RequestOptions::default());
        receiver.oack_is_ack0 = negotiation.needs_oack();
        receiver.start(negotiation.options);
        receiver.send_ack(now);
        receiver
    }

    /// Client side: a get of `filename` from `server` (the server's well-known port, 69).
    /// Set `options.tsize` to `Some(0)` to learn the file's size from the OACK.
    pub fn get(
        filename: &str,
        mode: Mode,
        options: RequestOptions,
        server: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> Result<Self, RequestError> {
        let link = Link::request(RequestKind::Read, filename, mode, &options, server, config, now)?;
        Ok(Receiver::new(link, mode, options))
    }

    fn new(link: Link, mode: Mode, requested: RequestOptions) -> Self {
        Receiver {
            link,
            state: State::RequestSent,
            mode,
            requested,
            opts: TransferOptions::default(),
            decoder: Decoder::new(),
            data: Vec::new(),
            received: 0,
            acked_through: 0,
            gap_reported: false,
            oack_is_ack0: false,
        }
    }

    fn start(&mut self, opts: TransferOptions) {
        self.link.negotiated(opts);
        self.opts = opts;
        self.state = State::Transfer;
        self.link.retries = 0;
    }

    /// Acknowledges everything received so far (RFC 1350: ACK n; RFC 2347: the server's
    /// OACK stands for ACK 0) and restarts the timer.
    fn send_ack(&mut self, now: Instant) {
        self.link.control = Some(if self.received == 0 && self.oack_is_ack0 {
            Control::Handshake
        } else {
            // Modulo 65536 on the wire (rollover).
            Control::Ack(self.received as u16)
        });
        self.acked_through = self.received;
        self.link.arm(now);
    }

    // ---- datagrams in -------------------------------------------------------------------

    /// A datagram arrived from `src`.
    pub fn handle_datagram(&mut self, now: Instant, src: SocketAddr, datagram: &[u8]) {
        if matches!(self.state, State::Closed | State::Failed) {
            return;
        }
        if self.link.refuses(src, datagram) {
            return;
        }
        let packet = match Packet::parse(datagram) {
            Ok(packet) => packet,
            // Everything is in and acknowledged: garbage no longer matters.
            Err(_) if self.state == State::Dallying => return,
            Err(e) => {
                // The ERROR this earns goes to the peer that sent it.
                self.link.lock(src);
                return self.fail(e.into());
            }
        };
        match (self.state, packet) {
            // Everything has been received; only a retransmitted final block needs an answer.
            (State::Dallying, Packet::Data { block, .. }) => {
                if blocks_past(block, self.received) == 0 {
                    self.send_ack(now);
                    self.link.dally(now);
                }
            }
            (State::Dallying, _) => {}
            (_, Packet::Error { code, message }) => self.fail(TransferError::from_peer(code, message)),
            (State::RequestSent, Packet::Data { block: 1, payload }) => {
                // The server ignored any options we sent (RFC 2347 allows that): defaults.
                self.link.lock(src);
                self.start(TransferOptions::default());
                self.on_data(now, 1, payload);
            }
            (State::RequestSent, Packet::Oack(oack)) => {
                match self.link.check_oack(src, &self.requested, RequestKind::Read, &oack) {
                    Ok(opts) => {
                        self.start(opts);
                        self.send_ack(now);
                    }
                    Err(e) => self.fail(e),
                }
            }
            (State::Transfer, Packet::Data { block, payload }) => self.on_data(now, block, payload),
            // Our ACK of the OACK was lost and the server repeats it.
            (State::Transfer, Packet::Oack(_)) => {
                if self.received == 0 && !self.oack_is_ack0 {
                    self.send_ack(now);
                }
            }
            (_, Packet::Data { .. }) => self.illegal(src, "unexpected DATA block number"),
            (_, Packet::Oack(_)) => self.illegal(src, "unexpected OACK"),
            (_, Packet::Ack { .. }) => self.illegal(src, "ACK sent to the receiving side"),
            (_, _) => self.illegal(src, "request on a transfer ID"),
        }
    }

    fn illegal(&mut self, src: SocketAddr, what: &'static str) {
        self.link.lock(src);
        self.fail(TransferError::Illegal(what));
    }

    fn on_data(&mut self, now: Instant, block: u16, payload: &[u8]) {
        if payload.len() > usize::from(self.opts.blksize) {
            return self.fail(TransferError::Illegal("DATA block larger than blksize"));
        }
        let ahead = blocks_past(block, self.received);
        if ahead == 1 {
            self.received += 1;
            self.link.retries = 0;
            self.gap_reported = false;
            match self.mode {
                Mode::Octet => self.data.extend_from_slice(payload),
                Mode::Netascii => self.decoder.decode(payload, &mut self.data),
            }
            if payload.len() < usize::from(self.opts.blksize) {
                // RFC 1350 §6: a short block ends the transfer.
                self.decoder.finish(&mut self.data);
                self.send_ack(now);
                self.state = State::Dallying;
                self.link.dally(now);
                self.link.complete();
            } else if self.received - self.acked_through >= u64::from(self.opts.windowsize) {
                // RFC 7440 §4: the last block of a window is acknowledged.
                self.send_ack(now);
            } else {
                self.link.arm(now);
            }
        } else if ahead == 0 {
            // The block we acknowledged last, again: our ACK was lost and the sender timed
            // out. Other duplicates of that resent window stay unanswered, so one timeout
            // costs one ACK, not a window of them. A copy of a block we have not acknowledged
            // yet (mid-window) is only the network duplicating: an ACK now would look like a
            // gap to the sender and make it resend the rest of the window.
            if self.received == self.acked_through {
                self.send_ack(now);
            }
        } else if ahead <= self.opts.windowsize && !self.gap_reported {
            // A block from further on: one in between was lost. RFC 7440 §4: acknowledge the
            // last block received in order so the sender resumes right after it.
            self.gap_reported = true;
            self.send_ack(now);
        }
        // Anything else is an older duplicate (or far off): ignore it.
    }

    // ---- time ---------------------------------------------------------------------------

    /// When [`handle_timeout`](Self::handle_timeout) wants to run, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.link.deadline
    }

    /// The clock reached `now`: re-acknowledge (or re-request), close after dallying, or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Dallying {
            if self.link.deadline.is_some_and(|d| now >= d) {
                self.state = State::Closed;
                self.link.deadline = None;
            }
            return;
        }
        match self.link.expired(now) {
            None => {}
            Some(Err(e)) => self.fail(e),
            Some(Ok(())) => match self.state {
                State::RequestSent => self.link.resend_handshake(now),
                // RFC 7440 §4: on a timeout the receiver acknowledges the last block it got in
                // order, which also restarts a sender stuck on a lost window.
                State::Transfer => {
                    self.gap_reported = false;
                    self.send_ack(now);
                }
                State::Dallying | State::Closed | State::Failed => {}
            },
        }
    }

    // ---- outputs ------------------------------------------------------------------------

    /// Writes the next datagram into `buf` (cleared first) and returns where to send it.
    /// Call until `None` after every input.
    /// (Unlike the sender's, it needs no clock: ACKs are timed when they are queued.)
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        self.link.poll_transmit(buf)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.link.poll_event()
    }

    /// Decoded file bytes received in order and not yet consumed.
    pub fn pending_data(&self) -> &[u8] {
        &self.data
    }

    /// Drops the first `n` bytes of [`pending_data`](Self::pending_data) (e.g. once written).
    pub fn consume_data(&mut self, n: usize) {
        self.data.drain(..n.min(self.data.len()));
    }

    /// Ends the transfer locally (e.g. the disk is full), sending the peer an ERROR with
    /// `code` and `message` if the peer is known.
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        if matches!(self.state, State::Dallying | State::Closed | State::Failed) {
            return;
        }
        self.state = State::Failed;
        self.link.abort(code, message);
    }

    fn fail(&mut self, error: TransferError) {
        self.state = State::Failed;
        self.link.fail(error);
    }

    // ---- observation --------------------------------------------------------------------

    /// Over (dallied after completing, or failed) with nothing left to send: drop it.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed) && self.link.is_idle()
    }

    /// The final block has arrived (the machine may still be dallying).
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Dallying | State::Closed)
    }

    /// The options in force (defaults until negotiation is over).
    pub fn options(&self) -> TransferOptions {
        self.opts
    }

    /// The peer's transfer ID, once known.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.link.peer()
    }

    /// Blocks received in order, counting past rollover.
    pub fn blocks_received(&self) -> u64 {
        self.received
    }
}

#[cfg(test)]
#[path = "receive_tests.rs"]
mod tests;
