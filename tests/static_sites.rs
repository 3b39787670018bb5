//! Which file a request reaches, against the real binary: virtual hosts by `Host` (and by the
//! absolute-form authority), the single-page-app fallback, a custom 404 page, dotfiles hidden
//! unless `--hidden` (`.well-known` always served), and symlinks out of the root only with
//! `--follow-symlinks`.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use pollux_testkit::{get_with, parse_responses, send, serve, TempRoot};

fn write(root: &std::path::Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn raw(addr: std::net::SocketAddr, head: &str) -> pollux_testkit::Resp {
    let mut s = pollux_testkit::connect(addr);
    s.write_all(head.as_bytes()).unwrap();
    let data = pollux_testkit::read_all(&mut s, std::time::Duration::from_secs(5));
    parse_responses(&data, &[false]).0.into_iter().next().unwrap()
}

#[test]
fn virtual_hosts_choose_the_root_by_host() {
    let tmp = TempRoot::new("vhost");
    write(&tmp.0, "default/who.txt", "default\n");
    write(&tmp.0, "a/who.txt", "site a\n");
    write(&tmp.0, "b/who.txt", "site b\n");
    let a = tmp.0.join("a");
    let b = tmp.0.join("b");
    let server = serve(
        &tmp.0.join("default"),
        &["--vhost", &format!("a.example={}", a.display()), "--vhost", &format!("B.Example={}", b.display())],
    );
    let who = |host: &str| {
        raw(server.addr, &format!("GET /who.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"))
            .text()
    };
    assert_eq!(who("a.example"), "site a\n");
    assert_eq!(who("A.EXAMPLE:8080"), "site a\n", "port ignored, case-insensitive");
    assert_eq!(who("b.example"), "site b\n");
    assert_eq!(who("a.example."), "site a\n", "trailing dot");
    assert_eq!(who("unknown.example"), "default\n");
    assert_eq!(who("127.0.0.1"), "default\n");
    // Absolute form: the authority wins over Host (RFC 9112 §3.2.2).
    let r = raw(
        server.addr,
        "GET http://b.example/who.txt HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.text(), "site b\n");
    // Each root is closed: site a's files are not reachable from site b.
    write(&tmp.0, "a/only-a.txt", "a\n");
    let r = raw(server.addr, "GET /only-a.txt HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = raw(server.addr, "GET /../a/only-a.txt HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn the_fallback_serves_a_single_page_app() {
    let tmp = TempRoot::new("fallback");
    write(&tmp.0, "app.html", "<div id=app></div>\n");
    write(&tmp.0, "static/x.js", "js\n");
    let server = serve(&tmp.0, &["--fallback", "app.html"]);
    for path in ["/users/42", "/deep/route/", "/missing.js"] {
        let r = get_with(server.addr, path, &[]);
        assert_eq!((r.status, r.text().as_str()), (200, "<div id=app></div>\n"), "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    }
    // Real files still win.
    assert_eq!(get_with(server.addr, "/static/x.js", &[]).text(), "js\n");
    assert_eq!(send(server.addr, "HEAD", "/users/42", &[]).status, 200);
    // Other methods are not rescued by the fallback.
    assert_eq!(send(server.addr, "POST", "/users/42", &[("Content-Length", "0")]).status, 405);
}

#[test]
fn a_custom_404_page_keeps_the_status() {
    let tmp = TempRoot::new("custom404");
    write(&tmp.0, "errors/404.html", "<h1>lost?</h1>\n");
    let server = serve(&tmp.0, &["--404", "errors/404.html"]);
    let r = get_with(server.addr, "/nope", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>lost?</h1>\n"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("etag"), None, "the page is not the target's representation");
    // Absolute path form too, and a missing page stops start-up.
    let abs = tmp.0.join("errors/404.html");
    let server = serve(&tmp.0, &["--404", abs.to_str().unwrap()]);
    assert_eq!(get_with(server.addr, "/x/y", &[]).text(), "<h1>lost?</h1>\n");
    let out = std::process::Command::new(pollux_testkit::pollux_bin())
        .args(["serve", tmp.0.to_str().unwrap(), "--bind", "127.0.0.1:0", "--404", "nope.html"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.html"));
}

#[test]
fn the_builtin_404_is_small_and_plain() {
    let tmp = TempRoot::new("plain404");
    let server = serve(&tmp.0, &[]);
    let r = get_with(server.addr, "/%3Cscript%3Ealert(1)%3C/script%3E", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "404 Not Found\n", "nothing of the request reflected");
}

#[test]
fn dotfiles_are_404_unless_hidden_but_well_known_is_served() {
    let tmp = TempRoot::new("hidden");
    write(&tmp.0, ".env", "SECRET=1\n");
    write(&tmp.0, ".git/config", "[core]\n");
    write(&tmp.0, "a/.hidden/x.txt", "x\n");
    write(&tmp.0, ".well-known/security.txt", "Contact: x\n");
    let server = serve(&tmp.0, &[]);
    for path in ["/.env", "/.git/config", "/a/.hidden/x.txt", "/%2egit/config", "/.git/", "/a/.hidden/"] {
        assert_eq!(get_with(server.addr, path, &[]).status, 404, "{path}");
    }
    assert_eq!(get_with(server.addr, "/.well-known/security.txt", &[]).text(), "Contact: x\n");
    let server = serve(&tmp.0, &["--hidden"]);
    assert_eq!(get_with(server.addr, "/.env", &[]).text(), "SECRET=1\n");
    assert_eq!(get_with(server.addr, "/a/.hidden/x.txt", &[]).text(), "x\n");
}

#[test]
fn symlinks_out_of_the_root_need_follow_symlinks() {
    let tmp = TempRoot::new("follow");
    write(&tmp.0, "outside/data.txt", "outside\n");
    write(&tmp.0, "www/inside.txt", "inside\n");
    let www = tmp.0.join("www");
    std::os::unix::fs::symlink("../outside", www.join("ext")).unwrap();
    std::os::unix::fs::symlink("inside.txt", www.join("alias.txt")).unwrap();
    let server = serve(&www, &[]);
    assert_eq!(get_with(server.addr, "/ext/data.txt", &[]).status, 404);
    assert_eq!(get_with(server.addr, "/alias.txt", &[]).text(), "inside\n", "a link inside the root is fine");
    let server = serve(&www, &["--follow-symlinks"]);
    assert_eq!(get_with(server.addr, "/ext/data.txt", &[]).text(), "outside\n");
}

#[test]
fn a_directory_without_index_is_404_with_no_listing() {
    let tmp = TempRoot::new("nolisting");
    write(&tmp.0, "d/file.txt", "x");
    // A named ROOT is listed by default (tests/habits.rs): --no-listing is the old default.
    let server = serve(&tmp.0, &["--no-listing"]);
    let r = get_with(server.addr, "/d/", &[]);
    assert_eq!(r.status, 404);
    assert!(!r.text().contains("file.txt"));
    assert_eq!(get_with(server.addr, "/d?q=1", &[]).header("location"), Some("/d/?q=1"));
    assert_eq!(get_with(server.addr, "/d/file.txt/", &[]).status, 404, "a file is no directory");
}
