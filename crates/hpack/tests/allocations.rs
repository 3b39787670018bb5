//! The steady state allocates nothing: encoding a response whose fields the table already
//! holds, decoding a request whose fields are all indexed, and decoding Huffman-coded
//! literals once their values are dropped. Counted by a global allocator that tallies the
//! allocations of the current thread (the test harness's other threads do not count).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pollux_hpack::{Bytes, Decoder, Encoder};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed straight to the system allocator, which upholds the
// GlobalAlloc contract; the count is a const-initialised thread-local, so counting neither
// allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `alloc` is the one `System.alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (every allocation goes
        // through `alloc` above or `realloc` below).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `dealloc`, and `new_size` is the caller's, per `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const RESPONSE: &[(&str, &str)] = &[
    ("server", "pollux"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("content-type", "text/html; charset=utf-8"),
    ("content-length", "1024"),
    ("etag", "\"5265a0b1-400\""),
    ("x-custom", "value"),
];

fn response(encoder: &mut Encoder, out: &mut Vec<u8>) {
    out.clear();
    encoder.begin(out);
    encoder.status(200, out);
    for (name, value) in RESPONSE {
        encoder.field(name.as_bytes(), value.as_bytes(), out);
    }
}

#[test]
fn encoding_a_repeated_response_allocates_nothing() {
    let mut encoder = Encoder::new();
    let mut out = Vec::with_capacity(1024);
    response(&mut encoder, &mut out);
    let first = out.len();
    response(&mut encoder, &mut out);
    // Every field indexed: one byte each.
    assert_eq!(out.len(), RESPONSE.len() + 1);
    assert!(first > out.len());
    let n = allocations_in(|| {
        for _ in 0..1000 {
            response(&mut encoder, &mut out);
        }
    });
    assert_eq!(n, 0);
    // The counter does count: a new entry costs its buffer, and the shared header `bytes`
    // adds when the buffer is split into name and value.
    assert_eq!(allocations_in(|| encoder.field(b"x-new", b"1", &mut out)), 2);
}

#[test]
fn decoding_an_indexed_request_allocates_nothing() {
    let mut client = Encoder::new();
    let fields: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/style.css"),
        ("user-agent", "curl/8.0"),
        ("accept", "*/*"),
    ];
    let mut blocks = Vec::new();
    for _ in 0..2 {
        let mut out = Vec::new();
        client.begin(&mut out);
        for (name, value) in fields {
            client.field(name.as_bytes(), value.as_bytes(), &mut out);
        }
        blocks.push(Bytes::from(out));
    }
    let mut decoder = Decoder::new(4096);
    decoder.decode(&blocks[0], |_, _, _| {}).expect("valid");
    let mut seen = 0;
    let n = allocations_in(|| {
        for _ in 0..1000 {
            decoder.decode(&blocks[1], |_, value, _| seen += value.len()).expect("valid");
        }
    });
    assert_eq!(n, 0);
    assert_eq!(seen, 1000 * fields.iter().map(|(_, v)| v.len()).sum::<usize>());
}

#[test]
fn decoding_huffman_literals_reuses_the_scratch_chunk() {
    // Literal without indexing, name :path (index 4), a Huffman-coded value: decoded into
    // the scratch chunk every time, never inserted.
    let mut value = Vec::new();
    pollux_hpack::huffman::encode(b"/assets/app.9f3e2c.js?v=12", &mut value);
    let mut block = vec![0x04, 0x80 | value.len() as u8];
    block.extend_from_slice(&value);
    let block = Bytes::from(block);
    let mut decoder = Decoder::new(4096);
    for _ in 0..2 {
        decoder.decode(&block, |_, _, _| {}).expect("valid");
    }
    let n = allocations_in(|| {
        for _ in 0..1000 {
            decoder
                .decode(&block, |name, value, _| {
                    assert_eq!((name, &value[..]), (&b":path"[..], &b"/assets/app.9f3e2c.js?v=12"[..]))
                })
                .expect("valid");
        }
    });
    assert_eq!(n, 0);
}
