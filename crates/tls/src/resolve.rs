//! The two hooks rustls calls during a handshake, both reading the current table: the
//! certificate resolver (SNI) and the client-certificate verifier (mTLS). They live in the one
//! `ServerConfig`; a reload swaps the table under them, so the config itself never changes.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::table::{ClientAuth, Shared};

/// SNI: exact name, then wildcard, then the default. Returning `None` makes rustls abort the
/// handshake with a fatal `access_denied` alert (49).
#[derive(Debug)]
pub(crate) struct Resolver(pub(crate) Arc<Shared>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.lookup(hello.server_name())
    }
}

/// Client certificates against the current CA bundle. Mandatory: a client that sends none is
/// refused: rustls sends a fatal `certificate_required` alert (116), in TLS 1.2 as in 1.3.
#[derive(Debug)]
pub(crate) struct ClientVerifier(pub(crate) Arc<Shared>);

impl ClientVerifier {
    fn with<T>(&self, f: impl FnOnce(&ClientAuth) -> Result<T, rustls::Error>) -> Result<T, rustls::Error> {
        match &self.0.current().client {
            Some(auth) => f(auth),
            // Not reachable: the verifier is installed only with a CA, and every table built
            // from those settings has one. Refusing is the safe answer all the same.
            None => Err(rustls::Error::General("no client CA loaded".into())),
        }
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.current().client.as_ref().map_or(&[], |c| c.hints)
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.with(|c| c.verifier.verify_client_cert(end_entity, intermediates, now))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.with(|c| c.verifier.verify_tls12_signature(message, cert, dss))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.with(|c| c.verifier.verify_tls13_signature(message, cert, dss))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.with(|c| Ok(c.verifier.supported_verify_schemes())).unwrap_or_default()
    }
}
