//! A deterministic, simulated-clock world for whole transfers: one client, one server driver
//! answering requests on port 69, and a network that drops, duplicates, delays (reorders)
//! and lets an intruder replay packets from a foreign port. Time only moves when every
//! machine is idle, straight to the next delivery or deadline, so a run of thousands of
//! simulated seconds takes milliseconds, and a machine that neither finishes nor sets a timer
//! is caught as a hang instead of looping forever.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pollux_tftp::{
    Config, ErrorCode, Event, Mode, Packet, Receiver, RequestKind, RequestOptions, Sender, TransferError,
    TransferOptions,
};

pub(crate) const CLIENT: &str = "10.0.0.2:3000";
pub(crate) const SERVER_69: &str = "10.0.0.1:69";
pub(crate) const INTRUDER: &str = "10.0.0.66:6666";

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

/// xorshift64*: tiny, seedable, good enough to pick which packets to drop.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // Zero is xorshift's one fixed point.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub(crate) fn bytes(&mut self, len: usize, text: bool) -> Vec<u8> {
        (0..len)
            .map(|_| {
                let r = self.next_u64();
                // Text: lots of CR and LF, so pairs straddle block boundaries.
                match (text, r % 8) {
                    (true, 0) => b'\n',
                    (true, 1) => b'\r',
                    _ => (r >> 8) as u8,
                }
            })
            .collect()
    }
}

/// How hostile the network is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetProfile {
    pub(crate) drop: f64,
    pub(crate) duplicate: f64,
    /// Chance that a packet takes a slow path (up to `jitter` extra), overtaking nothing but
    /// being overtaken.
    pub(crate) reorder: f64,
    pub(crate) latency: Duration,
    pub(crate) jitter: Duration,
    /// Chance that the intruder replays a delivered packet from its own address.
    pub(crate) intrude: f64,
    /// Every packet after this many is dropped: the peer vanishes.
    pub(crate) blackout_after: Option<u64>,
}

impl NetProfile {
    pub(crate) const PERFECT: NetProfile = NetProfile {
        drop: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        latency: Duration::from_millis(5),
        jitter: Duration::ZERO,
        intrude: 0.0,
        blackout_after: None,
    };

    pub(crate) const LOSSY: NetProfile = NetProfile {
        drop: 0.08,
        duplicate: 0.05,
        reorder: 0.1,
        latency: Duration::from_millis(5),
        jitter: Duration::from_millis(40),
        intrude: 0.02,
        blackout_after: None,
    };
}

struct InFlight {
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Vec<u8>,
}

struct Network {
    profile: NetProfile,
    rng: Rng,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    packets: std::collections::HashMap<u64, InFlight>,
    seq: u64,
    sent: u64,
    /// More datagrams than this is a packet storm (e.g. the Sorcerer's Apprentice): fail fast.
    budget: u64,
}

impl Network {
    fn send(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr, bytes: &[u8]) {
        self.sent += 1;
        assert!(self.sent <= self.budget, "packet storm: {} datagrams", self.sent);
        if self.profile.blackout_after.is_some_and(|n| self.sent > n) || self.rng.chance(self.profile.drop) {
            return;
        }
        let copies = if self.rng.chance(self.profile.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let mut delay = self.profile.latency;
            if self.rng.chance(self.profile.reorder) {
                let jitter = self.profile.jitter.as_micros() as u64;
                delay += Duration::from_micros(self.rng.below(jitter + 1));
            }
            self.seq += 1;
            self.queue.push(Reverse((now + delay, self.seq)));
            self.packets.insert(self.seq, InFlight { src, dst, bytes: bytes.to_vec() });
        }
    }

    fn next_time(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((t, _))| *t)
    }

    fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        match self.queue.peek() {
            Some(Reverse((t, _))) if *t <= now => {}
            _ => return None,
        }
        let Reverse((_, seq)) = self.queue.pop()?;
        self.packets.remove(&seq)
    }
}

enum Machine {
    Send { m: Sender, source: Vec<u8>, fed: usize, finished: bool, hi: u64 },
    Recv { m: Receiver, sink: Vec<u8> },
}

struct Endpoint {
    addr: SocketAddr,
    machine: Machine,
    complete: bool,
    failed: Option<TransferError>,
    negotiated: Option<TransferOptions>,
}

impl Endpoint {
    fn closed(&self) -> bool {
        match &self.machine {
            Machine::Send { m, .. } => m.is_closed(),
            Machine::Recv { m, .. } => m.is_closed(),
        }
    }

    fn timeout(&self) -> Option<Instant> {
        match &self.machine {
            Machine::Send { m, .. } => m.poll_timeout(),
            Machine::Recv { m, .. } => m.poll_timeout(),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) kind: RequestKind,
    pub(crate) mode: Mode,
    pub(crate) options: RequestOptions,
    pub(crate) file: Vec<u8>,
    pub(crate) client: Config,
    pub(crate) server: Config,
    pub(crate) net: NetProfile,
    pub(crate) seed: u64,
}

/// What happened, for the assertions.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Both ends of the transfer the client locked onto completed, with identical bytes.
    pub(crate) completed: bool,
    pub(crate) client_failure: Option<TransferError>,
    pub(crate) negotiated: Option<TransferOptions>,
    /// ACKs that acknowledged nothing new, delivered to a sender mid-transfer.
    pub(crate) duplicate_acks: u64,
    /// DATA resent in direct answer to such an ACK: must stay 0 (RFC 1123 §4.2.3.1).
    pub(crate) sorcerer_resends: u64,
    pub(crate) data_sends: u64,
    pub(crate) error5_to_intruder: u64,
    pub(crate) server_transfers: usize,
    pub(crate) steps: u64,
    /// Simulated time from the first request until every machine closed.
    pub(crate) elapsed: Duration,
}

struct World {
    net: Network,
    rng: Rng,
    endpoints: Vec<Endpoint>,
    server_config: Config,
    file: Vec<u8>,
    report: Report,
    buf: Vec<u8>,
}

impl World {
    /// Feeds file bytes, drains data and events, and sends everything endpoint `i` wants to
    /// send. `resends_allowed`: whether what just happened may legitimately cause resends.
    fn pump(&mut self, i: usize, now: Instant, resends_allowed: bool) {
        let ep = &mut self.endpoints[i];
        let src = ep.addr;
        let mut resends = 0;
        match &mut ep.machine {
            Machine::Send { m, source, fed, finished, hi } => {
                while m.data_wanted() > 0 && !*finished {
                    // Odd chunk sizes: the caller need not write what was asked for exactly.
                    let n = m.data_wanted().min(1 + self.rng.below(700) as usize).min(source.len() - *fed);
                    m.write_data(&source[*fed..*fed + n]);
                    *fed += n;
                    if *fed == source.len() {
                        m.finish_data();
                        *finished = true;
                    }
                }
                while let Some(dst) = m.poll_transmit(now, &mut self.buf) {
                    if let Ok(Packet::Data { block, .. }) = Packet::parse(&self.buf) {
                        self.report.data_sends += 1;
                        let abs = (*hi as i64 + i64::from(block.wrapping_sub(*hi as u16) as i16)) as u64;
                        if abs <= *hi {
                            resends += 1;
                        }
                        *hi = (*hi).max(abs);
                    }
                    self.net.send(now, src, dst, &self.buf);
                }
                while let Some(event) = m.poll_event() {
                    record(&mut ep.complete, &mut ep.failed, &mut ep.negotiated, event);
                }
            }
            Machine::Recv { m, sink } => {
                sink.extend_from_slice(m.pending_data());
                let n = m.pending_data().len();
                m.consume_data(n);
                while let Some(dst) = m.poll_transmit(&mut self.buf) {
                    self.net.send(now, src, dst, &self.buf);
                }
                while let Some(event) = m.poll_event() {
                    record(&mut ep.complete, &mut ep.failed, &mut ep.negotiated, event);
                }
            }
        }
        if !resends_allowed {
            self.report.sorcerer_resends += resends;
        }
    }

    /// The server driver: a request on port 69 starts a new transfer on a new port, like
    /// servers that do not deduplicate retransmitted requests.
    fn listen(&mut self, now: Instant, src: SocketAddr, bytes: &[u8]) {
        let Ok(Packet::Request(request)) = Packet::parse(bytes) else { return };
        let tid: SocketAddr = SocketAddr::new(addr(SERVER_69).ip(), 4000 + self.endpoints.len() as u16);
        let machine = match request.kind {
            RequestKind::Read => {
                let size = Some(self.file.len() as u64);
                match Sender::accept(&request, src, &self.server_config, size, now) {
                    Ok(m) => Machine::Send { m, source: self.file.clone(), fed: 0, finished: false, hi: 0 },
                    Err(_) => return,
                }
            }
            RequestKind::Write => match Receiver::accept(&request, src, &self.server_config, now) {
                Ok(m) => Machine::Recv { m, sink: Vec::new() },
                Err(_) => return,
            },
        };
        self.report.server_transfers += 1;
        self.endpoints.push(Endpoint { addr: tid, machine, complete: false, failed: None, negotiated: None });
        let i = self.endpoints.len() - 1;
        self.pump(i, now, true);
    }

    fn deliver(&mut self, now: Instant, packet: InFlight) {
        if packet.dst == addr(INTRUDER) {
            if let Ok(Packet::Error { code, .. }) = Packet::parse(&packet.bytes) {
                assert_eq!(code, ErrorCode::UnknownTid);
                self.report.error5_to_intruder += 1;
            }
            return;
        }
        if packet.dst == addr(SERVER_69) {
            return self.listen(now, packet.src, &packet.bytes);
        }
        let Some(i) = self.endpoints.iter().position(|e| e.addr == packet.dst) else { return };
        if self.endpoints[i].closed() {
            return; // A closed socket: the datagram is lost.
        }
        let mut resends_allowed = true;
        match &mut self.endpoints[i].machine {
            Machine::Send { m, hi, .. } => {
                let before = m.blocks_acked();
                m.handle_datagram(now, packet.src, &packet.bytes);
                let is_ack = matches!(Packet::parse(&packet.bytes), Ok(Packet::Ack { .. }));
                // Once DATA has gone out, an ACK that moves nothing forward is a duplicate.
                if is_ack && packet.src != addr(INTRUDER) && m.blocks_acked() == before && *hi > 0 {
                    self.report.duplicate_acks += 1;
                    resends_allowed = false;
                }
            }
            Machine::Recv { m, .. } => m.handle_datagram(now, packet.src, &packet.bytes),
        }
        self.pump(i, now, resends_allowed);
        if packet.src != addr(INTRUDER) && self.rng.chance(self.net.profile.intrude) {
            let dst = packet.dst;
            self.net.send(now, addr(INTRUDER), dst, &packet.bytes);
        }
    }
}

fn record(
    complete: &mut bool,
    failed: &mut Option<TransferError>,
    negotiated: &mut Option<TransferOptions>,
    event: Event,
) {
    match event {
        Event::Negotiated(o) => {
            assert!(negotiated.is_none(), "negotiated twice");
            *negotiated = Some(o);
        }
        Event::Complete => {
            assert!(!*complete && failed.is_none(), "complete twice or after failing");
            *complete = true;
        }
        Event::Failed(e) => {
            assert!(!*complete && failed.is_none(), "failed twice or after completing: {e}");
            *failed = Some(e);
        }
        other => panic!("unknown event {other:?}"),
    }
}

/// Runs one transfer to the end and checks the invariants that hold on any network:
/// no hang, no step explosion or packet storm, no DATA resent in answer to a duplicate ACK,
/// completed receivers hold exactly the file, a completed sender implies a completed
/// receiver, and every machine ends closed with an outcome.
pub(crate) fn run(s: &Scenario) -> Report {
    let start = Instant::now();
    let mut now = start;
    // Generous: a lock-step block costs a few steps and two datagrams; every retry a few more.
    let blocks = s.file.len() as u64 * 2 / 8 + 2;
    let net = Network {
        budget: 2_000 + blocks * 20,
        profile: s.net,
        rng: Rng::new(s.seed ^ 0x5eed),
        queue: BinaryHeap::new(),
        packets: Default::default(),
        seq: 0,
        sent: 0,
    };
    let client = match s.kind {
        RequestKind::Read => {
            let m =
                Receiver::get("file", s.mode, s.options, addr(SERVER_69), &s.client, now).expect("valid get");
            Machine::Recv { m, sink: Vec::new() }
        }
        RequestKind::Write => {
            let m =
                Sender::put("file", s.mode, s.options, addr(SERVER_69), &s.client, now).expect("valid put");
            Machine::Send { m, source: s.file.clone(), fed: 0, finished: false, hi: 0 }
        }
    };
    let server_file = if s.kind == RequestKind::Read { s.file.clone() } else { Vec::new() };
    let mut world = World {
        net,
        rng: Rng::new(s.seed),
        endpoints: vec![Endpoint {
            addr: addr(CLIENT),
            machine: client,
            complete: false,
            failed: None,
            negotiated: None,
        }],
        server_config: s.server.clone(),
        file: server_file,
        report: Report::default(),
        buf: Vec::new(),
    };
    world.pump(0, now, true);

    let max_steps = 10_000 + blocks * 40;
    let mut steps = 0u64;
    loop {
        steps += 1;
        assert!(steps < max_steps, "no progress after {steps} steps: {s:?}");
        let next_timer = world.endpoints.iter().filter(|e| !e.closed()).filter_map(Endpoint::timeout).min();
        if world.endpoints.iter().all(Endpoint::closed) {
            break;
        }
        let next = match (world.net.next_time(), next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or_else(|| {
                let open: Vec<_> = world.endpoints.iter().filter(|e| !e.closed()).map(|e| e.addr).collect();
                panic!("hang: {open:?} open with no timer and nothing in flight")
            }),
        };
        assert!(next >= now, "time went backwards");
        now = next;
        while let Some(packet) = world.net.pop_due(now) {
            world.deliver(now, packet);
        }
        for i in 0..world.endpoints.len() {
            let ep = &mut world.endpoints[i];
            if ep.closed() || ep.timeout().is_none_or(|t| t > now) {
                continue;
            }
            match &mut ep.machine {
                Machine::Send { m, .. } => m.handle_timeout(now),
                Machine::Recv { m, .. } => m.handle_timeout(now),
            }
            world.pump(i, now, true);
        }
    }
    world.report.steps = steps;
    world.report.elapsed = now - start;

    // The invariants.
    assert_eq!(world.report.sorcerer_resends, 0, "DATA resent in answer to a duplicate ACK: {s:?}");
    for ep in &world.endpoints {
        assert!(ep.complete || ep.failed.is_some(), "{} closed without an outcome", ep.addr);
        if let Machine::Recv { sink, .. } = &ep.machine {
            if ep.complete {
                assert!(
                    sink == &s.file,
                    "receiver {} completed with different bytes ({} vs {})",
                    ep.addr,
                    sink.len(),
                    s.file.len()
                );
            }
        }
    }
    let client = &world.endpoints[0];
    let peer = match &client.machine {
        Machine::Send { m, .. } => m.peer(),
        Machine::Recv { m, .. } => m.peer(),
    };
    let server = peer.and_then(|p| world.endpoints.iter().find(|e| e.addr == p));
    let sender_complete = |e: &Endpoint| matches!(e.machine, Machine::Send { .. }) && e.complete;
    let receiver_complete = |e: &Endpoint| matches!(e.machine, Machine::Recv { .. }) && e.complete;
    if let Some(server) = server {
        if sender_complete(client) || sender_complete(server) {
            assert!(receiver_complete(client) || receiver_complete(server), "sender completed alone");
        }
        if client.complete && server.complete {
            assert_eq!(client.negotiated, server.negotiated, "both ends run with the same options");
        }
        world.report.completed = client.complete && server.complete;
    }
    for other in world.endpoints.iter().skip(1).filter(|e| Some(e.addr) != peer) {
        assert!(!other.complete, "a duplicate-request transfer {} completed", other.addr);
    }
    world.report.client_failure = client.failed.clone();
    world.report.negotiated = client.negotiated;
    world.report
}
