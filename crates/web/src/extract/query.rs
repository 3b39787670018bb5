//! `?a=1&b=two` into a `serde` type.

use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{Cx, FromRequestParts, Rejection};

/// The query string, deserialized (`application/x-www-form-urlencoded` rules: `+` is a
/// space, `%XX` are UTF-8 bytes). A missing query is the empty one; a query that does not fit
/// `T` is 400.
///
/// ```
/// use pollux_web::extract::Query;
/// #[derive(serde::Deserialize)]
/// struct Page { n: u32, q: Option<String> }
/// fn search(Query(p): Query<Page>) -> String { format!("page {} of {:?}", p.n, p.q) }
/// # let _ = search;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(Query)
            .map_err(|e| Rejection::bad_request(format!("invalid query: {e}")))
    }
}
