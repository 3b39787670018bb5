//! Response encoding.
// STUB: signatures only.

use http::{HeaderMap, Method, StatusCode, Version};

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
    pub fn choose(method: &Method, version: Version, status: StatusCode, len: Option<u64>) -> Framing {
        let _ = (method, version, status);
        match len {
            Some(n) => Framing::Length(n),
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
    pub close: bool,
    pub keep_alive_header: bool,
    pub date: &'a [u8],
    pub server: &'a [u8],
}

pub fn encode_head(out: &mut Vec<u8>, head: &ResponseHead<'_>) {
    let _ = (out, head);
}
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    let _ = (out, data);
}
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    let _ = out;
}
