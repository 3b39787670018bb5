//! The static table (RFC 7541 Appendix A) and the dynamic table (§2.3.2, §4).
//!
//! Index space (§2.3.3): 1–61 are the static table, 62 onwards the dynamic table, newest
//! entry first. The dynamic table is a FIFO bounded by a size in bytes, where each entry
//! counts its name, its value and 32 bytes of overhead (§4.1); inserting evicts the oldest
//! entries until the new one fits (§4.4).

use std::collections::VecDeque;

use bytes::Bytes;

/// The static table, RFC 7541 Appendix A; index `i` is `STATIC[i - 1]`.
pub(crate) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Number of static entries; the first dynamic index is one more.
pub(crate) const STATIC_LEN: usize = STATIC.len();

/// Per-entry overhead in the size accounting (§4.1): an estimate of the bookkeeping an
/// implementation needs, fixed by the RFC so both ends agree on when to evict.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// The size of an entry as §4.1 counts it.
pub(crate) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + ENTRY_OVERHEAD
}

/// Where a field stands in the static table: the index of the first entry with its name, and
/// the index of the entry with its name and value when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StaticMatch {
    pub(crate) name: usize,
    pub(crate) full: Option<usize>,
}

/// Looks a field up in the static table without scanning it: the name picks the run of
/// entries that share it (a `match` on the bytes, which compiles to a length switch and a
/// few compares), and only that run (at most seven `:status` entries) is compared by value.
pub(crate) fn static_find(name: &[u8], value: &[u8]) -> Option<StaticMatch> {
    let (first, count) = match name {
        b":authority" => (1, 1),
        b":method" => (2, 2),
        b":path" => (4, 2),
        b":scheme" => (6, 2),
        b":status" => (8, 7),
        b"accept-charset" => (15, 1),
        b"accept-encoding" => (16, 1),
        b"accept-language" => (17, 1),
        b"accept-ranges" => (18, 1),
        b"accept" => (19, 1),
        b"access-control-allow-origin" => (20, 1),
        b"age" => (21, 1),
        b"allow" => (22, 1),
        b"authorization" => (23, 1),
        b"cache-control" => (24, 1),
        b"content-disposition" => (25, 1),
        b"content-encoding" => (26, 1),
        b"content-language" => (27, 1),
        b"content-length" => (28, 1),
        b"content-location" => (29, 1),
        b"content-range" => (30, 1),
        b"content-type" => (31, 1),
        b"cookie" => (32, 1),
        b"date" => (33, 1),
        b"etag" => (34, 1),
        b"expect" => (35, 1),
        b"expires" => (36, 1),
        b"from" => (37, 1),
        b"host" => (38, 1),
        b"if-match" => (39, 1),
        b"if-modified-since" => (40, 1),
        b"if-none-match" => (41, 1),
        b"if-range" => (42, 1),
        b"if-unmodified-since" => (43, 1),
        b"last-modified" => (44, 1),
        b"link" => (45, 1),
        b"location" => (46, 1),
        b"max-forwards" => (47, 1),
        b"proxy-authenticate" => (48, 1),
        b"proxy-authorization" => (49, 1),
        b"range" => (50, 1),
        b"referer" => (51, 1),
        b"refresh" => (52, 1),
        b"retry-after" => (53, 1),
        b"server" => (54, 1),
        b"set-cookie" => (55, 1),
        b"strict-transport-security" => (56, 1),
        b"transfer-encoding" => (57, 1),
        b"user-agent" => (58, 1),
        b"vary" => (59, 1),
        b"via" => (60, 1),
        b"www-authenticate" => (61, 1),
        _ => return None,
    };
    let full = (first..first + count).find(|&i| STATIC[i - 1].1 == value);
    Some(StaticMatch { name: first, full })
}

/// One dynamic table entry. The name and value usually share one allocation (see
/// [`Entry::copied`]).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: Bytes,
    pub(crate) value: Bytes,
}

impl Entry {
    /// An entry owning exactly its bytes, in one allocation. Table entries live as long as the
    /// peer keeps them, so they must not be slices of a larger buffer (a received header block,
    /// a Huffman scratch chunk): a 40-byte entry would pin kilobytes.
    pub(crate) fn copied(name: &[u8], value: &[u8]) -> Entry {
        let mut both = Vec::with_capacity(name.len() + value.len());
        both.extend_from_slice(name);
        both.extend_from_slice(value);
        let both = Bytes::from(both);
        Entry { name: both.slice(..name.len()), value: both.slice(name.len()..) }
    }

    pub(crate) fn size(&self) -> usize {
        entry_size(&self.name, &self.value)
    }
}

/// The dynamic table: newest entry at the back, so eviction pops the front.
///
/// Every entry gets an insertion number (0 for the first ever inserted, counting on across
/// evictions). The encoder keys its hash maps by insertion number, which never changes while
/// an entry lives, whereas its index shifts with every insertion.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    inserted: u64,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> DynamicTable {
        DynamicTable { entries: VecDeque::new(), size: 0, max_size, inserted: 0 }
    }

    /// Bytes in use, §4.1 accounting.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at dynamic index `i` (1 = newest), if there is one.
    pub(crate) fn get(&self, i: usize) -> Option<&Entry> {
        let pos = self.entries.len().checked_sub(i)?;
        if i == 0 {
            return None;
        }
        self.entries.get(pos)
    }

    /// The dynamic index (1 = newest) of the entry with insertion number `n`, which must be
    /// live.
    pub(crate) fn index_of(&self, n: u64) -> usize {
        debug_assert!(n < self.inserted && self.inserted - n <= self.entries.len() as u64);
        (self.inserted - n) as usize
    }

    /// Inserts an entry, evicting the oldest ones until it fits (§4.4), and tells
    /// `evicted(insertion number, entry)` of each eviction. An entry larger than the whole
    /// table empties the table and is not inserted. Returns whether it was inserted.
    pub(crate) fn insert(&mut self, entry: Entry, evicted: impl FnMut(u64, &Entry)) -> bool {
        let size = entry.size();
        if size > self.max_size {
            self.evict_to(0, evicted);
            return false;
        }
        self.evict_to(self.max_size - size, evicted);
        self.entries.push_back(entry);
        self.size += size;
        self.inserted += 1;
        true
    }

    /// The insertion number the next inserted entry will get.
    pub(crate) fn next_insertion(&self) -> u64 {
        self.inserted
    }

    /// A new maximum size (§4.3): evicts the oldest entries until the table fits.
    pub(crate) fn set_max_size(&mut self, max_size: usize, evicted: impl FnMut(u64, &Entry)) {
        self.max_size = max_size;
        self.evict_to(max_size, evicted);
    }

    fn evict_to(&mut self, target: usize, mut evicted: impl FnMut(u64, &Entry)) {
        while self.size > target {
            let Some(old) = self.entries.pop_front() else { break };
            self.size -= old.size();
            // The oldest live entry's number: all newer ones are still in the deque.
            let n = self.inserted - self.entries.len() as u64 - 1;
            evicted(n, &old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_find_knows_every_entry() {
        for (i, (name, value)) in STATIC.iter().enumerate() {
            let m = static_find(name, value).expect("every static name is found");
            assert_eq!(STATIC[m.name - 1].0, *name, "name index of {i}");
            assert!(m.name <= i + 1);
            assert_eq!(m.full, Some(i + 1), "entry {}", i + 1);
        }
        assert_eq!(static_find(b":status", b"403"), Some(StaticMatch { name: 8, full: None }));
        assert_eq!(static_find(b"x-unknown", b""), None);
        // Names are compared as they are: the static table has only lowercase names.
        assert_eq!(static_find(b"Host", b""), None);
    }

    fn noop(_: u64, _: &Entry) {}

    #[test]
    fn insert_evicts_oldest_first_and_counts_size() {
        let mut t = DynamicTable::new(100);
        assert!(t.insert(Entry::copied(b"aa", b"bb"), noop)); // 36
        assert!(t.insert(Entry::copied(b"cc", b"dd"), noop)); // 72
        assert_eq!(t.size(), 72);
        let mut gone = Vec::new();
        assert!(t.insert(Entry::copied(b"ee", b"ff"), |n, e| gone.push((n, e.name.clone()))));
        assert_eq!(gone, [(0, Bytes::from_static(b"aa"))]);
        assert_eq!(t.size(), 72);
        assert_eq!(&t.get(1).expect("newest").name[..], b"ee");
        assert_eq!(&t.get(2).expect("older").name[..], b"cc");
        assert!(t.get(3).is_none());
        assert!(t.get(0).is_none());
        assert_eq!(t.index_of(2), 1);
        assert_eq!(t.index_of(1), 2);
    }

    #[test]
    fn an_entry_larger_than_the_table_empties_it() {
        let mut t = DynamicTable::new(40);
        assert!(t.insert(Entry::copied(b"a", b"b"), noop));
        let mut gone = 0;
        assert!(!t.insert(Entry::copied(b"name", b"value"), |_, _| gone += 1));
        assert_eq!((gone, t.size(), t.len()), (1, 0, 0));
        // Exactly the table size fits.
        assert!(t.insert(Entry::copied(b"abcd", b"efgh"), noop));
        assert_eq!(t.size(), 40);
    }

    #[test]
    fn shrinking_evicts_and_zero_empties() {
        let mut t = DynamicTable::new(4096);
        for i in 0..10u8 {
            t.insert(Entry::copied(&[b'a' + i], b"v"), noop);
        }
        assert_eq!(t.size(), 340);
        let mut gone = Vec::new();
        t.set_max_size(100, |n, _| gone.push(n));
        assert_eq!(gone, [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(t.len(), 2);
        t.set_max_size(0, |n, _| gone.push(n));
        assert_eq!(gone[8..], [8, 9]);
        assert_eq!((t.size(), t.len(), t.next_insertion()), (0, 0, 10));
    }
}
