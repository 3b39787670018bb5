//! What the header section says about framing, persistence and Host (RFC 9112 §3.2, §6, §9.3).
//!
//! Fields are fed one at a time while the head is being turned into a `HeaderMap`, so the
//! framing-relevant ones are looked at exactly once. This is the request-smuggling boundary:
//! whenever two readings of the framing are possible we refuse the request, because some
//! other hop on the path may have chosen the other reading.

use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{HeaderName, Version};

use crate::syntax::{is_ows, is_token, is_valid_host, list_contains, list_elements, parse_decimal};
use crate::{BodyKind, Error, Limits};

/// Framing facts gathered field by field.
#[derive(Debug, Default)]
pub(crate) struct Semantics {
    hosts: u32,
    content_length: Option<u64>,
    transfer_encoding: Option<Codings>,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// The transfer-coding list, across all Transfer-Encoding lines in order (RFC 9112 §6.1).
#[derive(Debug, Default)]
struct Codings {
    count: u32,
    chunked: u32,
    other: bool,
    last_is_chunked: bool,
}

/// The verdict on a whole head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) body: BodyKind,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

impl Semantics {
    /// Takes one field line; `value` is already stripped of OWS.
    pub(crate) fn field(&mut self, name: &HeaderName, value: &[u8]) -> Result<(), Error> {
        if name == HOST {
            self.hosts += 1;
            if self.hosts > 1 {
                return Err(Error::DuplicateHost);
            }
            if !is_valid_host(value) {
                return Err(Error::InvalidHost);
            }
        } else if name == CONTENT_LENGTH {
            // RFC 9110 §8.6: a list of identical values (or repeated identical lines) MAY be
            // taken as that value; anything else is an unrecoverable framing error.
            for element in list_elements(value) {
                let n = parse_decimal(element).ok_or(Error::InvalidContentLength)?;
                match self.content_length {
                    Some(prev) if prev != n => return Err(Error::ConflictingContentLength),
                    _ => self.content_length = Some(n),
                }
            }
        } else if name == TRANSFER_ENCODING {
            let codings = self.transfer_encoding.get_or_insert_with(Codings::default);
            // Empty list elements MUST be ignored (RFC 9110 §5.6.1.2): `,chunked` is chunked.
            for element in list_elements(value).filter(|e| !e.is_empty()) {
                let is_chunked = coding_is_chunked(element)?;
                codings.count += 1;
                codings.last_is_chunked = is_chunked;
                if is_chunked {
                    codings.chunked += 1;
                } else {
                    codings.other = true;
                }
            }
        } else if name == CONNECTION {
            self.close |= list_contains(value, b"close");
            self.keep_alive |= list_contains(value, b"keep-alive");
        } else if name == EXPECT {
            self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
        }
        Ok(())
    }

    /// Decides framing and persistence once every field has been seen.
    pub(crate) fn finish(self, version: Version, limits: &Limits) -> Result<Outcome, Error> {
        let http11 = version == Version::HTTP_11;
        if http11 && self.hosts == 0 {
            return Err(Error::MissingHost);
        }
        let body = if let Some(te) = self.transfer_encoding {
            if !http11 {
                // RFC 9112 §6.1: an HTTP/1.0 hop would not understand chunked; the framing is
                // faulty and the RFC says to close after this message. We refuse it outright.
                return Err(Error::TransferEncodingInHttp10);
            }
            if te.count == 0 || !te.last_is_chunked {
                return Err(Error::ChunkedNotFinal);
            }
            if te.chunked > 1 {
                return Err(Error::ChunkedTwice);
            }
            if te.other {
                return Err(Error::UnsupportedTransferCoding);
            }
            if self.content_length.is_some() {
                return Err(Error::ContentLengthWithTransferEncoding);
            }
            BodyKind::Chunked
        } else {
            match self.content_length {
                None | Some(0) => BodyKind::Empty,
                Some(n) if n > limits.max_body => return Err(Error::BodyTooLarge),
                Some(n) => BodyKind::Length(n),
            }
        };
        // RFC 9112 §9.3: 1.1 persists unless told to close; 1.0 only when asked to keep alive.
        let keep_alive = !self.close && (http11 || self.keep_alive);
        Ok(Outcome {
            body,
            keep_alive,
            expect_continue: http11 && body != BodyKind::Empty && self.expect_continue,
        })
    }
}

/// `transfer-coding = token *( OWS ";" OWS transfer-parameter )`. Whether it is exactly
/// `chunked` (which takes no parameters), or some other well-formed coding.
fn coding_is_chunked(element: &[u8]) -> Result<bool, Error> {
    let name_end = element.iter().position(|&b| b == b';' || is_ows(b)).unwrap_or(element.len());
    let (name, params) = element.split_at(name_end);
    if !is_token(name) {
        return Err(Error::InvalidTransferEncoding);
    }
    if params.is_empty() {
        return Ok(name.eq_ignore_ascii_case(b"chunked"));
    }
    // We support no coding that takes parameters; only check the shape enough to tell a
    // malformed list (400) from an unsupported coding (501).
    if params.iter().find(|&&b| !is_ows(b)) != Some(&b';') {
        return Err(Error::InvalidTransferEncoding);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(version: Version, fields: &[(&str, &str)]) -> Result<Outcome, Error> {
        let mut s = Semantics::default();
        for (name, value) in fields {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::InvalidHeaderName)?;
            s.field(&name, crate::syntax::trim_ows(value.as_bytes()))?;
        }
        s.finish(version, &Limits::default())
    }

    fn body(fields: &[(&str, &str)]) -> Result<BodyKind, Error> {
        let mut all = vec![("host", "a")];
        all.extend_from_slice(fields);
        decide(Version::HTTP_11, &all).map(|o| o.body)
    }

    #[test]
    fn content_length() {
        assert_eq!(body(&[]), Ok(BodyKind::Empty));
        assert_eq!(body(&[("content-length", "0")]), Ok(BodyKind::Empty));
        assert_eq!(body(&[("content-length", " 42 ")]), Ok(BodyKind::Length(42)));
        assert_eq!(body(&[("content-length", "003")]), Ok(BodyKind::Length(3)));
        assert_eq!(body(&[("content-length", "5, 5")]), Ok(BodyKind::Length(5)));
        assert_eq!(body(&[("content-length", "5"), ("content-length", "5")]), Ok(BodyKind::Length(5)));
        for bad in ["-1", "+1", "-0", "0_1", "1Z", "", "4 2", "bla", "5,", "0x10", "10000000000000000000000"]
        {
            assert_eq!(body(&[("content-length", bad)]), Err(Error::InvalidContentLength), "{bad:?}");
        }
        assert_eq!(body(&[("content-length", "1, 1, 2")]), Err(Error::ConflictingContentLength));
        assert_eq!(
            body(&[("content-length", "1"), ("content-length", "0")]),
            Err(Error::ConflictingContentLength)
        );
        assert_eq!(body(&[("content-length", "16777217")]), Err(Error::BodyTooLarge));
    }

    #[test]
    fn transfer_encoding() {
        let te = |v: &str| body(&[("transfer-encoding", v)]);
        assert_eq!(te("chunked"), Ok(BodyKind::Chunked));
        assert_eq!(te("CHUNKED"), Ok(BodyKind::Chunked));
        assert_eq!(te(",chunked"), Ok(BodyKind::Chunked));
        assert_eq!(te("\tchunked "), Ok(BodyKind::Chunked));
        assert_eq!(te("gzip"), Err(Error::ChunkedNotFinal));
        assert_eq!(te("identity"), Err(Error::ChunkedNotFinal));
        assert_eq!(te("chunked, gzip"), Err(Error::ChunkedNotFinal));
        assert_eq!(te("chunked;a=b"), Err(Error::ChunkedNotFinal));
        assert_eq!(te(""), Err(Error::ChunkedNotFinal));
        assert_eq!(te("chunked, chunked"), Err(Error::ChunkedTwice));
        assert_eq!(te("gzip, chunked"), Err(Error::UnsupportedTransferCoding));
        assert_eq!(te("identity, chunked"), Err(Error::UnsupportedTransferCoding));
        assert_eq!(te("gzip;q=1, chunked"), Err(Error::UnsupportedTransferCoding));
        assert_eq!(te("\"chunked\""), Err(Error::InvalidTransferEncoding));
        assert_eq!(te("\u{a0}chunked"), Err(Error::InvalidTransferEncoding));
        assert_eq!(te("chunked x"), Err(Error::InvalidTransferEncoding));
        assert_eq!(
            body(&[("transfer-encoding", "chunked"), ("transfer-encoding", "gzip")]),
            Err(Error::ChunkedNotFinal)
        );
        assert_eq!(
            body(&[("transfer-encoding", "chunked"), ("content-length", "5")]),
            Err(Error::ContentLengthWithTransferEncoding)
        );
        let http10 = decide(Version::HTTP_10, &[("transfer-encoding", "chunked")]);
        assert_eq!(http10, Err(Error::TransferEncodingInHttp10));
    }

    #[test]
    fn host_rules() {
        assert_eq!(decide(Version::HTTP_11, &[]), Err(Error::MissingHost));
        assert!(decide(Version::HTTP_10, &[]).is_ok());
        assert_eq!(decide(Version::HTTP_10, &[("host", "a"), ("host", "a")]), Err(Error::DuplicateHost));
        assert_eq!(decide(Version::HTTP_11, &[("host", "a b")]), Err(Error::InvalidHost));
        assert!(decide(Version::HTTP_11, &[("host", "")]).is_ok());
    }

    #[test]
    fn persistence() {
        let keep = |v, fields: &[(&str, &str)]| decide(v, fields).map(|o| o.keep_alive);
        assert_eq!(keep(Version::HTTP_11, &[("host", "a")]), Ok(true));
        assert_eq!(keep(Version::HTTP_11, &[("host", "a"), ("connection", "Close")]), Ok(false));
        assert_eq!(
            keep(Version::HTTP_11, &[("host", "a"), ("connection", "close, token, keep-alive")]),
            Ok(false)
        );
        assert_eq!(keep(Version::HTTP_10, &[]), Ok(false));
        assert_eq!(keep(Version::HTTP_10, &[("connection", "Keep-Alive")]), Ok(true));
        assert_eq!(
            keep(Version::HTTP_10, &[("connection", "upgrade"), ("connection", "keep-alive")]),
            Ok(true)
        );
    }

    #[test]
    fn expect_continue_only_with_a_body_on_http11() {
        let expect = |v, fields: &[(&str, &str)]| decide(v, fields).map(|o| o.expect_continue);
        let with_body = [("host", "a"), ("expect", "100-Continue"), ("content-length", "3")];
        assert_eq!(expect(Version::HTTP_11, &with_body), Ok(true));
        assert_eq!(expect(Version::HTTP_11, &with_body[..2]), Ok(false));
        assert_eq!(expect(Version::HTTP_10, &with_body), Ok(false));
    }
}
