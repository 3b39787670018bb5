//! Range requests against the real binary (RFC 9110 §14): single, suffix and open ranges,
//! `multipart/byteranges` parsed back and compared byte for byte, coalescing, the range cap,
//! 416, `If-Range` both ways, ranges ignored where they must be, and `curl -r`.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, UNIX_EPOCH};

use pollux_testkit::{curl, get_with, send, serve, Resp, Server, TempRoot};

/// 2020-09-13T12:26:40Z.
const MTIME: u64 = 1_600_000_000;
const LEN: usize = 300_000;

struct Site {
    _tmp: TempRoot,
    server: Server,
    data: Vec<u8>,
}

/// A root with `big.bin` (300,000 bytes, larger than any inline-copy threshold) and
/// `small.txt`.
fn site() -> Site {
    let tmp = TempRoot::new("range");
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 251) as u8).collect();
    let path = tmp.0.join("big.bin");
    std::fs::write(&path, &data).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME)).unwrap();
    drop(f);
    std::fs::write(tmp.0.join("small.txt"), "0123456789").unwrap();
    let server = serve(&tmp.0, &[]);
    Site { _tmp: tmp, server, data }
}

fn range(s: &Site, spec: &str) -> Resp {
    get_with(s.server.addr, "/big.bin", &[("Range", spec)])
}

#[test]
fn single_suffix_and_open_ranges_are_206() {
    let s = site();
    for (spec, from, to) in [
        ("bytes=0-0", 0, 1),
        ("bytes=100-199", 100, 200),
        ("bytes=299990-", 299_990, LEN),
        ("bytes=-10", LEN - 10, LEN),
        ("bytes=-400000", 0, LEN),
        ("bytes=1000-999999", 1000, LEN),
        ("bytes=70000-200000", 70_000, 200_001),
    ] {
        let r = range(&s, spec);
        assert_eq!(r.status, 206, "{spec}");
        let want = format!("bytes {}-{}/{LEN}", from, to - 1);
        assert_eq!(r.header("content-range"), Some(want.as_str()), "{spec}");
        assert_eq!(r.header("content-length"), Some((to - from).to_string().as_str()), "{spec}");
        assert!(r.body == s.data[from..to], "{spec}: body differs");
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }
}

#[test]
fn a_full_response_advertises_ranges() {
    let s = site();
    let r = get_with(s.server.addr, "/big.bin", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.body == s.data);
}

/// Splits a `multipart/byteranges` body into (Content-Range, bytes) parts, checking the
/// framing on the way.
fn parts(r: &Resp) -> Vec<(String, String, Vec<u8>)> {
    let ct = r.header("content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap_or_else(|| panic!("{ct}"));
    let delim = format!("--{boundary}");
    let b = &r.body;
    let mut out = Vec::new();
    let mut pos = 0;
    assert!(b.starts_with(delim.as_bytes()), "body starts with the delimiter");
    loop {
        pos += delim.len();
        if b[pos..].starts_with(b"--") {
            assert_eq!(&b[pos..], b"--\r\n", "close delimiter ends the body");
            break;
        }
        assert_eq!(&b[pos..pos + 2], b"\r\n");
        pos += 2;
        let head_end = pollux_testkit::find(&b[pos..], b"\r\n\r\n").unwrap() + pos;
        let head = String::from_utf8(b[pos..head_end].to_vec()).unwrap();
        let field = |n: &str| {
            head.split("\r\n")
                .find_map(|l| {
                    l.split_once(": ").filter(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.to_owned())
                })
                .unwrap()
        };
        let (cr, ty) = (field("content-range"), field("content-type"));
        let spec = cr.strip_prefix("bytes ").unwrap().split('/').next().unwrap();
        let (a, z) = spec.split_once('-').unwrap();
        let (a, z): (usize, usize) = (a.parse().unwrap(), z.parse().unwrap());
        pos = head_end + 4;
        out.push((cr.clone(), ty, b[pos..pos + z - a + 1].to_vec()));
        pos += z - a + 1;
        assert_eq!(&b[pos..pos + 2], b"\r\n", "CRLF before the next delimiter");
        pos += 2;
        assert!(b[pos..].starts_with(delim.as_bytes()));
    }
    out
}

#[test]
fn several_ranges_are_multipart_and_byte_exact() {
    let s = site();
    let r = range(&s, "bytes=0-9, 100000-100099,-5, 200000-265535");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()), "exact length up front");
    assert_eq!(r.header("content-range"), None, "only the parts have Content-Range");
    let got = parts(&r);
    let want = [(0, 10), (100_000, 100_100), (200_000, 265_536), (LEN - 5, LEN)];
    assert_eq!(got.len(), want.len());
    for ((cr, ty, bytes), (a, z)) in got.iter().zip(want) {
        assert_eq!(cr, &format!("bytes {a}-{}/{LEN}", z - 1));
        assert_eq!(ty, "application/octet-stream");
        assert!(bytes[..] == s.data[a..z], "part {cr} differs");
    }
}

#[test]
fn overlapping_and_adjacent_ranges_are_coalesced() {
    let s = site();
    let r = range(&s, "bytes=0-99,50-149,150-199");
    assert_eq!((r.status, r.header("content-range")), (206, Some("bytes 0-199/300000")));
    assert!(r.body == s.data[..200]);
    let r = range(&s, "bytes=500-599,0-9,505-510");
    let got = parts(&r);
    assert_eq!(
        got.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["bytes 0-9/300000", "bytes 500-599/300000"]
    );
}

#[test]
fn more_than_sixteen_ranges_get_the_whole_file() {
    let s = site();
    let many: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 1000, i * 1000 + 9)).collect();
    let r = range(&s, &format!("bytes={}", many.join(",")));
    assert_eq!(r.status, 200, "over the cap the Range is ignored");
    assert!(r.body == s.data);
    let r = range(&s, &format!("bytes={}", many[..16].join(",")));
    assert_eq!((r.status, parts(&r).len()), (206, 16));
}

#[test]
fn unsatisfiable_ranges_are_416_with_the_length() {
    let s = site();
    for spec in ["bytes=300000-", "bytes=400000-500000", "bytes=-0"] {
        let r = range(&s, spec);
        assert_eq!(r.status, 416, "{spec}");
        assert_eq!(r.header("content-range"), Some("bytes */300000"), "{spec}");
    }
}

#[test]
fn invalid_or_foreign_ranges_are_ignored() {
    let s = site();
    for spec in ["bytes=10-5", "bytes=abc", "items=0-5", "bytes=", "bytes=--5", "0-5"] {
        let r = range(&s, spec);
        assert_eq!(r.status, 200, "{spec}");
        assert!(r.body == s.data, "{spec}");
    }
    // Range is only for GET: HEAD answers like a full GET.
    let r = send(s.server.addr, "HEAD", "/big.bin", &[("Range", "bytes=0-5")]);
    assert_eq!((r.status, r.header("content-length")), (200, Some("300000")));
}

#[test]
fn if_range_honours_the_range_only_on_a_match() {
    let s = site();
    let full = get_with(s.server.addr, "/big.bin", &[]);
    let etag = full.header("etag").unwrap().to_owned();
    let lm = full.header("last-modified").unwrap().to_owned();
    let with = |v: &str| get_with(s.server.addr, "/big.bin", &[("Range", "bytes=5-9"), ("If-Range", v)]);
    let r = with(&etag);
    assert_eq!((r.status, &r.body[..]), (206, &s.data[5..10]));
    let r = with(&lm);
    assert_eq!((r.status, &r.body[..]), (206, &s.data[5..10]), "exact Last-Modified date");
    for stale in ["\"other\"", &format!("W/{etag}"), "Sun, 13 Sep 2020 12:26:41 GMT", "garbage"] {
        let r = with(stale);
        assert_eq!(r.status, 200, "If-Range {stale}");
        assert!(r.body == s.data);
    }
}

#[test]
fn curl_range_downloads_the_right_bytes() {
    let s = site();
    let url = format!("http://{}/big.bin", s.server.addr);
    let out = curl(&["-r", "1000-1999", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout == s.data[1000..2000]);
    let out = curl(&["-r", "-100", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout == s.data[LEN - 100..]);
    // Resuming a download: `-C` sends an open range from the given offset.
    let out = curl(&["-C", "299000", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout == s.data[299_000..]);
    let out =
        curl(&["-r", "0-3", "-o", "/dev/null", "-D", "-", &format!("http://{}/small.txt", s.server.addr)]);
    let head = String::from_utf8(out.stdout).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(head.contains("content-range: bytes 0-3/10"), "{head}");
}
