//! Response encoding: status line, header section and chunk framing (RFC 9112 §4, §6, §7.1).
//!
//! This runs once per response on the hot path, so it only appends to the caller's `Vec`:
//! no `format!`, no intermediate strings, numbers through `itoa`. Framing and persistence
//! headers are the encoder's job alone: a handler's own Content-Length, Transfer-Encoding
//! or Connection is dropped, so the bytes on the wire always match the chosen [`Framing`].

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

/// How the response body is delimited (RFC 9112 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No framing header, no body bytes (1xx, 204, 304, or HEAD of unknown length).
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// HTTP/1.0 peer, unknown length: the body ends when the connection closes.
    Close,
}

impl Framing {
    /// Picks the framing for a response to `method` from a `version` client, with a body of
    /// `len` octets if known (RFC 9112 §6.3, RFC 9110 §6.4.1).
    pub fn choose(method: &Method, version: Version, status: StatusCode, len: Option<u64>) -> Framing {
        // 1xx, 204 and 304 never have content, whatever the handler produced.
        if status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
        {
            return Framing::None;
        }
        match len {
            // HEAD: advertise the length a GET would have had, send no body.
            Some(n) => Framing::Length(n),
            None if *method == Method::HEAD => Framing::None,
            // An HTTP/1.0 client does not understand chunked (RFC 9112 §7.1).
            None if version == Version::HTTP_10 || version == Version::HTTP_09 => Framing::Close,
            None => Framing::Chunked,
        }
    }
}

/// Everything the status line and header section need.
#[derive(Debug)]
pub struct ResponseHead<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub framing: Framing,
    /// Send `Connection: close` (the server closes after this response).
    pub close: bool,
    /// Send `Connection: keep-alive` (an HTTP/1.0 client that asked for it).
    pub keep_alive_header: bool,
    /// An IMF-fixdate, e.g. from `httpdate`; omitted when empty.
    pub date: &'a [u8],
    /// `Server` and `Date` lines already encoded (`Server: …\r\nDate: …\r\n`), written as
    /// one copy when the handler set neither; may be empty. The caller renders it once a
    /// second (the encoder showed eight small copies per response for these two lines).
    pub server_and_date: &'a [u8],
    /// The Server value; omitted when empty.
    pub server: &'a [u8],
    /// Fields encoded ahead of time, copied in after `headers` (a cache's fixed fields).
    pub encoded: Option<&'a EncodedFields>,
    /// Field lines the server adds to every response of a connection, already encoded
    /// (`Strict-Transport-Security: …\r\n` over TLS); may be empty.
    pub extra: &'a [u8],
}

/// Field lines encoded once and copied into many response heads: the fixed fields of an
/// answer that is sent again and again (a cached file's validators and type). Copying the
/// block costs one `memcpy` where inserting the fields into a `HeaderMap` and encoding them
/// cost about 250 instructions each.
///
/// Built only from checked [`HeaderName`]s and [`HeaderValue`]s, so the block is valid field
/// lines by construction. The fields the encoder writes itself are left out: the framing and
/// persistence fields (as for `headers`), and `Server` and `Date` (a block lives longer than
/// a second; the encoder's own lines are written as usual).
///
/// ```
/// use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
/// use pollux_http1::EncodedFields;
///
/// let ct = HeaderValue::from_static("text/html");
/// let len = HeaderValue::from_static("5");
/// let block = EncodedFields::new([(&CONTENT_TYPE, &ct), (&CONTENT_LENGTH, &len)]);
/// assert_eq!(block.as_bytes(), b"Content-Type: text/html\r\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedFields {
    bytes: Vec<u8>,
}

impl EncodedFields {
    /// Encodes `fields` in order, leaving out the ones the encoder owns (see above).
    pub fn new<'f>(fields: impl IntoIterator<Item = (&'f HeaderName, &'f HeaderValue)>) -> EncodedFields {
        let mut bytes = Vec::new();
        for (name, value) in fields {
            if !encoders_own(name) && name != SERVER && name != DATE {
                field(&mut bytes, name, value.as_bytes());
            }
        }
        EncodedFields { bytes }
    }

    /// The field lines, each ending in CRLF.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The framing and persistence fields: only the encoder writes them, matching [`Framing`].
fn encoders_own(name: &HeaderName) -> bool {
    name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION
}

/// Appends the status line and header section, final CRLF included.
///
/// `Framing::Close` implies `Connection: close`, whatever `close` says: the end of the body
/// is the end of the connection.
pub fn encode_head(out: &mut Vec<u8>, head: &ResponseHead<'_>) {
    let encoded = head.encoded.map_or(&[][..], EncodedFields::as_bytes);
    out.reserve(128 + head.date.len() + head.server.len() + 32 * head.headers.len() + encoded.len());
    if head.status == StatusCode::OK {
        // The common case in one copy instead of five.
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(head.status.as_str().as_bytes());
        out.push(b' ');
        // An unregistered code gets an empty reason-phrase, which RFC 9112 §4 allows.
        out.extend_from_slice(head.status.canonical_reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // One pass over the handler's fields, noting Server and Date on the way, instead of two
    // hash lookups per response (they showed in the profile).
    let (mut has_server, mut has_date) = (false, false);
    for (name, value) in head.headers {
        if encoders_own(name) {
            continue;
        }
        has_server |= name == SERVER;
        has_date |= name == DATE;
        field(out, name, value.as_bytes());
    }
    out.extend_from_slice(encoded);
    out.extend_from_slice(head.extra);
    if !has_server && !has_date && !head.server_and_date.is_empty() {
        out.extend_from_slice(head.server_and_date);
    } else {
        if !head.server.is_empty() && !has_server {
            line(out, b"Server", head.server);
        }
        if !head.date.is_empty() && !has_date {
            line(out, b"Date", head.date);
        }
    }
    match head.framing {
        Framing::Length(n) => {
            let mut digits = itoa::Buffer::new();
            line(out, b"Content-Length", digits.format(n).as_bytes());
        }
        Framing::Chunked => line(out, b"Transfer-Encoding", b"chunked"),
        Framing::None | Framing::Close => {}
    }
    if head.close || head.framing == Framing::Close {
        line(out, b"Connection", b"close");
    } else if head.keep_alive_header {
        line(out, b"Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

/// A handler's field line, its name in Title-Case ([`crate::name_case`]).
fn field(out: &mut Vec<u8>, name: &HeaderName, value: &[u8]) {
    crate::name_case::put_name(out, name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk: `<hex len>\r\n<data>\r\n`. Empty data appends nothing, since an empty
/// chunk would be the last-chunk.
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = data.len();
    while n > 0 {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
    }
    out.reserve(hex.len() - i + data.len() + 4);
    out.extend_from_slice(&hex[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last-chunk and an empty trailer section: `0\r\n\r\n`.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn encode(headers: &HeaderMap, framing: Framing, close: bool, keep_alive_header: bool) -> String {
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &ResponseHead {
                status: StatusCode::OK,
                headers,
                framing,
                close,
                keep_alive_header,
                date: b"Sun, 06 Nov 1994 08:49:37 GMT",
                server: b"pollux",
                server_and_date: b"",
                encoded: None,
                extra: b"",
            },
        );
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn framing_choice() {
        let ok = StatusCode::OK;
        let v11 = Version::HTTP_11;
        assert_eq!(Framing::choose(&Method::GET, v11, ok, Some(5)), Framing::Length(5));
        assert_eq!(Framing::choose(&Method::GET, v11, ok, None), Framing::Chunked);
        assert_eq!(Framing::choose(&Method::GET, Version::HTTP_10, ok, None), Framing::Close);
        assert_eq!(Framing::choose(&Method::HEAD, v11, ok, Some(5)), Framing::Length(5));
        assert_eq!(Framing::choose(&Method::HEAD, v11, ok, None), Framing::None);
        for status in [StatusCode::CONTINUE, StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
            assert_eq!(Framing::choose(&Method::GET, v11, status, Some(5)), Framing::None);
        }
    }

    #[test]
    fn head_with_length() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(
            encode(&h, Framing::Length(12), false, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: pollux\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 12\r\n\r\n"
        );
    }

    #[test]
    fn framing_and_persistence_headers_are_the_encoders() {
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("999"));
        h.insert("transfer-encoding", HeaderValue::from_static("gzip"));
        h.insert("connection", HeaderValue::from_static("upgrade"));
        h.insert("server", HeaderValue::from_static("custom"));
        h.insert("date", HeaderValue::from_static("then"));
        assert_eq!(
            encode(&h, Framing::Chunked, true, false),
            "HTTP/1.1 200 OK\r\nServer: custom\r\nDate: then\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let empty = HeaderMap::new();
        assert!(encode(&empty, Framing::None, false, true).ends_with("Connection: keep-alive\r\n\r\n"));
        assert!(encode(&empty, Framing::Close, false, true)
            .ends_with("Server: pollux\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn empty_server_is_omitted_and_odd_statuses_have_empty_reasons() {
        let h = HeaderMap::new();
        let mut out = Vec::new();
        let status = StatusCode::from_u16(599).unwrap_or(StatusCode::OK);
        encode_head(
            &mut out,
            &ResponseHead {
                status,
                headers: &h,
                framing: Framing::Length(0),
                close: false,
                keep_alive_header: false,
                date: b"d",
                server: b"",
                server_and_date: b"",
                encoded: None,
                extra: b"",
            },
        );
        assert_eq!(out, b"HTTP/1.1 599 \r\nDate: d\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        encode_chunk(&mut out, b"hello");
        encode_chunk(&mut out, b"");
        encode_chunk(&mut out, &[b'x'; 300]);
        encode_last_chunk(&mut out);
        let expected = [&b"5\r\nhello\r\n12c\r\n"[..], &[b'x'; 300], b"\r\n0\r\n\r\n"].concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn pre_encoded_server_and_date_only_when_the_handler_set_neither() {
        let encode_with = |h: &HeaderMap| {
            let mut out = Vec::new();
            encode_head(
                &mut out,
                &ResponseHead {
                    status: StatusCode::OK,
                    headers: h,
                    framing: Framing::Length(0),
                    close: false,
                    keep_alive_header: false,
                    date: b"D",
                    server: b"S",
                    server_and_date: b"Server: S\r\nDate: D\r\n",
                    encoded: None,
                    extra: b"",
                },
            );
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(
            encode_with(&HeaderMap::new()),
            "HTTP/1.1 200 OK\r\nServer: S\r\nDate: D\r\nContent-Length: 0\r\n\r\n"
        );
        let mut h = HeaderMap::new();
        h.insert(SERVER, HeaderValue::from_static("mine"));
        assert_eq!(
            encode_with(&h),
            "HTTP/1.1 200 OK\r\nServer: mine\r\nDate: D\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn encoded_fields_follow_the_maps_and_leave_out_the_encoders_own() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        let (etag, cl, server, date, te) = (v("\"x\""), v("9"), v("other"), v("then"), v("chunked"));
        let block = EncodedFields::new([
            (&http::header::ETAG, &etag),
            (&CONTENT_LENGTH, &cl),
            (&SERVER, &server),
            (&DATE, &date),
            (&TRANSFER_ENCODING, &te),
            (&CONNECTION, &te),
        ]);
        assert_eq!(block.as_bytes(), b"ETag: \"x\"\r\n");
        let mut h = HeaderMap::new();
        h.insert("x-a", v("1"));
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &ResponseHead {
                status: StatusCode::NOT_MODIFIED,
                headers: &h,
                framing: Framing::None,
                close: false,
                keep_alive_header: false,
                date: b"D",
                server: b"S",
                server_and_date: b"Server: S\r\nDate: D\r\n",
                encoded: Some(&block),
                extra: b"",
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "HTTP/1.1 304 Not Modified\r\nX-A: 1\r\nETag: \"x\"\r\nServer: S\r\nDate: D\r\n\r\n"
        );
    }
}
