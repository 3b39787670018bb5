//! Reload when a certificate, key or CA file changes on disk: a thread polls each file's
//! (mtime, length, inode) and calls `Tls::reload` when any changed. Polling rather than
//! inotify: a handful of `stat`s every few seconds costs nothing, needs no `unsafe`, and sees
//! the symlink swaps of Kubernetes secrets and certbot's `live/` links, which watch the link's
//! directory, not the file, with inotify.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use crate::{Error, Tls};

/// What a file looked like; `None` when it could not be stat'ed (being replaced, or gone).
type Stamp = Option<(Option<SystemTime>, u64, u64)>;

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files.iter().map(|f| std::fs::metadata(f).ok().map(|m| (m.modified().ok(), m.len(), m.ino()))).collect()
}

impl Tls {
    /// Starts the `tls-watch` thread: every `every` it looks at each file [`Tls::files`] lists
    /// and, when any changed, reloads and calls `report` with the outcome, once per change. A
    /// broken file that stays broken is reported once, not on every poll; the next change to
    /// any file tries again. The thread stops by itself once every other owner of this `Tls`
    /// has dropped it (it holds only a weak reference between polls).
    ///
    /// # Panics
    /// If the OS cannot start a thread, as [`std::thread::spawn`] does.
    pub fn watch(
        self: Arc<Self>,
        every: Duration,
        report: impl Fn(Result<(), Error>) + Send + 'static,
    ) -> JoinHandle<()> {
        let files = self.files();
        let weak = Arc::downgrade(&self);
        drop(self);
        let mut seen = stamps(&files);
        thread::Builder::new()
            .name("tls-watch".into())
            .spawn(move || loop {
                thread::sleep(every);
                let Some(tls) = weak.upgrade() else { return };
                let now = stamps(&files);
                if now != seen {
                    seen = now;
                    report(tls.reload());
                }
            })
            .expect("cannot start the tls-watch thread")
    }
}
