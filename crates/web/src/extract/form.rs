//! `key1=value1&key2=value2` bodies (an HTML form's POST) into a `serde` type.

use http::{Request, StatusCode};
use pollux_server::Body;
use serde::de::DeserializeOwned;

use super::{check_limit, require_type, Cx, FromRequest, Rejection};

/// A urlencoded form body, percent-decoded as UTF-8 (so `name=%E4%BD%A0%E5%A5%BD` is
/// `你好`). 415 unless `Content-Type: application/x-www-form-urlencoded`, 413 above the body
/// limit, 422 when the fields do not fit `T`.
///
/// ```
/// use pollux_web::extract::Form;
/// #[derive(serde::Deserialize)]
/// struct Login { user: String, remember: Option<bool> }
/// fn login(Form(f): Form<Login>) -> String { format!("hello {}", f.user) }
/// # let _ = login;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<S, T: DeserializeOwned> FromRequest<S> for Form<T> {
    fn from_request(req: Request<Body>, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        require_type(req.headers(), "application/x-www-form-urlencoded", |t| {
            t == "application/x-www-form-urlencoded"
        })?;
        check_limit(req.body(), cx.body_limit)?;
        serde_urlencoded::from_bytes(req.body().as_bytes())
            .map(Form)
            .map_err(|e| Rejection::new(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid form: {e}")))
    }
}
