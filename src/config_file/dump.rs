//! `--dump-options`: the effective settings of `pollux serve` as a config file, each with
//! where it came from (`nginx -T` for pollux); defaults are shown commented out. The output
//! loads as it is with `--config`.

use std::fmt::Write;

use clap::parser::ValueSource;
use clap::ArgMatches;

use super::keys::{self, Kind};
use super::{Origin, Prepared};

/// The settings in `m` (the `serve` subcommand's matches) as TOML, one key a line in clap's
/// order; flags with neither a value nor a default are left out.
pub(crate) fn dump(m: &ArgMatches, prepared: &Prepared) -> String {
    let mut out =
        String::from("# pollux serve: effective settings (default < file < environment < command line)\n");
    for key in keys::all() {
        let Some(source) = m.value_source(&key.id) else { continue };
        let from = match (prepared.origin(&key.id), source) {
            (Some(Origin::File { path, line }), _) => format!("{}:{line}", path.display()),
            (Some(Origin::Env { var }), _) => var.clone(),
            (None, ValueSource::DefaultValue) => "default".into(),
            (None, ValueSource::EnvVariable) => "environment".into(),
            (None, _) => "command line".into(),
        };
        let raw: Vec<String> = m
            .get_raw(&key.id)
            .map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = match key.kind {
            Kind::Switch => m.get_flag(&key.id).to_string(),
            Kind::Repeated => {
                let items: Vec<String> = raw.iter().map(|v| literal(v)).collect();
                format!("[{}]", items.join(", "))
            }
            Kind::OptionalValue if raw.iter().all(String::is_empty) => "true".into(),
            _ => match raw.first() {
                Some(v) => literal(v),
                None => continue,
            },
        };
        // Defaults as comments: the dump loads as a config file that sets only what was set
        // (a default written out would become a setting, and some need others, as
        // --wsgi-queue needs --wsgi).
        let comment =
            if source == ValueSource::DefaultValue && prepared.origin(&key.id).is_none() { "# " } else { "" };
        let _ = writeln!(out, "{comment}{} = {value}  # {from}", toml_key(&key.name));
    }
    out
}

/// A value as TOML: integers bare, everything else a string.
fn literal(v: &str) -> String {
    let digits = !v.is_empty() && v.len() < 19 && v.bytes().all(|b| b.is_ascii_digit());
    if digits && (v == "0" || !v.starts_with('0')) {
        return v.to_owned();
    }
    toml::Value::String(v.to_owned()).to_string()
}

fn toml_key(k: &str) -> String {
    if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        k.to_owned()
    } else {
        toml::Value::String(k.to_owned()).to_string()
    }
}
