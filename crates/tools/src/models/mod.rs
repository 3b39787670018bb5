//! Seven textbook TCP echo servers, one file per I/O model, written the way each model is
//! meant to be written — plain blocking calls, `fork`, threads, a busy loop over non-blocking
//! sockets, `select`, `poll`, and `epoll` used directly — so that they can be run, tested and
//! measured side by side with the default reactor ([`super::echo::serve_tcp`]).
//!
//! ```text
//!   blocking     accept ─► echo until EOF ─► accept            one client at a time
//!   process      accept ─► fork ─► child echoes, _exit         a process per client
//!   thread       accept ─► spawn ─► thread echoes              a thread per client
//!   nonblocking  loop { accept?; every conn: write?/read? }    busy loop, 1 ms nap when idle
//!   select       fd_set of listener + conns ─► select          descriptors < FD_SETSIZE only
//!   poll         Vec<pollfd> of listener + conns ─► poll       O(n) scan per call
//!   epoll        epoll_wait ─► only the ready descriptors      level-triggered
//! ```
//!
//! Each model serves the first `--bind` address only: the textbook servers have one listener,
//! and a second would change what the model is (select and poll would watch two, blocking
//! would need a thread per listener). They run until the process is killed; there is no
//! graceful shutdown to show here, and SIGINT/SIGTERM keep their default action.
//!
//! The four readiness-driven models share one connection type (`conn.rs`), which echoes with one fixed buffer
//! and reads only once what it read before has been written back, so a partial write is
//! finished before more is read and a client that does not read stalls only itself.

mod blocking;
mod conn;
mod epoll;
mod nonblocking;
mod poll;
mod process;
mod select;
mod thread;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::echo::Reply;

/// Bytes read at a time; the most a connection holds in every model.
const BUF: usize = 16 * 1024;

/// Which of the seven servers to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Model {
    /// One client at a time, blocking calls.
    Blocking,
    /// `fork` a child process per client.
    Process,
    /// A thread per client.
    Thread,
    /// Non-blocking sockets polled in a loop.
    Nonblocking,
    /// `select(2)` over an `fd_set`.
    Select,
    /// `poll(2)` over a `Vec<pollfd>`.
    Poll,
    /// `epoll(7)`, level-triggered.
    Epoll,
}

/// Binds `addr`, tells `on_bound` the bound address (port 0 resolved), and serves TCP echo
/// with `model` until the process is killed. Returns only on an error of the listener or of
/// the model's own machinery (`select`, `poll`, `epoll`, `fork`); a client's error closes
/// that client only.
pub fn serve(
    model: Model,
    addr: SocketAddr,
    reply: Reply,
    on_bound: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    on_bound(listener.local_addr()?);
    match model {
        Model::Blocking => blocking::serve(listener, reply),
        Model::Process => process::serve(listener, reply),
        Model::Thread => thread::serve(listener, reply),
        Model::Nonblocking => nonblocking::serve(listener, reply),
        Model::Select => select::serve(listener, reply),
        Model::Poll => poll::serve(listener, reply),
        Model::Epoll => epoll::serve(listener, reply),
    }
}

/// Echoes one blocking stream until the client closes its side, then returns (the caller
/// drops the stream, which closes ours). `write_all` finishes partial writes; while it waits
/// nothing is read, so TCP flow control holds back a client that does not read.
fn echo_blocking(stream: &mut TcpStream, reply: Reply) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        reply.apply(&mut buf[..n]);
        stream.write_all(&buf[..n])?;
    }
}

/// Accepts one connection, retrying `EINTR`. A failed accept of one client (it reset before
/// we got to it, or we are out of descriptors for a moment) is `Ok(None)`: the model keeps
/// serving instead of dying with the listener still fine.
fn accept(listener: &TcpListener) -> io::Result<Option<TcpStream>> {
    loop {
        match listener.accept() {
            Ok((s, _)) => return Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
            Err(e) if transient_accept_error(&e) => {
                eprintln!("pollux: echo: accept failed: {e}");
                // Out of descriptors stays so until a client leaves: do not spin meanwhile.
                std::thread::sleep(std::time::Duration::from_millis(10));
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Accept errors that concern one connection or a passing shortage, not the listener.
fn transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::EPROTO
                | libc::EPERM
        )
    )
}

/// Turns the `-1` of a libc call into the `errno` error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
