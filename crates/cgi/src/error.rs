//! Why a script's output cannot become a response, and the one place that says what the
//! client gets instead.
//!
//! Every variant but one means the script broke RFC 3875 §6: to the client the script is an
//! upstream server that answered nonsense, so it gets 502 Bad Gateway (RFC 9110 §15.6.3), and
//! the details go to the error log, never into the response (they may hold the script's
//! internals). Running out of output is an error only at EOF: needing more bytes is
//! `Ok(None)`.

use http::{HeaderName, StatusCode};

use crate::limits::{MAX_FIELDS, MAX_HEAD};

/// The script's output is not a CGI response (RFC 3875 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    // ---- the header block as a whole (§6.3) ------------------------------------------------
    /// The script closed its stdout without writing anything (it crashed, or wrote only to
    /// stderr).
    #[error("the script produced no output")]
    NoOutput,
    /// The output ended before the blank line that ends the header block.
    #[error("the script's output ended inside its header block")]
    UnexpectedEof,
    /// The header block (blank line included) is larger than [`MAX_HEAD`] bytes. Reported as
    /// soon as it is certain, without waiting for the end.
    #[error("the script's header block is larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// More than [`MAX_FIELDS`] field lines.
    #[error("the script sent more than {MAX_FIELDS} header fields")]
    TooManyFields,
    /// None of Content-Type, Location or Status: not one of the four responses of §6.2.
    #[error("the script's header block has no Content-Type, Location or Status")]
    NoResponseFields,

    // ---- one field line (§6.3, RFC 9112 §5) --------------------------------------------------
    /// A line starting with whitespace: obs-fold, which we reject rather than unfold (RFC 9112
    /// §5.2), as the request parser does.
    #[error("a header line starts with whitespace (obsolete line folding)")]
    ObsFold,
    /// A line with no colon; the line as it was (at most 80 bytes, escaped) to show in the log.
    #[error("a header line has no colon: \"{0}\"")]
    MissingColon(String),
    /// A field name that is not a token, is empty, or has whitespace before the colon.
    #[error("invalid header field name")]
    InvalidFieldName,
    /// A field value holding CTLs (a bare CR, NUL, DEL…), or empty where a value is needed.
    #[error("invalid value for header field {0}")]
    InvalidFieldValue(HeaderName),
    /// Status, Location, Content-Type or Content-Length more than once: which one to believe?
    #[error("header field {0} given more than once")]
    DuplicateField(HeaderName),

    // ---- the CGI fields (§6.3.1–§6.3.3) -------------------------------------------------------
    /// Status is not `3DIGIT [SP reason-phrase]` with a code from 100 to 599.
    #[error("invalid Status field")]
    InvalidStatus,
    /// A 1xx Status: a final response cannot be interim (RFC 9110 §15.2), and the client
    /// would wait for one that never comes.
    #[error("Status {0} is interim, not a final response")]
    InterimStatus(u16),
    /// A Location that is neither a URI nor a path we could re-dispatch.
    #[error("invalid Location field")]
    InvalidLocation,
    /// Content-Length is not `1*DIGIT` within 64 bits.
    #[error("invalid Content-Length field")]
    InvalidContentLength,

    // ---- the caller's mistake ------------------------------------------------------------------
    /// Output was fed to a parser that had already returned the head.
    #[error("script output fed to a parser that already finished")]
    Finished,
}

impl OutputError {
    /// The status code to answer the client with.
    pub fn status(&self) -> StatusCode {
        match self {
            // Not the script's fault: ours.
            OutputError::Finished => StatusCode::INTERNAL_SERVER_ERROR,
            OutputError::NoOutput
            | OutputError::UnexpectedEof
            | OutputError::HeadTooLarge
            | OutputError::TooManyFields
            | OutputError::NoResponseFields
            | OutputError::ObsFold
            | OutputError::MissingColon(_)
            | OutputError::InvalidFieldName
            | OutputError::InvalidFieldValue(_)
            | OutputError::DuplicateField(_)
            | OutputError::InvalidStatus
            | OutputError::InterimStatus(_)
            | OutputError::InvalidLocation
            | OutputError::InvalidContentLength => StatusCode::BAD_GATEWAY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_errors_are_502_and_misuse_is_500() {
        assert_eq!(OutputError::UnexpectedEof.status(), 502);
        assert_eq!(OutputError::InterimStatus(101).status(), 502);
        assert_eq!(OutputError::InvalidFieldValue(http::header::LOCATION).status(), 502);
        assert_eq!(OutputError::Finished.status(), 500);
    }

    #[test]
    fn messages_name_the_limits() {
        assert_eq!(
            OutputError::HeadTooLarge.to_string(),
            "the script's header block is larger than 65536 bytes"
        );
        assert_eq!(OutputError::TooManyFields.to_string(), "the script sent more than 100 header fields");
    }
}
