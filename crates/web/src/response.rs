//! What handlers return: anything that becomes a response.

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode};
use pollux_server::{Body, BodyStream};

/// The response type handlers produce.
pub type Response = http::Response<Body>;

pub(crate) const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// Turns a handler's return value into a response.
///
/// Implemented for text (`&'static str`, `String`: `text/plain; charset=utf-8`), [`Html`],
/// [`crate::extract::Json`], bytes (`Bytes`, `Vec<u8>`: `application/octet-stream`), `()`
/// (empty 200), [`StatusCode`], [`Redirect`], [`Stream`], [`Body`], `Response<Body>`,
/// `Result<T, E>` of two responses, and tuples that put a status and/or header parts
/// (`[(HeaderName, &str); N]`, `HeaderMap`, [`crate::extract::Cookies`]) before a body.
///
/// ```
/// use pollux_web::response::IntoResponse;
/// use http::{StatusCode, header};
///
/// fn created() -> impl IntoResponse {
///     (StatusCode::CREATED, [(header::LOCATION, "/items/7")], "created\n")
/// }
/// assert_eq!(created().into_response().status(), StatusCode::CREATED);
/// ```
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response;
}

/// Something that sets headers of a response (or its status) without being the body.
///
/// ```
/// use pollux_web::response::{IntoResponseParts, ResponseParts};
/// struct NoStore;
/// impl IntoResponseParts for NoStore {
///     fn into_response_parts(self, parts: &mut ResponseParts) {
///         parts.headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
///     }
/// }
/// ```
pub trait IntoResponseParts {
    /// Applies itself to `parts`.
    fn into_response_parts(self, parts: &mut ResponseParts);
}

/// The head of a response being built: status and headers.
#[derive(Debug)]
pub struct ResponseParts {
    /// The status.
    pub status: StatusCode,
    /// The header fields.
    pub headers: HeaderMap,
}

fn with_type(body: Body, ct: HeaderValue) -> Response {
    let mut r = http::Response::new(body);
    r.headers_mut().insert(CONTENT_TYPE, ct);
    r
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        http::Response::new(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_type(Body::from(self), TEXT_PLAIN)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_type(Body::from(self), TEXT_PLAIN)
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_type(Body::Bytes(self), OCTETS)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_type(Body::from(self), OCTETS)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        with_type(Body::from(self), OCTETS)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        http::Response::new(Body::Empty)
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

/// The status with its reason phrase as a short text body (`404 Not Found`).
impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let body = format!("{} {}\n", self.as_u16(), self.canonical_reason().unwrap_or(""));
        let mut r = with_type(Body::from(body), TEXT_PLAIN);
        *r.status_mut() = self;
        r
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// HTML text: `Content-Type: text/html; charset=utf-8`.
///
/// ```
/// use pollux_web::response::Html;
/// fn page() -> Html<&'static str> { Html("<h1>Hello</h1>") }
/// # let _ = page;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        with_type(self.0.into(), TEXT_HTML)
    }
}

/// A redirect: the status and `Location`.
///
/// ```
/// use pollux_web::response::Redirect;
/// fn old() -> Redirect { Redirect::permanent("/new") }
/// # let _ = old;
/// ```
#[derive(Debug, Clone)]
pub struct Redirect {
    status: StatusCode,
    location: HeaderValue,
}

impl Redirect {
    fn with(status: StatusCode, to: &str) -> Redirect {
        // A location that is no valid field value (a control character) is the handler's bug;
        // `/` is a safe place to send the client instead of a malformed answer.
        let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
        Redirect { status, location }
    }
    /// 301 Moved Permanently (clients may change POST to GET).
    pub fn moved(to: &str) -> Redirect {
        Redirect::with(StatusCode::MOVED_PERMANENTLY, to)
    }
    /// 302 Found (clients may change POST to GET).
    pub fn found(to: &str) -> Redirect {
        Redirect::with(StatusCode::FOUND, to)
    }
    /// 303 See Other: GET the location (the answer to a form POST).
    pub fn to(to: &str) -> Redirect {
        Redirect::with(StatusCode::SEE_OTHER, to)
    }
    /// 307 Temporary Redirect: same method, same body.
    pub fn temporary(to: &str) -> Redirect {
        Redirect::with(StatusCode::TEMPORARY_REDIRECT, to)
    }
    /// 308 Permanent Redirect: same method, same body.
    pub fn permanent(to: &str) -> Redirect {
        Redirect::with(StatusCode::PERMANENT_REDIRECT, to)
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let mut r = http::Response::new(Body::Empty);
        *r.status_mut() = self.status;
        r.headers_mut().insert(LOCATION, self.location);
        r
    }
}

/// A body produced piece by piece as the client takes it, sent chunked. The iterator runs on
/// the worker thread whenever the socket can take more, so each `next` must be quick.
///
/// ```
/// use pollux_web::response::Stream;
/// use bytes::Bytes;
/// fn count() -> Stream {
///     Stream::new((1..=3).map(|i| Bytes::from(format!("line {i}\n"))))
/// }
/// # let _ = count;
/// ```
pub struct Stream {
    body: Body,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

struct IterStream<I>(I);

impl<I: Iterator<Item = Bytes> + Send> BodyStream for IterStream<I> {
    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        self.0.next().map(Ok)
    }
}

struct TryIterStream<I>(I);

impl<I: Iterator<Item = io::Result<Bytes>> + Send> BodyStream for TryIterStream<I> {
    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        self.0.next()
    }
}

impl Stream {
    /// A stream of the iterator's pieces.
    pub fn new<I>(pieces: I) -> Stream
    where
        I: IntoIterator<Item = Bytes>,
        I::IntoIter: Send + 'static,
    {
        Stream { body: Body::Stream(Box::new(IterStream(pieces.into_iter()))) }
    }

    /// A stream that may fail part-way; an error cuts the response (the connection closes,
    /// so the client sees an incomplete chunked body, never a truncated "complete" one).
    pub fn try_new<I>(pieces: I) -> Stream
    where
        I: IntoIterator<Item = io::Result<Bytes>>,
        I::IntoIter: Send + 'static,
    {
        Stream { body: Body::Stream(Box::new(TryIterStream(pieces.into_iter()))) }
    }
}

impl IntoResponse for Stream {
    fn into_response(self) -> Response {
        with_type(self.body, OCTETS)
    }
}

// Header parts.

impl IntoResponseParts for HeaderMap {
    fn into_response_parts(self, parts: &mut ResponseParts) {
        parts.headers.extend(self);
    }
}

/// Fields given as pairs; a value that is no valid field value is skipped (it is the
/// handler's bug, and a response without it is better than none).
impl<K, V, const N: usize> IntoResponseParts for [(K, V); N]
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
{
    fn into_response_parts(self, parts: &mut ResponseParts) {
        for (k, v) in self {
            if let (Ok(k), Ok(v)) = (k.try_into(), v.try_into()) {
                parts.headers.insert(k, v);
            }
        }
    }
}

fn apply(resp: Response, f: impl FnOnce(&mut ResponseParts)) -> Response {
    let (mut head, body) = resp.into_parts();
    let mut parts = ResponseParts { status: head.status, headers: std::mem::take(&mut head.headers) };
    f(&mut parts);
    head.status = parts.status;
    head.headers = parts.headers;
    http::Response::from_parts(head, body)
}

impl<R: IntoResponse> IntoResponse for (StatusCode, R) {
    fn into_response(self) -> Response {
        let mut r = self.1.into_response();
        *r.status_mut() = self.0;
        r
    }
}

macro_rules! tuples {
    ($($p:ident),+) => {
        #[allow(non_snake_case)]
        impl<$($p: IntoResponseParts,)+ R: IntoResponse> IntoResponse for ($($p,)+ R) {
            fn into_response(self) -> Response {
                let ($($p,)+ r) = self;
                apply(r.into_response(), |parts| { $($p.into_response_parts(parts);)+ })
            }
        }
        #[allow(non_snake_case)]
        impl<$($p: IntoResponseParts,)+ R: IntoResponse> IntoResponse for (StatusCode, $($p,)+ R) {
            fn into_response(self) -> Response {
                let (status, $($p,)+ r) = self;
                apply(r.into_response(), |parts| {
                    $($p.into_response_parts(parts);)+
                    parts.status = status;
                })
            }
        }
    };
}

tuples!(P1);
tuples!(P1, P2);
tuples!(P1, P2, P3);
