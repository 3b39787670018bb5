//! Error codes (RFC 9113 §7) and the errors this crate returns.
//!
//! Two kinds of failure come from the peer (§5.4): a *stream error* ends one stream with
//! RST_STREAM and never surfaces as a Rust error (the stream's [`crate::Event::Reset`] tells
//! the server), while a *connection error* queues GOAWAY and is returned from
//! [`crate::Connection::handle_read`] as a [`ConnError`]. [`SendError`] is the server's own
//! mistake or bad luck when it writes a response.

use std::fmt;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY (RFC 9113 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    NoError,
    ProtocolError,
    InternalError,
    FlowControlError,
    SettingsTimeout,
    StreamClosed,
    FrameSizeError,
    RefusedStream,
    Cancel,
    CompressionError,
    ConnectError,
    EnhanceYourCalm,
    InadequateSecurity,
    Http11Required,
    /// A code this crate does not know. §7: unknown codes MUST NOT trigger special behaviour.
    Unknown(u32),
}

impl ErrorCode {
    /// The code for a number off the wire.
    pub fn from_u32(code: u32) -> ErrorCode {
        match code {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The number on the wire.
    pub fn as_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(code) => code,
        }
    }

    /// The RFC's name, e.g. `PROTOCOL_ERROR`, or `None` for an unknown code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::NoError => "NO_ERROR",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::FlowControlError => "FLOW_CONTROL_ERROR",
            ErrorCode::SettingsTimeout => "SETTINGS_TIMEOUT",
            ErrorCode::StreamClosed => "STREAM_CLOSED",
            ErrorCode::FrameSizeError => "FRAME_SIZE_ERROR",
            ErrorCode::RefusedStream => "REFUSED_STREAM",
            ErrorCode::Cancel => "CANCEL",
            ErrorCode::CompressionError => "COMPRESSION_ERROR",
            ErrorCode::ConnectError => "CONNECT_ERROR",
            ErrorCode::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            ErrorCode::InadequateSecurity => "INADEQUATE_SECURITY",
            ErrorCode::Http11Required => "HTTP_1_1_REQUIRED",
            ErrorCode::Unknown(_) => return None,
        })
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> ErrorCode {
        ErrorCode::from_u32(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> u32 {
        code.as_u32()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown error code {:#x}", self.as_u32()),
        }
    }
}

/// Why the connection is over. GOAWAY with `code` is already queued for
/// [`crate::Connection::poll_transmit`]; flush it, then close the socket (RFC 9113 §5.4.1).
///
/// A GOAWAY *from* the peer is not an error: the connection goes on until the streams in
/// flight are done (see [`crate::Connection::is_done`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The peer broke RFC 9113 or one of our limits. `reason` is for logs, never for the wire.
    #[error("HTTP/2 connection error {code}: {reason}")]
    Protocol { code: ErrorCode, reason: &'static str },
}

impl ConnError {
    /// The code sent in our GOAWAY.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConnError::Protocol { code, .. } => *code,
        }
    }
}

/// Why a response frame could not be written. Nothing was written when this is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The stream is not open for sending: it was reset (by the client or for a stream
    /// error), it never existed, our side already ended, or the connection is over.
    #[error("the stream is not open for sending")]
    StreamClosed,
    /// More DATA bytes than [`crate::Connection::send_capacity`] allows.
    #[error("more data than the flow-control windows allow")]
    FlowControl,
    /// A single DATA frame larger than the peer's SETTINGS_MAX_FRAME_SIZE
    /// ([`crate::Connection::data_frame_header`] only; `send_data` splits by itself).
    #[error("a DATA frame larger than the peer's maximum frame size")]
    FrameSize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_numbers() {
        for n in 0..=0xe {
            assert_eq!(ErrorCode::from_u32(n).as_u32(), n);
        }
        assert_eq!(ErrorCode::from_u32(0xb), ErrorCode::EnhanceYourCalm);
        assert_eq!(ErrorCode::from_u32(0xe), ErrorCode::Unknown(0xe));
        assert_eq!(ErrorCode::from_u32(0xffff_ffff).as_u32(), 0xffff_ffff);
    }

    #[test]
    fn display_uses_the_rfc_names() {
        assert_eq!(ErrorCode::Http11Required.to_string(), "HTTP_1_1_REQUIRED");
        assert_eq!(ErrorCode::Unknown(0xff).to_string(), "unknown error code 0xff");
        let e = ConnError::Protocol { code: ErrorCode::FrameSizeError, reason: "PING length not 8" };
        assert_eq!(e.to_string(), "HTTP/2 connection error FRAME_SIZE_ERROR: PING length not 8");
        assert_eq!(e.code(), ErrorCode::FrameSizeError);
    }
}
