//! Every extractor, fed good and malformed input through a real socket: the handler sees
//! typed values, or the client gets a clear 400/413/415/422 and the handler is not called.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use pollux_testkit::{get_with, send, send_body, start_app};
use pollux_web::cookie::time::{Duration, OffsetDateTime};
use pollux_web::cookie::{Cookie, SameSite};
use pollux_web::extract::{ClientAddr, Cookies, Form, Json, Path, Query, RawBody, State};
use pollux_web::{get, post, Router};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Post {
    user: u64,
    slug: String,
}

#[derive(Deserialize)]
struct Page {
    n: u32,
    q: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    name: String,
    message: String,
}

#[derive(Deserialize, Serialize)]
struct Item {
    name: String,
    qty: u32,
}

struct Counter {
    hits: AtomicU64,
}

fn app() -> pollux_web::App<Arc<Counter>> {
    Router::new()
        .route("/n/{n}", get(|Path(n): Path<u64>| format!("n={n}")))
        .route("/s/{s}", get(|Path(s): Path<String>| s))
        .route("/pair/{a}/{b}", get(|Path((a, b)): Path<(u32, String)>| format!("{a}:{b}")))
        .route("/posts/{user}/{slug}", get(|Path(p): Path<Post>| Json(p)))
        .route("/page", get(|Query(p): Query<Page>| format!("page {} {:?}", p.n, p.q)))
        .route("/form", post(|Form(m): Form<Message>| format!("{} says {}", m.name, m.message)))
        .route("/json", post(|Json(i): Json<Item>| Json(Item { qty: i.qty * 2, ..i })))
        .route("/raw", post(|RawBody(b): RawBody| format!("{} bytes", b.len())))
        .route("/bytes", post(|b: Bytes| b))
        .route("/text", post(|s: String| s.to_uppercase()))
        .route(
            "/headers",
            get(|h: HeaderMap| h.get("x-thing").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned()),
        )
        .route("/peer", get(|ClientAddr(a): ClientAddr| a.ip().to_string()))
        .route(
            "/count",
            get(|State(c): State<Arc<Counter>>| (c.hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()),
        )
        .route("/cookies", get(cookie_list))
        .route("/login", get(login))
        .route("/logout", get(|c: Cookies| (c.remove(Cookie::build("session").path("/")), "bye")))
        .route(
            "/optional",
            get(|q: Option<Query<Page>>| q.map_or("no page".to_owned(), |Query(p)| p.n.to_string())),
        )
        .body_limit(1024)
        .with_state(Arc::new(Counter { hits: AtomicU64::new(0) }))
}

fn cookie_list(c: Cookies) -> String {
    let mut v: Vec<String> = c.iter().map(|c| format!("{}={}", c.name(), c.value())).collect();
    v.sort();
    v.join(",")
}

fn login(c: Cookies) -> (Cookies, &'static str) {
    let session = Cookie::build(("session", "abc123"))
        .path("/")
        .domain("example.com")
        .max_age(Duration::hours(1))
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict);
    let theme = Cookie::build(("theme", "dark"))
        .expires(OffsetDateTime::from_unix_timestamp(2_000_000_000).expect("time"));
    (c.add(session).add(theme), "welcome")
}

#[test]
fn path_parameters_typed_decoded_and_refused() {
    let s = start_app(app());
    assert_eq!(get_with(s.addr, "/n/42", &[]).text(), "n=42");
    let r = get_with(s.addr, "/n/forty-two", &[]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("invalid path parameter"), "{}", r.text());
    assert_eq!(get_with(s.addr, "/n/99999999999999999999999", &[]).status, 400);
    // Percent-decoded as UTF-8: Chinese text.
    assert_eq!(get_with(s.addr, "/s/%E4%BD%A0%E5%A5%BD", &[]).text(), "你好");
    assert_eq!(get_with(s.addr, "/s/a%20b", &[]).text(), "a b");
    let r = get_with(s.addr, "/s/%FF%FE", &[]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not UTF-8"));
    assert_eq!(get_with(s.addr, "/pair/7/x", &[]).text(), "7:x");
    assert_eq!(get_with(s.addr, "/pair/x/7", &[]).status, 400);
    let r = get_with(s.addr, "/posts/3/hello-world", &[]);
    assert_eq!(r.text(), r#"{"user":3,"slug":"hello-world"}"#);
}

#[test]
fn query_strings() {
    let s = start_app(app());
    assert_eq!(get_with(s.addr, "/page?n=2&q=rust+web", &[]).text(), r#"page 2 Some("rust web")"#);
    assert_eq!(get_with(s.addr, "/page?n=3", &[]).text(), "page 3 None");
    assert_eq!(get_with(s.addr, "/page?q=%E4%BD%A0&n=1", &[]).text(), r#"page 1 Some("你")"#);
    for bad in ["/page", "/page?n=x", "/page?n=-1", "/page?n=1&n=2"] {
        let r = get_with(s.addr, bad, &[]);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains("invalid query"), "{bad}");
    }
    assert_eq!(get_with(s.addr, "/optional?n=5", &[]).text(), "5");
    assert_eq!(get_with(s.addr, "/optional?n=oops", &[]).text(), "no page");
}

#[test]
fn urlencoded_forms() {
    let s = start_app(app());
    let urlenc = "application/x-www-form-urlencoded";
    let r = send_body(s.addr, "POST", "/form", urlenc, b"name=%E5%B0%8F%E6%98%8E&message=hello+world%21");
    assert_eq!((r.status, r.text().as_str()), (200, "小明 says hello world!"));
    let r = send_body(
        s.addr,
        "POST",
        "/form",
        "application/x-www-form-urlencoded; charset=UTF-8",
        b"name=a&message=b",
    );
    assert_eq!(r.text(), "a says b");
    let r = send_body(s.addr, "POST", "/form", "text/plain", b"name=a&message=b");
    assert_eq!(r.status, 415);
    assert!(r.text().contains("application/x-www-form-urlencoded"));
    let r = send_body(s.addr, "POST", "/form", urlenc, b"name=a");
    assert_eq!(r.status, 422);
    assert!(r.text().contains("message"), "{}", r.text());
    let big = format!("name=a&message={}", "x".repeat(2000));
    assert_eq!(send_body(s.addr, "POST", "/form", urlenc, big.as_bytes()).status, 413);
    // No Content-Type at all.
    assert_eq!(send(s.addr, "POST", "/form", &[("Content-Length", "0")]).status, 415);
}

#[test]
fn json_bodies() {
    let s = start_app(app());
    let r = send_body(s.addr, "POST", "/json", "application/json", br#"{"name":"pen","qty":2}"#);
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"name":"pen","qty":4}"#));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        send_body(s.addr, "POST", "/json", "application/problem+json", br#"{"name":"a","qty":1}"#).status,
        200
    );
    let cases: [(&str, &[u8], u16); 6] = [
        ("text/plain", br#"{"name":"pen","qty":2}"#, 415),
        ("application/json", br#"{"name":"pen","qty":"#, 400),
        ("application/json", b"not json", 400),
        ("application/json", br#"{"name":"pen","qty":-1}"#, 422),
        ("application/json", br#"{"name":"pen"}"#, 422),
        ("application/json", br#"[1,2,3]"#, 422),
    ];
    for (ct, body, status) in cases {
        let r = send_body(s.addr, "POST", "/json", ct, body);
        assert_eq!(r.status, status, "{ct} {:?}: {}", String::from_utf8_lossy(body), r.text());
        assert!(r.text().starts_with(&status.to_string()), "{}", r.text());
    }
    let big = format!(r#"{{"name":"{}","qty":1}}"#, "x".repeat(2000));
    assert_eq!(send_body(s.addr, "POST", "/json", "application/json", big.as_bytes()).status, 413);
}

#[test]
fn raw_bodies_with_a_limit() {
    let s = start_app(app());
    assert_eq!(send_body(s.addr, "POST", "/raw", "x/y", &[7u8; 1000]).text(), "1000 bytes");
    assert_eq!(send_body(s.addr, "POST", "/raw", "x/y", &[7u8; 1025]).status, 413);
    assert_eq!(send_body(s.addr, "POST", "/bytes", "x/y", b"\x00\x01\xff").body, b"\x00\x01\xff");
    assert_eq!(send_body(s.addr, "POST", "/text", "text/plain", "héllo".as_bytes()).text(), "HÉLLO");
    let r = send_body(s.addr, "POST", "/text", "text/plain", b"\xff\xfe");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not UTF-8"));
}

#[test]
fn headers_client_address_and_state() {
    let s = start_app(app());
    assert_eq!(get_with(s.addr, "/headers", &[("X-Thing", "yes")]).text(), "yes");
    assert_eq!(get_with(s.addr, "/headers", &[]).text(), "none");
    assert_eq!(get_with(s.addr, "/peer", &[]).text(), "127.0.0.1");
    assert_eq!(get_with(s.addr, "/count", &[]).text(), "1");
    assert_eq!(get_with(s.addr, "/count", &[]).text(), "2");
}

#[test]
fn cookies_parsed_and_set_with_every_attribute() {
    let s = start_app(app());
    let r = get_with(s.addr, "/cookies", &[("Cookie", "b=2; a=1"), ("Cookie", "c=3; garbage; =x")]);
    assert_eq!(r.text(), "a=1,b=2,c=3");
    let r = get_with(s.addr, "/login", &[]);
    let set: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(set.len(), 2, "{set:?}");
    let session = set.iter().find(|v| v.starts_with("session=abc123")).expect("session cookie");
    for attr in ["Path=/", "Domain=example.com", "Max-Age=3600", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(session.split("; ").any(|a| a == attr), "{attr} missing in {session}");
    }
    let theme = set.iter().find(|v| v.starts_with("theme=dark")).expect("theme cookie");
    assert!(theme.contains("Expires=Wed, 18 May 2033 03:33:20 GMT"), "{theme}");
    let r = get_with(s.addr, "/logout", &[("Cookie", "session=abc123")]);
    let gone = r.header("set-cookie").expect("removal");
    assert!(gone.starts_with("session=;") && gone.contains("Max-Age=0"), "{gone}");
}

#[test]
fn curl_posts_a_form_and_json() {
    let s = start_app(app());
    let url = format!("http://{}/form", s.addr);
    let out =
        pollux_testkit::curl(&["--data-urlencode", "name=李雷", "--data-urlencode", "message=a&b=c", &url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "李雷 says a&b=c");
    let url = format!("http://{}/json", s.addr);
    let out = pollux_testkit::curl(&["--json", r#"{"name":"cup","qty":5}"#, &url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), r#"{"name":"cup","qty":10}"#);
}
