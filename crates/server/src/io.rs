//! Moving bytes: `read(2)` into the pooled read buffer, and writing the answers — the write
//! buffer first, then a file (`sendfile(2)`) or a stream behind it.

use std::io::{self, Write};

use pollux_http1::{encode_chunk, encode_last_chunk};
use pollux_reactor::mio::net::TcpStream;
use pollux_reactor::sys;
use rustix::io::Errno;
use rustix::net::SendFlags;

use crate::conn::{Active, Sending, CAN_READ, HUP, READ_CHUNK, WBUF_HIGH};

/// Outcome of one attempt to write everything pending.
pub(crate) enum Flushed {
    All,
    Blocked,
    /// The turn's byte budget is spent while the socket still takes more: let the other
    /// connections have the worker, and come back without waiting for an edge.
    Yield,
}

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

pub(crate) enum Read {
    /// Bytes arrived (maybe more wait).
    Bytes,
    /// Nothing more to read now.
    Drained,
    /// The peer closed its side.
    Eof,
}

/// One `recv(2)` into the spare capacity of the read buffer.
pub(crate) fn read_some(stream: &mut TcpStream, a: &mut Active, ready: &mut u8) -> io::Result<Read> {
    if a.rbuf.capacity() - a.rbuf.len() < READ_CHUNK / 2 {
        a.rbuf.reserve(READ_CHUNK);
    }
    loop {
        // recv(2), made by rustix itself: read(2) would pass through the file layer on its
        // way to the socket, and glibc's wrapper is a cancellation point (two atomic
        // operations per call that a worker never needs). Straight into the buffer's
        // uninitialised spare capacity, which grows by what arrived.
        let (n, want) = match sys::recv_spare(&*stream, &mut a.rbuf) {
            Ok(r) => r,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                *ready &= !CAN_READ;
                return Ok(Read::Drained);
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            *ready &= !CAN_READ;
            return Ok(Read::Eof);
        }
        if n < want && *ready & HUP == 0 {
            // A short read drained the socket; with edge triggering the next arrival raises a
            // new edge, so the extra read that would only return EAGAIN is saved. (With the
            // peer's FIN already reported there is no next edge: then read on until 0.)
            *ready &= !CAN_READ;
        }
        return Ok(Read::Bytes);
    }
}

/// Writes the write buffer, then the file or stream body behind it, until done or blocked.
pub(crate) fn flush(stream: &mut TcpStream, a: &mut Active, progress: &mut bool) -> io::Result<Flushed> {
    let mut budget = TURN_BUDGET;
    loop {
        if a.wpos < a.wbuf.len() {
            let pending = &a.wbuf[a.wpos..];
            // The head and a large in-memory body leave together in one writev.
            let res = match &a.sending {
                Some(Sending::Bytes(body)) => {
                    stream.write_vectored(&[io::IoSlice::new(pending), io::IoSlice::new(body)])
                }
                // A file follows: MSG_MORE holds the head back so it leaves in the same
                // segments as the first sendfile pages (nginx and lighttpd cork for the same
                // reason) instead of as a packet of its own.
                Some(Sending::File { left, .. }) if *left > 0 => send_more(stream, pending),
                _ => send(stream, pending),
            };
            match res {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    a.written += n as u64;
                    let head = n.min(pending.len());
                    a.wpos += head;
                    if let Some(Sending::Bytes(body)) = a.sending.as_mut() {
                        bytes::Buf::advance(body, n - head);
                    }
                    *progress = true;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        a.wbuf.clear();
        a.wpos = 0;
        match a.sending.as_mut() {
            None => return Ok(Flushed::All),
            Some(Sending::Bytes(body)) => {
                if body.is_empty() {
                    a.sending = None;
                    continue;
                }
                match send(stream, body) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        a.written += n as u64;
                        bytes::Buf::advance(body, n);
                        *progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Some(Sending::File { file, offset, left, corked }) => {
                if *left == 0 {
                    if *corked {
                        set_cork(stream, false)?;
                    }
                    a.sending = None;
                    continue;
                }
                if budget == 0 {
                    return Ok(Flushed::Yield);
                }
                if !*corked && *left > budget {
                    // Each sendfile call pushes its last partial segment at once (the socket
                    // has TCP_NODELAY), so a body sent in budget-sized calls would leave as
                    // full segments plus one small packet per call, each a wake-up for the
                    // reader. Corked, only full segments leave until the end. nginx
                    // (tcp_nopush) and lighttpd do the same.
                    set_cork(stream, true)?;
                    set_notsent_lowat(stream);
                    *corked = true;
                }
                let mut off = *offset;
                let count = (*left).min(budget) as usize;
                let n = match rustix::fs::sendfile(&*stream, &*file, Some(&mut off), count) {
                    Ok(n) => n,
                    Err(Errno::AGAIN) => return Ok(Flushed::Blocked),
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    // The file shrank under us; the promised length cannot be met.
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *progress = true;
                a.written += n as u64;
                *offset += n as u64;
                *left -= n as u64;
                budget -= (n as u64).min(budget);
            }
            Some(Sending::Stream { stream: body, chunked, left }) => {
                while a.wbuf.len() < WBUF_HIGH {
                    match body.next_chunk() {
                        Some(Ok(b)) => {
                            if *chunked {
                                encode_chunk(&mut a.wbuf, &b);
                            } else {
                                let take = left.map_or(b.len(), |l| (l as usize).min(b.len()));
                                a.wbuf.extend_from_slice(&b[..take]);
                                if let Some(l) = left.as_mut() {
                                    *l -= take as u64;
                                }
                            }
                        }
                        Some(Err(e)) => return Err(e),
                        None => {
                            if *chunked {
                                encode_last_chunk(&mut a.wbuf);
                            } else if left.is_some_and(|l| l > 0) {
                                return Err(io::ErrorKind::UnexpectedEof.into());
                            }
                            a.sending = None;
                            break;
                        }
                    }
                }
                if a.wbuf.is_empty() && a.sending.is_none() {
                    return Ok(Flushed::All);
                }
            }
        }
    }
}

/// `send(2)`, made by rustix (see `read_some`); `MSG_NOSIGNAL`: a closed peer is an error,
/// not a signal.
fn send(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(stream, buf, SendFlags::NOSIGNAL)?)
}

/// `send(2)` with `MSG_MORE`: the kernel queues the bytes without pushing a segment.
fn send_more(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    socket2::SockRef::from(stream).send_with_flags(buf, libc::MSG_MORE | libc::MSG_NOSIGNAL)
}

/// Bounds the unsent bytes the socket keeps (see [`NOTSENT_LOWAT`]). It stays set for the
/// rest of the connection: a later response larger than the bound is written in pieces as
/// the queue drains, which is the same pattern. Best effort: a kernel without the option
/// (before 3.12) sends as before.
fn set_notsent_lowat(stream: &TcpStream) {
    let _ = sys::set_int_opt(stream, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, NOTSENT_LOWAT);
}

/// `TCP_CORK` on or off; turning it off pushes what it held.
fn set_cork(stream: &TcpStream, on: bool) -> io::Result<()> {
    socket2::SockRef::from(stream).set_cork(on)
}
