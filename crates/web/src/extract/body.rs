//! The raw body, bounded by the application's body limit.

use bytes::Bytes;
use http::Request;
use pollux_server::Body;

use super::{check_limit, Cx, FromRequest, Rejection};

/// The request body as bytes; 413 above the limit ([`crate::Router::body_limit`], 2 MiB by
/// default). `Bytes` and `String` (UTF-8, else 400) extract the same way.
///
/// ```
/// use pollux_web::extract::RawBody;
/// fn size(RawBody(b): RawBody) -> String { b.len().to_string() }
/// # let _ = size;
/// ```
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

fn take(req: Request<Body>, limit: usize) -> Result<Bytes, Rejection> {
    check_limit(req.body(), limit)?;
    Ok(match req.into_body() {
        Body::Bytes(b) => b,
        _ => Bytes::new(),
    })
}

impl<S> FromRequest<S> for RawBody {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        take(req, cx.body_limit).map(RawBody)
    }
}

impl<S> FromRequest<S> for Bytes {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        take(req, cx.body_limit)
    }
}

impl<S> FromRequest<S> for String {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        let b = take(req, cx.body_limit)?;
        String::from_utf8(b.to_vec()).map_err(|_| Rejection::bad_request("the body is not UTF-8"))
    }
}
