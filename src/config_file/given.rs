//! What the parts of a config file become, shared by the top-level keys (`file`) and the
//! `[[site]]` tables (`site`): command-line tokens with the line they came from.

use std::ffi::OsString;
use std::ops::Range;

use toml::de::DeValue;
use toml::Spanned;

/// One key of the file as command-line tokens.
#[derive(Debug, Clone)]
pub(crate) struct Given {
    /// clap's id of the flag.
    pub(crate) id: String,
    /// The key as written (`vhost` for what a `[[site]]` gave).
    pub(crate) key: String,
    /// 1-based line of the key (of the `[[site]]` header for a site).
    pub(crate) line: usize,
    /// The values as clap will see them (to find which key a clap error is about).
    pub(crate) values: Vec<String>,
    pub(crate) tokens: Vec<OsString>,
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A value's type, for errors: `a string ("yes")`.
pub(crate) fn a_type(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("a string (\"{s}\")"),
        DeValue::Integer(i) => format!("a number ({})", i.as_str()),
        DeValue::Float(f) => format!("a number ({})", f.as_str()),
        DeValue::Boolean(b) => format!("a boolean ({b})"),
        DeValue::Datetime(_) => "a date".into(),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// For the sites: a value's span, for errors on its line.
pub(crate) type Span = Range<usize>;

/// A spanned value's text as a string, or the error naming its type.
pub(crate) fn string_of(v: &Spanned<DeValue<'_>>, what: &str) -> Result<String, (Span, String)> {
    match v.get_ref() {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err((v.span(), format!("{what}: expected a string, found {}", a_type(other)))),
    }
}
