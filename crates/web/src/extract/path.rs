//! Route parameters (`/users/{id}`, `/static/{*rest}`) into a `serde` type.

use http::request::Parts;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use super::de::PathDeserializer;
use super::{Cx, FromRequestParts, Rejection};

/// The matched route's parameters, percent-decoded (UTF-8, else 400) and deserialized: one
/// parameter into a plain value (`Path<u64>`), several into a tuple (in route order) or a
/// struct (by name). A value that does not parse is 400.
///
/// ```
/// use pollux_web::extract::Path;
/// // route "/users/{id}/posts/{slug}"
/// fn post(Path((id, slug)): Path<(u64, String)>) -> String { format!("{id}: {slug}") }
/// # let _ = post;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S, T: DeserializeOwned> FromRequestParts<S> for Path<T> {
    fn from_request_parts(parts: &Parts, cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        let path = parts.uri.path();
        let mut pairs = Vec::with_capacity(cx.params.pairs.len());
        for (name, range) in &cx.params.pairs {
            let raw = path.get(range.clone()).unwrap_or("");
            let value = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| Rejection::bad_request(format!("path parameter {name} is not UTF-8")))?;
            pairs.push((*name, value));
        }
        T::deserialize(PathDeserializer::new(&pairs))
            .map(Path)
            .map_err(|e| Rejection::bad_request(format!("invalid path parameter: {e}")))
    }
}
