//! Helpers shared by the unit tests.

use bytes::Bytes;

use crate::{DecodeError, Decoder};

/// Bytes from the RFC's hex dumps (whitespace ignored).
pub(crate) fn hex(s: &str) -> Bytes {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// A decoded field: name, value, never-indexed flag.
pub(crate) type Field = (String, String, bool);

/// Decodes a block into owned fields.
pub(crate) fn decode(d: &mut Decoder, block: &Bytes) -> Result<Vec<Field>, DecodeError> {
    let mut fields = Vec::new();
    d.decode(block, |name, value, never| {
        fields.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(&value).into_owned(),
            never,
        ))
    })?;
    Ok(fields)
}

/// Fields without the never-indexed flag.
pub(crate) fn fields(list: &[(&str, &str)]) -> Vec<Field> {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string(), false)).collect()
}
