//! `pollux serve --config FILE` and the `POLLUX_*` environment: settings from a TOML file and
//! the environment, merged under the command line by clap itself.
//!
//! ```text
//!  argv ─► clap (errors ignored) ─► which flags the command line gave (value_source)
//!  FILE ─► file::parse (keys, lines) ─┐
//!  POLLUX_* ───────────────────────────┼─► tokens for every other flag ─► argv' = serve FILE ENV argv
//!                                      └─► origins (which token came from which line or variable)
//!  argv' ─► clap again: the one parse, with every value parser and conflict check
//! ```
//!
//! Precedence is defaults < file < environment < command line: a flag the command line gave
//! takes nothing from the file or the environment, a repeatable one included (its list
//! replaces the file's), and a variable replaces the file's key. The keys and variables come
//! from clap's definition of `pollux serve` ([`keys`]), so a flag added later has both.

mod args;
mod dump;
mod file;
mod given;
pub(crate) mod keys;
mod site;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;

pub(crate) use args::ConfigArgs;
pub(crate) use dump::dump;
pub(crate) use file::FileError;
pub(crate) use given::Given;
use keys::{Key, Kind};

/// Where a setting that was not typed on the command line came from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    File { path: PathBuf, line: usize },
    Env { var: String },
}

/// The command line with the file's and the environment's settings in it.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) argv: Vec<OsString>,
    /// One entry per file key or variable used: its flag's id, values and origin.
    given: Vec<(Given, Origin)>,
}

/// The settings of a config file, checked against the flags of `pollux serve`. What SIGHUP
/// reloading reads again (with [`serve_argv`] for the whole merge).
#[derive(Debug)]
pub(crate) struct Loaded {
    /// Every key, in file order, as the tokens of its flag.
    pub(crate) given: Vec<Given>,
}

/// Reads and checks the config file at `path`: TOML syntax, known keys, value types. Values
/// themselves are checked by clap when the tokens are parsed ([`serve_argv`]).
pub(crate) fn load(path: &Path) -> Result<Loaded, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError {
        path: path.to_owned(),
        line: None,
        message: e.to_string(),
    })?;
    let given = file::parse(path, &text, &keys::all())?;
    Ok(Loaded { given })
}

/// The full argv (`pollux serve …`) with the settings of the file named by `--config` and of
/// the environment (`var` looks a variable up) put before what was typed. Any other
/// subcommand's argv is returned as it is.
pub(crate) fn prepare(
    argv: Vec<OsString>,
    var: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Prepared> {
    let unchanged = |argv| Ok(Prepared { argv, given: Vec::new() });
    // A first parse that ignores errors, to learn what the command line itself gives (a flag
    // that needs another one from the file is an error only until the file is read).
    let first = cli_command()
        .ignore_errors(true)
        .mut_subcommand("serve", |c| c.ignore_errors(true))
        .try_get_matches_from(&argv);
    let Ok(first) = first else { return unchanged(argv) };
    let Some(("serve", m)) = first.subcommand() else { return unchanged(argv) };
    let Some(at) = argv.iter().skip(1).position(|a| a == "serve").map(|i| i + 1) else {
        return unchanged(argv);
    };
    let from_cli = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
    let mut in_file = Vec::new();
    if let Some(path) = m.get_one::<PathBuf>("config") {
        let loaded = load(path)?;
        in_file =
            loaded.given.into_iter().map(|g| (g, Origin::File { path: path.clone(), line: 0 })).collect();
        for (g, o) in &mut in_file {
            if let Origin::File { line, .. } = o {
                *line = g.line;
            }
        }
    }
    let mut from_file = Vec::new();
    let mut from_env = Vec::new();
    for key in keys::all() {
        if from_cli(&key.id) {
            continue;
        }
        let name = key.var();
        let env = if keys::RESERVED_VARS.contains(&name.as_str()) { None } else { var(&name) };
        match env {
            Some(value) => from_env.push((env_given(&key, &value)?, Origin::Env { var: name })),
            None => from_file.extend(in_file.iter().filter(|(g, _)| g.id == key.id).cloned()),
        }
    }
    let mut out: Vec<OsString> = argv[..=at].to_vec();
    let given: Vec<(Given, Origin)> = from_file.into_iter().chain(from_env).collect();
    for (g, _) in &given {
        out.extend(g.tokens.iter().cloned());
    }
    out.extend(argv[at + 1..].iter().cloned());
    Ok(Prepared { argv: out, given })
}

/// A variable's value as the tokens of its flag.
fn env_given(key: &Key, value: &OsStr) -> anyhow::Result<Given> {
    let name = key.var();
    let text = value.to_string_lossy();
    let mut tokens = Vec::new();
    match key.kind {
        Kind::Switch => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => tokens.push(key.bare()),
            "0" | "false" | "no" | "off" | "" => {
                if let Some(no) = &key.negation {
                    tokens.push(format!("--{no}").into());
                }
            }
            _ => anyhow::bail!("{name}={text}: expected 1 or 0 (true/false, yes/no, on/off)"),
        },
        Kind::OptionalValue if value.is_empty() => tokens.push(key.bare()),
        _ => tokens.push(key.token(value)),
    }
    Ok(Given { id: key.id.clone(), key: key.name.clone(), line: 0, values: vec![text.into_owned()], tokens })
}

impl Prepared {
    /// A clap error about a value that came from the file or the environment, as the one line
    /// that names where it came from (`pollux.toml:7: workers: 'abc' is not a number`). `None`
    /// when the error is about what was typed: clap's own message says it best.
    pub(crate) fn explain(&self, e: &clap::Error) -> Option<String> {
        let arg = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(s)) => s.clone(),
            // The missing ones, for "required arguments were not provided".
            Some(ContextValue::Strings(s)) => s.first().cloned().unwrap_or_default(),
            _ => return None,
        };
        let value = match e.get(ContextKind::InvalidValue) {
            Some(ContextValue::String(s)) => Some(s.clone()),
            _ => None,
        };
        let keys = keys::all();
        let id_of = |arg: &str| {
            let name = arg.trim_start_matches('-');
            let name = name.split([' ', '=']).next().unwrap_or(name);
            let name = name.trim_matches(['[', ']', '<', '>', '.']).to_ascii_lowercase();
            keys.iter().find(|k| k.name == name || k.id == name).map(|k| k.id.clone())
        };
        let find = |arg: &str| {
            let id = id_of(arg)?;
            let mut it = self.given.iter().filter(|(g, _)| g.id == id);
            let first = it.clone().next()?;
            Some(match &value {
                Some(v) => it.find(|(g, _)| g.values.contains(v)).unwrap_or(first),
                None => first,
            })
        };
        let prior = match e.get(ContextKind::PriorArg) {
            Some(ContextValue::String(s)) => Some(s.clone()),
            _ => None,
        };
        let (g, origin) =
            find(&arg).or_else(|| prior.as_deref().and_then(find)).or_else(|| self.requirer(e))?;
        let what = match (e.kind(), &value) {
            (ErrorKind::ValueValidation, Some(v)) => {
                let cause = std::error::Error::source(e).map(|c| c.to_string()).unwrap_or_default();
                format!("{}: {}", g.key, cause_text(v, &cause))
            }
            (ErrorKind::InvalidValue, Some(v)) => {
                let valid = match e.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(s)) => s.join(", "),
                    _ => String::new(),
                };
                format!("{}: \"{v}\" is not one of {valid}", g.key)
            }
            _ => format!("{}: {}", g.key, crate::clap_line(e)),
        };
        Some(match origin {
            Origin::File { path, line } => format!("{}:{line}: {what}", path.display()),
            Origin::Env { var } => format!("{var}: {what}"),
        })
    }

    /// For "required arguments were not provided": the file key or variable that needs the
    /// missing flag (clap names only the missing one). Found by leaving each setting out in
    /// turn: the one whose absence ends the complaint.
    fn requirer(&self, e: &clap::Error) -> Option<&(Given, Origin)> {
        if e.kind() != ErrorKind::MissingRequiredArgument {
            return None;
        }
        self.given.iter().find(|(g, _)| {
            let argv: Vec<&OsString> = self.argv.iter().filter(|a| !g.tokens.contains(a)).collect();
            match cli_command().try_get_matches_from(argv) {
                Ok(_) => true,
                Err(again) => again.kind() != ErrorKind::MissingRequiredArgument,
            }
        })
    }

    /// Where the setting of flag `id` came from, if not from the command line or a default.
    pub(crate) fn origin(&self, id: &str) -> Option<&Origin> {
        self.given.iter().find(|(g, _)| g.id == id).map(|(_, o)| o)
    }

    /// How many settings came from the file.
    pub(crate) fn file_keys(&self) -> usize {
        let mut lines: Vec<usize> = self
            .given
            .iter()
            .filter_map(|(_, o)| match o {
                Origin::File { line, .. } => Some(*line),
                Origin::Env { .. } => None,
            })
            .collect();
        lines.dedup();
        lines.len()
    }
}

/// A value parser's complaint made to read well after the key: std's integer parse errors
/// do not say which text they refused.
fn cause_text(value: &str, cause: &str) -> String {
    match cause {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            format!("\"{value}\" is not a number")
        }
        "number too large to fit in target type" => format!("{value} is too large"),
        "number too small to fit in target type" => format!("{value} is too small"),
        c if c.contains(value) => c.to_owned(),
        c => format!("\"{value}\": {c}"),
    }
}

/// `pollux serve`'s settings for the process's own command line and environment, with the
/// config file read again: what SIGHUP calls (with `std::env::args_os()`) to pick up a changed
/// file. Errors are one line each, naming the file's line as at start. Generic over the
/// arguments' type (`serve::ServeArgs`, which calls it) so that this module does not use
/// `serve` back.
pub(crate) fn serve_args<A: clap::FromArgMatches>(argv: Vec<OsString>) -> anyhow::Result<A> {
    let prepared = prepare(argv, &|v| std::env::var_os(v))?;
    let m = cli_command()
        .try_get_matches_from(&prepared.argv)
        .map_err(|e| anyhow::anyhow!(prepared.explain(&e).unwrap_or_else(|| crate::clap_line(&e))))?;
    let Some(("serve", m)) = m.subcommand() else { anyhow::bail!("not a `pollux serve` command line") };
    A::from_arg_matches(m).map_err(|e| anyhow::anyhow!(crate::clap_line(&e)))
}

/// The whole command line as clap defines it.
pub(crate) fn cli_command() -> clap::Command {
    <crate::Cli as clap::CommandFactory>::command()
}
