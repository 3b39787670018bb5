//! One transfer on the server: a machine from `pollux-tftp`, its own UDP socket (its transfer
//! ID, RFC 1350 §4) and its file, and the one function that moves bytes between the three.
//!
//! ```text
//!   socket ──datagram──► machine.handle_datagram ─┐
//!   deadline passed ───► machine.handle_timeout ──┤
//!                                                 ▼
//!                 pump: file ──read ≤ one window──► Sender     (RRQ)
//!                       Receiver ──pending data──► temp file  (WRQ)
//!                       events ──► result, log line, commit/discard the upload
//!                       poll_transmit ──► socket.send_to
//! ```

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use pollux_reactor::mio::net::UdpSocket;
use pollux_tftp::{ErrorCode, Event, Mode, Receiver, RequestKind, Sender, TransferError};

use crate::files::{io_refusal, Upload};
use crate::pump;
use crate::udp::{Batch, Gso};

/// Reads at least this much when the machine wants anything: lock-step 512-byte blocks would
/// otherwise cost a `read` per block. The machine buffers the excess (at most this much more
/// than a window per transfer).
const READ_AHEAD: usize = 8 * 1024;
/// An upload's received bytes are written once this many have gathered (or at the end):
/// a `write` per 64 KiB rather than per block.
const WRITE_CHUNK: usize = 64 * 1024;

/// Runs `$e` with `$m` bound to the transfer's machine, whichever way the file goes: the
/// same code for both, each arm compiled for its own type (no virtual call per datagram).
macro_rules! each {
    ($machine:expr, $m:ident => $e:expr) => {
        match $machine {
            Machine::Send($m, _) => $e,
            Machine::Receive($m, _) => $e,
        }
    };
}

/// The protocol side of a transfer.
#[derive(Debug)]
pub(crate) enum Machine {
    /// RRQ: we send the file.
    Send(Sender, File),
    /// WRQ: we receive into an upload; `None` once committed or discarded.
    Receive(Receiver, Option<Upload>),
}

/// A transfer in the worker's slab.
#[derive(Debug)]
pub(crate) struct Transfer {
    /// Distinguishes this transfer from a later one reusing its slab slot (deadline heap).
    pub(crate) id: u64,
    pub(crate) socket: UdpSocket,
    pub(crate) machine: Machine,
    pub(crate) peer: SocketAddr,
    pub(crate) filename: String,
    pub(crate) mode: Mode,
    pub(crate) started: Instant,
    /// File bytes read (RRQ) or written (WRQ).
    pub(crate) bytes: u64,
    /// The deadline this transfer has in the worker's heap, if any.
    pub(crate) scheduled: Option<Instant>,
    /// How it ended, once it has: `Ok` or the reason. Logged once, when set.
    pub(crate) outcome: Option<Result<(), String>>,
    /// Whether windows go out in one send (see [`crate::udp`]).
    pub(crate) gso: Gso,
    /// RRQ: the whole file has been read.
    pub(crate) read_all: bool,
}

impl Transfer {
    pub(crate) fn kind(&self) -> RequestKind {
        match self.machine {
            Machine::Send(..) => RequestKind::Read,
            Machine::Receive(..) => RequestKind::Write,
        }
    }

    pub(crate) fn handle_datagram(&mut self, now: Instant, src: SocketAddr, datagram: &[u8]) {
        each!(&mut self.machine, m => m.handle_datagram(now, src, datagram));
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        each!(&mut self.machine, m => m.handle_timeout(now));
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        each!(&self.machine, m => m.poll_timeout())
    }

    pub(crate) fn is_closed(&self) -> bool {
        each!(&self.machine, m => m.is_closed())
    }

    /// After any input: file I/O, events, then every datagram the machine has to send.
    /// `scratch` is the file read buffer, `out` the datagram buffer and `batch` where a
    /// window is gathered; all three belong to the worker.
    pub(crate) fn pump(
        &mut self,
        now: Instant,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
        batch: &mut Vec<u8>,
    ) {
        self.file_io(scratch);
        self.events();
        let mut batch = Batch::new(&self.socket, &mut self.gso, batch);
        // A full send buffer drops datagrams; the retransmission timer covers them, exactly as
        // it covers a loss on the wire.
        each!(&mut self.machine, m => {
            while let Some(to) = pollux_tftp::Machine::poll_transmit(m, now, out) {
                batch.push(out, to);
            }
        });
        batch.flush();
    }

    fn file_io(&mut self, scratch: &mut Vec<u8>) {
        match &mut self.machine {
            Machine::Send(sender, file) => {
                if scratch.len() < pump::READ_CHUNK {
                    scratch.resize(pump::READ_CHUNK, 0);
                }
                let fed = pump::feed(sender, file, &mut scratch[..pump::READ_CHUNK], READ_AHEAD);
                self.bytes += fed.bytes;
                self.read_all |= fed.end;
                if let Some(e) = fed.error {
                    let r = io_refusal(&e);
                    sender.abort(r.code, r.message);
                }
            }
            Machine::Receive(receiver, upload) => {
                let written = match upload {
                    Some(up) => pump::drain(receiver, &mut up.file, WRITE_CHUNK),
                    // Committed or discarded already: what still comes in goes nowhere.
                    None => pump::drain(receiver, &mut io::sink(), WRITE_CHUNK),
                };
                match written {
                    Ok(n) => self.bytes += n,
                    Err(e) => {
                        let r = io_refusal(&e);
                        let code =
                            if r.code == ErrorCode::FileNotFound { ErrorCode::NotDefined } else { r.code };
                        // Too late to tell the peer if its last block is already acknowledged
                        // (the machine is dallying); the upload is thrown away and logged
                        // as failed either way.
                        receiver.abort(code, r.message);
                        if let Some(up) = upload.take() {
                            up.discard();
                        }
                        self.outcome.get_or_insert(Err(format!("cannot write the file: {e}")));
                    }
                }
            }
        }
    }

    fn events(&mut self) {
        while let Some(event) = each!(&mut self.machine, m => m.poll_event()) {
            match event {
                Event::Complete => {
                    let mut outcome = Ok(());
                    if let Machine::Receive(_, upload) = &mut self.machine {
                        if let Some(up) = upload.take() {
                            if let Err(e) = up.commit() {
                                outcome = Err(format!("upload complete but not saved: {e}"));
                            }
                        }
                    }
                    self.outcome.get_or_insert(outcome);
                }
                Event::Failed(e) => {
                    let mut reason = e.to_string();
                    match &mut self.machine {
                        Machine::Receive(_, upload) => {
                            if let Some(up) = upload.take() {
                                up.discard();
                            }
                        }
                        Machine::Send(sender, _) => {
                            let timed_out = matches!(e, TransferError::TimedOut { .. });
                            if timed_out && self.read_all && last_block_sent(self.bytes, self.mode, sender) {
                                // Clients do not dally (RFC 1350 §6 only suggests it): when
                                // their final ACK is lost they are gone with the whole file.
                                reason.push_str(
                                    " waiting for the last ACK (the client may have the whole file)",
                                );
                            }
                        }
                    }
                    self.outcome.get_or_insert(Err(reason));
                }
                _ => {}
            }
        }
    }

    /// The transfer is being dropped without an outcome (shutdown's grace ran out).
    pub(crate) fn abandon(&mut self) {
        if let Machine::Receive(_, upload) = &mut self.machine {
            if let Some(up) = upload.take() {
                up.discard();
            }
        }
        self.outcome.get_or_insert(Err("abandoned at shutdown".into()));
    }
}

/// Whether the sender has put the final block of a `bytes`-long file on the wire (it sends a
/// window at once, so the last window reaching it is enough). Octet mode only, where file
/// bytes are wire bytes.
fn last_block_sent(bytes: u64, mode: Mode, sender: &Sender) -> bool {
    let blksize = u64::from(sender.options().blksize);
    let window = u64::from(sender.options().windowsize);
    mode == Mode::Octet && sender.blocks_acked() + window > bytes / blksize
}
