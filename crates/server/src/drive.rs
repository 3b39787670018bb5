//! The driver of one connection: does what the sans-IO [`Conn`] asks, over a [`Transport`],
//! until neither can go on without waiting. The system calls are the transport's; the
//! application is the [`App`] lent to the connection.
//!
//! Readiness is edge-triggered: an edge is reported once, and the connection may not act on
//! it at once (its answers may wait to be written), so the driver remembers it in `ready`
//! until a read or write comes back empty.

use bytes::BytesMut;

use crate::conn::{App, Conn, Env, Step};
use crate::h2conn::H2Conn;
use crate::output::Output;
use crate::transport::{Flushed, Recv, Transport};

/// What the driver needs of a connection's protocol: HTTP/1.1's [`Conn`] or HTTP/2's
/// [`H2Conn`]. Both are sans-IO; the driver does the reading and writing they ask for.
pub(crate) trait Proto {
    fn poll(&mut self, env: &mut Env, app: &mut impl App) -> Step;
    fn output(&mut self) -> Option<&mut Output>;
    fn handle_sent(&mut self, env: &mut Env, all: bool, moved: bool);
    fn read_buf(&mut self, env: &mut Env) -> &mut BytesMut;
    fn handle_read(&mut self);
    fn handle_eof(&mut self);
    fn handle_broken(&mut self);
    fn handle_write_shut(&mut self);
    /// Whether a TLS handshake is still under way, as far as the protocol knows.
    fn is_handshaking(&self) -> bool {
        false
    }
    /// The handshake finished; `h2`: ALPN chose HTTP/2.
    fn handle_handshake_done(&mut self, h2: bool) {
        let _ = h2;
    }
    /// After a run: give back what an idle connection need not hold.
    fn settle(&mut self, env: &mut Env, acked: impl FnOnce() -> Option<u64>);
}

impl Proto for Conn {
    #[inline(always)]
    fn poll(&mut self, env: &mut Env, app: &mut impl App) -> Step {
        Conn::poll(self, env, app)
    }
    #[inline(always)]
    fn output(&mut self) -> Option<&mut Output> {
        Conn::output(self)
    }
    #[inline(always)]
    fn handle_sent(&mut self, env: &mut Env, all: bool, moved: bool) {
        Conn::handle_sent(self, env, all, moved)
    }
    #[inline(always)]
    fn read_buf(&mut self, env: &mut Env) -> &mut BytesMut {
        Conn::read_buf(self, env)
    }
    #[inline(always)]
    fn handle_read(&mut self) {
        Conn::handle_read(self)
    }
    fn handle_eof(&mut self) {
        Conn::handle_eof(self)
    }
    fn handle_broken(&mut self) {
        Conn::handle_broken(self)
    }
    fn handle_write_shut(&mut self) {
        Conn::handle_write_shut(self)
    }
    #[inline(always)]
    fn is_handshaking(&self) -> bool {
        Conn::is_handshaking(self)
    }
    fn handle_handshake_done(&mut self, h2: bool) {
        Conn::handle_handshake_done(self, h2)
    }
    #[inline(always)]
    fn settle(&mut self, env: &mut Env, acked: impl FnOnce() -> Option<u64>) {
        Conn::settle(self, env, acked)
    }
}

impl Proto for H2Conn {
    fn poll(&mut self, env: &mut Env, app: &mut impl App) -> Step {
        H2Conn::poll(self, env, app)
    }
    fn output(&mut self) -> Option<&mut Output> {
        H2Conn::output(self)
    }
    fn handle_sent(&mut self, env: &mut Env, all: bool, moved: bool) {
        H2Conn::handle_sent(self, env, all, moved)
    }
    fn read_buf(&mut self, env: &mut Env) -> &mut BytesMut {
        H2Conn::read_buf(self, env)
    }
    fn handle_read(&mut self) {
        H2Conn::handle_read(self)
    }
    fn handle_eof(&mut self) {
        H2Conn::handle_eof(self)
    }
    fn handle_broken(&mut self) {
        H2Conn::handle_broken(self)
    }
    fn handle_write_shut(&mut self) {
        H2Conn::handle_write_shut(self)
    }
    fn settle(&mut self, env: &mut Env, _acked: impl FnOnce() -> Option<u64>) {
        H2Conn::settle(self, env)
    }
}

/// Readiness bits remembered between events.
pub(crate) const CAN_READ: u8 = 1;
pub(crate) const CAN_WRITE: u8 = 2;
/// The peer's FIN was seen: read until 0, not just until a short read.
pub(crate) const HUP: u8 = 4;
/// Stopped at its turn budget with the socket still writable: run again next turn.
pub(crate) const YIELDED: u8 = 8;

/// Runs `conn` as far as it can go without blocking: answers (calling `app` for each
/// request), writes, reads. Returns whether any byte moved.
#[inline(always)]
pub(crate) fn drive<T: Transport, P: Proto>(
    conn: &mut P,
    t: &mut T,
    ready: &mut u8,
    env: &mut Env,
    app: &mut impl App,
) -> bool {
    let mut progress = false;
    if *ready & CAN_WRITE != 0 && t.flush_pending().is_err() {
        conn.handle_broken();
    }
    loop {
        match conn.poll(env, app) {
            Step::Send => {
                if *ready & CAN_WRITE == 0 {
                    break;
                }
                let Some(out) = conn.output() else { break };
                let mut moved = false;
                let written = out.written;
                let flushed = t.flush(out, &mut moved);
                if let Some(m) = &env.log.metrics {
                    m.bytes_out(out.written - written);
                }
                progress |= moved;
                match flushed {
                    Ok(f) => {
                        conn.handle_sent(env, f == Flushed::All, moved);
                        match f {
                            Flushed::All => {}
                            Flushed::Yield => {
                                *ready |= YIELDED;
                                break;
                            }
                            Flushed::Blocked => {
                                *ready &= !CAN_WRITE;
                                break;
                            }
                        }
                    }
                    Err(_) => conn.handle_broken(),
                }
            }
            Step::Read => {
                if *ready & CAN_READ == 0 {
                    break;
                }
                let buf = conn.read_buf(env);
                let len = buf.len();
                let got = t.recv(buf, *ready & HUP != 0);
                let received = buf.len().saturating_sub(len) as u64;
                if let Some(m) = &env.log.metrics {
                    m.bytes_in(received);
                }
                if conn.is_handshaking() && !t.is_handshaking() {
                    conn.handle_handshake_done(t.alpn_h2());
                    let info = t.tls_info();
                    // The request that came with the handshake's end is logged with it.
                    env.log.tls = info.as_ref().map(|i| (i.version, i.cipher));
                    app.handshake_done(info);
                }
                match got {
                    Ok(Recv::Bytes { drained }) => {
                        if drained {
                            *ready &= !CAN_READ;
                        }
                        progress = true;
                        conn.handle_read();
                    }
                    Ok(Recv::Drained) => {
                        *ready &= !CAN_READ;
                        break;
                    }
                    Ok(Recv::Eof) => {
                        *ready &= !CAN_READ;
                        conn.handle_eof();
                    }
                    Err(_) => conn.handle_broken(),
                }
            }
            Step::ShutdownWrite => {
                t.shutdown_write();
                conn.handle_write_shut();
            }
            Step::Wait => {
                // A FIN is no reason to give up on an answer being computed (a client may
                // half-close and still read), a reset is: the answer could never be
                // delivered, and dropping the wait cancels the work.
                if *ready & HUP != 0 && t.is_reset() {
                    conn.handle_broken();
                    continue;
                }
                break;
            }
            Step::Close | Step::Upgrade => break,
        }
    }
    conn.settle(env, || t.bytes_acked());
    progress
}
