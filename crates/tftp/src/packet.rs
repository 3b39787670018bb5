//! Zero-copy views of the six TFTP packets (RFC 1350 §5, RFC 2347 for OACK).
//!
//! ```text
//!   2 bytes    string   1   string  1   [ string 1 string 1 ]*      (RRQ=1 / WRQ=2)
//!   opcode   filename   0    mode   0   [  name  0  value  0 ]*
//!   opcode | block# | payload (0..blksize bytes)                     (DATA=3)
//!   opcode | block#                                                  (ACK=4)
//!   opcode | code   | message 0                                      (ERROR=5)
//!   opcode | [ name 0 value 0 ]*                                     (OACK=6)
//! ```
//!
//! [`Packet::parse`] checks the whole datagram once, so that no accessor of the returned view
//! can fail or panic afterwards; strings borrow from the datagram. Numbers are big-endian.

use crate::error::PacketError;
use crate::ErrorCode;

/// At most this many options in one request or OACK. Duplicate detection compares names
/// pairwise; the cap keeps a 64 KiB datagram full of tiny options from costing O(n²) work
/// (RFC 2347 limits requests to 512 bytes anyway, so real peers send a handful).
pub const MAX_OPTIONS: usize = 32;

/// The packet type (RFC 1350 §5, RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Opcode {
    /// 1: read request.
    Rrq,
    /// 2: write request.
    Wrq,
    /// 3: data.
    Data,
    /// 4: acknowledgment.
    Ack,
    /// 5: error.
    Error,
    /// 6: option acknowledgment (RFC 2347).
    Oack,
}

impl Opcode {
    /// The opcode for a wire value, if assigned.
    pub fn from_u16(value: u16) -> Option<Self> {
        Some(match value {
            1 => Opcode::Rrq,
            2 => Opcode::Wrq,
            3 => Opcode::Data,
            4 => Opcode::Ack,
            5 => Opcode::Error,
            6 => Opcode::Oack,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u16(self) -> u16 {
        match self {
            Opcode::Rrq => 1,
            Opcode::Wrq => 2,
            Opcode::Data => 3,
            Opcode::Ack => 4,
            Opcode::Error => 5,
            Opcode::Oack => 6,
        }
    }
}

/// The transfer mode of a request (RFC 1350 §1). `mail` is obsolete and not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Text: lines end in CR LF on the wire, a bare CR is sent as CR NUL (see [`crate::netascii`]).
    Netascii,
    /// Raw bytes.
    Octet,
}

impl Mode {
    /// The name as written on the wire (lowercase; received names compare case-insensitively).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("octet") {
            Some(Mode::Octet)
        } else if name.eq_ignore_ascii_case("netascii") {
            Some(Mode::Netascii)
        } else {
            None
        }
    }
}

/// Which way a request moves the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// RRQ: the requester reads (the server sends).
    Read,
    /// WRQ: the requester writes (the server receives).
    Write,
}

/// An RRQ or WRQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Read or write.
    pub kind: RequestKind,
    /// Printable ASCII, non-empty. Path safety is the server's business, not the codec's.
    pub filename: &'a str,
    /// Transfer mode.
    pub mode: Mode,
    /// The RFC 2347 options after the mode, possibly none.
    pub options: Options<'a>,
}

/// A parsed TFTP packet borrowing from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet<'a> {
    /// RRQ or WRQ.
    Request(Request<'a>),
    /// DATA: a block of the file; a payload shorter than blksize ends the transfer.
    Data {
        /// Block number (wraps from 65535 to 0).
        block: u16,
        /// The bytes, as sent (still netascii-encoded in netascii mode).
        payload: &'a [u8],
    },
    /// ACK of a block (block 0 acknowledges a WRQ).
    Ack {
        /// Block number acknowledged.
        block: u16,
    },
    /// ERROR: ends the transfer; never acknowledged or retransmitted.
    Error {
        /// The error code.
        code: ErrorCode,
        /// The message without its NUL; any bytes (peers do not all send ASCII).
        message: &'a [u8],
    },
    /// OACK: the options the server accepted (RFC 2347).
    Oack(Options<'a>),
}

impl<'a> Packet<'a> {
    /// Parses a whole datagram.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, PacketError> {
        let (opcode, body) = match datagram {
            [hi, lo, body @ ..] => (u16::from_be_bytes([*hi, *lo]), body),
            _ => return Err(PacketError::Truncated),
        };
        match Opcode::from_u16(opcode) {
            Some(Opcode::Rrq) => parse_request(RequestKind::Read, body),
            Some(Opcode::Wrq) => parse_request(RequestKind::Write, body),
            Some(Opcode::Data) => match body {
                [hi, lo, payload @ ..] => Ok(Packet::Data { block: u16::from_be_bytes([*hi, *lo]), payload }),
                _ => Err(PacketError::Truncated),
            },
            Some(Opcode::Ack) => match body {
                [hi, lo] => Ok(Packet::Ack { block: u16::from_be_bytes([*hi, *lo]) }),
                [_, _, ..] => Err(PacketError::TrailingBytes),
                _ => Err(PacketError::Truncated),
            },
            Some(Opcode::Error) => match body {
                [hi, lo, rest @ ..] => {
                    let (message, rest) = split_nul(rest)?;
                    if !rest.is_empty() {
                        return Err(PacketError::TrailingBytes);
                    }
                    Ok(Packet::Error { code: ErrorCode::from_u16(u16::from_be_bytes([*hi, *lo])), message })
                }
                _ => Err(PacketError::Truncated),
            },
            Some(Opcode::Oack) => Ok(Packet::Oack(Options::parse(body)?)),
            None => Err(PacketError::UnknownOpcode(opcode)),
        }
    }

    /// The packet type.
    pub fn opcode(&self) -> Opcode {
        match self {
            Packet::Request(Request { kind: RequestKind::Read, .. }) => Opcode::Rrq,
            Packet::Request(Request { kind: RequestKind::Write, .. }) => Opcode::Wrq,
            Packet::Data { .. } => Opcode::Data,
            Packet::Ack { .. } => Opcode::Ack,
            Packet::Error { .. } => Opcode::Error,
            Packet::Oack(_) => Opcode::Oack,
        }
    }
}

fn parse_request(kind: RequestKind, body: &[u8]) -> Result<Packet<'_>, PacketError> {
    let (filename, rest) = split_nul(body)?;
    if filename.is_empty() {
        return Err(PacketError::EmptyFilename);
    }
    let filename = printable(filename).ok_or(PacketError::NonAsciiFilename)?;
    let (mode, rest) = split_nul(rest)?;
    let mode = printable(mode).and_then(Mode::from_name).ok_or(PacketError::BadMode)?;
    let options = Options::parse(rest)?;
    Ok(Packet::Request(Request { kind, filename, mode, options }))
}

/// The bytes before the first NUL, and those after it.
fn split_nul(bytes: &[u8]) -> Result<(&[u8], &[u8]), PacketError> {
    let nul = bytes.iter().position(|&b| b == 0).ok_or(PacketError::MissingNul)?;
    Ok((&bytes[..nul], &bytes[nul + 1..]))
}

/// `bytes` as a `&str` if every byte is printable ASCII (space through tilde).
fn printable(bytes: &[u8]) -> Option<&str> {
    if bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// The option pairs of a request or OACK, validated: printable ASCII, non-empty names, no
/// name twice. Iterating cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options<'a> {
    /// `name NUL value NUL` pairs, without any trailing NUL padding.
    raw: &'a [u8],
}

impl<'a> Options<'a> {
    fn parse(mut rest: &'a [u8]) -> Result<Self, PacketError> {
        let start = rest;
        let mut used = 0;
        let mut names: [&[u8]; MAX_OPTIONS] = [&[]; MAX_OPTIONS];
        let mut count = 0;
        // Why tolerate NUL padding: some old clients pad requests with zeros; a run of NULs
        // cannot be a name (names are non-empty), so it is unambiguous.
        while !rest.iter().all(|&b| b == 0) {
            let (name, after_name) = split_nul(rest)?;
            if name.is_empty() {
                return Err(PacketError::EmptyOptionName);
            }
            let (value, after_value) = split_nul(after_name).map_err(|_| PacketError::MissingOptionValue)?;
            if printable(name).is_none() || printable(value).is_none() {
                return Err(PacketError::NonAsciiOption);
            }
            if names[..count].iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                return Err(PacketError::DuplicateOption);
            }
            if count == MAX_OPTIONS {
                return Err(PacketError::TooManyOptions);
            }
            names[count] = name;
            count += 1;
            used += name.len() + value.len() + 2;
            rest = after_value;
        }
        Ok(Options { raw: &start[..used] })
    }

    /// No options at all.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The `(name, value)` pairs in the order received, names as sent.
    pub fn iter(&self) -> OptionsIter<'a> {
        OptionsIter { rest: self.raw }
    }

    /// The value of the option called `name`, compared case-insensitively (RFC 2347).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for Options<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = OptionsIter<'a>;

    fn into_iter(self) -> OptionsIter<'a> {
        self.iter()
    }
}

/// Iterator over validated option pairs; see [`Options::iter`].
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        // Validated by `Options::parse`: every lookup below succeeds; `?` merely ends the
        // iteration instead of panicking should that ever not hold.
        let (name, rest) = split_nul(self.rest).ok()?;
        let (value, rest) = split_nul(rest).ok()?;
        self.rest = rest;
        Some((printable(name)?, printable(value)?))
    }
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
