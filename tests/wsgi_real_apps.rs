//! `pollux serve --wsgi` with real applications, black-box: the Flask app and the Django project
//! of examples/wsgi (from a virtualenv that scripts/python-env.sh makes once per test binary in
//! target/wsgi-venv), and the notes' own framework app of examples/cgi/wsgi. Clients: curl,
//! Python's http.client (tests/wsgi_real_apps/client.py), raw sockets, and headless Chromium
//! logging into the Django admin (tests/wsgi_real_apps/admin_screenshot.py, over the DevTools
//! protocol on a pipe) with a screenshot in target/screenshots/django-admin.png.
//!
//! Needs: python3 with venv and pip, PyPI reachable the first time (Flask, Django), curl and
//! chromium. scripts/test.sh installs them.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use pollux_testkit::{run_within, Server, TempRoot};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn helper(name: &str) -> PathBuf {
    root().join("tests/wsgi_real_apps").join(name)
}

/// Timing-sensitive tests run alone ([`alone`]); the others share ([`shared`]), so that Chromium
/// or Django's setup on a small machine cannot delay a streamed line by tens of milliseconds.
static TIMING: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|e| e.into_inner())
}

/// The virtualenv with Flask and Django: `scripts/python-env.sh target/wsgi-venv`, once per test
/// binary (the script is idempotent and returns at once when the venv is up to date).
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = root().join("target/wsgi-venv");
        let out = run_within(
            Command::new(root().join("scripts/python-env.sh")).arg(&dir),
            Duration::from_secs(600),
            "scripts/python-env.sh (needs python3 with the venv module and pip: Debian's python3 and \
             python3-venv, which scripts/test.sh must install; and PyPI reachable)",
        );
        assert!(
            out.status.success(),
            "scripts/python-env.sh {} failed ({}): it needs python3 with venv and pip (Debian: python3, \
             python3-venv; scripts/test.sh must install them) and PyPI reachable\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(Path::new(&printed), dir, "python-env.sh printed another path");
        dir
    })
}

/// The virtualenv's python (stdlib only is needed by the helper scripts).
fn venv_python() -> PathBuf {
    venv().join("bin/python")
}

/// `pollux serve --wsgi MODULE --pythonpath DIR --venv <venv>` plus `extra`, on one worker.
fn wsgi(module: &str, pythonpath: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Server {
    let mut cmd = Command::new(pollux_testkit::pollux_bin());
    cmd.args(["serve", "--wsgi", module, "--pythonpath"]).arg(pythonpath);
    cmd.arg("--venv").arg(venv());
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.args(extra);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    pollux_testkit::spawn(cmd)
}

fn flask() -> Server {
    wsgi("app", &root().join("examples/wsgi/flask_app"), &[], &[])
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A response as seen by a client program.
#[derive(Debug)]
struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    /// The one field named `name` (fails if absent or repeated).
    fn header(&self, name: &str) -> &str {
        let all: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(all.len(), 1, "want exactly one {name} field in {:?}", self.headers);
        all[0]
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

/// `curl -sS --max-time 20 ARGS URL`, the head and body kept apart.
fn curl(tmp: &Path, args: &[&str], url: &str) -> Got {
    let head = tmp.join("curl-head");
    let body = tmp.join("curl-body");
    let _ = std::fs::remove_file(&head);
    let _ = std::fs::remove_file(&body);
    let mut all: Vec<&str> = args.to_vec();
    let (h, b) = (head.to_str().unwrap(), body.to_str().unwrap());
    all.extend(["-D", h, "-o", b, url]);
    let out = pollux_testkit::curl(&all);
    assert!(
        out.status.success(),
        "curl {all:?} failed ({}; scripts/test.sh must install curl): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let heads = std::fs::read_to_string(&head).unwrap();
    // The final head: a large upload is preceded by `100 Continue` (curl sends Expect).
    let head = heads.split("\r\n\r\n").filter(|h| !h.is_empty()).last().unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "status line {status_line:?}");
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    Got { status, headers, body: std::fs::read(&body).unwrap_or_default() }
}

/// tests/wsgi_real_apps/client.py (Python's http.client) with `args`; its JSON report.
fn py_client(args: &[&str]) -> (Got, Value) {
    let out = run_within(
        Command::new(venv_python()).arg(helper("client.py")).args(args),
        Duration::from_secs(30),
        "tests/wsgi_real_apps/client.py",
    );
    assert!(out.status.success(), "client.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 11, "HTTP/1.1 answers");
    let headers = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect();
    let got = Got {
        status: v["status"].as_u64().unwrap() as u16,
        headers,
        body: unhex(v["body_hex"].as_str().unwrap()),
    };
    (got, v)
}

const CSS: &str = "examples/wsgi/flask_app/static/style.css";
const NOTES: &str = "examples/wsgi/flask_app/files/notes.txt";
const NI_HAO: &str = "\u{4f60}\u{597d}"; // 你好

/// The two seeded items, as the app starts with them.
fn seeded() -> Value {
    json!([{"id": 1, "name": "first item"}, {"id": 2, "name": "second item"}])
}

/// Checks every Flask route on a fresh server through `req(method, path, kind)`, where kind
/// is the request body: what a client program gets.
fn flask_routes(client: &str, req: &dyn Fn(&str, &str, Body<'_>) -> Got, tmp: &Path) {
    // / : the HTML page.
    let r = req("GET", "/", Body::None);
    assert_eq!(r.status, 200, "{client} /");
    assert_eq!(r.header("Content-Type"), "text/html; charset=utf-8");
    assert_eq!(r.header("Content-Length"), r.body.len().to_string());
    assert!(r.text().starts_with("<!doctype html>\n"), "{client} /: {}", r.text());
    assert!(r.text().contains("<title>Flask on pollux</title>"), "{client} /: {}", r.text());
    assert!(r.text().contains("<h1>Hello from Flask!</h1>"), "{client} /: {}", r.text());
    assert!(r.text().ends_with("</html>\n"));

    // /api/items: GET, POST (201), GET again.
    let r = req("GET", "/api/items", Body::None);
    assert_eq!((r.status, r.header("Content-Type")), (200, "application/json"), "{client}");
    assert_eq!(r.json(), seeded());
    let name = format!("from {client} {NI_HAO}");
    let r = req("POST", "/api/items", Body::Json(&json!({ "name": name }).to_string()));
    assert_eq!((r.status, r.header("Content-Type")), (201, "application/json"), "{client}: {}", r.text());
    assert_eq!(r.json(), json!({"id": 3, "name": name}));
    let r = req("GET", "/api/items", Body::None);
    let mut want = seeded();
    want.as_array_mut().unwrap().push(json!({"id": 3, "name": name}));
    assert_eq!(r.json(), want);
    let r = req("POST", "/api/items", Body::Json("{\"nope\": 1}"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"error": "expected a JSON object with a non-empty \"name\""}));

    // /form: a urlencoded UTF-8 form echoed as text/plain.
    let r = req("GET", "/form", Body::None);
    assert_eq!((r.status, r.header("Content-Type")), (200, "text/html; charset=utf-8"));
    assert!(r.text().contains("<form method=\"post\" action=\"/form\">"), "{}", r.text());
    let r = req("POST", "/form", Body::Form(&[("name", NI_HAO), ("comment", "a b&c=d")]));
    assert_eq!((r.status, r.header("Content-Type")), (200, "text/plain; charset=utf-8"), "{client}");
    assert_eq!(r.text(), format!("name={NI_HAO}\ncomment=a b&c=d\n"));

    // /upload: 3 MiB of every byte value, multipart.
    let data = pollux_testkit::byte_pattern(3 << 20, 7);
    let file = tmp.join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let r = req("POST", "/upload", Body::Multipart("file", &file));
    assert_eq!((r.status, r.header("Content-Type")), (200, "application/json"), "{client}: {}", r.text());
    assert_eq!(r.json(), json!({"filename": "upload.bin", "size": data.len(), "sha256": sha256_hex(&data)}));

    // /download/notes.txt: send_file, byte for byte.
    let notes = std::fs::read(root().join(NOTES)).unwrap();
    let r = req("GET", "/download/notes.txt", Body::None);
    assert_eq!(r.status, 200, "{client}");
    assert_eq!(r.body, notes, "{client}: /download/notes.txt differs from the file");
    assert_eq!(r.header("Content-Length"), notes.len().to_string());
    assert_eq!(r.header("Content-Type"), "text/plain; charset=utf-8");
    assert_eq!(r.header("Content-Disposition"), "attachment; filename=notes.txt");
    let r = req("GET", "/download/..%2fapp.py", Body::None);
    assert_eq!((r.status, r.text()), (404, "not found\n"), "{client}: no way out of files/");

    // /stream: the five lines (their timing: see the raw-socket test and client.py's chunks).
    let r = req("GET", "/stream", Body::None);
    assert_eq!((r.status, r.header("Content-Type")), (200, "text/plain; charset=utf-8"));
    assert_eq!(r.text(), "line 1\nline 2\nline 3\nline 4\nline 5\n");

    // /static/style.css: Flask's static route.
    let css = std::fs::read(root().join(CSS)).unwrap();
    let r = req("GET", "/static/style.css", Body::None);
    assert_eq!(r.status, 200, "{client}");
    assert_eq!(r.body, css, "{client}: /static/style.css differs from the file");
    assert_eq!(r.header("Content-Type"), "text/css; charset=utf-8");
    assert_eq!(r.header("Content-Length"), css.len().to_string());

    // Anything else: the app's 404.
    let r = req("GET", "/no/such/page", Body::None);
    assert_eq!((r.status, r.text()), (404, "not found\n"));
}

#[derive(Clone, Copy)]
enum Body<'a> {
    None,
    Json(&'a str),
    Form(&'a [(&'a str, &'a str)]),
    Multipart(&'a str, &'a Path),
}

#[test]
fn flask_every_route_through_curl() {
    let _shared = shared();
    let server = flask();
    let tmp = TempRoot::new("flask-curl");
    let base = format!("http://{}", server.addr);
    let req = |method: &str, path: &str, body: Body<'_>| -> Got {
        let url = format!("{base}{path}");
        let mut args: Vec<String> = vec!["-X".into(), method.into()];
        match body {
            Body::None => {}
            Body::Json(j) => args.extend([
                "-H".into(),
                "Content-Type: application/json".into(),
                "--data-binary".into(),
                j.into(),
            ]),
            Body::Form(fields) => {
                for (n, v) in fields {
                    args.extend(["--data-urlencode".into(), format!("{n}={v}")]);
                }
            }
            // Quoted: curl reads a comma in a bare file name as a list of files.
            Body::Multipart(field, path) => {
                args.extend(["-F".into(), format!("{field}=@\"{}\"", path.display())])
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        curl(&tmp.0, &args, &url)
    };
    flask_routes("curl", &req, &tmp.0);
}

#[test]
fn flask_every_route_through_python_http_client() {
    let _shared = shared();
    let server = flask();
    let tmp = TempRoot::new("flask-py");
    let base = format!("http://{}", server.addr);
    let req = |method: &str, path: &str, body: Body<'_>| -> Got {
        let url = format!("{base}{path}");
        let mut args: Vec<String> = vec![method.into(), url];
        match body {
            Body::None => {}
            Body::Json(j) => args.extend(["--json".into(), j.into()]),
            Body::Form(fields) => {
                for (n, v) in fields {
                    args.extend(["--form".into(), format!("{n}={v}")]);
                }
            }
            Body::Multipart(field, path) => {
                args.extend(["--multipart".into(), format!("{field}={}", path.display())])
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        py_client(&args).0
    };
    flask_routes("python", &req, &tmp.0);
}

/// /stream's lines arrive one by one, as the app yields them 0.1 s apart: on a raw socket
/// (when each `line N\n` first became visible) and through http.client's read1().
#[test]
fn flask_stream_lines_arrive_separately() {
    let _alone = alone();
    let server = flask();
    let mut s = pollux_testkit::connect(server.addr);
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut data = Vec::new();
    let mut seen: Vec<Instant> = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "/stream did not finish: {:?}", String::from_utf8_lossy(&data));
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let now = Instant::now();
        let text = String::from_utf8_lossy(&data).into_owned();
        while seen.len() < 5 && text.contains(&format!("line {}\n", seen.len() + 1)) {
            seen.push(now);
        }
    }
    let (rs, used) = pollux_testkit::parse_responses(&data, &[false]);
    assert_eq!((rs.len(), used), (1, data.len()), "{:?}", String::from_utf8_lossy(&data));
    assert_eq!(rs[0].status, 200);
    assert_eq!(rs[0].header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(rs[0].header("Content-Length"), None);
    assert_eq!(rs[0].text(), "line 1\nline 2\nline 3\nline 4\nline 5\n");
    // Each line is its own chunk on the wire.
    let head_end = pollux_testkit::find(&data, b"\r\n\r\n").unwrap() + 4;
    let wire = String::from_utf8_lossy(&data[head_end..]).into_owned();
    let want: String = (1..=5).map(|n| format!("7\r\nline {n}\n\r\n")).collect::<String>() + "0\r\n\r\n";
    assert_eq!(wire, want);
    assert_eq!(seen.len(), 5);
    let gaps: Vec<u128> = seen.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(gaps.iter().all(|&g| g >= 60), "lines must arrive separately, >= 60 ms apart: gaps {gaps:?} ms");

    // Python's http.client: read1() returns one chunk at most, so count the time too.
    let (r, v) = py_client(&["GET", &format!("http://{}/stream", server.addr)]);
    assert_eq!(r.header("Transfer-Encoding"), "chunked");
    assert_eq!(r.text(), "line 1\nline 2\nline 3\nline 4\nline 5\n");
    let chunks: Vec<(f64, u64)> = v["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_f64().unwrap(), c[1].as_u64().unwrap()))
        .collect();
    assert_eq!(chunks.iter().map(|c| c.1).collect::<Vec<_>>(), vec![7; 5], "one read per line: {chunks:?}");
    for w in chunks.windows(2) {
        assert!(w[1].0 - w[0].0 >= 60.0, "lines less than 60 ms apart: {chunks:?} (ms, bytes)");
    }
}

/// A Django project ready to serve: its database and STATIC_ROOT in a temporary directory,
/// filled by setup.sh (migrate, collectstatic, the superuser admin / pollux-admin).
struct Django {
    server: Server,
    tmp: TempRoot,
    static_root: PathBuf,
}

fn django() -> Django {
    let tmp = TempRoot::new("django");
    let db = tmp.0.join("db.sqlite3");
    let static_root = tmp.0.join("static");
    let out = run_within(
        Command::new(root().join("examples/wsgi/django_project/setup.sh"))
            .env("PYTHON", venv_python())
            .env("POLLUX_DJANGO_DB", &db)
            .env("POLLUX_DJANGO_STATIC", &static_root)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(120),
        "examples/wsgi/django_project/setup.sh",
    );
    assert!(
        out.status.success(),
        "setup.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        static_root.join("admin/css/base.css").is_file(),
        "collectstatic filled {}",
        static_root.display()
    );
    let statics = format!("/static={}", static_root.display());
    let server = wsgi(
        "mysite.wsgi",
        &root().join("examples/wsgi/django_project"),
        &["--static", &statics],
        &[("POLLUX_DJANGO_DB", &db), ("POLLUX_DJANGO_STATIC", &static_root)],
    );
    Django { server, tmp, static_root }
}

/// One request on a fresh connection; the response and its raw head (field lines as sent).
fn raw_request(addr: SocketAddr, raw: &str) -> (pollux_testkit::Resp, String) {
    let data = pollux_testkit::exchange(addr, raw.as_bytes());
    let end = pollux_testkit::find(&data, b"\r\n\r\n").unwrap_or_else(|| panic!("no head: {data:?}"));
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let (rs, _) = pollux_testkit::parse_responses(&data, &[raw.starts_with("HEAD ")]);
    (rs.into_iter().next().unwrap(), head)
}

/// The `Set-Cookie` field lines of a raw head, each checked to be `set-cookie: NAME=...` with
/// exactly one space after the colon; returns `(name, value-up-to-';')`.
fn set_cookies(head: &str) -> Vec<(String, String)> {
    head.split("\r\n")
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .map(|l| {
            let v = &l["set-cookie:".len()..];
            assert!(v.starts_with(' ') && !v[1..].starts_with([' ', '\t']), "leading white space in {l:?}");
            let (name, rest) = v[1..].split_once('=').unwrap_or_else(|| panic!("no NAME= in {l:?}"));
            assert!(!name.is_empty() && !name.contains([' ', ';']), "bad cookie name in {l:?}");
            (name.to_owned(), rest.split(';').next().unwrap().to_owned())
        })
        .collect()
}

/// GET /admin/login/, then POST the form with the csrftoken cookie and the form's token:
/// returns the session id (after checking the 302 and its two cookies).
fn django_login(addr: SocketAddr) -> String {
    let (r, head) = raw_request(
        addr,
        "GET /admin/login/?next=/admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cookies = set_cookies(&head);
    assert_eq!(cookies.len(), 1, "{head}");
    assert_eq!(cookies[0].0, "csrftoken", "{head}");
    let csrf_cookie = cookies[0].1.clone();
    assert_eq!(csrf_cookie.len(), 32, "csrftoken {csrf_cookie:?}");
    let html = r.text();
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let i = html.find(marker).unwrap_or_else(|| panic!("no csrfmiddlewaretoken in the form:\n{html}"))
        + marker.len();
    let form_token = &html[i..i + html[i..].find('"').unwrap()];
    assert_eq!(form_token.len(), 64, "csrfmiddlewaretoken {form_token:?}");

    let body =
        format!("csrfmiddlewaretoken={form_token}&username=admin&password=pollux-admin&next=%2Fadmin%2F");
    let raw = format!(
        "POST /admin/login/?next=/admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Cookie: csrftoken={csrf_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (r, head) = raw_request(addr, &raw);
    assert_eq!(r.status, 302, "login refused:\n{head}\n{}", r.text());
    assert_eq!(r.header("Location"), Some("/admin/"));
    let cookies = set_cookies(&head);
    let names: Vec<&str> = cookies.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names.len(), 2, "two Set-Cookie fields: {head}");
    assert!(names.contains(&"csrftoken") && names.contains(&"sessionid"), "{head}");
    let session = cookies.iter().find(|c| c.0 == "sessionid").unwrap().1.clone();
    assert_eq!(session.len(), 32, "sessionid {session:?}");
    session
}

#[test]
fn django_home_admin_login_and_static_files() {
    let _shared = shared();
    let dj = django();
    let addr = dj.server.addr;

    let r = pollux_testkit::get_with(addr, "/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("<title>Django on pollux</title>"), "{}", r.text());
    assert!(r.text().contains("<h1>Hello from Django 5.2.20!</h1>"), "{}", r.text());

    // Logged out, the admin redirects to its login page.
    let r = pollux_testkit::get_with(addr, "/admin/", &[]);
    assert_eq!((r.status, r.header("Location")), (302, Some("/admin/login/?next=/admin/")));

    let session = django_login(addr);
    let r = pollux_testkit::get_with(addr, "/admin/", &[("Cookie", &format!("sessionid={session}"))]);
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("<title>Site administration | Django site admin</title>"), "{html}");
    assert!(html.contains("Site administration"), "{html}");
    assert!(html.contains("<strong>admin</strong>"), "the page greets the user: {html}");

    // The admin's static files, from STATIC_ROOT through --static (Django does not serve them).
    for file in ["admin/css/base.css", "admin/js/theme.js", "admin/img/icon-addlink.svg"] {
        let want = std::fs::read(dj.static_root.join(file)).unwrap();
        let r = pollux_testkit::get_with(addr, &format!("/static/{file}"), &[]);
        assert_eq!(r.status, 200, "/static/{file}");
        assert_eq!(r.body, want, "/static/{file} differs from the collected file");
        assert_eq!(r.header("Content-Length"), Some(want.len().to_string().as_str()));
    }
    let r = pollux_testkit::get_with(addr, "/static/admin/css/base.css", &[]);
    assert!(r.header("Content-Type").unwrap().starts_with("text/css"), "{:?}", r.headers);
    let r = pollux_testkit::get_with(addr, "/static/admin/css/no-such.css", &[]);
    assert_eq!(r.status, 404);
}

#[test]
fn django_admin_in_headless_chromium() {
    let _shared = shared();
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "/usr/bin/chromium is missing: scripts/test.sh must install Debian's chromium package"
    );
    let dj = django();
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("django-admin.png");
    let _ = std::fs::remove_file(&png);
    let profile = dj.tmp.0.join("chromium-profile");
    let base = format!("http://{}", dj.server.addr);
    let out = run_within(
        Command::new(venv_python())
            .arg(helper("admin_screenshot.py"))
            .arg(chromium)
            .arg(&base)
            .args(["admin", "pollux-admin"])
            .arg(&png)
            .arg(&profile)
            .arg("60"),
        Duration::from_secs(90),
        "tests/wsgi_real_apps/admin_screenshot.py (headless chromium)",
    );
    assert!(out.status.success(), "admin_screenshot.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["login_title"], "Log in | Django site admin");
    assert_eq!(page["url"], format!("{base}/admin/"), "{page}");
    assert_eq!(page["title"], "Site administration | Django site admin");
    let text = page["text"].as_str().unwrap();
    assert!(text.contains("Site administration"), "{text}");
    assert!(text.to_uppercase().contains("WELCOME, ADMIN"), "{text}");
    // The admin's CSS was applied (the header's colour comes from base.css), and every
    // resource the page loaded came back 200.
    assert_eq!(page["header_bg"], "rgb(65, 118, 144)", "{page}");
    let resources = page["resources"].as_array().unwrap();
    assert!(resources.iter().any(|r| r[0] == format!("{base}/static/admin/css/base.css")), "{resources:?}");
    for r in resources {
        assert_eq!(r[1], 200, "{r}");
    }

    let data = std::fs::read(&png).unwrap();
    assert!(data.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&data[12..16], b"IHDR");
    let width = u32::from_be_bytes(data[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(data[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 800));
    assert!(data.len() > 10_000, "screenshot only {} bytes", data.len());
    assert!(data.ends_with(b"IEND\xaeB`\x82"), "truncated PNG");
}

/// `time.ctime()` of `secs` since the epoch, in UTC: "Mon Dec  7 14:05:35 2026".
fn ctime_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let (year, month, d) = pollux_server::civil_from_days(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        [month as usize - 1];
    format!("{wd} {mon} {d:>2} {h:02}:{m:02}:{s:02} {year}")
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn the_notes_framework_app_natively() {
    let _shared = shared();
    let dir = root().join("examples/cgi/wsgi");
    let mut cmd = Command::new(pollux_testkit::pollux_bin());
    cmd.args(["serve", "--wsgi", "app", "--pythonpath"]).arg(&dir);
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").env("TZ", "UTC").env_remove("VIRTUAL_ENV");
    let server = pollux_testkit::spawn(cmd);
    let tmp = TempRoot::new("framework");
    let base = format!("http://{}", server.addr);

    let r = curl(&tmp.0, &[], &format!("{base}/"));
    assert_eq!(
        (r.status, r.header("Content-Type"), r.text()),
        (200, "text/plain; charset=utf-8", "Hello World!\n")
    );

    let before = now_secs();
    let r = curl(&tmp.0, &[], &format!("{base}/ctime"));
    let after = now_secs();
    assert_eq!((r.status, r.header("Content-Type")), (200, "text/plain; charset=utf-8"));
    let told = r.text();
    assert!(
        (before..=after).any(|t| told == format!("{}\n", ctime_utc(t))),
        "/ctime said {told:?}; the time was {:?}",
        ctime_utc(before)
    );

    let r = curl(&tmp.0, &[], &format!("{base}/x"));
    assert_eq!(
        (r.status, r.header("Content-Type"), r.text()),
        (404, "text/plain; charset=utf-8", "not found\n")
    );

    // The same through Python's client.
    let (r, _) = py_client(&["GET", &format!("{base}/")]);
    assert_eq!((r.status, r.text()), (200, "Hello World!\n"));
    let (r, _) = py_client(&["GET", &format!("{base}/x")]);
    assert_eq!((r.status, r.text()), (404, "not found\n"));
}

#[test]
fn ctime_utc_formats_like_python() {
    assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970");
    assert_eq!(ctime_utc(1_796_652_335), "Mon Dec  7 14:05:35 2026");
    assert_eq!(ctime_utc(951_782_400), "Tue Feb 29 00:00:00 2000");
}
