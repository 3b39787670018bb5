//! Limits and floods: each breach ends in the RFC's error, and memory stays bounded.

use super::harness::*;
use crate::frame::{flag, kind};
use crate::{Config, ErrorCode, Event, Flood};

fn budget(burst: u32, per_second: u32) -> Config {
    Config { flood: Flood { burst, per_second }, ..Config::default() }
}

#[test]
fn rapid_reset_beyond_the_budget_ends_the_connection() {
    let mut c = Client::with(budget(10, 1));
    let mut id = 1;
    for _ in 0..10 {
        let f = c.headers(id, true, GET);
        c.send_all(&[f, rst_stream(id, ErrorCode::Cancel)]).expect("within the budget");
        id += 2;
    }
    let f = c.headers(id, true, GET);
    let r = c.send_all(&[f, rst_stream(id, ErrorCode::Cancel)]);
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn rapid_reset_budget_refills_with_time() {
    let mut c = Client::with(budget(2, 10));
    let pair = |c: &mut Client, id| {
        let f = c.headers(id, true, GET);
        c.send_all(&[f, rst_stream(id, ErrorCode::Cancel)])
    };
    pair(&mut c, 1).expect("burst");
    pair(&mut c, 3).expect("burst");
    c.now += 100;
    pair(&mut c, 5).expect("one token back after 100 ms at 10/s");
    c.now += 99;
    let r = pair(&mut c, 7);
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn resets_after_the_response_ended_cost_nothing() {
    let mut c = Client::with(budget(1, 0));
    for id in (1..40).step_by(2) {
        c.request(id, true, GET);
        c.conn.send_headers(id, true, &mut Vec::new(), |f| f.status(204)).expect("open");
        c.send(&rst_stream(id, ErrorCode::Cancel)).expect("late, not counted");
    }
}

#[test]
fn continuation_flood() {
    let mut c = Client::new();
    let block = c.block(GET);
    let mut frames = vec![frame(kind::HEADERS, flag::END_STREAM, 1, &block)];
    for _ in 0..16 {
        frames.push(frame(kind::CONTINUATION, 0, 1, &[]));
    }
    c.send_all(&frames).expect("16 continuations are allowed");
    let r = c.send(&frame(kind::CONTINUATION, 0, 1, &[]));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn huge_header_block_across_continuations() {
    let mut c = Client::new();
    let block = c.block(GET);
    let mut frames = vec![frame(kind::HEADERS, flag::END_STREAM, 1, &block)];
    // 16,000 octets each: the fifth passes 64 KiB.
    for _ in 0..5 {
        frames.push(frame(kind::CONTINUATION, 0, 1, &vec![0u8; 16_000]));
    }
    let r = c.send_all(&frames);
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
    assert_eq!(c.conn.block_buf.capacity(), 0, "the partial block is freed");
}

#[test]
fn a_header_block_right_at_the_limit_is_decoded() {
    let config = Config { max_header_block: 100, ..Config::default() };
    let mut c = Client::with(config);
    let mut fields = GET.to_vec();
    let v = "v".repeat(60);
    fields.push(("x-pad", &v));
    let block = c.block(&fields);
    assert!(block.len() <= 100, "{}", block.len());
    let f = frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &block);
    c.send(&f).expect("within");
    assert_eq!(c.events().len(), 1);
    let block = c.block(&[("x-big", &"y".repeat(120))]);
    let r = c.send(&frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 3, &block));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

/// A literal field with incremental indexing (RFC 7541 §6.2.1), new name, no Huffman.
fn literal_indexed(name: &[u8], value: &[u8]) -> Vec<u8> {
    fn string(s: &[u8], out: &mut Vec<u8>) {
        if s.len() < 127 {
            out.push(s.len() as u8);
        } else {
            out.push(127);
            let mut rest = s.len() - 127;
            while rest >= 128 {
                out.push((rest % 128) as u8 | 0x80);
                rest /= 128;
            }
            out.push(rest as u8);
        }
        out.extend_from_slice(s);
    }
    let mut out = vec![0x40];
    string(name, &mut out);
    string(value, &mut out);
    out
}

#[test]
fn header_list_over_the_limit_is_passed_on_as_too_large_with_bounded_memory() {
    let mut c = Client::new();
    // One 4,000-octet field goes into the table (index 62), then is referenced a thousand
    // times at one octet each: 4 MB of decoded fields from a 5 KB block.
    let mut block = c.block(GET);
    block.extend(literal_indexed(b"x-big", &[b'z'; 4000]));
    block.extend_from_slice(&[0x80 | 62; 1000]);
    c.send(&frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &block))
        .expect("not a protocol error");
    match c.events().as_slice() {
        [Event::Request { stream: 1, head, end_stream: true }] => {
            assert!(head.too_large);
            // Only what fits in 32 KiB was kept: the pseudo-headers and eight copies.
            assert_eq!(head.headers.get_all("x-big").iter().count(), 8);
            assert_eq!(head.uri, "https://example.com/");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hpack_table_size_update_above_our_setting_is_a_compression_error() {
    let mut c = Client::new();
    // Dynamic table size update to 4097 (5-bit prefix integer: 31 + 4066), then :method GET.
    let r = c.send(&frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, b"\x3f\xe2\x1f\x82"));
    assert_conn_error(&mut c, r, ErrorCode::CompressionError);
    // Exactly 4096 is fine.
    let mut c = Client::new();
    let mut block = b"\x3f\xe1\x1f".to_vec();
    let rest = c.block(GET);
    block.extend_from_slice(&rest);
    c.send(&frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &block)).expect("valid");
    assert_eq!(c.events().len(), 1);
}

#[test]
fn a_smaller_header_table_setting_binds_once_acknowledged() {
    let mut c = Client::with(Config { header_table_size: 0, ..Config::default() });
    // Acknowledged in the handshake: the next block must start with a size update to 0.
    let f = c.headers(1, true, GET);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::CompressionError);
    let mut c = Client::with(Config { header_table_size: 0, ..Config::default() });
    c.enc.set_max_table_size(0);
    c.request(1, true, GET);
}

#[test]
fn max_concurrent_streams_refusals_have_a_budget() {
    let mut c = Client::with(Config { max_concurrent_streams: 1, ..budget(3, 0) });
    c.request(1, true, GET);
    for id in [3, 5, 7] {
        let f = c.headers(id, true, GET);
        c.send(&f).expect("refused");
    }
    assert_eq!(
        resets_of(&c.frames()),
        [(3, ErrorCode::RefusedStream), (5, ErrorCode::RefusedStream), (7, ErrorCode::RefusedStream)]
    );
    let f = c.headers(9, true, GET);
    let r = c.send(&f);
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn ping_flood_and_refill() {
    let mut c = Client::with(budget(3, 2));
    for _ in 0..3 {
        c.send(&ping(b"12345678")).expect("burst");
    }
    c.now += 500;
    c.send(&ping(b"12345678")).expect("one token after 500 ms at 2/s");
    assert_eq!(c.frames().len(), 4);
    let r = c.send(&ping(b"12345678"));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn empty_data_flood() {
    let mut c = Client::with(budget(3, 0));
    c.request(1, false, POST);
    for _ in 0..3 {
        c.send(&data(1, false, b"")).expect("burst");
    }
    assert!(c.events().is_empty(), "no event for an empty frame");
    c.send(&data(1, false, b"x")).expect("a non-empty frame costs nothing");
    let r = c.send(&data(1, false, b""));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
    // An empty frame that ends the stream is progress, not a flood.
    let mut c = Client::with(budget(1, 0));
    c.request(1, false, POST);
    c.send(&data(1, true, b"")).expect("end of body");
    assert!(matches!(c.events().as_slice(), [Event::Data { stream: 1, end_stream: true, .. }]));
}

#[test]
fn priority_flood() {
    let mut c = Client::with(budget(3, 0));
    for id in [1, 3, 5] {
        c.send(&priority(id, 0)).expect("burst");
    }
    let r = c.send(&priority(7, 0));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn window_update_flood_unless_earned_by_data_sent() {
    let mut c = Client::with(budget(4, 0));
    c.request(1, true, GET);
    for _ in 0..4 {
        c.send(&window_update(0, 1)).expect("burst");
    }
    // One DATA frame sent earns a stream and a connection update.
    c.conn.send_data(1, b"x", false, &mut Vec::new()).expect("fits");
    c.send_all(&[window_update(1, 1), window_update(0, 1)]).expect("earned");
    let r = c.send(&window_update(0, 1));
    assert_conn_error(&mut c, r, ErrorCode::EnhanceYourCalm);
}

#[test]
fn control_frames_the_peer_does_not_read_are_bounded() {
    let mut c = Client::with(budget(20_000, 0));
    let pings: Vec<_> = (0..10_000).map(|_| ping(b"12345678")).collect();
    c.send_all(&pings).expect("10,000 acks may wait");
    let r = c.send(&ping(b"12345678"));
    assert_eq!(r.map_err(|e| e.code()), Err(ErrorCode::EnhanceYourCalm));
    let frames = c.frames();
    assert_eq!(frames.len(), 10_001);
    assert_eq!(goaway_of(&frames).map(|g| g.1), Some(ErrorCode::EnhanceYourCalm));
}

#[test]
fn taking_the_queue_resets_the_count() {
    let mut c = Client::with(budget(30_000, 0));
    for _ in 0..3 {
        let pings: Vec<_> = (0..9_000).map(|_| ping(b"12345678")).collect();
        c.send_all(&pings).expect("taken in time");
        assert_eq!(c.frames().len(), 9_000);
    }
}

#[test]
fn a_request_cancelled_in_the_read_that_opened_it_never_reaches_the_server() {
    let mut c = Client::new();
    let f = c.headers(1, false, POST);
    c.send_all(&[f, data(1, false, b"part"), rst_stream(1, ErrorCode::Cancel)]).expect("valid");
    assert!(c.events().is_empty(), "Request and Data withdrawn, no Reset");
    assert_eq!(c.conn.open_streams(), 0);
    // Once the server has the Request, a reset is reported.
    c.request(3, false, POST);
    c.send(&rst_stream(3, ErrorCode::Cancel)).expect("valid");
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 3, code: ErrorCode::Cancel }]));
    // Other streams' events in the same read are kept.
    let f5 = c.headers(5, true, GET);
    let f7 = c.headers(7, true, GET);
    c.send_all(&[f5, f7, rst_stream(5, ErrorCode::Cancel)]).expect("valid");
    assert!(matches!(c.events().as_slice(), [Event::Request { stream: 7, .. }]));
}
