//! The connection preface (RFC 9113 §3.4) and SETTINGS exchange (§6.5).

use super::harness::*;
use crate::frame::{flag, kind, PREFACE};
use crate::{Config, ErrorCode, Flood};

#[test]
fn server_preface_is_settings_then_connection_window_update() {
    let mut c = Client::fresh(Config::default());
    let frames = c.frames();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].kind, kind::SETTINGS);
    assert_eq!(frames[0].flags, 0);
    assert_eq!(frames[0].stream, 0);
    // MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 256 KiB, MAX_HEADER_LIST_SIZE 32 KiB;
    // no ENABLE_PUSH (a client's setting).
    assert_eq!(frames[0].payload, b"\x00\x03\0\0\0\x64\x00\x04\0\x04\0\0\x00\x06\0\0\x80\0");
    assert_eq!(window_updates_of(&frames), [(0, 1024 * 1024 - 65_535)]);
    assert!(!c.conn.is_established());
}

#[test]
fn no_window_update_when_the_connection_window_is_the_default() {
    let mut c = Client::fresh(Config { connection_window: 65_535, ..Config::default() });
    let frames = c.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].kind, kind::SETTINGS);
}

#[test]
fn preface_and_settings_may_arrive_a_byte_at_a_time() {
    let mut c = Client::fresh(Config::default());
    c.frames();
    let mut bytes = PREFACE.to_vec();
    bytes.extend(settings(&[(4, 100)]));
    for (n, b) in bytes.iter().enumerate() {
        c.send(&[*b]).expect("valid so far");
        assert_eq!(c.conn.is_established(), n + 1 == bytes.len(), "after {} bytes", n + 1);
    }
    assert!(c.inbuf.is_empty());
    let frames = c.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].kind, frames[0].flags, frames[0].payload.len()), (kind::SETTINGS, flag::ACK, 0));
}

#[test]
fn a_partial_frame_stays_in_the_buffer() {
    let mut c = Client::new();
    let p = ping(b"12345678");
    c.send(&p[..12]).expect("partial");
    assert_eq!(c.inbuf.len(), 12);
    assert!(c.frames().is_empty());
    c.send(&p[12..]).expect("whole");
    assert!(c.inbuf.is_empty());
    assert_eq!(c.frames()[0].payload, b"12345678");
}

#[test]
fn invalid_preface_is_a_protocol_error() {
    let mut c = Client::fresh(Config::default());
    c.frames();
    let r = c.send(b"INVALID CONNECTION PREFACE\r\n\r\n");
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn an_http1_request_is_refused_at_its_first_byte() {
    let mut c = Client::fresh(Config::default());
    c.frames();
    let r = c.send(b"G");
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn preface_not_followed_by_settings_is_a_protocol_error() {
    let mut c = Client::fresh(Config::default());
    c.frames();
    let mut bytes = PREFACE.to_vec();
    bytes.extend(ping(b"12345678"));
    let r = c.send(&bytes);
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    // nor may the first SETTINGS be an ack
    let mut c = Client::fresh(Config::default());
    let mut bytes = PREFACE.to_vec();
    bytes.extend(settings_ack());
    let r = c.send(&bytes);
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn after_a_connection_error_nothing_more_is_read() {
    let mut c = Client::new();
    let mut bytes = frame(kind::PING, 0, 3, b"12345678");
    bytes.extend(ping(b"abcdefgh"));
    let r = c.send(&bytes);
    assert_conn_error(&mut c, r.clone(), ErrorCode::ProtocolError);
    // the PING behind the bad one was not answered; a second call fails the same way
    assert_eq!(c.send(&ping(b"abcdefgh")), r);
    assert!(c.frames().is_empty(), "no second GOAWAY, no PING ack");
}

#[test]
fn each_settings_is_acknowledged_and_applied_in_order() {
    let mut c = Client::new();
    c.send(&settings(&[(4, 100), (4, 1)])).expect("valid");
    let frames = c.frames();
    assert_eq!(frames.len(), 1);
    assert!(frames[0].has(flag::ACK));
    assert_eq!(c.conn.peer.initial_window_size, 1);
}

#[test]
fn unknown_settings_are_ignored() {
    let mut c = Client::new();
    c.send(&frame(kind::SETTINGS, 0, 0, b"\x00\xff\x00\x00\x00\x00")).expect("ignored");
    assert!(c.frames()[0].has(flag::ACK));
    c.send(&ping(b"still up")).expect("alive");
    assert_eq!(c.frames()[0].payload, b"still up");
}

#[test]
fn bad_settings_values() {
    for (pair, code) in [
        ((2, 2), ErrorCode::ProtocolError),
        ((4, 1 << 31), ErrorCode::FlowControlError),
        ((5, (1 << 14) - 1), ErrorCode::ProtocolError),
        ((5, 1 << 24), ErrorCode::ProtocolError),
    ] {
        let mut c = Client::new();
        let r = c.send(&settings(&[pair]));
        assert_conn_error(&mut c, r, code);
    }
}

#[test]
fn bad_settings_frames() {
    let mut c = Client::new();
    let r = c.send(&frame(kind::SETTINGS, flag::ACK, 0, b"\0"));
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
    let mut c = Client::new();
    let r = c.send(&frame(kind::SETTINGS, 0, 0, b"\x00\x03\x00"));
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
    let mut c = Client::new();
    let r = c.send(&frame(kind::SETTINGS, 0, 1, b"\x00\x03\0\0\0\x64"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn our_settings_ack_is_recorded_once() {
    let mut c = Client::fresh(Config::default());
    let mut bytes = PREFACE.to_vec();
    bytes.extend(settings(&[]));
    c.send(&bytes).expect("valid");
    assert!(!c.conn.settings_acked);
    c.send(&settings_ack()).expect("valid");
    assert!(c.conn.settings_acked);
    c.send(&settings_ack()).expect("an extra ack is harmless");
}

#[test]
fn settings_flood_budget() {
    let mut c = Client::with(Config { flood: Flood { burst: 5, per_second: 1 }, ..Config::default() });
    // the handshake spent one token (the client's SETTINGS; acks are not counted)
    for _ in 0..4 {
        c.send(&settings(&[])).expect("within the burst");
    }
    let r = c.send(&settings(&[]));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}
