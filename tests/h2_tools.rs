//! HTTP/2 seen by nghttp2's tools: `nghttp -nv` prints every frame both ways (our SETTINGS, the
//! connection window we open, flow control against a client with small windows, the GOAWAY at
//! the end), `h2load` multiplexes thousands of requests (every answer 2xx, over h2c and over
//! TLS) and pulls a 64 MiB file on eight streams at once, every byte counted.
//!
//! Needs: nghttp2-client (nghttp, h2load), python3 for the checked download. scripts/test.sh
//! installs them.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use pollux_testkit::tls::{serve_https, Pki};
use pollux_testkit::{h2_script, h2load, last_line, nghttp, random_bytes, serve, Server, TempRoot, Trace};

const BIG: usize = 64 << 20;

/// A root with `1k.bin` (1 KiB), `r.bin` (1 MiB) and, when `big`, `big.bin` (64 MiB).
fn root(big: bool) -> TempRoot {
    let root = TempRoot::new("h2-tools");
    std::fs::write(root.path("1k.bin"), random_bytes(1024, 1)).unwrap();
    std::fs::write(root.path("r.bin"), random_bytes(1 << 20, 2)).unwrap();
    if big {
        std::fs::write(root.path("big.bin"), random_bytes(BIG, 3)).unwrap();
    }
    root
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// The SETTINGS the server sent first (not an ACK), as (name, value) sorted by name.
fn server_settings(t: &Trace) -> Vec<(String, u64)> {
    let first = t.received("SETTINGS").into_iter().find(|f| f.flags & 0x1 == 0);
    let mut s = first.unwrap_or_else(|| panic!("no SETTINGS from the server:\n{}", t.text(4000))).settings();
    s.sort();
    s
}

#[test]
fn nghttp_sees_our_settings_the_window_we_open_and_a_clean_exchange() {
    let root = root(false);
    let server = serve(&root.0, &[]);
    // --no-dep: no PRIORITY frames for nghttp's dependency tree, so the request is stream 1.
    let t = nghttp(&["--no-dep"], &[url(server.addr, "/1k.bin")], Duration::from_secs(30));
    assert!(t.out.status.success(), "{}", t.text(4000));
    assert_eq!(
        server_settings(&t),
        [
            ("SETTINGS_INITIAL_WINDOW_SIZE".to_owned(), 262_144),
            ("SETTINGS_MAX_CONCURRENT_STREAMS".to_owned(), 100),
            ("SETTINGS_MAX_HEADER_LIST_SIZE".to_owned(), 32_768),
        ],
        "{}",
        t.text(4000)
    );
    // The connection window raised from 65,535 to 1 MiB right away.
    let wu: Vec<_> = t.received("WINDOW_UPDATE").into_iter().filter(|f| f.stream == 0).collect();
    assert_eq!(
        wu.first().and_then(|f| f.number("window_size_increment")),
        Some((1 << 20) - 65_535),
        "{}",
        t.text(4000)
    );
    assert_eq!(
        t.received("SETTINGS").iter().filter(|f| f.flags & 0x1 == 1).count(),
        1,
        "our SETTINGS acknowledged"
    );
    // The answer: HEADERS then 1,024 bytes of DATA ending the stream; nothing reset.
    let heads = t.received("HEADERS");
    assert_eq!(heads.len(), 1, "{}", t.text(4000));
    assert_eq!(heads[0].stream, 1);
    let data: u32 = t.received("DATA").iter().map(|f| f.length).sum();
    assert_eq!(data, 1024, "{}", t.text(4000));
    assert!(t.received("DATA").last().is_some_and(|f| f.flags & 0x1 == 1), "END_STREAM on the last DATA");
    assert!(t.received("RST_STREAM").is_empty() && t.received("GOAWAY").is_empty(), "{}", t.text(4000));
    // nghttp's own GOAWAY(NO_ERROR) ends the session: the last frame of the trace.
    let last = t.frames.last().unwrap();
    assert_eq!((last.sent, last.kind.as_str()), (true, "GOAWAY"), "{}", t.text(4000));
    assert_eq!(last.field("error_code").as_deref(), Some("NO_ERROR(0x00)"));
}

#[test]
fn h2_max_streams_is_announced_and_streams_beyond_it_are_refused() {
    let root = root(false);
    for i in 0..16 {
        std::fs::write(root.path(&format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let server = serve(&root.0, &["--h2-max-streams", "7"]);
    // nghttp sends its 16 requests with its preface, before our SETTINGS can reach it: the
    // first 7 are answered, the 9 beyond the limit refused with REFUSED_STREAM (RFC 9113
    // §5.1.2, §8.7: never processed, safe to retry).
    let urls: Vec<String> = (0..16).map(|i| url(server.addr, &format!("/f{i}.txt"))).collect();
    let t = nghttp(&["--no-dep"], &urls, Duration::from_secs(30));
    assert!(
        server_settings(&t).contains(&("SETTINGS_MAX_CONCURRENT_STREAMS".to_owned(), 7)),
        "{}",
        t.text(4000)
    );
    let answered: Vec<u32> =
        t.received("DATA").iter().filter(|f| f.flags & 0x1 == 1).map(|f| f.stream).collect();
    assert_eq!(answered, (0..7).map(|i| 2 * i + 1).collect::<Vec<u32>>(), "{}", t.text(8000));
    let refused: Vec<(u32, String)> = t
        .received("RST_STREAM")
        .iter()
        .map(|f| (f.stream, f.field("error_code").unwrap_or_default()))
        .collect();
    let want: Vec<(u32, String)> = (7..16).map(|i| (2 * i + 1, "REFUSED_STREAM(0x07)".to_owned())).collect();
    assert_eq!(refused, want, "{}", t.text(8000));
    assert!(t.received("GOAWAY").is_empty(), "the connection goes on: {}", t.text(8000));
}

/// Replays the trace's flow control from the client's side: every DATA frame must fit the
/// stream's window and the connection's as the client had opened them by then.
fn check_flow_control(t: &Trace, stream_window: i64) {
    let mut conn: i64 = 65_535;
    let mut streams = std::collections::HashMap::<u32, i64>::new();
    for f in &t.frames {
        match (f.sent, f.kind.as_str()) {
            (true, "WINDOW_UPDATE") => {
                let n = f.number("window_size_increment").unwrap() as i64;
                if f.stream == 0 {
                    conn += n;
                } else {
                    *streams.entry(f.stream).or_insert(stream_window) += n;
                }
            }
            (false, "DATA") => {
                let w = streams.entry(f.stream).or_insert(stream_window);
                *w -= i64::from(f.length);
                conn -= i64::from(f.length);
                assert!(
                    *w >= 0 && conn >= 0,
                    "DATA beyond the window (stream {w}, connection {conn}): {f:?}"
                );
                assert!(f.length <= 16_384, "a DATA frame above the default SETTINGS_MAX_FRAME_SIZE: {f:?}");
            }
            _ => {}
        }
    }
}

#[test]
fn a_client_with_small_windows_gets_the_whole_file_as_it_opens_them() {
    let root = root(false);
    let server = serve(&root.0, &[]);
    // Stream window 2^14-1 = 16,383; connection window 2^15-1 (nghttp opens no more than that):
    // 1 MiB needs dozens of WINDOW_UPDATEs from the client before it is all through.
    let t =
        nghttp(&["--no-dep", "-w", "14", "-W", "15"], &[url(server.addr, "/r.bin")], Duration::from_secs(60));
    assert!(t.out.status.success(), "{}", t.text(4000));
    let ours = t.sent("SETTINGS")[0].settings();
    assert!(ours.contains(&("SETTINGS_INITIAL_WINDOW_SIZE".to_owned(), 16_383)), "{ours:?}");
    check_flow_control(&t, 16_383);
    let data: Vec<_> = t.received("DATA").into_iter().filter(|f| f.stream == 1).collect();
    assert_eq!(data.iter().map(|f| u64::from(f.length)).sum::<u64>(), 1 << 20, "{}", t.text(4000));
    assert!(data.last().is_some_and(|f| f.flags & 0x1 == 1), "END_STREAM on the last DATA");
    let updates = |stream: u32| t.sent("WINDOW_UPDATE").iter().filter(|f| f.stream == stream).count();
    assert!(
        updates(1) >= 30 && updates(0) >= 15,
        "stream {} / connection {} updates",
        updates(1),
        updates(0)
    );
    assert!(t.received("RST_STREAM").is_empty() && t.received("GOAWAY").is_empty(), "{}", t.text(4000));
}

#[test]
fn nghttp_fetches_many_files_on_one_h2c_connection() {
    let root = root(false);
    for i in 0..40 {
        std::fs::write(root.path(&format!("f{i}.txt")), format!("file {i}\n").repeat(i + 1)).unwrap();
    }
    let server = serve(&root.0, &[]);
    let urls: Vec<String> = (0..40).map(|i| url(server.addr, &format!("/f{i}.txt"))).collect();
    let t = nghttp(&["--no-dep"], &urls, Duration::from_secs(60));
    assert!(t.out.status.success(), "{}", t.text(4000));
    // Streams 1, 3, … 79, each answered with its own length.
    for i in 0..40u32 {
        let stream = 2 * i + 1;
        let n: u32 = t.received("DATA").iter().filter(|f| f.stream == stream).map(|f| f.length).sum();
        assert_eq!(n as usize, format!("file {i}\n").len() * (i as usize + 1), "stream {stream}");
    }
    assert_eq!(t.text(usize::MAX).matches("Connected").count(), 1, "one connection");
}

fn twenty_thousand(server_url: &str, protocol: &str) {
    let t = Instant::now();
    let r = h2load(&["-n", "20000", "-c", "32", "-m", "16"], server_url, Duration::from_secs(150));
    eprintln!("h2load -n 20000 -c 32 -m 16 {server_url}: {:?}", t.elapsed());
    assert_eq!(r.protocol, protocol, "{}", r.text);
    assert_eq!(
        (r.total, r.done, r.succeeded, r.failed, r.errored),
        (20_000, 20_000, 20_000, 0, 0),
        "{}",
        r.text
    );
    assert_eq!(r.status, [20_000, 0, 0, 0], "{}", r.text);
    assert_eq!(r.data, 20_000 * 1024, "{}", r.text);
}

#[test]
fn h2load_twenty_thousand_requests_over_h2c_are_all_2xx() {
    let root = root(false);
    let server = serve(&root.0, &[]);
    twenty_thousand(&url(server.addr, "/1k.bin"), "h2c");
}

#[test]
fn h2load_twenty_thousand_requests_over_tls_are_all_2xx() {
    let root = root(false);
    let pki = Pki::new();
    let s = serve_https(&root.0, &pki, &[], 0);
    // h2load does not verify the certificate; ALPN must choose h2.
    twenty_thousand(&format!("https://127.0.0.1:{}/1k.bin", s.tls.port()), "h2");
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_64_mib_file_arrives_whole_on_eight_streams_and_on_one() {
    let root = root(true);
    let server: Server = serve(&root.0, &[]);
    // Eight streams of one connection at once: every byte of every copy counted.
    let t = Instant::now();
    let r =
        h2load(&["-n", "8", "-c", "1", "-m", "8"], &url(server.addr, "/big.bin"), Duration::from_secs(120));
    eprintln!("8 × 64 MiB over one connection: {:?}", t.elapsed());
    assert_eq!((r.succeeded, r.status[0]), (8, 8), "{}", r.text);
    assert_eq!(r.data, 8 * BIG as u64, "{}", r.text);
    // One stream, its bytes hashed by the client (Python's h2, windows opened as it reads).
    let addr = server.addr.to_string();
    let out = h2_script(
        "client.py",
        &["download", &addr, "/big.bin", "--kib-per-step", "4096", "--step-ms", "0", "--seconds", "60"],
        Duration::from_secs(90),
    );
    let d: Value = serde_json::from_str(&last_line(&out)).unwrap();
    let want = sha256_hex(&std::fs::read(root.path("big.bin")).unwrap());
    assert_eq!((d["status"].as_u64(), d["bytes"].as_u64()), (Some(200), Some(BIG as u64)), "{d}");
    assert_eq!(d["sha256"].as_str(), Some(want.as_str()), "{d}");
    assert_eq!(d["violations"], serde_json::json!([]), "{d}");
}
