//! The `epoll` model: descriptors are registered once with `epoll_ctl`, and `epoll_wait`
//! returns only the ready ones — the kernel keeps the interest list, so a wake-up costs in
//! the ready descriptors, not in every connection as with `select` and `poll`.
//!
//! Level-triggered, as textbooks write it: a descriptor stays reported while it is readable
//! (or writable), so a connection may stop after its turn's budget and is simply reported
//! again. Its interest follows its state (`EPOLLIN` while it waits for bytes, `EPOLLOUT`
//! while an echo is unsent) and is changed with `EPOLL_CTL_MOD` only when the state flips.
//! This is the bare interface, one thread, no reactor: the default `pollux echo` model is our
//! reactor, which adds workers, timers and shutdown on top of the same calls.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::conn::{Conn, Wants};
use super::{accept, cvt};
use crate::echo::Reply;

/// Events taken per `epoll_wait`.
const MAX_EVENTS: usize = 256;

/// An epoll instance, closed when dropped.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes a flag and returns a new descriptor (or -1).
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned to us and is owned by nothing else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// `EPOLL_CTL_ADD` / `MOD` / `DEL` of `fd`, whose descriptor number is its token.
    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: fd as u64 };
        // SAFETY: `ev` is a valid epoll_event for the call (ignored by DEL).
        cvt(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    /// Waits for ever for ready descriptors; fills `events` and returns how many.
    fn wait(&self, events: &mut [libc::epoll_event]) -> io::Result<usize> {
        // SAFETY: `events` is writable for `events.len()` entries (≤ MAX_EVENTS fits c_int).
        let n = unsafe {
            libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), events.len() as libc::c_int, -1)
        };
        cvt(n).map(|n| n as usize)
    }
}

fn interest(w: Wants) -> u32 {
    if w == Wants::Write {
        libc::EPOLLOUT as u32
    } else {
        libc::EPOLLIN as u32
    }
}

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let ep = Epoll::new()?;
    let lfd = listener.as_raw_fd();
    ep.ctl(libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32)?;
    // A descriptor number is unique among open descriptors, so it serves as the token.
    let mut conns: HashMap<RawFd, (Conn, Wants)> = HashMap::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
    loop {
        let n = match ep.wait(&mut events) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for ev in &events[..n] {
            let fd = ev.u64 as RawFd;
            if fd == lfd {
                accept_all(&listener, &ep, &mut conns)?;
                continue;
            }
            let Some((conn, registered)) = conns.get_mut(&fd) else { continue };
            conn.drive(reply);
            let now = conn.wants();
            if now == Wants::Close {
                // Closing the descriptor would remove it too, but only once no other
                // descriptor shares its file; saying so keeps the interest list exact.
                let _ = ep.ctl(libc::EPOLL_CTL_DEL, fd, 0);
                conns.remove(&fd);
            } else if interest(now) != interest(*registered) {
                if ep.ctl(libc::EPOLL_CTL_MOD, fd, interest(now)).is_ok() {
                    *registered = now;
                } else {
                    conns.remove(&fd);
                }
            }
        }
    }
}

/// Accepts until `WouldBlock`, registering each new connection for reading.
fn accept_all(
    listener: &TcpListener,
    ep: &Epoll,
    conns: &mut HashMap<RawFd, (Conn, Wants)>,
) -> io::Result<()> {
    loop {
        let stream = match accept(listener) {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(()), // a transient failure: next time round
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        };
        let fd = stream.as_raw_fd();
        let conn = match Conn::new(stream) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pollux: echo: cannot set up a client: {e}");
                continue;
            }
        };
        match ep.ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32) {
            Ok(()) => {
                conns.insert(fd, (conn, Wants::Read));
            }
            Err(e) => eprintln!("pollux: echo: cannot watch a client: {e}"),
        }
    }
}
