//! The terminal client: what you type goes to the room, what the room says is printed, both
//! at once (two threads, since a blocked read of the terminal must not hold up the room's
//! lines, and neither side knows when the other will speak).
//!
//! End of input (Ctrl-D) sends `/quit`; the client ends when the server closes the
//! connection, which it does after `/quit` and its goodbye.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended {
    /// We left: `/quit` was typed or input ended, and the server closed after its goodbye.
    Left,
    /// The server announced it was shutting down, then closed the connection.
    ServerShutDown,
    /// The server closed the connection without our asking or its saying why (it dropped us).
    ClosedByServer,
}

/// The room's last words before a graceful shutdown (`ChatService::on_shutdown`).
const SHUTDOWN_LINE: &[u8] = b"* the server is shutting down\n";

/// Runs the client on a connected stream until the server closes it. `input` is read on a
/// thread of its own (which is left blocked in `read` if the server closes first; the
/// process exits around it).
pub fn run(
    stream: TcpStream,
    input: impl BufRead + Send + 'static,
    mut output: impl Write,
) -> io::Result<Ended> {
    let mut to_server = stream.try_clone()?;
    let left = Arc::new(AtomicBool::new(false));
    let leaving = left.clone();
    std::thread::Builder::new().name("chat-input".into()).spawn(move || {
        for line in input.lines() {
            let Ok(line) = line else { break };
            let quit = matches!(line.trim(), "/quit" | "/exit");
            if quit {
                // Before the line goes out: the server may close as soon as it reads it.
                leaving.store(true, Ordering::SeqCst);
            }
            if writeln!(to_server, "{line}").is_err() || quit {
                return;
            }
        }
        // End of input: leave politely, then say we will send nothing more.
        leaving.store(true, Ordering::SeqCst);
        let _ = to_server.write_all(b"/quit\n");
        let _ = to_server.shutdown(Shutdown::Write);
    })?;
    let mut shutting_down = false;
    let ended = |shutting_down: bool| {
        if left.load(Ordering::SeqCst) {
            Ended::Left
        } else if shutting_down {
            Ended::ServerShutDown
        } else {
            Ended::ClosedByServer
        }
    };
    let mut from_server = io::BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from_server.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(ended(shutting_down)),
            Ok(_) => {
                shutting_down = line == SHUTDOWN_LINE;
                output.write_all(&line)?;
                output.flush()?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The server reset the connection (it dropped us, say): that ends the session too.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(ended(shutting_down)),
            Err(e) => return Err(e),
        }
    }
}
