//! `Router::nest_service` over a real socket: the mount point with and without its slash, as
//! axum users and browsers expect (`/static/` is the directory's index, `/static` redirects
//! there so the index page's relative links resolve).

use pollux_fs::ServeDir;
use pollux_web::{get, Router};

use pollux_testkit::{fetch, start_app as start, TempRoot};

/// A fresh directory with `index.html`, `site.css` and `docs/index.html`; removed when dropped.
fn assets(tag: &str) -> TempRoot {
    let dir = TempRoot::empty(tag);
    std::fs::create_dir_all(dir.path("docs")).expect("mkdir");
    std::fs::write(dir.path("index.html"), "<link rel=stylesheet href=site.css>").expect("write");
    std::fs::write(dir.path("site.css"), "body{}").expect("write");
    std::fs::write(dir.path("docs/index.html"), "<p>docs</p>").expect("write");
    dir
}

#[test]
fn mount_point_with_a_slash_is_the_index_and_without_one_redirects_there() {
    let assets = assets("mount-slash");
    let app = Router::new()
        .route("/", get(|| "home"))
        .nest_service("/static", ServeDir::new(&assets.0).expect("dir"))
        .into_app();
    let s = start(app);

    // The empty remainder after the slash reaches the service as `/`: it was a 404.
    let r = fetch(s.addr, "GET", "/static/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "<link rel=stylesheet href=site.css>"));
    // ... so the relative link in it resolves to a file that exists.
    assert_eq!(fetch(s.addr, "GET", "/static/site.css", &[]).text(), "body{}");

    // The bare mount point was served the index directly (its `site.css` then resolved to
    // `/site.css`); now it redirects, as ServeDir does for its own subdirectories.
    let r = fetch(s.addr, "GET", "/static", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/static/")));
    let r = fetch(s.addr, "GET", "/static?v=2", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/static/?v=2")));
    let r = fetch(s.addr, "HEAD", "/static", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/static/")));
    // A method a browser would turn into GET on a 301 gets a 308 instead.
    let r = fetch(s.addr, "POST", "/static", &[("Content-Length", "0")]);
    assert_eq!((r.status, r.header("location")), (308, Some("/static/")));

    // Subdirectories: ServeDir's own redirect, with the prefix given back.
    let r = fetch(s.addr, "GET", "/static/docs", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/static/docs/")));
    assert_eq!(fetch(s.addr, "GET", "/static/docs/", &[]).text(), "<p>docs</p>");

    // Nothing else moved.
    assert_eq!(fetch(s.addr, "GET", "/", &[]).text(), "home");
    assert_eq!(fetch(s.addr, "GET", "/staticx", &[]).status, 404);
}

#[test]
fn nested_and_root_mounts() {
    let assets = assets("mount-nested");
    let files = Router::new().nest_service("/files", ServeDir::new(&assets.0).expect("dir"));
    let app = Router::new().nest("/v/{version}", files).into_app();
    let s = start(app);
    let r = fetch(s.addr, "GET", "/v/2/files", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/v/2/files/")));
    assert_eq!(fetch(s.addr, "GET", "/v/2/files/", &[]).text(), "<link rel=stylesheet href=site.css>");

    // Mounted at the root there is no bare form: `/` is the index.
    let root = Router::new().nest_service("/", ServeDir::new(&assets.0).expect("dir")).into_app();
    let s = start(root);
    assert_eq!(fetch(s.addr, "GET", "/", &[]).text(), "<link rel=stylesheet href=site.css>");
    assert_eq!(fetch(s.addr, "GET", "/site.css", &[]).text(), "body{}");
}

#[test]
fn the_redirect_passes_through_the_layers() {
    let assets = assets("mount-layers");
    let seen = pollux_web::middleware::from_fn(|req, next| {
        let mut resp = next.run(req);
        resp.headers_mut().insert("x-seen", http::HeaderValue::from_static("yes"));
        resp
    });
    let app =
        Router::new().nest_service("/static", ServeDir::new(&assets.0).expect("dir")).layer(seen).into_app();
    let s = start(app);
    let r = fetch(s.addr, "GET", "/static", &[]);
    assert_eq!((r.status, r.header("x-seen")), (301, Some("yes")));
}
