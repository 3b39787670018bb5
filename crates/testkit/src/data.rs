//! Test data: temporary directories, byte patterns that catch a lost or doubled piece, and
//! comparisons that do not print megabytes on failure.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh temporary directory (canonical path), removed when dropped.
#[derive(Debug)]
pub struct TempRoot(pub PathBuf);

impl TempRoot {
    /// A directory to serve: it holds `index.html` (`<h1>hello</h1>`).
    pub fn new(tag: &str) -> TempRoot {
        let root = TempRoot::empty(tag);
        std::fs::write(root.0.join("index.html"), "<h1>hello</h1>\n").expect("write index");
        root
    }

    /// An empty directory.
    pub fn empty(tag: &str) -> TempRoot {
        // Unique within the process (a counter) and across processes (the pid); the tag says
        // which test left it behind if a test is killed before its drop.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("pollux-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        TempRoot(p.canonicalize().expect("canonical temp dir"))
    }

    /// `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pseudo-random byte pattern of `len` bytes (every byte value, not just text).
pub fn byte_pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `len` pseudo-random bytes (64-bit xorshift; the same for the same seed), for large files.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Compares two files without printing megabytes on failure.
pub fn assert_same_file(a: &Path, b: &Path) {
    let x = std::fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let y = std::fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert_eq!(x.len(), y.len(), "{} and {} differ in size", a.display(), b.display());
    if let Some(i) = x.iter().zip(&y).position(|(p, q)| p != q) {
        panic!("{} and {} differ at byte {i}", a.display(), b.display());
    }
}

/// A 1 MiB block for large uploads: not a repeating pattern of a pipe's or a buffer's size,
/// so a lost or doubled piece changes the hash. Send block `i` with its first byte set to
/// `i as u8` (see [`upload_sha256`]).
pub fn upload_block() -> Vec<u8> {
    let mut block = vec![0u8; 1 << 20];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    block
}

/// The SHA-256 (hex) of `count` numbered blocks, as an upload of them should hash.
pub fn upload_sha256(block: &mut [u8], count: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for i in 0..count {
        block[0] = i as u8;
        hasher.update(&*block);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
