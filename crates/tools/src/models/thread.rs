//! The thread-per-client model: accept, and hand the client to a new thread that echoes with
//! blocking calls.
//!
//! Clients no longer wait for each other, and the code stays as plain as the blocking model.
//! The limit is the cost of a thread per client: a stack reservation (2 MiB by default in
//! Rust's std, of which only the touched pages are resident), a kernel task, and a context
//! switch per wake-up; thousands of mostly idle clients pay for thousands of threads.

use std::io;
use std::net::TcpListener;

use super::{accept, echo_blocking};
use crate::echo::Reply;

/// The echo thread needs a buffer and a few frames, not std's default 2 MiB of stack.
const STACK: usize = 64 * 1024;

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    loop {
        let Some(mut stream) = accept(&listener)? else { continue };
        let spawned = std::thread::Builder::new().stack_size(STACK).spawn(move || {
            let _ = echo_blocking(&mut stream, reply);
        });
        // Out of threads (RLIMIT_NPROC, memory): this client is dropped, the server goes on.
        if let Err(e) = spawned {
            eprintln!("pollux: echo: cannot start a thread for a client: {e}");
        }
    }
}
