//! The file cache's windows on a simulated clock (`ServeDir::clock`): an entry is trusted for
//! exactly one second after it was last confirmed, a sidecar probe for exactly two. What the
//! black-box tests used to wait out with sleeps is stepped through here, to the millisecond.
//!
//! The cache is per thread and so is the simulated clock (a thread-local), so each test thread
//! has its own time and its own cache.
#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response};
use pollux_fs::ServeDir;
use pollux_server::Body;

thread_local!(static NOW: Cell<Duration> = const { Cell::new(Duration::ZERO) });

fn simulated() -> Duration {
    NOW.with(Cell::get)
}

/// Puts this thread's simulated clock at `t` (tests start at a time of their own: a thread may
/// run several tests one after another).
fn set_clock(t: Duration) {
    NOW.with(|n| n.set(t));
}

fn advance(d: Duration) {
    NOW.with(|n| n.set(n.get() + d));
}

const MS: Duration = Duration::from_millis(1);
/// How long a cached file is trusted without a `stat` (the cache's `REVALIDATE`).
const WINDOW: Duration = Duration::from_secs(1);
/// How long a sidecar probe is trusted (the coding layer's `PROBE_TTL`).
const PROBE: Duration = Duration::from_secs(2);

struct Root(PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!("pollux-fs-clock-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Root(p)
    }

    fn dir(&self) -> ServeDir {
        ServeDir::new(&self.0).unwrap().clock(simulated)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn get(h: &ServeDir, target: &str, fields: &[(&str, &str)]) -> Response<Body> {
    let mut req = Request::builder().uri(target).header("host", "localhost");
    for (k, v) in fields {
        req = req.header(*k, *v);
    }
    h.serve(req.body(Body::Empty).unwrap())
}

fn header<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn etag(r: &Response<Body>) -> String {
    header(r, "etag").unwrap().to_owned()
}

fn bytes(r: Response<Body>) -> Vec<u8> {
    match r.into_body() {
        Body::Bytes(b) => b.to_vec(),
        Body::File { file, offset, len } => {
            let mut out = Vec::new();
            let mut f = file.try_clone().unwrap();
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset)).unwrap();
            f.take(len).read_to_end(&mut out).unwrap();
            out
        }
        Body::Empty => Vec::new(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn text(len: usize, salt: &str) -> Vec<u8> {
    let mut s = Vec::with_capacity(len);
    let mut i = 0u64;
    while s.len() < len {
        s.extend_from_slice(format!("/* {salt} */ .c{i} {{ margin: {}px }}\n", i * 7 % 23).as_bytes());
        i += 1;
    }
    s.truncate(len);
    s
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options().write(true).open(p).and_then(|f| f.set_modified(t)).unwrap();
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn an_edited_file_keeps_its_etag_for_999_ms_and_gets_a_new_one_at_one_second() {
    set_clock(Duration::from_secs(100));
    let root = Root::new("etag");
    std::fs::write(root.0.join("f.txt"), "hello\n").unwrap();
    let h = root.dir();
    let first = get(&h, "/f.txt", &[]);
    let tag = etag(&first);
    assert_eq!(bytes(first), b"hello\n");

    std::fs::write(root.0.join("f.txt"), "changed content\n").unwrap();
    advance(WINDOW - MS);
    let r = get(&h, "/f.txt", &[("if-none-match", &tag)]);
    assert_eq!(r.status(), 304, "still within the window: the cached entry is trusted");
    advance(MS);
    let r = get(&h, "/f.txt", &[("if-none-match", &tag)]);
    assert_eq!(r.status(), 200, "revalidated at one second");
    assert_ne!(etag(&r), tag);
    assert_eq!(bytes(r), b"changed content\n");
}

#[test]
fn a_removed_index_gives_way_to_the_listing_at_one_second() {
    set_clock(Duration::from_secs(200));
    let root = Root::new("index");
    std::fs::write(root.0.join("index.html"), "<h1>hello</h1>\n").unwrap();
    std::fs::write(root.0.join("a.txt"), "a").unwrap();
    let h = root.dir().listing(true);
    assert_eq!(bytes(get(&h, "/", &[])), b"<h1>hello</h1>\n");

    std::fs::remove_file(root.0.join("index.html")).unwrap();
    advance(WINDOW - MS);
    assert_eq!(bytes(get(&h, "/", &[])), b"<h1>hello</h1>\n");
    advance(MS);
    let listing = String::from_utf8(bytes(get(&h, "/", &[]))).unwrap();
    assert!(listing.contains("a.txt") && !listing.contains("index.html"), "{listing}");
}

#[test]
fn a_new_mtime_is_compressed_again_at_one_second() {
    set_clock(Duration::from_secs(300));
    let root = Root::new("mtime");
    let path = root.0.join("app.js");
    let (a, b) = (text(20_000, "a"), text(20_000, "b"));
    std::fs::write(&path, &a).unwrap();
    let t = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&path, t);
    let h = root.dir();
    let first = get(&h, "/app.js", &[("accept-encoding", "gzip")]);
    let tag = etag(&first);
    assert_eq!(gunzip(&bytes(first)), a);

    // Other bytes and a new mtime: a new version, once the file cache looks again.
    std::fs::write(&path, &b).unwrap();
    set_mtime(&path, t + Duration::from_secs(10));
    advance(WINDOW - MS);
    let r = get(&h, "/app.js", &[("accept-encoding", "gzip")]);
    assert_eq!(etag(&r), tag);
    assert_eq!(gunzip(&bytes(r)), a, "the cached compressed copy, within the window");
    advance(MS);
    let r = get(&h, "/app.js", &[("accept-encoding", "gzip")]);
    assert_ne!(etag(&r), tag);
    assert_eq!(gunzip(&bytes(r)), b);
}

#[test]
fn a_sidecar_added_later_is_served_at_two_seconds_with_its_own_etag() {
    set_clock(Duration::from_secs(400));
    let root = Root::new("sidecar");
    let content = text(40_000, "later");
    let path = root.0.join("site.css");
    std::fs::write(&path, &content).unwrap();
    let t = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&path, t);
    let h = root.dir().cache_control("*.css=max-age=600").unwrap();
    let first = get(&h, "/site.css", &[("accept-encoding", "br")]);
    let fly_tag = etag(&first);

    std::fs::write(root.0.join("site.css.br"), b"the operator's sidecar").unwrap();
    set_mtime(&root.0.join("site.css.br"), t);
    advance(PROBE - MS);
    let r = get(&h, "/site.css", &[("accept-encoding", "br")]);
    assert_eq!(etag(&r), fly_tag, "the probe is trusted for two seconds");
    assert!(matches!(r.body(), Body::Bytes(_)));
    advance(MS);
    let r = get(&h, "/site.css", &[("accept-encoding", "br")]);
    let side_tag = etag(&r);
    assert!(side_tag.ends_with("-br\"") && side_tag != fly_tag, "{side_tag}");
    // The prepared fields were made for the on-the-fly copy: the sidecar's answer has its own.
    assert_eq!(header(&r, "cache-control"), Some("max-age=600"));
    assert_eq!(header(&r, "content-encoding"), Some("br"));
    assert_eq!(bytes(r), b"the operator's sidecar");
    let nm = get(&h, "/site.css", &[("accept-encoding", "br"), ("if-none-match", &side_tag)]);
    assert_eq!((nm.status().as_u16(), header(&nm, "etag")), (304, Some(side_tag.as_str())));
    // The old tag no longer matches the representation being sent.
    let r = get(&h, "/site.css", &[("accept-encoding", "br"), ("if-none-match", &fly_tag)]);
    assert_eq!(r.status(), 200);
}
