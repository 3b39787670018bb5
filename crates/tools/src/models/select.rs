//! The `select` model: build an `fd_set` of the listener and each connection (in the read
//! set when it waits for bytes, in the write set when it has an unsent echo), call
//! `select(2)`, and serve whichever descriptors it marked.
//!
//! Its limits are the interface's: the sets are rebuilt and scanned in full on every call
//! (O(n) in the watched descriptors, however few are ready), and an `fd_set` is a fixed
//! bitmap of `FD_SETSIZE` (1024) bits, so a descriptor numbered 1024 or more cannot be
//! watched at all — `FD_SET` on it would write past the bitmap. Such a client is refused:
//! closed at once with a message on stderr, and the server carries on.

use std::collections::BTreeMap;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};

use super::conn::{Conn, Wants};
use super::{accept, cvt};
use crate::echo::Reply;

/// The number of descriptors an `fd_set` holds (1024 on Linux).
const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;

/// A zeroed `fd_set` that refuses descriptors it cannot hold.
struct FdSet(libc::fd_set);

impl FdSet {
    fn new() -> FdSet {
        // SAFETY: fd_set is a plain bitmap; all-zero bytes are the empty set (what FD_ZERO
        // writes).
        FdSet(unsafe { std::mem::zeroed() })
    }

    fn insert(&mut self, fd: RawFd) {
        assert!((0..FD_SETSIZE).contains(&fd), "descriptor {fd} checked at accept");
        // SAFETY: 0 <= fd < FD_SETSIZE, so the bit is inside the bitmap.
        unsafe { libc::FD_SET(fd, &mut self.0) }
    }

    fn contains(&self, fd: RawFd) -> bool {
        // SAFETY: as for `insert`; out-of-range descriptors are never in the set.
        (0..FD_SETSIZE).contains(&fd) && unsafe { libc::FD_ISSET(fd, &self.0) }
    }
}

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let lfd = listener.as_raw_fd();
    if lfd >= FD_SETSIZE {
        return Err(io::Error::other(too_high(lfd)));
    }
    // Ordered by descriptor, so the highest (select's first argument) is the last key.
    let mut conns: BTreeMap<RawFd, Conn> = BTreeMap::new();
    loop {
        let (mut rd, mut wr) = (FdSet::new(), FdSet::new());
        rd.insert(lfd);
        for (&fd, c) in &conns {
            match c.wants() {
                Wants::Read => rd.insert(fd),
                Wants::Write => wr.insert(fd),
                Wants::Close => {}
            }
        }
        let nfds = conns.keys().next_back().copied().unwrap_or(lfd).max(lfd) + 1;
        // SAFETY: both sets are valid fd_sets that live across the call; no except set and
        // no timeout (wait for ever) are null pointers, which select accepts.
        let r =
            unsafe { libc::select(nfds, &mut rd.0, &mut wr.0, std::ptr::null_mut(), std::ptr::null_mut()) };
        match cvt(r) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for (&fd, c) in conns.iter_mut() {
            if rd.contains(fd) || wr.contains(fd) {
                c.drive(reply);
            }
        }
        conns.retain(|_, c| c.wants() != Wants::Close);
        if rd.contains(lfd) {
            accept_all(&listener, &mut conns)?;
        }
    }
}

/// Accepts until `WouldBlock`, refusing descriptors an `fd_set` cannot hold.
fn accept_all(listener: &TcpListener, conns: &mut BTreeMap<RawFd, Conn>) -> io::Result<()> {
    loop {
        let stream = match accept(listener) {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(()), // a transient failure: next time round
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        };
        let fd = stream.as_raw_fd();
        if fd >= FD_SETSIZE {
            eprintln!("pollux: echo: {}; closing that client", too_high(fd));
            continue; // dropping `stream` closes it
        }
        match Conn::new(stream) {
            Ok(c) => {
                conns.insert(fd, c);
            }
            Err(e) => eprintln!("pollux: echo: cannot set up a client: {e}"),
        }
    }
}

fn too_high(fd: RawFd) -> String {
    format!("select cannot watch descriptor {fd} ≥ FD_SETSIZE ({FD_SETSIZE})")
}
