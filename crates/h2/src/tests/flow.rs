//! Flow control (RFC 9113 §5.2, §6.9) in both directions.

use super::harness::*;
use crate::frame::{flag, kind};
use crate::{Config, ErrorCode, Event, SendError};

fn data_frames(frames: &[Out]) -> Vec<(u32, usize, bool)> {
    frames
        .iter()
        .filter(|f| f.kind == kind::DATA)
        .map(|f| (f.stream, f.payload.len(), f.has(flag::END_STREAM)))
        .collect()
}

/// Sends as much of `body` as the windows allow; returns the octets sent.
fn send_what_fits(c: &mut Client, stream: u32, body: &[u8], out: &mut Vec<u8>) -> usize {
    let n = c.conn.send_capacity(stream).min(body.len());
    c.conn.send_data(stream, &body[..n], n == body.len(), out).expect("within capacity");
    n
}

#[test]
fn a_200_kib_body_stops_at_the_default_window_and_goes_on_after_window_updates() {
    let mut c = Client::new();
    c.request(1, true, GET);
    let body = vec![7u8; 200 * 1024];
    let mut out = Vec::new();
    c.conn.send_headers(1, false, &mut out, |f| f.status(200)).expect("open");
    assert_eq!(c.conn.send_capacity(1), 65_535);
    let mut sent = send_what_fits(&mut c, 1, &body, &mut out);
    assert_eq!(sent, 65_535);
    assert_eq!(c.conn.send_capacity(1), 0);
    let frames = parse_frames(&out);
    assert_eq!(
        data_frames(&frames),
        [(1, 16_384, false), (1, 16_384, false), (1, 16_384, false), (1, 16_383, false)]
    );
    // The client reads and reopens both windows, in steps.
    let mut rounds = 0;
    while sent < body.len() {
        c.send_all(&[window_update(0, 65_535), window_update(1, 65_535)]).expect("valid");
        assert_eq!(c.conn.send_capacity(1), 65_535);
        out.clear();
        sent += send_what_fits(&mut c, 1, &body[sent..], &mut out);
        rounds += 1;
    }
    assert_eq!(rounds, 3);
    let last = parse_frames(&out);
    assert_eq!(
        last.last().map(|f| (f.payload.len(), f.has(flag::END_STREAM))),
        Some((200 * 1024 - 3 * 65_535, true))
    );
    assert_eq!(c.conn.open_streams(), 0);
}

#[test]
fn the_connection_window_is_shared_by_streams() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.request(3, true, GET);
    c.send(&window_update(1, 100_000)).expect("valid");
    let mut out = Vec::new();
    c.conn.send_data(1, &[0; 60_000], false, &mut out).expect("fits");
    assert_eq!(c.conn.send_capacity(1), 5_535);
    assert_eq!(c.conn.send_capacity(3), 5_535);
    c.send(&window_update(0, 10_000)).expect("valid");
    assert_eq!(c.conn.send_capacity(1), 15_535);
    assert_eq!(c.conn.send_capacity(3), 15_535);
}

#[test]
fn initial_window_size_change_mid_stream_adjusts_capacity_even_below_zero() {
    let mut c = Client::with_settings(Config::default(), &[(4, 3)]);
    c.request(1, true, GET);
    assert_eq!(c.conn.send_capacity(1), 3);
    let mut out = Vec::new();
    c.conn.send_data(1, b"abc", false, &mut out).expect("fits");
    assert_eq!(c.conn.send_capacity(1), 0);
    c.send(&settings(&[(4, 2)])).expect("valid");
    assert_eq!(c.conn.streams.find_mut(1).map(|s| s.send.value()), Some(-1));
    assert_eq!(c.conn.send_capacity(1), 0);
    c.send(&window_update(1, 2)).expect("valid");
    assert_eq!(c.conn.send_capacity(1), 1);
    // Raising it again applies the difference too.
    c.send(&settings(&[(4, 65_535)])).expect("valid");
    // The connection window lost the 3 octets sent: 65,532 is the smaller.
    assert_eq!(c.conn.send_capacity(1), 65_532);
}

#[test]
fn initial_window_size_before_the_request() {
    let mut c = Client::new();
    c.send(&settings(&[(4, 1)])).expect("valid");
    c.request(1, true, POST);
    assert_eq!(c.conn.send_capacity(1), 1);
    let mut out = Vec::new();
    assert_eq!(c.conn.send_data(1, b"ab", true, &mut out), Err(SendError::FlowControl));
    assert!(out.is_empty(), "nothing written");
    c.conn.send_data(1, b"a", false, &mut out).expect("fits");
    assert_eq!(data_frames(&parse_frames(&out)), [(1, 1, false)]);
}

#[test]
fn initial_window_size_overflowing_a_stream_window_is_a_connection_error() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.send(&window_update(1, (1 << 31) - 1 - 65_535)).expect("exactly the maximum");
    let r = c.send(&settings(&[(4, 65_536)]));
    assert_conn_error(&mut c, r, ErrorCode::FlowControlError);
}

#[test]
fn window_update_overflow() {
    let mut c = Client::new();
    c.send(&window_update(0, (1 << 31) - 1 - 65_535)).expect("exactly the maximum");
    let r = c.send(&window_update(0, 1));
    assert_conn_error(&mut c, r, ErrorCode::FlowControlError);

    let mut c = Client::new();
    c.request(1, false, POST);
    c.send(&window_update(1, (1 << 31) - 1 - 65_535)).expect("exactly the maximum");
    let r = c.send(&window_update(1, 1));
    assert_stream_error(&mut c, r, 1, ErrorCode::FlowControlError);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::FlowControlError }]));
}

#[test]
fn data_beyond_the_stream_window_is_a_stream_error() {
    let mut c = Client::with(Config { initial_window_size: 65_535, ..Config::default() });
    c.request(1, false, POST);
    for _ in 0..3 {
        c.send(&data(1, false, &[0; 16_384])).expect("within");
    }
    c.send(&data(1, false, &[0; 16_383])).expect("exactly the window");
    let r = c.send(&data(1, false, &[0]));
    assert_stream_error(&mut c, r, 1, ErrorCode::FlowControlError);
}

#[test]
fn data_beyond_the_connection_window_is_a_connection_error() {
    let mut c =
        Client::with(Config { initial_window_size: 1 << 20, connection_window: 65_535, ..Config::default() });
    c.request(1, false, POST);
    for _ in 0..3 {
        c.send(&data(1, false, &[0; 16_384])).expect("within");
    }
    let r = c.send(&data(1, false, &[0; 16_384]));
    assert_conn_error(&mut c, r, ErrorCode::FlowControlError);
}

#[test]
fn release_reopens_windows_in_half_window_steps() {
    let mut c =
        Client::with(Config { initial_window_size: 65_536, connection_window: 131_072, ..Config::default() });
    c.request(1, false, POST);
    c.send_all(&[data(1, false, &[0; 16_384]), data(1, false, &[0; 16_384])]).expect("valid");
    assert_eq!(c.events().len(), 2);
    c.conn.release(1, 16_384);
    assert!(c.frames().is_empty(), "a quarter of the stream window: not yet");
    c.conn.release(1, 16_384);
    assert_eq!(window_updates_of(&c.frames()), [(1, 32_768)]);
    c.send_all(&[data(1, false, &[0; 16_384]), data(1, false, &[0; 16_384])]).expect("valid");
    c.conn.release(1, 32_768);
    // The connection reaches half of its 128 KiB window only now.
    assert_eq!(window_updates_of(&c.frames()), [(1, 32_768), (0, 65_536)]);
    // More than was received is clamped.
    c.conn.release(1, 1_000_000);
    assert!(c.frames().is_empty());
}

#[test]
fn no_stream_window_update_once_the_body_ended() {
    let mut c =
        Client::with(Config { initial_window_size: 65_536, connection_window: 65_536, ..Config::default() });
    c.request(1, false, POST);
    c.send_all(&[data(1, false, &[0; 16_384]), data(1, false, &[0; 16_384]), data(1, true, &[0; 7_232])])
        .expect("valid");
    c.conn.release(1, 40_000);
    assert_eq!(window_updates_of(&c.frames()), [(0, 40_000)]);
}

#[test]
fn bytes_of_a_reset_stream_go_back_to_the_connection() {
    let mut c = Client::with(Config { connection_window: 65_536, ..Config::default() });
    c.request(1, false, POST);
    c.send_all(&[data(1, false, &[0; 16_384]), data(1, false, &[0; 16_384]), data(1, false, &[0; 7_232])])
        .expect("valid");
    c.send(&rst_stream(1, ErrorCode::Cancel)).expect("valid");
    assert_eq!(window_updates_of(&c.frames()), [(0, 40_000)]);
    c.conn.release(1, 40_000);
    assert!(c.frames().is_empty(), "not twice");
}

#[test]
fn data_on_a_closed_stream_is_charged_and_given_back() {
    let mut c = Client::with(Config { connection_window: 65_536, ..Config::default() });
    c.request(1, true, GET);
    c.conn.send_headers(1, true, &mut Vec::new(), |f| f.status(204)).expect("open");
    c.send_all(&[data(1, false, &[0; 16_384]), data(1, false, &[0; 16_384]), data(1, false, &[0; 7_232])])
        .expect("stream errors only");
    let frames = c.frames();
    // The first frame is answered with RST_STREAM; the others, sent before the client could
    // know, are ignored. All of them are charged to the connection window and given back.
    assert_eq!(resets_of(&frames), [(1, ErrorCode::StreamClosed)]);
    assert_eq!(window_updates_of(&frames), [(0, 32_768)]);
}

#[test]
fn a_smaller_initial_window_binds_once_acknowledged() {
    let config = Config { initial_window_size: 16_384, ..Config::default() };
    let mut c = Client::fresh(config);
    let mut hello = crate::frame::PREFACE.to_vec();
    hello.extend(settings(&[]));
    c.send(&hello).expect("valid");
    c.frames();
    // Before our SETTINGS are acknowledged the client may still count on 65,535.
    c.request(1, false, POST);
    c.send(&data(1, false, &[0; 16_384])).expect("valid");
    c.send(&data(1, false, &[0; 16_384])).expect("valid under the old default");
    c.send(&settings_ack()).expect("valid");
    // Now 65,535 - 16,384 was the shrink: the stream has 16,384 - 32,768 left.
    let r = c.send(&data(1, false, &[0]));
    assert_stream_error(&mut c, r, 1, ErrorCode::FlowControlError);
    c.events();
    c.request(3, false, POST);
    c.send(&data(3, false, &[0; 16_384])).expect("exactly the new window");
    let r = c.send(&data(3, false, &[0]));
    assert_stream_error(&mut c, r, 3, ErrorCode::FlowControlError);
}

#[test]
fn data_frame_header_debits_the_windows() {
    let mut c = Client::new();
    c.request(1, true, GET);
    let mut out = Vec::new();
    assert_eq!(c.conn.data_frame_header(1, 16_385, false, &mut out), Err(SendError::FrameSize));
    c.conn.data_frame_header(1, 16_384, false, &mut out).expect("fits");
    assert_eq!(out, [0x00, 0x40, 0x00, 0x00, 0x00, 0, 0, 0, 1]);
    assert_eq!(c.conn.send_capacity(1), 65_535 - 16_384);
    out.clear();
    c.conn.data_frame_header(1, 16_384, false, &mut out).expect("fits");
    c.conn.data_frame_header(1, 16_384, false, &mut out).expect("fits");
    c.conn.data_frame_header(1, 16_383, false, &mut out).expect("fits");
    assert_eq!(c.conn.data_frame_header(1, 1, true, &mut out), Err(SendError::FlowControl));
    c.conn.data_frame_header(1, 0, true, &mut out).expect("an empty end is always possible");
    assert_eq!(&out[out.len() - 9..], [0, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(c.conn.open_streams(), 0);
}

#[test]
fn data_is_split_by_the_peers_max_frame_size() {
    let mut c = Client::with_settings(Config::default(), &[(5, 20_000)]);
    c.request(1, true, GET);
    assert_eq!(c.conn.peer_max_frame_size(), 20_000);
    let mut out = Vec::new();
    c.conn.send_data(1, &[1; 50_000], true, &mut out).expect("fits");
    assert_eq!(data_frames(&parse_frames(&out)), [(1, 20_000, false), (1, 20_000, false), (1, 10_000, true)]);
}

#[test]
fn empty_data_with_end_stream_is_one_empty_frame_and_without_it_nothing() {
    let mut c = Client::new();
    c.request(1, true, GET);
    let mut out = Vec::new();
    c.conn.send_data(1, b"", false, &mut out).expect("nothing to do");
    assert!(out.is_empty());
    c.conn.send_data(1, b"", true, &mut out).expect("fits");
    assert_eq!(data_frames(&parse_frames(&out)), [(1, 0, true)]);
    assert_eq!(c.conn.send_data(1, b"", true, &mut out), Err(SendError::StreamClosed));
}
