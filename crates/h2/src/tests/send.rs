//! Writing responses: HEADERS and CONTINUATION, DATA, and the stream state they leave.

use super::harness::*;
use crate::frame::{flag, kind};
use crate::{Config, ErrorCode, SendError, State};

fn fields(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

#[test]
fn a_response_head_is_one_headers_frame() {
    let mut c = Client::new();
    c.request(1, true, GET);
    let mut out = Vec::new();
    c.conn
        .send_headers(1, false, &mut out, |f| {
            f.status(200);
            f.field(b"content-type", b"text/plain");
            f.field(b"content-length", b"5");
        })
        .expect("open");
    let frames = parse_frames(&out);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].kind, frames[0].flags, frames[0].stream), (kind::HEADERS, flag::END_HEADERS, 1));
    assert_eq!(
        c.decode(&frames[0].payload),
        fields(&[(":status", "200"), ("content-type", "text/plain"), ("content-length", "5")])
    );
    assert_eq!(c.conn.stream_state(1), State::HalfClosedRemote);
    c.conn.send_data(1, b"hello", true, &mut out).expect("fits");
    assert_eq!(c.conn.stream_state(1), State::Closed);
}

#[test]
fn a_head_without_body_ends_the_stream() {
    let mut c = Client::new();
    c.request(1, true, GET);
    let mut out = Vec::new();
    c.conn.send_headers(1, true, &mut out, |f| f.status(304)).expect("open");
    let frames = parse_frames(&out);
    assert_eq!(frames[0].flags, flag::END_HEADERS | flag::END_STREAM);
    assert_eq!(c.decode(&frames[0].payload), fields(&[(":status", "304")]));
    assert_eq!(c.conn.open_streams(), 0);
}

#[test]
fn a_large_head_is_split_into_continuations() {
    let mut c = Client::new();
    c.request(1, true, GET);
    // '~' has a 13-bit Huffman code: sent as a raw literal of 20,000 octets.
    let big = vec![b'~'; 20_000];
    let mut out = Vec::new();
    c.conn
        .send_headers(1, true, &mut out, |f| {
            f.status(200);
            f.field(b"x-big", &big);
        })
        .expect("open");
    let frames = parse_frames(&out);
    assert_eq!(frames.len(), 2);
    assert_eq!(
        (frames[0].kind, frames[0].flags, frames[0].payload.len()),
        (kind::HEADERS, flag::END_STREAM, 16_384)
    );
    assert_eq!(
        (frames[1].kind, frames[1].flags, frames[1].stream),
        (kind::CONTINUATION, flag::END_HEADERS, 1)
    );
    let block: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
    let decoded = c.decode(&block);
    assert_eq!(decoded[1].1.len(), 20_000);
}

#[test]
fn informational_then_final_then_trailers() {
    let mut c = Client::new();
    c.request(1, false, POST);
    let mut out = Vec::new();
    c.conn.send_headers(1, false, &mut out, |f| f.status(100)).expect("open");
    c.conn.send_headers(1, false, &mut out, |f| f.status(200)).expect("open");
    c.conn.send_data(1, b"body", false, &mut out).expect("fits");
    c.conn.send_headers(1, true, &mut out, |f| f.field(b"x-checksum", b"1")).expect("open");
    let frames = parse_frames(&out);
    let kinds: Vec<_> = frames.iter().map(|f| (f.kind, f.has(flag::END_STREAM))).collect();
    assert_eq!(
        kinds,
        [(kind::HEADERS, false), (kind::HEADERS, false), (kind::DATA, false), (kind::HEADERS, true)]
    );
    assert_eq!(c.decode(&frames[0].payload), fields(&[(":status", "100")]));
    assert_eq!(c.decode(&frames[3].payload), fields(&[("x-checksum", "1")]));
    // The client was still sending: it is told to stop, without error.
    assert_eq!(resets_of(&c.frames()), [(1, ErrorCode::NoError)]);
}

#[test]
fn nothing_is_written_on_a_stream_that_is_gone() {
    let mut c = Client::new();
    c.request(1, false, POST);
    c.send(&rst_stream(1, ErrorCode::Cancel)).expect("valid");
    let mut out = Vec::new();
    assert_eq!(c.conn.send_headers(1, false, &mut out, |f| f.status(200)), Err(SendError::StreamClosed));
    assert_eq!(c.conn.send_data(1, b"x", false, &mut out), Err(SendError::StreamClosed));
    assert_eq!(c.conn.data_frame_header(1, 1, false, &mut out), Err(SendError::StreamClosed));
    assert_eq!(c.conn.send_headers(3, false, &mut out, |f| f.status(200)), Err(SendError::StreamClosed));
    assert!(out.is_empty());
    assert_eq!(c.conn.send_capacity(1), 0);
}

#[test]
fn the_peers_header_table_size_reaches_our_encoder() {
    let mut c = Client::with_settings(Config::default(), &[(1, 0)]);
    c.dec.set_max_table_size(0);
    c.request(1, true, GET);
    let mut out = Vec::new();
    c.conn
        .send_headers(1, true, &mut out, |f| {
            f.status(200);
            f.field(b"x-a", b"b");
        })
        .expect("open");
    let frames = parse_frames(&out);
    assert_eq!(frames[0].payload[0], 0x20, "a size update to 0 first");
    assert_eq!(c.decode(&frames[0].payload), fields(&[(":status", "200"), ("x-a", "b")]));
    assert_eq!(c.dec.table_size(), 0);
}

#[test]
fn many_streams_interleave() {
    let mut c = Client::new();
    for id in (1..=199).step_by(2) {
        c.request(id, true, GET);
    }
    assert_eq!(c.conn.open_streams(), 100);
    let mut out = Vec::new();
    for id in (1..=199).rev().step_by(2) {
        c.conn.send_headers(id, false, &mut out, |f| f.status(200)).expect("open");
    }
    for id in (1..=199).step_by(2) {
        c.conn.send_data(id, b"x", true, &mut out).expect("fits");
    }
    assert_eq!(c.conn.open_streams(), 0);
    assert_eq!(parse_frames(&out).len(), 200);
}
