//! `pollux serve` never hands out a byte from outside its root: every request-target of the
//! corpus's `traversal.txt` (SecLists LFI list, dotdotpwn patterns) is sent to the real binary
//! on its own connection, with a secret file placed next to the root and a symlink inside the
//! root pointing at it, plus this test's own hostile targets (overlong UTF-8, double and mixed
//! encodings, back slashes, chained symlinks, dotfiles holding the secret inside the root).
//! Plus the ordinary behaviour those checks lean on: index files,
//! directory redirects, HEAD, 404, symlinks out of the root, UTF-8 names.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pollux_testkit::{parse_responses, serve, ReadRetry, Resp, Server, TempRoot};

const PARALLEL: usize = 32;
const INDEX: &str = "<h1>served root</h1>\n";
const SUB_INDEX: &str = "<h1>sub index</h1>\n";
const SUB_FILE: &str = "a file in sub/\n";
const UTF8_FILE: &str = "zhongwen\n";

/// A served root `<tmp>/www` with a secret beside it (`<tmp>/secret.txt`, `<tmp>/index.html`)
/// and symlinks inside it that point out of it.
struct Site {
    tmp: TempRoot,
    marker: String,
    server: Server,
}

impl Site {
    fn new() -> Site {
        let tmp = TempRoot::new("traversal");
        let marker = format!("SECRET-{}-{:?}", std::process::id(), Instant::now());
        // The secret beside the root, and the TempRoot's own index.html outside the root too.
        std::fs::write(tmp.0.join("secret.txt"), &marker).unwrap();
        std::fs::write(tmp.0.join("index.html"), &marker).unwrap();
        let www = tmp.0.join("www");
        std::fs::create_dir_all(www.join("sub")).unwrap();
        std::fs::write(www.join("index.html"), INDEX).unwrap();
        std::fs::write(www.join("sub/index.html"), SUB_INDEX).unwrap();
        std::fs::write(www.join("sub/file.txt"), SUB_FILE).unwrap();
        std::fs::write(www.join("中文.txt"), UTF8_FILE).unwrap();
        std::os::unix::fs::symlink("../secret.txt", www.join("link")).unwrap();
        std::os::unix::fs::symlink("..", www.join("linkdir")).unwrap();
        // A link to a link that escapes, and dotfiles inside the root holding the secret:
        // hidden files are 404 without --hidden, so they must not leak either.
        std::os::unix::fs::symlink("linkdir", www.join("chain")).unwrap();
        std::fs::write(www.join(".env"), &marker).unwrap();
        std::fs::create_dir_all(www.join(".git")).unwrap();
        std::fs::write(www.join(".git/config"), &marker).unwrap();
        std::fs::write(www.join("sub/.htpasswd"), &marker).unwrap();
        let server = serve(&www, &[]);
        Site { tmp, marker, server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn root(&self) -> PathBuf {
        self.tmp.0.join("www")
    }
}

/// One request on a fresh connection: stops as soon as one whole response is in. `None` if
/// the server closed (or went quiet) without a whole response.
fn ask(addr: SocketAddr, raw: &[u8], head: bool) -> (Option<Resp>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(raw);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    let mut half_closed = false;
    loop {
        if let Some(r) = parse_responses(&data, &[head]).0.into_iter().next() {
            return (Some(r), data);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (None, data);
        }
        s.set_read_timeout(Some(left.min(Duration::from_secs(1)))).unwrap();
        match s.read_retry(&mut buf) {
            Ok(0) => return (None, data),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Quiet for a second: maybe the server waits for more; say we are done.
                if !half_closed {
                    let _ = s.shutdown(Shutdown::Write);
                    half_closed = true;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (None, data),
        }
    }
}

fn get(addr: SocketAddr, target: &str) -> Resp {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    let (r, data) = ask(addr, raw.as_bytes(), false);
    r.unwrap_or_else(|| panic!("no response to GET {target}; got {:?}", String::from_utf8_lossy(&data)))
}

fn corpus_targets() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/http");
    let path = dir.join("traversal.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the conformance corpus is missing: {} ({e}); it lives in the repository (conformance/http)",
            path.display()
        )
    });
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Targets aimed at this test's own secret, beside the root.
fn own_targets() -> Vec<String> {
    [
        "/../secret.txt",
        "/../index.html",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/.../secret.txt",
        "/link",
        "/link/",
        "/linkdir/secret.txt",
        "/linkdir/index.html",
        "/linkdir/www/../secret.txt",
        "/%6c%69%6e%6b",
        "/link%00",
        "/link%00.html",
        "http://x/../secret.txt",
        "http://x/link",
        "/%252e%252e/secret.txt",
        "/..;/secret.txt",
        "/sub/..%c0%af..%c0%afsecret.txt",
        // Overlong UTF-8 for `.` and `/` (must never decode to `..`).
        "/%c0%ae%c0%ae/secret.txt",
        "/sub/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/%c0%2e%c0%2e/secret.txt",
        // Double and mixed encodings.
        "/%252e%252e%252fsecret.txt",
        "/%25%32%65%25%32%65/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/sub/.%2E/.%2e/secret.txt",
        // Mixed and back slashes, raw and encoded.
        "/sub\\..\\..\\secret.txt",
        "/sub/..\\../secret.txt",
        "/sub%5c..%5c..%5csecret.txt",
        "/sub%5C%2e%2e%5C%2e%2e%5Csecret.txt",
        "/sub/%2e%2e%5c%2e%2e/secret.txt",
        "/%2f%2e%2e%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        // Symlink escapes, through a second link and with a trailing slash or dot.
        "/chain/secret.txt",
        "/chain/www/../secret.txt",
        "/linkdir/",
        "/chain/",
        "/linkdir/.",
        "/sub/../link",
        "/link/.",
        // Dotfiles inside the root.
        "/.env",
        "/%2eenv",
        "/%2Eenv",
        "/./.env",
        "/sub/../.env",
        "/.git/config",
        "/%2egit/config",
        "/.git/",
        "/.git",
        "/sub/.htpasswd",
        "/sub/%2ehtpasswd",
        "/.env%00",
        "/.env/",
        "http://x/.env",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// A redirect target that stays on this server: an absolute path, not a network-path
/// reference (`//host/...`, which browsers also accept as `/\\host/...`).
fn same_site(location: Option<&str>) -> bool {
    location.is_some_and(|l| l.starts_with('/') && !l.starts_with("//") && !l.starts_with("/\\"))
}

fn files_under(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in [
        root.join("index.html"),
        root.join("sub/index.html"),
        root.join("sub/file.txt"),
        root.join("中文.txt"),
    ] {
        out.push(std::fs::read(p).unwrap());
    }
    out
}

#[test]
fn no_traversal_target_reaches_outside_the_root() {
    let site = Site::new();
    let mut targets = corpus_targets();
    assert_eq!(targets.len(), 868, "traversal.txt should hold 868 request-targets");
    targets.extend(own_targets());
    let allowed = files_under(&site.root());

    let next = AtomicUsize::new(0);
    let counts: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(target) = targets.get(i) else { break };
                let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
                let (resp, data) = ask(site.addr(), raw.as_bytes(), false);
                let leaked = |hay: &[u8]| {
                    pollux_testkit::find(hay, site.marker.as_bytes()).is_some()
                        || pollux_testkit::find(hay, b"root:x:0:0").is_some()
                };
                let key = match &resp {
                    Some(r) => r.status.to_string(),
                    None if data.is_empty() => "closed".to_owned(),
                    None => "garbled".to_owned(),
                };
                *counts.lock().unwrap().entry(key).or_default() += 1;
                let problem = match &resp {
                    _ if leaked(&data) => Some("leaked a file from outside the root".to_owned()),
                    Some(r) if r.status >= 500 => Some(format!("answered {}", r.status)),
                    Some(r) if (300..400).contains(&r.status) && !same_site(r.header("location")) => {
                        Some(format!("{} to another site: Location {:?}", r.status, r.header("location")))
                    }
                    Some(r) if r.status == 200 && !allowed.contains(&r.body) => {
                        Some(format!("200 with a body that is no file of the root: {:?}", r.text()))
                    }
                    Some(_) => None,
                    None if data.is_empty() => None, // refused by closing: fine
                    None => Some(format!("unparsable answer {:?}", String::from_utf8_lossy(&data))),
                };
                if let Some(p) = problem {
                    failures.lock().unwrap().push(format!("GET {target}: {p}"));
                }
            });
        }
    });
    let counts = counts.into_inner().unwrap();
    println!("\n=== traversal: {} targets in {} ms ===", targets.len(), started.elapsed().as_millis());
    for (status, n) in &counts {
        println!("{status:>8}: {n}");
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} traversal target(s) went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn index_files_are_served_for_the_root_and_subdirectories() {
    let site = Site::new();
    for (target, body) in
        [("/", INDEX), ("/index.html", INDEX), ("/sub/", SUB_INDEX), ("/sub/file.txt", SUB_FILE)]
    {
        let r = get(site.addr(), target);
        assert_eq!((r.status, r.text().as_str()), (200, body), "GET {target}");
    }
    let r = get(site.addr(), "/index.html");
    assert!(r.header("content-type").is_some_and(|v| v.starts_with("text/html")), "{:?}", r.headers);
}

#[test]
fn a_directory_without_slash_redirects_to_the_slash_form() {
    let site = Site::new();
    let r = get(site.addr(), "/sub");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/"));
    let r = get(site.addr(), "/sub?x=1");
    assert_eq!((r.status, r.header("location")), (301, Some("/sub/?x=1")));
}

#[test]
fn a_directory_redirect_never_points_to_another_host() {
    let site = Site::new();
    // `//evil.example/..` names the root directory; echoing the path into Location would give
    // `//evil.example/../`, a network-path reference that browsers follow to evil.example.
    let mut off_site = Vec::new();
    for target in ["//evil.example/..", "//evil.example/%2e%2e", "///evil.example/..", "//sub", "//sub?x"] {
        let r = get(site.addr(), target);
        if (300..400).contains(&r.status) && !same_site(r.header("location")) {
            off_site.push(format!("GET {target} -> {} Location {:?}", r.status, r.header("location")));
        }
    }
    assert!(off_site.is_empty(), "redirects to another host:\n{}", off_site.join("\n"));
}

#[test]
fn head_sends_the_headers_of_get_and_no_body() {
    let site = Site::new();
    // HEAD then GET on one connection: if HEAD leaked a body, the GET response would be garbled.
    let raw = b"HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/file.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let data = pollux_testkit::exchange(site.addr(), raw);
    let (rs, used) = parse_responses(&data, &[true, false]);
    assert_eq!(rs.len(), 2, "{:?}", String::from_utf8_lossy(&data));
    assert_eq!(used, data.len(), "bytes after the responses: {:?}", String::from_utf8_lossy(&data));
    assert_eq!(rs[0].status, 200);
    assert_eq!(rs[0].header("content-length"), Some(INDEX.len().to_string().as_str()));
    assert_eq!((rs[1].status, rs[1].text().as_str()), (200, SUB_FILE));
}

#[test]
fn a_missing_file_is_404() {
    let site = Site::new();
    for target in ["/nope.html", "/sub/nope", "/nope/"] {
        assert_eq!(get(site.addr(), target).status, 404, "GET {target}");
    }
}

#[test]
fn a_symlink_out_of_the_root_is_404() {
    let site = Site::new();
    for target in ["/link", "/linkdir/secret.txt", "/linkdir/index.html"] {
        let r = get(site.addr(), target);
        assert_eq!(r.status, 404, "GET {target}: {:?}", r.text());
        assert!(!r.text().contains(&site.marker), "GET {target} leaked the secret");
    }
}

#[test]
fn percent_encoded_utf8_names_are_served() {
    let site = Site::new();
    let r = get(site.addr(), "/%E4%B8%AD%E6%96%87.txt");
    assert_eq!((r.status, r.text().as_str()), (200, UTF8_FILE));
    let r = get(site.addr(), "/%e4%b8%ad%e6%96%87.txt");
    assert_eq!((r.status, r.text().as_str()), (200, UTF8_FILE));
}

#[test]
fn listings_never_show_or_enter_what_lies_outside_the_root() {
    let site = Site::new();
    std::fs::remove_file(site.root().join("index.html")).unwrap();
    let server = serve(&site.root(), &["--listing"]);
    // (`/linkdir/www/` goes out and comes back in: it is the root itself, and may be listed.)
    for target in ["/linkdir/", "/chain/", "/.git/"] {
        let r = get(server.addr, target);
        assert_eq!(r.status, 404, "GET {target}: {}", r.text());
    }
    let r = get(server.addr, "/");
    assert_eq!(r.status, 200);
    let page = r.text();
    for hidden in ["linkdir", "chain", "\"./link\"", ".env", ".git"] {
        assert!(!page.contains(hidden), "the listing shows {hidden}:\n{page}");
    }
    assert!(page.contains("./sub/"), "{page}");
}
