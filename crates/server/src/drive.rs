//! The driver of one connection: does what the sans-IO [`Conn`] asks, over a [`Transport`],
//! until neither can go on without waiting. The system calls are the transport's; the
//! application is the [`App`] lent to the connection.
//!
//! Readiness is edge-triggered: an edge is reported once, and the connection may not act on
//! it at once (its answers may wait to be written), so the driver remembers it in `ready`
//! until a read or write comes back empty.

use crate::conn::{App, Conn, Env, Step};
use crate::transport::{Flushed, Recv, Transport};

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
pub(crate) fn drive<T: Transport>(
    conn: &mut Conn,
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
                let flushed = t.flush(out, &mut moved);
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
                let got = t.recv(conn.read_buf(env), *ready & HUP != 0);
                if conn.is_handshaking() && !t.is_handshaking() {
                    conn.handle_handshake_done();
                    app.handshake_done(t.tls_info());
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
            Step::Close => break,
        }
    }
    conn.settle(env, || t.bytes_acked());
    progress
}
