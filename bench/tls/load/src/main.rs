//! TLS connection-rate load client for bench/tls.sh.
//!
//! Keeps `--conns` connections in flight on one thread (mio, edge-triggered). Each connection:
//! TCP connect, TLS handshake, one `GET PATH` with `Connection: close`, read the whole response
//! (Content-Length), close. Then the slot opens the next connection, until `--seconds` have passed
//! or `--max` connections completed.
//!
//! `--resume` keeps rustls's in-memory session store (TLS 1.3 tickets; TLS 1.2 IDs/tickets with
//! `--tls12`), so after the first connections every handshake offers a ticket; without it
//! resumption is disabled and every handshake is full. Either way the client counts, from rustls's
//! own `handshake_kind()`, how many handshakes were full and how many resumed, so the figure says
//! what actually happened, whatever the server did.
//!
//! The server's certificate chain is not validated (as wrk and h2load do not); the handshake
//! signature (CertificateVerify / ServerKeyExchange) is verified, as any client must. Key exchange
//! X25519, as every server here prefers.
//!
//! Prints one line: `conns=N full=F resumed=R errors=E secs=T conns_per_s=X`.
//!
//! `--hold N --pids PID[,PID]` is the idle-memory mode: N keep-alive connections (full
//! handshakes, `--conns` of them in flight at once), one request each, then all N held open. It
//! reads the servers' memory (VmRSS of /proc/PID/status, Pss of /proc/PID/smaps_rollup, summed
//! over the PIDs) before the first connection and one second after the last response, then checks
//! that every held connection is still open (no EOF, no data pending) and prints
//! `conns=N ok=OK alive=A rss_before=B rss_after=A bytes_per_conn=X pss_bytes_per_conn=Y secs=T`.
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind, SignatureScheme};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct NoChainCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoChainCheck {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(msg, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(msg, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

struct Conn {
    sock: TcpStream,
    tls: ClientConnection,
    sent: bool,
    buf: Vec<u8>,
    need: Option<usize>, // total response bytes (head + body) once the head is parsed
}

enum Step {
    Pending,
    Done(HandshakeKind),
    Failed(String),
}

fn usage() -> ! {
    eprintln!("usage: tlsload --addr IP:PORT [--path /index.html] [--conns 32] [--seconds 5] [--max 1000000] [--resume] [--tls12] [--sni localhost]");
    std::process::exit(2)
}

#[allow(deprecated)] // ring::default_provider: no post-quantum groups, which is what is wanted here
fn main() {
    let mut addr: Option<SocketAddr> = None;
    let (mut path, mut conns, mut secs, mut max) = ("/index.html".to_string(), 32usize, 5f64, 1_000_000u64);
    let (mut resume, mut tls12, mut sni) = (false, false, "localhost".to_string());
    let (mut hold, mut pids) = (0u64, Vec::<u32>::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--addr" => addr = Some(val().parse().unwrap_or_else(|_| usage())),
            "--path" => path = val(),
            "--conns" => conns = val().parse().unwrap_or_else(|_| usage()),
            "--seconds" => secs = val().parse().unwrap_or_else(|_| usage()),
            "--max" => max = val().parse().unwrap_or_else(|_| usage()),
            "--sni" => sni = val(),
            "--hold" => hold = val().parse().unwrap_or_else(|_| usage()),
            "--pids" => pids = val().split(',').map(|p| p.parse().unwrap_or_else(|_| usage())).collect(),
            "--resume" => resume = true,
            "--tls12" => tls12 = true,
            _ => usage(),
        }
    }
    let addr = addr.unwrap_or_else(|| usage());
    let mut provider = ring::default_provider();
    provider.kx_groups = vec![ring::kx_group::X25519];
    let provider = Arc::new(provider);
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls12 { &[&rustls::version::TLS12] } else { &[&rustls::version::TLS13] };
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoChainCheck(provider)))
        .with_no_client_auth();
    config.resumption = if resume && hold == 0 { Resumption::in_memory_sessions(1024) } else { Resumption::disabled() };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let name = ServerName::try_from(sni).expect("server name");
    if hold > 0 {
        max = hold;
    }
    let close = if hold > 0 { "" } else { "Connection: close\r\n" };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{close}\r\n").into_bytes();
    let mem_before = mem(&pids);
    let mut held: Vec<Conn> = Vec::new();

    let mut poll = Poll::new().expect("epoll");
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Conn>> = (0..conns).map(|_| None).collect();
    let (mut started, mut full, mut resumed, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error: Option<String> = None;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);

    let open = |poll: &Poll, i: usize| -> Conn {
        let mut sock = TcpStream::connect(addr).expect("connect");
        let _ = sock.set_nodelay(true);
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)
            .expect("register");
        let tls = ClientConnection::new(config.clone(), name.clone()).expect("tls");
        Conn { sock, tls, sent: false, buf: Vec::with_capacity(2048), need: None }
    };
    for (i, s) in slots.iter_mut().enumerate() {
        if started < max {
            *s = Some(open(&poll, i));
            started += 1;
        }
    }
    let mut live = slots.iter().filter(|s| s.is_some()).count();
    while live > 0 {
        let now = Instant::now();
        // Connections in flight at the deadline get one more second to finish, then are dropped.
        if now > deadline + Duration::from_secs(1) {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100))).expect("poll");
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(c) = slots[i].as_mut() else { continue };
            let step = drive(c, &request);
            match step {
                Step::Pending => continue,
                Step::Done(HandshakeKind::Resumed) => resumed += 1,
                Step::Done(_) => full += 1,
                Step::Failed(e) => {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            let mut old = slots[i].take().unwrap();
            let _ = poll.registry().deregister(&mut old.sock);
            if hold > 0 && old.need.is_some_and(|n| old.buf.len() >= n) {
                held.push(old);
            } else {
                drop(old);
            }
            if Instant::now() < deadline && started < max {
                slots[i] = Some(open(&poll, i));
                started += 1;
            } else {
                live -= 1;
            }
        }
    }
    let el = start.elapsed().as_secs_f64();
    let done = full + resumed;
    if hold > 0 {
        std::thread::sleep(Duration::from_secs(1));
        let after = mem(&pids);
        std::thread::sleep(Duration::from_millis(200));
        let mut b = [0u8; 1];
        let alive = held
            .iter()
            .filter(|c| matches!(c.sock.peek(&mut b), Err(ref e) if e.kind() == io::ErrorKind::WouldBlock))
            .count();
        println!(
            "conns={hold} ok={} alive={alive} rss_before={} rss_after={} bytes_per_conn={:.0} pss_bytes_per_conn={:.0} secs={el:.1}",
            held.len(),
            mem_before.0,
            after.0,
            (after.0 as f64 - mem_before.0 as f64) / hold as f64,
            (after.1 as f64 - mem_before.1 as f64) / hold as f64
        );
        if let Some(e) = first_error {
            eprintln!("tlsload: {errors} errors, the first: {e}");
        }
        return;
    }
    // This process's own CPU (utime+stime, clock ticks of 1/100 s), to tell a client-bound run.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    println!(
        "conns={done} full={full} resumed={resumed} errors={errors} secs={el:.3} conns_per_s={:.0} client_cpu_s={:.2}",
        done as f64 / el,
        ticks as f64 / 100.0
    );
    if let Some(e) = first_error {
        eprintln!("tlsload: first error: {e}");
    }
}

/// Moves one connection as far as it can go without blocking.
fn drive(c: &mut Conn, request: &[u8]) -> Step {
    loop {
        // Flush whatever TLS wants to send.
        while c.tls.wants_write() {
            match c.tls.write_tls(&mut c.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Pending,
                Err(e) => return Step::Failed(format!("write: {e}")),
            }
        }
        if !c.tls.is_handshaking() && !c.sent {
            c.tls.writer().write_all(request).expect("plaintext buffer");
            c.sent = true;
            continue;
        }
        // Read records until the socket is empty.
        let mut eof = false;
        let mut progressed = false;
        loop {
            match c.tls.read_tls(&mut c.sock) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => progressed = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Pending,
                Err(e) => return Step::Failed(format!("read: {e}")),
            }
            if let Err(e) = c.tls.process_new_packets() {
                let _ = c.tls.write_tls(&mut c.sock);
                return Step::Failed(format!("tls: {e}"));
            }
        }
        if progressed {
            if let Err(e) = c.tls.process_new_packets() {
                return Step::Failed(format!("tls: {e}"));
            }
        }
        // Drain plaintext.
        let mut tmp = [0u8; 16384];
        loop {
            match c.tls.reader().read(&mut tmp) {
                Ok(0) => break,
                Ok(n) => c.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Step::Failed(format!("plaintext: {e}")),
            }
        }
        if c.need.is_none() {
            if let Some(end) = find(&c.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&c.buf[..end]).to_ascii_lowercase();
                if !head.starts_with("http/1.1 200") {
                    return Step::Failed(format!("status: {}", head.lines().next().unwrap_or("")));
                }
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
                    .and_then(|r| r.ok());
                match len {
                    Some(n) => c.need = Some(end + 4 + n),
                    None => return Step::Failed("no content-length".into()),
                }
            }
        }
        if let Some(n) = c.need {
            if c.buf.len() >= n {
                return Step::Done(c.tls.handshake_kind().unwrap_or(HandshakeKind::Full));
            }
        }
        if eof {
            return Step::Failed("closed early".into());
        }
        if !progressed && !c.tls.wants_write() {
            return Step::Pending;
        }
    }
}

/// (VmRSS, Pss) in bytes, summed over `pids`.
fn mem(pids: &[u32]) -> (u64, u64) {
    let field = |file: String, key: &str| -> u64 {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()))
            .unwrap_or(0)
            * 1024
    };
    pids.iter().fold((0, 0), |(r, p), pid| {
        (r + field(format!("/proc/{pid}/status"), "VmRSS:"), p + field(format!("/proc/{pid}/smaps_rollup"), "Pss:"))
    })
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}
