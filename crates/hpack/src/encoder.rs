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
//! Finding a field must not scan the table: two hash maps point from a field's bytes and
//! from a name's bytes to the *insertion number* of the newest entry holding it. An entry's
//! insertion number never changes while it lives (its index does, with every insertion),
//! and eviction removes a map entry only when it still points at the evicted entry.

use std::collections::HashMap;

use bytes::Bytes;
use foldhash::fast::RandomState;

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
    /// Field key (see [`field_key`]) → insertion number of the newest entry with it.
    fields: HashMap<Bytes, u64, RandomState>,
    /// Name → insertion number of the newest entry with it.
    names: HashMap<Bytes, u64, RandomState>,
    /// The smallest table size set since the last size update we sent, when the size
    /// changed since (§4.2).
    pending_update: Option<usize>,
    /// Reused buffer for building lookup keys.
    key: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

/// Builds the map key of a field into `key`: the name's length, the name, the value. The
/// length keeps ("ab", "c") and ("a", "bc") apart.
fn field_key(name: &[u8], value: &[u8], key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(&(name.len() as u32).to_le_bytes());
    key.extend_from_slice(name);
    key.extend_from_slice(value);
}

/// The length of the prefix [`field_key`] writes before the name.
const KEY_PREFIX: usize = 4;

impl Encoder {
    /// Dynamic table of 4096 bytes (the peer's default SETTINGS_HEADER_TABLE_SIZE).
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(MAX_TABLE),
            fields: HashMap::default(),
            names: HashMap::default(),
            pending_update: None,
            key: Vec::new(),
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
        let Encoder { table, fields, names, key, .. } = self;
        table.set_max_size(size, |n, e| forget(fields, names, key, n, e));
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
        // Only an entry that fits can be in the table.
        let searchable = !self.fields.is_empty() && size <= self.table.max_size();
        if searchable {
            field_key(name, value, &mut self.key);
            if let Some(&n) = self.fields.get(&self.key[..]) {
                integer::encode(STATIC_LEN + self.table.index_of(n), 7, 0x80, out);
                return;
            }
        }
        let name_index = match static_match {
            Some(m) => Some(m.name),
            None => self.names.get(name).map(|&n| STATIC_LEN + self.table.index_of(n)),
        };
        if is_sensitive(name) {
            literal(0x10, 4, name_index, name, value, out);
        } else if size > self.table.max_size() / 4 {
            literal(0x00, 4, name_index, name, value, out);
        } else {
            literal(0x40, 6, name_index, name, value, out);
            self.insert(name, value);
        }
    }

    /// Current dynamic table size in bytes (§4.1 accounting).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Adds a field to the dynamic table and the maps, as the peer's decoder will on reading
    /// the literal we just wrote. The one allocation per new entry: its key, which the name
    /// and value are slices of.
    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let mut key = Vec::with_capacity(KEY_PREFIX + name.len() + value.len());
        field_key(name, value, &mut key);
        let key = Bytes::from(key);
        let name_end = KEY_PREFIX + name.len();
        let entry = Entry { name: key.slice(KEY_PREFIX..name_end), value: key.slice(name_end..) };
        let n = self.table.next_insertion();
        let entry_name = entry.name.clone();
        let Encoder { table, fields, names, key: scratch, .. } = self;
        if table.insert(entry, |n, e| forget(fields, names, scratch, n, e)) {
            fields.insert(key, n);
            names.insert(entry_name, n);
        }
    }
}

/// Drops the map entries that still point at evicted entry `n`.
fn forget(
    fields: &mut HashMap<Bytes, u64, RandomState>,
    names: &mut HashMap<Bytes, u64, RandomState>,
    key: &mut Vec<u8>,
    n: u64,
    e: &Entry,
) {
    field_key(&e.name, &e.value, key);
    if fields.get(&key[..]) == Some(&n) {
        fields.remove(&key[..]);
    }
    if names.get(&e.name[..]) == Some(&n) {
        names.remove(&e.name[..]);
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
