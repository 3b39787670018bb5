//! The process-per-client model: accept, `fork`; the child echoes that client with blocking
//! calls and `_exit`s, the parent closes its copy of the socket and accepts the next.
//!
//! Children are reaped by the kernel: SIGCHLD is set to `SIG_IGN` before the first fork, which
//! on Linux (POSIX.1-2001) means terminated children are not turned into zombies at all, so
//! the parent never calls `waitpid`. The limit is the cost of a process per client (a page
//! table copy per fork, a task per client), and the isolation it buys is rarely needed by
//! an echo.
//!
//! `fork` copies only the calling thread, so this model must run in a single-threaded process
//! (the binary starts no thread before it): the child then may allocate and use std freely.

use std::io;
use std::net::TcpListener;

use super::{accept, cvt, echo_blocking};
use crate::echo::Reply;

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    // SAFETY: installs a disposition (SIG_IGN), no handler function runs; sigaction's
    // arguments are a valid signal number and a zeroed-then-filled struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_IGN;
        cvt(libc::sigemptyset(&mut sa.sa_mask))?;
        cvt(libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut()))?;
    }
    loop {
        let Some(mut stream) = accept(&listener)? else { continue };
        // SAFETY: the process is single-threaded (see the module doc), so the child's copy of
        // the address space is consistent, and it leaves only through `_exit`.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => {
                // Out of processes: drop this client, keep serving.
                eprintln!("pollux: echo: fork failed: {}", io::Error::last_os_error());
            }
            0 => {
                // The child: the listener is the parent's business.
                drop(listener);
                let code = i32::from(echo_blocking(&mut stream, reply).is_err());
                drop(stream);
                // SAFETY: `_exit` ends the child without running the parent's atexit handlers
                // or flushing stdio buffers it shares with the parent.
                unsafe { libc::_exit(code) }
            }
            _ => drop(stream), // the parent's copy; the child's stays open
        }
    }
}
