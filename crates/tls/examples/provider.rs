//! Which rustls crypto provider should the server use? Measured, not guessed (issue 15).
//!
//! `cargo run --release -p pollux-tls --example provider`
//!
//! Everything runs in memory: a `ServerConnection` and a `ClientConnection` pump bytes through
//! `Vec`s, no sockets. Only the server's calls are timed (`read_tls`, `process_new_packets`,
//! `write_tls`, `writer().write`): the client's cost is the peer's, not ours. The clock is the
//! thread's CPU clock, not the wall clock, because this 2-core machine is shared with other jobs
//! and a preempted server call would otherwise count the other job's time. Each figure is the
//! median of many samples taken over several rounds, and the configurations take turns within a
//! round so that drift hits all alike.
//!
//! Columns: ring; aws-lc-rs; aws-lc-rs with ring's cipher suites (each library where it is
//! faster); that again with AES-128-GCM-SHA256 first in the server's order (SHA-384, which
//! clients' favourite AES-256-GCM-SHA384 hashes with, has no SHA-NI). The last is what
//! pollux-tls uses (`src/provider.rs`).
//!
//! Rows:
//! - full TLS 1.3 handshakes/s (ECDSA P-256 certificate, X25519, no resumption);
//! - resumed TLS 1.3 handshakes/s (a ticket from the previous handshake, PSK + X25519);
//! - full TLS 1.2 handshakes/s (ECDHE-ECDSA, X25519);
//! - bulk: server→client 16 KiB application records with the suite a default rustls client
//!   and that server negotiate (printed), MB/s of plaintext encrypted;
//! - for information, aws-lc-rs's post-quantum hybrid X25519MLKEM768 (ring has none), which
//!   current browsers offer first.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::time::{clock_gettime, ClockId};

use rustls::client::Resumption;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::ServerSessionMemoryCache;
use rustls::{ClientConfig, ClientConnection, HandshakeKind, RootCertStore, ServerConfig};
use rustls::{ServerConnection, SupportedProtocolVersion};

/// How long each measurement runs per round.
const SPAN: Duration = Duration::from_millis(250);
const ROUNDS: usize = 15;
const RECORD: usize = 16 * 1024;
const BATCH: usize = 16;

/// The calling thread's CPU time (a system call, ~100 ns: small beside a handshake, and the
/// same number of calls for both providers).
#[derive(Clone, Copy)]
struct Cpu(Duration);

impl Cpu {
    fn now() -> Cpu {
        let t = clock_gettime(ClockId::ThreadCPUTime);
        Cpu(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
    }
    fn elapsed(self) -> Duration {
        Cpu::now().0.saturating_sub(self.0)
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Provider {
    name: &'static str,
    make: fn() -> CryptoProvider,
    ticketer: fn() -> std::result::Result<Arc<dyn rustls::server::ProducesTickets>, rustls::Error>,
    x25519: &'static dyn SupportedKxGroup,
    /// `ServerConfig::ignore_client_order`: the server's suite order wins.
    server_order: bool,
}

// rustls 0.23.48 deprecates ring's `default_provider` ("no support for post-quantum
// algorithms"): that is one of the things being weighed here.
#[allow(deprecated)]
const PROVIDERS: [Provider; 4] = [
    Provider {
        name: "ring",
        make: rustls::crypto::ring::default_provider,
        ticketer: rustls::crypto::ring::Ticketer::new,
        x25519: rustls::crypto::ring::kx_group::X25519,
        server_order: false,
    },
    Provider {
        name: "aws-lc-rs",
        make: rustls::crypto::aws_lc_rs::default_provider,
        ticketer: rustls::crypto::aws_lc_rs::Ticketer::new,
        x25519: rustls::crypto::aws_lc_rs::kx_group::X25519,
        server_order: false,
    },
    Provider {
        name: "aws-lc-rs + ring suites",
        make: hybrid,
        ticketer: rustls::crypto::aws_lc_rs::Ticketer::new,
        x25519: rustls::crypto::aws_lc_rs::kx_group::X25519,
        server_order: false,
    },
    Provider {
        name: "same, AES-128-GCM first, server order",
        make: hybrid_aes128_first,
        ticketer: rustls::crypto::aws_lc_rs::Ticketer::new,
        x25519: rustls::crypto::aws_lc_rs::kx_group::X25519,
        server_order: true,
    },
];

/// aws-lc-rs for key exchange and signatures, ring's cipher suites (AEAD, HMAC, HKDF).
#[allow(deprecated)]
fn hybrid() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: rustls::crypto::ring::default_provider().cipher_suites,
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

/// The hybrid with AES-128-GCM (and so SHA-256, which has SHA-NI, where SHA-384 has no
/// hardware help on x86) ahead of AES-256-GCM.
fn hybrid_aes128_first() -> CryptoProvider {
    let mut p = hybrid();
    // A stable sort: AES-128 suites first, the rest in rustls's order.
    p.cipher_suites.sort_by_key(|s| !format!("{:?}", s.suite()).contains("AES_128_GCM"));
    p
}

struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

fn identity() -> Result<Identity> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])?.self_signed(&key)?;
    Ok(Identity { chain: vec![cert.der().clone()], key: key.serialize_der() })
}

fn server_config(p: &Provider, id: &Identity) -> Result<Arc<ServerConfig>> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key.clone()));
    let mut config = ServerConfig::builder_with_provider(Arc::new((p.make)()))
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(id.chain.clone(), key)?;
    config.session_storage = ServerSessionMemoryCache::new(4096);
    config.ticketer = (p.ticketer)()?;
    config.ignore_client_order = p.server_order;
    Ok(Arc::new(config))
}

fn client_config(
    p: &Provider,
    id: &Identity,
    versions: &[&'static SupportedProtocolVersion],
    kx: Option<&'static dyn SupportedKxGroup>,
    resume: bool,
) -> Result<Arc<ClientConfig>> {
    let mut provider = (p.make)();
    if let Some(kx) = kx {
        provider.kx_groups = vec![kx];
    }
    let mut roots = RootCertStore::empty();
    roots.add(id.chain[0].clone())?;
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// Moves bytes both ways until neither side has anything to say; returns the server's time.
fn pump(server: &mut ServerConnection, client: &mut ClientConnection) -> Result<Duration> {
    let mut spent = Duration::ZERO;
    let mut buf = Vec::with_capacity(32 * 1024);
    loop {
        let mut moved = false;
        while client.wants_write() {
            client.write_tls(&mut buf)?;
        }
        if !buf.is_empty() {
            moved = true;
            let t = Cpu::now();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd)?;
                server.process_new_packets()?;
            }
            spent += t.elapsed();
            buf.clear();
        }
        let t = Cpu::now();
        while server.wants_write() {
            server.write_tls(&mut buf)?;
        }
        spent += t.elapsed();
        if !buf.is_empty() {
            moved = true;
            let mut rd = &buf[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd)?;
                client.process_new_packets()?;
            }
            buf.clear();
        }
        if !moved {
            return Ok(spent);
        }
    }
}

fn connect(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
) -> Result<(ServerConnection, ClientConnection, Duration)> {
    let t = Cpu::now();
    let mut s = ServerConnection::new(server.clone())?;
    let setup = t.elapsed();
    let mut c = ClientConnection::new(client.clone(), ServerName::try_from("localhost")?)?;
    let spent = setup + pump(&mut s, &mut c)?;
    if s.is_handshaking() || c.is_handshaking() {
        return Err("handshake did not finish".into());
    }
    Ok((s, c, spent))
}

/// Server CPU time of each handshake, and the kind of the last one (to check resumption).
fn handshakes(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    samples: &mut Vec<Duration>,
) -> Result<HandshakeKind> {
    // A first handshake primes the client's ticket store for the resumed row.
    let (_, c, _) = connect(server, client)?;
    let mut kind = c.handshake_kind().ok_or("no handshake kind")?;
    let start = Instant::now();
    while start.elapsed() < SPAN {
        let (_, c, t) = connect(server, client)?;
        kind = c.handshake_kind().ok_or("no handshake kind")?;
        samples.push(t);
    }
    Ok(kind)
}

/// Server CPU time per batch of `BATCH` records, and the suite's name.
fn bulk(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    samples: &mut Vec<Duration>,
) -> Result<String> {
    let (mut s, mut c, _) = connect(server, client)?;
    let suite = s.negotiated_cipher_suite().ok_or("no suite")?.suite().as_str().unwrap_or("?").to_string();
    let record = vec![0x5a_u8; RECORD];
    let mut wire = Vec::with_capacity(2 * RECORD);
    // Once through the client, so we know the records are real.
    s.writer().write_all(&record)?;
    s.write_tls(&mut wire)?;
    let mut rd = &wire[..];
    while !rd.is_empty() {
        c.read_tls(&mut rd)?;
        c.process_new_packets()?;
    }
    let mut got = vec![0u8; RECORD];
    std::io::Read::read_exact(&mut c.reader(), &mut got)?;
    if got != record {
        return Err("client read something else".into());
    }
    let start = Instant::now();
    while start.elapsed() < SPAN {
        let t = Cpu::now();
        for _ in 0..BATCH {
            wire.clear();
            s.writer().write_all(&record)?;
            s.write_tls(&mut wire)?;
        }
        samples.push(t.elapsed());
    }
    Ok(suite)
}

/// The median sample: robust against the rounds another job disturbed.
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or(Duration::MAX)
}

fn per_second(samples: &mut [Duration]) -> f64 {
    1.0 / median(samples).as_secs_f64()
}

#[derive(Default)]
struct Samples {
    full13: Vec<Duration>,
    resumed: Vec<Duration>,
    full12: Vec<Duration>,
    bulk: Vec<Duration>,
    suite: String,
}

fn main() -> Result<()> {
    let id = identity()?;
    let tls13: &[&'static SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let tls12: &[&'static SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let mut all: [Samples; 4] = Default::default();
    let mut pq = Vec::new();
    for round in 0..ROUNDS {
        eprint!("\rround {}/{ROUNDS}", round + 1);
        for (p, m) in PROVIDERS.iter().zip(all.iter_mut()) {
            let server = server_config(p, &id)?;
            let c = client_config(p, &id, tls13, Some(p.x25519), false)?;
            handshakes(&server, &c, &mut m.full13)?;
            let c = client_config(p, &id, tls13, Some(p.x25519), true)?;
            let kind = handshakes(&server, &c, &mut m.resumed)?;
            if kind != HandshakeKind::Resumed {
                return Err(format!("{}: handshake was {kind:?}, not resumed", p.name).into());
            }
            let c = client_config(p, &id, tls12, Some(p.x25519), false)?;
            handshakes(&server, &c, &mut m.full12)?;
            let c = client_config(p, &id, rustls::ALL_VERSIONS, None, false)?;
            m.suite = bulk(&server, &c, &mut m.bulk)?;
            if p.name == "aws-lc-rs" {
                // ring has no post-quantum group: this row is for information.
                let kx = rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768;
                let c = client_config(p, &id, tls13, Some(kx), false)?;
                handshakes(&server, &c, &mut pq)?;
            }
        }
    }
    eprintln!();
    println!(
        "server CPU only (thread CPU clock), median of {ROUNDS} rounds of {SPAN:?} each; higher is better"
    );
    println!();
    let head: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
    println!("| measure | {} |", head.join(" | "));
    println!("|---|{}", "---:|".repeat(PROVIDERS.len()));
    type Pick = fn(&mut Samples) -> &mut Vec<Duration>;
    let rows: [(&str, Pick); 3] = [
        ("full TLS 1.3 handshakes/s (P-256 cert, X25519)", |m| &mut m.full13),
        ("resumed TLS 1.3 handshakes/s (ticket)", |m| &mut m.resumed),
        ("full TLS 1.2 handshakes/s (ECDHE-ECDSA, X25519)", |m| &mut m.full12),
    ];
    for (name, pick) in rows {
        let cells: Vec<String> = all.iter_mut().map(|m| format!("{:.0}", per_second(pick(m)))).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    let cells: Vec<String> = all
        .iter_mut()
        .map(|m| format!("{:.0}", per_second(&mut m.bulk) * (BATCH * RECORD) as f64 / 1e6))
        .collect();
    println!("| bulk 16 KiB records, MB/s | {} |", cells.join(" | "));
    let cells: Vec<&str> = all.iter().map(|m| m.suite.as_str()).collect();
    println!("| suite negotiated (default client) | {} |", cells.join(" | "));
    println!();
    println!("aws-lc-rs, full TLS 1.3 handshakes/s with X25519MLKEM768: {:.0}", per_second(&mut pq));
    Ok(())
}
