//! Stream states (RFC 9113 §5.1), identifiers (§5.1.1), concurrency (§5.1.2), RST_STREAM
//! (§6.4) and GOAWAY (§6.8) in both directions.

use super::harness::*;
use crate::frame::{flag, kind};
use crate::{Config, ErrorCode, Event, State};

fn respond(c: &mut Client, stream: u32, end_stream: bool) -> Vec<u8> {
    let mut out = Vec::new();
    c.conn.send_headers(stream, end_stream, &mut out, |f| f.status(200)).expect("sendable");
    out
}

#[test]
fn a_request_opens_a_stream_half_closed_when_it_ends() {
    let mut c = Client::new();
    c.request(1, true, GET);
    assert_eq!(c.conn.stream_state(1), State::HalfClosedRemote);
    assert_eq!(c.conn.open_streams(), 1);
    c.request(3, false, POST);
    assert_eq!(c.conn.stream_state(3), State::Open);
    assert_eq!(c.conn.open_streams(), 2);
    assert_eq!(c.conn.stream_state(5), State::Idle);
}

#[test]
fn ending_the_response_closes_a_half_closed_stream() {
    let mut c = Client::new();
    c.request(1, true, GET);
    respond(&mut c, 1, true);
    assert_eq!(c.conn.stream_state(1), State::Closed);
    assert_eq!(c.conn.open_streams(), 0);
    assert!(c.frames().is_empty(), "no RST_STREAM: the client had finished");
}

#[test]
fn ending_the_response_before_the_body_sends_rst_stream_no_error() {
    let mut c = Client::new();
    c.request(1, false, POST);
    respond(&mut c, 1, true);
    assert_eq!(c.conn.stream_state(1), State::Closed);
    assert_eq!(resets_of(&c.frames()), [(1, ErrorCode::NoError)]);
    // The rest of the body, already in flight, is dropped quietly.
    c.send(&data(1, true, b"late")).expect("ignored");
    assert!(c.events().is_empty());
    assert!(resets_of(&c.frames()).is_empty());
}

#[test]
fn even_stream_ids_are_a_protocol_error() {
    let mut c = Client::new();
    let f = c.headers(2, true, GET);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn decreasing_stream_ids_are_a_protocol_error() {
    let mut c = Client::new();
    c.request(5, true, GET);
    let f = c.headers(3, true, GET);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn idle_streams_take_only_headers_and_priority() {
    for f in [
        data(1, true, b"test"),
        rst_stream(1, ErrorCode::Cancel),
        window_update(1, 100),
        frame(kind::CONTINUATION, flag::END_HEADERS, 1, b"\x82"),
    ] {
        let mut c = Client::new();
        let r = c.send(&f);
        assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    }
    let mut c = Client::new();
    c.send(&priority(1, 0)).expect("PRIORITY on an idle stream is fine");
    assert!(c.frames().is_empty());
    assert_eq!(c.conn.stream_state(1), State::Idle);
    c.request(1, true, GET);
}

#[test]
fn half_closed_remote_refuses_data_and_headers_with_stream_closed() {
    let mut c = Client::new();
    c.request(1, true, POST);
    let r = c.send(&data(1, true, b"test"));
    assert_stream_error(&mut c, r, 1, ErrorCode::StreamClosed);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::StreamClosed }]));
    assert_eq!(c.conn.open_streams(), 0);

    let mut c = Client::new();
    c.request(1, true, POST);
    let f = c.headers(1, true, POST);
    let r = c.send(&f);
    assert_stream_error(&mut c, r, 1, ErrorCode::StreamClosed);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::StreamClosed }]));
}

#[test]
fn half_closed_remote_takes_window_update_priority_and_rst_stream() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.send_all(&[window_update(1, 10), priority(1, 0)]).expect("allowed");
    assert!(c.frames().is_empty());
    assert_eq!(c.conn.send_capacity(1), 65_535);
    c.send(&rst_stream(1, ErrorCode::Cancel)).expect("allowed");
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::Cancel }]));
    assert_eq!(c.conn.stream_state(1), State::Closed);
}

#[test]
fn continuation_without_a_block_is_a_protocol_error() {
    let mut c = Client::new();
    c.request(1, true, POST);
    let r = c.send(&frame(kind::CONTINUATION, flag::END_HEADERS, 1, b"\x82"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn after_the_clients_rst_stream_data_is_a_stream_error_and_headers_a_connection_error() {
    let mut c = Client::new();
    c.request(1, false, POST);
    c.send(&rst_stream(1, ErrorCode::Cancel)).expect("valid");
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::Cancel }]));
    let r = c.send(&data(1, true, b"test"));
    assert_stream_error(&mut c, r, 1, ErrorCode::StreamClosed);

    let mut c = Client::new();
    c.request(1, false, POST);
    c.send(&rst_stream(1, ErrorCode::Cancel)).expect("valid");
    let f = c.headers(1, true, POST);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::StreamClosed);
}

#[test]
fn after_both_ends_closed_data_is_a_stream_error_and_headers_a_connection_error() {
    let mut c = Client::new();
    c.request(1, true, POST);
    respond(&mut c, 1, true);
    let r = c.send(&data(1, true, b"test"));
    assert_stream_error(&mut c, r, 1, ErrorCode::StreamClosed);
    assert!(c.events().is_empty(), "the server no longer knows the stream");

    let mut c = Client::new();
    c.request(1, true, POST);
    respond(&mut c, 1, true);
    let f = c.headers(1, true, POST);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::StreamClosed);
}

#[test]
fn closed_streams_take_late_window_update_rst_stream_and_priority() {
    let mut c = Client::new();
    c.request(1, true, GET);
    respond(&mut c, 1, true);
    c.send_all(&[window_update(1, 100), rst_stream(1, ErrorCode::Cancel), priority(1, 0)]).expect("ignored");
    assert!(c.frames().is_empty());
    assert!(c.events().is_empty());
}

#[test]
fn rst_stream_with_an_unknown_code_is_passed_on() {
    let mut c = Client::new();
    c.request(1, false, POST);
    c.send(&frame(kind::RST_STREAM, 0, 1, b"\0\0\0\xff")).expect("valid");
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::Unknown(0xff) }]));
    c.send(&ping(b"h2spec\0\0")).expect("alive");
    assert_eq!(c.frames()[0].payload, b"h2spec\0\0");
}

#[test]
fn rst_stream_frame_rules() {
    let mut c = Client::new();
    let r = c.send(&rst_stream(0, ErrorCode::Cancel));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    let mut c = Client::new();
    c.request(1, true, POST);
    let r = c.send(&frame(kind::RST_STREAM, 0, 1, b"\0\0\0"));
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
}

#[test]
fn streams_over_the_concurrency_limit_are_refused_and_hpack_stays_in_step() {
    let mut c = Client::with(Config { max_concurrent_streams: 2, ..Config::default() });
    c.request(1, true, GET);
    c.request(3, true, GET);
    // The refused request adds "x-new" to the client encoder's table; the next request
    // refers to it by index, which only works if the server decoded the refused block.
    let mut fields = GET.to_vec();
    fields.push(("x-new", "value"));
    let f = c.headers(5, true, &fields);
    let r = c.send(&f);
    assert_stream_error(&mut c, r, 5, ErrorCode::RefusedStream);
    assert!(c.events().is_empty());
    assert_eq!(c.conn.open_streams(), 2);
    respond(&mut c, 1, true);
    let f = c.headers(7, true, &fields);
    c.send(&f).expect("valid");
    match c.events().as_slice() {
        [Event::Request { stream: 7, head, .. }] => assert_eq!(head.headers["x-new"], "value"),
        other => panic!("{other:?}"),
    }
    // A DATA frame the client sent on the refused stream before it knew is dropped.
    c.send(&data(5, true, b"late")).expect("ignored");
    assert!(c.frames().is_empty());
}

#[test]
fn goaway_from_the_client_stops_new_streams_but_not_the_connection() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.send(&goaway(1, ErrorCode::NoError)).expect("valid");
    assert!(c.conn.peer_went_away());
    let f = c.headers(3, true, GET);
    c.send(&f).expect("ignored");
    assert!(c.events().is_empty());
    respond(&mut c, 1, true);
    assert!(!c.conn.is_done(), "the client closes when it is done");
    c.send(&ping(b"pingpong")).expect("still alive");
    assert_eq!(c.frames()[0].payload, b"pingpong");
}

#[test]
fn goaway_with_an_unknown_code_changes_nothing_special() {
    let mut c = Client::new();
    c.send(&goaway(0, ErrorCode::Unknown(0xff))).expect("valid");
    c.send(&ping(b"pingpong")).expect("still alive");
    assert_eq!(c.frames().len(), 1);
}

#[test]
fn goaway_frame_rules() {
    let mut c = Client::new();
    let mut f = goaway(0, ErrorCode::NoError);
    f[8] = 1;
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    let mut c = Client::new();
    let r = c.send(&frame(kind::GOAWAY, 0, 0, b"\0\0\0\0"));
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
}

#[test]
fn graceful_shutdown_finishes_streams_in_flight_and_ignores_new_ones() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.request(3, false, POST);
    c.conn.go_away();
    assert_eq!(goaway_of(&c.frames()), Some((3, ErrorCode::NoError)));
    assert!(!c.conn.is_done());
    // A new stream is ignored, its block still decoded (HPACK table in step).
    let mut fields = GET.to_vec();
    fields.push(("x-after", "goaway"));
    let f = c.headers(5, true, &fields);
    c.send(&f).expect("ignored");
    c.send(&data(5, true, b"x")).expect("ignored");
    assert!(c.events().is_empty());
    assert!(c.frames().is_empty());
    // The streams in flight finish.
    c.send(&data(3, true, b"body")).expect("valid");
    assert!(matches!(c.events().as_slice(), [Event::Data { stream: 3, end_stream: true, .. }]));
    respond(&mut c, 1, true);
    assert!(!c.conn.is_done());
    respond(&mut c, 3, true);
    assert!(c.conn.is_done());
    c.conn.go_away();
    assert!(c.frames().is_empty(), "one GOAWAY only");
}

#[test]
fn abort_sends_goaway_with_the_code_and_stops_sending() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.conn.abort(ErrorCode::InternalError);
    assert_eq!(goaway_of(&c.frames()), Some((1, ErrorCode::InternalError)));
    assert!(c.conn.is_done());
    let mut out = Vec::new();
    assert_eq!(
        c.conn.send_headers(1, true, &mut out, |f| f.status(200)),
        Err(crate::SendError::StreamClosed)
    );
    assert!(out.is_empty());
    assert!(c.send(&ping(b"12345678")).is_err());
}

#[test]
fn the_server_resets_a_stream() {
    let mut c = Client::new();
    c.request(1, false, POST);
    c.conn.reset(1, ErrorCode::InternalError);
    assert_eq!(resets_of(&c.frames()), [(1, ErrorCode::InternalError)]);
    assert!(c.events().is_empty());
    assert_eq!(c.conn.stream_state(1), State::Closed);
    assert_eq!(c.conn.send_capacity(1), 0);
    // The body still in flight is dropped, but its bytes reopen the connection window.
    c.send(&data(1, false, &[0; 1000])).expect("ignored");
    assert!(c.events().is_empty());
    c.conn.reset(1, ErrorCode::Cancel);
    assert!(c.frames().is_empty(), "a stream already gone is not reset twice");
}

#[test]
fn goaway_carries_the_last_stream_processed() {
    let mut c = Client::new();
    c.request(1, true, GET);
    c.request(7, true, GET);
    let r = c.send(&frame(kind::PING, 0, 0, b"\0"));
    assert!(r.is_err());
    assert_eq!(goaway_of(&c.frames()), Some((7, ErrorCode::FrameSizeError)));
}
