//! Real certificate files (made by rcgen in a temporary directory) and real rustls handshakes,
//! in memory: a `ServerConnection` from `Tls::config()` and a `ClientConnection` pump bytes
//! through a `Vec`. No stubs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use pollux_tls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use pollux_tls::rustls::crypto::{aws_lc_rs, verify_tls12_signature, verify_tls13_signature};
use pollux_tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use pollux_tls::rustls::{
    self, AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind,
    RootCertStore, ServerConfig, ServerConnection, SignatureScheme, SupportedProtocolVersion,
};
use pollux_tls::{subject_dn, CertFiles, CertificateDer, Error, MinVersion, Settings, Tls};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

// ---- files --------------------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pollux-tls-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Dir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA that signs leaf certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Result<Ca> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca { der: cert.der().clone(), pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// A server certificate for `names` as (cert PEM, key PEM, leaf DER).
    fn server(&self, names: &[&str]) -> Result<Leaf> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        params.distinguished_name.push(DnType::CommonName, &names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.leaf(params)
    }

    fn client(&self, params: CertificateParams) -> Result<Leaf> {
        let mut params = params;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.leaf(params)
    }

    fn leaf(&self, params: CertificateParams) -> Result<Leaf> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            der: cert.der().clone(),
            cert_pem: cert.pem() + &self.pem,
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }
}

struct Leaf {
    der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
    key_der: Vec<u8>,
}

impl Leaf {
    /// Writes `NAME.crt` and `NAME.key` into `dir`.
    fn write(&self, dir: &Dir, name: &str) -> Result<CertFiles> {
        let files =
            CertFiles { cert: dir.path(&format!("{name}.crt")), key: dir.path(&format!("{name}.key")) };
        std::fs::write(&files.cert, &self.cert_pem)?;
        std::fs::write(&files.key, &self.key_pem)?;
        Ok(files)
    }
}

fn settings() -> Settings {
    Settings { alpn: vec![b"http/1.1".to_vec()], ..Settings::default() }
}

// ---- clients and the handshake ------------------------------------------------------------

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// A client that accepts any server certificate, so a test can look at which one it got.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn any_server_client(versions: &[&'static SupportedProtocolVersion]) -> Result<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client that verifies the server against `ca`, optionally presenting `cert`.
fn verifying_client(ca: &CertificateDer<'static>, cert: Option<&Leaf>) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match cert {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder.with_client_auth_cert(
            vec![leaf.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone())),
        )?,
    })
}

/// How a handshake ended.
struct Outcome {
    server: ServerConnection,
    client: ClientConnection,
    /// The first error either side hit (the server's first), if any.
    error: Option<rustls::Error>,
}

impl Outcome {
    fn ok(self) -> Result<Outcome> {
        match self.error {
            None => Ok(self),
            Some(e) => Err(format!("handshake failed: {e}").into()),
        }
    }
    /// The leaf certificate the client got.
    fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.client.peer_certificates().and_then(|c| c.first())
    }
}

/// Runs a handshake to its end (and past it, so the client gets its tickets).
fn handshake(config: Arc<ServerConfig>, client: ClientConfig, sni: &str) -> Result<Outcome> {
    handshake_with(config, Arc::new(client), sni)
}

fn handshake_with(config: Arc<ServerConfig>, client: Arc<ClientConfig>, sni: &str) -> Result<Outcome> {
    let mut server = ServerConnection::new(config)?;
    let mut client = ClientConnection::new(client, ServerName::try_from(sni.to_string())?)?;
    let mut error = None;
    let mut buf = Vec::new();
    for _ in 0..32 {
        let mut moved = false;
        while client.wants_write() {
            client.write_tls(&mut buf)?;
        }
        moved |= !buf.is_empty();
        let mut rd = &buf[..];
        while !rd.is_empty() && error.is_none() {
            server.read_tls(&mut rd)?;
            if let Err(e) = server.process_new_packets() {
                error = Some(e);
            }
        }
        buf.clear();
        while server.wants_write() {
            server.write_tls(&mut buf)?;
        }
        moved |= !buf.is_empty();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd)?;
            if let Err(e) = client.process_new_packets() {
                error.get_or_insert(e);
                break;
            }
        }
        buf.clear();
        if !moved || error.is_some() {
            break;
        }
    }
    if error.is_none() && (server.is_handshaking() || client.is_handshaking()) {
        error = Some(rustls::Error::General("handshake did not finish".into()));
    }
    Ok(Outcome { server, client, error })
}

// ---- a small PKI for one test -------------------------------------------------------------

struct Pki {
    dir: Dir,
    ca: Ca,
    a: Leaf,
    b: Leaf,
    default: Leaf,
}

impl Pki {
    fn new() -> Result<Pki> {
        let ca = Ca::new("pollux test CA")?;
        Ok(Pki {
            dir: Dir::new(),
            a: ca.server(&["a.test"])?,
            b: ca.server(&["b.test"])?,
            default: ca.server(&["default.test"])?,
            ca,
        })
    }
}

// ---- SNI ----------------------------------------------------------------------------------

#[test]
fn sni_gives_each_name_its_certificate_and_unknown_names_the_default() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    s.named =
        vec![("a.test".into(), pki.a.write(&pki.dir, "a")?), ("B.Test".into(), pki.b.write(&pki.dir, "b")?)];
    let tls = Tls::new(s)?;
    let client = || any_server_client(rustls::ALL_VERSIONS);
    for (sni, want) in
        [("a.test", &pki.a), ("A.TEST", &pki.a), ("b.test", &pki.b), ("unknown.test", &pki.default)]
    {
        let got = handshake(tls.config(), client()?, sni)?.ok()?;
        assert_eq!(got.leaf(), Some(&want.der), "SNI {sni}");
        assert_eq!(got.client.alpn_protocol(), Some(&b"http/1.1"[..]));
    }
    // No SNI at all (a client connecting by IP address): the default.
    let mut no_sni = client()?;
    no_sni.enable_sni = false;
    let got = handshake(tls.config(), no_sni, "a.test")?.ok()?;
    assert_eq!(got.leaf(), Some(&pki.default.der));
    // Through the verifying client too: the chain is complete and valid for its name.
    handshake(tls.config(), verifying_client(&pki.ca.der, None)?, "b.test")?.ok()?;
    Ok(())
}

#[test]
fn wildcard_covers_one_label_below_exact_names() -> Result {
    let pki = Pki::new()?;
    let wild = pki.ca.server(&["*.wild.test"])?;
    let exact = pki.ca.server(&["www.wild.test"])?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    s.named = vec![
        Settings::parse_named(&format!(
            "*.wild.test={},{}",
            wild.write(&pki.dir, "wild")?.cert.display(),
            pki.dir.path("wild.key").display()
        ))?,
        ("www.wild.test".into(), exact.write(&pki.dir, "www")?),
    ];
    let tls = Tls::new(s)?;
    for (sni, want) in [
        ("x.wild.test", &wild),
        ("www.wild.test", &exact),
        ("wild.test", &pki.default),
        ("a.b.wild.test", &pki.default),
    ] {
        let got = handshake(tls.config(), any_server_client(rustls::ALL_VERSIONS)?, sni)?;
        assert_eq!(got.ok()?.leaf(), Some(&want.der), "SNI {sni}");
    }
    Ok(())
}

#[test]
fn without_a_default_an_unknown_name_is_refused_with_access_denied() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.named = vec![("a.test".into(), pki.a.write(&pki.dir, "a")?)];
    let tls = Tls::new(s)?;
    handshake(tls.config(), any_server_client(rustls::ALL_VERSIONS)?, "a.test")?.ok()?;
    let refused = handshake(tls.config(), any_server_client(rustls::ALL_VERSIONS)?, "x.test")?;
    assert!(refused.error.is_some(), "unknown name was served");
    // What the client sees: the alert the crate docs name.
    let mut client = refused.client;
    let mut server = refused.server;
    let mut buf = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut buf)?;
    }
    client.read_tls(&mut &buf[..])?;
    assert_eq!(
        client.process_new_packets().err(),
        Some(rustls::Error::AlertReceived(AlertDescription::AccessDenied))
    );
    Ok(())
}

// ---- protocol -----------------------------------------------------------------------------

#[test]
fn tls13_minimum_refuses_a_tls12_only_client() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    let tls12 = Tls::new(s.clone())?;
    let got = handshake(tls12.config(), any_server_client(&[&rustls::version::TLS12])?, "x")?.ok()?;
    assert_eq!(got.server.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    s.min = MinVersion::Tls13;
    let tls13 = Tls::new(s)?;
    let got = handshake(tls13.config(), any_server_client(&[&rustls::version::TLS12])?, "x")?;
    assert!(got.error.is_some(), "a TLS 1.2 client got through");
    handshake(tls13.config(), any_server_client(rustls::ALL_VERSIONS)?, "x")?.ok()?;
    Ok(())
}

#[test]
fn every_suite_is_aead_with_ecdhe_and_there_is_no_early_data() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    let config = Tls::new(s)?.config();
    assert_eq!(config.max_early_data_size, 0);
    let suites = &config.crypto_provider().cipher_suites;
    assert!(!suites.is_empty());
    for suite in suites {
        let name = suite.suite().as_str().unwrap_or("?");
        let aead = name.contains("_GCM_") || name.contains("_CHACHA20_POLY1305_");
        assert!(aead, "{name} is not AEAD");
        match suite {
            // Every TLS 1.3 suite is (EC)DHE: the key exchange is not part of the suite.
            rustls::SupportedCipherSuite::Tls13(_) => {}
            rustls::SupportedCipherSuite::Tls12(s) => {
                assert_eq!(s.kx, rustls::crypto::KeyExchangeAlgorithm::ECDHE, "{name}");
            }
        }
    }
    Ok(())
}

#[test]
fn the_servers_suite_order_wins_aes_128_gcm_first() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    let tls = Tls::new(s)?;
    // rustls clients, like OpenSSL's, list AES-256-GCM first.
    for (versions, want) in [
        (&[&rustls::version::TLS13][..], "TLS13_AES_128_GCM_SHA256"),
        (&[&rustls::version::TLS12][..], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    ] {
        let got = handshake(tls.config(), any_server_client(versions)?, "x")?.ok()?;
        let suite = got.server.negotiated_cipher_suite().ok_or("no suite")?;
        assert_eq!(suite.suite().as_str(), Some(want));
    }
    Ok(())
}

// ---- loading and reloading ----------------------------------------------------------------

#[test]
fn a_key_that_is_not_the_certificates_is_refused_at_load() -> Result {
    let pki = Pki::new()?;
    let a = pki.a.write(&pki.dir, "a")?;
    let b = pki.b.write(&pki.dir, "b")?;
    let mut s = settings();
    s.default = Some(CertFiles { cert: a.cert.clone(), key: b.key.clone() });
    let err = Tls::new(s).err().ok_or("mismatch accepted")?;
    assert!(matches!(err, Error::Mismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{} does not match the certificate in {}", b.key.display(), a.cert.display())
    );
    Ok(())
}

#[test]
fn load_errors_name_the_file() -> Result {
    let pki = Pki::new()?;
    let a = pki.a.write(&pki.dir, "a")?;
    let missing = pki.dir.path("missing.pem");
    let mut s = settings();
    s.default = Some(CertFiles { cert: missing.clone(), key: a.key.clone() });
    let err = Tls::new(s.clone()).err().ok_or("missing file accepted")?;
    assert_eq!(err.to_string(), format!("cannot read {}", missing.display()));
    assert!(std::error::Error::source(&err).is_some());
    s.default = Some(CertFiles { cert: a.cert.clone(), key: a.cert.clone() });
    let err = Tls::new(s).err().ok_or("certificate as key accepted")?;
    assert_eq!(err.to_string(), format!("{}: no private key found", a.cert.display()));
    let err = Tls::new(settings()).err().ok_or("nothing accepted")?;
    assert!(matches!(err, Error::NoCertificate), "{err:?}");
    Ok(())
}

#[test]
fn reload_serves_replaced_files_and_keeps_the_old_on_a_broken_key() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    s.named = vec![("a.test".into(), pki.a.write(&pki.dir, "a")?)];
    let tls = Tls::new(s)?;
    let config = tls.config();
    // Up before the reload: it must stay usable after it.
    let mut before = handshake(config.clone(), any_server_client(rustls::ALL_VERSIONS)?, "a.test")?.ok()?;

    let renewed = pki.ca.server(&["a.test"])?;
    renewed.write(&pki.dir, "a")?;
    tls.reload()?;
    let got = handshake(config.clone(), any_server_client(rustls::ALL_VERSIONS)?, "a.test")?.ok()?;
    assert_eq!(got.leaf(), Some(&renewed.der));
    // The connection made before the reload still carries data.
    std::io::Write::write_all(&mut before.server.writer(), b"still here")?;
    let mut wire = Vec::new();
    before.server.write_tls(&mut wire)?;
    before.client.read_tls(&mut &wire[..])?;
    before.client.process_new_packets()?;
    let mut read = [0u8; 10];
    std::io::Read::read_exact(&mut before.client.reader(), &mut read)?;
    assert_eq!(&read, b"still here");

    // A broken key: the reload fails, naming the file, and the renewed certificate stays.
    let key = pki.dir.path("a.key");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n")?;
    let err = tls.reload().err().ok_or("broken key accepted")?;
    assert!(err.to_string().starts_with(&key.display().to_string()), "{err}");
    let got = handshake(config.clone(), any_server_client(rustls::ALL_VERSIONS)?, "a.test")?.ok()?;
    assert_eq!(got.leaf(), Some(&renewed.der));
    // Every old certificate, not just that one: the default is unchanged too.
    let got = handshake(config, any_server_client(rustls::ALL_VERSIONS)?, "other.test")?.ok()?;
    assert_eq!(got.leaf(), Some(&pki.default.der));
    Ok(())
}

#[test]
fn watch_reloads_a_changed_file_and_reports_each_change_once() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    let tls = Arc::new(Tls::new(s)?);
    let (tx, rx) = mpsc::channel();
    let watcher = tls.clone().watch(Duration::from_millis(20), move |r| {
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    assert_eq!(watcher.thread().name(), Some("tls-watch"));

    let renewed = pki.ca.server(&["default.test"])?;
    renewed.write(&pki.dir, "default")?;
    // Cert and key are separate writes: a poll between them reloads the new cert with the old
    // key and reports the mismatch. The last report of the burst is the one that counts.
    let mut last = rx.recv_timeout(Duration::from_secs(5))?;
    while let Ok(r) = rx.recv_timeout(Duration::from_millis(200)) {
        last = r;
    }
    last.map_err(|e| format!("reload after renewal: {e}"))?;
    let got = handshake(tls.config(), any_server_client(rustls::ALL_VERSIONS)?, "x")?.ok()?;
    assert_eq!(got.leaf(), Some(&renewed.der));

    // One change, made atomically as deploy tools do, so exactly one report is due.
    std::fs::write(pki.dir.path("new.key"), "garbage")?;
    std::fs::rename(pki.dir.path("new.key"), pki.dir.path("default.key"))?;
    let broken = rx.recv_timeout(Duration::from_secs(5))?;
    assert!(broken.is_err(), "a broken key reloaded");
    // Still broken, still unchanged: no more reports.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "reported twice");
    let got = handshake(tls.config(), any_server_client(rustls::ALL_VERSIONS)?, "x")?.ok()?;
    assert_eq!(got.leaf(), Some(&renewed.der));

    // The thread ends once the Tls is dropped.
    drop(tls);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !watcher.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(watcher.is_finished(), "watcher outlived its Tls");
    Ok(())
}

// ---- resumption ---------------------------------------------------------------------------

#[test]
fn sessions_resume_across_connections_of_one_config() -> Result {
    let pki = Pki::new()?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    let tls = Tls::new(s)?;
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12][..]] {
        let client = Arc::new(any_server_client(versions)?);
        // Two ServerConnections from config(), as two workers would make them.
        let first = handshake_with(tls.config(), client.clone(), "x")?.ok()?;
        assert_eq!(first.client.handshake_kind(), Some(HandshakeKind::Full));
        let second = handshake_with(tls.config(), client, "x")?.ok()?;
        assert_eq!(second.client.handshake_kind(), Some(HandshakeKind::Resumed), "{versions:?}");
    }
    Ok(())
}

// ---- client certificates ------------------------------------------------------------------

/// Parameters with an empty subject (rcgen's default has a CN).
fn subject() -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    Ok(params)
}

fn alice() -> Result<CertificateParams> {
    let mut params = subject()?;
    params.distinguished_name.push(DnType::OrganizationName, "Example");
    params.distinguished_name.push(DnType::CommonName, "alice");
    Ok(params)
}

#[test]
fn client_ca_requires_a_certificate_from_that_ca() -> Result {
    let pki = Pki::new()?;
    let ca_file = pki.dir.path("clients-ca.pem");
    std::fs::write(&ca_file, &pki.ca.pem)?;
    let mut s = settings();
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    s.client_ca = Some(ca_file);
    let tls = Tls::new(s)?;

    let none = handshake(tls.config(), verifying_client(&pki.ca.der, None)?, "default.test")?;
    assert!(
        matches!(none.error, Some(rustls::Error::NoCertificatesPresented)),
        "a client without a certificate: {:?}",
        none.error
    );

    let alice = pki.ca.client(alice()?)?;
    let got = handshake(tls.config(), verifying_client(&pki.ca.der, Some(&alice))?, "default.test")?.ok()?;
    let peer = got.server.peer_certificates().and_then(|c| c.first()).ok_or("no peer")?;
    assert_eq!(subject_dn(peer).as_deref(), Some("CN=alice,O=Example"));

    let other = Ca::new("another CA")?.client(self::alice()?)?;
    let got = handshake(tls.config(), verifying_client(&pki.ca.der, Some(&other))?, "default.test")?;
    assert!(got.error.is_some(), "a certificate from another CA got in");
    Ok(())
}

/// Runs `openssl` on `file`. Not finding it fails the test (never a silent pass): it is part of
/// the Debian image every machine of this project has.
fn openssl(args: &[&str], file: &Path) -> Result<String> {
    let out = Command::new("openssl")
        .args(args)
        .arg("-in")
        .arg(file)
        .output()
        .map_err(|e| format!("this test needs openssl: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    // Only the newline: a DN may end in an escaped space.
    Ok(String::from_utf8(out.stdout)?.trim_end_matches('\n').to_string())
}

#[test]
fn subject_dn_is_what_openssl_prints_in_rfc2253_mode() -> Result {
    let dir = Dir::new();
    let ca = Ca::new("pollux test CA")?;
    let mut params = subject()?;
    let dn = &mut params.distinguished_name;
    dn.push(DnType::CountryName, "DE");
    dn.push(DnType::OrganizationName, "#1 Example, Inc.");
    dn.push(DnType::OrganizationalUnitName, "R+D <lab>; \"x\"");
    dn.push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), "alice@example.com");
    dn.push(DnType::CustomDnType(vec![1, 2, 3, 4]), "private");
    dn.push(DnType::CommonName, " #Ren\u{e9} \\ back ");
    let leaf = ca.client(params)?;
    let file = dir.path("subject.der");
    std::fs::write(&file, leaf.der.as_ref())?;
    let ours = subject_dn(&leaf.der).ok_or("unparsed")?;
    // Pinned as well as compared, so a change in either shows.
    let want = [
        r"CN=\ #Ren\C3\A9 \\ back\ ",
        r"1.2.3.4=#0C0770726976617465",
        r"emailAddress=alice@example.com",
        r#"OU=R\+D \<lab\>\; \"x\""#,
        r"O=\#1 Example\, Inc.",
        r"C=DE",
    ];
    assert_eq!(ours, want.join(","));
    let theirs = openssl(&["x509", "-inform", "DER", "-noout", "-subject", "-nameopt", "RFC2253"], &file)?;
    assert_eq!(Some(ours.as_str()), theirs.strip_prefix("subject="));
    Ok(())
}

// ---- self-signed --------------------------------------------------------------------------

#[test]
fn self_signed_serves_localhost_and_its_fingerprint_is_openssls() -> Result {
    let dir = Dir::new();
    let mut s = settings();
    s.self_signed = Some(vec!["dev.test".into()]);
    let tls = Tls::new(s)?;
    let fingerprint = tls.self_signed_fingerprint().ok_or("no fingerprint")?;
    let got = handshake(tls.config(), any_server_client(rustls::ALL_VERSIONS)?, "x")?.ok()?;
    let der = got.leaf().ok_or("no certificate")?.clone();
    // It is valid for localhost, 127.0.0.1, ::1 and the name given.
    for name in ["localhost", "127.0.0.1", "::1", "dev.test"] {
        handshake(tls.config(), verifying_client(&der, None)?, name)?.ok()?;
    }
    let file = dir.path("self.der");
    std::fs::write(&file, der.as_ref())?;
    let out = openssl(&["x509", "-inform", "DER", "-noout", "-fingerprint", "-sha256"], &file)?;
    let theirs = out.split_once('=').ok_or("no '=' in openssl output")?.1;
    assert_eq!(fingerprint, theirs);
    // --cert and --self-signed together are refused: two defaults.
    let pki = Pki::new()?;
    let mut s = settings();
    s.self_signed = Some(vec![]);
    s.default = Some(pki.default.write(&pki.dir, "default")?);
    assert!(matches!(Tls::new(s), Err(Error::TwoDefaults)));
    Ok(())
}
