//! Answers that are not a file: built-in status pages, `OPTIONS`, `405`, and the mapping from
//! file-system errors to status codes.
//!
//! The built-in pages are one line of plain text (`404 Not Found`): nothing to style, nothing
//! to escape, nothing that reflects the request back.

use std::io;

use http::header::{HeaderValue, ALLOW, RETRY_AFTER};
use http::{Response, StatusCode};
use pollux_server::Body;

/// The methods a static file answers (RFC 9110 §10.2.1).
pub(crate) const ALLOWED: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

/// A small plain-text status page.
pub(crate) fn plain(status: StatusCode) -> Response<Body> {
    pollux_server::status_page(status)
}

/// A directory without index.html when nobody chose whether to list (`pollux serve` with no
/// directory named): still 404, the resource does not exist, but the newcomer reads why.
pub(crate) fn no_listing_hint() -> Response<Body> {
    let mut r = plain(StatusCode::NOT_FOUND);
    *r.body_mut() = Body::Bytes(bytes::Bytes::from_static(NO_INDEX_HINT.as_bytes()));
    r
}

/// The text of [`no_listing_hint`].
const NO_INDEX_HINT: &str = "404 Not Found: this directory has no index.html. To list directories, \
start pollux with the directory named (pollux serve .) or with --listing.\n";

/// `OPTIONS`: 204 with `Allow` (RFC 9110 §9.3.7).
pub(crate) fn options() -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = StatusCode::NO_CONTENT;
    r.headers_mut().insert(ALLOW, ALLOWED);
    r
}

/// Any other method: 405 with `Allow` (RFC 9110 §15.5.6 requires the field).
pub(crate) fn not_allowed() -> Response<Body> {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED);
    r.headers_mut().insert(ALLOW, ALLOWED);
    r
}

/// Whether a failed lookup means "no such file" (the caller's 404, fallback or custom page).
pub(crate) fn is_not_found(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
    ) || e.raw_os_error() == Some(libc::ELOOP)
}

/// The answer for any other failed `stat` or `open`: permission is 403, a descriptor shortage
/// is ours and passes (503, retry), anything else is a 500.
pub(crate) fn io_error(e: &io::Error) -> Response<Body> {
    if is_not_found(e) {
        return plain(StatusCode::NOT_FOUND);
    }
    match e.kind() {
        io::ErrorKind::PermissionDenied => plain(StatusCode::FORBIDDEN),
        _ if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
            let mut r = plain(StatusCode::SERVICE_UNAVAILABLE);
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
