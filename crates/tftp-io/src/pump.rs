//! The file side of a transfer, the same for the server and the client: reading the file
//! into a [`Sender`], and writing a [`Receiver`]'s data out. The drivers ([`crate::transfer`] on the reactor, [`crate::client`] in a
//! blocking loop) differ only in how they wait; these are the steps they share.

use std::io::{self, Read, Write};

use pollux_tftp::{Receiver, Sender};

/// Reads from the file at most this much per call; a window asks for at most
/// `windowsize × blksize` in total, so one pump does a bounded amount of disk work.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// What one [`feed`] did.
#[derive(Debug, Default)]
pub(crate) struct Fed {
    /// File bytes handed to the sender (also those before an error).
    pub(crate) bytes: u64,
    /// The file ended (the sender was told: its short block is the last).
    pub(crate) end: bool,
    /// The read failed: the sender is left as it was, for the caller to abort with the ERROR
    /// this deserves.
    pub(crate) error: Option<io::Error>,
}

/// Fills `sender` from `input` while it wants data, or until a read fails, reading at most
/// `scratch.len()` and at least `read_ahead` bytes at a time (the sender buffers the excess).
pub(crate) fn feed(sender: &mut Sender, input: &mut impl Read, scratch: &mut [u8], read_ahead: usize) -> Fed {
    let mut fed = Fed::default();
    while sender.data_wanted() > 0 {
        let want = sender.data_wanted().clamp(read_ahead.min(scratch.len()), scratch.len());
        match input.read(&mut scratch[..want]) {
            Ok(0) => {
                sender.finish_data();
                fed.end = true;
            }
            Ok(n) => {
                sender.write_data(&scratch[..n]);
                fed.bytes += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                fed.error = Some(e);
                break;
            }
        }
    }
    fed
}

/// Writes what `receiver` has received in order to `out`, once at least `batch` bytes have
/// gathered or the transfer is complete (everything is written before the completion is
/// handled); the bytes written. On a write error the data stays pending; the caller aborts.
pub(crate) fn drain(receiver: &mut Receiver, out: &mut impl Write, batch: usize) -> io::Result<u64> {
    let data = receiver.pending_data();
    if data.is_empty() || (data.len() < batch && !receiver.is_complete()) {
        return Ok(0);
    }
    let n = data.len();
    out.write_all(data)?;
    receiver.consume_data(n);
    Ok(n as u64)
}
