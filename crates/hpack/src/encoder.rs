//! Encoding header blocks (RFC 7541 §6) with a fixed, cheap policy.
//!
//! The policy, per field:
//!
//! 1. the static table has the name and value → indexed (§6.1), one byte;
//! 2. the dynamic table has them → indexed;
//! 3. a sensitive name (credentials, cookies) → literal never indexed (§6.2.3, §7.1.3), so
//!    neither we nor an intermediary put the secret in a table where a guessing attack
//!    (CRIME-style, §7.1.1) could probe it;
//! 4. an entry bigger than a quarter of the table → literal without indexing (§6.2.2): it
//!    would evict most of what the table holds and is unlikely to repeat exactly;
//! 5. otherwise → literal with incremental indexing (§6.2.1), so the next response with the
//!    same field sends one byte.
//!
//! Names go as an index when either table has them. Strings are Huffman-coded when that is
//! shorter.
//!
//! Finding a field must not scan the table. Most response fields have a static name and
//! repeat the value of the newest entry with that name, so an array indexed by static name
//! holds that entry: one compare finds it. Otherwise two hash tables map the hash of a field
//! (name and value) and the hash of a name to the *insertion number* of the entry holding
//! it, and compare candidates through the dynamic table itself, so they store no keys and a
//! lookup copies nothing. An entry's insertion number never changes while it lives (its
//! index does, with every insertion); eviction removes a hash table slot only when it still
//! points at the evicted entry.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::table::{entry_size, static_find, DynamicTable, Entry, STATIC_LEN};
use crate::{huffman, integer};

/// The dynamic table we use at most: the HTTP/2 default. The responses of one server repeat
/// few distinct fields; more table would only cost memory on every connection.
const MAX_TABLE: usize = 4096;

/// Names whose values are credentials or session state (§7.1.3).
fn is_sensitive(name: &[u8]) -> bool {
    matches!(name, b"authorization" | b"proxy-authorization" | b"cookie" | b"set-cookie")
}

/// The encoding end of one HTTP/2 connection's HPACK context.
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// Hash of (name, value) → the entry with them (each field is in the table at most once:
    /// we insert only what we did not find).
    fields: HashTable<Slot>,
    /// Hash of a name → the newest entry with that name, for names not in the static table
    /// (a static name is sent as its static index anyway).
    names: HashTable<Slot>,
    /// For each static name (by the index of its first static entry): the insertion number
    /// of the newest dynamic entry with that name. Stale numbers are harmless: they no longer
    /// name a live entry.
    newest_by_static_name: [u64; STATIC_LEN + 1],
    hasher: RandomState,
    /// The smallest table size set since the last size update we sent, when the size
    /// changed since (§4.2).
    pending_update: Option<usize>,
}

/// An index entry: the insertion number of a live table entry, and its hash (kept so the
/// index can grow without looking entries up again).
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    n: u64,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

impl Encoder {
    /// Dynamic table of 4096 bytes (the peer's default SETTINGS_HEADER_TABLE_SIZE).
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(MAX_TABLE),
            fields: HashTable::new(),
            names: HashTable::new(),
            newest_by_static_name: [u64::MAX; STATIC_LEN + 1],
            hasher: RandomState::default(),
            pending_update: None,
        }
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE changed: we use `min(n, 4096)` and emit a
    /// Dynamic Table Size Update at the start of the next block if our size changed (§4.2,
    /// §6.3). If it shrank and then grew again before a block, the next block carries the
    /// smallest size first, then the final one: the peer must evict what we evicted.
    pub fn set_max_table_size(&mut self, n: usize) {
        let size = n.min(MAX_TABLE);
        if size == self.table.max_size() {
            return;
        }
        self.pending_update = Some(self.pending_update.map_or(size, |p| p.min(size)));
        let Encoder { table, fields, names, hasher, .. } = self;
        table.set_max_size(size, |n, e| forget(fields, names, hasher, n, e));
    }

    /// Starts a header block: writes any pending table size update into `out`. Call it
    /// before the first field of every block.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        if let Some(smallest) = self.pending_update.take() {
            let size = self.table.max_size();
            if smallest < size {
                integer::encode(smallest, 5, 0x20, out);
            }
            integer::encode(size, 5, 0x20, out);
        }
    }

    /// `:status`: indexed when the static table has it (200 204 206 304 400 404 500), else
    /// a literal with incremental indexing on name index 8, so a repeated 403 becomes
    /// indexed from the dynamic table.
    pub fn status(&mut self, code: u16, out: &mut Vec<u8>) {
        let index = match code {
            200 => 8,
            204 => 9,
            206 => 10,
            304 => 11,
            400 => 12,
            404 => 13,
            500 => 14,
            _ => {
                let mut digits = [0u8; 5];
                let mut start = digits.len();
                let mut rest = code;
                loop {
                    start -= 1;
                    digits[start] = b'0' + (rest % 10) as u8;
                    rest /= 10;
                    if rest == 0 {
                        break;
                    }
                }
                // `:status` is in the static table, so this is name index 8.
                self.field(b":status", &digits[start..], out);
                return;
            }
        };
        out.push(0x80 | index);
    }

    /// One field; `name` is lowercase (HTTP/2 requires it; not checked here). See the module
    /// documentation for the policy.
    pub fn field(&mut self, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let static_match = static_find(name, value);
        if let Some(index) = static_match.and_then(|m| m.full) {
            integer::encode(index, 7, 0x80, out);
            return;
        }
        let size = entry_size(name, value);
        // Most response fields have a static name, and repeat the value of the newest entry
        // with that name: found with an array lookup and one compare, no hashing.
        if let Some(m) = static_match {
            let n = self.newest_by_static_name[m.name];
            if self.table.by_insertion(n).is_some_and(|e| e.value == value) {
                integer::encode(STATIC_LEN + self.table.index_of(n), 7, 0x80, out);
                return;
            }
        }
        // Only an entry that fits can be in the table; an empty table has nothing to find.
        if !self.fields.is_empty() && size <= self.table.max_size() {
            let hash = self.hasher.hash_one((name, value));
            let table = &self.table;
            let found = self.fields.find(hash, |s| {
                s.hash == hash && table.by_insertion(s.n).is_some_and(|e| e.name == name && e.value == value)
            });
            if let Some(slot) = found {
                integer::encode(STATIC_LEN + table.index_of(slot.n), 7, 0x80, out);
                return;
            }
        }
        let name_index = match static_match {
            Some(m) => Some(m.name),
            None => self.dynamic_name(name),
        };
        if is_sensitive(name) {
            literal(0x10, 4, name_index, name, value, out);
        } else if size > self.table.max_size() / 4 {
            literal(0x00, 4, name_index, name, value, out);
        } else {
            literal(0x40, 6, name_index, name, value, out);
            self.insert(name, value, static_match.map(|m| m.name));
        }
    }

    /// Current dynamic table size in bytes (§4.1 accounting).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The index of the newest dynamic entry named `name`.
    fn dynamic_name(&self, name: &[u8]) -> Option<usize> {
        if self.names.is_empty() {
            return None;
        }
        let hash = self.hasher.hash_one(name);
        let table = &self.table;
        let slot = self
            .names
            .find(hash, |s| s.hash == hash && table.by_insertion(s.n).is_some_and(|e| e.name == name))?;
        Some(STATIC_LEN + table.index_of(slot.n))
    }

    /// Adds a field to the dynamic table and the index, as the peer's decoder will on
    /// reading the literal we just wrote: the only allocations of the steady state (see
    /// [`Entry::copied`]).
    fn insert(&mut self, name: &[u8], value: &[u8], static_name: Option<usize>) {
        let n = self.table.next_insertion();
        let Encoder { table, fields, names, hasher, .. } = self;
        if !table.insert(Entry::copied(name, value), |n, e| forget(fields, names, hasher, n, e)) {
            return;
        }
        let hash = hasher.hash_one((name, value));
        fields.insert_unique(hash, Slot { hash, n }, |s| s.hash);
        if let Some(i) = static_name {
            self.newest_by_static_name[i] = n;
            return;
        }
        let hash = hasher.hash_one(name);
        // Same name as an older entry: the newer one is the one to point at (it lives longer).
        let older = names
            .find_mut(hash, |s| s.hash == hash && table.by_insertion(s.n).is_some_and(|e| e.name == name));
        match older {
            Some(slot) => slot.n = n,
            None => {
                names.insert_unique(hash, Slot { hash, n }, |s| s.hash);
            }
        }
    }
}

/// Drops the index entries that point at evicted entry `n`.
fn forget(
    fields: &mut HashTable<Slot>,
    names: &mut HashTable<Slot>,
    hasher: &RandomState,
    n: u64,
    e: &Entry,
) {
    let hash = hasher.hash_one((&e.name[..], &e.value[..]));
    if let Ok(slot) = fields.find_entry(hash, |s| s.n == n) {
        slot.remove();
    }
    // Only when no newer entry took over the name.
    let hash = hasher.hash_one(&e.name[..]);
    if let Ok(slot) = names.find_entry(hash, |s| s.n == n) {
        slot.remove();
    }
}

/// A literal field (§6.2): the pattern `flags` and the name index in a `prefix_bits`
/// prefix (0 and a name string when there is no index), then the value string.
fn literal(
    flags: u8,
    prefix_bits: u8,
    name_index: Option<usize>,
    name: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    match name_index {
        Some(index) => integer::encode(index, prefix_bits, flags, out),
        None => {
            out.push(flags);
            string(name, out);
        }
    }
    string(value, out);
}

/// A string literal (§5.2), Huffman-coded when that is shorter.
fn string(s: &[u8], out: &mut Vec<u8>) {
    let coded = huffman::encoded_len(s);
    if coded < s.len() {
        integer::encode(coded, 7, 0x80, out);
        huffman::encode(s, out);
    } else {
        integer::encode(s.len(), 7, 0x00, out);
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
