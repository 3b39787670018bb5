//! Blocking socket calls that retry `EINTR`.
//!
//! Why: a socket with a timeout (`SO_RCVTIMEO`, which every test client sets) reports a wake-up
//! by any signal as `EINTR` instead of restarting the call — the kernel's `sock_intr_errno`
//! gives `-EINTR` rather than `-ERESTARTSYS` whenever a timeout is set — and this happens even
//! for wake-ups no handler sees. std's `read` passes that on (`ErrorKind::Interrupted`, "the
//! read should be retried"); a client that takes it for the server's close reports an empty
//! answer that the server did send. That was a CI failure (`static_conditional`, "got \"\"").
//!
//! This file depends on std alone because the reactor's and the server's own tests include it
//! by path (`#[path = "../../testkit/src/retry.rs"]`): they cannot depend on this crate, which
//! depends on them. Hence the allowances, for the items such a test does not use.
#![allow(dead_code, unreachable_pub)]

use std::io::{self, Read};
use std::net::{SocketAddr, UdpSocket};

/// `Read::read`, retried while it is interrupted.
pub trait ReadRetry: Read {
    /// One `read` that is not ended by `EINTR`.
    fn read_retry(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl<R: Read + ?Sized> ReadRetry for R {}

/// `UdpSocket::recv_from`, retried while it is interrupted.
pub fn recv_from(s: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    loop {
        match s.recv_from(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}
