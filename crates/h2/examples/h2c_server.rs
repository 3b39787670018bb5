//! A minimal h2c (prior knowledge) server over `std::net`, one thread per connection, to
//! drive `pollux_h2::Connection` from real clients: conformance suites (`httpwg`), `curl
//! --http2-prior-knowledge`, `h2load`. Not the pollux server: no handlers, every request is
//! answered with the same small body once its request body has ended.
//!
//! ```sh
//! cargo run --release -p pollux-h2 --example h2c_server -- 127.0.0.1:8080
//! httpwg -a 127.0.0.1:8080 -- target/release/examples/h2c_server 127.0.0.1:8080
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use bytes::BytesMut;
use pollux_h2::{Config, Connection, Event, StreamId};

const BODY: &[u8] = b"hello from pollux-h2\n";

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("h2c_server listening on {addr}");
    for socket in listener.incoming() {
        let socket = socket?;
        std::thread::spawn(move || {
            if let Err(e) = serve(socket) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut socket: TcpStream) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let start = Instant::now();
    let mut conn = Connection::new(Config::default());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = Vec::new();
    // Bytes of each response body still to send (flow control may hold them back).
    let mut pending: HashMap<StreamId, usize> = HashMap::new();
    let mut chunk = [0u8; 16 * 1024];
    conn.poll_transmit(&mut out);
    socket.write_all(&out)?;
    loop {
        out.clear();
        let n = socket.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let result = conn.handle_read(&mut buf, start.elapsed().as_millis() as u64);
        // Acks and the like first, then this round's response frames.
        conn.poll_transmit(&mut out);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Request { stream, head, end_stream } => {
                    conn.recycle_headers(head.headers);
                    if end_stream {
                        respond(&mut conn, stream, &mut out, &mut pending);
                    }
                }
                Event::Data { stream, data, end_stream } => {
                    conn.release(stream, data.len());
                    if end_stream {
                        respond(&mut conn, stream, &mut out, &mut pending);
                    }
                }
                Event::Trailers { stream, .. } => respond(&mut conn, stream, &mut out, &mut pending),
                Event::Reset { stream, .. } => {
                    pending.remove(&stream);
                }
                _ => {}
            }
        }
        // Windows may have opened: push held-back bodies.
        pending.retain(|&stream, left| push_body(&mut conn, stream, left, &mut out));
        socket.write_all(&out)?;
        if result.is_err() || conn.is_done() {
            return Ok(());
        }
    }
}

fn respond(
    conn: &mut Connection,
    stream: StreamId,
    out: &mut Vec<u8>,
    pending: &mut HashMap<StreamId, usize>,
) {
    let head = conn.send_headers(stream, false, out, |f| {
        f.status(200);
        f.field(b"content-type", b"text/plain");
        f.field(b"content-length", BODY.len().to_string().as_bytes());
    });
    if head.is_ok() {
        let mut left = BODY.len();
        if push_body(conn, stream, &mut left, out) {
            pending.insert(stream, left);
        }
    }
}

/// Sends what the windows allow; `true` while some of the body is left.
fn push_body(conn: &mut Connection, stream: StreamId, left: &mut usize, out: &mut Vec<u8>) -> bool {
    let n = conn.send_capacity(stream).min(*left);
    let from = BODY.len() - *left;
    let last = n == *left;
    if (n > 0 || last) && conn.send_data(stream, &BODY[from..from + n], last, out).is_err() {
        return false;
    }
    *left -= n;
    *left > 0
}
