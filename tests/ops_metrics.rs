//! Observability, black-box: `/metrics` parsed by Prometheus's own parser (prometheus_client)
//! with values checked against the requests made, the accept queue read while the serving
//! process is stopped (equal to `ss -lnt`), connection-state gauges against a scripted mix of
//! clients, `/healthz` turning 503 while draining, and the three access-log formats (the
//! `combined` one read by fail2ban's own nginx filters).
//!
//! Needs: python3 with venv and pip (prometheus_client in target/obs-venv), ss (iproute2),
//! fail2ban-regex (fail2ban); scripts/test.sh installs them.

#[path = "ops/support.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{children_of, pollux_bin, spawn, wait_exit, wait_until, write_scripts, Conn, TempRoot};
use support::{admin_get, scrape, serve_with_admin};

#[test]
fn metrics_parse_and_count_the_requests_made() {
    let root = TempRoot::new("obs-count");
    std::fs::write(root.path("data.txt"), vec![b'x'; 1000]).expect("write");
    let a = serve_with_admin(&root.0, &["--workers", "2", "--backlog", "128", "--access-log", "off"]);
    // Before any request: the families are there, the counters at zero.
    let s = scrape(a.admin);
    assert_eq!(
        s.families.get("pollux_http_request_duration_seconds").and_then(|t| t.as_str()),
        Some("histogram")
    );
    assert_eq!(s.value("pollux_http_request_duration_seconds_count", &[]), 0.0);
    assert_eq!(s.value("pollux_config_generation", &[]), 1.0);
    assert_eq!(s.value("pollux_draining", &[]), 0.0);

    // 7 GET 200 on one keep-alive connection, 3 GET 404 and 2 HEAD 200 on fresh ones, one
    // DELETE (405).
    let mut c = Conn::open(a.http);
    for _ in 0..7 {
        let r = c.request("GET", "/data.txt", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), 1000);
    }
    for _ in 0..3 {
        assert_eq!(pollux_testkit::send(a.http, "GET", "/missing", &[]).status, 404);
    }
    for _ in 0..2 {
        assert_eq!(pollux_testkit::send(a.http, "HEAD", "/", &[]).status, 200);
    }
    assert_eq!(pollux_testkit::send(a.http, "DELETE", "/data.txt", &[]).status, 405);
    drop(c);

    let s = scrape(a.admin);
    let req = |code: &str, method: &str| {
        s.find("pollux_http_requests_total", &[("code", code), ("method", method)])
    };
    assert_eq!(req("2xx", "GET"), Some(7.0));
    assert_eq!(req("4xx", "GET"), Some(3.0));
    assert_eq!(req("2xx", "HEAD"), Some(2.0));
    assert_eq!(req("4xx", "DELETE"), Some(1.0));
    let total: f64 = s.all("pollux_http_requests_total").iter().map(|x| x.2).sum();
    assert_eq!(total, 13.0, "no other request was counted");
    // The histogram: cumulative buckets ending at +Inf = count = requests.
    assert_eq!(s.value("pollux_http_request_duration_seconds_count", &[]), 13.0);
    assert_eq!(s.value("pollux_http_request_duration_seconds_bucket", &[("le", "+Inf")]), 13.0);
    let buckets = s.all("pollux_http_request_duration_seconds_bucket");
    assert!(buckets.windows(2).all(|w| w[0].2 <= w[1].2), "buckets are cumulative");
    assert!(s.value("pollux_http_request_duration_seconds_sum", &[]) < 13.0 * 5.0);
    // 1 + 3 + 2 + 1 connections; the bytes each way at least the bodies and request lines.
    assert_eq!(s.value("pollux_connections_accepted_total", &[]), 7.0);
    assert!(s.value("pollux_http_sent_bytes_total", &[]) > 7000.0);
    assert!(s.value("pollux_http_received_bytes_total", &[]) > 13.0 * 16.0);
    let label = format!("http://{}", a.http);
    assert_eq!(s.value("pollux_listener_backlog", &[("listener", &label)]), 128.0);
    assert_eq!(s.value("pollux_listener_queue", &[("listener", &label)]), 0.0);
    assert!(s.find("pollux_tcp_listen_overflows_total", &[]).is_some(), "TcpExt ListenOverflows");
    assert!(s.find("pollux_tcp_listen_drops_total", &[]).is_some(), "TcpExt ListenDrops");
    // Every connection is closed by now (gauges back at zero once the server saw the FINs).
    wait_until(SETTLE, "connections gauges at zero", || {
        let s = scrape(a.admin);
        s.all("pollux_connections").iter().all(|x| x.2 == 0.0)
    });
}

/// How long a gauge may take to show what happened: the machine may be loaded (CI runs
/// test binaries side by side), and every scrape starts a Python parser.
const SETTLE: u64 = 20;

/// Scrapes until the connection gauges read `want` (or `SETTLE` seconds pass); what was seen.
fn gauges_reach(admin: std::net::SocketAddr, want: [(&'static str, usize); 4]) -> [(&'static str, usize); 4] {
    let deadline = Instant::now() + Duration::from_secs(SETTLE);
    loop {
        let s = scrape(admin);
        let seen =
            want.map(|(state, _)| (state, s.value("pollux_connections", &[("state", state)]) as usize));
        if seen == want || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A CGI script that answers once the test creates `go` beside it (at most a minute later).
fn held_script(dir: &std::path::Path) -> String {
    let go = dir.join("go");
    format!(
        "#!/bin/sh\ni=0\nwhile [ ! -e '{}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n\
         printf 'Content-Type: text/plain\\r\\n\\r\\nheld\\n'\n",
        go.display()
    )
}

/// Stops a process for the span of a test, and lets it go again even if the test fails.
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        signal(pid, "STOP");
        let stopped = Stopped(pid);
        // The signal is asynchronous: wait until every thread of it is stopped, or a worker
        // might still accept a connection made after `kill` returned.
        wait_until(5, "the process stopped", || {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
            tasks.flatten().all(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T'))
            })
        });
        stopped
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().expect("kill");
    assert!(st.success(), "kill -{sig} {pid}");
}

/// `ss -lnt`'s Recv-Q and Send-Q for the listener on `port`.
fn ss_queue(port: u16) -> (u64, u64) {
    let out = Command::new("ss").args(["-lntH", &format!("sport = :{port}")]).output().expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or_else(|| panic!("ss shows no listener on port {port}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[1].parse().expect("Recv-Q"), f[2].parse().expect("Send-Q"))
}

#[test]
fn the_accept_queue_while_the_serving_process_is_stopped_equals_ss() {
    let root = TempRoot::new("obs-queue");
    let a = serve_with_admin(&root.0, &["--workers", "1", "--backlog", "64", "--access-log", "off"]);
    let kids = children_of(a.server.child.id());
    assert_eq!(kids.len(), 1, "one serving child under the supervisor: {kids:?}");
    let label = format!("http://{}", a.http);
    let stopped = Stopped::new(kids[0]);
    // 50 clients the kernel completes the handshake for and queues: nobody accepts them.
    let mut clients: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(a.http).expect("connect")).collect();
    for c in &mut clients {
        c.write_all(b"GET / HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n").expect("write");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    }
    // The supervisor answers the scrape although its child is stopped.
    let s = scrape(a.admin);
    let queue = s.value("pollux_listener_queue", &[("listener", &label)]);
    let backlog = s.value("pollux_listener_backlog", &[("listener", &label)]);
    assert_eq!((queue, backlog), (50.0, 64.0));
    let (recv_q, send_q) = ss_queue(a.http.port());
    assert_eq!((queue as u64, backlog as u64), (recv_q, send_q), "what ss -lnt says");
    drop(stopped); // SIGCONT
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert!(got.starts_with(b"HTTP/1.1 200 "), "client {i}: {:?}", String::from_utf8_lossy(&got));
    }
    let s = scrape(a.admin);
    assert_eq!(s.value("pollux_listener_queue", &[("listener", &label)]), 0.0);
    assert_eq!(s.value("pollux_connections_accepted_total", &[]), 50.0);
}

#[test]
fn connection_state_gauges_follow_a_scripted_mix() {
    const IDLE: usize = 3;
    const READING: usize = 2;
    const WRITING: usize = 2;
    let root = TempRoot::new("obs-states");
    std::fs::write(root.path("big.bin"), vec![1u8; 32 << 20]).expect("write");
    let bin = TempRoot::empty("obs-states-cgi");
    write_scripts(&bin.0, &[("sleep.sh", &held_script(&bin.0))]);
    let cgi = format!("/cgi-bin={}", bin.0.display());
    let a = serve_with_admin(
        &root.0,
        // The half-sent heads must outlast every wait below, however loaded the machine.
        &[
            "--workers",
            "2",
            "--access-log",
            "off",
            "--cgi",
            &cgi,
            "--cgi-timeout",
            "90s",
            "--header-timeout",
            "300s",
        ],
    );

    // Idle keep-alive: one request answered, the connection kept.
    let mut idle: Vec<Conn> = (0..IDLE).map(|_| Conn::open(a.http)).collect();
    for c in &mut idle {
        assert_eq!(c.request("GET", "/", &[]).status, 200);
    }
    // Reading: half a request head.
    let mut reading: Vec<TcpStream> =
        (0..READING).map(|_| TcpStream::connect(a.http).expect("connect")).collect();
    for c in &mut reading {
        c.write_all(b"GET / HTTP/1.1\r\nHost: half\r\n").expect("write");
    }
    // Writing: a 32 MiB download into a tiny receive window that nobody reads.
    let mut writing = Vec::new();
    for _ in 0..WRITING {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        sock.connect(&a.http.into()).expect("connect");
        let mut s: TcpStream = sock.into();
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: slow\r\n\r\n").expect("write");
        writing.push(s);
    }
    // In the handler: a CGI script that sleeps.
    let mut script = TcpStream::connect(a.http).expect("connect");
    script
        .write_all(b"GET /cgi-bin/sleep.sh HTTP/1.1\r\nHost: cgi\r\nConnection: close\r\n\r\n")
        .expect("write");

    let want = [("idle", IDLE), ("reading", READING), ("writing", WRITING), ("handler", 1)];
    let seen = gauges_reach(a.admin, want);
    assert_eq!(seen, want, "connections by state");
    // The script also shows among the CGI scripts running (sampled five times a second).
    wait_until(SETTLE, "one CGI script in flight", || {
        scrape(a.admin).value("pollux_cgi_in_flight", &[]) == 1.0
    });

    // The mix changes: the idle ones close, a reader completes its head (and reads its
    // answer to the end, so the server does not linger after it).
    drop(idle);
    reading[0].write_all(b"Connection: close\r\n\r\n").expect("write");
    reading[0].set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut answer = Vec::new();
    reading[0].read_to_end(&mut answer).expect("read");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer));
    drop(reading.remove(0));
    let want = [("idle", 0), ("reading", READING - 1), ("writing", WRITING), ("handler", 1)];
    let seen = gauges_reach(a.admin, want);
    assert_eq!(seen, want, "connections by state after the change");
    // The script's answer comes, and it leaves the handler state.
    std::fs::write(bin.path("go"), "").expect("go");
    let mut answer = String::new();
    script.set_read_timeout(Some(Duration::from_secs(SETTLE))).expect("timeout");
    BufReader::new(&script).read_line(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    wait_until(SETTLE, "no connection in the handler", || {
        scrape(a.admin).value("pollux_connections", &[("state", "handler")]) == 0.0
    });
}

#[test]
fn healthz_turns_503_while_the_server_drains() {
    let root = TempRoot::new("obs-health");
    let bin = TempRoot::empty("obs-health-cgi");
    write_scripts(&bin.0, &[("slow.sh", &held_script(&bin.0))]);
    let cgi = format!("/cgi-bin={}", bin.0.display());
    let mut a = serve_with_admin(
        &root.0,
        &["--workers", "1", "--access-log", "off", "--grace", "60s", "--cgi", &cgi, "--cgi-timeout", "90s"],
    );
    assert_eq!(admin_get(a.admin, "/healthz"), (200, "ok\n".to_owned()));
    // A request in flight keeps the server from stopping at once.
    let mut slow = TcpStream::connect(a.http).expect("connect");
    slow.write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").expect("write");
    wait_until(SETTLE, "the script runs", || {
        scrape(a.admin).value("pollux_connections", &[("state", "handler")]) == 1.0
    });
    signal(a.server.child.id(), "TERM");
    wait_until(SETTLE, "/healthz says draining", || {
        admin_get(a.admin, "/healthz") == (503, "draining\n".to_owned())
    });
    assert_eq!(scrape(a.admin).value("pollux_draining", &[]), 1.0);
    assert_eq!(admin_get(a.admin, "/healthz").0, 503, "still draining while the request runs");
    // The request in flight is still answered, then everything exits.
    std::fs::write(bin.path("go"), "").expect("go");
    let mut got = Vec::new();
    slow.set_read_timeout(Some(Duration::from_secs(SETTLE))).expect("timeout");
    slow.read_to_end(&mut got).expect("read");
    assert!(got.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&got));
    assert!(wait_exit(&mut a.server.child, Duration::from_secs(SETTLE)).is_some(), "the server exits");
}

#[test]
fn a_public_admin_address_needs_admin_public() {
    let out = Command::new(pollux_bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--admin", "0.0.0.0:9900"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pollux: --admin 0.0.0.0:9900: not a loopback address; add --admin-public to expose metrics\n"
    );
}

// ---- Access-log formats ------------------------------------------------------------------------

/// One request (with a Referer and a User-Agent) to a server logging in `format`; the line.
fn logged_line(format: &str, raw: &[u8], needle: &str) -> String {
    let root = TempRoot::new("obs-log");
    let mut cmd = Command::new(pollux_bin());
    cmd.arg("serve").arg(&root.0).args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "-"]);
    cmd.args(["--log-format", format]);
    let mut server = spawn(cmd);
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let _ = pollux_testkit::exchange(server.addr, raw);
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        if line.contains(needle) {
            return line;
        }
    }
    panic!("no log line with {needle}");
}

const ASKED: &[u8] = b"GET /wp-login.php?x=1 HTTP/1.1\r\nHost: h\r\nReferer: http://ref.example/a \"b\"\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64) probe/1.0\r\nConnection: close\r\n\r\n";

/// `[08/Dec/2026:01:02:03 +0000]` → checked and cut out of `line` as `[DATE]`.
fn without_date(line: &str) -> String {
    let (a, rest) = line.split_once('[').expect("[");
    let (date, b) = rest.split_once(']').expect("]");
    let d = date.as_bytes();
    assert!(
        date.len() == 26 && d[2] == b'/' && d[6] == b'/' && d[11] == b':' && date.ends_with(" +0000"),
        "a CLF date: {date:?}"
    );
    format!("{a}[DATE]{b}")
}

#[test]
fn the_common_format_is_common_log_format() {
    let line = logged_line("common", ASKED, "wp-login");
    assert_eq!(without_date(&line), "127.0.0.1 - - [DATE] \"GET /wp-login.php?x=1 HTTP/1.1\" 404 14");
}

#[test]
fn the_combined_format_is_nginx_combined() {
    let line = logged_line("combined", ASKED, "wp-login");
    assert_eq!(
        without_date(&line),
        "127.0.0.1 - - [DATE] \"GET /wp-login.php?x=1 HTTP/1.1\" 404 14 \"http://ref.example/a \\x22b\\x22\" \
         \"Mozilla/5.0 (X11; Linux x86_64) probe/1.0\""
    );
}

#[test]
fn the_json_format_is_one_object_per_line() {
    let line = logged_line("json", ASKED, "wp-login");
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
    let obj = v.as_object().expect("object");
    let dur = obj.get("duration").and_then(|d| d.as_f64()).expect("duration");
    assert!((0.0..5.0).contains(&dur), "duration {dur}");
    let time = obj.get("time").and_then(|t| t.as_str()).expect("time");
    without_date(&format!("[{time}]"));
    let mut rest = obj.clone();
    rest.remove("duration");
    rest.remove("time");
    assert_eq!(
        serde_json::Value::Object(rest),
        serde_json::json!({
            "remote_addr": "127.0.0.1",
            "method": "GET",
            "uri": "/wp-login.php?x=1",
            "protocol": "HTTP/1.1",
            "status": 404,
            "bytes": 14,
            "referer": "http://ref.example/a \"b\"",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) probe/1.0",
        })
    );
}

/// Runs `fail2ban-regex LOG /etc/fail2ban/filter.d/FILTER.conf`; the number of lines matched.
fn fail2ban_matches(log: &std::path::Path, filter: &str) -> usize {
    let conf = format!("/etc/fail2ban/filter.d/{filter}.conf");
    let out = Command::new("fail2ban-regex")
        .arg(log)
        .arg(&conf)
        .output()
        .expect("fail2ban-regex (apt install fail2ban; scripts/test.sh does)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "fail2ban-regex {conf}: {text}{}", String::from_utf8_lossy(&out.stderr));
    // "Lines: 2 lines, 0 ignored, 1 matched, 1 missed"
    let lines =
        text.lines().find(|l| l.starts_with("Lines:")).unwrap_or_else(|| panic!("no summary: {text}"));
    let matched = lines.split(", ").find(|p| p.ends_with(" matched")).expect("matched");
    matched.trim_end_matches(" matched").trim().parse().expect("count")
}

#[test]
fn fail2bans_nginx_filters_read_the_combined_format() {
    let tmp = TempRoot::empty("obs-f2b");
    let probe = logged_line("combined", ASKED, "wp-login");
    let bad = logged_line("combined", b"GET /\x01 HTTP/1.1\r\n\r\n", " 400 ");
    let fine = logged_line("combined", b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", " 200 ");
    let log = tmp.path("access.log");
    std::fs::write(&log, format!("{probe}\n{bad}\n{fine}\n")).expect("write");
    // The bot's probe of /wp-login.php (404) and the bad request (400), each by its filter;
    // the ordinary request by neither.
    assert_eq!(fail2ban_matches(&log, "nginx-botsearch"), 1, "{probe}");
    assert_eq!(fail2ban_matches(&log, "nginx-bad-request"), 1, "{bad}");
}

#[test]
fn connections_to_the_admin_listener_are_not_counted_as_clients() {
    let root = TempRoot::new("obs-admin-own");
    let a = serve_with_admin(&root.0, &["--workers", "1", "--access-log", "off"]);
    for _ in 0..3 {
        assert_eq!(admin_get(a.admin, "/healthz").0, 200);
    }
    assert_eq!(admin_get(a.admin, "/nope").0, 404);
    let s = scrape(a.admin);
    assert_eq!(s.value("pollux_connections_accepted_total", &[]), 0.0);
    assert_eq!(s.value("pollux_http_request_duration_seconds_count", &[]), 0.0);
}

#[test]
fn wsgi_requests_in_flight_and_queued() {
    let dir = pollux_testkit::h2::repo_root().join("tests/ops");
    let mut cmd = Command::new(pollux_bin());
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--access-log",
        "off",
    ])
    .args(["--wsgi", "slow_app", "--wsgi-threads", "1", "--pythonpath"])
    .arg(&dir)
    .env("PYTHONDONTWRITEBYTECODE", "1");
    let (_server, addrs) = pollux_testkit::process::spawn_announced(cmd, "http://", 2);
    let (admin, http) = (addrs[0], addrs[1]);
    // Three at once on one Python thread: one called, two waiting.
    let clients: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                // Each answer takes 4 s and they come one after the other: a patient client.
                let mut c = TcpStream::connect(http).expect("connect");
                c.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
                c.write_all(b"GET / HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n").expect("write");
                let mut got = Vec::new();
                c.read_to_end(&mut got).expect("read");
                got.starts_with(b"HTTP/1.1 200 ")
            })
        })
        .collect();
    let mut seen = (0.0, 0.0);
    let deadline = Instant::now() + Duration::from_secs(SETTLE);
    while Instant::now() < deadline {
        let s = scrape(admin);
        seen = (s.value("pollux_wsgi_in_flight", &[]), s.value("pollux_wsgi_queued", &[]));
        if seen == (1.0, 2.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(seen, (1.0, 2.0), "(in flight, queued)");
    for c in clients {
        assert!(c.join().expect("client"), "a 200 answer");
    }
    wait_until(SETTLE, "nothing in flight or queued", || {
        let s = scrape(admin);
        (s.value("pollux_wsgi_in_flight", &[]), s.value("pollux_wsgi_queued", &[])) == (0.0, 0.0)
    });
    assert_eq!(scrape(admin).value("pollux_http_requests_total", &[("code", "2xx"), ("method", "GET")]), 3.0);
}

#[test]
fn an_http2_connection_counts_once_whatever_its_streams() {
    let root = TempRoot::new("obs-h2");
    std::fs::write(root.path("big.bin"), vec![2u8; 8 << 20]).expect("write");
    let a = serve_with_admin(&root.0, &["--workers", "1", "--access-log", "off"]);
    let url = format!("http://{}/big.bin", a.http);
    // Two downloads multiplexed on one HTTP/2 connection, read slowly.
    let mut curl = Command::new("curl")
        .args([
            "-sS",
            "--no-progress-meter",
            "--http2-prior-knowledge",
            "--limit-rate",
            "50k",
            "-Z",
            "--parallel-max",
            "2",
        ])
        .args(["-o", "/dev/null", &url, "-o", "/dev/null", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("curl");
    let deadline = Instant::now() + Duration::from_secs(SETTLE);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let s = scrape(a.admin);
        seen = ["reading", "writing", "idle", "handler"]
            .map(|state| s.value("pollux_connections", &[("state", state)]) as u64)
            .to_vec();
        if seen == [0, 1, 0, 0] && s.value("pollux_connections_accepted_total", &[]) == 1.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let early = curl.try_wait().ok().flatten();
    let _ = curl.kill();
    let out = curl.wait_with_output().expect("curl");
    assert_eq!(
        seen,
        [0, 1, 0, 0],
        "one connection, writing (reading, writing, idle, handler); curl ended early: {early:?}, said {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(SETTLE, "the connection gone", || {
        scrape(a.admin).all("pollux_connections").iter().all(|x| x.2 == 0.0)
    });
}
