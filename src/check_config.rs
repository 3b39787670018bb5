//! `pollux check-config FILE`: what `nginx -t` is for nginx. The file is read as
//! `pollux serve --config FILE` reads it (the environment left out: the file is checked, not
//! this shell), every value goes through the same clap parsers, the listening addresses are
//! resolved and the directories opened; nothing is bound.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches};

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The config file (TOML) to check.
    file: PathBuf,
}

pub(crate) fn run(args: CheckArgs) -> anyhow::Result<()> {
    let argv: Vec<OsString> =
        vec!["pollux".into(), "serve".into(), "--config".into(), args.file.clone().into()];
    let prepared = crate::config_file::prepare(argv, &|_| None)?;
    let m = crate::config_file::cli_command()
        .try_get_matches_from(&prepared.argv)
        .map_err(|e| anyhow::anyhow!(prepared.explain(&e).unwrap_or_else(|| crate::clap_line(&e))))?;
    let Some(("serve", m)) = m.subcommand() else {
        anyhow::bail!("{}: not a serve configuration", args.file.display())
    };
    let serve =
        crate::serve::ServeArgs::from_arg_matches(m).map_err(|e| anyhow::anyhow!(crate::clap_line(&e)))?;
    let summary = crate::serve::check(&serve)
        .map_err(|e| anyhow::anyhow!("{}: {}", args.file.display(), crate::one_line(&e)))?;
    println!("pollux: {}: ok ({} settings; {summary})", args.file.display(), prepared.file_keys());
    Ok(())
}
