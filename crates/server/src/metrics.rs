//! Counters for `/metrics`: one cache-line-aligned block of `AtomicU64` per worker thread,
//! written by that worker only (a relaxed load and store, no read-modify-write, nothing
//! shared written per request), summed by whoever reads them (the admin listener).
//!
//! ```text
//!  supervisor: Area::create(slots, workers) ── memfd ──► children (POLLUX_METRICS_FD,
//!                                                        POLLUX_METRICS_SLOT)
//!  area: [header line][slot 0: worker 0 block][worker 1 block]…[slot 1: …]…
//!  child worker w of slot s: Block ─► relaxed stores into its own block
//!  admin thread: Area::totals() = Σ slots + retired   (a child replaced: Area::retire folds
//!                its slot's counters into `retired` first, so totals never go down)
//! ```
//!
//! The area is a `memfd` even in a single process (`Area::local`), so there is one code path.
//! Gauges (connections by state) live in the same blocks: each worker moves its own
//! connections between states, so a worker's block is never negative, and a retired slot's
//! gauges are dropped (its connections are gone with its process).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pollux_reactor::sys::SharedMemory;

/// The environment variable naming the inherited area's descriptor.
pub const METRICS_FD: &str = "POLLUX_METRICS_FD";
/// The environment variable naming the child's slot in it.
pub const METRICS_SLOT: &str = "POLLUX_METRICS_SLOT";

/// Counters of one worker block (a multiple of 8: blocks stay cache-line aligned).
pub const BLOCK: usize = 72;
/// The header line: `[BLOCK, slots, workers, 0…]`.
const HEADER: usize = 8;

/// Methods with a label of their own; the rest count as `other`.
pub const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other"];
/// Status classes `1xx` … `5xx`.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Upper bounds of the latency histogram's buckets, in microseconds (Prometheus's default
/// buckets from 1 ms; the last bucket, `+Inf`, is implicit).
pub const BOUNDS_US: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];

// Where each counter sits in a block.
const REQUESTS: usize = 0; // CLASSES × METHODS
const HIST: usize = REQUESTS + CLASSES.len() * METHODS.len(); // BOUNDS + 1 (non-cumulative)
const SUM_US: usize = HIST + BOUNDS_US.len() + 1;
const BYTES_IN: usize = SUM_US + 1;
const BYTES_OUT: usize = BYTES_IN + 1;
const ACCEPTED: usize = BYTES_OUT + 1;
const REFUSED: usize = ACCEPTED + 1;
const STATES: usize = REFUSED + 1;
/// Counters up to here are monotonic (kept across a child's replacement); gauges follow.
const MONOTONIC_END: usize = STATES;
/// Process-wide gauges ([`Load`]), in the block of worker 0 only, written by the process's
/// sampler thread.
const LOAD: usize = STATES + ConnState::ALL.len();
const USED: usize = LOAD + Load::ALL.len();
const _: () = assert!(USED <= BLOCK && BLOCK.is_multiple_of(8));

/// What a connection is doing, for the `pollux_connections{state=…}` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnState {
    /// Reading a request head or body (or the TLS handshake).
    Reading = 0,
    /// Writing an answer the client has not taken yet (or lingering after it).
    Writing = 1,
    /// Between requests on a keep-alive connection.
    Idle = 2,
    /// Waiting for the application: a deferred answer, a CGI script, a WSGI call.
    Handler = 3,
}

impl ConnState {
    pub const ALL: [ConnState; 4] =
        [ConnState::Reading, ConnState::Writing, ConnState::Idle, ConnState::Handler];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            ConnState::Reading => "reading",
            ConnState::Writing => "writing",
            ConnState::Idle => "idle",
            ConnState::Handler => "handler",
        }
    }
}

/// What a process's applications are busy with, sampled a few times a second (not counted
/// per request: the CGI limit and the WSGI queue already keep these numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Load {
    /// CGI scripts running.
    CgiInFlight = 0,
    /// WSGI requests being called.
    WsgiInFlight = 1,
    /// WSGI requests waiting for a Python thread.
    WsgiQueued = 2,
}

impl Load {
    pub const ALL: [Load; 3] = [Load::CgiInFlight, Load::WsgiInFlight, Load::WsgiQueued];
}

/// The counters of every process of a server (or of this one alone).
#[derive(Debug)]
pub struct Area {
    mem: SharedMemory,
    slots: usize,
    workers: usize,
    /// The slot this process's workers write (0 in a supervisor, which writes none).
    slot: usize,
    /// Supervisor side: which slots a live child holds, and what replaced children counted.
    book: Mutex<Book>,
}

#[derive(Debug)]
struct Book {
    used: Vec<bool>,
    retired: Vec<u64>,
}

impl Area {
    /// A zeroed area for `slots` processes of `workers` workers each (the supervisor's).
    pub fn create(slots: usize, workers: usize) -> io::Result<Area> {
        let (slots, workers) = (slots.max(1), workers.max(1));
        let mem = SharedMemory::create("pollux-metrics", HEADER + slots * workers * BLOCK)?;
        mem[0].store(BLOCK as u64, Relaxed);
        mem[1].store(slots as u64, Relaxed);
        mem[2].store(workers as u64, Relaxed);
        Ok(Area::with(mem, slots, workers, 0))
    }

    /// The area of a single process.
    pub fn local(workers: usize) -> io::Result<Area> {
        Area::create(1, workers)
    }

    /// The area a supervisor passed down, with this child's slot; `None` without the
    /// environment variables.
    pub fn from_env() -> io::Result<Option<Area>> {
        let (Some(fd), Some(slot)) = (std::env::var_os(METRICS_FD), std::env::var_os(METRICS_SLOT)) else {
            return Ok(None);
        };
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: not a number"));
        let fd: i32 = fd.to_str().and_then(|s| s.parse().ok()).ok_or_else(|| bad(METRICS_FD))?;
        let slot: usize = slot.to_str().and_then(|s| s.parse().ok()).ok_or_else(|| bad(METRICS_SLOT))?;
        let mem = SharedMemory::adopt(fd, HEADER)?;
        let (block, slots, workers) =
            (mem[0].load(Relaxed) as usize, mem[1].load(Relaxed) as usize, mem[2].load(Relaxed) as usize);
        if block != BLOCK || slot >= slots || mem.len() < HEADER + slots * workers * BLOCK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the inherited metrics area does not fit",
            ));
        }
        Ok(Some(Area::with(mem, slots, workers, slot)))
    }

    fn with(mem: SharedMemory, slots: usize, workers: usize, slot: usize) -> Area {
        let book = Book { used: vec![false; slots], retired: vec![0; BLOCK] };
        Area { mem, slots, workers, slot, book: Mutex::new(book) }
    }

    /// The descriptor, to pass on to a child (clear its close-on-exec flag first).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.mem.fd()
    }

    /// The descriptor's number.
    pub fn raw_fd(&self) -> i32 {
        self.mem.fd().as_raw_fd()
    }

    /// Workers per process the area has blocks for.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Worker `worker`'s block in this process's slot; `None` beyond the area's workers (its
    /// counts would then go to a block another worker writes).
    pub fn block(self: &Arc<Area>, worker: usize) -> Option<Block> {
        (worker < self.workers)
            .then(|| Block { area: self.clone(), base: HEADER + (self.slot * self.workers + worker) * BLOCK })
    }

    /// Sets a process-wide gauge of this process (its sampler thread is the only writer).
    pub fn set_load(&self, what: Load, value: u64) {
        self.mem[HEADER + self.slot * self.workers * BLOCK + LOAD + what as usize].store(value, Relaxed);
    }

    /// Supervisor side: a free slot for a new child, zeroed.
    pub fn claim(&self) -> Option<usize> {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        let slot = book.used.iter().position(|u| !u)?;
        book.used[slot] = true;
        for w in self.slot_words(slot) {
            w.store(0, Relaxed);
        }
        Some(slot)
    }

    /// Supervisor side: the child of `slot` has exited; its counters join the retired total
    /// (gauges excepted) and the slot is free again.
    pub fn retire(&self, slot: usize) {
        if slot >= self.slots {
            return;
        }
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        for (i, w) in self.slot_words(slot).iter().enumerate() {
            let v = w.swap(0, Relaxed);
            if i % BLOCK < MONOTONIC_END {
                book.retired[i % BLOCK] += v;
            }
        }
        book.used[slot] = false;
    }

    fn slot_words(&self, slot: usize) -> &[AtomicU64] {
        let start = HEADER + slot * self.workers * BLOCK;
        &self.mem[start..start + self.workers * BLOCK]
    }

    /// Every slot's blocks summed, plus what retired children counted.
    pub fn totals(&self) -> Totals {
        let mut t = self.book.lock().unwrap_or_else(|e| e.into_inner()).retired.clone();
        for (i, w) in self.mem[HEADER..HEADER + self.slots * self.workers * BLOCK].iter().enumerate() {
            t[i % BLOCK] = t[i % BLOCK].wrapping_add(w.load(Relaxed));
        }
        Totals { words: t }
    }
}

/// One worker's counters. Only its worker writes them: `add` is a relaxed load and store.
#[derive(Debug, Clone)]
pub struct Block {
    area: Arc<Area>,
    base: usize,
}

impl Block {
    #[inline(always)]
    fn add(&self, i: usize, n: u64) {
        let w = &self.area.mem[self.base + i];
        w.store(w.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// A request answered: its method, status and how long it took from its head to its
    /// log line.
    #[inline]
    pub fn request(&self, method: &http::Method, status: u16, took: Duration) {
        let m = method_index(method);
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        self.add(REQUESTS + class * METHODS.len() + m, 1);
        let us = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let bucket = BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(BOUNDS_US.len());
        self.add(HIST + bucket, 1);
        self.add(SUM_US, us);
    }

    #[inline]
    pub fn bytes_in(&self, n: u64) {
        self.add(BYTES_IN, n);
    }

    #[inline]
    pub fn bytes_out(&self, n: u64) {
        self.add(BYTES_OUT, n);
    }

    pub fn accepted(&self) {
        self.add(ACCEPTED, 1);
    }

    /// A connection accepted and closed at once, unserved (no room, an access rule).
    pub fn refused(&self) {
        self.add(REFUSED, 1);
    }

    /// A connection moved from one state to another (`None`: not counted, i.e. new or gone).
    #[inline]
    pub fn moved(&self, from: Option<ConnState>, to: Option<ConnState>) {
        if from == to {
            return;
        }
        if let Some(f) = from {
            self.add(STATES + f as usize, u64::MAX); // -1, wrapping
        }
        if let Some(t) = to {
            self.add(STATES + t as usize, 1);
        }
    }
}

fn method_index(m: &http::Method) -> usize {
    match *m {
        http::Method::GET => 0,
        http::Method::HEAD => 1,
        http::Method::POST => 2,
        http::Method::PUT => 3,
        http::Method::DELETE => 4,
        http::Method::OPTIONS => 5,
        http::Method::PATCH => 6,
        _ => 7,
    }
}

/// Counters summed over workers and processes.
#[derive(Debug, Clone)]
pub struct Totals {
    words: Vec<u64>,
}

impl Totals {
    /// Requests answered with a status of `class` (index into [`CLASSES`]) for `method`
    /// (index into [`METHODS`]).
    pub fn requests(&self, class: usize, method: usize) -> u64 {
        self.words[REQUESTS + class * METHODS.len() + method]
    }

    /// Requests in each histogram bucket, not cumulative; the last one is `+Inf`.
    pub fn buckets(&self) -> &[u64] {
        &self.words[HIST..HIST + BOUNDS_US.len() + 1]
    }

    /// Sum of the latencies.
    pub fn latency_sum(&self) -> Duration {
        Duration::from_micros(self.words[SUM_US])
    }

    pub fn bytes_in(&self) -> u64 {
        self.words[BYTES_IN]
    }

    pub fn bytes_out(&self) -> u64 {
        self.words[BYTES_OUT]
    }

    pub fn accepted(&self) -> u64 {
        self.words[ACCEPTED]
    }

    pub fn refused(&self) -> u64 {
        self.words[REFUSED]
    }

    /// A process-wide gauge summed over the processes.
    pub fn load(&self, what: Load) -> u64 {
        self.words[LOAD + what as usize]
    }

    /// Connections now in `state` (a sum of per-worker gauges, each never negative).
    pub fn connections(&self, state: ConnState) -> u64 {
        self.words[STATES + state as usize]
    }

    /// The latency under which a fraction `q` of requests fell, interpolated linearly inside
    /// its bucket as Prometheus's `histogram_quantile` does; `None` before any request.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let b = self.buckets();
        let total: u64 = b.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut seen = 0u64;
        for (i, &n) in b.iter().enumerate() {
            if (seen + n) as f64 >= rank && n > 0 {
                let lo = if i == 0 { 0 } else { BOUNDS_US[i - 1] };
                let Some(&hi) = BOUNDS_US.get(i) else {
                    return Some(Duration::from_micros(lo)); // +Inf: the last finite bound
                };
                let frac = (rank - seen as f64) / n as f64;
                return Some(Duration::from_micros(lo + ((hi - lo) as f64 * frac) as u64));
            }
            seen += n;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_over_workers_and_survive_retirement() {
        let area = Arc::new(Area::create(2, 2).expect("memfd"));
        let s = area.claim().expect("a free slot");
        assert_eq!(s, 0);
        let b0 = area.block(0).expect("block 0");
        let b1 = area.block(1).expect("block 1");
        assert!(area.block(2).is_none());
        b0.request(&http::Method::GET, 200, Duration::from_micros(1_500));
        b1.request(&http::Method::GET, 204, Duration::from_millis(20));
        b1.request(&http::Method::from_bytes(b"BREW").expect("method"), 418, Duration::from_secs(60));
        b0.moved(None, Some(ConnState::Reading));
        b0.moved(Some(ConnState::Reading), Some(ConnState::Idle));
        b1.bytes_out(10);
        area.set_load(Load::WsgiQueued, 4);
        let t = area.totals();
        assert_eq!(t.load(Load::WsgiQueued), 4);
        assert_eq!(t.requests(1, 0), 2);
        assert_eq!(t.requests(3, 7), 1);
        assert_eq!(t.buckets()[1], 1);
        assert_eq!(t.buckets()[4], 1);
        assert_eq!(t.buckets()[13], 1);
        assert_eq!(t.connections(ConnState::Idle), 1);
        assert_eq!(t.connections(ConnState::Reading), 0);
        area.retire(0);
        let t = area.totals();
        assert_eq!(t.requests(1, 0), 2, "kept after the child went");
        assert_eq!(t.bytes_out(), 10);
        assert_eq!(t.connections(ConnState::Idle), 0, "its connections went with it");
        assert_eq!(t.load(Load::WsgiQueued), 0, "and its queue");
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let area = Arc::new(Area::local(1).expect("memfd"));
        let b = area.block(0).expect("block 0");
        for _ in 0..10 {
            b.request(&http::Method::GET, 200, Duration::from_micros(1_200)); // (1ms, 2.5ms]
        }
        let q = area.totals().quantile(0.5).expect("a quantile");
        assert_eq!(q, Duration::from_micros(1_750));
        assert!(Area::local(1).expect("memfd").totals().quantile(0.5).is_none());
    }
}
