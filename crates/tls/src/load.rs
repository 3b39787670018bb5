//! Files to rustls objects: a PEM chain and key become a `CertifiedKey` (checked to belong
//! together), a PEM CA bundle becomes a client-certificate verifier. Every error names the file.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{DistinguishedName, InconsistentKeys, RootCertStore};

use crate::settings::CertFiles;
use crate::Error;

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

/// Every `CERTIFICATE` section of a PEM file, in order; other sections are skipped.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Pem { path: path.to_path_buf(), source })?;
    if chain.is_empty() {
        return Err(Error::NoCertificateInFile { path: path.to_path_buf() });
    }
    Ok(chain)
}

/// The first private key of a PEM file, whichever of PKCS#8, PKCS#1 and SEC1 it is.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        pem::Error::NoItemsFound => Error::NoKey { path: path.to_path_buf() },
        source => Error::Pem { path: path.to_path_buf(), source },
    })
}

/// Loads a chain and its key, and refuses a key that is not the leaf's: served anyway, such a
/// pair fails every handshake at the client, far from the cause.
pub(crate) fn certified_key(
    files: &CertFiles,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, Error> {
    let chain = certificates(&files.cert)?;
    let key = provider
        .key_provider
        .load_private_key(private_key(&files.key)?)
        .map_err(|source| Error::Key { path: files.key.clone(), source })?;
    let certified = CertifiedKey::new(chain, key);
    match certified.keys_match() {
        // `Unknown`: the key cannot tell its public half; nothing to compare, so trust it.
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(Error::Mismatch { cert: files.cert.clone(), key: files.key.clone() })
        }
        Err(source) => Err(Error::Certificate { path: files.cert.clone(), source }),
    }
}

/// A client CA bundle made into what the handshake needs: the verifier (client certificates
/// are mandatory: rustls's builder default, which we never relax) and the CA subjects sent to
/// clients as hints.
pub(crate) struct ClientCa {
    pub(crate) verifier: Arc<dyn ClientCertVerifier>,
    pub(crate) hints: Vec<DistinguishedName>,
}

pub(crate) fn client_ca(path: &Path, provider: &Arc<CryptoProvider>) -> Result<ClientCa, Error> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots.add(cert).map_err(|source| Error::Certificate { path: path.to_path_buf(), source })?;
    }
    let hints = roots.subjects();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|source| Error::ClientCa { path: path.to_path_buf(), source })?;
    Ok(ClientCa { verifier, hints })
}
