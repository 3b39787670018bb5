//! The parsed request head and the limits that bound it.

use http::{HeaderMap, Method, Uri, Version};

/// Size limits. Each has its own status code when exceeded (see [`crate::Error::status`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request-target, in bytes (414 beyond it). RFC 9112 §3 recommends at least 8000.
    pub max_target: usize,
    /// Largest request head (request line + fields + final CRLF), in bytes (431 beyond it).
    pub max_head: usize,
    /// Most header fields in one head (431 beyond it).
    pub max_headers: usize,
    /// Largest request body, decoded, in bytes (413 beyond it).
    pub max_body: u64,
    /// Largest chunked trailer section, in bytes (431 beyond it).
    pub max_trailer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_target: 8192,
            max_head: 32 * 1024,
            max_headers: 100,
            max_body: 16 * 1024 * 1024,
            max_trailer: 8192,
        }
    }
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body: no Content-Length and no Transfer-Encoding, or `Content-Length: 0`.
    Empty,
    /// `Content-Length: n`, n > 0.
    Length(u64),
    /// `Transfer-Encoding: chunked` (as the final coding).
    Chunked,
}

/// A request head, validated: framing is unambiguous and `Host` rules hold.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    /// origin-form, absolute-form, authority-form (CONNECT) or `*` (OPTIONS).
    pub uri: Uri,
    /// `HTTP_10` or `HTTP_11`.
    pub version: Version,
    pub headers: HeaderMap,
    pub body: BodyKind,
    /// Whether the connection may stay open after this exchange (RFC 9112 §9.3):
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent on an HTTP/1.1 request with a body.
    pub expect_continue: bool,
}
