//! Field names seen before, kept per decoder, so that a repeated name costs no allocation.
//!
//! `HeaderName::from_bytes` returns the names `http` knows (Host, Accept, …) without
//! allocating, but copies every other name into an allocation of its own. A browser's page
//! request carries seven such names (`sec-ch-ua`, `sec-fetch-site`, …): seven allocations and
//! seven frees per request, on every request of every connection. A decoder remembers the
//! names it has built and hands out clones: a reference count for a custom name, a copy of a
//! tag for a known one.
//!
//! Bounded, because the names come from clients: [`SLOTS`] entries, each replaced when a new
//! name needs its place (a client sending new names every time only makes lookups miss), and
//! only names up to [`LONGEST`] bytes are kept.

use http::header::{HeaderName, InvalidHeaderName};

/// Slots of the table (a power of two); a browser's request has 10–20 fields.
const SLOTS: usize = 32;
/// Slots a name may sit past its home slot (open addressing, linear probing).
const PROBE: usize = 4;
/// Longest name kept, in bytes; longer ones are built each time.
const LONGEST: usize = 48;

/// The names a decoder has built, keyed by their bytes as the client spelled them (clients
/// spell a name the same way every time; "Host" and "host" are two entries for one name).
///
/// A small hash table rather than a scan: the lookup replaces `HeaderName::from_bytes` for
/// *every* field, known names included, so it must cost about what that call costs for a
/// known name (~75 instructions). The key is the length and the first and last eight bytes,
/// read as two words: for names up to 16 bytes (most) comparing the key compares the name,
/// without a `memcmp` call.
#[derive(Debug, Default)]
pub(crate) struct NameCache {
    /// Empty until the first name; then `SLOTS` long.
    slots: Vec<Option<Entry>>,
}

#[derive(Debug)]
struct Entry {
    key: Key,
    /// The whole spelling, compared only for names longer than the key covers.
    raw: Box<[u8]>,
    name: HeaderName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    first: u64,
    last: u64,
}

impl Key {
    fn of(raw: &[u8]) -> Key {
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        let len = raw.len();
        Key { len, first: word(&raw[..len.min(8)]), last: word(&raw[len.saturating_sub(8)..]) }
    }

    /// The home slot: the key's parts, mixed.
    fn home(&self) -> usize {
        let h =
            (self.first.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.last.rotate_left(29) ^ self.len as u64)
                .wrapping_mul(0xff51_afd7_ed55_8ccd);
        (h >> 59) as usize % SLOTS
    }
}

impl NameCache {
    /// The field name spelled `raw`: a remembered one, or a new one, remembered.
    pub(crate) fn name(&mut self, raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
        let key = Key::of(raw);
        let home = key.home();
        let mut free = None;
        for i in 0..PROBE {
            let at = (home + i) % SLOTS;
            match self.slots.get(at) {
                // Equal bytes were checked when the entry was made: a valid token.
                Some(Some(e)) if e.key == key && (raw.len() <= 16 || *e.raw == *raw) => {
                    return Ok(e.name.clone());
                }
                Some(Some(_)) => {}
                _ => {
                    free = Some(at);
                    break;
                }
            }
        }
        let name = HeaderName::from_bytes(raw)?;
        if raw.len() <= LONGEST {
            if self.slots.is_empty() {
                self.slots.resize_with(SLOTS, || None);
            }
            // Nothing is ever removed, so a probe that meets an empty slot may stop there;
            // when all its slots are taken the home slot is replaced (the entries probed past
            // it stay reachable, since the slot stays occupied).
            self.slots[free.unwrap_or(home)] = Some(Entry { key, raw: raw.into(), name: name.clone() });
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_built_once_and_found_in_any_case() {
        let mut c = NameCache::default();
        let a = c.name(b"Sec-Fetch-Site").expect("valid");
        assert_eq!(a.as_str(), "sec-fetch-site");
        let b = c.name(b"Sec-Fetch-Site").expect("valid");
        assert_eq!(a, b);
        // The same allocation: the second is a clone of the first.
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        assert_eq!(kept(&c), 1);
        // Another spelling is another entry for the same name.
        assert_eq!(c.name(b"sec-fetch-SITE").expect("valid"), a);
        assert_eq!(c.name(b"Host").expect("valid"), http::header::HOST);
        assert_eq!(c.name(b"host").expect("valid"), http::header::HOST);
        assert_eq!(kept(&c), 4);
    }

    #[test]
    fn invalid_names_are_refused_and_not_kept() {
        let mut c = NameCache::default();
        assert!(c.name(b"bad name").is_err());
        assert!(c.name(b"").is_err());
        assert!(c.name(b"a\x00b").is_err());
        assert_eq!(kept(&c), 0);
        // A near miss of a kept name is checked on its own.
        c.name(b"x-a").expect("valid");
        assert!(c.name(b"x-\xc1").is_err());
    }

    #[test]
    fn the_cache_is_bounded_in_count_and_length() {
        let mut c = NameCache::default();
        for i in 0..1000 {
            let raw = format!("x-name-{i}");
            assert_eq!(c.name(raw.as_bytes()).expect("valid").as_str(), raw);
        }
        assert_eq!(c.slots.len(), SLOTS);
        assert!(kept(&c) > SLOTS / 2, "{}", kept(&c));
        // Every name still comes out right, kept or not.
        for i in 0..1000 {
            let raw = format!("X-Name-{i}");
            assert_eq!(c.name(raw.as_bytes()).expect("valid").as_str(), raw.to_ascii_lowercase());
        }
        let long = "x".repeat(LONGEST + 1);
        let before = kept_keys(&c);
        assert_eq!(c.name(long.as_bytes()).expect("valid").as_str(), long);
        assert_eq!(kept_keys(&c), before, "a long name is not kept");
    }

    #[test]
    fn a_browsers_names_all_stay() {
        let mut c = NameCache::default();
        let names: [&[u8]; 14] = [
            b"Host",
            b"Connection",
            b"sec-ch-ua",
            b"sec-ch-ua-mobile",
            b"sec-ch-ua-platform",
            b"Upgrade-Insecure-Requests",
            b"User-Agent",
            b"Accept",
            b"Sec-Fetch-Site",
            b"Sec-Fetch-Mode",
            b"Sec-Fetch-User",
            b"Sec-Fetch-Dest",
            b"Accept-Encoding",
            b"Accept-Language",
        ];
        let first: Vec<HeaderName> = names.iter().map(|n| c.name(n).expect("valid")).collect();
        // A second request finds each of them: custom names come back as the same allocation.
        for (n, f) in names.iter().zip(&first) {
            let again = c.name(n).expect("valid");
            assert_eq!(&again, f);
            assert_eq!(again.as_str().as_ptr(), f.as_str().as_ptr(), "{}", f.as_str());
        }
    }

    #[test]
    fn answers_as_from_bytes_does_for_many_similar_names() {
        // Names that share lengths, first and last words, built from a small alphabet with
        // invalid bytes in it: every answer must be what `from_bytes` says, hit or miss.
        let alphabet = b"aA-_Zz0~ \x00:\xff";
        let mut c = NameCache::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x % 24) as usize;
            let raw: Vec<u8> =
                (0..len).map(|i| alphabet[((x >> (i % 16 * 4)) as usize + i) % alphabet.len()]).collect();
            let want = HeaderName::from_bytes(&raw).ok();
            assert_eq!(c.name(&raw).ok(), want, "{:?}", String::from_utf8_lossy(&raw));
        }
    }

    fn kept(c: &NameCache) -> usize {
        c.slots.iter().flatten().count()
    }

    fn kept_keys(c: &NameCache) -> Vec<Vec<u8>> {
        c.slots.iter().flatten().map(|e| e.raw.to_vec()).collect()
    }
}
