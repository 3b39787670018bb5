//! What the sending and receiving machines share: the peer's transfer ID, the ERROR 5 answers
//! to strangers, the opening handshake (the client's request or the server's OACK, resent on
//! every timeout until answered, and the check of the OACK that answers it), the one pending
//! control packet, the retransmission timer with its retry count, block-number arithmetic
//! across rollover, and the events. [`crate::Sender`] and [`crate::Receiver`] add only what
//! is particular to their direction: which blocks go out or come in, and when to acknowledge.
//!
//! A transfer ID (TID) is the peer's UDP address (RFC 1350 §4). The server knows it from the
//! request; the client sends its request to the server's well-known port and takes the
//! source of the first reply from the server's host as the TID. From then on a datagram
//! from any other source is answered with ERROR 5 and otherwise ignored, so a stray or
//! spoofed packet can never end or disturb the transfer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::emit;
use crate::error::RequestError;
use crate::options::{Negotiation, RequestOptions};
use crate::packet::{Mode, Options, Packet, RequestKind};
use crate::{Config, ErrorCode, TransferError, TransferOptions};

/// At most this many ERROR 5 answers wait to be sent; more strangers are not answered.
/// Why a bound: a flood of spoofed packets must not grow a transfer's memory.
const MAX_STRAYS: usize = 8;

/// Something that happened to a transfer; see [`crate::Sender::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Negotiation is over; the transfer runs with these options. Sent once, before any data.
    Negotiated(TransferOptions),
    /// The sender: the final block was acknowledged. The receiver: the final block arrived;
    /// all data is in [`crate::Receiver::pending_data`] (the machine still dallies a while).
    Complete,
    /// The transfer ended with an error; any ERROR for the peer is already queued.
    Failed(TransferError),
}

/// Who the peer is (RFC 1350 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tid {
    /// Client: the request went to `server`; the reply will come from a new port.
    Awaiting { server: SocketAddr },
    /// The peer's transfer ID.
    Locked(SocketAddr),
}

/// How a datagram's source relates to the transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The locked peer.
    Peer,
    /// Client: a first reply from the server's host; lock onto it if it is a valid answer.
    FirstReply,
    /// Anyone else: ERROR 5.
    Stranger,
}

/// A packet for the peer that is not DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Control {
    /// The request (client) or OACK (server), kept in [`Link::handshake`].
    Handshake,
    /// An ACK of this block.
    Ack(u16),
    /// A final ERROR.
    Error(ErrorCode, String),
}

#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) tid: Tid,
    /// Strangers owed an ERROR 5.
    strays: VecDeque<SocketAddr>,
    events: VecDeque<Event>,
    /// The encoded request or OACK, kept for retransmission.
    pub(crate) handshake: Vec<u8>,
    /// The control packet to send next, if any. Why one slot: each new ACK supersedes the
    /// previous one, and an ERROR is the last word.
    pub(crate) control: Option<Control>,
    /// When to retransmit (or, dallying, to close).
    pub(crate) deadline: Option<Instant>,
    /// Consecutive timeouts without progress.
    pub(crate) retries: u32,
    pub(crate) max_retries: u32,
    pub(crate) default_timeout: Duration,
    /// The timeout in force: the default until a `timeout` option is negotiated.
    pub(crate) timeout: Duration,
    pub(crate) dally_timeouts: u32,
}

impl Link {
    pub(crate) fn new(tid: Tid, config: &Config) -> Self {
        Link {
            tid,
            strays: VecDeque::new(),
            events: VecDeque::new(),
            handshake: Vec::new(),
            control: None,
            deadline: None,
            retries: 0,
            max_retries: config.max_retries,
            default_timeout: config.timeout,
            timeout: config.timeout,
            dally_timeouts: config.dally_timeouts,
        }
    }

    /// Client: the link of a transfer that opens with a `kind` request (RRQ for a get, WRQ for
    /// a put) to `server`'s well-known port; the request is queued and its timer armed.
    pub(crate) fn request(
        kind: RequestKind,
        filename: &str,
        mode: Mode,
        options: &RequestOptions,
        server: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> Result<Link, RequestError> {
        options.validate()?;
        let mut link = Link::new(Tid::Awaiting { server }, config);
        let pairs: Vec<_> = options.pairs().collect();
        emit::encode_request(&mut link.handshake, kind, filename, mode, &pairs)
            .map_err(RequestError::Filename)?;
        link.control = Some(Control::Handshake);
        link.arm(now);
        Ok(link)
    }

    /// Server: the link of a transfer answering `peer`'s request. When the negotiation needs
    /// an OACK (RFC 2347) it is encoded as the handshake, not yet queued: the sender queues it
    /// and waits for ACK 0, the receiver sends it in place of ACK 0.
    pub(crate) fn answer(peer: SocketAddr, config: &Config, negotiation: &Negotiation) -> Link {
        let mut link = Link::new(Tid::Locked(peer), config);
        if negotiation.needs_oack() {
            let pairs: Vec<_> = negotiation.accepted.pairs().collect();
            emit::encode_oack(&mut link.handshake, &pairs);
        }
        link
    }

    /// Client: the server's OACK arrived from `src`, its TID. Locks onto it and checks the
    /// options against what the request asked for (RFC 2347: the server may only lower them).
    pub(crate) fn check_oack(
        &mut self,
        src: SocketAddr,
        requested: &RequestOptions,
        kind: RequestKind,
        oack: &Options<'_>,
    ) -> Result<TransferOptions, TransferError> {
        self.lock(src);
        requested.check_oack(kind, oack).map_err(TransferError::from)
    }

    /// The handshake timed out with retries left: send it again and restart the timer.
    pub(crate) fn resend_handshake(&mut self, now: Instant) {
        self.control = Some(Control::Handshake);
        self.arm(now);
    }

    /// Whether the datagram came from a stranger (RFC 1350 §4): if so it is answered with
    /// ERROR 5 and changes nothing else, and the machine drops it.
    pub(crate) fn refuses(&mut self, src: SocketAddr, datagram: &[u8]) -> bool {
        let stranger = self.classify(src) == Source::Stranger;
        if stranger {
            self.refuse(src, datagram);
        }
        stranger
    }

    pub(crate) fn classify(&self, src: SocketAddr) -> Source {
        match self.tid {
            Tid::Locked(peer) if peer == src => Source::Peer,
            // Why the same host but any port: the server answers from a fresh port (its TID).
            Tid::Awaiting { server } if server.ip() == src.ip() => Source::FirstReply,
            _ => Source::Stranger,
        }
    }

    /// Answers a stranger with ERROR 5 (RFC 1350 §4) unless it sent an ERROR itself: an ERROR
    /// is never answered, or two confused hosts could volley forever.
    pub(crate) fn refuse(&mut self, src: SocketAddr, datagram: &[u8]) {
        if matches!(Packet::parse(datagram), Ok(Packet::Error { .. })) {
            return;
        }
        if self.strays.len() < MAX_STRAYS {
            self.strays.push_back(src);
        }
    }

    pub(crate) fn lock(&mut self, peer: SocketAddr) {
        self.tid = Tid::Locked(peer);
    }

    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        match self.tid {
            Tid::Locked(peer) => Some(peer),
            Tid::Awaiting { .. } => None,
        }
    }

    /// Applies the negotiated options that the link itself cares about.
    pub(crate) fn negotiated(&mut self, opts: TransferOptions) {
        self.timeout = opts.timeout.map_or(self.default_timeout, |s| Duration::from_secs(u64::from(s)));
        self.events.push_back(Event::Negotiated(opts));
    }

    pub(crate) fn arm(&mut self, now: Instant) {
        self.deadline = Some(now + self.timeout);
    }

    pub(crate) fn dally(&mut self, now: Instant) {
        self.deadline = Some(now + self.timeout * self.dally_timeouts.max(1));
    }

    /// `Some(())` if the deadline has passed and a retry is left (and counts it);
    /// `Err` once the retries are used up.
    pub(crate) fn expired(&mut self, now: Instant) -> Option<Result<(), TransferError>> {
        match self.deadline {
            Some(deadline) if now >= deadline => {}
            _ => return None,
        }
        if self.retries >= self.max_retries {
            return Some(Err(TransferError::TimedOut { retries: self.retries }));
        }
        self.retries += 1;
        Some(Ok(()))
    }

    /// Ends the transfer: queues the ERROR this failure owes the peer, if any and if we know
    /// who the peer is, and reports it.
    pub(crate) fn fail(&mut self, error: TransferError) {
        self.control = match (error.error_code(), self.peer()) {
            (Some(code), Some(_)) => Some(Control::Error(code, error.to_string())),
            _ => None,
        };
        self.deadline = None;
        self.events.push_back(Event::Failed(error));
    }

    /// Ends the transfer locally (the caller's file failed): the peer, if known, gets ERROR
    /// `code` with the caller's `message` rather than the error's own text.
    pub(crate) fn abort(&mut self, code: ErrorCode, message: &str) {
        self.fail(TransferError::Aborted(code));
        if self.peer().is_some() {
            self.control = Some(Control::Error(code, message.to_owned()));
        }
    }

    pub(crate) fn complete(&mut self) {
        self.events.push_back(Event::Complete);
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Nothing left to send but DATA.
    pub(crate) fn is_idle(&self) -> bool {
        self.control.is_none() && self.strays.is_empty()
    }

    /// Writes the next ERROR 5 or control packet into `buf` (cleared), with its destination.
    pub(crate) fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        buf.clear();
        if let Some(stranger) = self.strays.pop_front() {
            emit::encode_error(buf, ErrorCode::UnknownTid, ErrorCode::UnknownTid.description());
            return Some(stranger);
        }
        let destination = match self.tid {
            Tid::Locked(peer) => peer,
            Tid::Awaiting { server } => server,
        };
        match self.control.take()? {
            Control::Handshake => buf.extend_from_slice(&self.handshake),
            Control::Ack(block) => emit::encode_ack(buf, block),
            Control::Error(code, message) => emit::encode_error(buf, code, &message),
        }
        Some(destination)
    }
}

/// How far wire block number `block` is past absolute block `base`, modulo 65536: block
/// numbers on the wire wrap from 65535 to 0 (RFC 1350 leaves it open; every common
/// implementation rolls over), while both machines count absolutely in a `u64`, which makes
/// rollover a non-event. 0 is `base` itself; a small number is a block ahead of it; a number
/// close to 65536 is an old duplicate.
pub(crate) fn blocks_past(block: u16, base: u64) -> u16 {
    block.wrapping_sub(base as u16)
}
