//! The crypto provider and the suite order, chosen by measurement (`examples/provider.rs`:
//! server CPU only, in memory, median of 15 rounds, this 2-core AMD EPYC; the table is in the
//! crate docs).
//!
//! - aws-lc-rs wins the handshake (its P-256 signing and X25519 are faster: full TLS 1.3 +13%,
//!   TLS 1.2 +40% over ring) and ring wins the record layer by 1.7x (its AES-GCM uses VAES/AVX2
//!   on this CPU; aws-lc's does not). So we take each where it is faster: aws-lc-rs's provider
//!   (key exchange, signing keys, signature verification for client certificates, randomness)
//!   with ring's cipher suites (AEAD, HKDF, HMAC). rustls supports this: `CryptoProvider` is
//!   plain data. aws-lc-rs also brings the post-quantum hybrid X25519MLKEM768 that current
//!   browsers offer first; ring has none (rustls 0.23.48 deprecates its `default_provider`).
//! - AES-128-GCM first, in the server's order (`ignore_client_order`): OpenSSL and rustls
//!   clients list AES-256-GCM-SHA384 first, and SHA-384 has no hardware help on x86 where
//!   SHA-256 has SHA-NI; the TLS 1.3 key schedule hashes a lot. Measured: full TLS 1.3
//!   handshakes +24%, resumed +47%, bulk the same. AES-128-GCM is what Mozilla's
//!   "intermediate" profile and Go list first. The cost: a client without AES hardware that
//!   prefers ChaCha20 still gets AES (rustls has no "client prefers ChaCha" rule); every
//!   x86-64 and ARMv8 CPU of the last decade has AES instructions.

use std::sync::Arc;

use rustls::crypto::ring::cipher_suite as ring;
use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;

/// The provider every configuration of this crate is built on. Every suite is an AEAD with
/// ECDHE (TLS 1.3 suites always are); the order is the server's preference.
pub(crate) fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            ring::TLS13_AES_128_GCM_SHA256,
            ring::TLS13_AES_256_GCM_SHA384,
            ring::TLS13_CHACHA20_POLY1305_SHA256,
            ring::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ring::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ring::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ring::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ring::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

/// Session tickets: RFC 5077's construction, keys rotated every 6 hours (rustls's own).
pub(crate) fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    rustls::crypto::aws_lc_rs::Ticketer::new()
}
