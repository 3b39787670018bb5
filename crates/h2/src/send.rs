//! Writing responses: HEADERS (+ CONTINUATION) and DATA, straight into the server's output
//! buffer, within the peer's SETTINGS_MAX_FRAME_SIZE and flow-control windows.

use crate::connection::{Connection, Phase};
use crate::error::SendError;
use crate::frame::{self, flag, kind, HEADER_LEN};
use crate::StreamId;

/// The fields of one response head, HPACK-encoded as they are added.
#[derive(Debug)]
pub struct Fields<'a> {
    encoder: &'a mut pollux_hpack::Encoder,
    out: &'a mut Vec<u8>,
}

impl Fields<'_> {
    /// `:status`: first, once, and only in a response head (not in trailers).
    pub fn status(&mut self, code: u16) {
        self.encoder.status(code, self.out);
    }

    /// A regular field. `name` must be lowercase and not connection-specific (§8.2.2): the
    /// server's job, not checked here.
    pub fn field(&mut self, name: &[u8], value: &[u8]) {
        self.encoder.field(name, value, self.out);
    }
}

impl Connection {
    /// The index of a stream we may still send on.
    fn sendable(&self, stream: StreamId) -> Result<usize, SendError> {
        if matches!(self.phase, Phase::Failed(_)) {
            return Err(SendError::StreamClosed);
        }
        match self.live(stream) {
            Some(i) if self.streams.get(i).state.local_open() => Ok(i),
            _ => Err(SendError::StreamClosed),
        }
    }

    /// Encodes a response head (or trailers): HEADERS, plus CONTINUATION frames when the
    /// block exceeds the peer's SETTINGS_MAX_FRAME_SIZE, with END_STREAM if `end_stream`.
    /// `fields` adds `:status` first, then the regular fields. Several calls are fine (1xx
    /// heads, then the final one, then trailers).
    ///
    /// `Err(StreamClosed)` if the stream is not open for sending (reset meanwhile): then
    /// nothing is written.
    pub fn send_headers(
        &mut self,
        stream: StreamId,
        end_stream: bool,
        out: &mut Vec<u8>,
        fields: impl FnOnce(&mut Fields<'_>),
    ) -> Result<(), SendError> {
        let i = self.sendable(stream)?;
        let start = out.len();
        // Encoded in place after room for the header: no copy unless the block must be split.
        out.extend_from_slice(&[0; HEADER_LEN]);
        self.encoder.begin(out);
        fields(&mut Fields { encoder: &mut self.encoder, out });
        let len = out.len() - start - HEADER_LEN;
        let max = self.peer.max_frame_size as usize;
        let end = if end_stream { flag::END_STREAM } else { 0 };
        if len <= max {
            let head = frame::head_bytes(len, kind::HEADERS, end | flag::END_HEADERS, stream);
            out[start..start + HEADER_LEN].copy_from_slice(&head);
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(&out[start + HEADER_LEN..]);
            out.truncate(start);
            let count = self.scratch.len().div_ceil(max);
            for (n, chunk) in self.scratch.chunks(max).enumerate() {
                let last = if n + 1 == count { flag::END_HEADERS } else { 0 };
                if n == 0 {
                    frame::encode_head(out, chunk.len(), kind::HEADERS, end | last, stream);
                } else {
                    frame::encode_head(out, chunk.len(), kind::CONTINUATION, last, stream);
                }
                out.extend_from_slice(chunk);
            }
        }
        if end_stream {
            self.close_local(i);
        }
        Ok(())
    }

    /// How many DATA payload octets may go on `stream` now: the smaller of the connection's
    /// and the stream's send windows, 0 when either is exhausted or negative (§6.9.2) or the
    /// stream cannot be sent on.
    pub fn send_capacity(&self, stream: StreamId) -> usize {
        match self.sendable(stream) {
            Ok(i) => self.conn_send.available().min(self.streams.get(i).send.available()),
            Err(_) => 0,
        }
    }

    /// Writes DATA frames carrying `data`, split by the peer's maximum frame size, with
    /// END_STREAM on the last if `end_stream`. Empty `data` with `end_stream` writes one
    /// empty DATA frame; without, nothing. Both windows are debited.
    ///
    /// `data.len()` must be at most [`Connection::send_capacity`], else `Err(FlowControl)`
    /// and nothing is written.
    pub fn send_data(
        &mut self,
        stream: StreamId,
        data: &[u8],
        end_stream: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let i = self.sendable(stream)?;
        if data.len() > self.send_capacity(stream) {
            return Err(SendError::FlowControl);
        }
        let end = if end_stream { flag::END_STREAM } else { 0 };
        if data.is_empty() {
            if end_stream {
                frame::encode_head(out, 0, kind::DATA, end, stream);
                self.close_local(i);
            }
            return Ok(());
        }
        let max = self.peer.max_frame_size as usize;
        let count = data.len().div_ceil(max);
        out.reserve(data.len() + count * HEADER_LEN);
        for (n, chunk) in data.chunks(max).enumerate() {
            let flags = if n + 1 == count { end } else { 0 };
            frame::encode_head(out, chunk.len(), kind::DATA, flags, stream);
            out.extend_from_slice(chunk);
        }
        self.debit(i, data.len(), count);
        if end_stream {
            self.close_local(i);
        }
        Ok(())
    }

    /// Writes the 9-octet header of one DATA frame of `len` octets and debits the windows;
    /// the caller appends exactly `len` payload octets right after it (a file read straight
    /// into the output buffer). `len` must be at most [`Connection::send_capacity`]
    /// (`Err(FlowControl)`) and the peer's maximum frame size (`Err(FrameSize)`).
    pub fn data_frame_header(
        &mut self,
        stream: StreamId,
        len: usize,
        end_stream: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let i = self.sendable(stream)?;
        if len > self.peer_max_frame_size() {
            return Err(SendError::FrameSize);
        }
        if len > self.send_capacity(stream) {
            return Err(SendError::FlowControl);
        }
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        frame::encode_head(out, len, kind::DATA, flags, stream);
        if len > 0 {
            self.debit(i, len, 1);
        }
        if end_stream {
            self.close_local(i);
        }
        Ok(())
    }

    /// The peer's SETTINGS_MAX_FRAME_SIZE (for sizing file reads).
    pub fn peer_max_frame_size(&self) -> usize {
        self.peer.max_frame_size as usize
    }

    fn debit(&mut self, i: usize, n: usize, frames: usize) {
        self.conn_send.spend(n);
        self.streams.get_mut(i).send.spend(n);
        self.budgets.credit_window_updates(frames as u64);
    }
}
