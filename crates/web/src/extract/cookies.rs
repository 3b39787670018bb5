//! `Cookie` in, `Set-Cookie` out (RFC 6265), over the `cookie` crate.

use cookie::{Cookie, CookieJar};
use http::header::{COOKIE, SET_COOKIE};
use http::request::Parts;
use http::HeaderValue;

use super::{Cx, FromRequestParts, Rejection};
use crate::response::{IntoResponseParts, ResponseParts};

/// The request's cookies, and the changes to send back. Return it (in a tuple before the body)
/// to send a `Set-Cookie` for every [`Cookies::add`] and [`Cookies::remove`].
/// Malformed pairs in `Cookie` are skipped, as browsers do.
///
/// ```
/// use pollux_web::extract::Cookies;
/// use pollux_web::cookie::{Cookie, SameSite};
///
/// fn visit(cookies: Cookies) -> (Cookies, String) {
///     let n: u32 = cookies.get("visits").and_then(|c| c.value().parse().ok()).unwrap_or(0) + 1;
///     let c = Cookie::build(("visits", n.to_string())).path("/").http_only(true).same_site(SameSite::Lax);
///     (cookies.add(c), format!("visit {n}"))
/// }
/// # let _ = visit;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cookies {
    jar: CookieJar,
}

impl Cookies {
    /// The cookie named `name`, if the request (or an earlier `add`) has it.
    ///
    /// ```
    /// use pollux_web::extract::Cookies;
    /// fn theme(cookies: Cookies) -> String {
    ///     cookies.get("theme").map_or("light", |c| c.value()).to_owned()
    /// }
    /// assert_eq!(theme(Cookies::default()), "light");
    /// ```
    pub fn get(&self, name: &str) -> Option<&Cookie<'static>> {
        self.jar.get(name)
    }

    /// Every cookie: the request's, with this handler's changes applied.
    ///
    /// ```
    /// use pollux_web::extract::Cookies;
    /// use pollux_web::cookie::Cookie;
    /// let cookies = Cookies::default().add(Cookie::new("a", "1")).add(Cookie::new("b", "2"));
    /// let mut names: Vec<&str> = cookies.iter().map(|c| c.name()).collect();
    /// names.sort();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Cookie<'static>> {
        self.jar.iter()
    }

    /// Sets a cookie (sent as `Set-Cookie` with its attributes: Path, Domain, Max-Age,
    /// Expires, Secure, HttpOnly, SameSite).
    ///
    /// ```
    /// use pollux_web::extract::Cookies;
    /// use pollux_web::cookie::Cookie;
    /// use pollux_web::response::IntoResponse;
    ///
    /// let jar = Cookies::default().add(Cookie::build(("lang", "fr")).path("/").secure(true));
    /// let resp = (jar, "bonjour").into_response();
    /// assert_eq!(resp.headers()["set-cookie"], "lang=fr; Secure; Path=/");
    /// ```
    #[must_use = "return the jar in the response for the cookie to be sent"]
    // Named as in axum-extra's and cookie's jars, not `std::ops::Add`: it is no arithmetic.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, cookie: impl Into<Cookie<'static>>) -> Self {
        self.jar.add(cookie);
        self
    }

    /// Tells the client to forget a cookie (an expired `Set-Cookie`). Give the same Path and
    /// Domain it was set with.
    ///
    /// ```
    /// use pollux_web::{post, Router};
    /// use pollux_web::cookie::Cookie;
    /// use pollux_web::extract::Cookies;
    /// use pollux_server::{Body, ConnInfo, Handler, Reply};
    ///
    /// fn logout(cookies: Cookies) -> (Cookies, &'static str) {
    ///     (cookies.remove(Cookie::build("session").path("/")), "bye\n")
    /// }
    /// let app = Router::new().route("/logout", post(logout)).into_app();
    /// let req = http::Request::post("/logout").header("cookie", "session=abc123").body(Body::Empty).unwrap();
    /// let Reply::Now(resp) = app.call(req, &ConnInfo::new(([127, 0, 0, 1], 4000).into())) else {
    ///     unreachable!()
    /// };
    /// let set = resp.headers()["set-cookie"].to_str().unwrap();
    /// assert!(set.starts_with("session=; Path=/; Max-Age=0"), "{set}");
    /// ```
    #[must_use = "return the jar in the response for the removal to be sent"]
    pub fn remove(mut self, cookie: impl Into<Cookie<'static>>) -> Self {
        self.jar.remove(cookie);
        self
    }
}

impl<S> FromRequestParts<S> for Cookies {
    fn from_request_parts(parts: &Parts, _cx: &Cx<'_, S>) -> Result<Self, Rejection> {
        let mut jar = CookieJar::new();
        for line in parts.headers.get_all(COOKIE) {
            let Ok(line) = line.to_str() else { continue };
            for c in Cookie::split_parse(line).flatten() {
                jar.add_original(c.into_owned());
            }
        }
        Ok(Cookies { jar })
    }
}

impl IntoResponseParts for Cookies {
    fn into_response_parts(self, parts: &mut ResponseParts) {
        for c in self.jar.delta() {
            if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
                parts.headers.append(SET_COOKIE, v);
            }
        }
    }
}
