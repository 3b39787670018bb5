//! The sending side of a transfer: a server answering an RRQ, or a client doing a put (WRQ).
//!
//! ```text
//!   client: RequestSent ──ACK 0 / OACK──┐
//!   server:     OackSent ──ACK 0────────┼──► Transfer ──ACK of final block──► Complete
//!   server (no options) ────────────────┘        │
//!            any state ── ERROR / timeout / bad packet ──► Failed
//! ```
//!
//! File bytes come in through [`Sender::write_data`] into a buffer that holds the encoded
//! bytes of every unacknowledged block, so that a window can be resent after a timeout or a
//! gap (RFC 7440) without asking the caller to seek, which netascii would make impossible
//! (encoded offsets are not file offsets). [`Sender::data_wanted`] says how much more the
//! window can use; the buffer never needs more than `windowsize × blksize` bytes plus one
//! caller write.

use std::net::SocketAddr;
use std::time::Instant;

use crate::emit;
use crate::error::{RequestError, TransferError};
use crate::link::{blocks_past, Event, Link};
use crate::netascii::Encoder;
use crate::options::{negotiate, Negotiation, RequestOptions, TransferOptions};
use crate::packet::{Mode, Packet, Request, RequestKind};
use crate::{Config, ErrorCode, OptionError};

/// Where a sender is (RFC 1350 §4 and §6, RFC 2347, RFC 7440 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Client: WRQ sent; waiting for ACK 0 or an OACK from the server's new TID.
    RequestSent,
    /// Server: OACK sent in answer to an RRQ; waiting for ACK 0 (RFC 2347).
    OackSent,
    /// Sending windows of DATA.
    Transfer,
    /// The final block was acknowledged.
    Complete,
    /// Ended by an ERROR, a timeout or a protocol violation.
    Failed,
}

/// Sends one file: the server side of an RRQ or the client side of a WRQ.
///
/// Drive it like every machine in this crate: feed datagrams to
/// [`handle_datagram`](Self::handle_datagram), feed file bytes while
/// [`data_wanted`](Self::data_wanted) is non-zero, drain [`poll_transmit`](Self::poll_transmit)
/// until `None`, then sleep until [`poll_timeout`](Self::poll_timeout) and call
/// [`handle_timeout`](Self::handle_timeout). Drop it once [`is_closed`](Self::is_closed).
#[derive(Debug)]
pub struct Sender {
    link: Link,
    state: State,
    mode: Mode,
    /// Client: what the WRQ asked for, to check the OACK against.
    requested: RequestOptions,
    opts: TransferOptions,
    encoder: Encoder,
    /// Encoded bytes of block `acked + 1` onwards.
    buf: Vec<u8>,
    /// The caller has no more file bytes.
    eof: bool,
    /// Absolute number of the last acknowledged block (block numbers on the wire are this
    /// modulo 65536; counting in u64 makes rollover a non-event).
    acked: u64,
    /// The next block to put on the wire.
    next: u64,
    /// The highest block put on the wire so far.
    sent: u64,
}

impl Sender {
    /// Server side: answers the RRQ `request` from `peer`. `file_size` answers a `tsize`
    /// option (octet mode only). Fails if the request's options are unacceptable; answer the
    /// client with ERROR 8 ([`OptionError::error_code`]).
    pub fn accept(
        request: &Request<'_>,
        peer: SocketAddr,
        config: &Config,
        file_size: Option<u64>,
        now: Instant,
    ) -> Result<Self, OptionError> {
        let negotiation = negotiate(request, config, file_size)?;
        Ok(Sender::with_negotiation(request.mode, negotiation, peer, config, now))
    }

    /// Server side, for a caller that ran [`negotiate`] itself (e.g. to look at `tsize`).
    pub fn with_negotiation(
        mode: Mode,
        negotiation: Negotiation,
        peer: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> Self {
        let mut sender =
            Sender::new(Link::answer(peer, config, &negotiation), mode, RequestOptions::default());
        if negotiation.needs_oack() {
            sender.opts = negotiation.options;
            sender.link.negotiated(negotiation.options);
            sender.link.resend_handshake(now);
            sender.state = State::OackSent;
        } else {
            sender.start(negotiation.options);
        }
        sender
    }

    /// Client side: a put of `filename` to `server` (the server's well-known port, 69).
    /// Set `options.tsize` to the file's size if known (RFC 2349).
    pub fn put(
        filename: &str,
        mode: Mode,
        options: RequestOptions,
        server: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> Result<Self, RequestError> {
        let link = Link::request(RequestKind::Write, filename, mode, &options, server, config, now)?;
        Ok(Sender::new(link, mode, options))
    }

    fn new(link: Link, mode: Mode, requested: RequestOptions) -> Self {
        Sender {
            link,
            state: State::RequestSent,
            mode,
            requested,
            opts: TransferOptions::default(),
            encoder: Encoder::new(),
            buf: Vec::new(),
            eof: false,
            acked: 0,
            next: 1,
            sent: 0,
        }
    }

    /// Negotiation is over: DATA 1 may go out.
    fn start(&mut self, opts: TransferOptions) {
        if self.state != State::OackSent {
            self.link.negotiated(opts);
        }
        self.opts = opts;
        self.state = State::Transfer;
        self.link.control = None;
        self.link.deadline = None;
        self.link.retries = 0;
    }

    // ---- file data in -------------------------------------------------------------------

    /// How many more (encoded) bytes the current window can use; 0 once the caller has
    /// called [`finish_data`](Self::finish_data) or the transfer is over. In netascii mode
    /// the file bytes that fill it may be fewer.
    pub fn data_wanted(&self) -> usize {
        if self.eof || matches!(self.state, State::Complete | State::Failed) {
            return 0;
        }
        // Before the OACK, prefetch for what we asked; the server may only lower it.
        let (window, blksize) = match self.state {
            State::RequestSent => (
                self.requested.windowsize.unwrap_or(self.opts.windowsize),
                self.requested.blksize.unwrap_or(self.opts.blksize),
            ),
            _ => (self.opts.windowsize, self.opts.blksize),
        };
        (usize::from(window) * usize::from(blksize)).saturating_sub(self.buf.len())
    }

    /// Takes file bytes, all of them (netascii-encoding them in text mode). Write roughly what
    /// [`data_wanted`](Self::data_wanted) asks for; anything beyond is buffered.
    pub fn write_data(&mut self, data: &[u8]) {
        if self.eof || matches!(self.state, State::Complete | State::Failed) {
            return;
        }
        match self.mode {
            Mode::Octet => self.buf.extend_from_slice(data),
            Mode::Netascii => self.encoder.encode_to_vec(data, &mut self.buf),
        }
    }

    /// The file has no more bytes: the block that is short (possibly empty) is the last.
    pub fn finish_data(&mut self) {
        self.eof = true;
    }

    /// The number of the final block, once the end of the data is known.
    fn final_block(&self) -> Option<u64> {
        let blocks = (self.buf.len() / usize::from(self.opts.blksize)) as u64;
        self.eof.then_some(self.acked + blocks + 1)
    }

    /// The payload of absolute block `n` (> acked), if it can be sent yet: a full block, or
    /// the short final one once the end of the data is known.
    fn payload(&self, n: u64) -> Option<&[u8]> {
        let blksize = usize::from(self.opts.blksize);
        let start = usize::try_from(n - self.acked - 1).ok()?.checked_mul(blksize)?;
        let end = start.checked_add(blksize)?;
        if end <= self.buf.len() {
            Some(&self.buf[start..end])
        } else if self.eof && start <= self.buf.len() {
            Some(&self.buf[start..])
        } else {
            None
        }
    }

    // ---- datagrams in -------------------------------------------------------------------

    /// A datagram arrived from `src`.
    pub fn handle_datagram(&mut self, now: Instant, src: SocketAddr, datagram: &[u8]) {
        // The sender's timer is armed when DATA goes out (`poll_transmit`), so arrivals need
        // no clock today; `now` keeps the signature the same as the receiver's.
        let _ = now;
        if matches!(self.state, State::Complete | State::Failed) {
            return;
        }
        if self.link.refuses(src, datagram) {
            return;
        }
        let packet = match Packet::parse(datagram) {
            Ok(packet) => packet,
            Err(e) => {
                // The ERROR this earns goes to the peer that sent it.
                self.link.lock(src);
                return self.fail(e.into());
            }
        };
        if let Packet::Error { code, message } = packet {
            return self.fail(TransferError::from_peer(code, message));
        }
        match (self.state, packet) {
            (State::RequestSent, Packet::Ack { block: 0 }) => {
                // The server ignored any options we sent (RFC 2347 allows that): defaults.
                self.link.lock(src);
                self.start(TransferOptions::default());
            }
            (State::RequestSent, Packet::Oack(oack)) => {
                match self.link.check_oack(src, &self.requested, RequestKind::Write, &oack) {
                    Ok(opts) => self.start(opts),
                    Err(e) => self.fail(e),
                }
            }
            (State::OackSent, Packet::Ack { block: 0 }) => self.start(self.opts),
            (State::Transfer, Packet::Ack { block }) => self.on_ack(block),
            // A stray ACK before ours was answered, or the server repeating its OACK because
            // DATA 1 is late: nothing new, and never answered with DATA (RFC 1123 §4.2.3.1).
            (State::OackSent, Packet::Ack { .. }) | (State::Transfer, Packet::Oack(_)) => {}
            (_, Packet::Ack { .. }) => self.illegal(src, "unexpected ACK block number"),
            (_, Packet::Oack(_)) => self.illegal(src, "unexpected OACK"),
            (_, Packet::Data { .. }) => self.illegal(src, "DATA sent to the sending side"),
            (_, _) => self.illegal(src, "request on a transfer ID"),
        }
    }

    fn illegal(&mut self, src: SocketAddr, what: &'static str) {
        self.link.lock(src);
        self.fail(TransferError::Illegal(what));
    }

    fn on_ack(&mut self, block: u16) {
        let ahead = u64::from(blocks_past(block, self.acked));
        // RFC 1123 §4.2.3.1: a duplicate (or stale) ACK never triggers a retransmission —
        // answering each duplicate with DATA is how the Sorcerer's Apprentice bug doubles
        // every packet. Only the timer retransmits.
        if ahead == 0 || ahead > self.sent - self.acked {
            return;
        }
        let final_block = self.final_block();
        let drained =
            usize::try_from(ahead).unwrap_or(usize::MAX).saturating_mul(usize::from(self.opts.blksize));
        self.buf.drain(..drained.min(self.buf.len()));
        self.acked += ahead;
        // RFC 7440 §4: the next window starts right after the acknowledged block, also when
        // that block is short of the last one sent (the receiver saw a gap).
        self.next = self.acked + 1;
        self.link.retries = 0;
        self.link.deadline = None;
        if final_block == Some(self.acked) {
            self.state = State::Complete;
            self.link.complete();
        }
    }

    // ---- time ---------------------------------------------------------------------------

    /// When [`handle_timeout`](Self::handle_timeout) wants to run, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.link.deadline
    }

    /// The clock reached `now`: retransmit what is unacknowledged, or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.link.expired(now) {
            None => {}
            Some(Err(e)) => self.fail(e),
            Some(Ok(())) => {
                match self.state {
                    State::RequestSent | State::OackSent => self.link.resend_handshake(now),
                    // Resend the whole window from the first unacknowledged block.
                    State::Transfer => {
                        self.next = self.acked + 1;
                        self.link.arm(now);
                    }
                    State::Complete | State::Failed => self.link.arm(now),
                }
            }
        }
    }

    // ---- outputs ------------------------------------------------------------------------

    /// Writes the next datagram into `buf` (cleared first) and returns where to send it.
    /// Call until `None` after every input.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        if let Some(destination) = self.link.poll_transmit(buf) {
            return Some(destination);
        }
        if self.state != State::Transfer || self.next > self.acked + u64::from(self.opts.windowsize) {
            return None;
        }
        let payload = self.payload(self.next)?;
        // The wire carries the block number modulo 65536: 65535 rolls over to 0.
        emit::encode_data(buf, self.next as u16, payload);
        self.sent = self.sent.max(self.next);
        self.next += 1;
        if self.link.deadline.is_none() {
            self.link.arm(now);
        }
        self.link.peer()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.link.poll_event()
    }

    /// Ends the transfer locally (e.g. the file could not be read), sending the peer an
    /// ERROR with `code` and `message` if the peer is known.
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        if matches!(self.state, State::Complete | State::Failed) {
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

    /// Over (complete or failed) with nothing left to send: the caller may drop it.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Complete | State::Failed) && self.link.is_idle()
    }

    /// The final block has been acknowledged.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// The options in force (defaults until negotiation is over).
    pub fn options(&self) -> TransferOptions {
        self.opts
    }

    /// The peer's transfer ID, once known.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.link.peer()
    }

    /// Blocks the peer has acknowledged, counting past rollover.
    pub fn blocks_acked(&self) -> u64 {
        self.acked
    }
}

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;
