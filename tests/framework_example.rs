//! `examples/framework`, the routing-table framework, driven by curl as a user would.

mod common;

use std::process::Command;

use common::{example_bin, spawn, Server};

fn framework() -> Server {
    let mut cmd = Command::new(example_bin("framework"));
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "2"]);
    spawn(cmd)
}

fn curl_text(args: &[&str]) -> String {
    let out = common::curl(args);
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn hello_ctime_and_404() {
    let s = framework();
    let base = format!("http://{}", s.addr);
    assert_eq!(curl_text(&[&format!("{base}/")]), "Hello World");
    // `Sun Nov 29 18:23:16 2026`: weekday, month, day, time, year.
    let t = curl_text(&[&format!("{base}/ctime")]);
    let parts: Vec<&str> = t.split_whitespace().collect();
    assert_eq!(parts.len(), 5, "{t:?}");
    assert!(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&parts[0]), "{t:?}");
    assert_eq!(parts[3].len(), 8, "{t:?}");
    assert!(parts[4].parse::<u32>().is_ok_and(|y| y >= 2024), "{t:?}");
    assert_eq!(curl_text(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{base}/no/such/page")]), "404");
}

#[test]
fn form_post_is_echoed_escaped() {
    let s = framework();
    let url = format!("http://{}/form", s.addr);
    let body = curl_text(&[
        "--data-urlencode",
        "name=小明",
        "--data-urlencode",
        "message=<script>1 & 2</script>",
        &url,
    ]);
    assert!(body.contains("<p>小明 says: &lt;script&gt;1 &amp; 2&lt;/script&gt;</p>"), "{body}");
}

#[test]
fn json_api_with_path_params() {
    let s = framework();
    let base = format!("http://{}/api", s.addr);
    assert_eq!(curl_text(&[&format!("{base}/users/2")]), r#"{"id":2,"name":"Grace"}"#);
    let out = curl_text(&["-w", " %{http_code}", &format!("{base}/users/9")]);
    assert_eq!(out, r#"{"error":"no such user","id":9} 404"#);
    let out = curl_text(&["-w", " %{http_code}", &format!("{base}/users/abc")]);
    assert!(out.ends_with(" 400"), "{out}");
    let out = curl_text(&["-i", "--json", r#"{"name":"Barbara"}"#, &format!("{base}/users")]);
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
    assert!(out.to_ascii_lowercase().contains("location: /api/users/4"), "{out}");
    assert!(out.ends_with(r#"{"id":4,"name":"Barbara"}"#), "{out}");
    let out = curl_text(&["-w", " %{http_code}", &format!("{base}/nothing")]);
    assert_eq!(out, r#"{"error":"no such endpoint"} 404"#);
}

#[test]
fn cookies_count_visits() {
    let s = framework();
    let jar = common::TempRoot::new("cookie-jar");
    let jar_file = jar.0.join("jar.txt");
    let jar_file = jar_file.to_str().expect("utf-8 path");
    let url = format!("http://{}/visits", s.addr);
    for n in 1..=3 {
        assert_eq!(curl_text(&["-b", jar_file, "-c", jar_file, &url]), format!("visit number {n}\n"));
    }
    let saved = std::fs::read_to_string(jar_file).expect("jar");
    // curl marks HttpOnly cookies with a `#HttpOnly_` prefix.
    assert!(saved.contains("#HttpOnly_127.0.0.1") && saved.contains("visits\t3"), "{saved}");
}

#[test]
fn redirect_and_static_files() {
    let s = framework();
    let base = format!("http://{}", s.addr);
    let out = curl_text(&["-L", "-w", " %{num_redirects}", &format!("{base}/old-home")]);
    assert_eq!(out, "Hello World 1");
    let css = curl_text(&[&format!("{base}/static/style.css")]);
    let on_disk = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static/style.css"))
        .expect("style.css");
    assert_eq!(css, on_disk);
    let index = curl_text(&["-L", &format!("{base}/static")]);
    assert!(index.contains("<form method=\"post\" action=\"/form\">"), "{index}");
}

#[test]
fn slow_route_runs_on_the_blocking_pool() {
    let s = framework();
    let base = format!("http://{}", s.addr);
    assert_eq!(curl_text(&[&format!("{base}/slow?ms=20")]), "slept 20 ms\n");
}
