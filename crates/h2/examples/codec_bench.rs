//! The codec alone under an h2load-like load: batches of 16 GET requests on one connection
//! (HPACK-indexed after the first), each answered with a head and a 1 KiB body; reports the
//! codec's time per request. No sockets, so the number is the protocol's own cost.
//! `NO_RESPONSE=1` resets each stream instead of answering: the request side alone.
//!
//! ```sh
//! cargo run --release -p pollux-h2 --example codec_bench
//! ```

use std::time::Instant;

use bytes::BytesMut;
use pollux_h2::{Config, Connection, Event};

const BATCH: u32 = 16;

fn main() {
    let mut conn = Connection::new(Config::default());
    let mut client = pollux_hpack::Encoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(64 * 1024);
    let body = [b'x'; 1024];

    buf.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    frame(&mut buf, 4, 0, 0, &[]);
    frame(&mut buf, 4, 1, 0, &[]);
    // A large connection window, as h2load's -W 30 gives, so the server is never blocked.
    frame(&mut buf, 8, 0, 0, &(1u32 << 30).to_be_bytes());
    conn.handle_read(&mut buf, 0).expect("handshake");
    conn.poll_transmit(&mut out);

    let respond = std::env::var_os("NO_RESPONSE").is_none();
    // `ROUNDS=n`: fewer rounds, e.g. under callgrind, whose instruction counts are stable
    // where wall time on a shared machine is not.
    let rounds: u32 = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(50_000);
    let mut next: u32 = 1;
    // The client's blocks: the first adds the fields to its table; every later one is the
    // same few index octets (as h2load sends them), encoded once here so that only the
    // server's work is timed.
    let mut first = Vec::new();
    let mut steady = Vec::new();
    for block in [&mut first, &mut steady] {
        client.begin(block);
        for (n, v) in [
            (&b":method"[..], &b"GET"[..]),
            (b":path", b"/1k.bin"),
            (b":scheme", b"https"),
            (b":authority", b"127.0.0.1:8443"),
            (b"user-agent", b"h2load nghttp2/1.52.0"),
        ] {
            client.field(n, v, block);
        }
    }
    let start = Instant::now();
    for round in 0..rounds {
        for _ in 0..BATCH {
            let block = if next == 1 { &first } else { &steady };
            frame(&mut buf, 1, 0x5, next, block);
            next += 2;
        }
        conn.handle_read(&mut buf, u64::from(round)).expect("requests");
        out.clear();
        conn.poll_transmit(&mut out);
        while let Some(event) = conn.poll_event() {
            if let Event::Request { stream, head, .. } = event {
                conn.recycle_headers(head.headers);
                if !respond {
                    conn.reset(stream, pollux_h2::ErrorCode::NoError);
                    continue;
                }
                conn.send_headers(stream, false, &mut out, |f| {
                    f.status(200);
                    f.field(b"server", b"pollux");
                    f.field(b"date", b"Mon, 07 Dec 2026 23:00:00 GMT");
                    f.field(b"content-type", b"application/octet-stream");
                    f.field(b"content-length", b"1024");
                })
                .expect("open");
                conn.send_data(stream, &body, true, &mut out).expect("window");
            }
        }
        // The client's reads reopen the connection window now and then.
        if round % 16 == 15 {
            frame(&mut buf, 8, 0, 0, &(16 * 16 * 1024u32).to_be_bytes());
        }
        buf.reserve(64 * 1024);
    }
    let elapsed = start.elapsed();
    let requests = u64::from(rounds * BATCH);
    println!(
        "{requests} requests in {elapsed:?}: {:.0} ns per request, {:.0} requests/s (codec only)",
        elapsed.as_nanos() as f64 / requests as f64,
        requests as f64 / elapsed.as_secs_f64()
    );
}

fn frame(buf: &mut BytesMut, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    buf.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    buf.extend_from_slice(&stream.to_be_bytes());
    buf.extend_from_slice(payload);
}
