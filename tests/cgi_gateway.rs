//! The CGI gateway through the real binary: the meta-variables a script sees, query strings and
//! forms, the response kinds of RFC 3875 §6 (document, local and client redirect, NPH), broken
//! scripts, and the WSGI example. After every test the server has no zombie children.

use std::io::Read;
use std::path::PathBuf;

use pollux_testkit::{
    assert_no_zombies, curl, env_map, exchange, parse_responses, send, write_scripts, TempRoot,
};

/// A site root and a CGI directory of scripts, served with `--cgi /cgi-bin=DIR`.
struct Site {
    server: pollux_testkit::Server,
    root: TempRoot,
    _bin: TempRoot,
}

impl Site {
    fn port(&self) -> u16 {
        self.server.addr.port()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        assert_no_zombies(self.server.child.id());
    }
}

const ENV: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n";

fn site(scripts: &[(&str, &str)], extra: &[&str]) -> Site {
    let root = TempRoot::new("cgi-www");
    let bin = TempRoot::new("cgi-bin");
    write_scripts(&bin.0, scripts);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let mut args = vec!["--cgi", spec.as_str()];
    args.extend_from_slice(extra);
    let server = pollux_testkit::serve(&root.0, &args);
    Site { server, root, _bin: bin }
}

#[test]
fn every_meta_variable_as_the_script_sees_it() {
    let s = site(&[("env.sh", ENV)], &[]);
    let port = s.port();
    // Raw bytes, so every field is ours: a Proxy field (httpoxy), a custom field, a body.
    let raw = format!(
        "POST /cgi-bin/env.sh/extra/path?a=1&b=%20c HTTP/1.1\r\nHost: localhost:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\
         X-Custom-Field: v1\r\nX-Custom-Field: v2\r\nProxy: http://evil.example:3128\r\n\
         Authorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\nabc"
    );
    let mut c = pollux_testkit::connect(s.server.addr);
    let client_port = c.local_addr().expect("local").port();
    std::io::Write::write_all(&mut c, raw.as_bytes()).expect("write");
    let data = pollux_testkit::read_all(&mut c, std::time::Duration::from_secs(10));
    let (rs, _) = parse_responses(&data, &[false]);
    assert_eq!(rs[0].status, 200, "{}", String::from_utf8_lossy(&data));
    let env = env_map(&rs[0].body);
    let root = std::fs::canonicalize(&s.root.0).expect("canonical root");
    let root = root.to_str().expect("utf-8 root");
    let expect = [
        ("GATEWAY_INTERFACE", "CGI/1.1".to_owned()),
        ("SERVER_PROTOCOL", "HTTP/1.1".to_owned()),
        ("SERVER_NAME", "localhost".to_owned()),
        ("SERVER_PORT", port.to_string()),
        ("REQUEST_METHOD", "POST".to_owned()),
        ("SCRIPT_NAME", "/cgi-bin/env.sh".to_owned()),
        ("PATH_INFO", "/extra/path".to_owned()),
        ("PATH_TRANSLATED", format!("{root}/extra/path")),
        ("QUERY_STRING", "a=1&b=%20c".to_owned()),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded".to_owned()),
        ("CONTENT_LENGTH", "3".to_owned()),
        ("REMOTE_ADDR", "127.0.0.1".to_owned()),
        ("REMOTE_PORT", client_port.to_string()),
        ("REQUEST_URI", "/cgi-bin/env.sh/extra/path?a=1&b=%20c".to_owned()),
        ("DOCUMENT_ROOT", root.to_owned()),
        ("HTTP_HOST", format!("localhost:{port}")),
        ("HTTP_X_CUSTOM_FIELD", "v1, v2".to_owned()),
    ];
    for (name, value) in expect {
        assert_eq!(env.get(name), Some(&value), "{name} in {env:#?}");
    }
    assert!(env.get("SERVER_SOFTWARE").is_some_and(|v| v.starts_with("pollux/")), "{env:#?}");
    assert!(env.get("SCRIPT_FILENAME").is_some_and(|v| v.ends_with("/env.sh")), "{env:#?}");
    // httpoxy, credentials, connection fields, and no HTTPS on plain TCP.
    for absent in ["HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_CONNECTION", "HTTP_CONTENT_LENGTH", "HTTPS"] {
        assert!(!env.contains_key(absent), "{absent} in {env:#?}");
    }
}

#[test]
fn nothing_of_the_servers_environment_reaches_a_script() {
    let root = TempRoot::new("cgi-www");
    let bin = TempRoot::new("cgi-bin");
    write_scripts(&bin.0, &[("env.sh", ENV)]);
    let mut cmd = std::process::Command::new(pollux_testkit::pollux_bin());
    cmd.env("POLLUX_TEST_SECRET", "hunter2").env("http_proxy", "http://leak:1");
    cmd.arg("serve").arg(&root.0).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.arg("--cgi").arg(format!("/cgi-bin={}", bin.0.display()));
    let server = pollux_testkit::spawn(cmd);
    let r = send(server.addr, "GET", "/cgi-bin/env.sh", &[]);
    let env = env_map(&r.body);
    assert!(!env.contains_key("POLLUX_TEST_SECRET") && !env.contains_key("http_proxy"), "{env:#?}");
    // PATH is the server's own (issue 19: a virtualenv's python3 must be found).
    assert_eq!(env.get("PATH").cloned(), std::env::var("PATH").ok());
    // No body: no CONTENT_LENGTH, no CONTENT_TYPE.
    assert!(!env.contains_key("CONTENT_LENGTH") && !env.contains_key("CONTENT_TYPE"), "{env:#?}");
    assert_no_zombies(server.child.id());
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cgi")
}

/// `pollux serve examples/static --cgi /cgi-bin=examples/cgi/cgi-bin`.
fn example_server() -> pollux_testkit::Server {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/static");
    let spec = format!("/cgi-bin={}", examples().join("cgi-bin").display());
    pollux_testkit::serve(&root, &["--cgi", &spec])
}

#[test]
fn get_with_a_query_and_post_with_a_form_through_curl() {
    let server = example_server();
    let base = format!("http://{}/cgi-bin/form.py", server.addr);
    let out = curl(&[&format!("{base}?name=J%C3%BCrgen%20%3Cb%3E")]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(r#"value="Jürgen &lt;b&gt;""#), "{page}");
    let out = curl(&["-d", "name=Ada+L&comment=x%26y%3Dz", &base]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains("<li>name=Ada L</li>") && page.contains("<li>comment=x&amp;y=z</li>"), "{page}");
    // A form in a chunked body reaches the script with its CONTENT_LENGTH.
    let out = curl(&["-H", "Transfer-Encoding: chunked", "-d", "name=chunky", &base]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains("<li>name=chunky</li>"), "{page}");
    let out = curl(&["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", &base]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "405");
    assert_no_zombies(server.child.id());
}

#[test]
fn the_wsgi_example_runs_through_cgihandler() {
    let server = example_server();
    let url = |p: &str| format!("http://{}/cgi-bin/wsgi.py{p}", server.addr);
    assert_eq!(String::from_utf8_lossy(&curl(&[&url("")]).stdout), "Hello World!\n");
    assert_eq!(String::from_utf8_lossy(&curl(&[&url("/")]).stdout), "Hello World!\n");
    let year = String::from_utf8_lossy(&curl(&[&url("/ctime")]).stdout).into_owned();
    assert!(
        year.trim_end().rsplit(' ').next().is_some_and(|y| y.len() == 4 && y.starts_with("20")),
        "{year}"
    );
    let r = send(server.addr, "GET", "/cgi-bin/wsgi.py/nope", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "not found\n"));
    let r = send(server.addr, "GET", "/cgi-bin/hello.sh", &[]);
    assert_eq!((r.status, r.text().as_str(), r.header("content-type")), (200, "hello\n", Some("text/plain")));
    // Static files beside the scripts are still served.
    assert_eq!(send(server.addr, "GET", "/", &[]).status, 200);
    assert_no_zombies(server.child.id());
}

#[test]
fn local_and_client_redirects() {
    let s = site(
        &[
            ("env.sh", ENV),
            ("local.sh", "#!/bin/sh\nprintf 'Location: /index.html\\n\\n'\n"),
            (
                "to-script.sh",
                "#!/bin/sh\ncat >/dev/null\nprintf 'Location: /cgi-bin/env.sh/p?from=redirect\\n\\n'\n",
            ),
            ("client.sh", "#!/bin/sh\nprintf 'Location: http://example.com/there\\n\\n'\n"),
            ("loop.sh", "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n"),
        ],
        &[],
    );
    let r = send(s.server.addr, "GET", "/cgi-bin/local.sh", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>hello</h1>\n"));
    // Re-dispatched as a GET without the body, with the new path and query.
    let r = pollux_testkit::send_body(s.server.addr, "POST", "/cgi-bin/to-script.sh", "text/plain", b"data");
    let env = env_map(&r.body);
    assert_eq!(env.get("REQUEST_METHOD").map(String::as_str), Some("GET"));
    assert_eq!(env.get("QUERY_STRING").map(String::as_str), Some("from=redirect"));
    assert_eq!(env.get("PATH_INFO").map(String::as_str), Some("/p"));
    assert!(!env.contains_key("CONTENT_LENGTH"), "{env:#?}");
    let r = send(s.server.addr, "GET", "/cgi-bin/client.sh", &[]);
    assert_eq!((r.status, r.header("location")), (302, Some("http://example.com/there")));
    // A script redirecting to itself ends, with 500, instead of looping.
    let r = send(s.server.addr, "GET", "/cgi-bin/loop.sh", &[]);
    assert_eq!(r.status, 500);
}

#[test]
fn nph_scripts_write_the_whole_response() {
    let nph = "#!/bin/sh\nprintf 'HTTP/1.1 203 Non-Authoritative Information\\r\\nContent-Type: text/plain\\r\\nX-Nph: yes\\r\\n\\r\\nraw body\\n'\n";
    let s = site(&[("nph-raw.sh", nph)], &[]);
    // Keep-alive asked for, but after a response the server cannot frame it must close.
    let data = exchange(s.server.addr, b"GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 203 Non-Authoritative Information\r\n"), "{text}");
    assert!(text.contains("X-Nph: yes\r\n") && text.ends_with("\r\n\r\nraw body\n"), "{text}");
    assert!(!text.contains("Server: pollux"), "{text}");
}

#[test]
fn broken_scripts_are_502_and_their_stderr_is_logged() {
    let s = site(
        &[
            ("crash.sh", "#!/bin/sh\necho 'about to crash' >&2\nkill -SEGV $$\n"),
            ("silent.sh", "#!/bin/sh\nexit 0\n"),
            ("garbage.sh", "#!/bin/sh\necho 'this is not a header block'\necho\n"),
            ("unfinished.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n'\n"),
            (
                "status.sh",
                "#!/bin/sh\nprintf 'Status: 418 Teapot\\nContent-Type: text/plain\\n\\nshort and stout\\n'\n",
            ),
        ],
        &[],
    );
    for script in ["crash.sh", "silent.sh", "garbage.sh", "unfinished.sh"] {
        let r = send(s.server.addr, "GET", &format!("/cgi-bin/{script}"), &[]);
        assert_eq!(r.status, 502, "{script}");
    }
    let r = send(s.server.addr, "GET", "/cgi-bin/status.sh", &[]);
    assert_eq!((r.status, r.text().as_str()), (418, "short and stout\n"));
    // Not executable: our setup's fault, 500. Missing: 404.
    let bin = s._bin.0.clone();
    std::fs::write(bin.join("plain.txt"), "#!/bin/sh\n").expect("write");
    assert_eq!(send(s.server.addr, "GET", "/cgi-bin/plain.txt", &[]).status, 500);
    assert_eq!(send(s.server.addr, "GET", "/cgi-bin/missing.sh", &[]).status, 404);
    // The crash's stderr line went to the server's stderr with the script's name.
    let mut s = s;
    let mut stderr = s.server.stderr.take().expect("stderr");
    let pid = s.server.child.id();
    assert_no_zombies(pid);
    let _ = s.server.child.kill();
    let mut log = String::new();
    let _ = stderr.read_to_string(&mut log);
    assert!(log.contains("cgi /cgi-bin/crash.sh: about to crash"), "{log}");
    assert!(log.contains("cgi /cgi-bin/crash.sh: the script produced no output"), "{log}");
}

#[test]
fn scripts_by_extension_under_the_root() {
    let root = TempRoot::new("cgi-ext");
    write_scripts(&root.0, &[("app.py", "#!/usr/bin/env python3\nimport os\nprint('Content-Type: text/plain\\n')\nprint(os.environ['SCRIPT_NAME'], os.environ['PATH_INFO'])\n")]);
    let server = pollux_testkit::serve(&root.0, &["--cgi-ext", ".py"]);
    let r = send(server.addr, "GET", "/app.py/x/y", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "/app.py /x/y\n"));
    assert_eq!(send(server.addr, "GET", "/index.html", &[]).text(), "<h1>hello</h1>\n");
    assert_no_zombies(server.child.id());
}
