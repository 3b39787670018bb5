//! The crypto provider, chosen by measurement (`examples/provider.rs`, server CPU only, median
//! of 15 rounds, this 2-core AMD EPYC; the full table is in the crate docs):
//!
//! | server CPU | ring | aws-lc-rs | aws-lc-rs + ring AEAD |
//! |---|---:|---:|---:|
//! | full TLS 1.3 handshakes/s | 4246 | 4814 | 5630 |
//! | resumed TLS 1.3 handshakes/s | 4639 | 5298 | 6377 |
//! | full TLS 1.2 handshakes/s | 5229 | 7119 | 7022 |
//! | bulk AES-256-GCM, MB/s | 3389 | 1862 | 3305 |
//!
//! aws-lc-rs wins the handshake (its P-256 signing and X25519 are faster) and ring wins the
//! record layer by almost 2x (its AES-GCM uses VAES/AVX2 on this CPU; aws-lc's does not). So we
//! take each where it is faster: aws-lc-rs's provider (key exchange, signing keys, signature
//! verification for client certificates, randomness) with ring's cipher suites (AEAD, HKDF,
//! HMAC). rustls supports such a provider: `CryptoProvider` is plain data. aws-lc-rs also brings
//! the post-quantum hybrid X25519MLKEM768 that current browsers offer first; ring has none.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;

/// The provider every configuration of this crate is built on.
pub(crate) fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec(),
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

/// Session tickets: RFC 5077's construction, keys rotated every 6 hours (rustls's own).
pub(crate) fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    rustls::crypto::aws_lc_rs::Ticketer::new()
}
