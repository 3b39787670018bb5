//! The certificate table a handshake reads: exact names, `*.` wildcards, the default, and the
//! client CA. Built whole from the files (all-or-nothing) and then swapped in by `Shared`, so a
//! handshake never sees half a reload and never waits for one.
//!
//! Why `RwLock<Arc<Table>>` and not `arc-swap`: a handshake holds the read lock for one hash
//! lookup and an `Arc` clone (tens of nanoseconds beside a handshake's ~150 µs), and the writer
//! holds it for one pointer store, after the new table is built outside the lock. Contention is
//! nil at that ratio, and std needs no extra dependency.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;
use rustls::DistinguishedName;

use crate::load;
use crate::settings::{server_name, Settings};
use crate::Error;

pub(crate) struct Table {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` is stored as `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    pub(crate) client: Option<ClientAuth>,
}

pub(crate) struct ClientAuth {
    pub(crate) verifier: Arc<dyn ClientCertVerifier>,
    /// `ClientCertVerifier::root_hint_subjects` returns a borrow of the verifier, which cannot
    /// outlive a lock guard. So the hints are leaked, once per distinct CA subject list (a
    /// reload with the same CAs reuses the old slice): a few hundred bytes per CA rotation.
    pub(crate) hints: &'static [DistinguishedName],
}

impl Table {
    /// Reads every file the settings name. `self_signed` is the certificate made at start (it
    /// is not remade on reload, so its fingerprint holds); `previous` lends its CA hints.
    pub(crate) fn load(
        settings: &Settings,
        self_signed: Option<&Arc<CertifiedKey>>,
        provider: &Arc<CryptoProvider>,
        previous: Option<&Table>,
    ) -> Result<Table, Error> {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for (name, files) in &settings.named {
            let name = server_name(name)?;
            let key = load::certified_key(files, provider)?;
            let slot = match name.strip_prefix("*.") {
                Some(base) => wildcard.insert(base.to_string(), key),
                None => exact.insert(name.clone(), key),
            };
            if slot.is_some() {
                return Err(Error::DuplicateName { name });
            }
        }
        let default = match (&settings.default, self_signed) {
            (Some(_), Some(_)) => return Err(Error::TwoDefaults),
            (Some(files), None) => Some(load::certified_key(files, provider)?),
            (None, Some(key)) => Some(key.clone()),
            (None, None) => None,
        };
        if default.is_none() && exact.is_empty() && wildcard.is_empty() {
            return Err(Error::NoCertificate);
        }
        let client = match &settings.client_ca {
            None => None,
            Some(path) => {
                let ca = load::client_ca(path, provider)?;
                let old = previous.and_then(|t| t.client.as_ref()).map(|c| c.hints);
                let hints = match old {
                    Some(old) if same_subjects(old, &ca.hints) => old,
                    _ => &*Box::leak(ca.hints.into_boxed_slice()),
                };
                Some(ClientAuth { verifier: ca.verifier, hints })
            }
        };
        Ok(Table { exact, wildcard, default, client })
    }

    /// SNI lookup: the exact name (case-insensitive), then `*.` and the name less its first
    /// label, then the default. `None` means refuse the handshake.
    pub(crate) fn lookup(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(sni) = sni {
            let name: Cow<'_, str> = match sni.bytes().any(|b| b.is_ascii_uppercase()) {
                true => Cow::Owned(sni.to_ascii_lowercase()),
                false => Cow::Borrowed(sni),
            };
            let name = name.strip_suffix('.').unwrap_or(&name);
            if let Some(key) = self.exact.get(name) {
                return Some(key.clone());
            }
            if let Some((_, base)) = name.split_once('.') {
                if let Some(key) = self.wildcard.get(base) {
                    return Some(key.clone());
                }
            }
        }
        self.default.clone()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.exact.keys().cloned().collect();
        names.extend(self.wildcard.keys().map(|base| format!("*.{base}")));
        names.sort();
        names
    }
}

fn same_subjects(a: &[DistinguishedName], b: &[DistinguishedName]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_ref() == y.as_ref())
}

/// The current table, shared by the resolver, the client verifier and `Tls`.
pub(crate) struct Shared {
    table: RwLock<Arc<Table>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("names", &self.current().names()).finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(table: Table) -> Shared {
        Shared { table: RwLock::new(Arc::new(table)) }
    }

    pub(crate) fn current(&self) -> Arc<Table> {
        // Poison cannot leave a half-written table: the only write is one `Arc` store.
        self.table.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn lookup(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        self.table.read().unwrap_or_else(PoisonError::into_inner).lookup(sni)
    }

    pub(crate) fn replace(&self, table: Table) {
        let table = Arc::new(table);
        let old = std::mem::replace(&mut *self.table.write().unwrap_or_else(PoisonError::into_inner), table);
        // The old table (and its keys) is freed here, outside the lock, unless a handshake
        // still holds one of its keys.
        drop(old);
    }
}
