//! Why a request was refused, and the one place that maps each reason to a status code.
//!
//! Every variant means the peer broke the protocol or one of our [`crate::Limits`]; needing
//! more bytes is never an error (the decoder returns `Ok(None)`). The server answers with
//! [`Error::status`] and closes the connection: after a framing error we can no longer tell
//! where the next request would start, so persisting would invite request smuggling.

use http::StatusCode;

/// The peer broke the protocol or a limit. Needing more bytes is never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- message syntax (RFC 9112 §2.2, §3, §5) --------------------------------------------
    /// A CR not followed by LF (RFC 9112 §2.2: we treat it as invalid rather than as SP).
    #[error("bare CR in the message framing")]
    BareCr,
    /// An LF not preceded by CR (RFC 9112 §2.2 lets us refuse LF-only line endings).
    #[error("bare LF used as a line terminator")]
    BareLf,
    /// The request-line is not `method SP request-target SP HTTP-version` (RFC 9112 §3).
    #[error("malformed request-line")]
    InvalidRequestLine,
    /// The method is not a token (RFC 9110 §9.1).
    #[error("invalid method")]
    InvalidMethod,
    /// The request-target is not one of the four forms, or holds bytes a URI cannot hold.
    #[error("invalid request-target")]
    InvalidTarget,
    /// `*` with a method other than OPTIONS (RFC 9112 §3.2.4).
    #[error("asterisk-form request-target with a method other than OPTIONS")]
    AsteriskWithoutOptions,
    /// The HTTP-version is not `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3).
    #[error("malformed HTTP-version")]
    InvalidVersion,
    /// A well-formed HTTP-version whose major version we do not speak (RFC 9110 §15.6.6).
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// A field name that is not a token, empty, or followed by whitespace before the colon
    /// (RFC 9112 §5.1), or a field line without a colon.
    #[error("invalid header field name")]
    InvalidHeaderName,
    /// A field value holding CTLs such as NUL, VT or DEL (RFC 9110 §5.5).
    #[error("invalid header field value")]
    InvalidHeaderValue,
    /// A field line starting with whitespace: obs-fold, or a whitespace-preceded first line
    /// (RFC 9112 §5.2, §2.2). We reject instead of unfolding.
    #[error("obsolete line folding")]
    ObsFold,

    // ---- Host (RFC 9112 §3.2) ----------------------------------------------------------------
    /// An HTTP/1.1 request without Host.
    #[error("missing Host header")]
    MissingHost,
    /// More than one Host field line.
    #[error("more than one Host header")]
    DuplicateHost,
    /// A Host value that is not `uri-host [ ":" port ]`.
    #[error("invalid Host header")]
    InvalidHost,

    // ---- framing (RFC 9112 §6) ---------------------------------------------------------------
    /// Content-Length is not `1*DIGIT` (or a list of them), or overflows 64 bits.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// Several Content-Length values that differ (RFC 9112 §6.3 item 5).
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Both Transfer-Encoding and Content-Length (RFC 9112 §6.1: "ought to be handled as an
    /// error"; the classic request-smuggling vector).
    #[error("both Transfer-Encoding and Content-Length")]
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: the framing is faulty).
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    /// A transfer-coding list element that is not a token with parameters.
    #[error("invalid Transfer-Encoding")]
    InvalidTransferEncoding,
    /// Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3 item 4).
    #[error("chunked is not the final transfer-coding")]
    ChunkedNotFinal,
    /// `chunked` listed more than once (RFC 9112 §6.1: a sender MUST NOT).
    #[error("chunked applied more than once")]
    ChunkedTwice,
    /// A transfer-coding other than chunked, which we do not implement (RFC 9112 §6.1: 501).
    #[error("unsupported transfer-coding")]
    UnsupportedTransferCoding,

    // ---- chunked body (RFC 9112 §7.1) --------------------------------------------------------
    /// A chunk-size line that is not `1*HEXDIG [ chunk-ext ] CRLF`.
    #[error("invalid chunk-size line")]
    InvalidChunkSize,
    /// A chunk-size that does not fit in 64 bits.
    #[error("chunk-size overflows 64 bits")]
    ChunkSizeOverflow,
    /// A chunk-size line longer than we are willing to buffer (extensions are ignored anyway).
    #[error("chunk-size line too long")]
    ChunkLineTooLong,
    /// chunk-data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    ChunkDataNotCrlf,
    /// A trailer field that must never appear in trailers (Content-Length,
    /// Transfer-Encoding, Host: RFC 9110 §6.5.1).
    #[error("forbidden field in trailers")]
    ForbiddenTrailer,

    // ---- limits ------------------------------------------------------------------------------
    /// The request-target is longer than `Limits::max_target`.
    #[error("request-target too long")]
    TargetTooLong,
    /// The head is larger than `Limits::max_head`.
    #[error("request head too large")]
    HeadTooLarge,
    /// More field lines than `Limits::max_headers`.
    #[error("too many header fields")]
    TooManyHeaders,
    /// The (decoded) body is larger than `Limits::max_body`.
    #[error("request body larger than the limit")]
    BodyTooLarge,
    /// The trailer section is larger than `Limits::max_trailer`.
    #[error("trailer section too large")]
    TrailersTooLarge,
}

impl Error {
    /// The status code to answer with before closing the connection.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::TargetTooLong => StatusCode::URI_TOO_LONG,
            Error::HeadTooLarge | Error::TooManyHeaders | Error::TrailersTooLarge => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Error::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Error::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            Error::BareCr
            | Error::BareLf
            | Error::InvalidRequestLine
            | Error::InvalidMethod
            | Error::InvalidTarget
            | Error::AsteriskWithoutOptions
            | Error::InvalidVersion
            | Error::InvalidHeaderName
            | Error::InvalidHeaderValue
            | Error::ObsFold
            | Error::MissingHost
            | Error::DuplicateHost
            | Error::InvalidHost
            | Error::InvalidContentLength
            | Error::ConflictingContentLength
            | Error::ContentLengthWithTransferEncoding
            | Error::TransferEncodingInHttp10
            | Error::InvalidTransferEncoding
            | Error::ChunkedNotFinal
            | Error::ChunkedTwice
            | Error::InvalidChunkSize
            | Error::ChunkSizeOverflow
            | Error::ChunkLineTooLong
            | Error::ChunkDataNotCrlf
            | Error::ForbiddenTrailer => StatusCode::BAD_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_unsupported_features_have_their_own_codes() {
        assert_eq!(Error::TargetTooLong.status(), 414);
        assert_eq!(Error::HeadTooLarge.status(), 431);
        assert_eq!(Error::TooManyHeaders.status(), 431);
        assert_eq!(Error::TrailersTooLarge.status(), 431);
        assert_eq!(Error::BodyTooLarge.status(), 413);
        assert_eq!(Error::UnsupportedVersion.status(), 505);
        assert_eq!(Error::UnsupportedTransferCoding.status(), 501);
        assert_eq!(Error::BareLf.status(), 400);
        assert_eq!(Error::ContentLengthWithTransferEncoding.status(), 400);
    }
}
