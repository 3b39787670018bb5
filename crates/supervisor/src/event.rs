//! What reaches the supervisor's loop, from the threads that watch children, signals, files
//! and an upgrade.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

/// One happening, on the supervisor's one channel.
pub(crate) enum Event {
    Ready(u64),
    Retire(u64),
    Exited(u64, io::Result<ExitStatus>),
    Signal(i32),
    Changed(PathBuf),
    /// The new supervisor of an upgrade serves (`Some(pid)`) or failed (`None`).
    Upgraded(Option<u32>),
}
