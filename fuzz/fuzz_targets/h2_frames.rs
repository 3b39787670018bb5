//! Feeds arbitrary bytes, after a valid client preface and SETTINGS, to a
//! `pollux_h2::Connection`, then answers every request it yields as a server would.
//!
//! Oracles besides "no panic": the same bytes in two reads (cut at a point from the first
//! byte) and in one read give the same events, the same connection error and the same
//! output (how the network cuts bytes never changes what a connection does); everything the
//! connection writes parses back into whole frames no larger than the peer allows; no more
//! streams are open than SETTINGS_MAX_CONCURRENT_STREAMS; responses never exceed the
//! flow-control capacity the connection reported.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pollux_h2::{Config, Connection, Event, Flood};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(first) * input.len() / 255;
    // Odd first bytes get tiny limits, so the limit paths are reached with small inputs.
    let config = if first & 1 == 1 {
        Config {
            max_concurrent_streams: 2,
            initial_window_size: 100,
            connection_window: 65_535,
            max_header_list_size: 200,
            max_header_block: 300,
            max_continuations: 2,
            header_table_size: if first & 2 == 2 { 0 } else { 4096 },
            flood: Flood { burst: 4, per_second: 1 },
            ..Config::default()
        }
    } else {
        Config::default()
    };
    let split_run = run(input, &[split], &config);
    let whole_run = run(input, &[], &config);
    assert_eq!(split_run, whole_run, "split at {split} changed the outcome");
});

/// Feeds `input` cut at `cuts`, then answers; returns a transcript of everything observable.
fn run(input: &[u8], cuts: &[usize], config: &Config) -> Vec<String> {
    let mut conn = Connection::new(config.clone());
    let mut buf = BytesMut::from(PREFACE);
    let mut transcript = Vec::new();
    let mut start = 0;
    let mut result = Ok(());
    for end in cuts.iter().copied().chain([input.len()]) {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        result = conn.handle_read(&mut buf, 5_000);
        assert!(conn.open_streams() <= config.max_concurrent_streams as usize);
        if result.is_err() {
            // Fed nothing more: the same error comes back.
            assert_eq!(conn.handle_read(&mut buf, 5_000), result);
            break;
        }
    }
    transcript.push(format!("{result:?}"));
    let mut out = Vec::new();
    conn.poll_transmit(&mut out);
    let mut streams = Vec::new();
    while let Some(event) = conn.poll_event() {
        match &event {
            Event::Request { stream, head, end_stream } => {
                transcript.push(format!(
                    "request {stream} {} {} {:?} {:?} {} {end_stream}",
                    head.method, head.uri, head.headers, head.content_length, head.too_large
                ));
                streams.push(*stream);
            }
            Event::Data { stream, data, end_stream } => {
                transcript.push(format!("data {stream} {data:?} {end_stream}"));
                conn.release(*stream, data.len());
            }
            other => transcript.push(format!("{other:?}")),
        }
    }
    // Answer every request: a head, then as much body as the windows allow.
    let body = [b'x'; 40_000];
    for stream in streams {
        let before = out.len();
        if conn
            .send_headers(stream, false, &mut out, |f| {
                f.status(200);
                f.field(b"content-type", b"text/plain");
            })
            .is_err()
        {
            assert_eq!(out.len(), before, "nothing written on error");
            continue;
        }
        let capacity = conn.send_capacity(stream);
        assert!(capacity <= (1 << 31) - 1);
        let n = capacity.min(body.len());
        conn.send_data(stream, &body[..n], n == body.len(), &mut out).expect("within the capacity");
        if n < body.len() {
            // The windows are spent: one more octet is refused and nothing written.
            assert_eq!(conn.send_capacity(stream), 0);
            let before = out.len();
            assert_eq!(conn.send_data(stream, b"x", false, &mut out), Err(pollux_h2::SendError::FlowControl));
            assert_eq!(out.len(), before);
        }
    }
    conn.poll_transmit(&mut out);
    check_frames(&out, conn.peer_max_frame_size());
    transcript.push(format!("{out:?}"));
    transcript.push(format!("done {} open {}", conn.is_done(), conn.open_streams()));
    transcript
}

/// Everything written is whole frames within the peer's maximum frame size.
fn check_frames(mut bytes: &[u8], max: usize) {
    while !bytes.is_empty() {
        assert!(bytes.len() >= 9, "partial frame header");
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        assert!(len <= max, "frame of {len} over {max}");
        assert!(bytes.len() >= 9 + len, "partial frame");
        bytes = &bytes[9 + len..];
    }
}
