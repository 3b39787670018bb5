//! `examples/framework`, the routing-table framework, driven by curl as a user would.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pollux_testkit::{example_bin, spawn, Server};

fn framework() -> Server {
    let mut cmd = Command::new(example_bin("framework"));
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "2", "--access-log", "off"]);
    spawn(cmd)
}

/// What the example prints before it serves: its `http://` lines, then `routes:` and one
/// line per route, then a blank line.
struct StartUp {
    server: Server,
    urls: Vec<String>,
    /// (method, path) as listed.
    routes: Vec<(String, String)>,
}

fn start_up(args: &[&str]) -> StartUp {
    let mut cmd = Command::new(example_bin("framework"));
    cmd.args(["--workers", "1"]).args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = cmd.spawn().expect("spawn framework");
    let stdout = child.stdout.take().expect("stdout");
    // A thread reads (and goes on draining) stdout, so a silent example fails the wait
    // below instead of blocking the test.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let (mut urls, mut routes) = (Vec::new(), Vec::new());
    let mut in_routes = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            panic!("no complete route list; got {urls:?} {routes:?}");
        };
        if let Some(i) = line.find("http://") {
            urls.push(line[i..].trim().to_owned());
        } else if line.trim_end() == "routes:" {
            in_routes = true;
        } else if in_routes && line.trim().is_empty() {
            break;
        } else if in_routes {
            let mut words = line.split_whitespace();
            let (m, p) = (words.next().expect("method"), words.next().expect("path"));
            routes.push((m.to_owned(), p.to_owned()));
        }
    }
    let addr = urls[0].trim_start_matches("http://").parse().expect("address");
    let stderr = child.stderr.take();
    StartUp { server: Server::new(child, addr, stderr), urls, routes }
}

fn curl_text(args: &[&str]) -> String {
    let out = pollux_testkit::curl(args);
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
fn a_created_users_location_resolves_to_it() {
    let s = framework();
    let base = format!("http://{}", s.addr);
    let made = curl_text(&[
        "--json",
        r#"{"name":"Barbara"}"#,
        "-w",
        "\n%{http_code} %header{location}",
        &format!("{base}/api/users"),
    ]);
    let (body, tail) = made.split_once('\n').expect("body and status");
    let (status, location) = tail.split_once(' ').expect("status and location");
    assert_eq!(status, "201", "{made}");
    // A path: the client resolves it against the URL it posted to.
    assert!(location.starts_with("/api/users/"), "{made}");
    assert_eq!(curl_text(&["-w", " %{http_code}", &format!("{base}{location}")]), format!("{body} 200"));
    let second = curl_text(&["--json", r#"{"name":"Frances"}"#, &format!("{base}/api/users")]);
    assert_ne!(second, body, "each user gets its own id");
    let all = curl_text(&[&format!("{base}/api/users")]);
    assert!(all.contains(body) && all.contains(&second) && all.contains(r#""name":"Ada""#), "{all}");
}

#[test]
fn api_errors_are_json_whoever_answers_them() {
    let s = framework();
    let users = format!("http://{}/api/users", s.addr);
    let cases: [(&[&str], &str, &str); 6] = [
        (&["-d", r#"{"name":"x"}"#], "415", "application/json"), // a form's type, not JSON's
        (&["--json", r#"{"nom":"x"}"#], "422", "missing field `name`"),
        (&["--json", r#"{"name":"#], "400", "invalid JSON"),
        (&[], "400", "abc"),              // GET /api/users/abc
        (&[], "404", "no such user"),     // GET /api/users/99
        (&[], "404", "no such endpoint"), // GET /api/nothing
    ];
    let urls = [
        users.clone(),
        users.clone(),
        users.clone(),
        format!("{users}/abc"),
        format!("{users}/99"),
        format!("http://{}/api/nothing", s.addr),
    ];
    for ((args, status, says), url) in cases.iter().zip(&urls) {
        let mut all = args.to_vec();
        all.extend(["-w", "\n%{http_code} %{content_type}", url.as_str()]);
        let out = curl_text(&all);
        let (body, tail) = out.rsplit_once('\n').expect("status line");
        assert_eq!(tail, format!("{status} application/json"), "{url} {args:?}: {out}");
        let v: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        let error = v["error"].as_str().expect("an error field");
        assert!(error.contains(says), "{url} {args:?}: {body}");
    }
    // Outside /api the answers stay plain text.
    let out = curl_text(&[
        "-d",
        "name=a",
        "-w",
        " %{http_code} %{content_type}",
        &format!("http://{}/form", s.addr),
    ]);
    assert!(out.ends_with(" 422 text/plain; charset=utf-8"), "{out}");
}

#[test]
fn cookies_count_visits() {
    let s = framework();
    let jar = pollux_testkit::TempRoot::new("cookie-jar");
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
    // The mount point: `/static/` is the index, `/static` a redirect to it (it was the
    // other way round: `/static/` answered 404).
    let index = curl_text(&["-w", "%{http_code}", &format!("{base}/static/")]);
    assert!(index.contains("<form method=\"post\" action=\"/form\">") && index.ends_with("200"), "{index}");
    let out =
        curl_text(&["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", &format!("{base}/static")]);
    assert_eq!(out, format!("301 {base}/static/"));
    let out = curl_text(&["-L", "-w", "%{num_redirects} %{url_effective}", &format!("{base}/static")]);
    assert!(out.ends_with(&format!("1 {base}/static/")), "{out}");
}

#[test]
fn slow_route_runs_on_the_blocking_pool() {
    let s = framework();
    let base = format!("http://{}", s.addr);
    assert_eq!(curl_text(&[&format!("{base}/slow?ms=20")]), "slept 20 ms\n");
}

#[test]
fn start_up_prints_each_url_then_the_routes_and_each_route_answers() {
    let su = start_up(&["--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--access-log", "off"]);
    assert_eq!(su.urls.len(), 2, "one line per --bind: {:?}", su.urls);
    let base = format!("http://{}", su.server.addr);
    assert!(su.routes.len() >= 8, "{:?}", su.routes);
    for (method, path) in &su.routes {
        let url = format!("{base}{}", path.replace("{id}", "1").replace("=N", "=1"));
        let out = match method.as_str() {
            "GET" => curl_text(&["-o", "/dev/null", "-w", "%{http_code}", &url]),
            "POST" if path == "/form" => {
                curl_text(&["-o", "/dev/null", "-w", "%{http_code}", "-d", "name=a&message=b", &url])
            }
            "POST" => {
                curl_text(&["-o", "/dev/null", "-w", "%{http_code}", "--json", r#"{"name":"a"}"#, &url])
            }
            other => panic!("unexpected method {other}"),
        };
        assert!(["200", "201", "301"].contains(&out.as_str()), "{method} {path}: {out}");
    }
}

/// `.route("/p", get(a).post(b))`, `.nest("/p", router)` and `.nest_service("/p", …)` in the
/// README's app, as (method, path) with nested prefixes applied.
fn readme_routes() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let section = readme.split("### A web app (`pollux-web`)").nth(1).expect("the section");
    let section = section.split("\n### ").next().unwrap_or(section);
    let code = section.split("```rust").nth(1).and_then(|c| c.split("```").next()).expect("the app's code");
    // Each `let NAME = Router::new()` up to its `;`, with its routes, and where it is nested.
    let mut routers: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut nests: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, Vec<(String, String)>)> = None;
    let quoted = |line: &str, call: &str| -> Option<String> {
        let rest = &line[line.find(call)? + call.len()..];
        rest.split('"').next().map(str::to_owned)
    };
    for line in code.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("let ") {
            if let Some((name, _)) = rest.split_once(" = Router::new()") {
                current = Some((name.to_owned(), Vec::new()));
            }
        }
        if let Some((_, routes)) = current.as_mut() {
            if let Some(path) = quoted(line, ".route(\"") {
                for m in ["get", "post", "put", "delete", "patch"] {
                    if line.contains(&format!(", {m}(")) || line.contains(&format!(".{m}(")) {
                        routes.push((m.to_ascii_uppercase(), path.clone()));
                    }
                }
            }
            if let Some(path) = quoted(line, ".nest_service(\"") {
                routes.push(("GET".to_owned(), format!("{path}/")));
            }
            if let Some(path) = quoted(line, ".nest(\"") {
                let name = line.split(", ").nth(1).expect("nested router").trim_end_matches(')');
                nests.push((name.to_owned(), path));
            }
        }
        if line.ends_with(';') {
            routers.extend(current.take());
        }
    }
    let mut all = Vec::new();
    for (name, routes) in routers {
        let prefix = nests.iter().find(|(n, _)| *n == name).map_or("", |(_, p)| p.as_str());
        all.extend(routes.into_iter().map(|(m, p)| (m, format!("{prefix}{p}"))));
    }
    all
}

#[test]
fn the_readme_app_is_a_part_of_the_example() {
    let shown = readme_routes();
    assert!(shown.len() >= 5, "the README's routes were not found: {shown:?}");
    let su = start_up(&["--bind", "127.0.0.1:0", "--access-log", "off"]);
    let listed: Vec<(String, String)> =
        su.routes.iter().map(|(m, p)| (m.clone(), p.split('?').next().unwrap_or(p).to_owned())).collect();
    for route in &shown {
        assert!(listed.contains(route), "the README routes {route:?}, the example does not: {listed:?}");
    }
}

#[test]
fn requests_are_logged_to_stderr_unless_turned_off() {
    let mut su = start_up(&["--bind", "127.0.0.1:0"]);
    let base = format!("http://{}", su.server.addr);
    curl_text(&["-o", "/dev/null", &format!("{base}/ctime")]);
    let stderr = su.server.stderr.take().expect("stderr");
    // Lines come as they are written: the read blocks until the line is there.
    let line = BufReader::new(stderr)
        .lines()
        .map(|l| l.expect("read stderr"))
        .find(|l| l.contains("/ctime"))
        .expect("a log line for /ctime");
    assert!(line.contains(r#""GET /ctime HTTP/1.1" 200 "#), "{line}");

    // Off: a request, then SIGTERM (a graceful stop writes out whatever was logged), and
    // stderr to its end has no line for it.
    let mut su = start_up(&["--bind", "127.0.0.1:0", "--access-log", "off"]);
    curl_text(&["-o", "/dev/null", &format!("http://{}/ctime", su.server.addr)]);
    let term = Command::new("kill").args(["-TERM", &su.server.child.id().to_string()]).status();
    assert!(term.is_ok_and(|s| s.success()), "kill -TERM");
    let status = su.server.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    su.server.stderr.take().expect("stderr").read_to_string(&mut rest).expect("read stderr");
    assert!(!rest.contains("/ctime"), "{rest}");
}
