//! Codec-level conformance over the HTTP/1.1 corpus (`conformance/http` at the repository root).
//!
//! Each `requests/*.raw` file is fed whole to a fresh decoder, and what comes out is compared
//! with its `expect.tsv` verdict (the corpus README explains verdicts, levels and `then=`
//! notes). Every `MUST` and `LIMIT` row has to be right; `STRICT` and `SHOULD` rows are scored
//! and printed. `ambiguous/*.raw` files are decoded and reported without a verdict.
//!
//! A request counts as accepted only when its `Event::End` arrives: an error inside its body
//! means the server never had a complete request to answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use pollux_http1::{Error, Event, Limits, RequestDecoder};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/http")
}

/// One request as the decoder saw it.
#[derive(Debug)]
struct Decoded {
    method: String,
    target: String,
    body_len: usize,
    keep_alive: bool,
}

/// Everything the decoder made of one file.
#[derive(Debug)]
struct Outcome {
    requests: Vec<Decoded>,
    error: Option<Error>,
}

/// Feeds `raw` to a decoder until it errors, needs more bytes, or finishes a request after
/// which the connection would not persist (the server stops reading there).
fn decode_file(raw: &[u8]) -> Outcome {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(raw);
    let mut requests = Vec::new();
    let mut current: Option<Decoded> = None;
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(Event::Head(h))) => {
                current = Some(Decoded {
                    method: h.method.to_string(),
                    target: h.uri.to_string(),
                    body_len: 0,
                    keep_alive: h.keep_alive,
                });
            }
            Ok(Some(Event::Data(d))) => {
                if let Some(c) = current.as_mut() {
                    c.body_len += d.len();
                }
            }
            Ok(Some(Event::End(_))) => {
                let Some(done) = current.take() else {
                    panic!("End without Head");
                };
                let persist = done.keep_alive;
                requests.push(done);
                if !persist {
                    return Outcome { requests, error: None };
                }
            }
            Ok(None) => return Outcome { requests, error: None },
            Err(e) => return Outcome { requests, error: Some(e) },
        }
    }
}

/// `\xHH` escapes in the TSV stand for raw bytes.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = s.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Compares a decoded target with the TSV's, which may be abbreviated as
/// `prefix...(N_bytes)` (see `read_rows`); absolute-form targets are normalised by `Uri` (an empty path is `/`).
fn same_target(decoded: &str, expected: &str) -> bool {
    if let Some((prefix, rest)) = expected.split_once("...(") {
        let n: Option<usize> = rest.strip_suffix("_bytes)").and_then(|n| n.parse().ok());
        return decoded.starts_with(prefix) && n.is_some_and(|n| decoded.len() == n);
    }
    let expected = String::from_utf8_lossy(&unescape(expected)).into_owned();
    if decoded == expected {
        return true;
    }
    // http://host?q  ->  http://host/?q ; http://host:1  ->  http://host:1/
    if let Some(after_scheme) = expected.find("://").map(|i| i + 3) {
        let path_at = expected[after_scheme..].find(['/', '?']).map_or(expected.len(), |i| i + after_scheme);
        if !expected[path_at..].starts_with('/') {
            let fixed = format!("{}/{}", &expected[..path_at], &expected[path_at..]);
            return decoded == fixed;
        }
    }
    false
}

/// Long targets, abbreviated for printing.
fn short(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

struct Row {
    file: String,
    verdict: String,
    methods: Vec<String>,
    targets: Vec<String>,
    lens: Vec<String>,
    notes: String,
}

impl Row {
    fn note(&self, key: &str) -> Option<&str> {
        self.notes.split("; ").find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    }
    fn level(&self) -> &str {
        self.note("level").unwrap_or("MUST")
    }
}

fn read_rows(tsv: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(corpus_dir().join(tsv)).expect("corpus TSV");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let col = |i: usize| cols.get(i).copied().unwrap_or("");
            let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
            Row {
                file: col(0).to_string(),
                verdict: col(1).to_string(),
                methods: words(col(2)),
                // Abbreviated targets read `prefix...(N bytes)`: keep each in one word.
                targets: words(&col(3).replace(" bytes)", "_bytes)")),
                lens: words(col(4)),
                notes: col(5).to_string(),
            }
        })
        .collect()
}

/// `Ok(())` if the outcome honours the row's verdict, else why not.
fn judge(row: &Row, out: &Outcome) -> Result<(), String> {
    let then = row.note("then").unwrap_or("");
    match row.verdict.as_str() {
        "accept" => {
            let want = row.methods.len();
            let min = if then.starts_with("min_responses=") { 1 } else { want };
            for (i, got) in out.requests.iter().enumerate() {
                let (Some(m), Some(t)) = (row.methods.get(i), row.targets.get(i)) else {
                    return Err(format!("extra request {got:?}"));
                };
                if &got.method != m || !same_target(&got.target, t) {
                    return Err(format!(
                        "request {i}: got {} {}, want {m} {t}",
                        got.method,
                        short(&got.target)
                    ));
                }
                let len = row.lens.get(i).and_then(|l| l.parse::<usize>().ok());
                if len.is_some_and(|l| l != got.body_len) {
                    return Err(format!("request {i}: body {} bytes, want {len:?}", got.body_len));
                }
            }
            if out.requests.len() < min {
                return Err(format!("{} of {want} requests, then {:?}", out.requests.len(), out.error));
            }
            if then == "close" && out.requests.last().is_some_and(|r| r.keep_alive) {
                return Err("connection would persist".into());
            }
            match out.error {
                Some(e) if !then.contains("400 or close") => {
                    Err(format!("error {e:?} ({}) after the requests", e.status()))
                }
                _ => Ok(()),
            }
        }
        "reject" => {
            let tolerated = if then.is_empty() { 0 } else { 1 };
            if out.requests.len() > tolerated {
                return Err(format!("accepted {} request(s): {:?}", out.requests.len(), out.requests));
            }
            let closed_after_first = out.requests.len() == 1 && !out.requests[0].keep_alive;
            if out.error.is_none() && !closed_after_first {
                return Err(format!("no error (decoded {:?})", out.requests));
            }
            Ok(())
        }
        other => Err(format!("unknown verdict {other}")),
    }
}

#[test]
fn conformance_corpus() {
    let rows = read_rows("expect.tsv");
    assert!(rows.len() > 300, "corpus looks truncated: {} rows", rows.len());
    // level -> (passed, total)
    let mut score: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut hard_failures = Vec::new();
    for row in &rows {
        let raw = std::fs::read(corpus_dir().join("requests").join(&row.file)).expect("raw file");
        let out = decode_file(&raw);
        if let Some(e) = out.error {
            *statuses.entry(e.status().as_u16()).or_default() += 1;
        }
        let level = format!("{} {}", row.level(), row.verdict);
        let entry = score.entry(level).or_default();
        entry.1 += 1;
        match judge(row, &out) {
            Ok(()) => entry.0 += 1,
            Err(why) => {
                println!("MISS {} [{} {}]: {why}", row.file, row.level(), row.verdict);
                if matches!(row.level(), "MUST" | "LIMIT") {
                    hard_failures.push(format!("{}: {why}", row.file));
                }
            }
        }
    }
    for (level, (pass, total)) in &score {
        println!("{level}: {pass}/{total}");
    }
    for level in ["MUST", "LIMIT", "STRICT", "SHOULD"] {
        let (pass, total) = score
            .iter()
            .filter(|(k, _)| k.starts_with(level))
            .fold((0, 0), |(p, t), (_, (pp, tt))| (p + pp, t + tt));
        println!("{level} {pass}/{total}");
    }
    println!("error statuses: {statuses:?}");
    assert!(hard_failures.is_empty(), "MUST/LIMIT failures:\n{}", hard_failures.join("\n"));
}

#[test]
fn ambiguous_cases_do_not_panic() {
    for row in read_rows("ambiguous.tsv") {
        let raw = std::fs::read(corpus_dir().join("ambiguous").join(&row.file)).expect("raw file");
        let out = decode_file(&raw);
        let requests: Vec<String> = out
            .requests
            .iter()
            .map(|r| format!("{} {} ({} B)", r.method, short(&r.target), r.body_len))
            .collect();
        let verdict = match out.error {
            Some(e) => format!("{} {:?}", e.status().as_u16(), e),
            None if requests.is_empty() => "incomplete (waits for more)".to_string(),
            None => "accepted".to_string(),
        };
        println!("AMBIGUOUS {}: {verdict}; requests {requests:?}", row.file);
    }
}

/// The corpus README lists LIMIT cases (huge targets, fields and heads, lengths near 2^64);
/// this copy of `expect.tsv` has no such rows, so they are built here. Each must be refused
/// while at most one read past the head limit is buffered.
#[test]
fn limit_cases_are_refused_without_buffering() {
    let mib = 1 << 20;
    let fields = "X: y\r\n".repeat(20_000);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("1 MiB target", format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(mib)).into(), 414),
        ("1 MiB field", format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "b".repeat(mib)).into(), 431),
        ("20000 fields", format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into(), 431),
        (
            "unterminated 2 MiB head",
            format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "c".repeat(2 * mib)).into(),
            431,
        ),
        (
            "CL 2^64-1",
            b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n".to_vec(),
            413,
        ),
        (
            "CL 2^64",
            b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n".to_vec(),
            400,
        ),
        (
            "chunk-size 2^64-1",
            b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n".to_vec(),
            413,
        ),
        (
            "chunk-size 2^64",
            b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n".to_vec(),
            400,
        ),
    ];
    let limits = Limits::default();
    let read = 64 * 1024;
    for (name, raw, want) in cases {
        let mut decoder = RequestDecoder::new(limits);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let err = loop {
            match decoder.decode(&mut buf) {
                Ok(None) if fed < raw.len() => {
                    let end = (fed + read).min(raw.len());
                    buf.extend_from_slice(&raw[fed..end]);
                    fed = end;
                }
                Ok(None) => panic!("{name}: accepted or waiting after all {fed} bytes"),
                Ok(Some(_)) => {}
                Err(e) => break e,
            }
        };
        println!("LIMIT {name}: {} {err:?} after {fed} bytes", err.status());
        assert_eq!(err.status().as_u16(), want, "{name}");
        assert!(buf.len() <= limits.max_head + read, "{name}: buffered {}", buf.len());
    }
}
