//! Plain functions as handlers: each argument an extractor, the result anything that
//! becomes a response.

use http::Request;
use pollux_server::Body;

use crate::extract::{Cx, FromRequest, FromRequestParts};
use crate::response::{IntoResponse, Response};

/// A function usable as a route's handler. Implemented for `Fn(T1, …, Tn) -> R` with up to
/// eight arguments, where `T1…Tn-1` are [`FromRequestParts`] extractors, `Tn` is a
/// [`FromRequest`] extractor (it may consume the body), and `R` is [`IntoResponse`]. `T` is
/// a marker that tells the impls apart; you never name it.
///
/// ```
/// use pollux_web::{Router, get, post};
/// use pollux_web::extract::{Path, Json};
///
/// fn hello() -> &'static str { "Hello World" }
/// fn user(Path(id): Path<u64>) -> String { format!("user {id}") }
/// fn create(Json(v): Json<serde_json::Value>) -> Json<serde_json::Value> { Json(v) }
///
/// let app = Router::new()
///     .route("/", get(hello))
///     .route("/users/{id}", get(user))
///     .route("/users", post(create))
///     .into_app();
/// # let _ = app;
/// ```
pub trait Handler<T, S>: Clone + Send + Sync + Sized + 'static {
    /// Extracts the arguments and calls the function; a failed extraction answers with its
    /// rejection instead. The router calls it; code that takes handlers only names the trait.
    ///
    /// ```
    /// use pollux_web::{get, Handler, MethodRouter, Router};
    ///
    /// /// A GET route whose handler runs on the blocking pool.
    /// fn slow_get<H: Handler<T, ()>, T>(handler: H) -> MethodRouter {
    ///     get(handler).blocking()
    /// }
    /// let app = Router::new().route("/report", slow_get(|| "report")).into_app();
    /// # let _ = app;
    /// ```
    fn call(&self, req: Request<Body>, cx: &Cx<'_, S>) -> Response;
}

impl<F, R, S> Handler<((),), S> for F
where
    F: Fn() -> R + Clone + Send + Sync + 'static,
    R: IntoResponse,
{
    fn call(&self, req: Request<Body>, _cx: &Cx<'_, S>) -> Response {
        // No extractor wants the request: its field map becomes the response's.
        pollux_server::headers::give(req.into_parts().0.headers);
        self().into_response()
    }
}

macro_rules! handler {
    ($($t:ident),* ; $last:ident) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, R, S, M, $($t,)* $last> Handler<(M, $($t,)* $last,), S> for F
        where
            F: Fn($($t,)* $last) -> R + Clone + Send + Sync + 'static,
            R: IntoResponse,
            $($t: FromRequestParts<S>,)*
            $last: FromRequest<S, M>,
        {
            fn call(&self, req: Request<Body>, cx: &Cx<'_, S>) -> Response {
                let (parts, body) = req.into_parts();
                $(
                    let $t = match $t::from_request_parts(&parts, cx) {
                        Ok(v) => v,
                        Err(rej) => return rej.into_response(),
                    };
                )*
                let $last = match $last::from_request(Request::from_parts(parts, body), cx) {
                    Ok(v) => v,
                    Err(rej) => return rej.into_response(),
                };
                self($($t,)* $last).into_response()
            }
        }
    };
}

handler!(; T1);
handler!(T1; T2);
handler!(T1, T2; T3);
handler!(T1, T2, T3; T4);
handler!(T1, T2, T3, T4; T5);
handler!(T1, T2, T3, T4, T5; T6);
handler!(T1, T2, T3, T4, T5, T6; T7);
handler!(T1, T2, T3, T4, T5, T6, T7; T8);

/// A handler with its types erased, as the router stores it.
pub(crate) type Endpoint<S> = std::sync::Arc<dyn Fn(Request<Body>, &Cx<'_, S>) -> Response + Send + Sync>;

pub(crate) fn erase<H: Handler<T, S>, T, S: 'static>(h: H) -> Endpoint<S> {
    std::sync::Arc::new(move |req, cx| h.call(req, cx))
}
