//! The block sizes of RFC 1350 and RFC 2348, apart so that both the configuration (which caps
//! them) and option negotiation (which checks them) use them without using each other.

/// Block size without the blksize option (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;
/// Smallest blksize RFC 2348 allows.
pub const MIN_BLKSIZE: u16 = 8;
/// Largest blksize RFC 2348 allows (65535 − 20 IP − 8 UDP − 4 TFTP − 39 spare, per the RFC).
pub const MAX_BLKSIZE: u16 = 65464;
