//! A real browser over HTTP/2: headless Chromium loads a page with 50 sub-resources (10
//! stylesheets, 20 scripts, 20 images) over HTTPS, where ALPN chooses `h2`; the page's own
//! script writes `performance.getEntries()` into the DOM, and every entry — the page and all 50
//! — says `nextHopProtocol` `h2`. A screenshot of the page is kept in the test's target
//! directory (`h2-page.png`), and the access log has 51 `HTTP/2.0` lines.
//!
//! Needs: chromium (scripts/test.sh installs it).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use pollux_testkit::tls::{https_command, spawn_https, Pki};
use pollux_testkit::{chromium, TempRoot};

/// The page: the sub-resources, then a script that reports the Resource Timing entries once
/// everything has loaded.
fn page() -> String {
    let css: String = (0..10).map(|i| format!("<link rel=stylesheet href=\"/c{i}.css\">")).collect();
    let js: String = (0..20).map(|i| format!("<script src=\"/s{i}.js\"></script>")).collect();
    let img: String = (0..20).map(|i| format!("<img src=\"/i{i}.svg\" width=60 height=60>")).collect();
    format!(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>fifty over h2</title>{css}{js}</head>\
         <body style=\"background:#f4f1e8;font:20px sans-serif\"><h1>fifty files over HTTP/2</h1>{img}\
         <pre id=out style=\"white-space:pre-wrap;word-break:break-all;font-size:11px\">pending</pre><script>\
         addEventListener('load', function () {{\
           var rows = performance.getEntries()\
             .filter(function (e) {{ return e.entryType === 'navigation' || e.entryType === 'resource'; }})\
             .map(function (e) {{ return [e.entryType, new URL(e.name).pathname, e.nextHopProtocol]; }});\
           document.getElementById('out').textContent = JSON.stringify({{scripts: window.ran || 0, entries: rows}});\
         }});\
         </script></body></html>\n"
    )
}

fn site(root: &TempRoot) {
    std::fs::write(root.path("index.html"), page()).unwrap();
    for i in 0..10 {
        std::fs::write(root.path(&format!("c{i}.css")), format!(".c{i} {{ color: #{:02x}3366; }}\n", i * 20))
            .unwrap();
    }
    for i in 0..20 {
        std::fs::write(root.path(&format!("s{i}.js")), "window.ran = (window.ran || 0) + 1;\n").unwrap();
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"60\" height=\"60\">\
             <rect width=\"60\" height=\"60\" fill=\"#{:02x}{:02x}80\"/></svg>\n",
            i * 12,
            255 - i * 12
        );
        std::fs::write(root.path(&format!("i{i}.svg")), svg).unwrap();
    }
}

/// Width and height from a PNG's IHDR, after checking its signature.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn chromium_loads_a_page_and_fifty_subresources_over_h2() {
    let pki = Pki::new();
    let root = TempRoot::empty("h2-browser");
    site(&root);
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "-"]).args(pki.cert_args("localhost"));
    let s = spawn_https(cmd, 0);
    let url = format!("https://localhost:{}/", s.tls.port());
    let resolve = "--host-resolver-rules=MAP localhost 127.0.0.1";

    let t = Instant::now();
    let out = chromium(&["--ignore-certificate-errors", resolve, "--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = dom
        .split_once("<pre id=\"out\"")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(j, _)| j.replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no report in the DOM:\n{dom}\n{}", String::from_utf8_lossy(&out.stderr)));
    let report: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{e}: the page's report is {json:?} (not loaded?)"));
    assert_eq!(report["scripts"], 20, "every script ran: {report}");
    let entries = report["entries"].as_array().unwrap();
    let mut paths: Vec<&str> = entries.iter().map(|e| e[1].as_str().unwrap()).collect();
    paths.sort_unstable();
    let mut want: Vec<String> = vec!["/".into()];
    want.extend((0..10).map(|i| format!("/c{i}.css")));
    want.extend((0..20).map(|i| format!("/s{i}.js")));
    want.extend((0..20).map(|i| format!("/i{i}.svg")));
    want.sort();
    assert_eq!(paths, want, "the page and its 50 sub-resources, each once: {report}");
    assert_eq!(entries[0][0], "navigation", "{report}");
    let not_h2: Vec<&Value> = entries.iter().filter(|e| e[2] != "h2").collect();
    assert!(not_h2.is_empty(), "nextHopProtocol other than h2: {not_h2:?}");

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("h2-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(&[
        "--ignore-certificate-errors",
        resolve,
        &format!("--screenshot={}", shot.display()),
        "--window-size=1000,700",
        &url,
    ]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!("no screenshot at {} ({e}): {}", shot.display(), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(png_size(&png), (1000, 700), "the window's size");
    assert!(png.len() > 5000, "a screenshot of {} bytes: blank?", png.len());
    eprintln!("two headless Chromium runs over h2: {:?}; screenshot {}", t.elapsed(), shot.display());

    // Both loads, every request HTTP/2 in the access log.
    let log = s.server.wait_log("\"GET /i19.svg HTTP/2.0\" 200", 10);
    let h2 = log.lines().filter(|l| l.contains(" HTTP/2.0\" 200 ")).count();
    assert!(h2 >= 51, "{h2} HTTP/2.0 lines:\n{log}");
    assert!(!log.contains("HTTP/1.1\""), "a request came over HTTP/1.1:\n{log}");
}
