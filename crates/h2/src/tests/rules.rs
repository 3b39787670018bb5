//! Frame rules (RFC 9113 §4, §6) as seen through the connection: sizes, padding, stream 0,
//! field blocks and CONTINUATION, PING, PRIORITY, unknown frames.

use super::harness::*;
use crate::frame::{flag, kind};
use crate::{ErrorCode, Event};

#[test]
fn a_frame_over_max_frame_size_is_refused_from_its_header() {
    let mut c = Client::new();
    c.request(1, false, POST);
    // Only the 9-octet header of a 16,385-octet DATA frame: no need to wait for the rest.
    let r = c.send(&[0x00, 0x40, 0x01, kind::DATA, 0, 0, 0, 0, 1]);
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
}

#[test]
fn a_data_frame_of_exactly_max_frame_size_is_fine() {
    let mut c = Client::new();
    c.request(1, false, POST);
    c.send(&data(1, true, &[b'x'; 16_384])).expect("valid");
    match c.events().as_slice() {
        [Event::Data { stream: 1, data, end_stream: true }] => assert_eq!(data.len(), 16_384),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_headers_frame_over_max_frame_size_is_a_connection_error() {
    let mut c = Client::new();
    let mut fields = POST.to_vec();
    let big = "x".repeat(4000);
    for name in ["x-dummy0", "x-dummy1", "x-dummy2", "x-dummy3", "x-dummy4"] {
        fields.push((name, &big));
    }
    let f = c.headers(1, false, &fields);
    assert!(f.len() > 9 + 16_384);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
}

#[test]
fn data_and_headers_need_a_stream() {
    let mut c = Client::new();
    let r = c.send(&data(0, true, b"test"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    let mut c = Client::new();
    let f = c.headers(0, true, GET);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn data_padding_is_stripped_and_its_window_given_back() {
    let config =
        crate::Config { initial_window_size: 500, connection_window: 65_535, ..crate::Config::default() };
    let mut c = Client::with(config);
    c.request(1, false, POST);
    // pad length 255, 240 octets of data, 255 of padding: 496 flow-controlled octets.
    let mut payload = vec![255];
    payload.extend_from_slice(&[b'b'; 240]);
    payload.extend_from_slice(&[0; 255]);
    c.send(&frame(kind::DATA, flag::PADDED, 1, &payload)).expect("valid");
    match c.events().as_slice() {
        [Event::Data { stream: 1, data, end_stream: false }] => assert_eq!(&data[..], &[b'b'; 240]),
        other => panic!("{other:?}"),
    }
    // The padding and its length octet (256) are consumed at once: over half the stream's
    // 500, so the stream window reopens by that much without the server's release.
    assert_eq!(window_updates_of(&c.frames()), [(1, 256)]);
}

#[test]
fn invalid_padding_is_a_protocol_error() {
    let mut c = Client::new();
    let mut fields = POST.to_vec();
    fields.push(("content-length", "4"));
    let f = c.headers(1, false, &fields);
    c.send(&f).expect("valid");
    let r = c.send(b"\x00\x00\x05\x00\x09\x00\x00\x00\x01\x06\x54\x65\x73\x74");
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);

    let mut c = Client::new();
    let block = c.block(POST);
    let mut payload = vec![(block.len() + 2) as u8];
    payload.extend_from_slice(&block);
    let r = c.send(&frame(kind::HEADERS, flag::PADDED | flag::END_HEADERS | flag::END_STREAM, 1, &payload));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn padded_headers_with_priority_are_read() {
    let mut c = Client::new();
    let block = c.block(GET);
    let mut payload = vec![3, 0x80, 0, 0, 0, 200];
    payload.extend_from_slice(&block);
    payload.extend_from_slice(&[0; 3]);
    let flags = flag::PADDED | flag::PRIORITY | flag::END_HEADERS | flag::END_STREAM;
    c.send(&frame(kind::HEADERS, flags, 1, &payload)).expect("valid");
    assert!(matches!(c.events().as_slice(), [Event::Request { stream: 1, end_stream: true, .. }]));
}

#[test]
fn a_stream_cannot_depend_on_itself() {
    let mut c = Client::new();
    let block = c.block(GET);
    let mut payload = vec![0, 0, 0, 1, 255];
    payload.extend_from_slice(&block);
    let r = c.send(&frame(kind::HEADERS, flag::PRIORITY | flag::END_HEADERS | flag::END_STREAM, 1, &payload));
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    assert!(c.events().is_empty());

    let mut c = Client::new();
    let r = c.send(&priority(1, 1));
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
}

#[test]
fn priority_frame_rules() {
    let mut c = Client::new();
    let r = c.send(&priority(0, 0));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);

    let mut c = Client::new();
    c.request(1, true, POST);
    let r = c.send(&frame(kind::PRIORITY, 0, 1, b"\x80\x00\x00\x01"));
    assert_stream_error(&mut c, r, 1, ErrorCode::FrameSizeError);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::FrameSizeError }]));
}

#[test]
fn push_promise_from_a_client_is_a_protocol_error() {
    let mut c = Client::new();
    c.request(1, false, POST);
    let r = c.send(&frame(kind::PUSH_PROMISE, flag::END_HEADERS, 1, b"\0\0\0\x02\x88"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn ping_is_answered_with_its_payload() {
    let mut c = Client::new();
    c.send(&ping(b"h2spec\0\0")).expect("valid");
    let frames = c.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].kind, frames[0].flags, frames[0].stream), (kind::PING, flag::ACK, 0));
    assert_eq!(frames[0].payload, b"h2spec\0\0");
}

#[test]
fn ping_acks_are_not_answered() {
    let mut c = Client::new();
    c.send_all(&[frame(kind::PING, flag::ACK, 0, b"invalid\0"), ping(b"h2spec\0\0")]).expect("valid");
    let frames = c.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, b"h2spec\0\0");
}

#[test]
fn ping_frame_rules() {
    let mut c = Client::new();
    let r = c.send(&frame(kind::PING, 0, 3, b"xxxxxxxx"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    let mut c = Client::new();
    let r = c.send(&frame(kind::PING, 0, 0, b"xxxxxx"));
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
}

#[test]
fn unused_flags_and_the_reserved_bit_are_ignored() {
    let mut c = Client::new();
    c.send(&frame(kind::PING, 0b1110, 0, b"sfunflgs")).expect("valid");
    let mut f = ping(b"sfresbit");
    f[5] |= 0x80;
    c.send(&f).expect("valid");
    let frames = c.frames();
    assert_eq!(frames.iter().map(|f| f.payload.as_slice()).collect::<Vec<_>>(), [b"sfunflgs", b"sfresbit"]);
    assert!(frames.iter().all(|f| f.flags == flag::ACK));
}

#[test]
fn unknown_frame_types_are_ignored() {
    let mut c = Client::new();
    c.send(&frame(0xff, 0, 0, b"xxxxxxxx")).expect("ignored");
    c.send(&frame(0x10, 0xff, 7, b"")).expect("ignored");
    assert!(c.frames().is_empty());
    c.request(1, true, GET);
}

#[test]
fn a_field_block_may_span_continuations() {
    let mut c = Client::new();
    let mut fields = POST.to_vec();
    fields.push(("x-one", "1"));
    fields.push(("x-two", "2"));
    let block = c.block(&fields);
    let (a, rest) = block.split_at(5);
    let (b, d) = rest.split_at(3);
    c.send_all(&[
        frame(kind::HEADERS, flag::END_STREAM, 1, a),
        frame(kind::CONTINUATION, 0, 1, b),
        frame(kind::CONTINUATION, 0, 1, &[]),
        frame(kind::CONTINUATION, flag::END_HEADERS, 1, d),
    ])
    .expect("valid");
    match c.events().as_slice() {
        [Event::Request { stream: 1, head, end_stream: true }] => {
            assert_eq!(head.headers["x-one"], "1");
            assert_eq!(head.headers["x-two"], "2");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_field_block_split_at_every_byte() {
    let mut c = Client::with(crate::Config { max_continuations: 1000, ..crate::Config::default() });
    let mut fields = GET.to_vec();
    fields.push(("user-agent", "test/1.0"));
    let block = c.block(&fields);
    let mut frames = vec![frame(kind::HEADERS, flag::END_STREAM, 1, &block[..1])];
    for (n, b) in block[1..].iter().enumerate() {
        let last = n + 2 == block.len();
        frames.push(frame(kind::CONTINUATION, if last { flag::END_HEADERS } else { 0 }, 1, &[*b]));
    }
    c.send_all(&frames).expect("valid");
    match c.events().as_slice() {
        [Event::Request { head, .. }] => assert_eq!(head.headers["user-agent"], "test/1.0"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_continuation_on_the_same_stream_may_follow_an_open_block() {
    let cases: [fn(&mut Client) -> Vec<u8>; 4] = [
        |_| data(1, true, b"test"),
        |_| priority(1, 0),
        |c| c.headers(3, true, GET),
        |_| frame(0xff, 0, 1, b"xxxxxxxx"),
    ];
    for case in cases {
        let mut c = Client::new();
        let block = c.block(POST);
        c.send(&frame(kind::HEADERS, flag::END_STREAM, 1, &block)).expect("valid so far");
        let f = case(&mut c);
        let r = c.send(&f);
        assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    }
    let mut c = Client::new();
    let block = c.block(POST);
    c.send(&frame(kind::HEADERS, flag::END_STREAM, 1, &block)).expect("valid so far");
    let r = c.send(&frame(kind::CONTINUATION, flag::END_HEADERS, 0, b"\x82"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn continuation_after_end_headers_is_a_protocol_error() {
    let mut c = Client::new();
    c.request(1, false, POST);
    let r = c.send(&frame(kind::CONTINUATION, flag::END_HEADERS, 1, b"\x82"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    let mut c = Client::new();
    c.request(1, true, POST);
    c.send(&data(1, true, b"x")).expect("stream error");
    let r = c.send(&frame(kind::CONTINUATION, 0, 1, b"\x82"));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
}

#[test]
fn an_undecodable_block_is_a_compression_error() {
    let mut c = Client::new();
    // A literal with incremental indexing that ends before its name length.
    let r = c.send(&frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, b"\x40"));
    assert_conn_error(&mut c, r, ErrorCode::CompressionError);
}

#[test]
fn window_update_frame_rules() {
    let mut c = Client::new();
    let r = c.send(&frame(kind::WINDOW_UPDATE, 0, 0, b"\0\0\x01"));
    assert_conn_error(&mut c, r, ErrorCode::FrameSizeError);
    let mut c = Client::new();
    let r = c.send(&window_update(0, 0));
    assert_conn_error(&mut c, r, ErrorCode::ProtocolError);
    let mut c = Client::new();
    c.request(1, false, POST);
    let r = c.send(&window_update(1, 0));
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::ProtocolError }]));
}
