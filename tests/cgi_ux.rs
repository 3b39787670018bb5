//! CGI mistakes a newcomer makes, and what the server says: a script run from a virtualenv
//! finds the virtualenv's interpreter (the server passes its PATH), a script without its
//! execute bit gets a `chmod +x` hint in the log, and garbage output shows the offending line.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use pollux_testkit::{pollux_bin, spawn, write_scripts, TempRoot};

fn cgi_server(
    bin: &std::path::Path,
    path: Option<&str>,
) -> (pollux_testkit::Server, std::io::Lines<BufReader<std::process::ChildStderr>>) {
    let root = bin.parent().expect("parent");
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(root).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.arg("--cgi").arg(format!("/cgi-bin={}", bin.display()));
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut server = spawn(cmd);
    let log = BufReader::new(server.stderr.take().expect("stderr")).lines();
    (server, log)
}

#[test]
fn env_python3_is_the_python_of_the_servers_path() {
    let root = TempRoot::new("cgi-venv");
    // A stand-in for a virtualenv: its bin/python3 says who it is.
    let venv = root.0.join("venv/bin");
    write_scripts(
        &venv,
        &[("python3", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nvenv python3\\n'\n")],
    );
    let bin = root.0.join("cgi");
    write_scripts(&bin, &[("app.py", "#!/usr/bin/env python3\nthis is not run by the system python\n")]);
    let path = format!("{}:{}", venv.display(), std::env::var("PATH").unwrap_or_default());
    let (server, _log) = cgi_server(&bin, Some(&path));
    let r = pollux_testkit::get_with(server.addr, "/cgi-bin/app.py", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "venv python3\n"));
}

#[test]
fn a_script_without_its_execute_bit_is_a_chmod_hint() {
    let root = TempRoot::new("cgi-noexec");
    let bin = root.0.join("cgi");
    write_scripts(&bin, &[("hello.sh", "#!/bin/sh\necho\necho hi\n")]);
    let file = bin.join("hello.sh");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // As root, execve still needs an execute bit on a regular file: the check holds in CI.
    let (server, mut log) = cgi_server(&bin, None);
    let r = pollux_testkit::get_with(server.addr, "/cgi-bin/hello.sh", &[]);
    assert_eq!(r.status, 500);
    let line = log.next().expect("a log line").expect("stderr");
    assert!(line.ends_with(&format!("is it executable? chmod +x {}", file.display())), "{line}");
}

#[test]
fn garbage_output_shows_the_line_in_the_log() {
    let root = TempRoot::new("cgi-garbage");
    let bin = root.0.join("cgi");
    write_scripts(
        &bin,
        &[("bad.sh", "#!/bin/sh\nprintf 'Traceback (most recent call last)\\033[0m\\n\\n'\n")],
    );
    let (server, mut log) = cgi_server(&bin, None);
    let r = pollux_testkit::get_with(server.addr, "/cgi-bin/bad.sh", &[]);
    assert_eq!(r.status, 502);
    let line = log.next().expect("a log line").expect("stderr");
    assert_eq!(
        line,
        "pollux: cgi /cgi-bin/bad.sh: a header line has no colon: \"Traceback (most recent call last)\\x1b[0m\""
    );
}
