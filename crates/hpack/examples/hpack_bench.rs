//! Rough timing of the hot paths: decoding a browser-like request block whose fields are
//! all in the dynamic table already, and encoding a typical static-file response.
//!
//! `cargo run --release -p pollux-hpack --example hpack_bench [decode|encode [BLOCKS]]`
//!
//! On a shared machine, count instructions rather than trusting the times:
//! `valgrind --tool=callgrind target/release/examples/hpack_bench encode 100000`

use std::hint::black_box;
use std::time::Instant;

use pollux_hpack::{Bytes, Decoder, Encoder};

const REQUEST: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":authority", "localhost:8443"),
    (":path", "/static/1k.bin"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    ),
    ("accept", "*/*"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-US,en;q=0.9"),
];

const RESPONSE: &[(&str, &str)] = &[
    ("server", "pollux"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("content-type", "application/octet-stream"),
    ("content-length", "1024"),
    ("last-modified", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("etag", "\"5265a0b1-400\""),
    ("accept-ranges", "bytes"),
];

fn main() {
    let only = std::env::args().nth(1);
    let n = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(2_000_000u32);
    if only.as_deref() != Some("encode") {
        decode(n);
    }
    if only.as_deref() != Some("decode") {
        encode(n);
    }
}

fn decode(n_blocks: u32) {
    // The client's encoder: the first block is literals, every later one is indexes.
    let mut client = Encoder::new();
    let mut block = Vec::new();
    for _ in 0..2 {
        block.clear();
        client.begin(&mut block);
        for (name, value) in REQUEST {
            client.field(name.as_bytes(), value.as_bytes(), &mut block);
        }
    }
    let first = {
        let mut fresh = Encoder::new();
        let mut out = Vec::new();
        fresh.begin(&mut out);
        for (name, value) in REQUEST {
            fresh.field(name.as_bytes(), value.as_bytes(), &mut out);
        }
        Bytes::from(out)
    };
    let steady = Bytes::from(block.clone());
    let mut decoder = Decoder::new(4096);
    decoder.decode(&first, |_, _, _| {}).expect("valid");
    let start = Instant::now();
    let mut total = 0usize;
    for _ in 0..n_blocks {
        decoder
            .decode(black_box(&steady), |name, value, _| total += name.len() + value.len())
            .expect("valid");
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(n_blocks);
    println!(
        "decode, all indexed ({} bytes, {} fields): {ns:.1} ns/block, {:.1} ns/field ({total})",
        steady.len(),
        REQUEST.len(),
        ns / REQUEST.len() as f64
    );

    // The first block again and again on fresh decoders: literals, Huffman, insertions.
    let start = Instant::now();
    let n = n_blocks / 10;
    for _ in 0..n {
        let mut d = Decoder::new(4096);
        d.decode(black_box(&first), |name, value, _| total += name.len() + value.len()).expect("valid");
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
    println!("decode, first block on a new decoder ({} bytes): {ns:.1} ns/block", first.len());
}

fn encode(n_blocks: u32) {
    let mut server = Encoder::new();
    let mut out = Vec::with_capacity(256);
    let start = Instant::now();
    for _ in 0..n_blocks {
        out.clear();
        server.begin(&mut out);
        server.status(200, &mut out);
        for (name, value) in RESPONSE {
            server.field(black_box(name.as_bytes()), black_box(value.as_bytes()), &mut out);
        }
        black_box(&out);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(n_blocks);
    println!(
        "encode, steady response ({} bytes, {} fields): {ns:.1} ns/block, {:.1} ns/field",
        out.len(),
        RESPONSE.len() + 1,
        ns / (RESPONSE.len() + 1) as f64
    );
}
