//! Answers whose fields were prepared once: [`PreparedFields`], sent with [`Reply::Prepared`].
//!
//! A cache that answers the same resource again and again (a static file's validators, type
//! and caching policy) would otherwise insert the same fields into a `HeaderMap` and encode
//! them for every response: about 250 instructions a field, a fifth of a cached 1 KiB file's
//! user time. Prepared, they are one copy into the response head.
//!
//! [`Reply::Prepared`]: crate::Reply::Prepared

use std::fmt;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Response, StatusCode};
use pollux_http1::EncodedFields;

use crate::{headers, Body};

/// A response's fields, encoded once for the wire and kept as pairs for whoever wants the
/// response as a `Response` (middleware, tests; see [`crate::Reply::into_response`]).
/// Cloning shares them.
///
/// `Content-Length`, `Transfer-Encoding`, `Connection`, `Server` and `Date` are the server's
/// to write and are left out.
///
/// ```
/// use http::header::{HeaderValue, CONTENT_TYPE, ETAG};
/// use http::StatusCode;
/// use pollux_server::{Body, PreparedFields, Reply};
///
/// let fields = PreparedFields::new([
///     (ETAG, HeaderValue::from_static("\"v1\"")),
///     (CONTENT_TYPE, HeaderValue::from_static("text/plain")),
/// ]);
/// let reply = Reply::Prepared { status: StatusCode::OK, fields, body: Body::from("hi\n") };
/// let resp = reply.into_response().expect("a prepared reply is a response now");
/// assert_eq!(resp.headers()[ETAG], "\"v1\"");
/// ```
#[derive(Clone)]
pub struct PreparedFields(Arc<Inner>);

struct Inner {
    encoded: EncodedFields,
    pairs: Vec<(HeaderName, HeaderValue)>,
}

impl PreparedFields {
    /// Prepares `fields`, in order.
    pub fn new(fields: impl IntoIterator<Item = (HeaderName, HeaderValue)>) -> PreparedFields {
        let pairs: Vec<_> = fields.into_iter().collect();
        let encoded = EncodedFields::new(pairs.iter().map(|(n, v)| (n, v)));
        PreparedFields(Arc::new(Inner { encoded, pairs }))
    }

    /// The fields, in order, as given.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.pairs.iter().map(|(n, v)| (n, v))
    }

    pub(crate) fn encoded(&self) -> &EncodedFields {
        &self.0.encoded
    }

    /// The response these fields describe, on a header map from this thread's pool.
    pub(crate) fn to_response(&self, status: StatusCode, body: Body) -> Response<Body> {
        let mut map = headers::take();
        for (n, v) in self.iter() {
            map.append(n.clone(), v.clone());
        }
        let mut r = Response::new(body);
        *r.status_mut() = status;
        *r.headers_mut() = map;
        r
    }
}

impl fmt::Debug for PreparedFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
