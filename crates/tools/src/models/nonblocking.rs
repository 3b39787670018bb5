//! The non-blocking model: every socket in non-blocking mode, and one loop that tries each of
//! them in turn — accept until `WouldBlock`, then every connection's pending write or next
//! read.
//!
//! No call ever waits, so one thread serves every client; but the loop also never learns
//! which socket is ready, so it asks all of them every time round, and when nothing is
//! happening it would spin a core at 100%. We nap 1 ms after a turn in which nothing moved:
//! the CPU stays near idle while a burst of traffic still gets a full-speed loop, at the
//! price of up to 1 ms of added latency for the first bytes after a quiet spell. That
//! trade-off, not a kernel interface, is the model's limit.

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use super::accept;
use super::conn::{Conn, Wants};
use crate::echo::Reply;

const IDLE_NAP: Duration = Duration::from_millis(1);

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut conns: Vec<Conn> = Vec::new();
    loop {
        let mut moved = 0;
        loop {
            match accept(&listener) {
                Ok(Some(s)) => {
                    moved += 1;
                    match Conn::new(s) {
                        Ok(c) => conns.push(c),
                        Err(e) => eprintln!("pollux: echo: cannot set up a client: {e}"),
                    }
                }
                Ok(None) => break, // a transient failure: next time round
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        for c in &mut conns {
            moved += c.drive(reply);
        }
        conns.retain(|c| c.wants() != Wants::Close);
        if moved == 0 {
            std::thread::sleep(IDLE_NAP);
        }
    }
}
