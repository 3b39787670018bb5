//! The built-in status page every handler shares: one line of plain text (`404 Not Found`),
//! nothing to style, nothing to escape, nothing that reflects the request back.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};

use crate::Body;

/// The status line's code and reason with a newline (`404 Not Found\n`): the body of
/// [`status_page`] and of the server's own error answers. The common ones are static.
pub fn status_text(status: StatusCode) -> Bytes {
    let text: &'static str = match status {
        StatusCode::NOT_FOUND => "404 Not Found\n",
        StatusCode::FORBIDDEN => "403 Forbidden\n",
        StatusCode::METHOD_NOT_ALLOWED => "405 Method Not Allowed\n",
        StatusCode::PRECONDITION_FAILED => "412 Precondition Failed\n",
        StatusCode::RANGE_NOT_SATISFIABLE => "416 Range Not Satisfiable\n",
        StatusCode::SERVICE_UNAVAILABLE => "503 Service Unavailable\n",
        StatusCode::MOVED_PERMANENTLY => "301 Moved Permanently\n",
        _ => {
            return Bytes::from(format!("{} {}\n", status.as_u16(), status.canonical_reason().unwrap_or("")))
        }
    };
    Bytes::from_static(text.as_bytes())
}

/// A plain-text status page: `status`, `Content-Type: text/plain; charset=utf-8` and
/// [`status_text`] as the body.
///
/// ```
/// use http::StatusCode;
/// let r = pollux_server::status_page(StatusCode::NOT_FOUND);
/// assert_eq!(r.status(), StatusCode::NOT_FOUND);
/// assert!(matches!(r.body(), pollux_server::Body::Bytes(b) if &b[..] == b"404 Not Found\n"));
/// ```
pub fn status_page(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::Bytes(status_text(status)));
    *r.headers_mut() = crate::headers::take();
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_formatted_texts_agree() {
        for code in [301, 403, 404, 405, 412, 416, 503, 400, 500, 418] {
            let s = StatusCode::from_u16(code).expect("code");
            let want = format!("{} {}\n", s.as_u16(), s.canonical_reason().unwrap_or(""));
            assert_eq!(&status_text(s)[..], want.as_bytes());
        }
    }
}
