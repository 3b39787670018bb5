//! The flags about the config file itself (no key of their own: see `keys::NOT_SETTINGS`).

use std::path::PathBuf;

use clap::Args;

/// `--config FILE` and `--dump-options`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Config file")]
pub(crate) struct ConfigArgs {
    /// Read settings from FILE (TOML; a key per flag, `[[site]]` tables for virtual hosts).
    /// The environment (`POLLUX_KEEPALIVE_TIMEOUT=5s`) overrides the file, the command line
    /// both.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Print the effective settings as a config file (each with where it came from) and exit.
    #[arg(long)]
    pub(crate) dump_options: bool,
}
