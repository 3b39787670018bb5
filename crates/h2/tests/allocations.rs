//! The steady state of a busy connection allocates nothing: batches of GET requests whose
//! fields the HPACK table already holds, each answered with a head from the encoder's table
//! and a body, header maps handed back with `recycle_headers`, the read buffer reused.
//! Counted by a global allocator that tallies the allocations of the current thread (the
//! test harness's other threads do not count).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use pollux_h2::{Config, Connection, Event};

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

fn frame(buf: &mut BytesMut, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    buf.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    buf.extend_from_slice(&stream.to_be_bytes());
    buf.extend_from_slice(payload);
}

/// A server loop over one connection, as h2load -m 16 drives it.
struct Bench {
    conn: Connection,
    client: pollux_hpack::Encoder,
    buf: BytesMut,
    out: Vec<u8>,
    block: Vec<u8>,
    answer: Vec<u32>,
    next: u32,
    round: u64,
}

impl Bench {
    fn new() -> Bench {
        let mut b = Bench {
            conn: Connection::new(Config::default()),
            client: pollux_hpack::Encoder::new(),
            buf: BytesMut::with_capacity(64 * 1024),
            out: Vec::with_capacity(64 * 1024),
            block: Vec::with_capacity(256),
            answer: Vec::with_capacity(16),
            next: 1,
            round: 0,
        };
        b.buf.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        frame(&mut b.buf, 4, 0, 0, &[]);
        frame(&mut b.buf, 4, 1, 0, &[]);
        frame(&mut b.buf, 8, 0, 0, &(1u32 << 30).to_be_bytes());
        b.conn.handle_read(&mut b.buf, 0).expect("handshake");
        b.conn.poll_transmit(&mut b.out);
        b
    }

    /// 16 requests in one read, 16 responses in one write.
    fn round(&mut self, with_body: bool) {
        for _ in 0..16 {
            self.block.clear();
            self.client.begin(&mut self.block);
            for (n, v) in [
                (&b":method"[..], &b"GET"[..]),
                (b":path", b"/1k.bin"),
                (b":scheme", b"https"),
                (b":authority", b"127.0.0.1:8443"),
                (b"user-agent", b"h2load nghttp2/1.52.0"),
                (b"accept", b"*/*"),
            ] {
                self.client.field(n, v, &mut self.block);
            }
            let flags = if with_body { 0x4 } else { 0x5 };
            frame(&mut self.buf, 1, flags, self.next, &self.block);
            if with_body {
                frame(&mut self.buf, 0, 1, self.next, b"a small request body");
            }
            self.next += 2;
        }
        self.round += 1;
        self.conn.handle_read(&mut self.buf, self.round).expect("requests");
        self.out.clear();
        self.conn.poll_transmit(&mut self.out);
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Request { stream, head, end_stream } => {
                    self.conn.recycle_headers(head.headers);
                    if end_stream {
                        self.answer.push(stream);
                    }
                }
                Event::Data { stream, data, end_stream } => {
                    self.conn.release(stream, data.len());
                    if end_stream {
                        self.answer.push(stream);
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        for i in 0..self.answer.len() {
            let stream = self.answer[i];
            self.conn
                .send_headers(stream, false, &mut self.out, |f| {
                    f.status(200);
                    f.field(b"server", b"pollux");
                    f.field(b"content-type", b"application/octet-stream");
                    f.field(b"content-length", b"1024");
                })
                .expect("open");
            self.conn.send_data(stream, &[b'x'; 1024], true, &mut self.out).expect("window");
        }
        self.answer.clear();
        // As a server does between reads: the emptied buffer gets its room back.
        self.buf.reserve(64 * 1024);
    }
}

#[test]
fn serving_indexed_requests_allocates_nothing() {
    let mut b = Bench::new();
    // The counter counts: the first round builds tables and queues.
    assert!(allocations_in(|| b.round(false)) > 0);
    // Warm-up: tables, queues, the closed-stream memory and the header map pool fill up.
    for _ in 0..200 {
        b.round(false);
    }
    let n = allocations_in(|| {
        for _ in 0..100 {
            b.round(false);
        }
    });
    assert_eq!(n, 0, "allocations in 1,600 requests");
}

#[test]
fn request_bodies_allocate_nothing_either() {
    let mut b = Bench::new();
    for _ in 0..200 {
        b.round(true);
    }
    let n = allocations_in(|| {
        for _ in 0..100 {
            b.round(true);
        }
    });
    assert_eq!(n, 0, "allocations in 1,600 requests with bodies");
}
