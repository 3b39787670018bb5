//! The seam between a connection and its socket: a [`Transport`] reads bytes into the
//! connection's read buffer and sends what its [`Output`] holds. The connection never sees a
//! socket; a plain TCP stream is one transport (here, with `recv`, `writev`, `sendfile` and
//! `TCP_CORK`), and a TLS session wrapped around one is another — it decrypts into the same
//! read buffer and encrypts the same output, so the HTTP state machine does not know.

use std::io::{self, Write};

use bytes::BytesMut;
use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::sys;
use rustix::io::Errno;
use rustix::net::SendFlags;

use crate::output::{Output, Sending};

/// Free space the read buffer offers each `read`.
pub(crate) const READ_CHUNK: usize = 8 * 1024;

/// Bytes of file body one connection may send per loop turn, so one download cannot hold the
/// worker for a whole send buffer (megabytes) while other connections wait. Measured on the
/// 32 MiB, 4-connection benchmark with the body corked (see `set_cork`), six alternating
/// 4-second runs each: 128 KiB 1.69 GB/s mean, 512 KiB 1.96, 2 MiB 1.86, nginx 1.69 (its
/// `sendfile_max_chunk` is 2 MiB). Before corking, budgets above 128 KiB were no better,
/// because every call ended in a small pushed segment (docs/benchmarks.md).
pub(crate) const TURN_BUDGET: u64 = 512 * 1024;

/// Most bytes a large file body may leave queued in the socket but not yet sent
/// (`TCP_NOTSENT_LOWAT`); past it `sendfile` stops and the worker waits for writability.
///
/// Why: without a bound, `sendfile` fills the whole send buffer (megabytes), most of it
/// waiting for the receiver's window. The kernel then transmits that backlog when the
/// window-opening ACK arrives, in the softirq of the CPU that sent the ACK, which is the
/// *client's* CPU; on loopback it also runs the receive path there. Bounded, the backlog is
/// small and the rest goes out from our own `sendfile` call after the write-space wake-up,
/// on our CPU. Measured on the 32 MiB, 4-connection benchmark (`bench/paired.sh big 8 4`:
/// alternating runs against nginx, wrk on the other core): unbounded 1.66 GB/s (nginx
/// 1.72), 128 KiB 2.24 (nginx 1.66), 64 KiB 2.30 (nginx 1.69), with the client core's
/// softirq share down from ~17% to ~5–10%. 128 KiB keeps a wake-up per 128 KiB at most
/// while giving the same gain; HTTP/2 servers use the same option (with smaller values) to
/// keep their send queues short.
const NOTSENT_LOWAT: libc::c_int = 128 * 1024;

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recv {
    /// Bytes arrived; `drained`: the read was short, so the socket is empty for now (with
    /// edge triggering, the next arrival raises a new edge).
    Bytes { drained: bool },
    /// Nothing more to read now.
    Drained,
    /// The peer closed its side.
    Eof,
}

/// Outcome of one attempt to send everything pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    All,
    Blocked,
    /// The turn's byte budget is spent while the socket still takes more: let the other
    /// connections have the worker, and come back without waiting for an edge.
    Yield,
}

/// Where a connection's bytes come from and go to.
pub(crate) trait Transport {
    /// Reads into `buf`'s spare capacity (growing it when little is left). `hup`: the peer's
    /// FIN was already reported, so a short read does not mean drained.
    fn recv(&mut self, buf: &mut BytesMut, hup: bool) -> io::Result<Recv>;
    /// Sends what `out` holds until it is empty or the peer stops taking bytes; `moved` is
    /// set when any byte went.
    fn flush(&mut self, out: &mut Output, moved: &mut bool) -> io::Result<Flushed>;
    /// Sends what the transport itself still holds (a TLS handshake message that met a full
    /// socket), when the socket has room again.
    #[inline(always)]
    fn flush_pending(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether the transport is still setting up (a TLS handshake): no request can come yet.
    #[inline(always)]
    fn is_handshaking(&self) -> bool {
        false
    }
    /// What a finished TLS handshake settled (`None`: not TLS).
    fn tls_info(&self) -> Option<crate::TlsInfo> {
        None
    }
    /// Whether the TLS handshake's ALPN chose HTTP/2.
    fn alpn_h2(&self) -> bool {
        false
    }
    /// Ends our direction (FIN) while the peer's stays open (lingering close).
    fn shutdown_write(&mut self);
    /// Whether the peer reset the connection (checked when it hung up while we wait).
    fn is_reset(&self) -> bool;
    /// Bytes of this connection the peer acknowledged, if the transport can tell.
    fn bytes_acked(&self) -> Option<u64>;
}

impl Transport for TcpStream {
    fn recv(&mut self, buf: &mut BytesMut, hup: bool) -> io::Result<Recv> {
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        loop {
            // recv(2), made by the reactor's sys module: read(2) would pass through the file
            // layer on its way to the socket, and glibc's wrapper is a cancellation point (two
            // atomic operations per call that a worker never needs). Straight into the
            // buffer's uninitialised spare capacity, which grows by what arrived.
            return match sys::recv_spare(&*self, buf) {
                Ok((0, _)) => Ok(Recv::Eof),
                // A short read drained the socket; the extra read that would only return
                // EAGAIN is saved. (With the peer's FIN already reported there is no next
                // edge: then read on until 0.)
                Ok((n, want)) => Ok(Recv::Bytes { drained: n < want && !hup }),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => Ok(Recv::Drained),
                Err(e) => Err(e.into()),
            };
        }
    }

    fn flush(&mut self, out: &mut Output, moved: &mut bool) -> io::Result<Flushed> {
        let mut budget = TURN_BUDGET;
        loop {
            if out.wpos < out.wbuf.len() {
                let pending = out.pending();
                // The head and a large in-memory body leave together in one writev.
                let res = match &out.sending {
                    Some(Sending::Bytes(body)) => {
                        self.write_vectored(&[io::IoSlice::new(pending), io::IoSlice::new(body)])
                    }
                    // A file follows: MSG_MORE holds the head back so it leaves in the same
                    // segments as the first sendfile pages (nginx and lighttpd cork for the
                    // same reason) instead of as a packet of its own.
                    Some(Sending::File { left, .. }) if *left > 0 => send_more(self, pending),
                    _ => send(self, pending),
                };
                match res {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        out.advance(n);
                        *moved = true;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            out.wbuf.clear();
            out.wpos = 0;
            match out.sending.as_mut() {
                None => return Ok(Flushed::All),
                Some(Sending::Bytes(body)) if !body.is_empty() => match send(self, body) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        out.advance(n);
                        *moved = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
                Some(Sending::File { file, offset, left, corked }) if *left > 0 => {
                    if budget == 0 {
                        return Ok(Flushed::Yield);
                    }
                    if !*corked && *left > budget {
                        // Each sendfile call pushes its last partial segment at once (the
                        // socket has TCP_NODELAY), so a body sent in budget-sized calls would
                        // leave as full segments plus one small packet per call, each a
                        // wake-up for the reader. Corked, only full segments leave until the
                        // end. nginx (tcp_nopush) and lighttpd do the same.
                        set_cork(self, true)?;
                        set_notsent_lowat(self);
                        *corked = true;
                    }
                    let mut off = *offset;
                    let count = (*left).min(budget) as usize;
                    let n = match rustix::fs::sendfile(&*self, &**file, Some(&mut off), count) {
                        Ok(n) => n,
                        Err(Errno::AGAIN) => return Ok(Flushed::Blocked),
                        Err(Errno::INTR) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    if n == 0 {
                        // The file shrank under us; the promised length cannot be met.
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    *moved = true;
                    out.written += n as u64;
                    *offset += n as u64;
                    *left -= n as u64;
                    budget -= (n as u64).min(budget);
                }
                Some(Sending::File { corked, .. }) => {
                    if *corked {
                        set_cork(self, false)?;
                    }
                    out.sending = None;
                }
                Some(_) => {
                    out.refill()?;
                    if !out.has_output() {
                        return Ok(Flushed::All);
                    }
                }
            }
        }
    }

    fn shutdown_write(&mut self) {
        let _ = TcpStream::shutdown(self, std::net::Shutdown::Write);
    }

    fn is_reset(&self) -> bool {
        matches!(self.take_error(), Ok(Some(_)) | Err(_))
    }

    fn bytes_acked(&self) -> Option<u64> {
        // tcpi_bytes_acked (Linux 4.1); it stays readable after a reset.
        sys::tcp_bytes_acked(self)
    }
}

/// `send(2)`, made by rustix (see `recv`); `MSG_NOSIGNAL`: a closed peer is an error, not a
/// signal.
fn send(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(stream, buf, SendFlags::NOSIGNAL)?)
}

/// `send(2)` with `MSG_MORE`: the kernel queues the bytes without pushing a segment.
fn send_more(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(stream, buf, SendFlags::MORE | SendFlags::NOSIGNAL)?)
}

/// Bounds the unsent bytes the socket keeps (see [`NOTSENT_LOWAT`]). It stays set for the
/// rest of the connection: a later response larger than the bound is written in pieces as
/// the queue drains, which is the same pattern. Best effort: a kernel without the option
/// (before 3.12) sends as before.
pub(crate) fn set_notsent_lowat(stream: &TcpStream) {
    let _ = sys::set_int_opt(stream, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, NOTSENT_LOWAT);
}

/// `TCP_CORK` on or off; turning it off pushes what it held.
pub(crate) fn set_cork(stream: &TcpStream, on: bool) -> io::Result<()> {
    socket2::SockRef::from(stream).set_cork(on)
}
