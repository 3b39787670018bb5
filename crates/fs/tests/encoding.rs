//! Content coding through the public API: a `ServeDir` with a `Compression`, called as a
//! `Handler` in process (no sockets), bodies decoded with the reference crates.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Request, Response};
use pollux_fs::{Compression, ServeDir};
use pollux_server::Body;

struct Root(PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!("pollux-fs-enc-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Root(p)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(len: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(len);
    let mut i = 0u64;
    while s.len() < len {
        s.extend_from_slice(format!("{{\"id\": {i}, \"name\": \"item {}\"}},\n", i % 17).as_bytes());
        i += 1;
    }
    s.truncate(len);
    s
}

fn call(h: &ServeDir, method: &str, target: &str, accept: &str) -> Response<Body> {
    let req = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "localhost")
        .header("accept-encoding", accept)
        .body(Body::Empty)
        .unwrap();
    h.serve(req)
}

fn bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Bytes(b) => b.to_vec(),
        Body::File { file, offset, len } => {
            let mut out = Vec::new();
            let mut file = &*file;
            file.seek(SeekFrom::Start(offset)).unwrap();
            file.take(len).read_to_end(&mut out).unwrap();
            out
        }
        Body::Empty => Vec::new(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn header<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
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

#[test]
fn handler_encodes_json_with_each_coding() {
    let root = Root::new("each");
    let content = text(40_000);
    std::fs::write(root.0.join("data.json"), &content).unwrap();
    let h = ServeDir::new(&root.0).unwrap();
    for coding in ["br", "zstd", "gzip"] {
        let r = call(&h, "GET", "/data.json", coding);
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-encoding"), Some(coding));
        assert_eq!(header(&r, "vary").map(str::to_ascii_lowercase).as_deref(), Some("accept-encoding"));
        assert_eq!(decode(coding, &bytes(r.into_body())), content, "{coding}");
    }
}

#[test]
fn the_size_window_limits_on_the_fly_compression_but_not_vary() {
    let root = Root::new("window");
    std::fs::write(root.0.join("small.txt"), text(1000)).unwrap();
    std::fs::write(root.0.join("large.txt"), text(30_000)).unwrap();
    std::fs::write(root.0.join("mid.txt"), text(10_000)).unwrap();
    let h = ServeDir::new(&root.0).unwrap().compression(Compression::new(true).with_limits(
        2000,
        20_000,
        1 << 20,
    ));
    for name in ["/small.txt", "/large.txt"] {
        let r = call(&h, "GET", name, "gzip");
        assert_eq!(header(&r, "content-encoding"), None, "{name}");
        assert!(header(&r, "vary").is_some(), "{name}");
    }
    let r = call(&h, "GET", "/mid.txt", "gzip");
    assert_eq!(header(&r, "content-encoding"), Some("gzip"));
}

#[test]
fn disabled_compression_is_identity_without_vary() {
    let root = Root::new("off");
    let content = text(20_000);
    std::fs::write(root.0.join("a.txt"), &content).unwrap();
    let h = ServeDir::new(&root.0).unwrap().compression(Compression::new(false));
    let r = call(&h, "GET", "/a.txt", "br, gzip, zstd");
    assert_eq!(header(&r, "content-encoding"), None);
    assert!(header(&r, "vary").is_none());
    assert_eq!(bytes(r.into_body()), content);
}

#[test]
fn worker_threads_compress_independently() {
    let root = Root::new("threads");
    let content = text(100_000);
    std::fs::write(root.0.join("a.txt"), &content).unwrap();
    let h = ServeDir::new(&root.0).unwrap();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..3 {
                        let r = call(&h, "GET", "/a.txt", "zstd");
                        assert_eq!(decode("zstd", &bytes(r.into_body())), content);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
}
