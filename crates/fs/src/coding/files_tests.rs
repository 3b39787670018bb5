//! `Compression::select` end to end on real files: negotiation, sidecars, the cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use http::header::ACCEPT_ENCODING;

use super::*;
use crate::cache;

/// The simulated clock's reading for most tests: any will do, only differences matter.
const NOW: Duration = Duration::from_secs(1000);

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const PNG: HeaderValue = HeaderValue::from_static("image/png");

struct Root(PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!("pollux-enc-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("mkdir");
        Root(p.canonicalize().expect("canonical"))
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).expect("write");
        p
    }

    fn open(&self, name: &str) -> std::sync::Arc<Opened> {
        cache::lookup(&cache::Root::new(self.0.clone()), Path::new(name), true, NOW).expect("lookup")
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn accepting(v: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT_ENCODING, HeaderValue::from_static(v));
    h
}

fn text(len: usize, salt: &str) -> Vec<u8> {
    let mut s = Vec::with_capacity(len);
    let mut i = 0u64;
    while s.len() < len {
        s.extend_from_slice(
            format!("<p id=\"p{i}\">{salt}: paragraph {i}, {}</p>\n", i * 31 % 101).as_bytes(),
        );
        i += 1;
    }
    s.truncate(len);
    s
}

fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn body_bytes(body: &Body) -> Vec<u8> {
    match body {
        Body::Bytes(b) => b.to_vec(),
        Body::File { file, offset, len } => {
            let mut out = Vec::new();
            let mut f = file.try_clone().expect("dup");
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(*offset)).expect("seek");
            f.take(*len).read_to_end(&mut out).expect("read");
            out
        }
        other => panic!("unexpected body {other:?}"),
    }
}

fn decode(coding: Coding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Coding::Br => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
        Coding::Zstd => zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out)),
        Coding::Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
    }
    .expect("valid stream");
    out
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options().write(true).open(p).and_then(|f| f.set_modified(t)).expect("set mtime");
}

#[test]
fn each_coding_decodes_to_the_file() {
    let root = Root::new("roundtrip");
    let content = text(200_000, "round trip"); // above the in-memory size: read from disk
    root.write("big.html", &content);
    root.write("small.html", &content[..20_000]); // held in memory by the file cache
    let c = Compression::new(true);
    for (name, want) in [("big.html", &content[..]), ("small.html", &content[..20_000])] {
        let file = root.open(name);
        for (accept, coding) in [("br", Coding::Br), ("zstd", Coding::Zstd), ("gzip", Coding::Gzip)] {
            let enc = c.select(&accepting(accept), &file, NOW).expect("encoded");
            assert_eq!(enc.coding, coding);
            let got = body_bytes(&enc.body);
            assert_eq!(enc.len, got.len() as u64);
            assert!(got.len() < want.len() / 4, "{accept} compresses");
            assert_eq!(decode(coding, &got), want, "{accept} of {name}");
            let tag = enc.etag.to_str().expect("ascii");
            let identity = file.facts.etag.to_str().expect("ascii");
            assert_ne!(tag, identity);
            assert_eq!(tag, format!("{}-{accept}\"", identity.trim_end_matches('"')));
        }
    }
}

#[test]
fn the_second_request_is_served_from_the_cache() {
    let root = Root::new("hit");
    root.write("a.html", &text(50_000, "cached"));
    let file = root.open("a.html");
    let c = Compression::new(true);
    let first = c.select(&accepting("br"), &file, NOW).expect("encoded");
    let second = c.select(&accepting("br"), &file, NOW).expect("encoded");
    // The same shared buffer, not a second compression.
    let (Body::Bytes(a), Body::Bytes(b)) = (&first.body, &second.body) else { panic!("bytes bodies") };
    assert_eq!(a.as_ptr(), b.as_ptr());
}

#[test]
fn a_changed_file_is_compressed_again() {
    let root = Root::new("changed");
    let p = root.write("a.html", &text(50_000, "old"));
    let c = Compression::new(true);
    let old = c.select(&accepting("gzip"), &root.open("a.html"), NOW).expect("encoded");
    std::fs::write(&p, text(50_000, "new")).expect("rewrite");
    set_mtime(&p, SystemTime::now() + Duration::from_secs(5)); // a new version even on coarse clocks
                                                               // Once the file cache's window is over it sees the new version, a new key here.
    let at = NOW + cache::REVALIDATE;
    let opened =
        cache::lookup(&cache::Root::new(root.0.clone()), Path::new("a.html"), true, at).expect("lookup");
    let new = c.select(&accepting("gzip"), &opened, at).expect("encoded");
    assert_eq!(decode(Coding::Gzip, &body_bytes(&new.body)), text(50_000, "new"));
    assert_ne!(old.etag, new.etag);
}

#[test]
fn identity_when_not_acceptable_too_small_too_large_or_not_compressible() {
    let root = Root::new("identity");
    root.write("a.html", &text(50_000, "x"));
    root.write("tiny.html", &text(500, "x"));
    root.write("a.png", &text(50_000, "x"));
    let c = Compression::new(true);
    let file = root.open("a.html");
    assert!(c.select(&HeaderMap::new(), &file, NOW).is_none());
    assert!(c.select(&accepting("deflate"), &file, NOW).is_none());
    assert!(c.select(&accepting("gzip;q=0"), &file, NOW).is_none());
    assert!(c.select(&accepting("gzip"), &root.open("tiny.html"), NOW).is_none());
    assert!(c.select(&accepting("gzip"), &root.open("a.png"), NOW).is_none());
    assert!(!c.varies(&PNG));
    assert!(c.varies(&HTML));
    let small_cap = Compression::new(true).with_limits(MIN_LEN, 10_000, CACHE_BYTES);
    assert!(small_cap.select(&accepting("gzip"), &file, NOW).is_none());
    let off = Compression::new(false);
    assert!(off.select(&accepting("gzip"), &file, NOW).is_none());
    assert!(!off.varies(&HTML));
}

#[test]
fn incompressible_content_is_sent_as_identity_and_remembered() {
    let root = Root::new("noise");
    root.write("n.txt", &noise(30_000));
    let file = root.open("n.txt");
    let c = Compression::new(true);
    assert!(c.select(&accepting("br"), &file, NOW).is_none());
    let key = Key { version: Version::of(&file.facts), what: What::Encoded(Coding::Br) };
    assert!(with_store(|st| matches!(st.get(&key), Some(Entry::NotSmaller))));
    assert!(c.select(&accepting("br"), &file, NOW).is_none());
}

#[test]
fn a_fresh_sidecar_is_preferred_and_a_stale_one_ignored() {
    let root = Root::new("sidecar");
    let content = text(50_000, "sidecar");
    let p = root.write("app.js", &content);
    let t = SystemTime::now();
    set_mtime(&p, t);
    // Any bytes will do: the sidecar is served as it is, without looking inside.
    let gz = root.write("app.js.gz", b"precompressed gzip");
    set_mtime(&gz, t + Duration::from_secs(1));
    let br = root.write("app.js.br", b"stale brotli");
    set_mtime(&br, t - Duration::from_secs(60));
    let c = Compression::new(true);
    let file = root.open("app.js");

    // Equal weights: the sidecar beats on-the-fly br.
    let enc = c.select(&accepting("br, gzip"), &file, NOW).expect("encoded");
    assert_eq!(enc.coding, Coding::Gzip);
    assert!(matches!(enc.body, Body::File { .. }));
    assert_eq!(body_bytes(&enc.body), b"precompressed gzip");
    assert_eq!(enc.len, 18);
    let tag = enc.etag.to_str().expect("ascii");
    assert!(tag.ends_with("-gzip\"") && enc.etag != file.facts.etag, "{tag}");

    // The stale br sidecar is not used: br is compressed on the fly instead.
    let enc = c.select(&accepting("br"), &file, NOW).expect("encoded");
    assert!(matches!(enc.body, Body::Bytes(_)));
    assert_eq!(decode(Coding::Br, &body_bytes(&enc.body)), content);

    // A higher weight for br beats the gzip sidecar.
    let enc = c.select(&accepting("br, gzip;q=0.5"), &file, NOW).expect("encoded");
    assert_eq!(enc.coding, Coding::Br);

    // Sidecars are used for files outside the on-the-fly window, too.
    let none = Compression::new(true).with_limits(MIN_LEN, 0, CACHE_BYTES);
    assert_eq!(none.select(&accepting("br, gzip"), &file, NOW).map(|e| e.coding), Some(Coding::Gzip));
}

#[test]
fn a_removed_sidecar_falls_back_and_is_probed_again() {
    let root = Root::new("gone");
    let p = root.write("a.css", &text(50_000, "css"));
    let t = SystemTime::now();
    set_mtime(&p, t);
    let zst = root.write("a.css.zst", b"zstd sidecar");
    set_mtime(&zst, t);
    let c = Compression::new(true);
    let file = root.open("a.css");
    assert!(matches!(c.select(&accepting("zstd"), &file, NOW).map(|e| e.body), Some(Body::File { .. })));
    std::fs::remove_file(&zst).expect("rm");
    let enc = c.select(&accepting("zstd"), &file, NOW).expect("on the fly instead");
    assert_eq!(decode(Coding::Zstd, &body_bytes(&enc.body)), text(50_000, "css"));
}

#[test]
fn the_cache_stays_within_its_bound() {
    let root = Root::new("bound");
    let bound = 64 * 1024;
    let c = Compression::new(true).with_limits(MIN_LEN, MAX_LEN, bound);
    let mut first = None;
    for i in 0..40 {
        let name = format!("f{i}.html");
        root.write(&name, &text(60_000, &name)); // ~5-10 KB compressed each
        let file = root.open(&name);
        assert!(c.select(&accepting("gzip"), &file, NOW).is_some());
        first.get_or_insert(Key { version: Version::of(&file.facts), what: What::Encoded(Coding::Gzip) });
        assert!(with_store(|st| st.used()) <= bound);
    }
    let first = first.expect("inserted");
    assert!(with_store(|st| st.get(&first).is_none()), "the oldest entry was evicted");
}

#[test]
fn a_sidecar_added_later_is_seen_when_the_probe_expires() {
    let root = Root::new("later");
    let content = text(50_000, "later");
    let p = root.write("site.css", &content);
    let t = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&p, t);
    let c = Compression::new(true);
    let file = root.open("site.css");
    let fly = c.select(&accepting("br"), &file, NOW).expect("on the fly");
    assert!(matches!(fly.body, Body::Bytes(_)));
    let br = root.write("site.css.br", b"the operator's sidecar");
    set_mtime(&br, t);
    // The probe made at NOW is trusted for PROBE_TTL: the on-the-fly copy until then.
    let ms = Duration::from_millis(1);
    let still = c.select(&accepting("br"), &file, NOW + PROBE_TTL - ms).expect("encoded");
    assert_eq!((body_bytes(&still.body), &still.etag), (body_bytes(&fly.body), &fly.etag));
    let side = c.select(&accepting("br"), &file, NOW + PROBE_TTL).expect("encoded");
    assert_eq!(body_bytes(&side.body), b"the operator's sidecar");
    assert!(side.etag != fly.etag && side.etag.to_str().is_ok_and(|t| t.ends_with("-br\"")));
}
