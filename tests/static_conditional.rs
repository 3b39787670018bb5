//! Conditional requests against the real binary (RFC 9110 §13): every rule of §13.2.2 —
//! 304 and 412, their precedence, weak and strong comparison, `*`, lists, dates (valid,
//! invalid, the other HTTP-date forms) — and what a 304 carries.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, UNIX_EPOCH};

use pollux_testkit::{get_with, send, serve, Server, TempRoot};

const BODY: &str = "conditional body\n";
/// 2020-09-13T12:26:40Z: the file's fixed modification time.
const MTIME: u64 = 1_600_000_000;

fn date(secs: u64) -> String {
    // IMF-fixdate, as the server formats it; computed by the server's own answer below too.
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%a, %d %b %Y %H:%M:%S GMT"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

struct Site {
    tmp: TempRoot,
    server: Server,
    etag: String,
}

fn site(extra: &[&str]) -> Site {
    let tmp = TempRoot::new("conditional");
    let path = tmp.0.join("f.txt");
    std::fs::write(&path, BODY).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME)).unwrap();
    drop(f);
    let server = serve(&tmp.0, extra);
    let r = get_with(server.addr, "/f.txt", &[]);
    assert_eq!(r.status, 200);
    let etag = r.header("etag").expect("ETag on a 200").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong ETag: {etag}");
    assert_eq!(r.header("last-modified"), Some(date(MTIME).as_str()));
    Site { tmp, server, etag }
}

fn status(s: &Site, fields: &[(&str, &str)]) -> u16 {
    get_with(s.server.addr, "/f.txt", fields).status
}

#[test]
fn if_none_match_gives_304_by_weak_comparison() {
    let s = site(&[]);
    let weak = format!("W/{}", s.etag);
    let list = format!("\"nope\", {}", s.etag);
    assert_eq!(status(&s, &[("If-None-Match", &s.etag)]), 304);
    assert_eq!(status(&s, &[("If-None-Match", &weak)]), 304);
    assert_eq!(status(&s, &[("If-None-Match", &list)]), 304);
    assert_eq!(status(&s, &[("If-None-Match", "*")]), 304);
    assert_eq!(status(&s, &[("If-None-Match", "\"nope\"")]), 200);
    assert_eq!(send(s.server.addr, "HEAD", "/f.txt", &[("If-None-Match", &s.etag)]).status, 304);
}

#[test]
fn if_match_gives_412_by_strong_comparison() {
    let s = site(&[]);
    let weak = format!("W/{}", s.etag);
    let list = format!("\"a\",{},\"b\"", s.etag);
    assert_eq!(status(&s, &[("If-Match", &s.etag)]), 200);
    assert_eq!(status(&s, &[("If-Match", &list)]), 200);
    assert_eq!(status(&s, &[("If-Match", "*")]), 200);
    assert_eq!(status(&s, &[("If-Match", &weak)]), 412, "a weak tag never matches strongly");
    assert_eq!(status(&s, &[("If-Match", "\"nope\"")]), 412);
}

#[test]
fn if_modified_since_compares_dates_and_ignores_invalid_ones() {
    let s = site(&[]);
    assert_eq!(status(&s, &[("If-Modified-Since", &date(MTIME))]), 304);
    assert_eq!(status(&s, &[("If-Modified-Since", &date(MTIME + 3600))]), 304);
    assert_eq!(status(&s, &[("If-Modified-Since", &date(MTIME - 1))]), 200);
    assert_eq!(status(&s, &[("If-Modified-Since", "Sunday, 13-Sep-20 12:26:40 GMT")]), 304, "RFC 850 form");
    assert_eq!(status(&s, &[("If-Modified-Since", "Sun Sep 13 12:26:40 2020")]), 304, "asctime form");
    assert_eq!(status(&s, &[("If-Modified-Since", "yesterday")]), 200);
    assert_eq!(status(&s, &[("If-Modified-Since", "")]), 200);
}

#[test]
fn if_unmodified_since_gives_412_for_older_dates() {
    let s = site(&[]);
    assert_eq!(status(&s, &[("If-Unmodified-Since", &date(MTIME))]), 200);
    assert_eq!(status(&s, &[("If-Unmodified-Since", &date(MTIME + 10))]), 200);
    assert_eq!(status(&s, &[("If-Unmodified-Since", &date(MTIME - 10))]), 412);
    assert_eq!(status(&s, &[("If-Unmodified-Since", "not a date")]), 200);
}

#[test]
fn preconditions_are_evaluated_in_rfc9110_order() {
    let s = site(&[]);
    let old = date(MTIME - 10);
    let new = date(MTIME + 10);
    // 1. If-Match fails → 412, even though If-None-Match would give 304.
    assert_eq!(status(&s, &[("If-Match", "\"nope\""), ("If-None-Match", &s.etag)]), 412);
    // 2. If-Match passes → If-Unmodified-Since is not evaluated.
    assert_eq!(status(&s, &[("If-Match", &s.etag), ("If-Unmodified-Since", &old)]), 200);
    // If-Unmodified-Since fails → 412 before If-Modified-Since's 304.
    assert_eq!(status(&s, &[("If-Unmodified-Since", &old), ("If-Modified-Since", &new)]), 412);
    // 3. If-None-Match present → If-Modified-Since is ignored, whichever way it points.
    assert_eq!(status(&s, &[("If-None-Match", "\"nope\""), ("If-Modified-Since", &new)]), 200);
    assert_eq!(status(&s, &[("If-None-Match", &s.etag), ("If-Modified-Since", &old)]), 304);
    // If-Match passes and If-None-Match matches → 304.
    assert_eq!(status(&s, &[("If-Match", &s.etag), ("If-None-Match", &s.etag)]), 304);
    // Preconditions come before ranges: a matching If-None-Match wins over Range.
    assert_eq!(status(&s, &[("If-None-Match", &s.etag), ("Range", "bytes=0-1")]), 304);
    assert_eq!(status(&s, &[("If-Match", "\"nope\""), ("Range", "bytes=0-1")]), 412);
}

#[test]
fn a_304_carries_the_validators_cache_control_and_vary() {
    let s = site(&["--cache-control", "*.txt=max-age=60"]);
    let r = get_with(s.server.addr, "/f.txt", &[("If-None-Match", &s.etag)]);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(s.etag.as_str()));
    assert_eq!(r.header("last-modified"), Some(date(MTIME).as_str()));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert!(r.header("vary").is_some_and(|v| v.eq_ignore_ascii_case("accept-encoding")), "{:?}", r.headers);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), None);
}

#[test]
fn the_etag_changes_when_the_file_changes() {
    let s = site(&[]);
    std::fs::write(s.tmp.0.join("f.txt"), "changed content\n").unwrap();
    // Asked of a server that has not seen the file before: the running one trusts its cached
    // entry for up to a second, which crates/fs/tests/clock.rs steps through on a simulated
    // clock instead of sleeping here.
    let fresh = serve(&s.tmp.0, &[]);
    let r = get_with(fresh.addr, "/f.txt", &[("If-None-Match", &s.etag)]);
    assert_eq!((r.status, r.text().as_str()), (200, "changed content\n"));
    assert_ne!(r.header("etag"), Some(s.etag.as_str()));
}
