//! `pollux serve --wsgi` under volume: 10,000 mixed requests checked by
//! `wsgiref.validate.validator`, a 512 MiB upload in bounded memory, a 1 GiB
//! `wsgi.file_wrapper` answer sent with `sendfile`, and the virtualenv checks.

use std::io::Write;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{connect, parse_responses, rss_kib, ReadRetry, Server, TempRoot};
use sha2::{Digest, Sha256};

fn apps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wsgi_apps")
}

fn wsgi_cmd(module: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(pollux_testkit::pollux_bin());
    cmd.args(["serve", "--wsgi", module, "--pythonpath"]).arg(apps_dir());
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    cmd.args(extra).env("PYTHONDONTWRITEBYTECODE", "1").env_remove("VIRTUAL_ENV");
    cmd
}

fn wsgi(module: &str, extra: &[&str]) -> Server {
    pollux_testkit::spawn(wsgi_cmd(module, extra))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// One batch of requests on a connection: the raw bytes, and per request whether it is a
/// HEAD and what its answer's body must be.
fn batch(seed: usize) -> (Vec<u8>, Vec<(bool, Vec<u8>)>) {
    let mut raw = Vec::new();
    let mut want = Vec::new();
    for j in 0..4 {
        let k = seed * 4 + j;
        match k % 5 {
            0 => {
                raw.extend_from_slice(format!("GET /item/{k} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
                want.push((false, format!("GET /item/{k}\n").into_bytes()));
            }
            1 => {
                raw.extend_from_slice(format!("HEAD /item/{k} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
                want.push((true, Vec::new()));
            }
            2 => {
                let body = format!("posted {k} ").repeat(k % 50 + 1);
                raw.extend_from_slice(
                    format!("POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                        .as_bytes(),
                );
                want.push((
                    false,
                    format!("{} {}\n", body.len(), hex(&Sha256::digest(body.as_bytes()))).into_bytes(),
                ));
            }
            3 => {
                let body = format!("chunk {k};").repeat(k % 30 + 1);
                let (a, b) = body.split_at(body.len() / 2);
                raw.extend_from_slice(
                    format!(
                        "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                        a.len(),
                        b.len()
                    )
                    .as_bytes(),
                );
                want.push((
                    false,
                    format!("{} {}\n", body.len(), hex(&Sha256::digest(body.as_bytes()))).into_bytes(),
                ));
            }
            _ => {
                raw.extend_from_slice(b"GET /gen HTTP/1.1\r\nHost: x\r\n\r\n");
                want.push((false, b"one\ntwo\n".to_vec()));
            }
        }
    }
    (raw, want)
}

#[test]
fn ten_thousand_mixed_requests_pass_wsgiref_validator_without_a_warning() {
    let server = wsgi("validated", &[]);
    let addr = server.addr;
    // 4 connections, each sending 625 pipelined batches of 4 requests (GET, HEAD, POST with a
    // length, chunked POST, a generator), reading each batch's answers before the next.
    let workers: Vec<_> = (0..4)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let mut pending = Vec::new();
                let mut buf = vec![0u8; 65536];
                for i in 0..625 {
                    let (raw, want) = batch(c * 625 + i);
                    s.write_all(&raw).expect("write");
                    let heads: Vec<bool> = want.iter().map(|(h, _)| *h).collect();
                    loop {
                        let (rs, used) = parse_responses(&pending, &heads);
                        if rs.len() == want.len() {
                            for (r, (_, body)) in rs.iter().zip(&want) {
                                assert_eq!(r.status, 200, "{}", r.text());
                                assert_eq!(r.body, *body);
                            }
                            pending.drain(..used);
                            break;
                        }
                        let n = s.read_retry(&mut buf).expect("read");
                        assert!(n > 0, "closed in batch {i}");
                        pending.extend_from_slice(&buf[..n]);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client");
    }
    let r = pollux_testkit::get_with(addr, "/warnings", &[]);
    assert_eq!(r.text(), "0\n", "the validator warned");
}

#[test]
fn a_512_mib_upload_is_hashed_by_the_app_in_bounded_server_memory() {
    const SIZE: usize = 512 * 1024 * 1024;
    let server = wsgi("behaviours", &["--max-body", "1000000000"]);
    let pid = server.child.id();
    // Warm up (the first request imports hashlib), then take the idle size.
    let mut c = connect(server.addr);
    c.write_all(b"POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
        .expect("w");
    let _ = pollux_testkit::read_all(&mut c, Duration::from_secs(10));
    let idle = rss_kib(pid);

    let mut block = pollux_testkit::upload_block();
    let blocks = SIZE / block.len();
    let expected = pollux_testkit::upload_sha256(&mut block, blocks);

    let mut c = connect(server.addr);
    c.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    let head =
        format!("POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n");
    c.write_all(head.as_bytes()).expect("head");
    let writer = {
        let mut c = c.try_clone().expect("clone");
        std::thread::spawn(move || {
            for i in 0..SIZE / block.len() {
                block[0] = i as u8;
                c.write_all(&block).expect("body");
            }
        })
    };
    let mut peak = idle;
    let start = Instant::now();
    while !writer.is_finished() && start.elapsed() < Duration::from_secs(120) {
        peak = peak.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().expect("writer");
    let data = pollux_testkit::read_all(&mut c, Duration::from_secs(60));
    let (rs, _) = parse_responses(&data, &[false]);
    assert_eq!(rs[0].text(), format!("{SIZE} {expected}\n"));
    assert!(peak < idle + 64 * 1024, "RSS grew from {idle} KiB to {peak} KiB");
}

#[test]
fn a_1_gib_file_wrapper_answer_goes_out_with_sendfile() {
    const SIZE: u64 = 1 << 30;
    let dir = TempRoot::new("wsgi-big");
    let path = dir.0.join("big.bin");
    // Sparse, with markers at known places so a shifted or truncated copy shows.
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(SIZE).expect("size");
    for (off, mark) in [(0u64, b"FIRST"), (SIZE / 2, b"HALF!"), (SIZE - 5, b"LAST!")] {
        std::os::unix::fs::FileExt::write_at(&f, mark, off).expect("mark");
    }
    drop(f);
    let trace = dir.0.join("trace");
    // The server under strace, recording only sendfile calls (what we want to see used).
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=sendfile", "-e", "signal=none", "-o"]).arg(&trace);
    cmd.arg(pollux_testkit::pollux_bin());
    let inner = wsgi_cmd("behaviours", &[]);
    cmd.args(inner.get_args());
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").env_remove("VIRTUAL_ENV");
    let server = pollux_testkit::spawn(cmd);

    let mut c = connect(server.addr);
    c.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let target = format!("/file?path={}", path.display());
    c.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("w");
    let mut head = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut body_len = 0u64;
    let mut marks = Vec::new();
    loop {
        let n = c.read_retry(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if head.is_empty() || pollux_testkit::find(&head, b"\r\n\r\n").is_none() {
            head.extend_from_slice(chunk);
            let Some(end) = pollux_testkit::find(&head, b"\r\n\r\n") else { continue };
            let rest = head.split_off(end + 4);
            chunk = &[];
            for (i, b) in rest.iter().enumerate() {
                if *b != 0 {
                    marks.push((body_len + i as u64, *b));
                }
            }
            body_len += rest.len() as u64;
        }
        for (i, b) in chunk.iter().enumerate() {
            if *b != 0 {
                marks.push((body_len + i as u64, *b));
            }
        }
        body_len += chunk.len() as u64;
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains(&format!("Content-Length: {SIZE}\r\n")), "{head}");
    assert_eq!(body_len, SIZE);
    let text: Vec<u8> = marks.iter().map(|(_, b)| *b).collect();
    assert_eq!(text, b"FIRSTHALF!LAST!");
    assert_eq!(marks[5].0, SIZE / 2);
    // Stop the traced server itself (killing strace alone would leave it running), then strace.
    for pid in pollux_testkit::children_of(server.child.id()) {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    let mut server = server;
    let _ = server.child.wait();
    drop(server);
    // Every byte of the body went through sendfile.
    let log = std::fs::read_to_string(&trace).expect("strace output");
    let sent: u64 = log
        .lines()
        .filter(|l| l.contains("sendfile("))
        .filter_map(|l| l.rsplit_once(" = ").and_then(|(_, n)| n.trim().parse::<u64>().ok()))
        .sum();
    assert_eq!(sent, SIZE, "sendfile carried {sent} bytes:\n{}", &log[..log.len().min(2000)]);
}

#[test]
fn a_virtualenv_of_another_python_is_refused_naming_both_versions() {
    let dir = TempRoot::new("wsgi-venv");
    std::fs::write(
        dir.0.join("pyvenv.cfg"),
        "home = /usr/bin\nversion = 3.12.1\ninclude-system-site-packages = false\n",
    )
    .expect("cfg");
    let out = wsgi_cmd("behaviours", &[]).arg("--venv").arg(&dir.0).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("it is for Python 3.12, and pollux embeds Python 3.11"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let out = wsgi_cmd("behaviours", &[]).arg("--venv").arg(dir.0.join("nope")).output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a virtualenv"));
}

#[test]
fn a_virtualenv_gives_the_app_its_packages_and_interpreter() {
    // A real venv made by this Python, with a package only it has.
    let dir = TempRoot::new("wsgi-venv-real");
    let venv = dir.0.join("venv");
    let st = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv");
    assert!(st.success());
    let site = std::fs::read_dir(venv.join("lib"))
        .expect("lib")
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("site-packages");
    std::fs::write(site.join("only_in_venv.py"), "WHERE = 'venv'\n").expect("module");
    std::fs::write(
        dir.0.join("venvapp.py"),
        "import sys, only_in_venv\n\
         def application(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [('%s %s %s' % (only_in_venv.WHERE, sys.executable, sys.prefix)).encode()]\n",
    )
    .expect("app");
    let mut cmd = Command::new(pollux_testkit::pollux_bin());
    cmd.args(["serve", "--wsgi", "venvapp", "--pythonpath"]).arg(&dir.0);
    cmd.args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]);
    // Through VIRTUAL_ENV, as an activated venv sets it.
    cmd.env("VIRTUAL_ENV", &venv).env("PYTHONDONTWRITEBYTECODE", "1");
    let server = pollux_testkit::spawn(cmd);
    let r = pollux_testkit::get_with(server.addr, "/", &[]);
    let venv = std::path::absolute(&venv).expect("abs");
    assert_eq!(r.text(), format!("venv {} {}", venv.join("bin/python").display(), venv.display()));
}
