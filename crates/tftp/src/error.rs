//! Why a packet, an option or a transfer was refused, and the one place each reason becomes the
//! ERROR code we answer with.
//!
//! A datagram is always whole, so unlike a stream parser there is no "need more bytes": every
//! [`PacketError`] means the sender broke RFC 1350/2347 framing.

use crate::ErrorCode;

/// A datagram that is not a well-formed TFTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Shorter than the opcode and fixed fields of its packet type.
    #[error("packet truncated")]
    Truncated,
    /// An opcode outside 1–6.
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    /// A filename, mode, option or error message without its terminating NUL.
    #[error("string field not terminated by NUL")]
    MissingNul,
    /// An RRQ/WRQ with an empty filename.
    #[error("empty filename")]
    EmptyFilename,
    /// A filename with bytes outside printable ASCII (RFC 1350 §5: netascii strings).
    #[error("filename is not printable ASCII")]
    NonAsciiFilename,
    /// A mode other than `netascii` or `octet` (`mail` is obsolete and refused).
    #[error("unsupported transfer mode")]
    BadMode,
    /// An option name or value with bytes outside printable ASCII.
    #[error("option name or value is not printable ASCII")]
    NonAsciiOption,
    /// An option with an empty name (RFC 2347 requires a name).
    #[error("empty option name")]
    EmptyOptionName,
    /// An option name with no value string after it.
    #[error("option without a value")]
    MissingOptionValue,
    /// The same option twice (names compare case-insensitively, RFC 2347).
    #[error("option given twice")]
    DuplicateOption,
    /// More than [`crate::packet::MAX_OPTIONS`] options.
    #[error("too many options")]
    TooManyOptions,
    /// Bytes after the last field of an ACK or ERROR packet.
    #[error("trailing bytes after the packet")]
    TrailingBytes,
}

impl PacketError {
    /// The ERROR code to answer with: option framing problems are option negotiation failures
    /// (RFC 2347 code 8), everything else is an illegal operation (code 4).
    pub fn error_code(self) -> ErrorCode {
        match self {
            PacketError::NonAsciiOption
            | PacketError::EmptyOptionName
            | PacketError::MissingOptionValue
            | PacketError::DuplicateOption
            | PacketError::TooManyOptions => ErrorCode::OptionNegotiation,
            _ => ErrorCode::IllegalOperation,
        }
    }
}

/// The options we understand, named as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OptionName {
    /// `blksize` (RFC 2348).
    Blksize,
    /// `timeout` (RFC 2349).
    Timeout,
    /// `tsize` (RFC 2349).
    Tsize,
    /// `windowsize` (RFC 7440).
    Windowsize,
}

impl OptionName {
    /// The name as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionName::Blksize => "blksize",
            OptionName::Timeout => "timeout",
            OptionName::Tsize => "tsize",
            OptionName::Windowsize => "windowsize",
        }
    }

    /// Looks a received name up, case-insensitively (RFC 2347); `None` for unknown options.
    pub fn from_name(name: &str) -> Option<Self> {
        [OptionName::Blksize, OptionName::Timeout, OptionName::Tsize, OptionName::Windowsize]
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for OptionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Option negotiation failed; the peer gets ERROR 8 and the transfer ends (RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    /// The value of a known option is not a decimal number.
    #[error("{0} value is not a decimal number")]
    NotANumber(OptionName),
    /// The value is outside the range its RFC allows (or that we asked for, when requesting).
    #[error("{0} value out of range")]
    OutOfRange(OptionName),
    /// An OACK acknowledged an option we did not request (RFC 2347).
    #[error("OACK holds an option that was not requested")]
    NotRequested,
    /// An OACK value larger than the one requested (RFC 2348, RFC 7440).
    #[error("OACK {0} larger than requested")]
    LargerThanRequested(OptionName),
    /// An OACK value that must echo the request but does not (RFC 2349 timeout; tsize on a WRQ).
    #[error("OACK {0} differs from the requested value")]
    Mismatch(OptionName),
}

impl OptionError {
    /// Always code 8; here so that every error type answers the same question.
    pub fn error_code(self) -> ErrorCode {
        ErrorCode::OptionNegotiation
    }
}

/// A client request we refuse to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The filename would not parse on the other end (empty, or not printable ASCII).
    #[error("invalid filename: {0}")]
    Filename(PacketError),
    /// A requested option value is outside its RFC range.
    #[error("invalid option: {0}")]
    Options(#[from] OptionError),
}

/// `: MESSAGE`, without the code's own description when the peer repeated it at the start
/// ("Access violation: Access violation: server is read-only" said it twice).
fn peer_message(code: &ErrorCode, message: &str) -> String {
    let desc = code.description();
    let rest = match message.strip_prefix(desc) {
        Some(r) if r.is_empty() || r.starts_with(':') => r.trim_start_matches(':').trim_start(),
        _ => message,
    };
    if rest.is_empty() {
        String::new()
    } else {
        format!(": {rest}")
    }
}

/// Why a transfer ended without completing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The peer sent an ERROR packet.
    #[error("peer sent ERROR {code}{}", peer_message(.code, .message))]
    Peer {
        /// The code the peer sent.
        code: ErrorCode,
        /// The peer's message, decoded lossily.
        message: String,
    },
    /// No answer after the configured number of retransmissions.
    #[error("timed out after {retries} retransmissions")]
    TimedOut {
        /// How many times we retransmitted before giving up.
        retries: u32,
    },
    /// The peer sent a malformed packet; we answered with an ERROR.
    #[error("malformed packet from peer: {0}")]
    Malformed(#[from] PacketError),
    /// The peer sent a well-formed packet that makes no sense here (e.g. DATA to a sender,
    /// or a DATA block longer than the negotiated blksize); we answered with ERROR 4.
    #[error("illegal operation from peer: {0}")]
    Illegal(&'static str),
    /// The peer's OACK was not acceptable; we answered with ERROR 8.
    #[error("option negotiation failed: {0}")]
    Options(#[from] OptionError),
    /// The local side aborted the transfer (and sent this ERROR to the peer).
    #[error("aborted locally with ERROR {0}")]
    Aborted(ErrorCode),
}

impl TransferError {
    /// The peer's ERROR packet, its message decoded lossily.
    pub(crate) fn from_peer(code: ErrorCode, message: &[u8]) -> Self {
        TransferError::Peer { code, message: String::from_utf8_lossy(message).into_owned() }
    }

    /// The ERROR code that goes (or went) to the peer for this failure, if any goes at all:
    /// an ERROR never answers an ERROR, and a timed-out peer is presumed gone.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            TransferError::Peer { .. } | TransferError::TimedOut { .. } => None,
            TransferError::Malformed(e) => Some(e.error_code()),
            TransferError::Illegal(_) => Some(ErrorCode::IllegalOperation),
            TransferError::Options(e) => Some(e.error_code()),
            TransferError::Aborted(code) => Some(*code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_framing_errors_map_to_code_8() {
        assert_eq!(PacketError::DuplicateOption.error_code(), ErrorCode::OptionNegotiation);
        assert_eq!(PacketError::MissingNul.error_code(), ErrorCode::IllegalOperation);
        assert_eq!(OptionError::NotRequested.error_code(), ErrorCode::OptionNegotiation);
    }

    #[test]
    fn option_names_are_case_insensitive() {
        assert_eq!(OptionName::from_name("BlkSize"), Some(OptionName::Blksize));
        assert_eq!(OptionName::from_name("WINDOWSIZE"), Some(OptionName::Windowsize));
        assert_eq!(OptionName::from_name("multicast"), None);
    }

    #[test]
    fn no_error_answers_a_peer_error_or_a_timeout() {
        let peer = TransferError::Peer { code: ErrorCode::DiskFull, message: String::new() };
        assert_eq!(peer.error_code(), None);
        assert_eq!(TransferError::TimedOut { retries: 5 }.error_code(), None);
    }
}
