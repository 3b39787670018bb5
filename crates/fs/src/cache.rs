//! What the handler knows about a file: its facts (length, times, validators) and, for small
//! files, its bytes.
//!
//! STUB (uncached): every lookup stats and, for the body, opens the file. The per-worker cache
//! replaces the inside of `lookup` without changing this interface.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use pollux_server::Body;

/// An immutable snapshot of a file's metadata and the validators derived from it.
#[derive(Debug)]
pub(crate) struct FileFacts {
    pub(crate) len: u64,
    pub(crate) modified: SystemTime,
    /// Strong validator (RFC 9110 §8.8.3): device, inode, length and mtime in nanoseconds, so
    /// any change of content that changes any of them changes the tag.
    pub(crate) etag: HeaderValue,
    /// `Last-Modified` (RFC 9110 §8.8.2), IMF-fixdate.
    pub(crate) last_modified: HeaderValue,
    pub(crate) is_dir: bool,
    /// (device, inode): the file's identity, e.g. as a compression-cache key.
    pub(crate) id: (u64, u64),
}

/// A file found under the root: its facts and where its bytes come from.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub(crate) facts: Arc<FileFacts>,
    /// The resolved path on disk.
    pub(crate) path: PathBuf,
    memory: Option<Bytes>,
}

impl Opened {
    /// The body for bytes `offset..offset + len` of the file.
    pub(crate) fn body(&self, offset: u64, len: u64) -> io::Result<Body> {
        if let Some(m) = &self.memory {
            let (a, b) = (offset as usize, (offset + len) as usize);
            return Ok(Body::Bytes(m.slice(a..b.min(m.len()))));
        }
        let file = File::open(&self.path)?;
        Ok(Body::File { file, offset, len })
    }

    /// The whole content when it is held in memory (small files).
    pub(crate) fn bytes(&self) -> Option<&Bytes> {
        self.memory.as_ref()
    }
}

/// Looks up `root/rel`. With `follow_symlinks` false, a path whose real location is outside
/// `root` is reported as `NotFound` (the caller's 404).
pub(crate) fn lookup(root: &Path, rel: &Path, follow_symlinks: bool) -> io::Result<Opened> {
    let path = root.join(rel);
    let meta = std::fs::metadata(&path)?;
    if !follow_symlinks {
        let real = path.canonicalize()?;
        if !real.starts_with(root) {
            return Err(io::ErrorKind::NotFound.into());
        }
    }
    Ok(Opened { facts: Arc::new(facts(&meta)), path, memory: None })
}

pub(crate) fn facts(meta: &Metadata) -> FileFacts {
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let nanos = modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{:x}-{:x}-{:x}\"", meta.dev(), meta.ino(), meta.len(), nanos);
    FileFacts {
        len: meta.len(),
        modified,
        etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified))
            .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
        is_dir: meta.is_dir(),
        id: (meta.dev(), meta.ino()),
    }
}
