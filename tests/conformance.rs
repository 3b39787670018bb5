//! The HTTP/1.1 conformance corpus (`conformance/http`, in the repository) sent byte
//! for byte to the real `examples/hello` server over real sockets, and scored the way the
//! corpus README says.
//!
//! Every case gets a fresh connection. The reader stops as soon as the verdict is decided
//! (all expected responses in, or the server closed); otherwise it reads for about a second,
//! half-closes, and reads on until the server closes or a few seconds pass. `MUST` and `LIMIT`
//! rows are asserted; `STRICT` and `SHOULD` rows are scored and printed. The `ambiguous/`
//! cases are run and described, never asserted.
//!
//! `hello` answers any path other than `/`, `/plaintext` and `/json` with a JSON description
//! of what it parsed, so accepted requests are also checked for method, target and body length.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pollux_testkit::{hello, parse_responses, ReadRetry, Resp};

/// Connections in flight at once.
const PARALLEL: usize = 32;
/// How long to wait for the server to finish on its own before half-closing.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// How long to wait for the close after half-closing.
const AFTER_HALF_CLOSE: Duration = Duration::from_secs(3);

/// Statuses that mean "I refused to parse this" (README: not an acceptance).
const PARSE_REJECTIONS: [u16; 6] = [400, 411, 413, 414, 431, 505];

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/http");
    assert!(
        dir.join("expect.tsv").is_file(),
        "the conformance corpus is missing: expected {} (conformance/http in the repository)",
        dir.display()
    );
    dir
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accept,
    Reject,
    Ambiguous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Must,
    Limit,
    Strict,
    Should,
    /// ambiguous rows carry no level
    None,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Limit => "LIMIT",
            Level::Strict => "STRICT",
            Level::Should => "SHOULD",
            Level::None => "-",
        }
    }
    fn asserted(self) -> bool {
        matches!(self, Level::Must | Level::Limit)
    }
}

/// One row of `expect.tsv` / `ambiguous.tsv` (or a generated limit case), with its bytes.
#[derive(Debug, Clone)]
struct Case {
    file: String,
    verdict: Verdict,
    level: Level,
    methods: Vec<String>,
    targets: Vec<String>,
    body_lens: Vec<Option<usize>>,
    notes: BTreeMap<String, String>,
    raw: Vec<u8>,
    /// Generated limit cases: the server must refuse *before* we half-close (not buffer).
    refuse_unprompted: bool,
}

impl Case {
    fn note(&self, key: &str) -> Option<&str> {
        self.notes.get(key).map(String::as_str)
    }
    fn then(&self) -> Option<&str> {
        self.note("then")
    }
    fn then_close(&self) -> bool {
        self.then() == Some("close")
    }
    fn then_400_or_close(&self) -> bool {
        self.then().is_some_and(|t| t.contains("400 or close"))
    }
    fn min_responses(&self) -> usize {
        match self.then().and_then(|t| t.strip_prefix("min_responses=")) {
            Some(n) => n.trim().parse().unwrap_or(self.methods.len()),
            None => self.methods.len(),
        }
    }
    /// A reject row whose `then=` note tolerates one normal response to the leading request.
    fn tolerates_pre(&self) -> bool {
        self.verdict == Verdict::Reject && self.then().is_some()
    }
    fn head_flags(&self) -> Vec<bool> {
        match self.verdict {
            Verdict::Accept => self.methods.iter().map(|m| m == "HEAD").collect(),
            // Error responses carry bodies whatever the method was.
            _ => Vec::new(),
        }
    }
}

/// `key=value; key=value` where a value may itself hold `; ` (a piece without `key=` continues
/// the previous value).
fn parse_notes(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut last: Option<String> = None;
    for piece in s.split("; ") {
        let keyed = piece
            .split_once('=')
            .filter(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        match (keyed, &last) {
            (Some((k, v)), _) => {
                out.insert(k.to_owned(), v.to_owned());
                last = Some(k.to_owned());
            }
            (None, Some(k)) => {
                let v: &mut String = out.get_mut(k).unwrap();
                v.push_str("; ");
                v.push_str(piece);
            }
            (None, None) => {}
        }
    }
    out
}

fn load_table(dir: &std::path::Path, table: &str, sub: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join(table)).unwrap_or_else(|e| panic!("{table}: {e}"));
    let mut cases = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 6, "{table}: malformed row {line:?}");
        let verdict = match cols[1] {
            "accept" => Verdict::Accept,
            "reject" => Verdict::Reject,
            "ambiguous" => Verdict::Ambiguous,
            v => panic!("{table}: unknown verdict {v:?}"),
        };
        let notes = parse_notes(cols[5]);
        let level = match notes.get("level").map(String::as_str) {
            Some("MUST") => Level::Must,
            Some("LIMIT") => Level::Limit,
            Some("STRICT") => Level::Strict,
            Some("SHOULD") => Level::Should,
            None if verdict == Verdict::Ambiguous => Level::None,
            other => panic!("{table}: {}: unknown level {other:?}", cols[0]),
        };
        // getbody= rows are SHOULD whatever else they say (README)
        let level = if notes.contains_key("getbody") { Level::Should } else { level };
        // Targets never hold a space, but a shortened one reads `prefix...(4099 bytes)`.
        let split = |s: &str| {
            s.replace(" bytes)", "\u{0}bytes)")
                .split(' ')
                .map(|t| t.replace('\u{0}', " "))
                .collect::<Vec<_>>()
        };
        let body_lens = cols[4].split(' ').map(|s| s.parse().ok()).collect();
        let path = dir.join(sub).join(cols[0]);
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        cases.push(Case {
            file: cols[0].to_owned(),
            verdict,
            level,
            methods: split(cols[2]),
            targets: split(cols[3]),
            body_lens,
            notes,
            raw,
            refuse_unprompted: false,
        });
    }
    cases
}

/// The README's LIMIT examples are not in `expect.tsv`, so they are generated here: oversized
/// input the server must refuse (or close on) without waiting for the rest or buffering it.
fn generated_limit_cases() -> Vec<Case> {
    const MIB: usize = 1024 * 1024;
    let mut cases = Vec::new();
    let mut add = |name: &str, why: &str, raw: Vec<u8>| {
        let mut notes = BTreeMap::new();
        notes.insert("level".to_owned(), "LIMIT".to_owned());
        notes.insert("why".to_owned(), why.to_owned());
        cases.push(Case {
            file: format!("generated:{name}"),
            verdict: Verdict::Reject,
            level: Level::Limit,
            methods: vec!["GET".into()],
            targets: vec!["/".into()],
            body_lens: vec![None],
            notes,
            raw,
            refuse_unprompted: true,
        });
    };
    let target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(MIB));
    add("1mib-target", "1 MiB request-target: 414 (or 400/close) without buffering it", target.into_bytes());
    let field = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(MIB));
    add("1mib-field", "1 MiB field value: 431 (or 400/close)", field.into_bytes());
    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..20000 {
        let _ = write!(many, "X-F{i}: v\r\n");
    }
    many.push_str("\r\n");
    add("20000-fields", "20000 header fields: 431 (or 400/close)", many.into_bytes());
    let mut endless = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    while endless.len() < 2 * MIB {
        endless.push_str("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    add("unterminated-2mib-head", "2 MiB header section that never ends: 431 or close", endless.into_bytes());
    add(
        "content-length-2^64-1",
        "Content-Length 18446744073709551615 with 3 body bytes: 413/400, not a wait for the body",
        b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\nabc".to_vec(),
    );
    add(
        "chunk-size-near-2^64",
        "chunk-size fffffffffffffff0 with 3 data bytes: 413/400, not a wait for the chunk",
        b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff0\r\nabc".to_vec(),
    );
    cases
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Transcript {
    data: Vec<u8>,
    /// The server closed (EOF or reset).
    closed: bool,
    /// ... and did so before we half-closed.
    closed_unprompted: bool,
    half_closed: bool,
    write_error: Option<String>,
    elapsed: Duration,
}

/// Sends `raw` on a fresh connection and reads until `done(data)` says the verdict is decided,
/// the server closes, or the two waits run out (half-closing in between).
fn converse(addr: SocketAddr, raw: &[u8], done: &dyn Fn(&[u8]) -> bool) -> Transcript {
    let start = Instant::now();
    let mut t = Transcript::default();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    if let Err(e) = s.write_all(raw) {
        // The server may refuse early and close while we are still writing; read what it said.
        t.write_error = Some(e.to_string());
    }
    let mut buf = vec![0u8; 65536];
    let mut deadline = Instant::now() + FIRST_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            if t.half_closed {
                break;
            }
            let _ = s.shutdown(Shutdown::Write);
            t.half_closed = true;
            deadline = Instant::now() + AFTER_HALF_CLOSE;
            continue;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read_retry(&mut buf) {
            Ok(0) => {
                t.closed = true;
                break;
            }
            Ok(n) => {
                t.data.extend_from_slice(&buf[..n]);
                if done(&t.data) {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                deadline = Instant::now(); // the wait ran out
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                // reset: the server is gone just the same
                t.closed = true;
                break;
            }
        }
    }
    t.closed_unprompted = t.closed && !t.half_closed;
    t.elapsed = start.elapsed();
    t
}

fn is_rejection(status: u16) -> bool {
    PARSE_REJECTIONS.contains(&status)
}

fn is_error(status: u16) -> bool {
    (400..600).contains(&status)
}

/// When the reader may stop early for this case.
fn stop_rule(case: &Case) -> impl Fn(&[u8]) -> bool + '_ {
    let heads = case.head_flags();
    move |data: &[u8]| {
        let (rs, _) = parse_responses(data, &heads);
        match case.verdict {
            Verdict::Accept => {
                let n = case.methods.len();
                if rs.iter().take(n).any(|r| is_rejection(r.status)) {
                    return true; // decided: wrong
                }
                if case.then_close() || case.then_400_or_close() {
                    rs.len() > n + 1 // wait for the close, unless it is plainly not coming
                } else {
                    rs.len() >= n
                }
            }
            Verdict::Ambiguous => rs.len() >= case.methods.len(),
            // Read to the close: whatever follows an error would be a smuggled request.
            Verdict::Reject => {
                let pre = usize::from(case.tolerates_pre());
                rs.iter().skip(pre).any(|r| !is_error(r.status)) || rs.len() > pre + 1
            }
        }
    }
}

/// The JSON mirror `hello` sends for paths other than `/`, `/plaintext`, `/json`.
fn mirror(r: &Resp) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v.get("method").is_some().then_some(v)
}

/// `expected` as listed (possibly `prefix...(N bytes)`) against what the server understood.
fn same_target(expected: &str, got: &str) -> bool {
    if let Some((prefix, rest)) = expected.split_once("...(") {
        let len: Option<usize> = rest.strip_suffix(" bytes)").and_then(|n| n.parse().ok());
        return got.starts_with(prefix) && Some(got.len()) == len;
    }
    if expected == got {
        return true;
    }
    // absolute-form with an empty path: `http://h?q` and `http://h/?q` are the same resource
    if let Some(after) = expected.strip_prefix("http://") {
        let cut = after.find(['/', '?']).unwrap_or(after.len());
        if !after[cut..].starts_with('/') {
            let normal = format!("http://{}/{}", &after[..cut], &after[cut..]);
            return normal == got;
        }
    }
    false
}

fn check_mirror(case: &Case, i: usize, r: &Resp) -> Result<(), String> {
    let Some(v) = mirror(r) else { return Ok(()) };
    let method = v["method"].as_str().unwrap_or("?");
    let target = v["target"].as_str().unwrap_or("?");
    let body_len = v["body_len"].as_u64();
    if method != case.methods[i] {
        return Err(format!("request {i}: server parsed method {method:?}, expected {:?}", case.methods[i]));
    }
    if !same_target(&case.targets[i], target) {
        return Err(format!(
            "request {i}: server parsed target {:?}, expected {:?}",
            short(target),
            short(&case.targets[i])
        ));
    }
    if let Some(Some(want)) = case.body_lens.get(i) {
        if body_len != Some(*want as u64) {
            return Err(format!("request {i}: server saw a body of {body_len:?} bytes, expected {want}"));
        }
    }
    Ok(())
}

/// Long targets, cut for printing.
fn short(s: &str) -> String {
    if s.chars().count() <= 100 {
        return s.to_owned();
    }
    let head: String = s.chars().take(80).collect();
    format!("{head}...({} bytes)", s.len())
}

fn statuses(rs: &[Resp]) -> String {
    let s: Vec<String> = rs.iter().map(|r| r.status.to_string()).collect();
    format!("[{}]", s.join(", "))
}

fn score_accept(case: &Case, t: &Transcript) -> Result<(), String> {
    let (rs, used) = parse_responses(&t.data, &case.head_flags());
    let n = case.methods.len();
    for (i, r) in rs.iter().enumerate().take(n) {
        if is_rejection(r.status) {
            return Err(format!(
                "request {i} ({} {}) refused with {}",
                case.methods[i], case.targets[i], r.status
            ));
        }
        check_mirror(case, i, r)?;
    }
    let min = case.min_responses();
    if rs.len() < min {
        let how = if t.closed { "then closed" } else { "and no close" };
        return Err(format!("only {} of {min} responses {}, {how}", rs.len(), statuses(&rs)));
    }
    if case.then_close() {
        if rs.len() > n {
            return Err(format!(
                "the bytes after the last request were processed: responses {}",
                statuses(&rs)
            ));
        }
        if used < t.data.len() {
            return Err(format!("{} stray bytes after the last response", t.data.len() - used));
        }
        if !t.closed_unprompted {
            return Err("the server did not close the connection after the last response".into());
        }
    }
    if case.then_400_or_close() {
        match rs.get(n..).unwrap_or_default() {
            [] => {}
            [r] if r.status == 400 => {}
            extra => {
                return Err(format!(
                    "after the response: {} (only a 400 or a close is fine)",
                    statuses(extra)
                ))
            }
        }
        // The README's procedure counts a close after our half-close as a close (reported apart).
        if !t.closed {
            return Err("the server never closed after the trailing garbage".into());
        }
    }
    Ok(())
}

fn score_reject(case: &Case, t: &Transcript) -> Result<(), String> {
    let (rs, _) = parse_responses(&t.data, &[]);
    // A `then=` note tolerates one normal response to the leading request head.
    let pre = case.tolerates_pre() && rs.first().is_some_and(|r| !is_error(r.status));
    let rest = if pre { &rs[1..] } else { &rs[..] };
    match rest {
        [] => {}
        [r] if is_error(r.status) => {}
        [r, ..] if is_error(r.status) => {
            return Err(format!("a request after the error got a response (smuggled): {}", statuses(&rs)));
        }
        [r, ..] => return Err(format!("accepted: answered {} {}", r.status, statuses(&rs))),
    }
    let refused = !rest.is_empty();
    if case.refuse_unprompted && !refused && !t.closed_unprompted {
        return Err("neither refused nor closed until we half-closed: the input was buffered".into());
    }
    if !refused && !t.closed {
        return Err("no error response and the connection was never closed".into());
    }
    if pre && !t.closed {
        return Err(format!("answered {} and then left the connection open", statuses(&rs)));
    }
    Ok(())
}

/// What happened, in one line (for the ambiguous cases and for failures).
fn describe(case: &Case, t: &Transcript) -> String {
    let (rs, used) = parse_responses(&t.data, &case.head_flags());
    let mut out = statuses(&rs);
    for r in &rs {
        if let Some(v) = mirror(r) {
            let target = short(&v["target"].to_string());
            let _ = write!(out, " {} {target} body={}", v["method"], v["body_len"]);
        }
    }
    if used < t.data.len() {
        let _ = write!(out, " +{} unparsed bytes", t.data.len() - used);
    }
    out.push_str(match (t.closed, t.closed_unprompted) {
        (true, true) => "; server closed",
        (true, false) => "; closed after our half-close",
        (false, _) if !t.half_closed => "; (stopped reading: verdict decided)",
        (false, _) => "; never closed",
    });
    if let Some(e) = &t.write_error {
        let _ = write!(out, "; write error: {e}");
    }
    let _ = write!(out, "; {} ms", t.elapsed.as_millis());
    out
}

fn snippet(data: &[u8]) -> String {
    let n = data.len().min(200);
    let mut s = data[..n].escape_ascii().to_string();
    if data.len() > n {
        let _ = write!(s, "... ({} bytes)", data.len());
    }
    s
}

struct Outcome {
    case: Case,
    transcript: Transcript,
    result: Result<(), String>,
}

/// Runs every case on its own connection, `PARALLEL` at a time.
fn run_all(addr: SocketAddr, cases: Vec<Case>) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(cases.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let transcript = converse(addr, &case.raw, &stop_rule(case));
                let result = match case.verdict {
                    Verdict::Accept => score_accept(case, &transcript),
                    Verdict::Reject => score_reject(case, &transcript),
                    Verdict::Ambiguous => Ok(()),
                };
                results.lock().unwrap()[i] = Some(Outcome { case: case.clone(), transcript, result });
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(Option::unwrap).collect()
}

fn all_cases() -> (Vec<Case>, Vec<Case>) {
    let dir = corpus_dir();
    let mut expect = load_table(&dir, "expect.tsv", "requests");
    assert_eq!(expect.len(), 402, "expect.tsv should list 402 cases");
    expect.extend(generated_limit_cases());
    let ambiguous = load_table(&dir, "ambiguous.tsv", "ambiguous");
    (expect, ambiguous)
}

#[test]
fn corpus_verdicts_hold_for_every_must_and_limit_case() {
    let (expect, ambiguous) = all_cases();
    let server = hello(2);
    let started = Instant::now();
    let outcomes = run_all(server.addr, expect);
    let ambiguous = run_all(server.addr, ambiguous);
    let took = started.elapsed();

    // Score table: (verdict, level) -> (right, total)
    let mut table: BTreeMap<(Level, &str), (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut soft = Vec::new();
    for o in &outcomes {
        let verdict = if o.case.verdict == Verdict::Accept { "accept" } else { "reject" };
        let e = table.entry((o.case.level, verdict)).or_default();
        e.1 += 1;
        match &o.result {
            Ok(()) => {
                e.0 += 1;
                let waits_for_close = o.case.verdict == Verdict::Reject || o.case.then_400_or_close();
                if waits_for_close && !o.transcript.closed_unprompted {
                    soft.push(o);
                }
            }
            Err(_) => failures.push(o),
        }
    }

    println!("\n=== conformance score ({} cases, {} ms) ===", outcomes.len(), took.as_millis());
    println!("{:<8} {:<7} {:>6}", "level", "verdict", "right");
    for ((level, verdict), (right, total)) in &table {
        let mark = if level.asserted() { "asserted" } else { "reported" };
        println!("{:<8} {:<7} {:>3}/{:<3} {mark}", level.name(), verdict, right, total);
    }
    for level in [Level::Must, Level::Limit, Level::Strict, Level::Should] {
        let (r, t) = table
            .iter()
            .filter(|((l, _), _)| *l == level)
            .fold((0, 0), |(r, t), (_, (r2, t2))| (r + r2, t + t2));
        println!("{:<8} total   {r}/{t}", level.name());
    }

    if !soft.is_empty() {
        println!("\n--- passed, but the server closed only after our half-close (or left a 4xx open) ---");
        for o in &soft {
            println!("{} [{}]: {}", o.case.file, o.case.level.name(), describe(&o.case, &o.transcript));
        }
    }

    let (asserted, reported): (Vec<&Outcome>, Vec<&Outcome>) =
        failures.into_iter().partition(|o| o.case.level.asserted());
    if !reported.is_empty() {
        println!("\n--- STRICT/SHOULD cases the server got wrong (reported, not asserted) ---");
        for o in &reported {
            println!(
                "{} [{:?} {}] {}\n    server: {}",
                o.case.file,
                o.case.verdict,
                o.case.level.name(),
                o.result.as_ref().err().map(String::as_str).unwrap_or(""),
                describe(&o.case, &o.transcript)
            );
        }
    }

    println!("\n--- ambiguous cases: what the server did ---");
    for o in &ambiguous {
        println!(
            "{}: {}\n    either: {}",
            o.case.file,
            describe(&o.case, &o.transcript),
            o.case.note("either").unwrap_or("")
        );
    }

    if !asserted.is_empty() {
        let mut msg = format!("{} MUST/LIMIT case(s) failed:\n", asserted.len());
        for o in &asserted {
            let _ = writeln!(
                msg,
                "{} [{:?} {}] {}\n    why: {}\n    server: {}\n    sent back: {}",
                o.case.file,
                o.case.verdict,
                o.case.level.name(),
                o.result.as_ref().err().map(String::as_str).unwrap_or(""),
                o.case.note("why").unwrap_or(""),
                describe(&o.case, &o.transcript),
                snippet(&o.transcript.data),
            );
        }
        panic!("{msg}");
    }
}

#[test]
fn server_still_answers_get_after_the_whole_corpus() {
    let (mut cases, ambiguous) = all_cases();
    cases.extend(ambiguous);
    let mut server = hello(2);
    let _ = run_all(server.addr, cases);

    assert!(server.child.try_wait().unwrap().is_none(), "hello exited while running the corpus");
    // Two keep-alive requests on one connection, then a close: the workers are in a clean state.
    let raw = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let data = pollux_testkit::exchange(server.addr, raw);
    let (rs, used) = parse_responses(&data, &[false, false]);
    assert_eq!(rs.len(), 2, "expected two responses, got {:?}", String::from_utf8_lossy(&data));
    assert_eq!(used, data.len(), "stray bytes after the responses: {:?}", String::from_utf8_lossy(&data));
    assert_eq!((rs[0].status, rs[0].text().as_str()), (200, "Hello World"));
    assert_eq!(rs[1].status, 200);
    let v = mirror(&rs[1]).expect("JSON mirror for /after");
    assert_eq!((v["method"].as_str(), v["target"].as_str()), (Some("GET"), Some("/after")));
}
