use super::*;

#[test]
fn header_parses_length_type_flags_and_drops_the_reserved_bit() {
    let h = Head::parse(&[0x01, 0x02, 0x03, 0x06, 0x0e, 0x80, 0x00, 0x00, 0x05]);
    assert_eq!(h, Head { len: 0x010203, kind: kind::PING, flags: 0x0e, stream: 5 });
    assert!(h.has(flag::END_HEADERS));
    assert!(!h.has(flag::ACK));
}

#[test]
fn header_encodes_back() {
    let mut out = Vec::new();
    encode_head(&mut out, 16_384, kind::DATA, flag::END_STREAM, 0x8000_0003);
    assert_eq!(out, [0x00, 0x40, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03]);
    let mut b = [0u8; HEADER_LEN];
    b.copy_from_slice(&out);
    assert_eq!(Head::parse(&b), Head { len: 16_384, kind: kind::DATA, flags: 1, stream: 3 });
}

#[test]
fn data_without_padding_is_the_whole_payload() {
    assert_eq!(data(flag::END_STREAM, b"abc"), Ok(Body { start: 0, end: 3 }));
    assert_eq!(data(0, b""), Ok(Body { start: 0, end: 0 }));
}

#[test]
fn data_padding_is_stripped() {
    // pad length 2, "hi", two octets of padding
    assert_eq!(data(flag::PADDED, b"\x02hi\0\0"), Ok(Body { start: 1, end: 3 }));
    // all padding, no data: legal (pad length 4 < payload length 5)
    assert_eq!(data(flag::PADDED, b"\x04\0\0\0\0"), Ok(Body { start: 1, end: 1 }));
    assert_eq!(data(flag::PADDED, b"\x00"), Ok(Body { start: 1, end: 1 }));
}

#[test]
fn data_padding_as_long_as_the_payload_is_a_protocol_error() {
    // the httpwg case: frame length 5, pad length 6
    assert_eq!(
        data(flag::PADDED, b"\x06Test"),
        Err(Violation::Conn(ErrorCode::ProtocolError, "padding exceeds the frame payload"))
    );
    // pad length equal to the payload length (5) counts too
    assert!(matches!(data(flag::PADDED, b"\x05Test"), Err(Violation::Conn(ErrorCode::ProtocolError, _))));
}

#[test]
fn padded_frame_without_its_pad_length_is_too_small() {
    assert!(matches!(data(flag::PADDED, b""), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn headers_priority_fields_are_skipped_and_read() {
    let payload = b"\x80\x00\x00\x03\xffblock";
    let (body, prio) = headers(flag::PRIORITY | flag::END_HEADERS, payload).expect("valid");
    assert_eq!(body, Body { start: 5, end: 10 });
    assert_eq!(prio, Some(Priority { dependency: 3 }));
}

#[test]
fn headers_with_padding_and_priority() {
    let payload = b"\x01\x00\x00\x00\x01\x10blk\0";
    let (body, prio) = headers(flag::PRIORITY | flag::PADDED, payload).expect("valid");
    assert_eq!(&payload[body.start..body.end], b"blk");
    assert_eq!(prio, Some(Priority { dependency: 1 }));
}

#[test]
fn headers_padding_beyond_the_fragment_is_a_protocol_error() {
    // the httpwg case: pad length = fragment length + 2 in a payload of fragment + 1
    assert!(matches!(headers(flag::PADDED, b"\x05abcd"), Err(Violation::Conn(ErrorCode::ProtocolError, _))));
    assert!(matches!(
        headers(flag::PADDED | flag::PRIORITY, b"\x01\0\0\0\0\x10"),
        Err(Violation::Conn(ErrorCode::ProtocolError, _))
    ));
}

#[test]
fn headers_too_short_for_priority_is_a_frame_size_error() {
    assert!(matches!(headers(flag::PRIORITY, b"\0\0\0"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn priority_must_be_five_octets_else_stream_error() {
    assert_eq!(priority(b"\x80\0\0\x07\x10"), Ok(Priority { dependency: 7 }));
    assert_eq!(
        priority(b"\x80\0\0\x01"),
        Err(Violation::Stream(ErrorCode::FrameSizeError, "PRIORITY length not 5"))
    );
}

#[test]
fn rst_stream_reads_its_code_and_checks_length() {
    assert_eq!(rst_stream(b"\0\0\0\x08"), Ok(ErrorCode::Cancel));
    assert_eq!(rst_stream(b"\0\0\0\xff"), Ok(ErrorCode::Unknown(0xff)));
    assert!(matches!(rst_stream(b"\0\0\0"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn ping_is_exactly_eight_octets() {
    assert_eq!(ping(b"h2spec\0\0"), Ok(*b"h2spec\0\0"));
    assert!(matches!(ping(b"123456"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
    assert!(matches!(ping(b"123456789"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn goaway_reads_last_stream_and_code_and_ignores_debug_data() {
    assert_eq!(goaway(b"\x80\0\0\x09\0\0\0\xffdebug"), Ok((9, ErrorCode::Unknown(0xff))));
    assert!(matches!(goaway(b"\0\0\0\0\0\0\0"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn window_update_masks_the_reserved_bit() {
    assert_eq!(window_update(b"\xff\xff\xff\xff"), Ok(MAX_WINDOW));
    assert_eq!(window_update(b"\x80\0\0\0"), Ok(0));
    assert!(matches!(window_update(b"\0\0\x01"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn settings_pairs_in_order() {
    let payload = b"\x00\x04\x00\x00\x00\x64\x00\x04\x00\x00\x00\x01";
    let pairs: Vec<_> = settings(0, payload).expect("valid").collect();
    assert_eq!(pairs, [(4, 100), (4, 1)]);
    assert_eq!(settings(flag::ACK, b"").expect("valid").count(), 0);
}

#[test]
fn settings_ack_with_payload_and_odd_lengths_are_frame_size_errors() {
    assert!(matches!(settings(flag::ACK, b"\0"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
    assert!(matches!(settings(0, b"\x00\x03\x00"), Err(Violation::Conn(ErrorCode::FrameSizeError, _))));
}

#[test]
fn control_frame_encoders() {
    let mut out = Vec::new();
    encode_settings(&mut out, &[(3, 100), (4, 0x40000)]);
    assert_eq!(out, b"\0\0\x0c\x04\0\0\0\0\0\x00\x03\0\0\0\x64\x00\x04\0\x04\0\0");
    out.clear();
    encode_settings_ack(&mut out);
    assert_eq!(out, b"\0\0\0\x04\x01\0\0\0\0");
    out.clear();
    encode_ping_ack(&mut out, b"12345678");
    assert_eq!(out, b"\0\0\x08\x06\x01\0\0\0\x0012345678");
    out.clear();
    encode_window_update(&mut out, 0, 983_041);
    assert_eq!(out, b"\0\0\x04\x08\0\0\0\0\0\x00\x0f\x00\x01");
    out.clear();
    encode_rst_stream(&mut out, 7, ErrorCode::RefusedStream);
    assert_eq!(out, b"\0\0\x04\x03\0\0\0\0\x07\0\0\0\x07");
    out.clear();
    encode_goaway(&mut out, 9, ErrorCode::EnhanceYourCalm);
    assert_eq!(out, b"\0\0\x08\x07\0\0\0\0\0\0\0\0\x09\0\0\0\x0b");
}
