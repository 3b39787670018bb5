//! The names OpenSSL gives the negotiated version and suite, for access logs and CGI
//! (`SSL_PROTOCOL`, `SSL_CIPHER`), so they read as they do under nginx (`$ssl_protocol`,
//! `$ssl_cipher`) and Apache. rustls's own names (`TLSv1_3`, `TLS13_AES_128_GCM_SHA256`) are
//! its enum variants' and match neither.

use rustls::{CipherSuite, ProtocolVersion};

/// `"TLSv1.3"` or `"TLSv1.2"`; `None` for versions this server never negotiates.
pub fn protocol_name(version: ProtocolVersion) -> Option<&'static str> {
    match version {
        ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
        ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
        _ => None,
    }
}

/// OpenSSL's name of a suite this server offers (`"TLS_AES_128_GCM_SHA256"`,
/// `"ECDHE-ECDSA-AES128-GCM-SHA256"`); `None` for any other.
pub fn cipher_name(suite: CipherSuite) -> Option<&'static str> {
    Some(match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => return None,
    })
}

// The suites offered are the provider's (the `config` feature).
#[cfg(all(test, feature = "config"))]
mod tests {
    use super::*;

    #[test]
    fn every_offered_suite_has_an_openssl_name() {
        for suite in crate::provider::provider().cipher_suites {
            assert!(cipher_name(suite.suite()).is_some(), "{:?}", suite.suite());
        }
        assert_eq!(protocol_name(ProtocolVersion::TLSv1_3), Some("TLSv1.3"));
        assert_eq!(protocol_name(ProtocolVersion::TLSv1_1), None);
    }
}
