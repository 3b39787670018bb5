//! RFC 9113 conformance: httpwg-cli (`cargo install --locked httpwg-cli`, h2spec's successor:
//! frames, stream states, flow control, error codes, HTTP semantics) against `pollux serve` as
//! h2c. Every case must pass.
//!
//! The cases POST to `/` and expect a 200 (te: trailers, a body in several DATA frames), which a
//! static root answers 405; so the server here is the WSGI app of tests/h2/app.py, which reads
//! any body and answers 200 — the same HTTP/2 connection code either way.
//!
//! Needs: httpwg-cli (scripts/test.sh installs it), python3.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::{httpwg_bin, pollux_bin, run_within, spawn};

/// httpwg-cli's output without its colours.
fn plain(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // CSI: parameters up to a final byte in @..~
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) && d != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_httpwg_case_passes_over_h2c() {
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/h2");
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["serve", "--wsgi", "app", "--pythonpath"])
        .arg(&apps)
        .args(["--bind", "127.0.0.1:0", "--workers", "1", "--access-log", "off"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("VIRTUAL_ENV");
    let server = spawn(cmd);

    let t = Instant::now();
    // A frame timeout well above httpwg's 100 ms default: a case waits that long only for a
    // frame the server owes, so a slow debug build on a busy machine is not failed for it.
    let out = run_within(
        Command::new(httpwg_bin()).args([
            "-a",
            &server.addr.to_string(),
            "--frame-timeout",
            "3000",
            "--connect-timeout",
            "5000",
        ]),
        Duration::from_secs(240),
        "httpwg",
    );
    let text = plain(&[out.stdout.as_slice(), out.stderr.as_slice()].concat());
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("Test failed:")).map(str::trim).collect();
    // "🚄 Passed 107/107 tests in 0.85 seconds against …"
    let (passed, total) = text
        .lines()
        .find_map(|l| {
            let rest = l.split("Passed ").nth(1)?;
            let (p, t) = rest.split_whitespace().next()?.split_once('/')?;
            Some((p.parse::<u32>().ok()?, t.parse::<u32>().ok()?))
        })
        .unwrap_or_else(|| panic!("no \"Passed N/M\" line from httpwg:\n{}", tail(&text, 6000)));
    eprintln!("httpwg-cli: {passed}/{total} RFC 9113 cases passed over h2c in {:?}", t.elapsed());
    assert!(
        failed.is_empty() && passed == total && out.status.success(),
        "httpwg: {passed}/{total} passed; failed:\n  {}\n\n{}",
        failed.join("\n  "),
        tail(&text, 12000)
    );
    // The suite has grown, never shrunk: 107 cases in httpwg-cli 0.2.5.
    assert!(total >= 100, "only {total} cases ran:\n{}", tail(&text, 6000));
}

/// The last `max` bytes of `text` (on a character boundary).
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
