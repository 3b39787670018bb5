//! The framework's router through a real socket: static, parameter and catch-all routes,
//! nesting, fallbacks, 404/405, automatic HEAD and OPTIONS, mounted static files.

use http::StatusCode;
use pollux_fs::{ServeDir, ServeFile};
use pollux_testkit::{get_with, send, start_app, TempRoot};
use pollux_web::extract::Path;
use pollux_web::{any, get, post, Router};

fn app() -> pollux_web::App {
    let api = Router::new()
        .route("/items", get(|| "all items").post(|| (StatusCode::CREATED, "created")))
        .route("/items/{id}", get(|Path(id): Path<u32>| format!("item {id}")))
        .fallback(|| (StatusCode::NOT_FOUND, "api: no such endpoint"));
    Router::new()
        .route("/", get(|| "home"))
        .route("/users/{id}", get(|Path(id): Path<String>| format!("user {id}")))
        .route("/users/me", get(|| "it is you"))
        .route("/files/{*rest}", get(|Path(rest): Path<String>| format!("file {rest}")))
        .route("/merged", get(|| "get"))
        .route("/merged", post(|| "post"))
        .route("/anything", any(|m: http::Method| format!("any {m}")))
        .nest("/api", api)
        .into_app()
}

#[test]
fn routes_match_static_params_and_catch_all() {
    let s = start_app(app());
    assert_eq!(get_with(s.addr, "/", &[]).text(), "home");
    assert_eq!(get_with(s.addr, "/users/42", &[]).text(), "user 42");
    // A static segment wins over a parameter, whatever the order of registration.
    assert_eq!(get_with(s.addr, "/users/me", &[]).text(), "it is you");
    assert_eq!(get_with(s.addr, "/files/a/b/c.txt", &[]).text(), "file a/b/c.txt");
    assert_eq!(get_with(s.addr, "/users/42?x=1", &[]).text(), "user 42");
}

#[test]
fn unmatched_is_404_and_wrong_method_is_405_with_allow() {
    let s = start_app(app());
    let r = get_with(s.addr, "/nope", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "404 Not Found\n");
    // No catch-all below /users/{id}: a deeper path does not match.
    assert_eq!(get_with(s.addr, "/users/1/2", &[]).status, 404);
    let r = send(s.addr, "DELETE", "/users/1", &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    let r = send(s.addr, "PUT", "/merged", &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
}

#[test]
fn same_path_twice_merges_methods_and_any_takes_every_method() {
    let s = start_app(app());
    assert_eq!(get_with(s.addr, "/merged", &[]).text(), "get");
    assert_eq!(send(s.addr, "POST", "/merged", &[("Content-Length", "0")]).text(), "post");
    assert_eq!(send(s.addr, "PATCH", "/anything", &[]).text(), "any PATCH");
    assert_eq!(send(s.addr, "GET", "/anything", &[]).text(), "any GET");
}

#[test]
fn head_is_answered_by_get_and_options_automatically() {
    let s = start_app(app());
    let r = send(s.addr, "HEAD", "/users/7", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("6"));
    assert!(r.body.is_empty());
    let r = send(s.addr, "OPTIONS", "/merged", &[]);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
    assert!(r.body.is_empty());
}

#[test]
fn nested_routers_and_their_fallbacks() {
    let s = start_app(app());
    assert_eq!(get_with(s.addr, "/api/items", &[]).text(), "all items");
    let r = send(s.addr, "POST", "/api/items", &[("Content-Length", "0")]);
    assert_eq!((r.status, r.text().as_str()), (201, "created"));
    assert_eq!(get_with(s.addr, "/api/items/9", &[]).text(), "item 9");
    // Below /api the nested fallback answers; elsewhere the plain 404.
    let r = get_with(s.addr, "/api/nothing/here", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "api: no such endpoint"));
    let r = get_with(s.addr, "/apis", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "404 Not Found\n"));
}

#[test]
fn fallback_answers_unmatched_paths() {
    let app = Router::new()
        .route("/", get(|| "home"))
        .fallback(|uri: http::Uri| (StatusCode::NOT_FOUND, format!("no page at {}", uri.path())))
        .into_app();
    let s = start_app(app);
    let r = get_with(s.addr, "/missing/page", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "no page at /missing/page"));
}

#[test]
fn serve_dir_mounted_under_a_prefix() {
    let root = TempRoot::new("web-mount");
    std::fs::write(root.0.join("app.css"), "body{}\n".repeat(100)).expect("write");
    std::fs::create_dir(root.0.join("sub")).expect("mkdir");
    std::fs::write(root.0.join("sub/index.html"), "<p>sub</p>").expect("write");
    let app = Router::new()
        .route("/", get(|| "home"))
        .nest_service("/static", ServeDir::new(&root.0).expect("root"))
        .into_app();
    let s = start_app(app);
    let r = get_with(s.addr, "/static/app.css", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.body.len(), 700);
    // The static-file machinery is all there: validators, conditionals, ranges.
    let etag = r.header("etag").expect("etag").to_owned();
    assert_eq!(get_with(s.addr, "/static/app.css", &[("If-None-Match", &etag)]).status, 304);
    let r = get_with(s.addr, "/static/app.css", &[("Range", "bytes=0-5")]);
    assert_eq!((r.status, r.text().as_str()), (206, "body{}"));
    // The directory redirect gets the prefix back.
    let r = get_with(s.addr, "/static/sub?x=1", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/static/sub/?x=1"));
    assert_eq!(get_with(s.addr, "/static/sub/", &[]).text(), "<p>sub</p>");
    // Traversal stays inside the mounted root.
    assert_eq!(get_with(s.addr, "/static/..%2f..%2fetc%2fpasswd", &[]).status, 404);
    assert_eq!(get_with(s.addr, "/", &[]).text(), "home");
}

#[test]
fn two_mounts_of_one_root_keep_their_own_fields_and_middleware_sees_them() {
    // A cached file's answer carries fields prepared once per cache entry; a second ServeDir
    // over the same root with another Cache-Control policy (same worker, same cache entry)
    // must still get its own, and a layer must see the fields of either.
    let root = TempRoot::new("web-two-mounts");
    std::fs::write(root.0.join("a.html"), "<p>a</p>").expect("write");
    let seen = pollux_web::middleware::from_fn(|req, next| {
        let mut resp = next.run(req);
        let ct = resp.headers().get("content-type").cloned();
        if let Some(ct) = ct {
            resp.headers_mut().insert("x-seen-type", ct);
        }
        resp
    });
    let app = Router::new()
        .nest_service(
            "/short",
            ServeDir::new(&root.0).expect("root").cache_control("max-age=60").expect("rule"),
        )
        .nest_service(
            "/long",
            ServeDir::new(&root.0).expect("root").cache_control("max-age=3600").expect("rule"),
        )
        .layer(seen)
        .into_app();
    let s = start_app(app);
    for _ in 0..3 {
        for (path, cc) in [("/short/a.html", "max-age=60"), ("/long/a.html", "max-age=3600")] {
            let r = get_with(s.addr, path, &[]);
            assert_eq!((r.status, r.text().as_str()), (200, "<p>a</p>"));
            assert_eq!(r.all("cache-control"), vec![cc], "{path}");
            assert_eq!(r.header("x-seen-type"), Some("text/html; charset=utf-8"));
            let etag = r.header("etag").expect("etag").to_owned();
            let r = get_with(s.addr, path, &[("If-None-Match", &etag)]);
            assert_eq!(r.status, 304);
            assert_eq!(r.all("cache-control"), vec![cc], "{path}");
        }
    }
}

#[test]
fn services_see_the_right_path_when_nested_under_parameters() {
    let root = TempRoot::new("web-nested-service");
    std::fs::write(root.0.join("a.txt"), "A").expect("write");
    std::fs::create_dir(root.0.join("sub")).expect("mkdir");
    let echo = |req: http::Request<pollux_server::Body>, _: &pollux_server::ConnInfo| {
        http::Response::new(pollux_server::Body::from(req.uri().path().to_owned()))
    };
    let v = Router::new().nest_service("/files", ServeDir::new(&root.0).expect("root"));
    let app = Router::new().nest("/v/{version}", v).route_service("/echo/whole", echo).into_app();
    let s = start_app(app);
    assert_eq!(get_with(s.addr, "/v/2/files/a.txt", &[]).text(), "A");
    // Its redirects name the prefix as the request spelled it.
    let r = get_with(s.addr, "/v/2/files/sub", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/v/2/files/sub/")));
    // A service routed to one path sees that path, not a cut one.
    assert_eq!(get_with(s.addr, "/echo/whole", &[]).text(), "/echo/whole");
}

#[test]
fn serve_file_as_a_route() {
    let root = TempRoot::new("web-file");
    std::fs::write(root.0.join("robots.txt"), "User-agent: *\n").expect("write");
    let app = Router::new()
        .route_service("/robots.txt", ServeFile::new(root.0.join("robots.txt")).expect("file"))
        .into_app();
    let s = start_app(app);
    let r = get_with(s.addr, "/robots.txt", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "User-agent: *\n"));
    assert_eq!(send(s.addr, "POST", "/robots.txt", &[("Content-Length", "0")]).status, 405);
}
