//! The static files' content codings: [`Compression`] (`--compress`), which picks the encoded
//! representation of a file for a request — a precompressed sidecar (sent with `sendfile`) or
//! the file compressed on the fly and kept in a bounded per-worker cache.
//!
//! The cache is per worker thread (`thread_local!`): workers share nothing and take no locks.
//! Each worker compresses a file at most once per coding and version; entries are keyed by
//! (device, inode, length, mtime) so a changed file is a new key and the stale entry ages out.
//! Ranges are never compressed: the caller only asks for full responses (a range of an
//! encoded representation would be a range of the compressed bytes, RFC 9110 §14.1.1).

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use pollux_server::Body;

use super::sidecar::{self, Sidecar};
use super::store::Store;
use super::{compress_smaller, Accept, Coding, Encoded, Offer};
use crate::cache::{FileFacts, Opened};

/// The smallest file compressed on the fly ([`super::MIN_LEN`]).
pub(crate) const MIN_LEN: u64 = super::MIN_LEN as u64;
/// Above this, files are not compressed on the fly: compression runs on the worker thread,
/// and at ~20 MB/s (brotli 5, gzip 6; see `codec.rs`) 2 MiB already stalls that worker's
/// other connections for ~100 ms, once per file and coding. Ship sidecars for larger files.
pub(crate) const MAX_LEN: u64 = 2 * 1024 * 1024;
/// Bound on what one worker's cache holds (compressed bytes plus per-entry overhead).
pub(crate) const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How long a sidecar probe is trusted. Probes are keyed by the original's version, so a
/// rebuilt original is seen at once; this bounds how long a sidecar added or removed beside an
/// unchanged original goes unnoticed.
const PROBE_TTL: Duration = Duration::from_secs(2);
/// What an entry costs besides its bytes (key, slot, map entry, tag), so that many small
/// entries (probes, "not smaller" marks) count against the bound too.
const ENTRY_OVERHEAD: usize = 256;

/// Compression settings; the compressed results live in a per-worker cache.
#[derive(Debug, Clone)]
pub struct Compression {
    enabled: bool,
    min_len: u64,
    max_len: u64,
    cache_bytes: usize,
}

impl Default for Compression {
    fn default() -> Compression {
        Compression::new(true)
    }
}

impl Compression {
    /// `enabled: false` is `--compress off`: identity only, sidecars ignored.
    pub fn new(enabled: bool) -> Compression {
        Compression { enabled, min_len: MIN_LEN, max_len: MAX_LEN, cache_bytes: CACHE_BYTES }
    }

    /// Overrides the on-the-fly size window (`min_len..=max_len` bytes) and the per-worker
    /// cache bound in bytes.
    pub fn with_limits(self, min_len: u64, max_len: u64, cache_bytes: usize) -> Compression {
        Compression { min_len, max_len, cache_bytes, ..self }
    }

    /// Whether any coding can be sent.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether responses for this content type vary by `Accept-Encoding` (so `Vary` must be
    /// sent even when identity is chosen).
    ///
    /// True for every compressible type, whatever the size: whether a coding is actually
    /// available (size window, sidecars) is not known without more work, and an extra `Vary`
    /// costs a cache little while a missing one serves br to a client that cannot read it.
    #[cfg(test)]
    pub(crate) fn varies(&self, content_type: &HeaderValue) -> bool {
        self.enabled && super::compressible(content_type)
    }

    /// [`Compression::varies`] for a file whose type's compressibility the cache knows.
    pub(crate) fn varies_for(&self, file: &Opened) -> bool {
        self.enabled && file.compressible
    }

    /// The encoded representation to send for a full (non-range) GET/HEAD of `file`, or `None`
    /// for identity. `now` is the serving clock's reading (`ServeDir::clock`), which sidecar
    /// probes are aged on.
    pub(crate) fn select(&self, req: &HeaderMap, file: &Opened, now: Duration) -> Option<Encoded> {
        if !self.varies_for(file) || file.facts.is_dir {
            return None;
        }
        let accept = Accept::from_headers(req);
        if !accept.any() {
            return None;
        }
        let version = Version::of(&file.facts);
        let sidecars = self.sidecars(file, version, now);
        let fly = (self.min_len..=self.max_len).contains(&file.facts.len);
        let mut offer = Coding::ALL.map(|c| match (&sidecars[c.index()], fly) {
            (Some(_), _) => Offer::Sidecar,
            (None, true) => Offer::Fly,
            (None, false) => Offer::No,
        });
        // At most one retry per coding: each failure removes an offer.
        loop {
            let c = accept.choose(offer)?;
            let found = match offer[c.index()] {
                Offer::Sidecar => {
                    let s = sidecars[c.index()].as_ref()?;
                    let got = sidecar::open(&file.path, c, s, file.facts.modified);
                    if got.is_none() {
                        // Gone or replaced since the probe: look again next time.
                        with_store(|st| st.remove(&Key { version, what: What::Sidecars }));
                    }
                    got
                }
                Offer::Fly => self.on_the_fly(file, version, c),
                Offer::No => None,
            };
            if let Some(enc) = found {
                debug_assert_eq!(enc.body.len(), Some(enc.len));
                return Some(enc);
            }
            offer[c.index()] = match offer[c.index()] {
                Offer::Sidecar if fly => Offer::Fly,
                _ => Offer::No,
            };
        }
    }

    /// The file's sidecars, from the cache or a fresh probe.
    fn sidecars(&self, file: &Opened, version: Version, now: Duration) -> [Option<Sidecar>; 3] {
        let key = Key { version, what: What::Sidecars };
        let cached = with_store(|st| match st.get(&key) {
            Some(Entry::Sidecars { probed, found }) if now.saturating_sub(*probed) < PROBE_TTL => {
                Some(found.clone())
            }
            _ => None,
        });
        if let Some(found) = cached {
            return found;
        }
        let found = sidecar::probe(&file.path, file.facts.modified);
        let entry = Entry::Sidecars { probed: now, found: found.clone() };
        with_store(|st| {
            st.set_budget(self.cache_bytes);
            st.insert(key, entry, ENTRY_OVERHEAD);
        });
        found
    }

    /// `file` compressed with `coding`, from the cache or compressed now and stored; `None`
    /// when the result is not smaller than the file (remembered too) or the file cannot be
    /// read as the version we were given.
    fn on_the_fly(&self, file: &Opened, version: Version, coding: Coding) -> Option<Encoded> {
        let key = Key { version, what: What::Encoded(coding) };
        let hit = with_store(|st| match st.get(&key) {
            Some(Entry::Encoded { body, etag }) => Some(Some((body.clone(), etag.clone()))),
            Some(Entry::NotSmaller) => Some(None),
            _ => None,
        });
        let (body, etag) = match hit {
            Some(Some(found)) => found,
            Some(None) => return None,
            None => {
                let content = read(file)?;
                let (entry, cost, found) = if let Some(out) = compress_smaller(coding, &content).ok()? {
                    let body = Bytes::from(out);
                    let etag = tagged(&file.facts.etag, coding);
                    let cost = body.len() + ENTRY_OVERHEAD;
                    (Entry::Encoded { body: body.clone(), etag: etag.clone() }, cost, Some((body, etag)))
                } else {
                    (Entry::NotSmaller, ENTRY_OVERHEAD, None)
                };
                with_store(|st| {
                    st.set_budget(self.cache_bytes);
                    st.insert(key, entry, cost);
                });
                found?
            }
        };
        Some(Encoded { coding, len: body.len() as u64, body: Body::Bytes(body), etag })
    }
}

/// The content of `file`, if it is still the version its facts describe. Files held in memory
/// are used as they are; others are read whole (they are at most `MAX_LEN`).
fn read(file: &Opened) -> Option<Bytes> {
    let want = file.facts.len;
    if let Some(b) = file.bytes() {
        return (b.len() as u64 == want).then(|| b.clone());
    }
    let mut f = File::open(&file.path).ok()?;
    let meta = f.metadata().ok()?;
    // A file rewritten since the lookup would be cached under the old version's key.
    if meta.len() != want || meta.modified().ok() != Some(file.facts.modified) {
        return None;
    }
    let mut buf = Vec::with_capacity(want as usize);
    (&mut f).take(want + 1).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 == want).then(|| Bytes::from(buf))
}

/// The identity tag with `-coding` before the closing quote: `"abc"` → `"abc-br"` (the same
/// for a weak tag). A strong validator must differ between representations (RFC 9110 §8.8.3).
fn tagged(identity: &HeaderValue, coding: Coding) -> HeaderValue {
    let v = identity.as_bytes();
    let mut out = Vec::with_capacity(v.len() + 6);
    match v.strip_suffix(b"\"") {
        Some(head) => {
            out.extend_from_slice(head);
            out.push(b'-');
            out.extend_from_slice(coding.token().as_bytes());
            out.push(b'"');
        }
        None => {
            out.extend_from_slice(v);
            out.push(b'-');
            out.extend_from_slice(coding.token().as_bytes());
        }
    }
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| identity.clone())
}

/// One version of one file: what a cache entry is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Version {
    id: (u64, u64),
    len: u64,
    mtime_ns: u128,
}

impl Version {
    fn of(f: &FileFacts) -> Version {
        let mtime_ns = f.modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Version { id: f.id, len: f.len, mtime_ns }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum What {
    Sidecars,
    Encoded(Coding),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    version: Version,
    what: What,
}

#[derive(Debug)]
enum Entry {
    Sidecars {
        /// When, on the serving clock (`ServeDir::clock`).
        probed: Duration,
        found: [Option<Sidecar>; 3],
    },
    Encoded {
        body: Bytes,
        etag: HeaderValue,
    },
    /// The coding did not make this version smaller: identity is sent, without retrying.
    NotSmaller,
}

thread_local! {
    /// This worker's cache. The bound is set from the `Compression` in use before each insert.
    static STORE: RefCell<Store<Key, Entry>> = RefCell::new(Store::new(CACHE_BYTES));
}

/// Runs `f` on this thread's cache. Never re-entered (no callback runs inside), so the borrow
/// cannot fail; compression happens outside it.
fn with_store<R>(f: impl FnOnce(&mut Store<Key, Entry>) -> R) -> R {
    STORE.with(|s| f(&mut s.borrow_mut()))
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
