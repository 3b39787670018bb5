//! The terminal client: what you type goes to the room, what the room says is printed, both
//! at once (two threads, since a blocked read of the terminal must not hold up the room's
//! lines, and neither side knows when the other will speak).
//!
//! End of input (Ctrl-D) sends `/quit`; the client ends when the server closes the
//! connection, which it does after `/quit` and its goodbye.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpStream};

/// Runs the client on a connected stream until the server closes it. `input` is read on a
/// thread of its own (which is left blocked in `read` if the server closes first; the
/// process exits around it).
pub fn run(
    stream: TcpStream,
    input: impl BufRead + Send + 'static,
    mut output: impl Write,
) -> io::Result<()> {
    let mut to_server = stream.try_clone()?;
    std::thread::Builder::new().name("chat-input".into()).spawn(move || {
        for line in input.lines() {
            let Ok(line) = line else { break };
            let quit = line.trim() == "/quit";
            if writeln!(to_server, "{line}").is_err() || quit {
                return;
            }
        }
        // End of input: leave politely, then say we will send nothing more.
        let _ = to_server.write_all(b"/quit\n");
        let _ = to_server.shutdown(Shutdown::Write);
    })?;
    let mut from_server = io::BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from_server.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                output.write_all(&line)?;
                output.flush()?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The server reset the connection (it dropped us, say): that ends the session too.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
