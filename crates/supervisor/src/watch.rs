//! `--reload`: a `.py` file under the watched directories changed.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{Duration, SystemTime};

use crate::event::Event;

/// Files to skip while looking for changed sources: caches, VCS data, installed packages.
fn skipped(name: &str) -> bool {
    matches!(name, "__pycache__" | ".git" | ".hg" | "node_modules" | "site-packages" | ".tox" | ".mypy_cache")
}

/// The newest modification time and the number of `.py` files under `dirs` (bounded walk).
fn snapshot(dirs: &[PathBuf]) -> (Option<SystemTime>, usize, Option<PathBuf>) {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut count = 0;
    let mut stack: Vec<(PathBuf, usize)> = dirs.iter().map(|d| (d.clone(), 0)).collect();
    let mut seen = 0;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        // A virtualenv inside the project is the packages', not the app's.
        if dir.join("pyvenv.cfg").exists() {
            continue;
        }
        for e in entries.flatten() {
            seen += 1;
            if seen > 20_000 {
                break;
            }
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if depth < 12 && !skipped(&name) && !name.starts_with('.') {
                    stack.push((path, depth + 1));
                }
            } else if name.ends_with(".py") {
                count += 1;
                if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                    if newest.as_ref().is_none_or(|(t, _)| m > *t) {
                        newest = Some((m, path));
                    }
                }
            }
        }
    }
    let (t, p) = newest.map_or((None, None), |(t, p)| (Some(t), Some(p)));
    (t, count, p)
}

/// `--reload`: looks at the sources once a second (no inotify: the bounded walk costs
/// milliseconds for a project, and works on every file system).
pub(crate) fn watch(dirs: Vec<PathBuf>, tx: Sender<Event>) -> std::io::Result<()> {
    std::thread::Builder::new().name("reload".into()).spawn(move || {
        let (mut time, mut count, _) = snapshot(&dirs);
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let (t, c, p) = snapshot(&dirs);
            if t != time || c != count {
                time = t;
                count = c;
                let which = p.unwrap_or_else(|| dirs[0].clone());
                if tx.send(Event::Changed(which)).is_err() {
                    return;
                }
            }
        }
    })?;
    Ok(())
}
