//! `[[site]]` tables: one site per table, expanded to the flags that already serve several
//! sites from one process.
//!
//! ```toml
//! [[site]]                       # ─► --vhost example.com=/srv/example
//! names = ["example.com", "www.example.com"]
//! root = "/srv/example"
//! cert = "/etc/pollux/ex.pem"    # ─► --tls example.com=/etc/pollux/ex.pem,/etc/pollux/ex.key
//! key = "/etc/pollux/ex.key"
//! ```
//!
//! Only what the server can do per host today is accepted: the root and the certificate. CGI,
//! WSGI and the file-serving switches apply to every site (top-level keys); a site that sets
//! one gets an error saying so rather than a setting that is silently global.

use std::ffi::OsString;

use toml::de::DeValue;
use toml::Spanned;

use super::given::{line_of, string_of, Given, Span};
use super::keys::{self, Key};

const SITE_KEYS: &[&str] = &["name", "names", "root", "cert", "key"];

/// The `site` key's value (an array of tables) as `--vhost` and `--tls` tokens.
pub(crate) fn expand(
    text: &str,
    v: &Spanned<DeValue<'_>>,
    keys: &[Key],
    out: &mut Vec<Given>,
) -> Result<(), (Span, String)> {
    let DeValue::Array(sites) = v.get_ref() else {
        return Err((v.span(), "site: expected [[site]] tables".into()));
    };
    let id = |name: &str| keys.iter().find(|k| k.name == name).map(|k| k.id.clone()).unwrap_or_default();
    for site in sites.iter() {
        let DeValue::Table(t) = site.get_ref() else {
            return Err((site.span(), "site: expected [[site]] tables".into()));
        };
        let mut names = Vec::new();
        let (mut root, mut cert, mut key) = (None, None, None);
        for (k, v) in t.iter() {
            let name: &str = k.get_ref();
            match name {
                "name" => names.push(string_of(v, "name")?),
                "names" => match v.get_ref() {
                    DeValue::Array(a) => {
                        for n in a.iter() {
                            names.push(string_of(n, "names")?);
                        }
                    }
                    _ => return Err((k.span(), "names: expected a list of host names".into())),
                },
                "root" => root = Some(string_of(v, "root")?),
                "cert" => cert = Some((string_of(v, "cert")?, k.span())),
                "key" => key = Some(string_of(v, "key")?),
                other if keys.iter().any(|key| key.name == other) => {
                    return Err((
                        k.span(),
                        format!(
                            "\"{other}\" cannot be set per site (a site has {}); as a top-level key it applies to every site",
                            SITE_KEYS.join(", ")
                        ),
                    ))
                }
                other => {
                    let hint = keys::suggest(other, SITE_KEYS.iter().copied())
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    return Err((k.span(), format!("unknown key \"{other}\" in [[site]]{hint}")));
                }
            }
        }
        let here = site.span();
        let Some(root) = root else {
            return Err((here, "[[site]] without root: every site needs its directory".into()));
        };
        if names.is_empty() {
            return Err((here, "[[site]] without name: set name = \"example.com\" or names = [...]".into()));
        }
        let line = line_of(text, here.start);
        for n in &names {
            let value = format!("{n}={root}");
            out.push(Given {
                id: id("vhost"),
                key: "vhost".into(),
                line,
                tokens: vec![OsString::from(format!("--vhost={value}"))],
                values: vec![value],
            });
        }
        match (cert, key) {
            (None, None) => {}
            (Some((cert, span)), Some(key)) => {
                if cert.contains(',') || key.contains(',') {
                    return Err((span, "cert, key: a path with a comma cannot be given to --tls".into()));
                }
                for n in &names {
                    let value = format!("{n}={cert},{key}");
                    out.push(Given {
                        id: id("tls"),
                        key: "tls".into(),
                        line,
                        tokens: vec![OsString::from(format!("--tls={value}"))],
                        values: vec![value],
                    });
                }
            }
            _ => return Err((here, "[[site]] needs both cert and key, or neither".into())),
        }
    }
    Ok(())
}
