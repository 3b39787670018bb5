//! Extractors: typed pieces of a request that handlers take as arguments.
//!
//! Every argument but the last implements [`FromRequestParts`] (it reads the head); the last
//! may implement [`FromRequest`] and consume the body. A failed extraction answers with its
//! [`Rejection`] (400, 413, 415 or 422 and a one-line reason) and the handler is not called.
//!
//! Besides the types here, `http::Method`, `http::Uri`, `http::Version` and `http::HeaderMap`
//! extract from the head, `Bytes`, `String` and the whole `http::Request<Body>` from the body;
//! `Option<T>` and `Result<T, Rejection>` of a head extractor never reject.
//!
//! ```
//! use pollux_web::{post, Router};
//! use pollux_web::extract::{ClientAddr, Json, Path, Query};
//! use pollux_server::{Body, ConnInfo, Handler, Reply};
//! use http::{header::CONTENT_TYPE, Request, StatusCode};
//!
//! #[derive(serde::Deserialize)]
//! struct Paging { page: Option<u32> }
//! #[derive(serde::Deserialize)]
//! struct Vote { up: bool }
//!
//! // Head extractors first, the body extractor (here `Json`) last.
//! fn vote(
//!     Path(id): Path<u64>,
//!     Query(p): Query<Paging>,
//!     ClientAddr(from): ClientAddr,
//!     Json(v): Json<Vote>,
//! ) -> String {
//!     format!("{} on post {id} (page {}) from {}", if v.up { "+1" } else { "-1" }, p.page.unwrap_or(1), from.ip())
//! }
//! let app = Router::new().route("/posts/{id}/vote", post(vote)).into_app();
//! let conn = ConnInfo::new(([192, 0, 2, 1], 50000).into());
//! let call = |req| match app.call(req, &conn) { Reply::Now(r) => r, _ => unreachable!() };
//!
//! let req = Request::post("/posts/7/vote?page=2")
//!     .header(CONTENT_TYPE, "application/json")
//!     .body(Body::from(r#"{"up": true}"#))
//!     .unwrap();
//! assert_eq!(call(req).body().as_bytes(), b"+1 on post 7 (page 2) from 192.0.2.1");
//!
//! // A failed extraction answers for the handler.
//! let req = Request::post("/posts/seven/vote").body(Body::Empty).unwrap();
//! assert_eq!(call(req).status(), StatusCode::BAD_REQUEST);
//! let req = Request::post("/posts/7/vote").body(Body::from("up")).unwrap(); // no JSON type
//! assert_eq!(call(req).status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
//! ```

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
pub use parts::{ClientAddr, State, Tls};
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
/// parameters, the application state and the body limit. The router makes it; extractors
/// read its public fields.
///
/// ```
/// use std::sync::Arc;
/// use pollux_web::extract::{Cx, FromRequestParts, Rejection};
/// use http::{request::Parts, StatusCode};
///
/// struct Config { admins: Vec<std::net::IpAddr> }
///
/// /// Only for requests from an admin's address; 403 otherwise.
/// struct Admin;
/// impl FromRequestParts<Arc<Config>> for Admin {
///     fn from_request_parts(_parts: &Parts, cx: &Cx<'_, Arc<Config>>) -> Result<Self, Rejection> {
///         if cx.state.admins.contains(&cx.conn.peer.ip()) {
///             Ok(Admin)
///         } else {
///             Err(Rejection::new(StatusCode::FORBIDDEN, "admins only"))
///         }
///     }
/// }
/// fn purge(_: Admin) -> &'static str { "purged" }
/// let app = pollux_web::Router::new()
///     .route("/purge", pollux_web::post(purge))
///     .with_state(Arc::new(Config { admins: vec![[127, 0, 0, 1].into()] }));
/// # let _ = app;
/// ```
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

/// Why an extractor refused a request: a status and a short reason, sent as plain text
/// unless a layer answers it otherwise.
///
/// Handlers may return it too: `Result<T, Rejection>` is a response.
///
/// ```
/// use pollux_web::extract::{Path, Rejection};
/// use pollux_web::response::IntoResponse;
/// use http::StatusCode;
///
/// fn item(Path(id): Path<u32>) -> Result<String, Rejection> {
///     if id == 0 {
///         return Err(Rejection::new(StatusCode::NOT_FOUND, "there is no item 0"));
///     }
///     Ok(format!("item {id}"))
/// }
/// # let _ = item;
/// let resp = Rejection::new(StatusCode::NOT_FOUND, "there is no item 0").into_response();
/// assert_eq!(resp.status(), StatusCode::NOT_FOUND);
/// assert_eq!(resp.body().as_bytes(), b"404 Not Found: there is no item 0\n");
/// ```
///
/// The response carries the rejection in its extensions, so a layer can answer in another
/// form — JSON for an API, say — for every extractor of the routes it wraps at once (what
/// axum users write a custom rejection for):
///
/// ```
/// use pollux_web::extract::{Json, Rejection};
/// use pollux_web::middleware::from_fn;
/// use pollux_web::response::IntoResponse;
/// use pollux_web::{post, Router};
/// # use pollux_server::{Body, ConnInfo, Handler as _, Reply};
///
/// let json_errors = from_fn(|req, next| {
///     let resp = next.run(req);
///     match resp.extensions().get::<Rejection>() {
///         Some(r) => (r.status(), Json(serde_json::json!({ "error": r.reason() }))).into_response(),
///         None => resp,
///     }
/// });
/// let api = Router::new()
///     .route("/echo", post(|Json(v): Json<serde_json::Value>| Json(v)))
///     .layer(json_errors)
///     .into_app();
///
/// let req = http::Request::post("/echo").body(Body::from("{}")).unwrap(); // no JSON type
/// let Reply::Now(resp) = api.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) else {
///     unreachable!()
/// };
/// assert_eq!(resp.status(), 415);
/// assert_eq!(resp.headers()["content-type"], "application/json");
/// assert!(resp.body().as_bytes().starts_with(br#"{"error":"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    reason: Cow<'static, str>,
}

impl Rejection {
    /// A rejection with `status` and `reason` (one line, shown to the client).
    ///
    /// ```
    /// use pollux_web::extract::Rejection;
    /// let r = Rejection::new(http::StatusCode::FORBIDDEN, format!("user {} may not", 7));
    /// assert_eq!(r.to_string(), "403 Forbidden: user 7 may not");
    /// ```
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection { status, reason: reason.into() }
    }

    /// The status sent.
    ///
    /// ```
    /// use pollux_web::extract::Rejection;
    /// let r = Rejection::new(http::StatusCode::BAD_REQUEST, "no user agent");
    /// assert_eq!(r.status(), http::StatusCode::BAD_REQUEST);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason sent.
    ///
    /// ```
    /// use pollux_web::extract::Rejection;
    /// let r = Rejection::new(http::StatusCode::BAD_REQUEST, "no user agent");
    /// assert_eq!(r.reason(), "no user agent");
    /// ```
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
        let mut r = crate::response::new_response(Body::from(format!("{self}\n")));
        *r.status_mut() = self.status;
        r.headers_mut().insert(http::header::CONTENT_TYPE, crate::response::TEXT_PLAIN);
        // For layers that answer rejections in their own form (see the type's docs).
        r.extensions_mut().insert(self);
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
    /// Extracts `Self` from the head, or says why not. The router calls it for each handler
    /// argument; implement it as in the trait's example.
    ///
    /// ```
    /// use pollux_web::extract::{Cx, FromRequestParts, Rejection};
    /// use http::request::Parts;
    ///
    /// /// The request's path, as the client sent it.
    /// struct RawPath(String);
    /// impl<S> FromRequestParts<S> for RawPath {
    ///     fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
    ///         Ok(RawPath(parts.uri.path().to_owned()))
    ///     }
    /// }
    /// ```
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
    /// Extracts `Self` from the whole request, or says why not. The router calls it for a
    /// handler's last argument; implement it as in the trait's example.
    ///
    /// ```
    /// use pollux_web::extract::{Cx, FromRequest, Rejection};
    /// use pollux_server::Body;
    /// use http::{Request, StatusCode};
    ///
    /// /// A body of lines, at most 100 of them.
    /// struct Lines(Vec<String>);
    /// impl<S> FromRequest<S> for Lines {
    ///     fn from_request(req: Request<Body>, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
    ///         let text = std::str::from_utf8(req.body().as_bytes())
    ///             .map_err(|_| Rejection::new(StatusCode::BAD_REQUEST, "not UTF-8"))?;
    ///         let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    ///         if lines.len() > 100 {
    ///             return Err(Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "over 100 lines"));
    ///         }
    ///         Ok(Lines(lines))
    ///     }
    /// }
    /// ```
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection>;
}

/// Markers that keep the two blanket impls apart. Handlers never name them; generic code
/// that takes "any extractor" does.
///
/// ```
/// use pollux_web::extract::{FromRequest, Json, Path};
/// use pollux_web::extract::private::{ViaParts, ViaRequest};
///
/// fn body_extractor<T: FromRequest<(), ViaRequest>>() {}
/// fn head_extractor<T: FromRequest<(), ViaParts>>() {}
/// body_extractor::<Json<serde_json::Value>>();
/// head_extractor::<Path<u64>>();
/// ```
pub mod private {
    /// The extractor implements [`super::FromRequest`] itself: it may read the body.
    ///
    /// ```
    /// use pollux_web::extract::{private::ViaRequest, FromRequest, RawBody};
    /// fn takes_body<T: FromRequest<(), ViaRequest>>() {}
    /// takes_body::<RawBody>();
    /// ```
    #[derive(Debug)]
    pub enum ViaRequest {}
    /// The extractor implements [`super::FromRequestParts`]: it reads only the head.
    ///
    /// ```
    /// use pollux_web::extract::{private::ViaParts, FromRequest, Query};
    /// fn head_only<T: FromRequest<(), ViaParts>>() {}
    /// head_only::<Query<std::collections::HashMap<String, String>>>();
    /// ```
    #[derive(Debug)]
    pub enum ViaParts {}
}

impl<S, T: FromRequestParts<S>> FromRequest<S, private::ViaParts> for T {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        let (parts, _body) = req.into_parts();
        let extracted = T::from_request_parts(&parts, cx);
        // The request's fields are done with: their map becomes the response's.
        pollux_server::headers::give(parts.headers);
        extracted
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
