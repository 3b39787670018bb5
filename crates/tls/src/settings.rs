//! What the command line says about certificates, before any file is read: the settings
//! types, `--tls NAME=CERT,KEY` and `--tls-min` parsing, and the server-name rules SNI lookup
//! relies on (names are stored lowercase; a wildcard is `*.` and one whole label).

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use rustls::pki_types::DnsName;

use crate::Error;

/// The lowest TLS version offered. TLS 1.0 and 1.1 are never spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (the default, as nginx and Caddy have it).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl FromStr for MinVersion {
    type Err = Error;

    /// `"1.2"` or `"1.3"`, as `--tls-min` takes them.
    fn from_str(s: &str) -> Result<MinVersion, Error> {
        match s {
            "1.2" => Ok(MinVersion::Tls12),
            "1.3" => Ok(MinVersion::Tls13),
            _ => Err(Error::Version { given: s.to_string() }),
        }
    }
}

impl MinVersion {
    pub(crate) fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static BOTH: [&rustls::SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static ONLY_13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            MinVersion::Tls12 => &BOTH,
            MinVersion::Tls13 => &ONLY_13,
        }
    }
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// The chain, leaf first (`CERTIFICATE` sections).
    pub cert: PathBuf,
    /// The leaf's private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the first key in the file.
    pub key: PathBuf,
}

/// Everything the TLS listeners need to know about certificates.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--cert` / `--key`: served for unknown names and clients that send no SNI.
    pub default: Option<CertFiles>,
    /// `--tls NAME=CERT,KEY`, repeatable. NAME is a DNS name or `*.example.com`, which covers
    /// exactly one more label (`a.example.com`, not `example.com` nor `a.b.example.com`).
    pub named: Vec<(String, CertFiles)>,
    /// `--self-signed[=NAME,...]`: an ECDSA P-256 certificate made at start for `localhost`,
    /// `127.0.0.1`, `::1` and these names; it is the default certificate.
    pub self_signed: Option<Vec<String>>,
    /// `--tls-min`.
    pub min: MinVersion,
    /// `--client-ca`: when given, every client must present a certificate that chains to one
    /// of these CAs. Never optional: a client without one is refused in the handshake.
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols in preference order, for example `vec![b"http/1.1".to_vec()]`.
    pub alpn: Vec<Vec<u8>>,
}

impl Settings {
    /// Parses one `--tls` value, `NAME=CERT,KEY`. The name is checked and lowercased here, so
    /// a bad one is reported with the flag that gave it.
    pub fn parse_named(spec: &str) -> Result<(String, CertFiles), Error> {
        let bad = || Error::NamedSpec { spec: spec.to_string() };
        let (name, files) = spec.split_once('=').ok_or_else(bad)?;
        let (cert, key) = files.split_once(',').ok_or_else(bad)?;
        if name.is_empty() || cert.is_empty() || key.is_empty() {
            return Err(bad());
        }
        let name = server_name(name)?;
        Ok((name, CertFiles { cert: cert.into(), key: key.into() }))
    }
}

/// Checks a name SNI can carry and returns it lowercase: a DNS name, or `*.` followed by one.
/// IP addresses are refused because RFC 6066 §3 forbids them in SNI: such a client gets the
/// default certificate.
pub(crate) fn server_name(name: &str) -> Result<String, Error> {
    let bad = || Error::ServerName { name: name.to_string() };
    let lower = name.to_ascii_lowercase();
    let base = lower.strip_prefix("*.").unwrap_or(&lower);
    if base.contains('*') || base.parse::<IpAddr>().is_ok() || DnsName::try_from(base).is_err() {
        return Err(bad());
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_spec_parses_and_lowercases() {
        let (name, files) = Settings::parse_named("WWW.Example.com=a.pem,b.pem").expect("parses");
        assert_eq!(name, "www.example.com");
        assert_eq!(files.cert, PathBuf::from("a.pem"));
        assert_eq!(files.key, PathBuf::from("b.pem"));
        let (name, _) = Settings::parse_named("*.example.com=a,b").expect("wildcard");
        assert_eq!(name, "*.example.com");
    }

    #[test]
    fn named_spec_refuses_what_sni_cannot_carry() {
        for spec in [
            "example.com",
            "example.com=a.pem",
            "=a,b",
            "x=,b",
            "x=a,",
            "a.*.com=a,b",
            "*=a,b",
            "**.x=a,b",
            "127.0.0.1=a,b",
            "bad name=a,b",
        ] {
            assert!(Settings::parse_named(spec).is_err(), "{spec} was accepted");
        }
    }

    #[test]
    fn min_version_from_str() {
        assert_eq!("1.2".parse::<MinVersion>().ok(), Some(MinVersion::Tls12));
        assert_eq!("1.3".parse::<MinVersion>().ok(), Some(MinVersion::Tls13));
        let err = "1.1".parse::<MinVersion>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("\"1.1\": expected 1.2 or 1.3"));
    }
}
