//! [`CatchPanic`]: a panicking handler becomes a 500 inside the app, where the layers outside
//! this one (access log, request id, CORS) still see and shape the answer.
//!
//! The server catches panics too (the worker lives on either way; the release profile is
//! `panic = "unwind"` for that), but there the response is built after every layer has been
//! unwound through. The panic message goes to the panic hook (stderr by default), never to the
//! client: it may name files, values or internals.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};
use pollux_server::{Body, ConnInfo};

use super::{Middleware, Next};
use crate::response::{Response, TEXT_PLAIN};

type PanicHandler = dyn Fn(&(dyn Any + Send)) -> Response + Send + Sync;

/// Turns a panic in the layers inside it or the handler into a response: by default
/// `500 Internal Server Error` with a one-line plain-text body, or what a custom function makes
/// of the panic's payload.
///
/// ```
/// use pollux_web::{Router, get, middleware::{AccessLog, CatchPanic}};
///
/// fn broken() -> &'static str { panic!("the database handle is gone") }
///
/// let app: Router = Router::new()
///     .route("/broken", get(broken))
///     .layer(CatchPanic::new())
///     .layer(AccessLog::new()); // outside: logs the 500
/// # let _ = app;
/// ```
pub struct CatchPanic {
    custom: Option<Box<PanicHandler>>,
}

impl fmt::Debug for CatchPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatchPanic").field("custom", &self.custom.is_some()).finish()
    }
}

impl Default for CatchPanic {
    fn default() -> Self {
        CatchPanic::new()
    }
}

impl CatchPanic {
    /// Answers a panic with `500 Internal Server Error\n` as `text/plain`.
    ///
    /// ```
    /// let layer = pollux_web::middleware::CatchPanic::new();
    /// # let _ = layer;
    /// ```
    pub fn new() -> CatchPanic {
        CatchPanic { custom: None }
    }

    /// Answers a panic with what `f` makes of its payload (see [`panic_message`]). A panic in
    /// `f` itself is left to the server, which answers 500.
    ///
    /// ```
    /// use std::any::Any;
    /// use pollux_web::middleware::{panic_message, CatchPanic};
    /// use pollux_web::response::{IntoResponse, Response};
    /// use http::StatusCode;
    ///
    /// fn oops(payload: &(dyn Any + Send)) -> Response {
    ///     // Log the details here; tell the client little.
    ///     eprintln!("handler panicked: {}", panic_message(payload).unwrap_or("?"));
    ///     (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
    /// }
    /// let layer = CatchPanic::custom(oops);
    /// # let _ = layer;
    /// ```
    pub fn custom<F>(f: F) -> CatchPanic
    where
        F: Fn(&(dyn Any + Send)) -> Response + Send + Sync + 'static,
    {
        CatchPanic { custom: Some(Box::new(f)) }
    }
}

impl Middleware for CatchPanic {
    fn call(&self, req: Request<Body>, _conn: &ConnInfo, next: Next<'_>) -> Response {
        // AssertUnwindSafe: what the inner chain may leave half-updated is the handler's own
        // state, which a panic taints whether or not we catch it; the server would catch it
        // one level up anyway.
        match catch_unwind(AssertUnwindSafe(|| next.run(req))) {
            Ok(resp) => resp,
            Err(payload) => match &self.custom {
                Some(f) => f(&*payload),
                None => internal_error(),
            },
        }
    }
}

fn internal_error() -> Response {
    let mut r = http::Response::new(Body::from("500 Internal Server Error\n"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.headers_mut().insert(CONTENT_TYPE, TEXT_PLAIN);
    r
}

/// The message of a panic payload, when it has one: `panic!("literal")` carries a
/// `&'static str`, `panic!("{x}")` a `String`; other payloads (`panic_any`) give `None`.
///
/// ```
/// use pollux_web::middleware::panic_message;
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
/// assert_eq!(panic_message(&*payload), Some("boom 7"));
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}
