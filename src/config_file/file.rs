//! A config file to command-line tokens: each top-level key becomes the flag it names, with
//! the line it was on (for errors), and `[[site]]` tables become `--vhost` and `--tls`.
//!
//! The toml crate's spanned document (`DeTable`) is read rather than a serde-derived struct:
//! the keys are only known at run time (from clap), and every key and value must keep its
//! position so that an error names its line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::given::{a_type, line_of, Given};
use super::keys::{self, Key, Kind};

/// What is wrong with a config file, and where: `pollux.toml:12: unknown key "x"`.
#[derive(Debug)]
pub(crate) struct FileError {
    pub(crate) path: PathBuf,
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(n) => write!(f, "{}:{n}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// The parsed file, each key with its line, in file order.
pub(crate) fn parse(path: &Path, text: &str, keys: &[Key]) -> Result<Vec<Given>, FileError> {
    let err = |span: Option<Range<usize>>, message: String| FileError {
        path: path.to_owned(),
        line: span.map(|s| line_of(text, s.start)),
        message,
    };
    let doc = DeTable::parse(text).map_err(|e| err(e.span(), e.message().trim().replace('\n', " ")))?;
    let mut entries: Vec<_> = doc.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out = Vec::new();
    for (k, v) in entries {
        let name: &str = k.get_ref();
        let line = line_of(text, k.span().start);
        if name == "site" {
            super::site::expand(text, v, keys, &mut out).map_err(|(span, m)| err(Some(span), m))?;
            continue;
        }
        let Some(key) = keys.iter().find(|key| key.name == name) else {
            let hint = keys::suggest(name, keys.iter().map(|k| k.name.as_str()).chain(["site"]))
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            return Err(err(Some(k.span()), format!("unknown key \"{name}\"{hint}")));
        };
        let given =
            to_given(key, v.get_ref(), line).map_err(|m| err(Some(k.span()), format!("{name}: {m}")))?;
        out.push(given);
    }
    Ok(out)
}

/// One key's value as the tokens of its flag.
pub(crate) fn to_given(key: &Key, value: &DeValue<'_>, line: usize) -> Result<Given, String> {
    let mut values = Vec::new();
    let mut tokens = Vec::new();
    match (key.kind, value) {
        (Kind::Switch, DeValue::Boolean(true)) => tokens.push(key.bare()),
        (Kind::Switch, DeValue::Boolean(false)) => {
            if let Some(no) = &key.negation {
                tokens.push(format!("--{no}").into());
            }
        }
        (Kind::Switch, v) => return Err(format!("expected true or false, found {}", a_type(v))),
        (Kind::OptionalValue, DeValue::Boolean(b)) => {
            if *b {
                tokens.push(key.bare());
            }
        }
        (Kind::Repeated, DeValue::Array(items)) => {
            for item in items.iter() {
                let s = scalar(item.get_ref())
                    .map_err(|t| format!("expected a list of values, found {t} in it"))?;
                tokens.push(key.token(s.as_ref()));
                values.push(s);
            }
        }
        (_, v) => {
            let s = scalar(v).map_err(|t| match key.kind {
                Kind::Repeated => format!("expected a value or a list of values, found {t}"),
                _ => format!("expected one value, found {t}"),
            })?;
            tokens.push(key.token(s.as_ref()));
            values.push(s);
        }
    }
    Ok(Given { id: key.id.clone(), key: key.name.clone(), line, values, tokens })
}

/// A string, number or boolean as the text clap parses; else the value's type, for an error.
fn scalar(v: &DeValue<'_>) -> Result<String, String> {
    match v {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Ok(n.to_string()),
            Err(_) => Err("an integer out of range".into()),
        },
        DeValue::Float(f) => Ok(f.as_str().to_owned()),
        DeValue::Boolean(b) => Ok(b.to_string()),
        other => Err(a_type(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<Given>, String> {
        parse(Path::new("t.toml"), text, &keys::all()).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_become_flags() {
        let g = parse_str(
            "workers = 3\nbind = [\"127.0.0.1:1\", \"[::1]:2\"]\nlisting = true\nroot = \"/srv\"\n",
        )
        .expect("parse");
        let tokens: Vec<_> =
            g.iter().flat_map(|g| g.tokens.iter().map(|t| t.to_string_lossy().into_owned())).collect();
        assert_eq!(tokens, ["--workers=3", "--bind=127.0.0.1:1", "--bind=[::1]:2", "--listing", "/srv"]);
        assert_eq!(g.iter().map(|g| g.line).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_str("workers = 3\n\nkeepalive_timout = \"5s\"\n").expect_err("unknown");
        assert_eq!(e, "t.toml:3: unknown key \"keepalive_timout\" (did you mean \"keepalive-timeout\"?)");
        let e = parse_str("# x\nlisting = \"yes\"\n").expect_err("type");
        assert_eq!(e, "t.toml:2: listing: expected true or false, found a string (\"yes\")");
        let e = parse_str("workers = 3\nbind = [\n").expect_err("syntax");
        assert!(e.starts_with("t.toml:2: ") || e.starts_with("t.toml:3: "), "{e}");
        let e = parse_str("workers = [1, 2]\n").expect_err("list");
        assert_eq!(e, "t.toml:1: workers: expected one value, found a list");
    }
}
