//! What a script's header block means (RFC 3875 §6.2, §6.3), one field line at a time.
//!
//! ```text
//!   Location: /path?q  and no Status ───────────────► LocalRedirect   (§6.2.2: re-dispatch)
//!   Location: anything else ─┬─ no Content-Type ────► ClientRedirect  (§6.2.3: Status or 302)
//!                            └─ Content-Type ───────► ClientRedirectWithDocument (§6.2.4)
//!   no Location, Content-Type and/or Status ────────► Document        (§6.2.1: Status or 200)
//!   none of the three ──────────────────────────────► NoResponseFields (502)
//! ```
//!
//! We are a little more lenient than the grammar of §6.2, the way Apache is: a local
//! redirect's other fields and body are ignored rather than refused (the re-dispatched
//! request produces the response, so they have nowhere to go), and a client redirect needs
//! neither an absolute URI nor, with a document, a Status. A `Location: /path` together with a
//! Status is a client redirect to a relative reference (RFC 9110 §10.2.2 allows them): that is
//! what `header("Location: /x")` in PHP produces.
//!
//! §6.3.1 says a body needs a Content-Type, but whether a body follows is only known later;
//! a response with a Status and no Content-Type is accepted, and if a body does follow it is
//! sent without a Content-Type: §6.3.1 says the server SHOULD NOT guess one.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::StatusCode;

use crate::limits::MAX_FIELDS;
use crate::OutputError;

/// What the script answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgiResponse {
    /// A response for the client (§6.2.1, §6.2.3, §6.2.4).
    Response(Response),
    /// §6.2.2: answer as if the request had been for this path and query instead. The
    /// script's other fields and any body are discarded. Apache re-dispatches as a GET
    /// without the request body and gives up after 10 redirects in a row; a script that
    /// redirects to itself must not loop the server.
    LocalRedirect(PathAndQuery),
}

/// A response for the client: the status line and fields, the body being whatever the script
/// writes after the header block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// Which of the §6.2 responses this is (for logs and tests; all are sent alike).
    pub kind: ResponseKind,
    /// From Status, else 200 for a document and 302 for a redirect.
    pub status: StatusCode,
    /// Status's reason-phrase, if it had one (not UTF-8 → lossily converted). The encoder
    /// sends the canonical phrase; this is for logs.
    pub reason: Option<String>,
    /// Every field to send, Content-Type and Location included. Status, Content-Length and
    /// the connection's own fields (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
    /// Transfer-Encoding, Upgrade) are not: framing and persistence are the server's.
    pub headers: HeaderMap,
    /// The script's Content-Length, if it sent one. The server may use it to frame the
    /// response, but must then hold the script to it (cut the body there; close the
    /// connection if the script ends early).
    pub content_length: Option<u64>,
}

/// The kinds of response of RFC 3875 §6.2 that reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseKind {
    /// §6.2.1 document response.
    Document,
    /// §6.2.3 client redirect response.
    ClientRedirect,
    /// §6.2.4 client redirect response with document.
    ClientRedirectWithDocument,
}

/// The field lines seen so far.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    count: usize,
    status: Option<(StatusCode, Option<String>)>,
    location: Option<HeaderValue>,
    content_type: Option<HeaderValue>,
    content_length: Option<u64>,
    headers: HeaderMap,
}

impl Fields {
    /// One field line, without its line ending (never empty: the empty line ends the block).
    pub(crate) fn line(&mut self, line: &[u8]) -> Result<(), OutputError> {
        self.count += 1;
        if self.count > MAX_FIELDS {
            return Err(OutputError::TooManyFields);
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(OutputError::ObsFold);
        }
        let colon =
            line.iter().position(|&b| b == b':').ok_or_else(|| OutputError::MissingColon(shown(line)))?;
        let (name, value) = line.split_at(colon);
        // Case-insensitive (lower-cased here); rejects empty names and whitespace before the
        // colon, which are not token characters.
        let name = HeaderName::from_bytes(name).map_err(|_| OutputError::InvalidFieldName)?;
        let value = trim_ows(value.get(1..).unwrap_or_default());
        let value =
            HeaderValue::from_bytes(value).map_err(|_| OutputError::InvalidFieldValue(name.clone()))?;
        match name.as_str() {
            "status" => {
                let status = parse_status(value.as_bytes())?;
                once(&mut self.status, status, name)
            }
            "location" => {
                if value.is_empty() {
                    return Err(OutputError::InvalidLocation);
                }
                once(&mut self.location, value, name)
            }
            "content-type" => {
                if value.is_empty() {
                    return Err(OutputError::InvalidFieldValue(name));
                }
                once(&mut self.content_type, value, name)
            }
            "content-length" => {
                let len = parse_length(value.as_bytes())?;
                once(&mut self.content_length, len, name)
            }
            "connection" | "keep-alive" | "proxy-connection" | "te" | "trailer" | "transfer-encoding"
            | "upgrade" => Ok(()),
            _ => {
                // Repeats are kept as separate lines (Set-Cookie must never be joined).
                self.headers.append(name, value);
                Ok(())
            }
        }
    }

    /// The response the complete header block describes.
    pub(crate) fn finish(self) -> Result<CgiResponse, OutputError> {
        let Fields { status, location, content_type, content_length, mut headers, .. } = self;
        let (status, reason) = match status {
            Some((code, reason)) => (Some(code), reason),
            None => (None, None),
        };
        let kind = match &location {
            Some(loc) if status.is_none() && is_local(loc.as_bytes()) => {
                let target =
                    PathAndQuery::try_from(loc.as_bytes()).map_err(|_| OutputError::InvalidLocation)?;
                return Ok(CgiResponse::LocalRedirect(target));
            }
            Some(_) if content_type.is_some() => ResponseKind::ClientRedirectWithDocument,
            Some(_) => ResponseKind::ClientRedirect,
            None if content_type.is_some() || status.is_some() => ResponseKind::Document,
            None => return Err(OutputError::NoResponseFields),
        };
        let default = match kind {
            ResponseKind::Document => StatusCode::OK,
            _ => StatusCode::FOUND,
        };
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, ct);
        }
        if let Some(loc) = location {
            headers.insert(header::LOCATION, loc);
        }
        Ok(CgiResponse::Response(Response {
            kind,
            status: status.unwrap_or(default),
            reason,
            headers,
            content_length,
        }))
    }
}

/// Stores the value of a field that may appear only once.
fn once<T>(slot: &mut Option<T>, value: T, name: HeaderName) -> Result<(), OutputError> {
    if slot.is_some() {
        return Err(OutputError::DuplicateField(name));
    }
    *slot = Some(value);
    Ok(())
}

/// A local-pathquery (§6.2.2): an absolute path, but not `//host/…`, which is a
/// network-path reference to another host.
fn is_local(location: &[u8]) -> bool {
    location.starts_with(b"/") && !location.starts_with(b"//")
}

/// `Status: 3DIGIT [SP reason-phrase]` (§6.3.3). A missing reason-phrase is accepted: many
/// scripts write `Status: 404`.
fn parse_status(value: &[u8]) -> Result<(StatusCode, Option<String>), OutputError> {
    let (digits, rest) = value.split_at_checked(3).ok_or(OutputError::InvalidStatus)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(OutputError::InvalidStatus);
    }
    let reason = match rest.split_first() {
        None => None,
        Some((b' ' | b'\t', phrase)) => {
            let phrase = trim_ows(phrase);
            (!phrase.is_empty()).then(|| String::from_utf8_lossy(phrase).into_owned())
        }
        Some(_) => return Err(OutputError::InvalidStatus),
    };
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match code {
        100..=199 => Err(OutputError::InterimStatus(code)),
        200..=599 => StatusCode::from_u16(code).map(|s| (s, reason)).map_err(|_| OutputError::InvalidStatus),
        _ => Err(OutputError::InvalidStatus),
    }
}

/// `1*DIGIT` as a u64 (`str::parse` alone would also take `+5`).
fn parse_length(value: &[u8]) -> Result<u64, OutputError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(OutputError::InvalidContentLength);
    }
    std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()).ok_or(OutputError::InvalidContentLength)
}

/// Strips optional whitespace (SP, HTAB) from both ends (RFC 9110 §5.6.3).
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A script's line for the log: at most 80 bytes, control and non-UTF-8 bytes escaped, so a
/// script cannot forge log lines or flood the log.
fn shown(line: &[u8]) -> String {
    const MAX: usize = 80;
    let mut out: String = line[..line.len().min(MAX)].escape_ascii().to_string();
    if line.len() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(lines: &[&[u8]]) -> Result<CgiResponse, OutputError> {
        let mut fields = Fields::default();
        for line in lines {
            fields.line(line)?;
        }
        fields.finish()
    }

    fn response(lines: &[&[u8]]) -> Response {
        match finish(lines) {
            Ok(CgiResponse::Response(r)) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn status_variants() {
        let status = |v: &[u8]| parse_status(v).map(|(s, r)| (s.as_u16(), r));
        assert_eq!(status(b"200"), Ok((200, None)));
        assert_eq!(status(b"404 Not Found"), Ok((404, Some("Not Found".into()))));
        assert_eq!(status(b"404\tNot Found"), Ok((404, Some("Not Found".into()))));
        assert_eq!(status(b"404 "), Ok((404, None)));
        assert_eq!(status(b"599 x"), Ok((599, Some("x".into()))));
        assert_eq!(status(b"418 I'm a teapot"), Ok((418, Some("I'm a teapot".into()))));
        assert_eq!(status(b"200 \xe9t\xe9"), Ok((200, Some("\u{fffd}t\u{fffd}".into()))));
        assert_eq!(status(b"100 Continue"), Err(OutputError::InterimStatus(100)));
        assert_eq!(status(b"101"), Err(OutputError::InterimStatus(101)));
        for bad in [
            &b""[..],
            b"20",
            b"2000",
            b"404Not",
            b"600",
            b"999",
            b"099",
            b"000",
            b"abc",
            b"-20",
            b"+20",
            b"2 0",
        ] {
            assert_eq!(status(bad), Err(OutputError::InvalidStatus), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(parse_length(b"0"), Ok(0));
        assert_eq!(parse_length(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b""[..], b"+5", b"-1", b"1 2", b"0x10", b"18446744073709551616"] {
            assert_eq!(parse_length(bad), Err(OutputError::InvalidContentLength));
        }
    }

    #[test]
    fn a_document_needs_content_type_or_status() {
        let r = response(&[b"Content-Type: text/html"]);
        assert_eq!((r.kind, r.status), (ResponseKind::Document, StatusCode::OK));
        assert_eq!(r.headers[header::CONTENT_TYPE], "text/html");
        let r = response(&[b"Status: 204 No Content"]);
        assert_eq!((r.kind, r.status), (ResponseKind::Document, StatusCode::NO_CONTENT));
        assert!(r.headers.is_empty());
        assert_eq!(finish(&[b"X-Only: this"]), Err(OutputError::NoResponseFields));
        assert_eq!(finish(&[]), Err(OutputError::NoResponseFields));
    }

    #[test]
    fn local_redirects() {
        let local = |lines: &[&[u8]]| match finish(lines) {
            Ok(CgiResponse::LocalRedirect(pq)) => Some(pq.as_str().to_owned()),
            _ => None,
        };
        assert_eq!(local(&[b"Location: /other/page?x=1&y"]), Some("/other/page?x=1&y".into()));
        assert_eq!(local(&[b"location:/"]), Some("/".into()));
        // Leniency: other fields (even a Content-Type) are ignored with the body.
        assert_eq!(local(&[b"X-Debug: 1", b"Location: /a", b"Content-Type: text/html"]), Some("/a".into()));
        // A path `http` cannot hold is refused, not forwarded.
        assert_eq!(finish(&[b"Location: /a b"]), Err(OutputError::InvalidLocation));
    }

    #[test]
    fn client_redirects() {
        let r = response(&[b"Location: https://example.com/x?y"]);
        assert_eq!((r.kind, r.status), (ResponseKind::ClientRedirect, StatusCode::FOUND));
        assert_eq!(r.headers[header::LOCATION], "https://example.com/x?y");
        let r = response(&[b"Status: 301 Moved", b"Location: https://example.com/"]);
        assert_eq!(
            (r.kind, r.status, r.reason.as_deref()),
            (ResponseKind::ClientRedirect, StatusCode::MOVED_PERMANENTLY, Some("Moved"))
        );
        let r = response(&[b"Location: http://e/", b"Status: 303 See Other", b"Content-Type: text/html"]);
        assert_eq!((r.kind, r.status), (ResponseKind::ClientRedirectWithDocument, StatusCode::SEE_OTHER));
        assert_eq!(r.headers.len(), 2);
        // With a Status, a path is sent to the client as it is (what PHP does).
        let r = response(&[b"Status: 302 Found", b"Location: /login"]);
        assert_eq!((r.kind, r.status), (ResponseKind::ClientRedirect, StatusCode::FOUND));
        assert_eq!(r.headers[header::LOCATION], "/login");
        // `//host` names another host: never re-dispatched as a local path.
        let r = response(&[b"Location: //evil.example/x"]);
        assert_eq!(r.kind, ResponseKind::ClientRedirect);
        assert_eq!(finish(&[b"Location:"]), Err(OutputError::InvalidLocation));
    }

    #[test]
    fn field_lines() {
        assert_eq!(
            finish(&[b"Content-Type text/html"]),
            Err(OutputError::MissingColon("Content-Type text/html".into()))
        );
        assert_eq!(finish(&[b"Content-Type : text/html"]), Err(OutputError::InvalidFieldName));
        assert_eq!(finish(&[b": x"]), Err(OutputError::InvalidFieldName));
        assert_eq!(finish(&[b"Bad\x01Name: x"]), Err(OutputError::InvalidFieldName));
        assert_eq!(finish(&[b" Content-Type: text/html"]), Err(OutputError::ObsFold));
        assert_eq!(finish(&[b"Content-Type: text/html", b"\tcontinued"]), Err(OutputError::ObsFold));
        assert_eq!(
            finish(&[b"X-A: a\x00b"]),
            Err(OutputError::InvalidFieldValue(HeaderName::from_static("x-a")))
        );
        assert_eq!(
            finish(&[b"X-A: a\rb"]),
            Err(OutputError::InvalidFieldValue(HeaderName::from_static("x-a")))
        );
        assert_eq!(finish(&[b"Content-Type:"]), Err(OutputError::InvalidFieldValue(header::CONTENT_TYPE)));
        for dup in ["Status: 200", "Location: /x", "Content-Type: a/b", "Content-Length: 1"] {
            let lines = [dup.as_bytes(), dup.as_bytes()];
            assert!(matches!(finish(&lines), Err(OutputError::DuplicateField(_))), "{dup}");
        }
        assert_eq!(finish(&[b"Status: 200", b"Content-Length: x"]), Err(OutputError::InvalidContentLength));
    }

    #[test]
    fn fields_are_passed_on_except_the_servers_own() {
        let r = response(&[
            b"CONTENT-TYPE:text/plain; charset=utf-8  ",
            b"Set-Cookie: a=1",
            b"Set-Cookie: b=2",
            b"X-Empty:",
            b"X-Latin1: caf\xe9",
            b"Connection: close",
            b"Keep-Alive: timeout=1",
            b"Proxy-Connection: close",
            b"Transfer-Encoding: chunked",
            b"TE: trailers",
            b"Trailer: X",
            b"Upgrade: h2c",
            b"Content-Length: 12",
            b"status: 201 Created",
        ]);
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.content_length, Some(12));
        assert_eq!(r.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        let cookies: Vec<_> = r.headers.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(r.headers["x-empty"], "");
        assert_eq!(r.headers["x-latin1"].as_bytes(), b"caf\xe9");
        let mut names: Vec<&str> = r.headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-type", "set-cookie", "x-empty", "x-latin1"]);
    }

    #[test]
    fn at_most_max_fields() {
        let line: &[u8] = b"X-A: 1";
        let mut lines = vec![b"Status: 200".as_slice()];
        lines.resize(MAX_FIELDS, line);
        assert!(finish(&lines).is_ok());
        lines.push(line);
        assert_eq!(finish(&lines), Err(OutputError::TooManyFields));
    }
}
