//! The error codes an ERROR packet carries (RFC 1350 appendix, RFC 2347 for code 8).

use std::fmt;

/// The code in an ERROR packet.
///
/// Codes 0–8 are assigned; anything else a peer sends is kept as [`ErrorCode::Unassigned`]
/// rather than refused, because an ERROR ends the transfer either way and the peer's message
/// is worth more to an operator than a parse error about the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0: not defined, see the error message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID (a packet from a port that is not this transfer's peer).
    UnknownTid,
    /// 6: file already exists.
    FileExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: the transfer is terminated because option negotiation failed (RFC 2347).
    OptionNegotiation,
    /// A code outside 0–8, as received.
    Unassigned(u16),
}

impl ErrorCode {
    /// The code for a received value; never fails (see [`ErrorCode::Unassigned`]).
    pub fn from_u16(code: u16) -> Self {
        match code {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTid,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionNegotiation,
            other => ErrorCode::Unassigned(other),
        }
    }

    /// The value on the wire.
    pub fn as_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTid => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionNegotiation => 8,
            ErrorCode::Unassigned(code) => code,
        }
    }

    /// The RFC's wording, a sensible default message for an ERROR packet.
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::NotDefined | ErrorCode::Unassigned(_) => "Not defined",
            ErrorCode::FileNotFound => "File not found",
            ErrorCode::AccessViolation => "Access violation",
            ErrorCode::DiskFull => "Disk full or allocation exceeded",
            ErrorCode::IllegalOperation => "Illegal TFTP operation",
            ErrorCode::UnknownTid => "Unknown transfer ID",
            ErrorCode::FileExists => "File already exists",
            ErrorCode::NoSuchUser => "No such user",
            ErrorCode::OptionNegotiation => "Option negotiation failed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_u16(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 0..=20u16 {
            assert_eq!(ErrorCode::from_u16(code).as_u16(), code);
        }
        assert_eq!(ErrorCode::from_u16(8), ErrorCode::OptionNegotiation);
        assert_eq!(ErrorCode::from_u16(9), ErrorCode::Unassigned(9));
    }
}
