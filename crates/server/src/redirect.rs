//! `--redirect-http`: a plain listener whose every answer is `308 Permanent Redirect` to the
//! same URL over HTTPS, as nginx's `return 308 https://$host$request_uri` gives. 308 rather
//! than 301: the method and body are kept on the way (RFC 9110 §15.4.9).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode};

use crate::{Body, Reply};

/// The redirect for `req` to the HTTPS server on `port` (left out of the URL when 443).
pub(crate) fn to_https(req: &Request<Body>, port: u16) -> Reply {
    let host =
        req.uri().host().map(str::as_bytes).or_else(|| req.headers().get(HOST).map(HeaderValue::as_bytes));
    let Some(host) = host.and_then(host_only) else {
        return answer(StatusCode::BAD_REQUEST, None, "a redirect to HTTPS needs the Host header\n");
    };
    let mut url = Vec::with_capacity(host.len() + 64);
    url.extend_from_slice(b"https://");
    url.extend_from_slice(host);
    if port != 443 {
        url.push(b':');
        url.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    }
    url.extend_from_slice(req.uri().path_and_query().map_or("/", |p| p.as_str()).as_bytes());
    match HeaderValue::from_bytes(&url) {
        Ok(location) => {
            let text = format!("moved to {}\n", String::from_utf8_lossy(&url));
            answer(StatusCode::PERMANENT_REDIRECT, Some(location), &text)
        }
        Err(_) => answer(StatusCode::BAD_REQUEST, None, "cannot redirect this request\n"),
    }
}

/// The host of a `Host` value without its port: a name, an IPv4 address or a bracketed IPv6
/// address, and nothing that could bend the URL it goes into.
fn host_only(v: &[u8]) -> Option<&[u8]> {
    let host = if v.first() == Some(&b'[') {
        &v[..=v.iter().position(|&c| c == b']')?]
    } else {
        v.split(|&c| c == b':').next()?
    };
    let ok = !host.is_empty()
        && host.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'[' | b']' | b':'));
    ok.then_some(host)
}

fn answer(status: StatusCode, location: Option<HeaderValue>, text: &str) -> Reply {
    let mut resp = Response::new(Body::Bytes(Bytes::copy_from_slice(text.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Some(l) = location {
        resp.headers_mut().insert(LOCATION, l);
    }
    Reply::Now(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(uri: &str, host: Option<&str>, port: u16) -> (StatusCode, Option<String>) {
        let mut b = Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header(HOST, h);
        }
        let Ok(req) = b.body(Body::Empty) else { panic!("bad test request") };
        match to_https(&req, port) {
            Reply::Now(r) => (
                r.status(),
                r.headers().get(LOCATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            ),
            _ => panic!("a redirect is answered at once"),
        }
    }

    #[test]
    fn same_url_on_https_with_the_port_unless_443() {
        let ok = StatusCode::PERMANENT_REDIRECT;
        assert_eq!(
            location("/a/b?c=d", Some("example.com:8080"), 8443),
            (ok, Some("https://example.com:8443/a/b?c=d".into()))
        );
        assert_eq!(location("/", Some("example.com"), 443), (ok, Some("https://example.com/".into())));
        assert_eq!(location("/x", Some("[::1]:80"), 443), (ok, Some("https://[::1]/x".into())));
        assert_eq!(location("http://h.test/p", None, 443), (ok, Some("https://h.test/p".into())));
    }

    #[test]
    fn a_missing_or_strange_host_is_400() {
        assert_eq!(location("/", None, 443).0, StatusCode::BAD_REQUEST);
        assert_eq!(location("/", Some("evil.test/@x"), 443).0, StatusCode::BAD_REQUEST);
        assert_eq!(location("/", Some(""), 443).0, StatusCode::BAD_REQUEST);
    }
}
