//! JSON bodies in, JSON bodies out.

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, StatusCode};
use pollux_server::Body;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{check_limit, require_type, Cx, FromRequest, Rejection};
use crate::response::{IntoResponse, Response};

/// As an extractor: the body parsed as JSON into `T` — 415 unless the type is
/// `application/json` (or `…+json`), 413 above the body limit, 400 for malformed JSON, 422 for
/// JSON that does not fit `T`. As a response: `T` serialized, `Content-Type: application/json`.
///
/// ```
/// use pollux_web::extract::Json;
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Item { name: String, qty: u32 }
/// fn echo(Json(item): Json<Item>) -> Json<Item> { Json(item) }
/// # let _ = echo;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

fn is_json(essence: &str) -> bool {
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T: DeserializeOwned> FromRequest<S> for Json<T> {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        require_type(req.headers(), "application/json", is_json)?;
        check_limit(req.body(), cx.body_limit)?;
        serde_json::from_slice(req.body().as_bytes()).map(Json).map_err(|e| {
            use serde_json::error::Category;
            let status = match e.classify() {
                Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
                Category::Syntax | Category::Eof | Category::Io => StatusCode::BAD_REQUEST,
            };
            Rejection::new(status, format!("invalid JSON: {e}"))
        })
    }
}

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(v) => {
                let mut r = crate::response::new_response(Body::from(v));
                r.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
                r
            }
            // A map with non-string keys, or a failing `Serialize` impl: the handler's bug.
            Err(e) => Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, format!("JSON: {e}")).into_response(),
        }
    }
}
