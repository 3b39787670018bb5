//! Content codings of `pollux serve`, black-box: the real binary, raw requests and curl
//! `--compressed`, with every encoded body decoded by the reference crates and compared to the
//! file byte for byte.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use pollux_testkit::*;

/// `GET`/`HEAD` of `target` with `Accept-Encoding: accept` (none when empty) and `extra` fields.
fn fetch(s: &Server, method: &str, target: &str, accept: &str, extra: &[(&str, &str)]) -> Resp {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if !accept.is_empty() {
        raw.push_str(&format!("Accept-Encoding: {accept}\r\n"));
    }
    for (n, v) in extra {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    request(s.addr, &raw)
}

fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "br" => brotli::Decompressor::new(data, 4096).read_to_end(&mut out).unwrap(),
        "zstd" => zstd::stream::read::Decoder::new(data).unwrap().read_to_end(&mut out).unwrap(),
        "gzip" => flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap(),
        other => panic!("unexpected coding {other}"),
    };
    out
}

fn brotli_max(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data).unwrap();
    }
    out
}

/// Compressible text, different for each `salt`.
fn text(len: usize, salt: &str) -> Vec<u8> {
    let mut s = Vec::with_capacity(len);
    let mut i = 0u64;
    while s.len() < len {
        s.extend_from_slice(format!("function f{i}() {{ return \"{salt} {}\"; }}\n", i * 7 % 13).as_bytes());
        i += 1;
    }
    s.truncate(len);
    s
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
}

fn varies(r: &Resp) -> bool {
    r.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
}

#[test]
fn each_coding_decodes_to_the_original_bytes() {
    let root = TempRoot::new("enc-each");
    let content = text(150_000, "each");
    std::fs::write(root.0.join("page.html"), &content).unwrap();
    let s = serve(&root.0, &[]);
    for coding in ["br", "zstd", "gzip"] {
        let r = fetch(&s, "GET", "/page.html", coding, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(coding));
        assert!(varies(&r), "{:?}", r.headers);
        assert!(r.header("accept-ranges").is_none(), "ranges are only offered on identity");
        assert!(r.body.len() < content.len() / 4, "{coding}: {} bytes", r.body.len());
        assert_eq!(decode(coding, &r.body), content, "{coding}");
        // HEAD states the encoded length.
        let h = fetch(&s, "HEAD", "/page.html", coding, &[]);
        assert_eq!(h.header("content-encoding"), Some(coding));
        assert_eq!(h.header("content-length"), Some(r.body.len().to_string().as_str()));
    }
    // Browsers' list: br wins at equal weight; weights are honoured.
    let r = fetch(&s, "GET", "/page.html", "gzip, deflate, br, zstd", &[]);
    assert_eq!(r.header("content-encoding"), Some("br"));
    let r = fetch(&s, "GET", "/page.html", "br;q=0.5, gzip;q=0.8, zstd;q=0", &[]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = fetch(&s, "GET", "/page.html", "identity;q=0, deflate", &[]);
    assert_eq!(r.header("content-encoding"), None, "nothing acceptable: identity all the same");
    assert_eq!(r.body, content);
}

#[test]
fn curl_compressed_gets_the_original_bytes() {
    let root = TempRoot::new("enc-curl");
    let content = text(90_000, "curl");
    std::fs::write(root.0.join("app.js"), &content).unwrap();
    let s = serve(&root.0, &[]);
    let url = format!("http://{}/app.js", s.addr);
    let out = curl(&["--compressed", "-D", "/dev/stderr", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, content);
    let head = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
    assert!(head.contains("content-encoding: "), "{head}");
    for coding in ["br", "zstd", "gzip"] {
        let out = curl(&["-H", &format!("Accept-Encoding: {coding}"), "--compressed", &url]);
        assert_eq!(out.stdout, content, "{coding}");
    }
}

#[test]
fn identity_still_says_vary() {
    let root = TempRoot::new("enc-vary");
    let content = text(20_000, "vary");
    std::fs::write(root.0.join("a.css"), &content).unwrap();
    let s = serve(&root.0, &[]);
    let r = fetch(&s, "GET", "/a.css", "", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert!(varies(&r), "a cache must not hand this to a client that sent Accept-Encoding");
    assert_eq!(r.body, content);
}

#[test]
fn a_fresh_sidecar_is_served_byte_exact_with_its_own_etag() {
    let root = TempRoot::new("enc-sidecar");
    let content = text(120_000, "sidecar");
    let path = root.0.join("bundle.js");
    std::fs::write(&path, &content).unwrap();
    let sidecar = brotli_max(&content);
    std::fs::write(root.0.join("bundle.js.br"), &sidecar).unwrap();
    let t = SystemTime::now();
    set_mtime(&path, t - Duration::from_secs(10));
    set_mtime(&root.0.join("bundle.js.br"), t);
    let s = serve(&root.0, &[]);

    let identity = fetch(&s, "GET", "/bundle.js", "", &[]);
    let r = fetch(&s, "GET", "/bundle.js", "gzip, br", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(r.body, sidecar, "the operator's file, as it is");
    assert_eq!(decode("br", &r.body), content);
    assert!(varies(&r));
    let etag = r.header("etag").unwrap().to_owned();
    assert_ne!(Some(etag.as_str()), identity.header("etag"));
    // The encoded tag is the one preconditions compare with.
    let nm = fetch(&s, "GET", "/bundle.js", "gzip, br", &[("If-None-Match", &etag)]);
    assert_eq!(nm.status, 304);
    assert_eq!(nm.header("etag"), Some(etag.as_str()));

    // With zstd preferred, there is no zstd sidecar: compressed on the fly.
    let r = fetch(&s, "GET", "/bundle.js", "zstd, br;q=0.9", &[]);
    assert_eq!(r.header("content-encoding"), Some("zstd"));
    assert_eq!(decode("zstd", &r.body), content);
}

#[test]
fn a_sidecar_older_than_the_file_is_ignored() {
    let root = TempRoot::new("enc-stale");
    let content = text(60_000, "fresh");
    let path = root.0.join("data.json");
    std::fs::write(&path, &content).unwrap();
    // A leftover from a previous build: valid gzip of other content.
    let mut old = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    old.write_all(&text(60_000, "stale")).unwrap();
    std::fs::write(root.0.join("data.json.gz"), old.finish().unwrap()).unwrap();
    let t = SystemTime::now();
    set_mtime(&root.0.join("data.json.gz"), t - Duration::from_secs(60));
    set_mtime(&path, t);
    let s = serve(&root.0, &[]);
    let r = fetch(&s, "GET", "/data.json", "gzip", &[]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &r.body), content);
}

#[test]
fn compress_off_sends_identity_and_ignores_sidecars() {
    let root = TempRoot::new("enc-off");
    let content = text(60_000, "off");
    std::fs::write(root.0.join("a.html"), &content).unwrap();
    std::fs::write(root.0.join("a.html.gz"), b"not used").unwrap();
    let s = serve(&root.0, &["--compress", "off"]);
    for accept in ["gzip", "br", "zstd", "*"] {
        let r = fetch(&s, "GET", "/a.html", accept, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), None, "{accept}");
        assert!(!varies(&r), "nothing varies when nothing is negotiated");
        assert_eq!(r.body, content);
    }
}

#[test]
fn images_are_never_compressed() {
    let root = TempRoot::new("enc-png");
    // Highly compressible bytes: only the type keeps them from being compressed.
    let content = text(60_000, "not really a png");
    std::fs::write(root.0.join("pic.png"), &content).unwrap();
    std::fs::write(root.0.join("pic.png.gz"), b"not used").unwrap();
    let s = serve(&root.0, &[]);
    let r = fetch(&s, "GET", "/pic.png", "gzip, br, zstd", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("content-encoding"), None);
    assert!(!varies(&r));
    assert_eq!(r.body, content);
}

#[test]
fn ranges_are_never_compressed() {
    let root = TempRoot::new("enc-range");
    let content = text(60_000, "range");
    std::fs::write(root.0.join("big.txt"), &content).unwrap();
    let s = serve(&root.0, &[]);
    let r = fetch(&s, "GET", "/big.txt", "gzip, br, zstd", &[("Range", "bytes=100-1099")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, &content[100..1100]);
}

#[test]
fn the_compressed_result_is_cached_per_file_version() {
    let root = TempRoot::new("enc-cache");
    // Above the file cache's in-memory size, so the bytes come from disk each time.
    let (a, b) = (text(200_000, "version A"), text(200_000, "version B"));
    assert_eq!(a.len(), b.len());
    let path = root.0.join("app.js");
    std::fs::write(&path, &a).unwrap();
    let t = SystemTime::now() - Duration::from_secs(100);
    set_mtime(&path, t);
    let s = serve(&root.0, &[]);
    let first = fetch(&s, "GET", "/app.js", "gzip", &[]);
    assert_eq!(decode("gzip", &first.body), a);

    // Same inode, length and mtime, other bytes: the same version as far as any validator can
    // tell, so the cached result is served and nothing is compressed again.
    let mut f = std::fs::File::options().write(true).open(&path).unwrap();
    f.write_all(&b).unwrap();
    drop(f);
    set_mtime(&path, t);
    let second = fetch(&s, "GET", "/app.js", "gzip", &[]);
    assert_eq!(decode("gzip", &second.body), a, "served from the cache");
    assert_eq!(second.header("etag"), first.header("etag"));

    // A new mtime is a new version, with a new tag. A fresh server is asked: the running one
    // sees it once its file cache revalidates (within a second), which
    // crates/fs/tests/clock.rs steps through on a simulated clock instead of waiting here.
    set_mtime(&path, t + Duration::from_secs(10));
    let fresh = serve(&root.0, &[]);
    let r = fetch(&fresh, "GET", "/app.js", "gzip", &[]);
    assert_eq!(decode("gzip", &r.body), b);
    assert_ne!(r.header("etag"), first.header("etag"));
}

#[test]
fn encoded_answers_keep_their_fields_and_a_later_sidecar_brings_its_own_etag() {
    let root = TempRoot::new("enc-later");
    let content = text(40_000, "later");
    let path = root.0.join("site.css");
    std::fs::write(&path, &content).unwrap();
    set_mtime(&path, SystemTime::now() - Duration::from_secs(60));
    let s = serve(&root.0, &["--cache-control", "*.css=max-age=600"]);
    // Several answers for one file and coding: the first builds the encoded answer's fields,
    // the later ones reuse them; all must carry the same, complete set.
    let first = fetch(&s, "GET", "/site.css", "gzip, deflate, br, zstd", &[]);
    for _ in 0..3 {
        let r = fetch(&s, "GET", "/site.css", "gzip, deflate, br, zstd", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some("br"));
        assert_eq!(r.header("cache-control"), Some("max-age=600"));
        assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(r.header("accept-ranges").is_none());
        assert!(varies(&r));
        assert_eq!(r.header("etag"), first.header("etag"));
        assert_eq!(r.header("last-modified"), first.header("last-modified"));
        assert_eq!(decode("br", &r.body), content);
    }
    let fly_tag = first.header("etag").unwrap().to_owned();
    let nm = fetch(&s, "GET", "/site.css", "br", &[("If-None-Match", &fly_tag)]);
    assert_eq!((nm.status, nm.header("etag")), (304, Some(fly_tag.as_str())));
    assert_eq!(nm.header("cache-control"), Some("max-age=600"));
    assert!(nm.header("content-encoding").is_none() && nm.body.is_empty());

    // The operator adds a br sidecar: it is served with the sidecar's tag, not the on-the-fly
    // copy's. A running server renews its probe within two seconds and then answers so even
    // though its prepared fields were made for the on-the-fly copy: crates/fs/tests/clock.rs
    // steps through that on a simulated clock; here a fresh server is asked instead of waiting.
    let sidecar = brotli_max(&content);
    std::fs::write(root.0.join("site.css.br"), &sidecar).unwrap();
    let s = serve(&root.0, &["--cache-control", "*.css=max-age=600"]);
    let r = fetch(&s, "GET", "/site.css", "br", &[]);
    assert_eq!(r.body, sidecar);
    let side_tag = r.header("etag").unwrap().to_owned();
    assert_ne!(side_tag, fly_tag);
    assert!(side_tag.ends_with("-br\""), "{side_tag}");
    assert_eq!(r.header("cache-control"), Some("max-age=600"));
    let nm = fetch(&s, "GET", "/site.css", "br", &[("If-None-Match", &side_tag)]);
    assert_eq!((nm.status, nm.header("etag")), (304, Some(side_tag.as_str())));
    // The old tag no longer matches the representation being sent.
    assert_eq!(fetch(&s, "GET", "/site.css", "br", &[("If-None-Match", &fly_tag)]).status, 200);
}
