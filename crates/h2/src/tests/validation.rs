//! Request validation through the connection (RFC 9113 §8): a malformed request is a
//! stream error PROTOCOL_ERROR and never reaches the server; bodies are checked against
//! content-length; trailers end the body.

use super::harness::*;
use crate::{ErrorCode, Event};

/// Sends `fields` as a request on stream 1 and asserts RST_STREAM(PROTOCOL_ERROR), no event.
#[track_caller]
fn refused(fields: &[(&str, &str)]) {
    let mut c = Client::new();
    let f = c.headers(1, true, fields);
    let r = c.send(&f);
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    assert!(c.events().is_empty());
    // The connection goes on, with HPACK in step: the next request is fine.
    c.request(3, true, GET);
}

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = POST.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn malformed_field_names() {
    for name in ["UPPERCASE", "space force", "\x01invalid", "\x7finvalid", "inválid", "invalid:field"] {
        refused(&with(&[(name, "oh no")]));
    }
}

#[test]
fn malformed_field_values() {
    for value in ["oh\nno", "oh\rno", "oh\0no", " oh no", "oh no\t"] {
        refused(&with(&[("invalid-value", value)]));
    }
}

#[test]
fn connection_specific_fields() {
    for (name, value) in [
        ("connection", "keep-alive"),
        ("proxy-connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "h2c"),
        ("te", "not-trailers"),
    ] {
        refused(&with(&[(name, value)]));
    }
    let mut c = Client::new();
    c.request(1, true, &with(&[("te", "trailers")]));
}

#[test]
fn malformed_pseudo_headers() {
    refused(&with(&[(":status", "200")]));
    let mut dup = vec![(":method", "POST")];
    dup.extend_from_slice(POST);
    refused(&dup);
    refused(&POST[1..]);
    refused(&[POST[0], POST[2], POST[3]]);
    refused(&POST[..3]);
    refused(&[POST[0], POST[1], POST[2], (":path", "")]);
    refused(&[
        (":method", "POST"),
        (":path", "/"),
        ("content-type", "application/json"),
        (":authority", "example.com"),
    ]);
    refused(&with(&[("host", "example.com.different")]));
}

#[test]
fn connect_is_passed_on_when_well_formed_and_refused_otherwise() {
    refused(&[(":method", "CONNECT"), (":scheme", "https"), (":authority", "example.com:443")]);
    refused(&[(":method", "CONNECT"), (":path", "/"), (":authority", "example.com:443")]);
    refused(&[(":method", "CONNECT")]);
    let mut c = Client::new();
    c.request(1, false, &[(":method", "CONNECT"), (":authority", "example.com:443")]);
}

#[test]
fn headers_end_stream_with_a_nonzero_content_length_is_malformed() {
    refused(&with(&[("content-length", "4")]));
    let mut c = Client::new();
    c.request(1, true, &with(&[("content-length", "0")]));
}

#[test]
fn a_body_longer_than_content_length_is_reset() {
    let mut c = Client::new();
    c.request(1, false, &with(&[("content-length", "4")]));
    c.send(&data(1, false, b"abc")).expect("valid so far");
    assert!(matches!(c.events().as_slice(), [Event::Data { .. }]));
    let r = c.send(&data(1, false, b"de"));
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::ProtocolError }]));
}

#[test]
fn a_body_shorter_than_content_length_is_reset() {
    let mut c = Client::new();
    c.request(1, false, &with(&[("content-length", "4")]));
    let r = c.send(&data(1, true, b"abc"));
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    assert!(matches!(c.events().as_slice(), [Event::Reset { stream: 1, code: ErrorCode::ProtocolError }]));
}

#[test]
fn a_body_matching_content_length_is_delivered() {
    let mut c = Client::new();
    c.request(1, false, &with(&[("content-length", "4")]));
    c.send_all(&[data(1, false, b"ab"), data(1, true, b"cd")]).expect("valid");
    let events = c.events();
    assert_eq!(events.len(), 2);
    match &events[1] {
        Event::Data { stream: 1, data, end_stream: true } => assert_eq!(&data[..], b"cd"),
        other => panic!("{other:?}"),
    }
    assert!(c.frames().is_empty());
}

#[test]
fn trailers_end_the_body() {
    let mut c = Client::new();
    c.request(1, false, POST);
    let t = c.headers(1, true, &[("x-checksum", "abc")]);
    c.send_all(&[data(1, false, b"test"), t]).expect("valid");
    let events = c.events();
    match events.as_slice() {
        [Event::Data { end_stream: false, .. }, Event::Trailers { stream: 1, fields }] => {
            assert_eq!(fields["x-checksum"], "abc");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.conn.stream_state(1), crate::State::HalfClosedRemote);
}

#[test]
fn trailers_without_end_stream_are_malformed() {
    let mut c = Client::new();
    c.request(1, false, POST);
    let t = c.headers(1, false, &[("x-test", "ok")]);
    let r = c.send_all(&[data(1, false, b"test"), t]);
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    let events = c.events();
    assert!(matches!(
        events.as_slice(),
        [Event::Data { .. }, Event::Reset { stream: 1, code: ErrorCode::ProtocolError }]
    ));
}

#[test]
fn pseudo_headers_in_trailers_are_malformed() {
    let mut c = Client::new();
    c.request(1, false, POST);
    let t = c.headers(1, true, &[(":method", "POST")]);
    let r = c.send_all(&[data(1, false, b"test"), t]);
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
}

#[test]
fn trailers_check_content_length() {
    let mut c = Client::new();
    c.request(1, false, &with(&[("content-length", "5")]));
    let t = c.headers(1, true, &[("x-t", "1")]);
    let r = c.send_all(&[data(1, false, b"test"), t]);
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
}

#[test]
fn host_is_added_from_authority_and_cookies_joined() {
    let mut c = Client::new();
    let f = c.headers(1, true, &[GET[0], GET[1], GET[2], GET[3], ("cookie", "a=1"), ("cookie", "b=2")]);
    c.send(&f).expect("valid");
    match c.events().as_slice() {
        [Event::Request { head, .. }] => {
            assert_eq!(head.headers["host"], "example.com");
            assert_eq!(head.headers["cookie"], "a=1; b=2");
            assert_eq!(head.method, http::Method::GET);
            assert_eq!(head.uri, "https://example.com/");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn recycled_header_maps_are_reused_empty() {
    let mut c = Client::new();
    c.request(1, true, GET);
    let f = c.headers(3, true, &[GET[0], GET[1], GET[2], GET[3], ("x-a", "1")]);
    c.send(&f).expect("valid");
    let Some(Event::Request { head, .. }) = c.events().pop() else { panic!("no request") };
    let capacity = head.headers.capacity();
    c.conn.recycle_headers(head.headers);
    let f = c.headers(5, true, GET);
    c.send(&f).expect("valid");
    let Some(Event::Request { head, .. }) = c.events().pop() else { panic!("no request") };
    assert_eq!(head.headers.capacity(), capacity);
    assert_eq!(head.headers.len(), 1, "only host: the old fields are gone");
}

#[test]
fn a_body_error_in_the_read_that_opened_the_stream_withdraws_the_request() {
    let mut c = Client::new();
    let f = c.headers(1, false, &with(&[("content-length", "2")]));
    let r = c.send_all(&[f, data(1, true, b"abc")]);
    assert_stream_error(&mut c, r, 1, ErrorCode::ProtocolError);
    assert!(c.events().is_empty());
}
