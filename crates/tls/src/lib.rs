//! Certificate settings to one shared, reloadable `rustls::ServerConfig` (issue 15).
//!
//! ```text
//!  Settings (--cert/--key, --tls NAME=CERT,KEY, --self-signed, --tls-min, --client-ca, ALPN)
//!     │  Tls::new / Tls::reload: read every file, check each key against its certificate,
//!     ▼  build a whole new Table (all-or-nothing), then swap it in
//!  Shared: RwLock<Arc<Table>> ◄──── resolve.rs: Resolver (SNI) and ClientVerifier (mTLS)
//!                                         ▲  installed once in
//!  Tls::config() ─► Arc<ServerConfig> ────┘  (+ session cache, ticketer): one for all workers
//! ```
//!
//! This crate knows no socket: the server drives `rustls::ServerConnection`s made from
//! [`Tls::config`]. One config for all workers means a session made on one worker resumes on
//! any other, by ticket or by session ID. The config never changes after `new`; a reload swaps
//! the certificate table under the resolver, so connections already up are untouched and new
//! handshakes see the new certificates. A handshake holds the table's read lock for one lookup;
//! a reload builds the new table outside the lock and holds the write lock for one pointer
//! store (`table.rs` says why this and not `arc-swap`).
//!
//! **SNI.** The exact name (case-insensitive), then a `*.example.com` wildcard (one label:
//! not `example.com`, not `a.b.example.com`), then the default certificate (`--cert`/`--key` or
//! `--self-signed`), which also answers clients that send no SNI. With no default, an unknown
//! name is refused: the resolver returns `None` and rustls aborts the handshake with a fatal
//! **`access_denied` alert (49)** (OpenSSL clients print `tlsv1 alert access denied`).
//!
//! **Protocol.** TLS 1.2 and 1.3 ([`MinVersion::Tls13`]: 1.3 only); never 1.0 or 1.1. Only
//! AEAD suites with ECDHE (a test asserts it), in the server's order: AES-128-GCM, AES-256-GCM,
//! ChaCha20-Poly1305. No 0-RTT. Key exchange X25519MLKEM768 (post-quantum hybrid), X25519,
//! P-256, P-384.
//!
//! **Client certificates.** With `client_ca`, a client certificate is required, never optional:
//! without one the handshake fails with a `certificate_required` alert (116). The CA's
//! subjects are sent as hints. [`subject_dn`] gives the verified peer's subject as nginx and
//! Apache print it.
//!
//! **Crypto provider and suite order, by measurement**
//! (`cargo run --release -p pollux-tls --example provider`; server CPU only, in memory, median
//! of 15 rounds, 2-core AMD EPYC shared with other jobs):
//!
//! | server CPU | ring | aws-lc-rs | aws-lc-rs + ring suites | same, AES-128-GCM first (chosen) |
//! |---|---:|---:|---:|---:|
//! | full TLS 1.3 handshakes/s (P-256 cert, X25519) | 4365 | 4947 | 5774 | 7171 |
//! | resumed TLS 1.3 handshakes/s (ticket) | 4827 | 5405 | 6465 | 9499 |
//! | full TLS 1.2 handshakes/s (ECDHE-ECDSA, X25519) | 5237 | 7292 | 7477 | 8027 |
//! | bulk 16 KiB records, MB/s | 3675 | 2117 | 3731 | 3771 |
//!
//! aws-lc-rs is faster at what a new connection costs (P-256 signing, X25519), ring 1.7x as
//! fast at AES-GCM on this CPU (VAES/AVX2). So the provider is aws-lc-rs with ring's cipher
//! suites, and the server's order puts AES-128-GCM-SHA256 first, because clients' favourite
//! AES-256-GCM-SHA384 hashes with SHA-384, which has no hardware help on x86 (`provider.rs`).
//! aws-lc-rs also gives the post-quantum X25519MLKEM768, which ring lacks.
//!
//! **For the server.** Names for logs and CGI, as `&'static str`, as nginx and Apache print
//! them: `conn.protocol_version().and_then(protocol_name)` gives `"TLSv1.3"`, and
//! `conn.negotiated_cipher_suite().and_then(|s| cipher_name(s.suite()))` gives
//! `"TLS_AES_128_GCM_SHA256"` (rustls's own `as_str()` names are `"TLSv1_3"` and
//! `"TLS13_AES_128_GCM_SHA256"`). `conn.peer_certificates()` gives the verified client chain,
//! leaf first, for [`subject_dn`].
//!
//! **Features.** `config` (default) is everything above; without it only the names remain
//! (what `pollux-server` needs), and no crypto provider is compiled.

#![forbid(unsafe_code)]

mod dn;
#[cfg(feature = "config")]
mod error;
#[cfg(feature = "config")]
mod load;
mod names;
#[cfg(feature = "config")]
mod provider;
#[cfg(feature = "config")]
mod resolve;
#[cfg(feature = "config")]
mod selfsigned;
#[cfg(feature = "config")]
mod settings;
#[cfg(feature = "config")]
mod table;
#[cfg(feature = "config")]
mod tls;
#[cfg(feature = "config")]
mod watch;

pub use dn::subject_dn;
#[cfg(feature = "config")]
pub use error::Error;
pub use names::{cipher_name, protocol_name};
pub use rustls;
pub use rustls::pki_types::CertificateDer;
#[cfg(feature = "config")]
pub use selfsigned::write_self_signed;
#[cfg(feature = "config")]
pub use settings::{CertFiles, MinVersion, Settings};
#[cfg(feature = "config")]
pub use tls::Tls;
