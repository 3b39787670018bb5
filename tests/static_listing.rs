//! Directory listings (`--listing`) against the real binary: escaping of hostile names,
//! directories first, sorting by column, the parent link, hidden files, JSON by `Accept` —
//! and the page as a browser renders it: headless Chromium at a phone's width takes a
//! screenshot (a real PNG of that size) and dumps the DOM, which must hold the entries.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use pollux_testkit::{chromium, get_with, serve, Server, TempRoot};

const HOSTILE: &str = "<script>&\"x.txt";

fn touch(path: &Path, body: &[u8], mtime: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime)).unwrap();
}

/// `files/` holds: `b.txt` (3000 B, oldest), `a.txt` (10 B, newest), `c.bin` (500 B), the
/// hostile name, a dotfile, and directories `zdir/` and `adir/`; no index.html.
fn site(extra: &[&str]) -> (TempRoot, Server) {
    let tmp = TempRoot::new("listing");
    let d = tmp.0.join("files");
    touch(&d.join("b.txt"), &[b'b'; 3000], 1_500_000_000);
    touch(&d.join("a.txt"), &[b'a'; 10], 1_700_000_000);
    touch(&d.join("c.bin"), &[b'c'; 500], 1_600_000_000);
    touch(&d.join(HOSTILE), b"hostile", 1_600_000_001);
    touch(&d.join(".secret"), b"s", 1_600_000_002);
    touch(&d.join("zdir/x"), b"x", 1_600_000_003);
    touch(&d.join("adir/y"), b"y", 1_600_000_004);
    touch(&d.join("adir/z"), b"z", 1_600_000_005);
    let mut flags = vec!["--listing"];
    flags.extend_from_slice(extra);
    let server = serve(&tmp.0, &flags);
    (tmp, server)
}

/// The entry names in page order, from the hrefs of the rows.
fn names(html: &str) -> Vec<String> {
    html.split("<td class=\"name\"><a href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.trim_start_matches("./").to_owned())
        .collect()
}

#[test]
fn the_page_escapes_names_and_lists_directories_first() {
    let (_tmp, server) = site(&[]);
    let r = get_with(server.addr, "/files/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("&lt;script&gt;&amp;&quot;x.txt"), "the name is HTML-escaped:\n{html}");
    assert!(html.contains("href=\"./%3Cscript%3E%26%22x.txt\""), "the href is percent-encoded:\n{html}");
    assert!(!html.contains("<script>"), "no live script tag");
    assert!(html.contains("name=\"viewport\""), "readable on a phone");
    assert_eq!(names(&html), ["../", "adir/", "zdir/", "%3Cscript%3E%26%22x.txt", "a.txt", "b.txt", "c.bin"]);
    assert!(html.contains("2.9 KiB"), "human-readable sizes");
    assert!(!html.contains(".secret"), "dotfiles are not listed");
    // The href works: it names the hostile file.
    let r = get_with(server.addr, "/files/%3Cscript%3E%26%22x.txt", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "hostile"));
}

#[test]
fn columns_sort_both_ways_with_directories_first() {
    let (_tmp, server) = site(&[]);
    let order = |q: &str| names(&get_with(server.addr, &format!("/files/?{q}"), &[]).text());
    let files = |v: Vec<String>| v.into_iter().skip(3).collect::<Vec<_>>(); // ../, adir/, zdir/
    assert_eq!(files(order("sort=size")), ["%3Cscript%3E%26%22x.txt", "a.txt", "c.bin", "b.txt"]);
    assert_eq!(files(order("sort=size&order=desc")), ["b.txt", "c.bin", "a.txt", "%3Cscript%3E%26%22x.txt"]);
    assert_eq!(files(order("sort=modified")), ["b.txt", "c.bin", "%3Cscript%3E%26%22x.txt", "a.txt"]);
    assert_eq!(files(order("sort=name&order=desc")), ["c.bin", "b.txt", "a.txt", "%3Cscript%3E%26%22x.txt"]);
    let desc = order("sort=name&order=desc");
    assert_eq!(&desc[..3], ["../", "zdir/", "adir/"], "directories stay first, in the chosen order");
    // The column links toggle the order of the current column.
    let html = get_with(server.addr, "/files/?sort=size", &[]).text();
    assert!(html.contains("href=\"?sort=size&amp;order=desc\""), "{html}");
    assert!(html.contains("href=\"?sort=name&amp;order=asc\""), "{html}");
}

#[test]
fn json_listing_for_accept_application_json() {
    let (_tmp, server) = site(&[]);
    let r = get_with(server.addr, "/files/", &[("Accept", "application/json")]);
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    assert!(r.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept")));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 6);
    assert_eq!(arr[0]["name"], "adir");
    assert_eq!(arr[0]["type"], "dir");
    let hostile = arr.iter().find(|e| e["name"] == HOSTILE).expect("the hostile name, unescaped in JSON");
    assert_eq!((hostile["type"].as_str(), hostile["size"].as_u64()), (Some("file"), Some(7)));
    let a = arr.iter().find(|e| e["name"] == "a.txt").unwrap();
    assert_eq!(a["modified"], "2023-11-14T22:13:20Z");
    assert_eq!(a["size"], 10);
    // A browser's Accept prefers HTML.
    let r = get_with(server.addr, "/files/", &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]);
    assert!(r.text().starts_with("<!DOCTYPE html>"));
}

#[test]
fn hidden_files_are_listed_only_with_hidden() {
    let (_tmp, server) = site(&["--hidden"]);
    let html = get_with(server.addr, "/files/", &[]).text();
    assert!(names(&html).contains(&".secret".to_owned()), "{html}");
}

#[test]
fn the_root_listing_has_no_parent_link_and_index_html_wins() {
    let (tmp, server) = site(&[]);
    // The TempRoot has an index.html: it is served, not listed.
    assert_eq!(get_with(server.addr, "/", &[]).text(), "<h1>hello</h1>\n");
    std::fs::remove_file(tmp.0.join("index.html")).unwrap();
    // Asked of a server that has not seen the root before: the running one trusts what it saw
    // for up to a second (stepped through in crates/fs/tests/clock.rs on a simulated clock).
    let fresh = serve(&tmp.0, &["--listing"]);
    let html = get_with(fresh.addr, "/", &[]).text();
    assert!(!html.contains("href=\"../\""), "{html}");
    assert_eq!(names(&html), ["files/"]);
}

#[test]
fn the_listing_renders_in_headless_chromium_at_phone_width() {
    let (_tmp, server) = site(&[]);
    let url = format!("http://{}/files/", server.addr);
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("listing-phone.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=412,900", &url]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}); chromium said: {}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (412, 900), "the phone-sized window");
    assert!(png.len() > 8_000, "a page with content, not a blank image: {} bytes", png.len());

    let out = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("Index of /files/"), "{dom}");
    for entry in ["adir/", "zdir/", "a.txt", "b.txt", "c.bin", "&lt;script&gt;&amp;\"x.txt"] {
        assert!(dom.contains(entry), "{entry} missing from the DOM:\n{dom}");
    }
    // The browser parsed the hostile name as text: no script element came of it.
    assert!(!dom.contains("<script>"), "{dom}");
}
