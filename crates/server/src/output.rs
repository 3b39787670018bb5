//! What a connection has to send: the write buffer (heads and small bodies of every answer in
//! the batch) and, behind it, at most one body that does not fit it — a large in-memory body,
//! a file region, or a stream. The connection fills it; a transport empties it.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use pollux_http1::{encode_chunk, encode_last_chunk};

/// Answers of one batch are gathered up to this size before they are written.
pub(crate) const WBUF_HIGH: usize = 64 * 1024;
/// In-memory bodies above this size are written from their own buffer (see
/// [`Sending::Bytes`]); smaller ones are copied so pipelined answers share one write.
pub(crate) const INLINE_BYTES: usize = 16 * 1024;
/// Files up to this size are copied into the write buffer (one `pread`, batched with the other
/// answers); larger ones go out with `sendfile`.
pub(crate) const INLINE_FILE: u64 = 16 * 1024;

/// Bytes waiting to be sent, in order: `wbuf[wpos..]`, then `sending`.
pub(crate) struct Output {
    pub(crate) wbuf: Vec<u8>,
    pub(crate) wpos: usize,
    pub(crate) sending: Option<Sending>,
    /// Bytes handed to the transport so far (the access log's byte counts come from it).
    pub(crate) written: u64,
}

/// A response body that does not fit the write buffer, sent after it.
pub(crate) enum Sending {
    /// A large in-memory body: written straight from its `Bytes` (with the head, in one
    /// `writev`) instead of being copied into the write buffer.
    Bytes(Bytes),
    /// A file region, sent with `sendfile(2)` by a plain transport.
    File {
        file: Arc<std::fs::File>,
        offset: u64,
        left: u64,
        /// `TCP_CORK` is set for the length of this body (see `transport`).
        corked: bool,
    },
    /// A body produced piece by piece; [`Output::fill_from_stream`] moves it into `wbuf`.
    Stream { stream: Box<dyn crate::BodyStream>, chunked: bool, left: Option<u64> },
}

impl Output {
    pub(crate) fn new(capacity: usize) -> Output {
        Output { wbuf: Vec::with_capacity(capacity), wpos: 0, sending: None, written: 0 }
    }

    pub(crate) fn reset(&mut self) {
        self.wbuf.clear();
        self.wpos = 0;
        self.sending = None;
        self.written = 0;
    }

    pub(crate) fn has_output(&self) -> bool {
        self.wpos < self.wbuf.len() || self.sending.is_some()
    }

    /// The unsent part of the write buffer.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.wbuf[self.wpos..]
    }

    /// Bytes from the buffer (then from a `Sending::Bytes` body) were sent.
    pub(crate) fn advance(&mut self, n: usize) {
        self.written += n as u64;
        let head = n.min(self.wbuf.len() - self.wpos);
        self.wpos += head;
        if let Some(Sending::Bytes(body)) = self.sending.as_mut() {
            bytes::Buf::advance(body, n - head);
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
    }

    /// The write buffer is out: drops a finished body, and moves the next pieces of a stream
    /// body into the buffer (framed as chunks when the body is chunked). Call when
    /// `pending()` is empty; afterwards either `pending()` has bytes, or `sending` is a
    /// `Bytes`/`File` body with bytes left, or nothing is left at all.
    pub(crate) fn refill(&mut self) -> io::Result<()> {
        match self.sending.as_mut() {
            Some(Sending::Bytes(b)) if b.is_empty() => self.sending = None,
            Some(Sending::File { left: 0, corked: false, .. }) => self.sending = None,
            Some(Sending::Stream { stream, chunked, left }) => {
                while self.wbuf.len() < WBUF_HIGH {
                    match stream.next_chunk() {
                        Some(Ok(b)) => {
                            if *chunked {
                                encode_chunk(&mut self.wbuf, &b);
                            } else {
                                let take = left.map_or(b.len(), |l| (l as usize).min(b.len()));
                                self.wbuf.extend_from_slice(&b[..take]);
                                if let Some(l) = left.as_mut() {
                                    *l -= take as u64;
                                }
                            }
                        }
                        Some(Err(e)) => return Err(e),
                        None => {
                            if *chunked {
                                encode_last_chunk(&mut self.wbuf);
                            } else if left.is_some_and(|l| l > 0) {
                                return Err(io::ErrorKind::UnexpectedEof.into());
                            }
                            self.sending = None;
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
