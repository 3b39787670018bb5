//! `pollux serve --wsgi` as a supervisor of processes and as a process that shuts down
//! gracefully: SIGTERM with requests inside Python, `--processes 2` with a child killed,
//! `--max-requests` under `wrk`, and `--reload`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{children_of, parse_responses, read_all, wait_exit, Server};

fn apps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wsgi_apps")
}

fn wsgi_in(dir: &Path, module: &str, extra: &[&str]) -> Server {
    let mut cmd = Command::new(pollux_testkit::pollux_bin());
    cmd.args(["serve", "--wsgi", module, "--pythonpath"]).arg(dir);
    cmd.args(["--bind", "127.0.0.1:0", "--access-log", "off"]);
    cmd.args(extra).env("PYTHONDONTWRITEBYTECODE", "1").env_remove("VIRTUAL_ENV");
    pollux_testkit::spawn(cmd)
}

fn body(addr: SocketAddr, target: &str) -> Result<String, String> {
    let mut c = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
    c.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let data = read_all(&mut c, Duration::from_secs(20));
    let (rs, _) = parse_responses(&data, &[false]);
    match rs.first() {
        Some(r) if r.status == 200 => Ok(r.text()),
        Some(r) => Err(format!("status {}", r.status)),
        None => Err(format!("no response: {:?}", String::from_utf8_lossy(&data))),
    }
}

fn sigterm(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

#[test]
fn sigterm_while_50_requests_are_inside_python_answers_them_all_then_exits() {
    // The app ignores SIGTERM and SIGINT itself: the server's handling must not be lost.
    let mut server = wsgi_in(&apps_dir(), "signals", &["--wsgi-threads", "64", "--workers", "1"]);
    let addr = server.addr;
    let clients: Vec<_> = (0..50).map(|_| std::thread::spawn(move || body(addr, "/slow?ms=1500"))).collect();
    // Readiness, not a sleep: the app counts the requests inside it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: usize = body(addr, "/inflight").expect("inflight").trim().parse().expect("number");
        if n == 50 {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} requests reached the app");
        std::thread::sleep(Duration::from_millis(20));
    }
    sigterm(server.child.id());
    for c in clients {
        assert_eq!(c.join().expect("client"), Ok("done\n".to_owned()));
    }
    let status = wait_exit(&mut server.child, Duration::from_secs(10))
        .expect("the server exits after the last answer");
    assert!(status.success(), "{status}");
}

#[test]
fn two_processes_serve_and_a_killed_one_is_replaced_without_a_failed_request() {
    let server = wsgi_in(&apps_dir(), "behaviours", &["--processes", "2"]);
    let sup = server.child.id();
    let kids = children_of(sup);
    assert_eq!(kids.len(), 2, "two children: {kids:?}");
    // Both answer: each connection goes to whichever child accepts first.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..500 {
        let pid: u32 = body(server.addr, "/pid").expect("pid").trim().parse().expect("pid");
        seen.insert(pid);
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.iter().copied().collect::<Vec<_>>(), {
        let mut k = kids.clone();
        k.sort();
        k
    });

    // Kill one between requests: every later request is answered (the listening socket
    // lives in the supervisor, so nothing queued is lost), and the child is replaced.
    let victim = kids[0];
    let _ = Command::new("kill").args(["-KILL", &victim.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut answered = 0;
    loop {
        body(server.addr, "/hello").expect("no request may fail");
        answered += 1;
        let now = children_of(sup);
        if now.len() == 2 && !now.contains(&victim) && answered >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not replaced: {now:?}");
    }
    let err = {
        let mut s = server;
        let _ = s.child.kill();
        let _ = s.child.wait();
        let mut e = String::new();
        s.stderr.take().expect("stderr").read_to_string(&mut e).expect("read");
        e
    };
    assert!(
        err.contains(&format!("pollux: worker process {victim} was killed by signal 9; starting another")),
        "{err}"
    );
}

#[test]
fn max_requests_recycles_processes_with_zero_failed_requests_under_wrk() {
    let server = wsgi_in(
        &apps_dir(),
        "behaviours",
        &["--processes", "1", "--max-requests", "300", "--max-requests-jitter", "0"],
    );
    let first = children_of(server.child.id());
    let url = format!("http://{}/hello", server.addr);
    let out = Command::new("wrk")
        .args(["-t1", "-c8", "-d4s", &url])
        .output()
        .expect("run wrk (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let requests: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{text}"));
    assert!(requests > 1200, "too few requests to recycle several times: {text}");
    assert!(!text.contains("Socket errors") && !text.contains("Non-2xx"), "failed requests:\n{text}");
    // A process told to go may still be finishing its last answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = children_of(server.child.id());
    while now.len() != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        now = children_of(server.child.id());
    }
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, first, "the process was replaced");
    let mut s = server;
    sigterm(s.child.id());
    let status = wait_exit(&mut s.child, Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status}");
}

#[test]
fn reload_restarts_the_app_when_a_py_file_changes() {
    let dir = pollux_testkit::TempRoot::new("wsgi-reload");
    let app = |text: &str| {
        format!("def application(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{text}\\n']\n")
    };
    std::fs::write(dir.0.join("live.py"), app("version one")).expect("write");
    let server = wsgi_in(&dir.0, "live", &["--reload"]);
    assert_eq!(body(server.addr, "/").as_deref(), Ok("version one\n"));
    std::fs::write(dir.0.join("live.py"), app("version two")).expect("write");
    // Serving goes on throughout; the new code answers within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let b = body(server.addr, "/").expect("no request fails during a reload");
        if b == "version two\n" {
            break;
        }
        assert_eq!(b, "version one\n");
        assert!(Instant::now() < deadline, "never reloaded");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_import_error_in_the_children_fails_the_start() {
    let out = Command::new(pollux_testkit::pollux_bin())
        .args(["serve", "--wsgi", "broken", "--processes", "2", "--pythonpath"])
        .arg(apps_dir())
        .args(["--bind", "127.0.0.1:0"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("http://"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ModuleNotFoundError"));
}
