//! `--self-signed`: an ECDSA P-256 certificate made at start for `localhost`, `127.0.0.1`,
//! `::1` and the names given, and its SHA-256 fingerprint for the user to compare with what a
//! browser shows. Made once per process: a reload keeps it, so the fingerprint printed at
//! start stays true.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::{CertFiles, Error};

pub(crate) struct SelfSigned {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) fingerprint: String,
}

pub(crate) fn make(extra: &[String], provider: &CryptoProvider) -> Result<SelfSigned, Error> {
    let (cert, pair) = generate(extra)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der()));
    let signing = provider.key_provider.load_private_key(der).map_err(|source| Error::Config { source })?;
    Ok(SelfSigned {
        fingerprint: fingerprint(cert.der()),
        key: Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing)),
    })
}

/// Makes the `--self-signed` certificate for `extra` names and writes it to `dir` as
/// `cert.pem` and `key.pem` (the key readable by its owner only), for processes that must
/// all present the same one (a supervisor's children). Returns the files and the
/// certificate's SHA-256 fingerprint.
pub fn write_self_signed(extra: &[String], dir: &Path) -> Result<(CertFiles, String), Error> {
    let (cert, pair) = generate(extra)?;
    let files = CertFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    let write = |path: &Path, text: String| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| Error::Write { path: path.to_path_buf(), source })?;
        f.write_all(text.as_bytes()).map_err(|source| Error::Write { path: path.to_path_buf(), source })
    };
    write(&files.key, pair.serialize_pem())?;
    write(&files.cert, cert.pem())?;
    Ok((files, fingerprint(cert.der())))
}

fn generate(extra: &[String]) -> Result<(rcgen::Certificate, KeyPair), Error> {
    let selfsigned = |source| Error::SelfSigned { source };
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    for name in extra {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.clone());
        }
    }
    let mut params = CertificateParams::new(names).map_err(selfsigned)?;
    params.distinguished_name.push(DnType::CommonName, "pollux self-signed");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(selfsigned)?;
    let cert = params.self_signed(&pair).map_err(selfsigned)?;
    Ok((cert, pair))
}

/// SHA-256 of the DER as `openssl x509 -fingerprint -sha256` prints it: `AB:CD:...`.
pub(crate) fn fingerprint(der: &CertificateDer<'_>) -> String {
    let mut out = String::with_capacity(95);
    for (i, b) in Sha256::digest(der.as_ref()).iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}
