//! Extractors: typed pieces of a request that handlers take as arguments.
//!
//! Every argument but the last implements [`FromRequestParts`] (it reads the head); the last
//! may implement [`FromRequest`] and consume the body. A failed extraction answers with its
//! [`Rejection`] (400, 413, 415 or 422 and a one-line reason) and the handler is not called.

mod body;
mod cookies;
mod de;
mod form;
mod json;
mod parts;
mod path;
mod query;

pub use body::RawBody;
pub use cookies::Cookies;
pub use form::Form;
pub use json::Json;
pub use parts::{ClientAddr, State};
pub use path::Path;
pub use query::Query;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use http::request::Parts;
use http::{Request, StatusCode};
use pollux_server::{Body, ConnInfo};

use crate::response::{IntoResponse, Response};

/// What an extractor sees besides the request: the connection, the matched route's
/// parameters, the application state and the body limit.
#[derive(Debug)]
pub struct Cx<'a, S> {
    /// The application state given to [`crate::Router::with_state`].
    pub state: &'a S,
    /// The connection the request came on.
    pub conn: &'a ConnInfo,
    pub(crate) params: Params<'a>,
    pub(crate) body_limit: usize,
}

/// Path parameters of the matched route: names from the route table, values as byte ranges
/// of the request path (decoded only when extracted; a route without parameters allocates
/// nothing).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params<'a> {
    pub(crate) pairs: Vec<(&'a str, Range<usize>)>,
}

/// Why an extractor refused a request: a status and a short reason, sent as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    reason: Cow<'static, str>,
}

impl Rejection {
    /// A rejection with `status` and `reason` (one line, shown to the client).
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection { status, reason: reason.into() }
    }

    /// The status sent.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn bad_request(reason: impl fmt::Display) -> Rejection {
        Rejection::new(StatusCode::BAD_REQUEST, reason.to_string())
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.reason
        )
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut r = http::Response::new(Body::from(format!("{self}\n")));
        *r.status_mut() = self.status;
        r.headers_mut().insert(http::header::CONTENT_TYPE, crate::response::TEXT_PLAIN);
        r
    }
}

/// An extractor that reads only the request head. It can be any argument of a handler.
///
/// ```
/// use pollux_web::extract::{Cx, FromRequestParts, Rejection};
/// use http::request::Parts;
///
/// /// The `User-Agent`, or 400.
/// struct UserAgent(String);
///
/// impl<S> FromRequestParts<S> for UserAgent {
///     fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
///         parts.headers.get("user-agent")
///             .and_then(|v| v.to_str().ok())
///             .map(|s| UserAgent(s.to_owned()))
///             .ok_or_else(|| Rejection::new(http::StatusCode::BAD_REQUEST, "no user agent"))
///     }
/// }
/// ```
pub trait FromRequestParts<S>: Sized {
    /// Extracts `Self` from the head, or says why not.
    fn from_request_parts(parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection>;
}

/// An extractor that may consume the body: only the last argument of a handler. `M` tells
/// apart body extractors from head extractors (which are body extractors too).
///
/// ```
/// use pollux_web::extract::{Cx, FromRequest, Rejection};
/// use pollux_server::Body;
/// use http::Request;
///
/// /// The body's length.
/// struct Length(usize);
///
/// impl<S> FromRequest<S> for Length {
///     fn from_request(req: Request<Body>, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
///         Ok(Length(req.body().as_bytes().len()))
///     }
/// }
/// ```
pub trait FromRequest<S, M = private::ViaRequest>: Sized {
    /// Extracts `Self` from the whole request, or says why not.
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection>;
}

/// Markers that keep the two blanket impls apart.
pub mod private {
    /// The extractor implements [`super::FromRequest`] itself.
    #[derive(Debug)]
    pub enum ViaRequest {}
    /// The extractor implements [`super::FromRequestParts`].
    #[derive(Debug)]
    pub enum ViaParts {}
}

impl<S, T: FromRequestParts<S>> FromRequest<S, private::ViaParts> for T {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        let (parts, _body) = req.into_parts();
        T::from_request_parts(&parts, cx)
    }
}

impl<S> FromRequest<S> for Request<Body> {
    fn from_request(req: Request<Body>, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(req)
    }
}

impl<S, T: FromRequestParts<S>> FromRequestParts<S> for Option<T> {
    fn from_request_parts(parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(T::from_request_parts(parts, cx).ok())
    }
}

impl<S, T: FromRequestParts<S>> FromRequestParts<S> for Result<T, Rejection> {
    fn from_request_parts(parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(T::from_request_parts(parts, cx))
    }
}

impl<S> FromRequestParts<S> for http::Method {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(parts.method.clone())
    }
}

impl<S> FromRequestParts<S> for http::Uri {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(parts.uri.clone())
    }
}

impl<S> FromRequestParts<S> for http::Version {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(parts.version)
    }
}

/// All request fields (a copy: take it only when you need many of them).
impl<S> FromRequestParts<S> for http::HeaderMap {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        Ok(parts.headers.clone())
    }
}

/// Wrong `Content-Type` for a body extractor.
pub(crate) fn require_type(
    parts_headers: &http::HeaderMap,
    what: &'static str,
    ok: fn(&str) -> bool,
) -> Result<(), Rejection> {
    let ct = parts_headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ok(&essence) {
        Ok(())
    } else {
        Err(Rejection::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("expected Content-Type: {what}")))
    }
}

/// A body over the application's limit.
pub(crate) fn check_limit(body: &Body, limit: usize) -> Result<(), Rejection> {
    if body.as_bytes().len() > limit {
        return Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        ));
    }
    Ok(())
}
