//! Decoding header blocks (RFC 7541 §3, §6).
//!
//! A block is a sequence of representations, each told by its first bits (§6):
//!
//! ```text
//!   1xxxxxxx  indexed field                          (§6.1)
//!   01xxxxxx  literal, incremental indexing          (§6.2.1)
//!   001xxxxx  dynamic table size update              (§6.3)
//!   0001xxxx  literal, never indexed                 (§6.2.3)
//!   0000xxxx  literal, without indexing              (§6.2.2)
//! ```
//!
//! Values come out as [`Bytes`] without copying where the wire allows: a plain literal is a
//! slice of the block, an indexed field a clone of the table's handle. Huffman-coded strings
//! are decoded into a chunk of a reusable [`BytesMut`] and split off it, so small values share
//! one allocation instead of getting one each.

use bytes::{Bytes, BytesMut};

use crate::table::{entry_size, DynamicTable, Entry, STATIC, STATIC_LEN};
use crate::{huffman, integer, DecodeError};

/// The default longest string literal (64 KiB).
const DEFAULT_MAX_STRING: usize = 64 * 1024;

/// Huffman-decoded strings are written into chunks of at least this size.
const SCRATCH_CHUNK: usize = 4096;

/// The decoding end of one HTTP/2 connection's HPACK context (one per direction).
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The SETTINGS_HEADER_TABLE_SIZE we advertise: the peer's size updates may not exceed it.
    max_allowed: usize,
    max_string: usize,
    /// The next block must start with a size update (§4.2): we lowered `max_allowed` below
    /// the table's current maximum.
    update_required: bool,
    scratch: BytesMut,
}

impl Decoder {
    /// `max_table_size`: the SETTINGS_HEADER_TABLE_SIZE we advertise (default 4096); the
    /// peer's size updates may not exceed it. The table starts at that size.
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_allowed: max_table_size,
            max_string: DEFAULT_MAX_STRING,
            update_required: false,
            scratch: BytesMut::new(),
        }
    }

    /// Longest string literal accepted (default 64 KiB); longer -> [`DecodeError::StringTooLong`].
    /// Applies to a Huffman-coded string's decoded length too.
    pub fn set_max_string(&mut self, n: usize) {
        self.max_string = n;
    }

    /// Current dynamic table size in bytes (RFC 7541 §4.1 accounting: name + value + 32 per
    /// entry).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Our SETTINGS_HEADER_TABLE_SIZE changed (call it when the peer acknowledges the
    /// SETTINGS frame carrying it). A size below the table's current maximum obliges the peer
    /// to start its next block with a size update to at most `n` (§4.2); a block without one
    /// is refused with [`DecodeError::TableSizeUpdate`].
    pub fn set_max_table_size(&mut self, n: usize) {
        self.max_allowed = n;
        if n < self.table.max_size() {
            self.update_required = true;
        }
    }

    /// Decodes one complete header block, calling `emit(name, value, never_indexed)` for
    /// each field in order.
    ///
    /// `name` is the name bytes as sent (no case or validity checks here: that is HTTP/2's
    /// job). `value` is zero-copy where possible: a slice of `block` for a plain literal, a
    /// clone of the table entry's handle for an indexed field. The dynamic table is updated
    /// exactly as RFC 7541 says whatever the caller does with the fields, so decoding always
    /// runs to the end of the block and the table stays in step with the peer's.
    ///
    /// An error is a COMPRESSION_ERROR: the connection cannot go on, since the two tables may
    /// now disagree.
    pub fn decode(
        &mut self,
        block: &Bytes,
        mut emit: impl FnMut(&[u8], Bytes, bool),
    ) -> Result<(), DecodeError> {
        let src = &block[..];
        let mut pos = 0;
        // Size updates may only come before the first field (§4.2).
        let mut at_start = true;
        while pos < src.len() {
            let first = src[pos];
            if first & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                self.field_allowed(&mut at_start)?;
                let index = integer::decode(src, &mut pos, 7)?;
                // The hot path of a repeated request: a lookup and a handle clone, no copy.
                if index.wrapping_sub(1) < STATIC_LEN {
                    let (name, value) = STATIC[index - 1];
                    emit(name, Bytes::from_static(value), false);
                } else {
                    let entry = self.dynamic(index)?;
                    emit(&entry.name, entry.value.clone(), false);
                }
            } else if first & 0xc0 == 0x40 {
                // §6.2.1 Literal Header Field with Incremental Indexing.
                self.field_allowed(&mut at_start)?;
                let (name, value) = self.literal(block, &mut pos, 6)?;
                if entry_size(&name, &value) > self.table.max_size() {
                    // Too big for the table: it empties the table and is not kept (§4.4).
                    self.table.insert(Entry { name: name.clone(), value: value.clone() }, |_, _| {});
                    emit(&name, value, false);
                } else {
                    let entry = Entry::copied(&name, &value);
                    emit(&entry.name, entry.value.clone(), false);
                    self.table.insert(entry, |_, _| {});
                }
            } else if first & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update.
                if !at_start {
                    return Err(DecodeError::TableSizeUpdate);
                }
                let size = integer::decode(src, &mut pos, 5)?;
                if size > self.max_allowed {
                    return Err(DecodeError::TableSizeUpdate);
                }
                self.table.set_max_size(size, |_, _| {});
                self.update_required = false;
            } else {
                // §6.2.2 Literal Header Field without Indexing (0000) and §6.2.3 Never
                // Indexed (0001): both 4-bit prefixes, neither touches the table.
                self.field_allowed(&mut at_start)?;
                let never_indexed = first & 0x10 != 0;
                let (name, value) = self.literal(block, &mut pos, 4)?;
                emit(&name, value, never_indexed);
            }
        }
        if self.update_required {
            return Err(DecodeError::TableSizeUpdate);
        }
        Ok(())
    }

    /// The dynamic table entry at dynamic index `i` (1 = newest), for tests that compare an
    /// encoder's table with ours.
    #[cfg(test)]
    pub(crate) fn dynamic_entry(&self, i: usize) -> Option<&Entry> {
        self.table.get(i)
    }

    /// A field representation ends the run of size updates a block may start with.
    fn field_allowed(&mut self, at_start: &mut bool) -> Result<(), DecodeError> {
        if *at_start {
            if self.update_required {
                return Err(DecodeError::TableSizeUpdate);
            }
            *at_start = false;
        }
        Ok(())
    }

    /// The name at `index` in the combined index space (§2.3.3), for a literal's name.
    fn name(&self, index: usize) -> Result<Bytes, DecodeError> {
        if index == 0 {
            return Err(DecodeError::InvalidIndex(0));
        }
        if index <= STATIC_LEN {
            return Ok(Bytes::from_static(STATIC[index - 1].0));
        }
        Ok(self.dynamic(index)?.name.clone())
    }

    /// The dynamic table entry at combined index `index` (> 61).
    fn dynamic(&self, index: usize) -> Result<&Entry, DecodeError> {
        let i = index.checked_sub(STATIC_LEN).filter(|&i| i > 0).ok_or(DecodeError::InvalidIndex(index))?;
        self.table.get(i).ok_or(DecodeError::InvalidIndex(index))
    }

    /// A literal representation after its first byte's pattern: the name (an index with a
    /// `prefix_bits` prefix, or 0 and a string) and the value string.
    fn literal(
        &mut self,
        block: &Bytes,
        pos: &mut usize,
        prefix_bits: u8,
    ) -> Result<(Bytes, Bytes), DecodeError> {
        let index = integer::decode(block, pos, prefix_bits)?;
        let name = if index == 0 { self.string(block, pos)? } else { self.name(index)? };
        let value = self.string(block, pos)?;
        Ok((name, value))
    }

    /// A string literal (§5.2): a Huffman flag, a 7-bit-prefix length, the octets.
    ///
    /// Both the length on the wire and a Huffman string's decoded length are held to
    /// `max_string`; the first is checked before the bytes are looked at, so an absurd length
    /// fails as what it is rather than as a truncated block.
    fn string(&mut self, block: &Bytes, pos: &mut usize) -> Result<Bytes, DecodeError> {
        let huffman = block.get(*pos).ok_or(DecodeError::Truncated)? & 0x80 != 0;
        let len = integer::decode(block, pos, 7)?;
        if len > self.max_string {
            return Err(DecodeError::StringTooLong);
        }
        let end = pos.checked_add(len).filter(|&end| end <= block.len()).ok_or(DecodeError::Truncated)?;
        let string = if huffman {
            let need = huffman::max_decoded_len(len);
            if self.scratch.capacity() < need {
                self.scratch.reserve(need.max(SCRATCH_CHUNK));
            }
            let decoded = huffman::decode_into(&block[*pos..end], &mut self.scratch);
            let decoded = decoded.and_then(|()| {
                if self.scratch.len() > self.max_string {
                    Err(DecodeError::StringTooLong)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = decoded {
                // Leave no half-decoded bytes to prefix the next string.
                self.scratch.clear();
                return Err(e);
            }
            self.scratch.split().freeze()
        } else {
            block.slice(*pos..end)
        };
        *pos = end;
        Ok(string)
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
