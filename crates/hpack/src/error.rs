//! Why a header block could not be decoded.
//!
//! Every variant is a connection error of type COMPRESSION_ERROR in HTTP/2 (RFC 9113 §4.3):
//! once a block fails, the dynamic tables of the two ends may disagree, so nothing after it
//! can be trusted.

/// A header block that breaks RFC 7541.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block ends inside a representation.
    #[error("header block truncated")]
    Truncated,
    /// An integer beyond what fits, or encoded with absurdly many continuation bytes (§5.1).
    #[error("HPACK integer overflow")]
    IntegerOverflow,
    /// Index 0, or an index beyond the static and dynamic tables (§2.3.3).
    #[error("invalid HPACK index {0}")]
    InvalidIndex(usize),
    /// Invalid Huffman code: the EOS symbol inside, padding longer than 7 bits or padding that
    /// is not all ones (§5.2).
    #[error("invalid Huffman-coded string")]
    Huffman,
    /// A dynamic table size update above the maximum we allow, or not at the start of a
    /// header block (§4.2, §6.3).
    #[error("invalid dynamic table size update")]
    TableSizeUpdate,
    /// A string literal longer than the decoder's limit (a bound against memory abuse).
    #[error("HPACK string literal too long")]
    StringTooLong,
}
