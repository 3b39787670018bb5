//! Builders that append packets to the caller's buffer (the inverse of [`crate::Packet::parse`]).
//!
//! Every function *appends*, so a caller can reuse one `Vec` per socket: clear it, build,
//! send. Strings we did not make ourselves are checked, so that what we emit always parses.

use crate::error::{OptionName, PacketError};
use crate::packet::{Mode, Opcode, RequestKind};
use crate::ErrorCode;

fn opcode(buf: &mut Vec<u8>, op: Opcode) {
    buf.extend_from_slice(&op.as_u16().to_be_bytes());
}

fn string(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
}

fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn number(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
    buf.push(0);
}

/// Appends an RRQ or WRQ with the given known options (in order).
///
/// Fails if the filename is empty or not printable ASCII, the checks [`crate::Packet::parse`]
/// applies on the other end.
pub fn encode_request(
    buf: &mut Vec<u8>,
    kind: RequestKind,
    filename: &str,
    mode: Mode,
    options: &[(OptionName, u64)],
) -> Result<(), PacketError> {
    if filename.is_empty() {
        return Err(PacketError::EmptyFilename);
    }
    if !is_printable(filename) {
        return Err(PacketError::NonAsciiFilename);
    }
    opcode(buf, if kind == RequestKind::Read { Opcode::Rrq } else { Opcode::Wrq });
    string(buf, filename);
    string(buf, mode.as_str());
    for &(name, value) in options {
        encode_option(buf, name, value);
    }
    Ok(())
}

/// Appends one known option pair to a request or OACK being built.
pub fn encode_option(buf: &mut Vec<u8>, name: OptionName, value: u64) {
    string(buf, name.as_str());
    number(buf, value);
}

/// Appends an arbitrary option pair (an extension this crate does not know). Fails if the name
/// is empty or either string is not printable ASCII.
pub fn encode_raw_option(buf: &mut Vec<u8>, name: &str, value: &str) -> Result<(), PacketError> {
    if name.is_empty() {
        return Err(PacketError::EmptyOptionName);
    }
    if !is_printable(name) || !is_printable(value) {
        return Err(PacketError::NonAsciiOption);
    }
    string(buf, name);
    string(buf, value);
    Ok(())
}

/// Appends an OACK carrying the given options.
pub fn encode_oack(buf: &mut Vec<u8>, options: &[(OptionName, u64)]) {
    opcode(buf, Opcode::Oack);
    for &(name, value) in options {
        encode_option(buf, name, value);
    }
}

/// Appends a DATA packet.
pub fn encode_data(buf: &mut Vec<u8>, block: u16, payload: &[u8]) {
    opcode(buf, Opcode::Data);
    buf.extend_from_slice(&block.to_be_bytes());
    buf.extend_from_slice(payload);
}

/// Appends an ACK.
pub fn encode_ack(buf: &mut Vec<u8>, block: u16) {
    opcode(buf, Opcode::Ack);
    buf.extend_from_slice(&block.to_be_bytes());
}

/// Appends an ERROR. The message is cut at its first NUL, since a NUL ends it on the wire.
pub fn encode_error(buf: &mut Vec<u8>, code: ErrorCode, message: &str) {
    opcode(buf, Opcode::Error);
    buf.extend_from_slice(&code.as_u16().to_be_bytes());
    let message = message.as_bytes();
    let end = message.iter().position(|&b| b == 0).unwrap_or(message.len());
    buf.extend_from_slice(&message[..end]);
    buf.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Packet;

    #[test]
    fn request_bytes() {
        let mut buf = Vec::new();
        let opts = [(OptionName::Blksize, 1428), (OptionName::Tsize, 0)];
        encode_request(&mut buf, RequestKind::Read, "boot/pxe.0", Mode::Octet, &opts).expect("valid");
        assert_eq!(buf, b"\x00\x01boot/pxe.0\0octet\0blksize\x001428\0tsize\x000\0");
    }

    #[test]
    fn request_refuses_what_would_not_parse() {
        let mut buf = Vec::new();
        assert_eq!(
            encode_request(&mut buf, RequestKind::Write, "", Mode::Octet, &[]),
            Err(PacketError::EmptyFilename)
        );
        assert_eq!(
            encode_request(&mut buf, RequestKind::Write, "caf\u{e9}", Mode::Octet, &[]),
            Err(PacketError::NonAsciiFilename)
        );
        assert_eq!(
            encode_request(&mut buf, RequestKind::Write, "a\0b", Mode::Octet, &[]),
            Err(PacketError::NonAsciiFilename)
        );
        assert!(buf.is_empty());
        assert_eq!(encode_raw_option(&mut buf, "", "1"), Err(PacketError::EmptyOptionName));
        assert_eq!(encode_raw_option(&mut buf, "x", "\u{1}"), Err(PacketError::NonAsciiOption));
    }

    #[test]
    fn fixed_packets() {
        let mut buf = Vec::new();
        encode_data(&mut buf, 0x0102, b"hi");
        encode_ack(&mut buf, 65535);
        encode_error(&mut buf, ErrorCode::UnknownTid, "Unknown transfer ID\0ignored");
        encode_oack(&mut buf, &[(OptionName::Windowsize, 16)]);
        assert_eq!(
            buf,
            b"\x00\x03\x01\x02hi\x00\x04\xff\xff\x00\x05\x00\x05Unknown transfer ID\0\x00\x06windowsize\x0016\0"
        );
    }

    #[test]
    fn numbers_are_decimal() {
        for value in [0u64, 7, 10, 65464, u64::MAX] {
            let mut buf = Vec::new();
            number(&mut buf, value);
            assert_eq!(buf, format!("{value}\0").into_bytes());
        }
    }

    #[test]
    fn emitted_packets_parse_back() {
        let mut buf = Vec::new();
        encode_request(&mut buf, RequestKind::Write, "x", Mode::Netascii, &[(OptionName::Timeout, 3)])
            .expect("valid");
        encode_raw_option(&mut buf, "multicast", "").expect("valid");
        match Packet::parse(&buf) {
            Ok(Packet::Request(r)) => {
                assert_eq!((r.kind, r.filename, r.mode), (RequestKind::Write, "x", Mode::Netascii));
                assert_eq!(r.options.iter().collect::<Vec<_>>(), [("timeout", "3"), ("multicast", "")]);
            }
            other => panic!("{other:?}"),
        }
    }
}
