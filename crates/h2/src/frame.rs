//! Frames on the wire (RFC 9113 §4, §6): the 9-byte header, each type's payload rules, and
//! the encoders for the frames a server sends.
//!
//! Parsing works on the payload slice after the header: the connection has already checked
//! the length against our SETTINGS_MAX_FRAME_SIZE and waited for the whole payload. Each
//! parser applies its frame type's own size and field rules and says whether a breach is a
//! stream or a connection error, as the frame's section prescribes; the connection decides
//! everything that depends on stream state.

use crate::error::ErrorCode;
use crate::StreamId;

/// Octets in a frame header (§4.1).
pub(crate) const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's initial value and lower bound (§6.5.2).
pub(crate) const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;
/// SETTINGS_MAX_FRAME_SIZE's upper bound (§6.5.2).
pub(crate) const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;
/// The largest flow-control window (§6.9.1).
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The initial window of the connection and of every stream before SETTINGS (§6.9.2).
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;

/// The client connection preface (§3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (§6, registry in §11.2).
pub(crate) mod kind {
    pub(crate) const DATA: u8 = 0x0;
    pub(crate) const HEADERS: u8 = 0x1;
    pub(crate) const PRIORITY: u8 = 0x2;
    pub(crate) const RST_STREAM: u8 = 0x3;
    pub(crate) const SETTINGS: u8 = 0x4;
    pub(crate) const PUSH_PROMISE: u8 = 0x5;
    pub(crate) const PING: u8 = 0x6;
    pub(crate) const GOAWAY: u8 = 0x7;
    pub(crate) const WINDOW_UPDATE: u8 = 0x8;
    pub(crate) const CONTINUATION: u8 = 0x9;
}

/// Flags; which apply depends on the type, the rest are ignored on receipt (§4.1).
pub(crate) mod flag {
    pub(crate) const END_STREAM: u8 = 0x1;
    pub(crate) const ACK: u8 = 0x1;
    pub(crate) const END_HEADERS: u8 = 0x4;
    pub(crate) const PADDED: u8 = 0x8;
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// A rule broken by one frame on its own, and how far the damage reaches (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    /// GOAWAY: the frame could have changed connection state, or the section says so.
    Conn(ErrorCode, &'static str),
    /// RST_STREAM on the frame's stream only.
    Stream(ErrorCode, &'static str),
}

/// A frame header (§4.1). The reserved bit of the stream identifier is dropped on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) len: usize,
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: StreamId,
}

impl Head {
    pub(crate) fn parse(b: &[u8; HEADER_LEN]) -> Head {
        Head {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream: u31(&[b[5], b[6], b[7], b[8]]),
        }
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A big-endian u32 with the top (reserved or exclusive) bit cleared.
fn u31(b: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*b) & MAX_WINDOW
}

fn u32_at(payload: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&payload[at..at + 4]);
    u32::from_be_bytes(b)
}

/// Where the data (DATA) or field block fragment (HEADERS) lies in a payload, after the
/// optional pad length and priority fields and before the padding (§6.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Body {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// A priority signal (§5.3.2 format; the scheme is deprecated and we only check it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priority {
    pub(crate) dependency: StreamId,
}

/// DATA (§6.1): the data between pad length and padding.
pub(crate) fn data(flags: u8, payload: &[u8]) -> Result<Body, Violation> {
    padded(flags, payload, 0)
}

/// HEADERS (§6.2): the fragment, and the priority fields if the PRIORITY flag is set.
/// Every size or padding error is a connection error: the frame carries a field block that
/// the HPACK decoder must see whole (§4.2, §4.3).
pub(crate) fn headers(flags: u8, payload: &[u8]) -> Result<(Body, Option<Priority>), Violation> {
    let fields = if flags & flag::PRIORITY != 0 { 5 } else { 0 };
    let body = padded(flags, payload, fields)?;
    let priority = (fields != 0).then(|| {
        let at = body.start - 5;
        Priority { dependency: u31(&[payload[at], payload[at + 1], payload[at + 2], payload[at + 3]]) }
    });
    Ok((body, priority))
}

/// Pad length, `fields` octets of other fields, then the body and the padding.
fn padded(flags: u8, payload: &[u8], fields: usize) -> Result<Body, Violation> {
    if flags & flag::PADDED == 0 {
        if payload.len() < fields {
            return Err(Violation::Conn(
                ErrorCode::FrameSizeError,
                "frame too short for its priority fields",
            ));
        }
        return Ok(Body { start: fields, end: payload.len() });
    }
    let Some((&pad, _)) = payload.split_first() else {
        return Err(Violation::Conn(ErrorCode::FrameSizeError, "PADDED frame without a pad length"));
    };
    let start = 1 + fields;
    // §6.1: padding as long as the payload or longer is a PROTOCOL_ERROR (the pad length
    // octet and the priority fields count as payload).
    match payload.len().checked_sub(start + usize::from(pad)) {
        Some(_) => Ok(Body { start, end: payload.len() - usize::from(pad) }),
        None => Err(Violation::Conn(ErrorCode::ProtocolError, "padding exceeds the frame payload")),
    }
}

/// PRIORITY (§6.3): only the dependency matters to us (a stream may not depend on itself).
pub(crate) fn priority(payload: &[u8]) -> Result<Priority, Violation> {
    if payload.len() != 5 {
        return Err(Violation::Stream(ErrorCode::FrameSizeError, "PRIORITY length not 5"));
    }
    Ok(Priority { dependency: u31(&[payload[0], payload[1], payload[2], payload[3]]) })
}

/// RST_STREAM (§6.4): the error code.
pub(crate) fn rst_stream(payload: &[u8]) -> Result<ErrorCode, Violation> {
    if payload.len() != 4 {
        return Err(Violation::Conn(ErrorCode::FrameSizeError, "RST_STREAM length not 4"));
    }
    Ok(ErrorCode::from_u32(u32_at(payload, 0)))
}

/// PING (§6.7): the opaque data.
pub(crate) fn ping(payload: &[u8]) -> Result<[u8; 8], Violation> {
    <[u8; 8]>::try_from(payload).map_err(|_| Violation::Conn(ErrorCode::FrameSizeError, "PING length not 8"))
}

/// GOAWAY (§6.8): last stream id and error code (debug data ignored).
pub(crate) fn goaway(payload: &[u8]) -> Result<(StreamId, ErrorCode), Violation> {
    if payload.len() < 8 {
        return Err(Violation::Conn(ErrorCode::FrameSizeError, "GOAWAY shorter than 8"));
    }
    let last = u32_at(payload, 0) & MAX_WINDOW;
    Ok((last, ErrorCode::from_u32(u32_at(payload, 4))))
}

/// WINDOW_UPDATE (§6.9): the increment; zero is the caller's to judge (stream or connection).
pub(crate) fn window_update(payload: &[u8]) -> Result<u32, Violation> {
    if payload.len() != 4 {
        return Err(Violation::Conn(ErrorCode::FrameSizeError, "WINDOW_UPDATE length not 4"));
    }
    Ok(u32_at(payload, 0) & MAX_WINDOW)
}

/// SETTINGS (§6.5): the (identifier, value) pairs in order, after the frame-level checks.
pub(crate) fn settings(
    flags: u8,
    payload: &[u8],
) -> Result<impl Iterator<Item = (u16, u32)> + '_, Violation> {
    if flags & flag::ACK != 0 && !payload.is_empty() {
        return Err(Violation::Conn(ErrorCode::FrameSizeError, "SETTINGS ack with a payload"));
    }
    if !payload.len().is_multiple_of(6) {
        return Err(Violation::Conn(ErrorCode::FrameSizeError, "SETTINGS length not a multiple of 6"));
    }
    Ok(payload.chunks_exact(6).map(|p| (u16::from_be_bytes([p[0], p[1]]), u32_at(p, 2))))
}

// ---- encoders ---------------------------------------------------------------------------------

/// Appends a frame header. `len` must fit 24 bits (every caller stays under the peer's
/// SETTINGS_MAX_FRAME_SIZE, itself below 2^24).
pub(crate) fn encode_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: StreamId) {
    out.extend_from_slice(&head_bytes(len, kind, flags, stream));
}

/// The 9-byte header alone, for patching a frame whose length is known only afterwards.
pub(crate) fn head_bytes(len: usize, kind: u8, flags: u8, stream: StreamId) -> [u8; HEADER_LEN] {
    let len = len as u32;
    let s = (stream & MAX_WINDOW).to_be_bytes();
    [(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags, s[0], s[1], s[2], s[3]]
}

pub(crate) fn encode_settings(out: &mut Vec<u8>, pairs: &[(u16, u32)]) {
    encode_head(out, pairs.len() * 6, kind::SETTINGS, 0, 0);
    for &(id, value) in pairs {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub(crate) fn encode_settings_ack(out: &mut Vec<u8>) {
    encode_head(out, 0, kind::SETTINGS, flag::ACK, 0);
}

pub(crate) fn encode_ping_ack(out: &mut Vec<u8>, data: &[u8; 8]) {
    encode_head(out, 8, kind::PING, flag::ACK, 0);
    out.extend_from_slice(data);
}

pub(crate) fn encode_window_update(out: &mut Vec<u8>, stream: StreamId, increment: u32) {
    encode_head(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

pub(crate) fn encode_rst_stream(out: &mut Vec<u8>, stream: StreamId, code: ErrorCode) {
    encode_head(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.as_u32().to_be_bytes());
}

pub(crate) fn encode_goaway(out: &mut Vec<u8>, last: StreamId, code: ErrorCode) {
    encode_head(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&code.as_u32().to_be_bytes());
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
