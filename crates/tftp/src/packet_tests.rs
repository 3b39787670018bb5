//! Byte-string tests of the packet parser: every packet type, every malformation, and the
//! properties that random bytes never panic and that emitted packets parse back.

use super::*;
use crate::emit;
use crate::error::OptionName;
use proptest::prelude::*;

fn parse(bytes: &[u8]) -> Result<Packet<'_>, PacketError> {
    Packet::parse(bytes)
}

fn request(bytes: &[u8]) -> Request<'_> {
    match parse(bytes) {
        Ok(Packet::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn rrq_without_options() {
    let r = request(b"\x00\x01hello.txt\0octet\0");
    assert_eq!(r.kind, RequestKind::Read);
    assert_eq!(r.filename, "hello.txt");
    assert_eq!(r.mode, Mode::Octet);
    assert!(r.options.is_empty());
}

#[test]
fn wrq_with_options_and_case_insensitive_mode() {
    let r = request(b"\x00\x02a b\0NetASCII\0BLKSIZE\x001024\0windowsize\x0016\0");
    assert_eq!((r.kind, r.filename, r.mode), (RequestKind::Write, "a b", Mode::Netascii));
    assert_eq!(r.options.iter().collect::<Vec<_>>(), [("BLKSIZE", "1024"), ("windowsize", "16")]);
    assert_eq!(r.options.get("blksize"), Some("1024"));
    assert_eq!(r.options.get("WindowSize"), Some("16"));
    assert_eq!(r.options.get("tsize"), None);
}

#[test]
fn trailing_nul_padding_after_options_is_tolerated() {
    let r = request(b"\x00\x01f\0octet\0tsize\x000\0\0\0\0");
    assert_eq!(r.options.iter().collect::<Vec<_>>(), [("tsize", "0")]);
    let r = request(b"\x00\x01f\0octet\0\0");
    assert!(r.options.is_empty());
}

#[test]
fn data_ack_error_oack() {
    assert_eq!(parse(b"\x00\x03\x00\x01abc"), Ok(Packet::Data { block: 1, payload: b"abc" }));
    assert_eq!(parse(b"\x00\x03\xff\xff"), Ok(Packet::Data { block: 65535, payload: b"" }));
    assert_eq!(parse(b"\x00\x04\x12\x34"), Ok(Packet::Ack { block: 0x1234 }));
    assert_eq!(
        parse(b"\x00\x05\x00\x01no such file\0"),
        Ok(Packet::Error { code: ErrorCode::FileNotFound, message: b"no such file" })
    );
    assert_eq!(
        parse(b"\x00\x05\x00\x63\xff\0"),
        Ok(Packet::Error { code: ErrorCode::Unassigned(99), message: b"\xff" })
    );
    match parse(b"\x00\x06blksize\x00512\0") {
        Ok(Packet::Oack(o)) => assert_eq!(o.get("BlkSize"), Some("512")),
        other => panic!("{other:?}"),
    }
    assert_eq!(parse(b"\x00\x06"), Ok(Packet::Oack(Options::default())));
}

#[test]
fn opcodes() {
    assert_eq!(parse(b"\x00\x04\x00\x00").map(|p| p.opcode()), Ok(Opcode::Ack));
    assert_eq!(request(b"\x00\x02f\0octet\0").kind, RequestKind::Write);
    for op in 1..=6 {
        assert_eq!(Opcode::from_u16(op).map(Opcode::as_u16), Some(op));
    }
}

#[test]
fn truncated_packets() {
    for bytes in [&b""[..], b"\x00", b"\x00\x03", b"\x00\x03\x00", b"\x00\x04\x00", b"\x00\x05\x00"] {
        assert_eq!(parse(bytes), Err(PacketError::Truncated), "{bytes:?}");
    }
}

#[test]
fn unknown_opcodes() {
    assert_eq!(parse(b"\x00\x00\x00\x01"), Err(PacketError::UnknownOpcode(0)));
    assert_eq!(parse(b"\x00\x07"), Err(PacketError::UnknownOpcode(7)));
    assert_eq!(parse(b"\x01\x01f\0octet\0"), Err(PacketError::UnknownOpcode(257)));
}

#[test]
fn missing_nul() {
    assert_eq!(parse(b"\x00\x01file"), Err(PacketError::MissingNul));
    assert_eq!(parse(b"\x00\x01file\0octet"), Err(PacketError::MissingNul));
    assert_eq!(parse(b"\x00\x05\x00\x00oops"), Err(PacketError::MissingNul));
    assert_eq!(parse(b"\x00\x06blksize"), Err(PacketError::MissingNul));
}

#[test]
fn bad_requests() {
    assert_eq!(parse(b"\x00\x01\0octet\0"), Err(PacketError::EmptyFilename));
    assert_eq!(parse(b"\x00\x01caf\xc3\xa9\0octet\0"), Err(PacketError::NonAsciiFilename));
    assert_eq!(parse(b"\x00\x01a\tb\0octet\0"), Err(PacketError::NonAsciiFilename));
    assert_eq!(parse(b"\x00\x01f\0mail\0"), Err(PacketError::BadMode));
    assert_eq!(parse(b"\x00\x01f\0\0"), Err(PacketError::BadMode));
    assert_eq!(parse(b"\x00\x01f\0oct\xe9t\0"), Err(PacketError::BadMode));
}

#[test]
fn bad_options() {
    assert_eq!(parse(b"\x00\x01f\0octet\0blksize\0"), Err(PacketError::MissingOptionValue));
    assert_eq!(parse(b"\x00\x01f\0octet\0blksize"), Err(PacketError::MissingNul));
    assert_eq!(parse(b"\x00\x01f\0octet\0x\x001\0\0\x002\0"), Err(PacketError::EmptyOptionName));
    assert_eq!(parse(b"\x00\x01f\0octet\0bl\xffk\x001\0"), Err(PacketError::NonAsciiOption));
    assert_eq!(parse(b"\x00\x06tsize\x00\x01\0"), Err(PacketError::NonAsciiOption));
    assert_eq!(
        parse(b"\x00\x01f\0octet\0blksize\x00512\0BlkSize\x001024\0"),
        Err(PacketError::DuplicateOption)
    );
    let mut many = b"\x00\x06".to_vec();
    for i in 0..=MAX_OPTIONS {
        many.extend_from_slice(format!("o{i}\0v\0").as_bytes());
    }
    assert_eq!(parse(&many), Err(PacketError::TooManyOptions));
}

#[test]
fn trailing_bytes() {
    assert_eq!(parse(b"\x00\x04\x00\x01\x00"), Err(PacketError::TrailingBytes));
    assert_eq!(parse(b"\x00\x05\x00\x01msg\0x"), Err(PacketError::TrailingBytes));
}

#[test]
fn empty_option_value_is_allowed() {
    // RFC 2347 requires a value string, not a non-empty one; extensions may use "".
    let r = request(b"\x00\x01f\0octet\0multicast\0\0");
    assert_eq!(r.options.get("multicast"), Some(""));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(p) = Packet::parse(&bytes) {
            let _ = p.opcode();
            if let Packet::Request(Request { options, .. }) | Packet::Oack(options) = p {
                for (name, value) in options {
                    prop_assert!(!name.is_empty());
                    let _ = value;
                }
            }
        }
    }

    #[test]
    fn mostly_valid_bytes_never_panic(
        op in 0u8..8,
        parts in proptest::collection::vec(("[a-zA-Z0-9]{0,6}", any::<bool>()), 0..8),
    ) {
        // Strings with and without NULs around a valid opcode reach deeper than noise does.
        let mut bytes = vec![0, op];
        for (s, nul) in &parts {
            bytes.extend_from_slice(s.as_bytes());
            if *nul {
                bytes.push(0);
            }
        }
        let _ = Packet::parse(&bytes);
    }

    #[test]
    fn requests_round_trip(
        filename in "[ -~]{1,40}",
        read in any::<bool>(),
        octet in any::<bool>(),
        blksize in proptest::option::of(8u64..=65464),
        tsize in proptest::option::of(any::<u64>()),
    ) {
        let kind = if read { RequestKind::Read } else { RequestKind::Write };
        let mode = if octet { Mode::Octet } else { Mode::Netascii };
        let mut opts = Vec::new();
        opts.extend(blksize.map(|v| (OptionName::Blksize, v)));
        opts.extend(tsize.map(|v| (OptionName::Tsize, v)));
        let mut buf = Vec::new();
        emit::encode_request(&mut buf, kind, &filename, mode, &opts).expect("printable filename");
        let parsed = match Packet::parse(&buf) {
            Ok(Packet::Request(r)) => r,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(parsed.kind, kind);
        prop_assert_eq!(parsed.filename, filename.as_str());
        prop_assert_eq!(parsed.mode, mode);
        let got: Vec<(String, String)> =
            parsed.options.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        let want: Vec<(String, String)> =
            opts.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_string())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn data_round_trips(block in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut buf = Vec::new();
        emit::encode_data(&mut buf, block, &payload);
        prop_assert_eq!(Packet::parse(&buf), Ok(Packet::Data { block, payload: &payload }));
    }
}
