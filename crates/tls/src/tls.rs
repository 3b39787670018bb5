//! `Tls`: the settings, the one `ServerConfig` built from them, and reloading.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::crypto::CryptoProvider;
use rustls::server::ServerSessionMemoryCache;
use rustls::ServerConfig;

use crate::resolve::{ClientVerifier, Resolver};
use crate::selfsigned::{self, SelfSigned};
use crate::settings::Settings;
use crate::table::{Shared, Table};
use crate::{provider, Error};

/// Sessions remembered for TLS 1.2 session-ID resumption (TLS 1.3 and 1.2 tickets need no
/// server memory). About 100 bytes each: 4096 cost under half a megabyte.
const SESSION_CACHE: usize = 4096;

/// Certificates for the TLS listeners: one shared [`ServerConfig`] whose certificates (and
/// client CA) can be reloaded from their files while it serves.
pub struct Tls {
    settings: Settings,
    provider: Arc<CryptoProvider>,
    shared: Arc<Shared>,
    config: Arc<ServerConfig>,
    self_signed: Option<SelfSigned>,
    /// One reload at a time, so a slow older reload cannot overwrite a newer one. Handshakes
    /// never take it.
    reloading: Mutex<()>,
}

impl Tls {
    /// Reads every certificate, key and CA file (and makes the self-signed certificate), and
    /// builds the configuration. Fails on the first file that is missing, malformed, or whose
    /// key does not match its certificate.
    pub fn new(settings: Settings) -> Result<Tls, Error> {
        if settings.default.is_some() && settings.self_signed.is_some() {
            return Err(Error::TwoDefaults);
        }
        let provider = Arc::new(provider::provider());
        let self_signed = match &settings.self_signed {
            Some(names) => Some(selfsigned::make(names, &provider)?),
            None => None,
        };
        let table = Table::load(&settings, self_signed.as_ref().map(|s| &s.key), &provider, None)?;
        let shared = Arc::new(Shared::new(table));
        let config = |source| Error::Config { source };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(settings.min.versions())
            .map_err(config)?;
        let builder = match settings.client_ca {
            Some(_) => builder.with_client_cert_verifier(Arc::new(ClientVerifier(shared.clone()))),
            None => builder.with_no_client_auth(),
        };
        let mut server = builder.with_cert_resolver(Arc::new(Resolver(shared.clone())));
        // Shared by every worker through this one config: a session made on one worker resumes
        // on any other (SO_REUSEPORT spreads a client's connections over them).
        server.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        server.ticketer = provider::ticketer().map_err(config)?;
        // No 0-RTT: early data can be replayed, and nothing here needs the round trip saved.
        server.max_early_data_size = 0;
        // Our suite order, not the client's: AES-128-GCM-SHA256 first (`provider.rs` says why).
        server.ignore_client_order = true;
        server.alpn_protocols = settings.alpn.clone();
        Ok(Tls {
            settings,
            provider,
            shared,
            config: Arc::new(server),
            self_signed,
            reloading: Mutex::new(()),
        })
    }

    /// The configuration every worker shares. It never changes: reloads swap the certificates
    /// under it, so a worker may keep this `Arc` for the life of the process.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// Reads every certificate, key and CA file again. All or nothing: on any error every old
    /// certificate stays. Connections already up keep what they negotiated; handshakes that
    /// start after this returns see the new certificates. Handshakes do not wait for it: the
    /// new table is built first and then swapped in.
    pub fn reload(&self) -> Result<(), Error> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.shared.current();
        let table = Table::load(
            &self.settings,
            self.self_signed.as_ref().map(|s| &s.key),
            &self.provider,
            Some(&current),
        )?;
        self.shared.replace(table);
        Ok(())
    }

    /// With `--self-signed`, the SHA-256 fingerprint of its certificate as
    /// `openssl x509 -noout -fingerprint -sha256` prints it (`AB:CD:...`).
    pub fn self_signed_fingerprint(&self) -> Option<String> {
        self.self_signed.as_ref().map(|s| s.fingerprint.clone())
    }

    /// The settings this was built from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every file a reload reads, each once: certificates, keys, the client CA.
    pub fn files(&self) -> Vec<PathBuf> {
        let s = &self.settings;
        let mut files = Vec::new();
        for f in s.default.iter().chain(s.named.iter().map(|(_, f)| f)) {
            files.push(f.cert.clone());
            files.push(f.key.clone());
        }
        files.extend(s.client_ca.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        files.retain(|f| seen.insert(f.clone()));
        files
    }
}

// Workers on every core share one `Tls` (reload from a signal thread, handshakes anywhere).
const _: fn() = || {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<Tls>();
};

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.shared.current();
        f.debug_struct("Tls")
            .field("default", &self.settings.default)
            .field("names", &table.names())
            .field("self_signed", &self.self_signed_fingerprint())
            .field("min", &self.settings.min)
            .field("client_ca", &self.settings.client_ca)
            .finish_non_exhaustive()
    }
}
