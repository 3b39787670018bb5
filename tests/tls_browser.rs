//! A real browser over HTTPS: headless Chromium (told to accept our test CA's certificate with
//! `--ignore-certificate-errors`) loads a page, takes a screenshot — a PNG of the window's size
//! whose pixels are the page's colour, so it shows the page and not an error interstitial —
//! and dumps the DOM; the access log (`--log-tls`) shows the requests came over TLS.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use pollux_testkit::tls::{https_command, spawn_https, Pki};
use pollux_testkit::{chromium, TempRoot};

/// The page's background: the screenshot must be mostly this colour.
const BACKGROUND: [u8; 3] = [0x1e, 0x90, 0xff];

const PAGE: &str = "<!DOCTYPE html><html><head><meta charset=utf-8><title>over TLS</title>\
<link rel=stylesheet href=/style.css></head>\
<body><h1 id=t>served over TLS by pollux</h1></body></html>\n";

const STYLE: &str = "html,body{margin:0;height:100%;background:#1e90ff}h1{color:#fff;font:24px sans-serif}\n";

/// Decodes an 8-bit, non-interlaced RGB or RGBA PNG: (width, height, RGB pixels).
fn decode_png(png: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG signature");
    let (mut pos, mut idat, mut head) = (8, Vec::new(), None);
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => head = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let head = head.expect("IHDR");
    let w = u32::from_be_bytes(head[0..4].try_into().unwrap());
    let h = u32::from_be_bytes(head[4..8].try_into().unwrap());
    let (depth, colour, interlace) = (head[8], head[9], head[12]);
    assert_eq!((depth, interlace), (8, 0), "8-bit, not interlaced");
    let bpp = match colour {
        2 => 3,
        6 => 4,
        c => panic!("colour type {c}"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).expect("inflate IDAT");
    let stride = w as usize * bpp;
    assert_eq!(raw.len(), (stride + 1) * h as usize, "scanlines");
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity((w * h) as usize);
    for row in raw.chunks(stride + 1) {
        let (filter, line) = (row[0], &row[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= bpp { cur[i - bpp] } else { 0 } as i16;
            let b = prev[i] as i16;
            let c = if i >= bpp { prev[i - bpp] } else { 0 } as i16;
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            cur[i] = line[i].wrapping_add(pred as u8);
        }
        pixels.extend(cur.chunks(bpp).map(|p| [p[0], p[1], p[2]]));
        prev = cur;
    }
    (w, h, pixels)
}

#[test]
fn headless_chromium_loads_and_renders_a_page_over_https() {
    let pki = Pki::new();
    let root = TempRoot::empty("tls-browser");
    std::fs::write(root.path("index.html"), PAGE).unwrap();
    std::fs::write(root.path("style.css"), STYLE).unwrap();
    let mut cmd = https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "-", "--log-tls"]).args(pki.cert_args("localhost"));
    let s = spawn_https(cmd, 0);
    let url = format!("https://localhost:{}/", s.tls.port());
    let resolve = "--host-resolver-rules=MAP localhost 127.0.0.1";

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls-page.png");
    let _ = std::fs::remove_file(&shot);
    let t = Instant::now();
    let out = chromium(&[
        "--ignore-certificate-errors",
        resolve,
        &format!("--screenshot={}", shot.display()),
        "--window-size=800,600",
        &url,
    ]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}); chromium said: {}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let (w, h, pixels) = decode_png(&png);
    assert_eq!((w, h), (800, 600), "the window's size");
    let page = pixels.iter().filter(|p| **p == BACKGROUND).count();
    assert!(
        page * 10 > pixels.len() * 8,
        "the page's background covers {page} of {} pixels: not the page (an error page?)",
        pixels.len()
    );
    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    assert!(white > 100, "the heading's white text is drawn ({white} white pixels)");

    let out = chromium(&["--ignore-certificate-errors", resolve, "--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<h1 id=\"t\">served over TLS by pollux</h1>"),
        "{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("two headless Chromium runs over HTTPS: {:?}", t.elapsed());

    // The page and its stylesheet came over TLS, as HTTP/2 (ALPN offers h2 first).
    let log = s.server.wait_log("GET /style.css", 10);
    for path in ["/ ", "/style.css "] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("\"GET {path}HTTP/2.0\" 200 ")))
            .unwrap_or_else(|| panic!("no 200 for {path} in:\n{log}"));
        assert!(line.contains(" TLSv1.3 TLS_"), "{line}\nthe whole log:\n{log}");
    }
}
