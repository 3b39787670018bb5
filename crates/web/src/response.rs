//! What handlers return: anything that becomes a response.
//!
//! ```
//! use pollux_web::extract::Json;
//! use pollux_web::response::{Html, IntoResponse, Redirect};
//! use http::{header, StatusCode};
//!
//! fn page() -> Html<&'static str> { Html("<h1>Hello</h1>") }
//! fn api() -> Json<Vec<u32>> { Json(vec![1, 2, 3]) }
//! fn gone() -> Redirect { Redirect::permanent("/new") }
//! fn teapot() -> (StatusCode, [(header::HeaderName, &'static str); 1], &'static str) {
//!     (StatusCode::IM_A_TEAPOT, [(header::CACHE_CONTROL, "no-cache")], "short and stout\n")
//! }
//!
//! assert_eq!(page().into_response().headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
//! assert_eq!(api().into_response().body().as_bytes(), b"[1,2,3]");
//! assert_eq!(gone().into_response().headers()[header::LOCATION], "/new");
//! assert_eq!(teapot().into_response().status(), StatusCode::IM_A_TEAPOT);
//! ```

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode};
use pollux_server::{Body, BodyStream};

/// The response type handlers produce.
///
/// ```
/// use pollux_web::response::Response;
/// use pollux_server::Body;
///
/// fn no_content() -> Response {
///     let mut resp = Response::new(Body::Empty);
///     *resp.status_mut() = http::StatusCode::NO_CONTENT;
///     resp
/// }
/// assert_eq!(no_content().status(), 204);
/// ```
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
    ///
    /// ```
    /// use pollux_web::response::IntoResponse;
    /// let resp = "Hello World".into_response();
    /// assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    /// ```
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
///
/// // Before the body in a tuple, as many as three of them (after an optional status):
/// use pollux_web::response::IntoResponse;
/// let resp = (NoStore, "secret").into_response();
/// assert_eq!(resp.headers()["cache-control"], "no-store");
/// ```
pub trait IntoResponseParts {
    /// Applies itself to `parts`.
    ///
    /// ```
    /// use pollux_web::response::{IntoResponseParts, ResponseParts};
    /// use http::{header::ETAG, HeaderMap, StatusCode};
    ///
    /// let mut parts = ResponseParts { status: StatusCode::OK, headers: HeaderMap::new() };
    /// [(ETAG, "\"v1\"")].into_response_parts(&mut parts);
    /// assert_eq!(parts.headers[ETAG], "\"v1\"");
    /// ```
    fn into_response_parts(self, parts: &mut ResponseParts);
}

/// The head of a response being built: status and headers. [`IntoResponseParts`] changes it.
///
/// ```
/// use pollux_web::response::{IntoResponse, IntoResponseParts, ResponseParts};
/// use http::StatusCode;
///
/// /// Turns any answer into a `202 Accepted` with a `Location` to poll.
/// struct Queued(&'static str);
/// impl IntoResponseParts for Queued {
///     fn into_response_parts(self, parts: &mut ResponseParts) {
///         parts.status = StatusCode::ACCEPTED;
///         parts.headers.insert(http::header::LOCATION, http::HeaderValue::from_static(self.0));
///     }
/// }
/// let resp = (Queued("/jobs/42"), "queued\n").into_response();
/// assert_eq!(resp.status(), StatusCode::ACCEPTED);
/// assert_eq!(resp.headers()["location"], "/jobs/42");
/// ```
#[derive(Debug)]
pub struct ResponseParts {
    /// The status.
    pub status: StatusCode,
    /// The header fields.
    pub headers: HeaderMap,
}

/// A 200 response with `body`, its header map taken from the worker's pool
/// ([`pollux_server::headers`]): with the request's map given back by the dispatch, answering
/// allocates no header map.
pub(crate) fn new_response(body: Body) -> Response {
    let mut r = http::Response::new(body);
    *r.headers_mut() = pollux_server::headers::take();
    r
}

fn with_type(body: Body, ct: HeaderValue) -> Response {
    let mut r = new_response(body);
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
        new_response(self)
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
        new_response(Body::Empty)
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
        pollux_server::status_page(self)
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
/// use pollux_web::response::{Html, IntoResponse};
/// fn page() -> Html<&'static str> { Html("<h1>Hello</h1>") }
///
/// let resp = page().into_response();
/// assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
/// // Any body: an owned `String` made at run time too.
/// let greeting = Html(format!("<p>Hello, {}</p>", "Ada"));
/// assert_eq!(greeting.into_response().body().as_bytes(), b"<p>Hello, Ada</p>");
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
/// use pollux_web::response::{IntoResponse, Redirect};
/// use http::{header::LOCATION, StatusCode};
///
/// fn old() -> Redirect { Redirect::permanent("/new") }
/// let resp = old().into_response();
/// assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
/// assert_eq!(resp.headers()[LOCATION], "/new");
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
    ///
    /// ```
    /// use pollux_web::response::{IntoResponse, Redirect};
    /// let resp = Redirect::moved("https://new.example/").into_response();
    /// assert_eq!(resp.status(), http::StatusCode::MOVED_PERMANENTLY);
    /// assert_eq!(resp.headers()["location"], "https://new.example/");
    /// ```
    pub fn moved(to: &str) -> Redirect {
        Redirect::with(StatusCode::MOVED_PERMANENTLY, to)
    }
    /// 302 Found (clients may change POST to GET).
    ///
    /// ```
    /// use pollux_web::response::{IntoResponse, Redirect};
    /// let resp = Redirect::found("/login").into_response();
    /// assert_eq!(resp.status(), http::StatusCode::FOUND);
    /// ```
    pub fn found(to: &str) -> Redirect {
        Redirect::with(StatusCode::FOUND, to)
    }
    /// 303 See Other: GET the location (the answer to a form POST).
    ///
    /// ```
    /// use pollux_web::extract::Form;
    /// use pollux_web::response::{IntoResponse, Redirect};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Comment { text: String }
    /// fn post_comment(Form(c): Form<Comment>) -> Redirect {
    ///     // ... store c.text ...
    /// #   let _ = c.text;
    ///     Redirect::to("/comments")
    /// }
    /// # let _ = post_comment;
    /// let resp = Redirect::to("/comments").into_response();
    /// assert_eq!(resp.status(), http::StatusCode::SEE_OTHER);
    /// assert_eq!(resp.headers()["location"], "/comments");
    /// ```
    pub fn to(to: &str) -> Redirect {
        Redirect::with(StatusCode::SEE_OTHER, to)
    }
    /// 307 Temporary Redirect: same method, same body.
    ///
    /// ```
    /// use pollux_web::response::{IntoResponse, Redirect};
    /// let resp = Redirect::temporary("/v2/upload").into_response();
    /// assert_eq!(resp.status(), http::StatusCode::TEMPORARY_REDIRECT);
    /// ```
    pub fn temporary(to: &str) -> Redirect {
        Redirect::with(StatusCode::TEMPORARY_REDIRECT, to)
    }
    /// 308 Permanent Redirect: same method, same body.
    ///
    /// ```
    /// use pollux_web::response::{IntoResponse, Redirect};
    /// let resp = Redirect::permanent("/api/v2/items").into_response();
    /// assert_eq!(resp.status(), http::StatusCode::PERMANENT_REDIRECT);
    /// ```
    pub fn permanent(to: &str) -> Redirect {
        Redirect::with(StatusCode::PERMANENT_REDIRECT, to)
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let mut r = new_response(Body::Empty);
        *r.status_mut() = self.status;
        r.headers_mut().insert(LOCATION, self.location);
        r
    }
}

/// A body produced piece by piece as the client takes it, sent chunked. The iterator runs on
/// the worker thread whenever the socket can take more, so each `next` must be quick.
///
/// ```
/// use pollux_web::response::{IntoResponse, Stream};
/// use bytes::Bytes;
/// fn count() -> Stream {
///     Stream::new((1..=3).map(|i| Bytes::from(format!("line {i}\n"))))
/// }
/// let resp = count().into_response();
/// assert_eq!(resp.headers()["content-type"], "application/octet-stream");
/// assert_eq!(resp.body().len(), None); // not known in advance: sent chunked
///
/// // Another type goes in a tuple before it.
/// let csv = ([(http::header::CONTENT_TYPE, "text/csv")], count()).into_response();
/// assert_eq!(csv.headers()["content-type"], "text/csv");
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
    ///
    /// ```
    /// use pollux_web::response::Stream;
    /// let rows = Stream::new(vec![bytes::Bytes::from_static(b"a,b\n"), bytes::Bytes::from_static(b"1,2\n")]);
    /// # let _ = rows;
    /// ```
    pub fn new<I>(pieces: I) -> Stream
    where
        I: IntoIterator<Item = Bytes>,
        I::IntoIter: Send + 'static,
    {
        Stream { body: Body::Stream(Box::new(IterStream(pieces.into_iter()))) }
    }

    /// A stream that may fail part-way; an error cuts the response (the connection closes,
    /// so the client sees an incomplete chunked body, never a truncated "complete" one).
    ///
    /// ```
    /// use std::io::{BufRead, BufReader};
    /// use pollux_web::response::Stream;
    /// use bytes::Bytes;
    ///
    /// // Lines of a reader that may fail part-way (read quickly: this runs on the worker).
    /// let reader = BufReader::new(&b"first\nsecond\n"[..]);
    /// let lines = Stream::try_new(reader.lines().map(|l| l.map(|l| Bytes::from(l + "\n"))));
    /// # let _ = lines;
    /// ```
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
