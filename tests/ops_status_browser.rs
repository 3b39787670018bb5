//! The admin listener's `/status` page as a person sees it: loaded in headless Chromium,
//! screenshotted to target/tmp/status-page.png, and its DOM text checked against what the
//! server did.
//!
//! Needs: chromium (scripts/test.sh installs it).

#[path = "ops/support.rs"]
mod support;

use pollux_testkit::{chromium, send, target_dir, TempRoot};
use support::serve_with_admin;

#[test]
fn the_status_page_shows_the_server_at_a_glance() {
    let root = TempRoot::new("obs-status");
    let a = serve_with_admin(&root.0, &["--workers", "2", "--backlog", "256", "--access-log", "off"]);
    for _ in 0..5 {
        assert_eq!(send(a.http, "GET", "/", &[]).status, 200);
    }
    for _ in 0..2 {
        assert_eq!(send(a.http, "GET", "/missing", &[]).status, 404);
    }
    let url = format!("http://{}/status", a.admin);
    // target/debug → target/tmp.
    let target = target_dir();
    let shots = target.parent().unwrap_or(&target).join("tmp");
    std::fs::create_dir_all(&shots).expect("mkdir target/tmp");
    let png = shots.join("status-page.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(&[&format!("--screenshot={}", png.display()), "--window-size=1000,1200", &url]);
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 5_000, "a screenshot of the page at {} ({size} bytes)", png.display());

    let out = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<title>pollux status</title>"), "{dom}");
    let cell = |id: &str| -> String {
        let open = format!("id=\"{id}\"");
        let at = dom.find(&open).unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
        let rest = &dom[at..];
        let start = rest.find('>').expect(">") + 1;
        let end = rest[start..].find('<').expect("<") + start;
        rest[start..end].to_owned()
    };
    assert_eq!(cell("generation"), "1");
    assert_eq!(cell("state"), "serving");
    assert_eq!(cell("class-2xx"), "5");
    assert_eq!(cell("class-4xx"), "2");
    assert_eq!(cell("accepted"), "7");
    for state in ["reading", "writing", "idle", "handler"] {
        assert_eq!(cell(&format!("conn-{state}")), "0", "{state}");
    }
    assert!(cell("uptime").ends_with('s'), "uptime {}", cell("uptime"));
    assert_eq!(cell("cgi-in-flight"), "0");
    assert_eq!(cell("wsgi-queued"), "0");
    // The listener with its queue and backlog, and latency quantiles estimated.
    assert!(dom.contains(&format!("<td>http://{}</td><td>0</td><td>256</td>", a.http)), "{dom}");
    assert!(dom.contains("<td>p50</td><td>") && dom.contains(" ms</td>"), "{dom}");
}
