//! [`Cors`]: cross-origin resource sharing, the server's half of the Fetch standard's CORS
//! protocol (<https://fetch.spec.whatwg.org/#http-cors-protocol>).
//!
//! ```text
//!  OPTIONS + Origin + Access-Control-Request-Method ─► preflight: 204 here, next not called
//!                                                        ACA-Origin/-Credentials/-Methods/
//!                                                        -Headers/-Max-Age if the origin is allowed
//!  any other request ─► next ─► ACA-Origin/-Credentials/-Expose-Headers if the origin is allowed
//! ```
//!
//! The browser enforces the policy; the server only states it. A request from an origin that
//! is not allowed is still answered (its response just lacks the headers, so the browser
//! withholds it from the page): CORS is no access control for non-browser clients.

use std::time::Duration;

use http::header::{
    HeaderName, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use pollux_server::{Body, ConnInfo};

use super::{vary, Middleware, Next};
use crate::response::Response;

/// A CORS policy as middleware. Build it with [`Cors::new`] (nothing allowed) or
/// [`Cors::permissive`] and the methods below.
///
/// Origins are compared exactly, byte for byte, with the browser's serialization of the page's
/// origin: `https://app.example` or `http://localhost:5173` — lowercase scheme and host, a
/// port only when not the default, no trailing slash.
///
/// Add it with [`crate::Router::layer`]: preflights are OPTIONS requests, which a route without
/// an OPTIONS handler answers before its own (`MethodRouter::layer`) middleware runs.
///
/// Caches: when every origin gets `Access-Control-Allow-Origin: *`, that header is sent on
/// every response, CORS or not, and no `Vary`; otherwise the answer depends on `Origin` and
/// every response says `Vary: Origin`, also those without the header (Fetch §3.2.5).
///
/// ```
/// use std::time::Duration;
/// use http::{Method, header};
/// use pollux_web::{Router, get, middleware::Cors};
///
/// let cors = Cors::new()
///     .allow_origin("https://app.example")
///     .allow_origin("http://localhost:5173")
///     .allow_methods([Method::GET, Method::POST, Method::DELETE])
///     .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
///     .expose_headers([header::ETAG])
///     .allow_credentials(true)
///     .max_age(Duration::from_secs(600));
/// let app: Router = Router::new().route("/api/items", get(|| "[]")).layer(cors);
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Origins,
    /// `Access-Control-Allow-Methods`, already joined.
    methods: Option<HeaderValue>,
    headers: AllowHeaders,
    credentials: bool,
    max_age: Option<Duration>,
    /// `Access-Control-Expose-Headers`, already joined.
    expose: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
enum Origins {
    /// Every origin.
    Any,
    /// Exactly these serialized origins (none at all when empty).
    List(Vec<String>),
}

#[derive(Debug, Clone)]
enum AllowHeaders {
    /// Whatever the preflight asks for (`Access-Control-Request-Headers` echoed).
    Mirror,
    /// These names, joined; `None` when empty.
    List(Option<HeaderValue>),
}

/// The methods of [`Cors::permissive`], and the CORS-safelisted ones [`Cors::new`] starts with.
const COMMON: [Method; 6] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
const SAFELISTED: [Method; 3] = [Method::GET, Method::HEAD, Method::POST];

impl Default for Cors {
    fn default() -> Self {
        Cors::new()
    }
}

impl Cors {
    /// A policy that allows no origin yet; methods GET, HEAD and POST, no extra request
    /// headers, no credentials. Add origins with [`Cors::allow_origin`].
    ///
    /// ```
    /// let cors = pollux_web::middleware::Cors::new().allow_origin("https://app.example");
    /// # let _ = cors;
    /// ```
    pub fn new() -> Cors {
        Cors {
            origins: Origins::List(Vec::new()),
            methods: join(SAFELISTED.iter().map(Method::as_str)),
            headers: AllowHeaders::List(None),
            credentials: false,
            max_age: None,
            expose: None,
        }
    }

    /// Everything allowed, for public APIs and development: any origin (`*`), GET, HEAD, POST,
    /// PUT, PATCH and DELETE, any request headers (echoed from the preflight), no credentials.
    ///
    /// ```
    /// let cors = pollux_web::middleware::Cors::permissive();
    /// # let _ = cors;
    /// ```
    pub fn permissive() -> Cors {
        Cors {
            origins: Origins::Any,
            methods: join(COMMON.iter().map(Method::as_str)),
            headers: AllowHeaders::Mirror,
            ..Cors::new()
        }
    }

    /// Allows `origin` (repeatable), compared exactly: `https://app.example`, not
    /// `https://app.example/` nor `https://APP.example`. After [`Cors::permissive`] this
    /// replaces "any origin" by the list.
    ///
    /// ```
    /// let cors = pollux_web::middleware::Cors::new()
    ///     .allow_origin("https://a.example")
    ///     .allow_origin("https://b.example");
    /// # let _ = cors;
    /// ```
    pub fn allow_origin(mut self, origin: &str) -> Cors {
        match &mut self.origins {
            Origins::List(list) => list.push(origin.to_owned()),
            Origins::Any => self.origins = Origins::List(vec![origin.to_owned()]),
        }
        self
    }

    /// Allows every origin: `*`, or the request's own origin echoed when credentials are
    /// allowed (the Fetch standard refuses `*` with credentials).
    ///
    /// ```
    /// let cors = pollux_web::middleware::Cors::new().allow_any_origin();
    /// # let _ = cors;
    /// ```
    pub fn allow_any_origin(mut self) -> Cors {
        self.origins = Origins::Any;
        self
    }

    /// The methods a preflight allows (replacing the earlier list). GET, HEAD and POST need
    /// no preflight and are allowed by browsers regardless.
    ///
    /// ```
    /// use http::Method;
    /// let cors = pollux_web::middleware::Cors::new().allow_methods([Method::GET, Method::PUT]);
    /// # let _ = cors;
    /// ```
    pub fn allow_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Cors {
        let methods: Vec<Method> = methods.into_iter().collect();
        self.methods = join(methods.iter().map(Method::as_str));
        self
    }

    /// The request headers a preflight allows (replacing the earlier list or the echoing of
    /// [`Cors::permissive`]). CORS-safelisted headers (`Accept`, `Content-Language`, simple
    /// `Content-Type`s, …) need not be listed.
    ///
    /// ```
    /// use http::header;
    /// let cors = pollux_web::middleware::Cors::new()
    ///     .allow_headers([header::CONTENT_TYPE, header::HeaderName::from_static("x-api-key")]);
    /// # let _ = cors;
    /// ```
    pub fn allow_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Cors {
        let names: Vec<HeaderName> = names.into_iter().collect();
        self.headers = AllowHeaders::List(join(names.iter().map(HeaderName::as_str)));
        self
    }

    /// Whether the page may send cookies and HTTP authentication and read the answer
    /// (`Access-Control-Allow-Credentials: true`). With credentials the allowed origin is
    /// always echoed, never `*`.
    ///
    /// ```
    /// let cors = pollux_web::middleware::Cors::new()
    ///     .allow_origin("https://app.example")
    ///     .allow_credentials(true);
    /// # let _ = cors;
    /// ```
    pub fn allow_credentials(mut self, allow: bool) -> Cors {
        self.credentials = allow;
        self
    }

    /// How long a browser may cache a preflight's answer (`Access-Control-Max-Age`, whole
    /// seconds; browsers cap it, Chromium at two hours).
    ///
    /// ```
    /// let cors = pollux_web::middleware::Cors::permissive().max_age(std::time::Duration::from_secs(3600));
    /// # let _ = cors;
    /// ```
    pub fn max_age(mut self, age: Duration) -> Cors {
        self.max_age = Some(age);
        self
    }

    /// Response headers the page's script may read besides the CORS-safelisted ones
    /// (`Cache-Control`, `Content-Language`, `Content-Length`, `Content-Type`, `Expires`,
    /// `Last-Modified`, `Pragma`).
    ///
    /// ```
    /// use http::header;
    /// let cors = pollux_web::middleware::Cors::permissive().expose_headers([header::ETAG]);
    /// # let _ = cors;
    /// ```
    pub fn expose_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Cors {
        let names: Vec<HeaderName> = names.into_iter().collect();
        self.expose = join(names.iter().map(HeaderName::as_str));
        self
    }

    /// Whether the answer depends on the request's `Origin` (then caches must know: `Vary`).
    fn varies(&self) -> bool {
        self.credentials || matches!(self.origins, Origins::List(_))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o.as_bytes() == origin.as_bytes()),
        }
    }

    /// `Access-Control-Allow-Origin` (and `-Credentials`) for a request from `origin`; `false`
    /// when nothing may be shared with it.
    fn allow_origin_headers(&self, h: &mut HeaderMap, origin: Option<&HeaderValue>) -> bool {
        if self.varies() {
            vary::add(h, "Origin");
        }
        let acao = match origin {
            _ if !self.varies() => HeaderValue::from_static("*"),
            Some(o) if self.allows(o) => o.clone(),
            _ => return false,
        };
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, acao);
        if self.credentials {
            h.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        true
    }

    /// The answer to a CORS-preflight request (Fetch §3.2.3): an ok status and, for an allowed
    /// origin, what the actual request may do.
    fn preflight(&self, req: &Request<Body>) -> Response {
        let mut resp = http::Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        if matches!(self.headers, AllowHeaders::Mirror) {
            vary::add(h, "Access-Control-Request-Headers");
        }
        if !self.allow_origin_headers(h, req.headers().get(ORIGIN)) {
            return resp;
        }
        if let Some(m) = &self.methods {
            h.insert(ACCESS_CONTROL_ALLOW_METHODS, m.clone());
        }
        let allowed_headers = match &self.headers {
            AllowHeaders::Mirror => req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS),
            AllowHeaders::List(list) => list.as_ref(),
        };
        if let Some(v) = allowed_headers {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
        }
        if let Some(age) = self.max_age {
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age.as_secs()));
        }
        resp
    }
}

impl Middleware for Cors {
    fn call(&self, req: Request<Body>, _conn: &ConnInfo, next: Next<'_>) -> Response {
        let h = req.headers();
        // Fetch §3.2.2: a preflight is an OPTIONS with `Origin` and
        // `Access-Control-Request-Method`; an OPTIONS without them is the app's to answer.
        if req.method() == Method::OPTIONS
            && h.contains_key(ORIGIN)
            && h.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return self.preflight(&req);
        }
        let origin = h.get(ORIGIN).cloned();
        let mut resp = next.run(req);
        let h = resp.headers_mut();
        if self.allow_origin_headers(h, origin.as_ref()) {
            if let Some(e) = &self.expose {
                h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
            }
        }
        resp
    }
}

/// `a, b, c` as a field value; `None` for an empty list (or a name that is no valid value,
/// which `Method` and `HeaderName` rule out).
fn join<'a>(items: impl Iterator<Item = &'a str>) -> Option<HeaderValue> {
    let s = items.collect::<Vec<_>>().join(", ");
    if s.is_empty() {
        return None;
    }
    HeaderValue::from_str(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn origins_match_exactly() {
        let c = Cors::new().allow_origin("https://a.example");
        assert!(c.allows(&origin("https://a.example")));
        for other in
            ["https://A.example", "https://a.example/", "http://a.example", "https://a.example:443", "null"]
        {
            assert!(!c.allows(&HeaderValue::from_static(other)), "{other}");
        }
        assert!(!Cors::new().allows(&origin("https://a.example")));
        assert!(Cors::permissive().allows(&origin("https://anything.example")));
    }

    #[test]
    fn star_only_without_credentials_and_list() {
        let mut h = HeaderMap::new();
        assert!(Cors::permissive().allow_origin_headers(&mut h, None));
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!h.contains_key(http::header::VARY));

        let mut h = HeaderMap::new();
        let c = Cors::permissive().allow_credentials(true);
        assert!(c.allow_origin_headers(&mut h, Some(&origin("https://x.example"))));
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://x.example");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[http::header::VARY], "Origin");
    }

    #[test]
    fn joined_lists() {
        assert_eq!(join(["GET", "PUT"].into_iter()), Some(HeaderValue::from_static("GET, PUT")));
        assert_eq!(join(std::iter::empty()), None);
    }
}
