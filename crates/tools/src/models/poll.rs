//! The `poll` model: a `Vec<pollfd>` of the listener and every connection, with each entry's
//! events derived from the connection's state, passed whole to `poll(2)`.
//!
//! Unlike `select` there is no descriptor ceiling (the array is as long as we make it), but
//! the cost is the same shape: the whole array goes to the kernel and is scanned on every
//! call, so the work per wake-up grows with the number of connections, idle ones included.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

use super::conn::{Conn, Wants};
use super::{accept, cvt};
use crate::echo::Reply;

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        // Entry 0 is the listener; entry i + 1 is conns[i].
        fds.clear();
        fds.push(libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        for c in &conns {
            let events = if c.wants() == Wants::Write { libc::POLLOUT } else { libc::POLLIN };
            fds.push(libc::pollfd { fd: c.stream.as_raw_fd(), events, revents: 0 });
        }
        // SAFETY: `fds` is a valid, initialised array of `fds.len()` pollfds for the call.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        match cvt(r) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        // POLLHUP/POLLERR come whatever we asked for; drive() meets the EOF or error itself.
        for (c, p) in conns.iter_mut().zip(&fds[1..]) {
            if p.revents != 0 {
                c.drive(reply);
            }
        }
        conns.retain(|c| c.wants() != Wants::Close);
        if fds[0].revents != 0 {
            loop {
                match accept(&listener) {
                    Ok(Some(s)) => match Conn::new(s) {
                        Ok(c) => conns.push(c),
                        Err(e) => eprintln!("pollux: echo: cannot set up a client: {e}"),
                    },
                    Ok(None) => break, // a transient failure: next time round
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
