//! Which local file a TFTP filename names, and whether the request may touch it.
//!
//! A TFTP filename is not a URL, but it must stay inside the served directory exactly as an
//! HTTP request path does, so it goes through the same [`pollux_path::resolve`] after two
//! TFTP-specific steps:
//!
//! - `%` is escaped first, so that a name is taken literally (`a%2fb` is the file named
//!   `a%2fb`, never `a/b`), and one leading `/` or none is accepted (clients differ);
//! - any `..` segment refuses the request (ERROR 2) instead of being clamped at the root:
//!   a TFTP client has no business climbing, and tftpd-hpa refuses it too.
//!
//! Then, as the static file handler does: a backslash or NUL refuses the name, dotfiles are
//! not served (nor written), and a path whose real location (symlinks resolved) leaves the
//! root is refused. Uploads go to a hidden temporary file beside the target and are renamed
//! over it only once the last block is in, so a failed upload leaves nothing behind and a
//! reader never sees half a file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use pollux_tftp::ErrorCode;

/// What the server allows beyond reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WritePolicy {
    /// WRQ may replace existing files.
    pub allow_write: bool,
    /// WRQ may create new files (this implies writing).
    pub create: bool,
}

/// A refused request: the ERROR code and message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code sent to the client.
    pub code: ErrorCode,
    /// The message sent to the client (and logged).
    pub message: &'static str,
}

fn refuse(code: ErrorCode, message: &'static str) -> Refusal {
    Refusal { code, message }
}

fn not_found() -> Refusal {
    refuse(ErrorCode::FileNotFound, "File not found")
}

fn access(message: &'static str) -> Refusal {
    refuse(ErrorCode::AccessViolation, message)
}

/// The path relative to `root` that `filename` names, or why not.
pub fn relative(filename: &str) -> Result<PathBuf, Refusal> {
    let name = filename.strip_prefix('/').unwrap_or(filename);
    if name.split(['/', '\\']).any(|seg| seg == "..") {
        return Err(access("Access violation: '..' in filename"));
    }
    let escaped = format!("/{}", name.replace('%', "%25"));
    let rel = pollux_path::resolve(&escaped).ok_or(access("Access violation: invalid filename"))?;
    if rel.as_os_str().is_empty() {
        return Err(access("Access violation: not a file"));
    }
    Ok(rel.into_owned())
}

/// Opens `filename` under `root` (canonical) for an RRQ; returns the file and its size.
pub fn open_read(root: &Path, filename: &str) -> Result<(File, u64), Refusal> {
    let rel = relative(filename)?;
    if pollux_path::is_hidden(&rel) {
        return Err(not_found());
    }
    let real = root.join(&rel).canonicalize().map_err(|e| io_refusal(&e))?;
    if !real.starts_with(root) {
        // A symlink inside the root that points out of it: as if absent (like HTTP's 404).
        return Err(not_found());
    }
    let file = File::open(&real).map_err(|e| io_refusal(&e))?;
    let meta = file.metadata().map_err(|e| io_refusal(&e))?;
    if !meta.is_file() {
        return Err(access("Access violation: not a regular file"));
    }
    Ok((file, meta.len()))
}

/// An upload in progress: bytes go to `temp`, renamed to `target` by [`Upload::commit`].
#[derive(Debug)]
pub struct Upload {
    /// The open temporary file.
    pub file: File,
    temp: PathBuf,
    target: PathBuf,
    /// The permissions of the file being replaced, kept across the rename.
    keep: Option<fs::Permissions>,
}

impl Upload {
    /// Moves the finished file into place.
    pub fn commit(self) -> io::Result<()> {
        if let Some(perms) = &self.keep {
            let _ = self.file.set_permissions(perms.clone());
        }
        drop(self.file);
        fs::rename(&self.temp, &self.target).inspect_err(|_| {
            let _ = fs::remove_file(&self.temp);
        })
    }

    /// Throws the partial file away.
    pub fn discard(self) {
        drop(self.file);
        let _ = fs::remove_file(&self.temp);
    }
}

/// Prepares `filename` under `root` (canonical) for a WRQ: checks the policy, then creates
/// the temporary file. `unique` makes temporary names distinct between concurrent uploads.
pub fn open_write(root: &Path, filename: &str, policy: WritePolicy, unique: u64) -> Result<Upload, Refusal> {
    if !policy.allow_write && !policy.create {
        return Err(access("Access violation: server is read-only"));
    }
    let rel = relative(filename)?;
    if pollux_path::is_hidden(&rel) {
        return Err(access("Access violation: hidden file"));
    }
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(access("Access violation: not a file"));
    };
    let dir = root.join(parent).canonicalize().map_err(|e| io_refusal(&e))?;
    if !dir.starts_with(root) {
        return Err(access("Access violation: outside the served directory"));
    }
    let target = dir.join(name);
    let keep = match fs::symlink_metadata(&target) {
        Ok(meta) if meta.file_type().is_symlink() => {
            // Writing through a symlink would replace the link, not what it names; refuse
            // rather than guess which one the client meant.
            return Err(access("Access violation: symbolic link"));
        }
        Ok(meta) if !meta.is_file() => return Err(access("Access violation: not a regular file")),
        Ok(meta) if !policy.allow_write => {
            let _ = meta;
            return Err(refuse(ErrorCode::FileExists, "File already exists"));
        }
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !policy.create {
                return Err(access("Access violation: new files need --create"));
            }
            None
        }
        Err(e) => return Err(io_refusal(&e)),
    };
    let temp = dir.join(format!(".{}.tftp-{}-{unique}", name.to_string_lossy(), std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).open(&temp).map_err(|e| io_refusal(&e))?;
    Ok(Upload { file, temp, target, keep })
}

/// The ERROR for a local I/O failure.
pub fn io_refusal(e: &io::Error) -> Refusal {
    match e.kind() {
        io::ErrorKind::NotFound => not_found(),
        io::ErrorKind::PermissionDenied => access("Access violation"),
        _ if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT) => {
            refuse(ErrorCode::DiskFull, "Disk full or allocation exceeded")
        }
        _ if e.raw_os_error() == Some(libc::ENOTDIR) => not_found(),
        _ => refuse(ErrorCode::NotDefined, "I/O error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_literally_and_never_climb() {
        assert_eq!(relative("a/b.txt"), Ok(PathBuf::from("a/b.txt")));
        assert_eq!(relative("/a/b.txt"), Ok(PathBuf::from("a/b.txt")));
        assert_eq!(relative("a%2fb"), Ok(PathBuf::from("a%2fb")));
        assert_eq!(relative("./a//b"), Ok(PathBuf::from("a/b")));
        for bad in ["../etc/passwd", "a/../../b", "/..", "..\\x", "a\\b", "/", "."] {
            assert_eq!(relative(bad).map_err(|r| r.code), Err(ErrorCode::AccessViolation), "{bad}");
        }
    }

    #[test]
    fn write_policy() {
        let root = std::env::temp_dir().join(format!("pollux-tftp-files-{}", std::process::id()));
        fs::create_dir_all(&root).expect("mkdir");
        let root = root.canonicalize().expect("canonical");
        fs::write(root.join("old"), b"x").expect("write");
        let code = |name: &str, allow_write, create| {
            open_write(&root, name, WritePolicy { allow_write, create }, 1)
                .map(Upload::discard)
                .map_err(|r| r.code)
        };
        assert_eq!(code("old", false, false), Err(ErrorCode::AccessViolation));
        assert_eq!(code("new", true, false), Err(ErrorCode::AccessViolation));
        assert_eq!(code("old", false, true), Err(ErrorCode::FileExists));
        assert_eq!(code("old", true, false), Ok(()));
        assert_eq!(code("new", true, true), Ok(()));
        assert_eq!(code(".hidden", true, true), Err(ErrorCode::AccessViolation));
        assert_eq!(code("nodir/new", true, true), Err(ErrorCode::FileNotFound));
        let up = open_write(&root, "new", WritePolicy { allow_write: true, create: true }, 2).expect("ok");
        up.commit().expect("rename");
        assert!(root.join("new").exists());
        // Nothing but the two files: temporaries are gone.
        assert_eq!(fs::read_dir(&root).expect("ls").count(), 2);
        let _ = fs::remove_dir_all(&root);
    }
}
