//! Headless Chromium, for tests that load a page the way a person's browser does.

use std::process::{Command, Output};
use std::time::Duration;

use crate::{run_within, TempRoot};

/// Runs headless Chromium with `args` (a URL, `--screenshot=FILE`, `--dump-dom`,
/// `--ignore-certificate-errors`...) in a fresh profile; killed after 90 s, so a wedged
/// browser cannot hang the suite.
pub fn chromium(args: &[&str]) -> Output {
    let profile = TempRoot::empty("chromium-profile");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.0.display()))
    .args(args);
    run_within(&mut cmd, Duration::from_secs(90), "chromium")
}
