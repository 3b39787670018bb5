//! The blocking model: accept one client, echo until it closes, then accept the next.
//!
//! The simplest server there is, and its limit is the point of the first lesson in network programming:
//! while one client is connected every other waits in the listen backlog, however idle the
//! first one is.

use std::io;
use std::net::TcpListener;

use super::{accept, echo_blocking};
use crate::echo::Reply;

pub(super) fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    loop {
        let Some(mut stream) = accept(&listener)? else { continue };
        // One client's failure (a reset, say) ends that client only.
        let _ = echo_blocking(&mut stream, reply);
    }
}
