//! Precompressed sidecars: `PATH.br`, `PATH.zst` and `PATH.gz` beside `PATH`, made by the
//! operator's build (e.g. `brotli -k`, `zstd -k`, `gzip -k`), usually at the highest levels.
//!
//! A sidecar is used when it is a regular file whose mtime is not older than the original's:
//! an older one was made from a previous version. Symlinked sidecars are ignored, so a link
//! beside a file can never serve bytes from outside the root.
//!
//! Probing costs three `lstat`s; its result (found or not) is cached per file version by the
//! caller, so the hot path costs none. The file is opened per request (the body needs the
//! descriptor anyway) and `fstat`ed, which catches a sidecar replaced since the probe.

use std::ffi::OsString;
use std::fs::{Metadata, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use pollux_server::Body;

use super::{Coding, Encoded};

/// A sidecar found by a probe.
#[derive(Debug, Clone)]
pub(crate) struct Sidecar {
    len: u64,
    modified: SystemTime,
    id: (u64, u64),
    /// The sidecar's own strong validator: a new sidecar for an unchanged original is new
    /// content, so the tag must follow the sidecar, not the original.
    etag: HeaderValue,
}

/// `PATH.ext` for a coding's usual file extension.
pub(crate) fn path_for(original: &Path, coding: Coding) -> PathBuf {
    let mut s = OsString::from(original.as_os_str());
    s.push(match coding {
        Coding::Br => ".br",
        Coding::Zstd => ".zst",
        Coding::Gzip => ".gz",
    });
    PathBuf::from(s)
}

/// The usable sidecars of `original` (last modified at `modified`), by [`Coding::index`].
pub(crate) fn probe(original: &Path, modified: SystemTime) -> [Option<Sidecar>; 3] {
    Coding::ALL.map(|c| {
        let meta = std::fs::symlink_metadata(path_for(original, c)).ok()?;
        if !usable(&meta, modified) {
            return None;
        }
        Some(Sidecar {
            len: meta.len(),
            modified: meta.modified().ok()?,
            id: (meta.dev(), meta.ino()),
            etag: etag(&meta, c),
        })
    })
}

/// Opens a probed sidecar as the response body, or `None` when it is gone or has changed
/// since the probe (the caller then probes again on the next request).
pub(crate) fn open(
    original: &Path,
    coding: Coding,
    found: &Sidecar,
    modified: SystemTime,
) -> Option<Encoded> {
    // O_NOFOLLOW: the probe saw a regular file; a symlink swapped in since is refused too.
    let file =
        OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path_for(original, coding)).ok()?;
    let meta = file.metadata().ok()?;
    let same = meta.len() == found.len
        && (meta.dev(), meta.ino()) == found.id
        && meta.modified().ok() == Some(found.modified);
    if !same || !usable(&meta, modified) {
        return None;
    }
    Some(Encoded {
        coding,
        body: Body::File { file: Arc::new(file), offset: 0, len: found.len },
        len: found.len,
        etag: found.etag.clone(),
    })
}

fn usable(meta: &Metadata, original_modified: SystemTime) -> bool {
    meta.file_type().is_file() && meta.modified().is_ok_and(|m| m >= original_modified)
}

/// `"dev-ino-len-mtime-br"`: like the original's tag, but of the sidecar file.
fn etag(meta: &Metadata, coding: Coding) -> HeaderValue {
    let nanos =
        meta.modified().ok().and_then(|m| m.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let tag =
        format!("\"{:x}-{:x}-{:x}-{:x}-{}\"", meta.dev(), meta.ino(), meta.len(), nanos, coding.token());
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"sidecar\""))
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::Duration;

    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pollux-sidecar-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    fn set_mtime(p: &Path, t: SystemTime) {
        File::options().write(true).open(p).and_then(|f| f.set_modified(t)).expect("set mtime");
    }

    #[test]
    fn finds_fresh_sidecars_and_ignores_stale_and_linked_ones() {
        let d = dir("probe");
        let orig = d.join("app.js");
        std::fs::write(&orig, "x").expect("write");
        let t = SystemTime::now();
        set_mtime(&orig, t);
        std::fs::write(d.join("app.js.br"), "br!").expect("write");
        set_mtime(&d.join("app.js.br"), t); // same second: not older, so usable
        std::fs::write(d.join("app.js.gz"), "gz").expect("write");
        set_mtime(&d.join("app.js.gz"), t - Duration::from_secs(10));
        std::os::unix::fs::symlink(d.join("app.js.br"), d.join("app.js.zst")).expect("symlink");

        let found = probe(&orig, t);
        let br = found[Coding::Br.index()].as_ref().expect("br sidecar");
        assert_eq!(br.len, 3);
        assert!(br.etag.to_str().is_ok_and(|e| e.ends_with("-br\"")));
        assert!(found[Coding::Zstd.index()].is_none(), "symlinked sidecar ignored");
        assert!(found[Coding::Gzip.index()].is_none(), "older sidecar ignored");

        let enc = open(&orig, Coding::Br, br, t).expect("opens");
        assert_eq!((enc.len, enc.coding), (3, Coding::Br));
        assert!(matches!(enc.body, Body::File { offset: 0, len: 3, .. }));

        // Replaced after the probe: refused until probed again.
        std::fs::write(d.join("app.js.br"), "changed").expect("write");
        assert!(open(&orig, Coding::Br, br, t).is_none());
        let _ = std::fs::remove_dir_all(&d);
    }
}
