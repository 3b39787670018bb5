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
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use pollux_reactor::mio::net::UdpSocket;
use pollux_tftp::{ErrorCode, Event, Mode, Receiver, RequestKind, Sender, TransferError};

use crate::files::{io_refusal, Upload};
use crate::udp::{Batch, Gso};

/// Reads from the file at most this much per call; a window asks for at most
/// `windowsize × blksize` in total, so one pump does a bounded amount of disk work.
const READ_CHUNK: usize = 64 * 1024;
/// Reads at least this much when the machine wants anything: lock-step 512-byte blocks would
/// otherwise cost a `read` per block. The machine buffers the excess (at most this much more
/// than a window per transfer).
const READ_AHEAD: usize = 8 * 1024;
/// An upload's received bytes are written once this many have gathered (or at the end).
const WRITE_CHUNK: usize = 64 * 1024;

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
        match &mut self.machine {
            Machine::Send(s, _) => s.handle_datagram(now, src, datagram),
            Machine::Receive(r, _) => r.handle_datagram(now, src, datagram),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match &mut self.machine {
            Machine::Send(s, _) => s.handle_timeout(now),
            Machine::Receive(r, _) => r.handle_timeout(now),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.machine {
            Machine::Send(s, _) => s.poll_timeout(),
            Machine::Receive(r, _) => r.poll_timeout(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match &self.machine {
            Machine::Send(s, _) => s.is_closed(),
            Machine::Receive(r, _) => r.is_closed(),
        }
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
        loop {
            let to = match &mut self.machine {
                Machine::Send(s, _) => s.poll_transmit(now, out),
                Machine::Receive(r, _) => r.poll_transmit(out),
            };
            let Some(to) = to else { break };
            // A full send buffer drops datagrams; the retransmission timer covers them,
            // exactly as it covers a loss on the wire.
            batch.push(out, to);
        }
        batch.flush();
    }

    fn file_io(&mut self, scratch: &mut Vec<u8>) {
        match &mut self.machine {
            Machine::Send(sender, file) => {
                if scratch.len() < READ_CHUNK {
                    scratch.resize(READ_CHUNK, 0);
                }
                while sender.data_wanted() > 0 {
                    let want = sender.data_wanted().clamp(READ_AHEAD, READ_CHUNK);
                    match file.read(&mut scratch[..want]) {
                        Ok(0) => {
                            sender.finish_data();
                            self.read_all = true;
                        }
                        Ok(n) => {
                            sender.write_data(&scratch[..n]);
                            self.bytes += n as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let r = io_refusal(&e);
                            sender.abort(r.code, r.message);
                            break;
                        }
                    }
                }
            }
            Machine::Receive(receiver, upload) => {
                // Written in chunks rather than a `write` per block; everything is written
                // before the completion is handled (`events` runs after this).
                let data = receiver.pending_data();
                if data.is_empty() || (data.len() < WRITE_CHUNK && !receiver.is_complete()) {
                    return;
                }
                let n = data.len();
                let written = match upload {
                    Some(up) => up.file.write_all(data),
                    None => Ok(()),
                };
                receiver.consume_data(n);
                self.bytes += n as u64;
                if let Err(e) = written {
                    let r = io_refusal(&e);
                    let code = if r.code == ErrorCode::FileNotFound { ErrorCode::NotDefined } else { r.code };
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

    fn events(&mut self) {
        loop {
            let event = match &mut self.machine {
                Machine::Send(s, _) => s.poll_event(),
                Machine::Receive(r, _) => r.poll_event(),
            };
            let Some(event) = event else { break };
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
