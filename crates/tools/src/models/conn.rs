//! One echo connection on a non-blocking socket, shared by the readiness models
//! (nonblocking, select, poll, epoll).
//!
//! The connection reads only when its buffer is empty, i.e. when everything read before has
//! been written back; so a partial write is finished before anything new is read, and what
//! the model must wait for follows from the state alone ([`Conn::wants`]).

use std::io::{self, Read, Write};
use std::net::TcpStream;

use super::BUF;
use crate::echo::Reply;

/// Bytes one connection may move per call before the loop serves the others: a client that
/// reads as fast as it writes would otherwise keep the loop to itself.
const TURN_BUDGET: usize = 4 * BUF;

/// What the connection waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wants {
    /// The client's next bytes (or its FIN).
    Read,
    /// Room in the send buffer for the unsent echo.
    Write,
    /// Nothing: the client closed its side and all was echoed, or the socket failed.
    Close,
}

#[derive(Debug)]
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    buf: Box<[u8]>,
    /// Unsent bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// The client sent its FIN: echo what is left, then close (RFC 862).
    input_closed: bool,
    failed: bool,
}

impl Conn {
    /// Wraps an accepted stream, switching it to non-blocking mode.
    pub(super) fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            buf: vec![0u8; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            input_closed: false,
            failed: false,
        })
    }

    pub(super) fn wants(&self) -> Wants {
        if self.failed {
            Wants::Close
        } else if self.start < self.end {
            Wants::Write
        } else if self.input_closed {
            Wants::Close
        } else {
            Wants::Read
        }
    }

    /// Writes what is pending, then reads more, until the socket would block or the turn's
    /// budget is spent; the bytes moved. Safe to call on a spurious wake-up: `WouldBlock`
    /// just ends the turn. An error marks the connection for closing.
    pub(super) fn drive(&mut self, reply: Reply) -> usize {
        match self.try_drive(reply) {
            Ok(n) => n,
            Err(_) => {
                self.failed = true;
                0
            }
        }
    }

    fn try_drive(&mut self, reply: Reply) -> io::Result<usize> {
        let mut moved = 0;
        loop {
            while self.start < self.end {
                match self.stream.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.start += n;
                        moved += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(moved),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.start = 0;
            self.end = 0;
            if self.input_closed || moved >= TURN_BUDGET {
                return Ok(moved);
            }
            match self.stream.read(&mut self.buf) {
                // The FIN counts as movement: the caller must look at the state again.
                Ok(0) => {
                    self.input_closed = true;
                    return Ok(moved + 1);
                }
                Ok(n) => {
                    reply.apply(&mut self.buf[..n]);
                    self.end = n;
                    moved += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(moved),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
