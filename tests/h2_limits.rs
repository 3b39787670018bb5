//! HTTP/2 under attack and at its limits, black-box: the scripts of tests/h2 (Python's `h2`
//! package, raw frames where it would refuse) against `pollux serve` over h2c.
//!
//! Each flood must end the way the server's limits say — GOAWAY(ENHANCE_YOUR_CALM) for the
//! floods and oversized header blocks, GOAWAY(COMPRESSION_ERROR) for an HPACK table size above
//! our SETTINGS — while another client, connected during the attack and after it, is served,
//! and the server's resident memory stays within 100 MiB of where it started. Then the limits
//! that end a stream and not the connection (a header list over 32 KiB is 431), the stall of a
//! client that never opens its window, the idle and preface timeouts, and graceful shutdown
//! finishing a download in flight.
//!
//! Needs: python3 with venv and pip (PyPI reachable once, for `h2`), curl. scripts/test.sh
//! installs them.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use pollux_testkit::{
    curl_h2, h2_script, h2_script_command, last_line, random_bytes, serve, wait_exit, write_scripts, Log,
    RssWatch, Server, TempRoot, Via,
};

/// Most the server's resident set may grow while one attack runs.
const RSS_GROWTH_KIB: u64 = 100 * 1024;

const BIG: usize = 64 << 20;

/// ENHANCE_YOUR_CALM, COMPRESSION_ERROR, NO_ERROR (RFC 9113 §7).
const CALM: u64 = 0xb;
const COMPRESSION: u64 = 0x9;
const NO_ERROR: u64 = 0x0;

/// A site for the attacks: `index.html`, `big.bin` (64 MiB), CGI `sink.sh` (reads the whole
/// body, then answers) and `echo.sh` (answers with an `x-echo` field made of its query
/// string, a new HPACK entry for every request).
struct Site {
    server: Server,
    root: TempRoot,
    _bin: TempRoot,
}

const SINK: &str = "#!/bin/sh\ncat >/dev/null\nprintf 'Content-Type: text/plain\\r\\n\\r\\nread\\n'\n";
const ECHO: &str = "#!/bin/sh\nv=$(printf \"$QUERY_STRING-%.0s\" $(seq 40))\n\
printf 'Content-Type: text/plain\\r\\nX-Echo: %s\\r\\n\\r\\necho\\n' \"$v\"\n";

fn site(extra: &[&str]) -> Site {
    let root = TempRoot::new("h2-limits");
    let bin = TempRoot::empty("h2-limits-bin");
    write_scripts(&bin.0, &[("sink.sh", SINK), ("echo.sh", ECHO)]);
    std::fs::write(root.path("big.bin"), random_bytes(BIG, 64)).unwrap();
    let spec = format!("/cgi-bin={}", bin.0.display());
    let mut args = vec!["--cgi", spec.as_str()];
    args.extend_from_slice(extra);
    Site { server: serve(&root.0, &args), root, _bin: bin }
}

/// A GET of /index.html on a connection of its own, as curl does it: must be a 200 over HTTP/2.
fn another_client_is_served(addr: SocketAddr, when: &str) {
    let r = curl_h2(Via::H2c(addr), "/index.html", &[]);
    assert!(
        r.ok && r.status == 200 && r.version == "2" && r.body == b"<h1>hello</h1>\n",
        "{when}: another client was not served: status {} version {:?} body {:?} stderr {}",
        r.status,
        r.version,
        String::from_utf8_lossy(&r.body),
        r.stderr
    );
}

/// A script started with its stdout gathered: the test waits for a line, then for the end.
struct Running {
    child: Child,
    stdout: Log,
    stdout_reader: JoinHandle<()>,
    stderr: Log,
}

fn start(script: &str, args: &[&str]) -> Running {
    let mut cmd = h2_script_command(script, args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let (stdout, stdout_reader) = Log::collect(child.stdout.take().unwrap());
    let stderr = Log::collect(child.stderr.take().unwrap()).0;
    Running { child, stdout, stdout_reader, stderr }
}

impl Running {
    /// Waits (20 s at most) for `event` on stdout; panics with both outputs otherwise.
    fn wait_event(&self, event: &str) {
        let needle = format!("\"event\": \"{event}\"");
        let out = self.stdout.wait_for(&needle, 20);
        assert!(out.contains(&needle), "no {event} from the script: {out}\nstderr: {}", self.stderr.text());
    }

    /// Waits (at most `secs`) for the script to end: its JSON report.
    fn report(mut self, secs: u64) -> Value {
        let status = wait_exit(&mut self.child, Duration::from_secs(secs));
        // The reader sees end of file once the child is gone: then the log has everything.
        let _ = self.stdout_reader.join();
        let text = self.stdout.text();
        let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_owned();
        assert!(
            status.is_some_and(|s| s.success()),
            "the script failed or was killed ({status:?}): stdout {text}\nstderr {}",
            self.stderr.text()
        );
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}\nstderr {}", self.stderr.text()))
    }
}

/// Runs `flood.py KIND` against the site with `args`, another client served while it runs and
/// after it, the server's RSS watched throughout (at most [`RSS_GROWTH_KIB`] above where it
/// started). The script's report.
fn attack(site: &Site, kind: &str, args: &[&str]) -> Value {
    let addr = site.server.addr;
    let watch = RssWatch::start(site.server.child.id());
    let before = watch.start_kib;
    let target = addr.to_string();
    let mut all = vec![kind, target.as_str()];
    all.extend_from_slice(args);
    let t = Instant::now();
    let run = start("flood.py", &all);
    run.wait_event("connected");
    another_client_is_served(addr, &format!("during {kind}"));
    let report = run.report(90);
    another_client_is_served(addr, &format!("after {kind}"));
    let peak = watch.stop();
    eprintln!("{kind}: {:?}, RSS {before} KiB, peak {peak} KiB; {report}", t.elapsed());
    assert!(
        peak.saturating_sub(before) < RSS_GROWTH_KIB,
        "{kind}: the server's RSS grew from {before} KiB to {peak} KiB"
    );
    assert!(
        report["violations"].as_array().is_some_and(Vec::is_empty),
        "{kind}: the server broke the protocol as the client saw it: {report}"
    );
    report
}

/// The report says the server sent GOAWAY with `code` and then closed the connection.
fn assert_goaway_then_close(report: &Value, code: u64) {
    assert_eq!(report["goaway"]["code"].as_u64(), Some(code), "GOAWAY code: {report}");
    let closed = report["closed"].as_str();
    assert!(matches!(closed, Some("eof" | "reset")), "the server must close after its GOAWAY: {report}");
}

fn count(report: &Value, key: &str) -> u64 {
    report[key].as_u64().unwrap_or_else(|| panic!("no {key} in {report}"))
}

// ---- Floods: each ends in GOAWAY(ENHANCE_YOUR_CALM) ---------------------------------------------

#[test]
fn rapid_reset_ends_in_enhance_your_calm() {
    let site = site(&[]);
    // HEADERS then RST_STREAM, up to 10,000 times: far beyond a budget of ~1,000.
    let r = attack(&site, "rapid-reset", &["--path", "/index.html", "--count", "10000", "--seconds", "30"]);
    assert_goaway_then_close(&r, CALM);
    assert!(count(&r, "pairs_sent") > 1000, "the budget let fewer than 1,000 resets through: {r}");
}

#[test]
fn a_continuation_flood_ends_in_enhance_your_calm() {
    let site = site(&[]);
    let r = attack(&site, "continuation", &["--path", "/index.html", "--count", "10000", "--seconds", "30"]);
    assert_goaway_then_close(&r, CALM);
    // At most 16 CONTINUATION frames in one block: the GOAWAY comes long before the end.
    assert_eq!(r["statuses"], serde_json::json!({}), "no request may come of it: {r}");
}

#[test]
fn a_one_mib_header_block_ends_in_enhance_your_calm() {
    let site = site(&[]);
    let r = attack(&site, "huge-header", &["--path", "/index.html", "--seconds", "30"]);
    assert_goaway_then_close(&r, CALM);
    assert!(count(&r, "block_bytes") > 1 << 20, "{r}");
    assert_eq!(r["statuses"], serde_json::json!({}), "no request may come of it: {r}");
}

#[test]
fn a_settings_flood_ends_in_enhance_your_calm() {
    let site = site(&[]);
    let r = attack(&site, "settings", &["--count", "20000", "--seconds", "30"]);
    assert_goaway_then_close(&r, CALM);
    let acks = r["counts"]["SETTINGS_ACK"].as_u64().unwrap_or(0);
    assert!(acks < 20000, "every SETTINGS was acknowledged, none refused: {r}");
}

#[test]
fn a_ping_flood_that_never_reads_ends_in_enhance_your_calm() {
    let site = site(&[]);
    let r = attack(&site, "ping", &["--count", "50000", "--seconds", "30"]);
    assert_goaway_then_close(&r, CALM);
    let acks = r["counts"]["PING_ACK"].as_u64().unwrap_or(0);
    assert!(acks < count(&r, "pings_sent"), "every PING was answered: {r}");
}

#[test]
fn an_empty_data_flood_ends_in_enhance_your_calm() {
    let site = site(&[]);
    // The POST goes to a script that reads its body to the end: the stream stays open while
    // the empty frames come.
    let r =
        attack(&site, "empty-data", &["--path", "/cgi-bin/sink.sh", "--count", "20000", "--seconds", "30"]);
    assert_goaway_then_close(&r, CALM);
}

// ---- HPACK ---------------------------------------------------------------------------------------

#[test]
fn an_hpack_table_size_update_above_our_settings_is_a_compression_error() {
    let site = site(&[]);
    let r = attack(&site, "hpack-update", &["--path", "/index.html"]);
    assert_goaway_then_close(&r, COMPRESSION);
    assert_eq!(r["statuses"], serde_json::json!({}), "{r}");
}

#[test]
fn a_huge_header_table_size_from_the_client_does_not_grow_the_servers_table() {
    let site = site(&[]);
    // SETTINGS_HEADER_TABLE_SIZE 2^32-1, then 300 answers that each carry a new field worth
    // indexing: the server's encoder keeps to 4,096 bytes (all it ever needs), and every
    // answer decodes (the client's decoder follows the server's table exactly).
    let r = attack(&site, "table-size", &["--path", "/cgi-bin/echo.sh", "--count", "300", "--seconds", "60"]);
    assert_eq!(r["ending"], "open", "the connection goes on: {r}");
    assert_eq!(r["statuses"], serde_json::json!({"200": 300}), "{r}");
    assert_eq!(count(&r, "streams_ended"), 300, "{r}");
    let table = count(&r, "decoder_table_bytes_max");
    assert!(table > 0 && table <= 4096, "the server's dynamic table held {table} bytes: {r}");
}

// ---- Stalls and limits that end a stream, not the connection ------------------------------------

#[test]
fn a_client_window_of_zero_gets_heads_and_no_data_and_costs_no_memory() {
    let site = site(&["--send-timeout", "3s"]);
    // 90 requests for the 64 MiB file, windows never opened: buffered, that would be 5.6 GiB.
    let r = attack(&site, "window-zero", &["--path", "/big.bin", "--count", "90", "--seconds", "6"]);
    assert_eq!(r["statuses"], serde_json::json!({"200": 90}), "every request gets its head: {r}");
    assert_eq!(count(&r, "data_total"), 0, "not one DATA byte beyond a window of 0: {r}");
    // Either the connection is still open, or the server gave up on it after the send timeout
    // (not before).
    if let Some(after) = r["ended_after_s"].as_f64() {
        assert!(
            after >= 2.5,
            "the stalled connection was closed after {after} s, before --send-timeout 3s: {r}"
        );
    }
}

#[test]
fn a_header_list_over_32_kib_is_431_and_the_connection_goes_on() {
    let site = site(&[]);
    let addr = site.server.addr.to_string();
    // One connection: 20,000 characters of field (under MAX_HEADER_LIST_SIZE), 40,000 (over
    // it, still under the 64 KiB block limit once Huffman-coded), then none.
    let out = h2_script(
        "client.py",
        &["headers", &addr, "/index.html", "--sizes", "20000,40000,0", "--seconds", "20"],
        Duration::from_secs(60),
    );
    let r: Value = serde_json::from_str(&last_line(&out)).unwrap();
    let statuses: Vec<_> = r["results"].as_array().unwrap().iter().map(|s| s["status"].clone()).collect();
    assert_eq!(statuses, [200, 431, 200], "{r}");
    for s in r["results"].as_array().unwrap() {
        assert_eq!(s["ended"], true, "{r}");
        assert_eq!(s["reset"], Value::Null, "{r}");
    }
    assert_eq!(r["goaway"], Value::Null, "the connection goes on: {r}");
    assert_eq!(r["violations"], serde_json::json!([]), "{r}");
}

#[test]
fn an_idle_connection_gets_goaway_no_error_after_the_keepalive_timeout() {
    let site = site(&["--keepalive-timeout", "1s"]);
    let addr = site.server.addr.to_string();
    let out =
        h2_script("client.py", &["idle", &addr, "/index.html", "--seconds", "10"], Duration::from_secs(30));
    let r: Value = serde_json::from_str(&last_line(&out)).unwrap();
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["goaway"]["code"].as_u64(), Some(NO_ERROR), "{r}");
    assert_eq!(r["goaway"]["last_stream"], 1, "{r}");
    assert_eq!(r["closed"], "eof", "{r}");
    let after = r["goaway_after_s"].as_f64().unwrap();
    assert!((0.8..5.0).contains(&after), "GOAWAY {after} s after the last response, timeout 1 s: {r}");
}

/// Writes `bytes` on a new connection and reads until the server closes: what came back, and
/// when the close came.
fn write_then_wait_for_close(addr: SocketAddr, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    s.write_all(bytes).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    (buf, t.elapsed())
}

/// The frames in `bytes`: (type, stream, payload).
fn frames(mut bytes: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        let stream = u32::from_be_bytes(bytes[5..9].try_into().unwrap()) & 0x7fff_ffff;
        let Some(payload) = bytes.get(9..9 + len) else { break };
        out.push((bytes[3], stream, payload.to_vec()));
        bytes = &bytes[9 + len..];
    }
    out
}

#[test]
fn a_connection_that_never_finishes_its_preface_is_closed_after_the_header_timeout() {
    let site = site(&["--header-timeout", "1s"]);
    let in_time = |took: Duration| took >= Duration::from_millis(800) && took < Duration::from_secs(8);
    // Half the connection preface: not yet HTTP/2 nor anything else; closed on time.
    let (got, took) = write_then_wait_for_close(site.server.addr, b"PRI * HTTP/2.0\r\n");
    assert!(
        in_time(took),
        "closed after {took:?} (header timeout 1 s); got {:?}",
        String::from_utf8_lossy(&got)
    );
    // The client magic but never its SETTINGS (RFC 9113 §3.4: the preface ends with them): our
    // SETTINGS go out at once, then a GOAWAY and the close when the timeout comes.
    let (got, took) = write_then_wait_for_close(site.server.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    let f = frames(&got);
    assert!(in_time(took), "closed after {took:?} (header timeout 1 s); frames {f:?}");
    assert_eq!(f.first().map(|f| (f.0, f.1)), Some((0x4, 0)), "our SETTINGS first: {f:?}");
    let last = f.last().unwrap();
    assert_eq!((last.0, last.1, last.2.len()), (0x7, 0, 8), "a GOAWAY last: {f:?}");
    assert_eq!(&last.2[..4], &[0, 0, 0, 0], "no stream was processed: {f:?}");
}

// ---- Graceful shutdown ---------------------------------------------------------------------------

#[test]
fn sigterm_sends_goaway_no_error_and_the_download_in_flight_completes() {
    let mut site = site(&["--grace", "20s"]);
    let addr = site.server.addr.to_string();
    let want = {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(std::fs::read(site.root.path("big.bin")).unwrap());
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    // 64 MiB, the client opening its windows 1 MiB at a time with a pause: a few seconds.
    let run = start(
        "client.py",
        &[
            "download",
            &addr,
            "/big.bin",
            "--kib-per-step",
            "1024",
            "--step-ms",
            "40",
            "--seconds",
            "40",
            "--wait-close",
        ],
    );
    run.wait_event("headers");
    let pid = site.server.child.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let r = run.report(60);
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["goaway"]["code"].as_u64(), Some(NO_ERROR), "GOAWAY(NO_ERROR) on SIGTERM: {r}");
    assert_eq!(r["goaway"]["last_stream"], 1, "the stream in flight is kept: {r}");
    assert_eq!(r["ended"], true, "{r}");
    assert_eq!(r["bytes"].as_u64(), Some(BIG as u64), "{r}");
    assert_eq!(r["sha256"].as_str(), Some(want.as_str()), "{r}");
    assert_eq!(r["closed"], "eof", "then the server closes: {r}");
    let status = wait_exit(&mut site.server.child, Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "the server exits cleanly after draining: {status:?}");
}
