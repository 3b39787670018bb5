//! The command line's mistakes, as a newcomer makes them: every error is one line
//! `pollux: what failed: why[; hint]`, with no backtrace and no repeated cause, and the
//! address forms users bring from other tools are understood or explained.

use std::process::{Command, Output};

use pollux_testkit::{pollux_bin, spawn, TempRoot};

fn pollux(args: &[&str]) -> Output {
    Command::new(pollux_bin())
        .args(args)
        .env("RUST_BACKTRACE", "full")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .expect("run pollux")
}

/// The one stderr line of a failed run.
fn error_line(args: &[&str]) -> String {
    let out = pollux(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
    assert!(err.starts_with("pollux: "), "{err}");
    assert!(!err.contains("backtrace") && !err.contains("Caused by"), "{err}");
    err.trim_end().to_owned()
}

/// Runs `pollux` as an unprivileged user, when we are root (as in CI): root may bind any port
/// and read any directory, so the mistakes these tests pin down would not happen.
fn unprivileged(args: &[&str]) -> Output {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(pollux_bin());
        c
    } else {
        Command::new(pollux_bin())
    };
    cmd.args(args).env("RUST_BACKTRACE", "1").output().expect("run setpriv (util-linux)")
}

#[test]
fn errors_are_one_line_whatever_rust_backtrace_says() {
    let e = error_line(&["serve", "/nonexistent/pollux-root"]);
    assert_eq!(e, "pollux: cannot serve /nonexistent/pollux-root: No such file or directory (os error 2)");
    // A usage error too, with clap's tip kept.
    let e = error_line(&["serve", "--bnd", "1"]);
    assert!(e.contains("--bnd") && e.contains("tip: a similar argument exists: '--bind'"), "{e}");
    assert_eq!(pollux(&["serve", "--bnd", "1"]).status.code(), Some(2));
}

#[test]
fn a_port_where_root_goes_hints_at_bind() {
    let e = error_line(&["serve", "8080"]);
    assert!(e.contains("cannot serve 8080"), "{e}");
    assert!(
        e.ends_with("did you mean --bind 127.0.0.1:8080 (or --bind 0.0.0.0:8080 to share on the LAN)?"),
        "{e}"
    );
    // A directory named 8080 is a ROOT like any other.
    let root = TempRoot::new("port-named-dir");
    std::fs::create_dir(root.0.join("8080")).expect("mkdir");
    std::fs::write(root.0.join("8080/index.html"), "eighty\n").expect("write");
    let mut cmd = Command::new(pollux_bin());
    cmd.current_dir(&root.0).args(["serve", "8080", "--bind", "127.0.0.1:0", "--access-log", "off"]);
    let server = spawn(cmd);
    assert_eq!(pollux_testkit::get_with(server.addr, "/", &[]).text(), "eighty\n");
}

#[test]
fn bind_takes_host_port_host_or_port() {
    let root = TempRoot::new("bind-forms");
    // `0` and `:0`: the default host (loopback) with that port; `localhost:0`: resolved.
    for bind in ["0", ":0", "localhost:0", "127.0.0.1:0", "[::1]:0"] {
        let mut cmd = Command::new(pollux_bin());
        cmd.args(["serve"]).arg(&root.0).args(["--bind", bind, "--access-log", "off", "--workers", "1"]);
        let server = spawn(cmd);
        assert!(server.addr.ip().is_loopback(), "{bind}: {}", server.addr);
        assert_eq!(pollux_testkit::get_with(server.addr, "/", &[]).status, 200, "{bind}");
    }
}

#[test]
fn a_bad_address_shows_the_accepted_forms() {
    let e = error_line(&["serve", "--bind", "http://x:80"]);
    assert!(e.contains("'http://x:80' is not an address: use HOST:PORT, HOST or PORT"), "{e}");
    let e = error_line(&["echo", "--bind", "1.2.3.4:99999"]);
    assert!(e.contains("the port must be 0-65535"), "{e}");
}

#[test]
fn udp_send_without_a_port_says_so() {
    let e = error_line(&["udp", "send", "127.0.0.1", "hello"]);
    assert_eq!(e, "pollux: 127.0.0.1 has no port: write HOST:PORT, e.g. 127.0.0.1:9999");
}

#[test]
fn udp_listen_takes_bind_like_the_others() {
    let out = pollux(&["udp", "listen", "--bind", "127.0.0.1:0", "--count", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("udp://127.0.0.1:"));
    let e = error_line(&["udp", "listen", "--count", "0"]);
    assert!(e.contains("no port to listen on"), "{e}");
}

#[test]
fn a_privileged_port_names_the_address_and_the_capability() {
    let out = unprivileged(&["serve", "/", "--bind", "127.0.0.1:80"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        err.trim_end(),
        "pollux: cannot listen on 127.0.0.1:80: Permission denied (os error 13); \
         ports below 1024 need root or CAP_NET_BIND_SERVICE"
    );
    let out = unprivileged(&["tftp", "serve", "/", "--bind", "127.0.0.1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:69") && err.contains("CAP_NET_BIND_SERVICE"), "{err}");
}

#[test]
fn a_bad_access_log_path_is_named() {
    let e = error_line(&["serve", "/", "--bind", "127.0.0.1:0", "--access-log", "/nonexistent/dir/log"]);
    assert_eq!(
        e,
        "pollux: cannot open the access log /nonexistent/dir/log: No such file or directory (os error 2)"
    );
}

#[test]
fn zero_workers_are_refused() {
    for cmd in [
        &["serve", "--workers", "0"][..],
        &["echo", "--workers", "0"],
        &["tftp", "serve", ".", "--workers", "0"],
    ] {
        let e = error_line(cmd);
        assert!(e.contains("'--workers <WORKERS>': must be at least 1"), "{e}");
    }
}

#[test]
fn an_unreadable_root_is_a_warning_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let root = TempRoot::new("unreadable");
    let dir = root.0.join("closed");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    std::fs::set_permissions(&root.0, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Fails to bind on purpose (port 1 as nobody), after the warning: no server to stop.
    let out = unprivileged(&["serve", &dir.to_string_lossy(), "--bind", "127.0.0.1:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().next().is_some_and(|l| l.starts_with("pollux: warning: cannot read")
            && l.contains(&*dir.to_string_lossy())
            && l.contains("Permission denied")),
        "{err}"
    );
}
