//! A person's habits, against the real binary: `-p PORT` as `python -m http.server` and
//! miniserve users type it, a named directory without index.html listed as those tools list
//! it (and what plain `pollux serve` says instead), response field names in one case.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::Command;

use pollux_testkit::{get_with, pollux_bin, serve, spawn, Server, TempRoot};

/// A loopback TCP port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

fn pollux_serve(dir: &std::path::Path, args: &[&str]) -> Server {
    let mut cmd = Command::new(pollux_bin());
    cmd.current_dir(dir).arg("serve").args(args).args(["--workers", "1", "--access-log", "off"]);
    spawn(cmd)
}

#[test]
fn dash_p_is_the_port_on_loopback_or_on_the_bind_host() {
    let tmp = TempRoot::new("dash-p");
    let port = free_port();
    let server = pollux_serve(&tmp.0, &["-p", &port.to_string()]);
    assert_eq!(server.addr, format!("127.0.0.1:{port}").parse().unwrap());
    assert_eq!(get_with(server.addr, "/", &[]).text(), "<h1>hello</h1>\n");
    drop(server);
    let port = free_port();
    let server = pollux_serve(&tmp.0, &["--bind", "127.0.0.1", "--port", &port.to_string()]);
    assert_eq!(server.addr.port(), port, "--bind HOST takes -p's port");
    drop(server);
    let out = Command::new(pollux_bin())
        .args(["serve", "--bind", "127.0.0.1:9", "-p", "8080", "--dump-options"])
        .output()
        .unwrap();
    assert!(out.status.success(), "the dump does not resolve addresses");
    let mut cmd = Command::new(pollux_bin());
    let out = pollux_testkit::run_within(
        cmd.current_dir(&tmp.0).args(["serve", "--bind", "127.0.0.1:1", "-p", "8080"]),
        std::time::Duration::from_secs(10),
        "pollux serve",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("both give a port"), "{err}");
}

#[test]
fn a_named_directory_without_index_is_listed_by_default() {
    let tmp = TempRoot::empty("listed");
    std::fs::write(tmp.0.join("notes.txt"), "n\n").unwrap();
    std::fs::create_dir(tmp.0.join("sub")).unwrap();
    let server = serve(&tmp.0, &[]);
    let r = get_with(server.addr, "/", &[]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("notes.txt") && r.text().contains("sub/"), "{}", r.text());
    let server = serve(&tmp.0, &["--no-listing"]);
    let r = get_with(server.addr, "/", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "404 Not Found\n"));
    // The last of --listing and --no-listing wins (a command line overriding a file's choice).
    let server = serve(&tmp.0, &["--no-listing", "--listing"]);
    assert_eq!(get_with(server.addr, "/", &[]).status, 200);
}

#[test]
fn plain_pollux_serve_says_how_to_list() {
    let tmp = TempRoot::empty("hint");
    std::fs::write(tmp.0.join("notes.txt"), "n\n").unwrap();
    let server = pollux_serve(&tmp.0, &["--bind", "127.0.0.1:0"]);
    let r = get_with(server.addr, "/", &[]);
    assert_eq!(r.status, 404, "the current directory is not listed unless asked");
    let text = r.text();
    assert!(
        text.contains("no index.html") && text.contains("pollux serve .") && text.contains("--listing"),
        "{text}"
    );
    assert!(!text.contains("notes.txt"), "{text}");
    let server = pollux_serve(&tmp.0, &["--bind", "127.0.0.1:0", "--listing"]);
    assert!(get_with(server.addr, "/", &[]).text().contains("notes.txt"));
    // A missing file is the plain page, whatever the directory.
    let server = pollux_serve(&tmp.0, &["--bind", "127.0.0.1:0"]);
    assert_eq!(get_with(server.addr, "/missing", &[]).text(), "404 Not Found\n");
}

/// The field names of a head as curl prints them (`-D -`), status line left out.
fn names(head: &str) -> Vec<String> {
    head.lines().skip(1).filter_map(|l| l.split_once(':')).map(|(n, _)| n.to_owned()).collect()
}

#[test]
fn field_names_are_title_case_on_http1_and_lowercase_on_http2() {
    let tmp = TempRoot::new("title-case");
    std::fs::write(tmp.0.join("a.txt"), "alpha\n").unwrap();
    let server = serve(&tmp.0, &[]);
    let url = format!("http://{}/a.txt", server.addr);
    let out = pollux_testkit::curl(&["-sS", "--http1.1", "-D", "-", "-o", "/dev/null", &url]);
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    let got = names(&head);
    for want in [
        "Content-Type",
        "ETag",
        "Last-Modified",
        "Server",
        "Date",
        "Content-Length",
        "X-Content-Type-Options",
    ] {
        assert!(got.iter().any(|n| n == want), "{want} missing (one case for every name):\n{head}");
    }
    let title = |n: &str| n.split('-').all(|w| w.starts_with(|c: char| c.is_ascii_uppercase()));
    assert!(got.iter().all(|n| title(n)), "{head}");
    // HTTP/2 requires lowercase names (RFC 9113 §8.2.1).
    let out = pollux_testkit::curl(&["-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", &url]);
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    let got = names(&head);
    assert!(got.iter().any(|n| n == "content-type"), "{head}");
    assert!(got.iter().all(|n| *n == n.to_ascii_lowercase()), "{head}");
}
