//! The keys of a config file and the names of the environment variables, derived from clap's
//! own definition of `pollux serve`: a flag added to `ServeArgs` (or to a struct flattened
//! into it) has its key and its variable with no code here.
//!
//! | flag                       | key                              | variable                      |
//! |----------------------------|----------------------------------|-------------------------------|
//! | `--keepalive-timeout 5s`   | `keepalive-timeout = "5s"`       | `POLLUX_KEEPALIVE_TIMEOUT=5s` |
//! | `--bind A --bind B`        | `bind = ["A", "B"]`              | `POLLUX_BIND=A` (one value)   |
//! | `--listing`                | `listing = true`                 | `POLLUX_LISTING=1`            |
//! | `ROOT` (the positional)    | `root = "/srv"`                  | `POLLUX_ROOT=/srv`            |

use clap::{ArgAction, Command};

/// Flags of `pollux serve` that are about the config file itself, not settings: no key, no
/// variable (a file naming another file, or a variable asking for a dump, would surprise).
const NOT_SETTINGS: &[&str] = &["config", "dump_options"];

/// Variables of ours that are not flags: set by the server for its own child processes. No
/// flag may ever be read from them (a WSGI child inherits POLLUX_LISTEN_FDS; were it a flag,
/// every child would get a setting nobody typed).
pub(crate) const RESERVED_VARS: &[&str] = &[
    pollux_supervisor::LISTEN_FDS,
    pollux_supervisor::GENERATION,
    pollux_supervisor::UPGRADE_FDS,
    pollux_supervisor::UPGRADE_NOTIFY,
    pollux_server::metrics::METRICS_FD,
    pollux_server::metrics::METRICS_SLOT,
    crate::tls::SELF_SIGNED_DIR,
];

/// How a flag takes its value, and so which TOML types its key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--listing`: `true` or `false`.
    Switch,
    /// `--workers 4`: one value (string or number).
    Value,
    /// `--self-signed[=NAMES]`: `true` for the bare flag, or a string.
    OptionalValue,
    /// `--bind A --bind B`: an array (or one value).
    Repeated,
    /// `ROOT`: one value, given without a flag.
    Positional,
}

/// One setting: a flag of `pollux serve` as a file and the environment name it.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// clap's id (the field name): what `ArgMatches` knows it by.
    pub(crate) id: String,
    /// The long flag name, which is the key (`keepalive-timeout`); the id for the positional.
    pub(crate) name: String,
    pub(crate) kind: Kind,
    /// For a switch `X` with a `no-X` switch beside it: `X = false` in a file means `--no-X`.
    pub(crate) negation: Option<String>,
}

impl Key {
    /// `POLLUX_KEEPALIVE_TIMEOUT` for `keepalive-timeout`.
    pub(crate) fn var(&self) -> String {
        format!("POLLUX_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }

    /// The command-line token for one value: `--bind=ADDR` (one token, so a value that starts
    /// with `-` is never taken for a flag), or the bare path for the positional.
    pub(crate) fn token(&self, value: &std::ffi::OsStr) -> std::ffi::OsString {
        if self.kind == Kind::Positional {
            let v = value.to_string_lossy();
            if v.starts_with('-') {
                return format!("./{v}").into();
            }
            return value.to_owned();
        }
        let mut t = std::ffi::OsString::from(format!("--{}=", self.name));
        t.push(value);
        t
    }

    /// The token of the flag alone (a switch, or `--self-signed` without a value).
    pub(crate) fn bare(&self) -> std::ffi::OsString {
        format!("--{}", self.name).into()
    }
}

/// `pollux serve` as clap defines it (not yet built: no `--help` among its arguments).
pub(crate) fn serve_command() -> Command {
    super::cli_command().find_subcommand("serve").cloned().unwrap_or_else(|| Command::new("serve"))
}

/// Every setting of `pollux serve`, in clap's order.
pub(crate) fn all() -> Vec<Key> {
    let cmd = serve_command();
    let mut keys: Vec<Key> = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if NOT_SETTINGS.contains(&id) || matches!(arg.get_action(), ArgAction::Help | ArgAction::Version) {
            continue;
        }
        let (name, kind) = if arg.is_positional() {
            (id.to_owned(), Kind::Positional)
        } else {
            let Some(long) = arg.get_long() else { continue };
            let optional = arg.get_num_args().is_some_and(|r| r.min_values() == 0 && r.max_values() > 0);
            let kind = match arg.get_action() {
                ArgAction::SetTrue => Kind::Switch,
                ArgAction::Append => Kind::Repeated,
                _ if optional => Kind::OptionalValue,
                _ => Kind::Value,
            };
            (long.to_owned(), kind)
        };
        keys.push(Key { id: id.to_owned(), name, kind, negation: None });
    }
    let switches: Vec<(String, String)> =
        keys.iter().filter(|k| k.kind == Kind::Switch).map(|k| (k.name.clone(), k.id.clone())).collect();
    for k in keys.iter_mut().filter(|k| k.kind == Kind::Switch) {
        let no = format!("no-{}", k.name);
        if switches.iter().any(|(name, _)| *name == no) {
            k.negation = Some(no);
        }
    }
    keys
}

/// The known key nearest to a mistyped one, if one is near enough: `keepalive_timout` →
/// `keepalive-timeout` (underscores are the usual slip: TOML users write them elsewhere).
pub(crate) fn suggest<'a>(typed: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.replace('_', "-").to_ascii_lowercase();
    names
        .into_iter()
        .map(|n| (strsim::jaro_winkler(&typed, n), n))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_a_key_and_none_reads_a_reserved_variable() {
        let keys = all();
        for name in ["bind", "keepalive-timeout", "listing", "root", "404", "tls", "self-signed"] {
            assert!(keys.iter().any(|k| k.name == name), "no key {name}");
        }
        for k in &keys {
            assert!(!RESERVED_VARS.contains(&k.var().as_str()), "{} would read {}", k.name, k.var());
        }
        assert!(!keys.iter().any(|k| k.name == "config" || k.name == "help"));
    }

    #[test]
    fn kinds_follow_the_flags() {
        let keys = all();
        let kind = |n: &str| keys.iter().find(|k| k.name == n).map(|k| k.kind);
        assert_eq!(kind("bind"), Some(Kind::Repeated));
        assert_eq!(kind("listing"), Some(Kind::Switch));
        assert_eq!(kind("workers"), Some(Kind::Value));
        assert_eq!(kind("self-signed"), Some(Kind::OptionalValue));
        assert_eq!(kind("root"), Some(Kind::Positional));
    }

    #[test]
    fn a_near_miss_is_suggested() {
        let names = ["keepalive-timeout", "header-timeout", "workers"];
        assert_eq!(suggest("keepalive_timout", names), Some("keepalive-timeout"));
        assert_eq!(suggest("worker", names), Some("workers"));
        assert_eq!(suggest("colour", names), None);
    }
}
