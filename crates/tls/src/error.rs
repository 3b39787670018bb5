//! The one error type of the crate: each variant names the file or setting and what is wrong,
//! in one line; the underlying cause (an `io::Error`, a rustls or PEM error) is the `source`,
//! never repeated in the message, because the binary prints the chain joined by ": ".

use std::io;
use std::path::PathBuf;

/// Why certificate settings could not become a TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate, key or CA file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The `--self-signed` certificate could not be written for other processes.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{}: malformed PEM", path.display())]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A certificate (or CA) file holds no `CERTIFICATE` section.
    #[error("{}: no certificate found", path.display())]
    NoCertificateInFile { path: PathBuf },
    /// A key file holds no PKCS#8, PKCS#1 or SEC1 private key.
    #[error("{}: no private key found", path.display())]
    NoKey { path: PathBuf },
    /// The crypto provider cannot use the private key (an unsupported algorithm or curve).
    #[error("{}: unusable private key", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// A certificate that cannot be parsed or used (in a chain or a CA bundle).
    #[error("{}: unusable certificate", path.display())]
    Certificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// The private key is not the key of the first certificate of the chain.
    #[error("{} does not match the certificate in {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    /// The client CA bundle cannot make a certificate verifier.
    #[error("{}: unusable client CA bundle", path.display())]
    ClientCa {
        path: PathBuf,
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// Nothing to serve.
    #[error("no certificate: give --cert and --key, --tls NAME=CERT,KEY or --self-signed")]
    NoCertificate,
    /// `--cert` and `--self-signed` both claim the default certificate.
    #[error("--cert and --self-signed both give the default certificate: choose one")]
    TwoDefaults,
    /// A `--tls` value that is not `NAME=CERT,KEY`.
    #[error("{spec:?}: expected NAME=CERT,KEY")]
    NamedSpec { spec: String },
    /// A server name that SNI can never carry.
    #[error("{name:?} is not a server name (a DNS name, or *.NAME for any one label)")]
    ServerName { name: String },
    /// The same server name given two certificates.
    #[error("{name} is given two certificates")]
    DuplicateName { name: String },
    /// `--tls-min` that is not a version we speak.
    #[error("{given:?}: expected 1.2 or 1.3")]
    Version { given: String },
    /// rcgen could not make the self-signed certificate (for example a bad name).
    #[error("cannot make a self-signed certificate")]
    SelfSigned {
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused the configuration itself (no usable suite, no randomness for tickets).
    #[error("cannot build the TLS configuration")]
    Config {
        #[source]
        source: rustls::Error,
    },
}
