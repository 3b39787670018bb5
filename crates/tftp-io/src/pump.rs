//! The file side of a transfer, the same for the server and the client: reading the file
//! into a [`Sender`], writing a [`Receiver`]'s data out, and cutting a read from a socket
//! into its datagrams. The drivers ([`crate::transfer`] on the reactor, [`crate::client`] in a
//! blocking loop) differ only in how they wait; these are the steps they share.

use std::io::{self, Read, Write};

use pollux_tftp::{Receiver, Sender};

/// Reads from the file at most this much per call; a window asks for at most
/// `windowsize × blksize` in total, so one pump does a bounded amount of disk work.
const READ_CHUNK: usize = 64 * 1024;
/// Reads at least this much when the machine wants anything: lock-step 512-byte blocks would
/// otherwise cost a `read` per block. The machine buffers the excess (at most this much more
/// than a window per transfer).
const READ_AHEAD: usize = 8 * 1024;

/// What one [`feed`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fed {
    /// File bytes handed to the sender.
    pub(crate) bytes: u64,
    /// The file ended (the sender was told: its short block is the last).
    pub(crate) end: bool,
}

/// Fills `sender` from `input` while it wants data. On a read error the sender is left as it
/// was; the caller aborts it with the ERROR that error deserves.
pub(crate) fn feed(sender: &mut Sender, input: &mut impl Read, scratch: &mut Vec<u8>) -> io::Result<Fed> {
    if scratch.len() < READ_CHUNK {
        scratch.resize(READ_CHUNK, 0);
    }
    let mut fed = Fed::default();
    while sender.data_wanted() > 0 {
        let want = sender.data_wanted().clamp(READ_AHEAD, READ_CHUNK);
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
            Err(e) => return Err(e),
        }
    }
    Ok(fed)
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

/// The datagrams in the first `n` bytes of `buf`: one, or with `UDP_GRO` several of `segment`
/// bytes each (the last may be shorter). An empty datagram is one empty datagram.
pub(crate) fn datagrams(buf: &[u8], n: usize, segment: Option<usize>) -> impl Iterator<Item = &[u8]> {
    let segment = segment.unwrap_or(n).max(1);
    (0..n.max(1)).step_by(segment).map(move |at| &buf[at..(at + segment).min(n)])
}

#[cfg(test)]
mod tests {
    use super::datagrams;

    #[test]
    fn a_coalesced_read_splits_into_its_datagrams() {
        let buf = b"aaaabbbbcc";
        let got: Vec<&[u8]> = datagrams(buf, 10, Some(4)).collect();
        assert_eq!(got, [&b"aaaa"[..], b"bbbb", b"cc"]);
        let got: Vec<&[u8]> = datagrams(buf, 10, None).collect();
        assert_eq!(got, [&buf[..]]);
        let got: Vec<&[u8]> = datagrams(buf, 0, None).collect();
        assert_eq!(got, [&b""[..]], "an empty datagram is still a datagram");
    }
}
