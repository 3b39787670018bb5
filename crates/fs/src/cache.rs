//! What the handler knows about a file: its facts (length, times, validators, type) and, for
//! small files, its bytes or, for larger ones, an open descriptor — cached per worker thread.
//!
//! A hit costs no system call: an entry is trusted for [`REVALIDATE`] after it was last checked,
//! then one `stat` confirms it (same device, inode, length and mtime) or drops it. This is
//! nginx's `open_file_cache_valid` idea with a one-second window, so an edited or replaced file
//! is seen within a second. Files up to [`MAX_MEMORY_FILE`] are held in memory, bounded per
//! worker by [`MAX_MEMORY_BYTES`] and [`MAX_ENTRIES`]; up to [`MAX_OPEN_FILES`] larger ones are
//! kept open and sent from that descriptor with `sendfile` (past the bound, opened per
//! request). Each worker thread has its own cache (`thread_local!`): nothing is shared or
//! locked on the request path.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::ops::Deref;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use pollux_server::Body;

use crate::fixed::Fixed;

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

/// A file found under the root: its facts and where its bytes come from. Shared by the cache
/// and every response that uses it (`Arc<Opened>`: one reference count per hit).
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) facts: Arc<FileFacts>,
    /// The resolved path on disk (shared: cloning an `Opened` allocates nothing).
    pub(crate) path: Arc<Path>,
    memory: Option<Bytes>,
    /// An open descriptor for a larger file, shared by every response that sends it.
    file: Option<Arc<File>>,
    /// `Content-Type` from the file's name, worked out once rather than per response.
    pub(crate) content_type: HeaderValue,
    /// Whether that type is worth compressing (so responses vary by `Accept-Encoding`), also
    /// worked out once: the check scans a list of types.
    pub(crate) compressible: bool,
    /// The fields of the file's full answers, prepared by the first one ([`Fixed`]).
    pub(crate) fixed: OnceLock<Fixed>,
    /// The same for each content coding's full answers (indexed by `Coding::index`).
    pub(crate) fixed_encoded: [OnceLock<Fixed>; 3],
}

impl Opened {
    /// The body for bytes `offset..offset + len` of the file.
    pub(crate) fn body(&self, offset: u64, len: u64) -> io::Result<Body> {
        if let Some(m) = &self.memory {
            let end = (offset.saturating_add(len) as usize).min(m.len());
            return Ok(Body::Bytes(m.slice((offset as usize).min(end)..end)));
        }
        let file = match &self.file {
            Some(f) => f.clone(),
            None => Arc::new(File::open(&self.path)?),
        };
        Ok(Body::File { file, offset, len })
    }

    /// The whole content when it is held in memory (small files).
    pub(crate) fn bytes(&self) -> Option<&Bytes> {
        self.memory.as_ref()
    }
}

/// A directory files are looked up under, numbered: the cache finds a root's entries by
/// the number, one comparison where matching the path's bytes was a loop and a `memcmp`
/// (~40 instructions per lookup). A path gets the same number however often it is made a
/// `Root`, so everything serving one directory shares its entries, as with the paths.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    path: PathBuf,
    id: usize,
}

impl Root {
    pub(crate) fn new(path: PathBuf) -> Root {
        // Roots are made while configuring, a handful per process.
        static KNOWN: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
        let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
        let id = match known.iter().position(|p| p.as_os_str() == path.as_os_str()) {
            Some(i) => i,
            None => {
                known.push(path.clone());
                known.len() - 1
            }
        };
        Root { path, id }
    }
}

impl Deref for Root {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Root {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// How long a cached entry is trusted without a `stat`.
pub(crate) const REVALIDATE: Duration = Duration::from_secs(1);
/// Files up to this size are kept in memory: they are answered with no system call but the
/// socket write (and pipelined answers share one write). Larger ones are cheaper through
/// `sendfile` from a kept descriptor, which copies nothing in the server: for the 64 KiB
/// benchmark file 20-22 µs of server CPU per request against 40-45 µs when written from
/// memory (the same as `INLINE_BYTES`, where the write path stops copying).
pub(crate) const MAX_MEMORY_FILE: u64 = 16 * 1024;
/// Bytes of file content one worker keeps in memory.
pub(crate) const MAX_MEMORY_BYTES: usize = 32 * 1024 * 1024;
/// Entries one worker keeps (facts of large files and directories too).
pub(crate) const MAX_ENTRIES: usize = 8192;
/// Descriptors of larger files one worker keeps open (nginx's `open_file_cache` idea): a hit
/// then costs `sendfile` alone, not `open` + `sendfile` + `close`. At most this many, and at
/// most [`open_files_allowed`]'s share of `RLIMIT_NOFILE`, so the caches never take the
/// descriptors the connections need.
pub(crate) const MAX_OPEN_FILES: usize = 128;

/// This worker's bound on kept descriptors: [`MAX_OPEN_FILES`], or less under a low
/// descriptor limit — all workers' caches together take at most a 32nd of it (the reactor
/// keeps a 16th plus 32 in reserve beyond its connections).
fn open_files_allowed() -> usize {
    let nofile = usize::try_from(pollux_reactor::sys::nofile_limit()).unwrap_or(usize::MAX);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    (nofile / 32 / workers).min(MAX_OPEN_FILES)
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// One worker's cache. Entries are grouped by root (a handful: the default root and the
/// virtual hosts) and keyed by the relative path's bytes, so a hit needs neither a joined
/// `PathBuf` nor `Path`'s component-wise hashing — both showed in the profile.
struct Cache {
    roots: Vec<RootCache>,
    entries: usize,
    memory_bytes: usize,
    open_files: usize,
    /// [`open_files_allowed`], read when the worker's cache is created.
    open_files_max: usize,
}

struct RootCache {
    /// [`Root::id`].
    root: usize,
    follow_symlinks: bool,
    /// foldhash, not SipHash: 222 instructions per lookup went to hashing a short path. Only
    /// paths of files that exist become keys, so a client cannot fill the map with keys chosen
    /// to collide, and the hasher is seeded per process anyway.
    map: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
}

struct Entry {
    opened: Arc<Opened>,
    /// When the entry was last confirmed, on the caller's clock (`ServeDir::clock`).
    checked: Duration,
}

/// Looks up `root/rel` at time `now` (the serving clock's reading: an entry confirmed less than
/// [`REVALIDATE`] before `now` is trusted as it is). With `follow_symlinks` false, a path whose
/// real location is outside `root` is reported as `NotFound` (the caller's 404).
pub(crate) fn lookup(
    root: &Root,
    rel: &Path,
    follow_symlinks: bool,
    now: Duration,
) -> io::Result<Arc<Opened>> {
    let key = rel.as_os_str().as_bytes();
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let r = cache.root_index(root, follow_symlinks);
        if let Some(e) = cache.roots[r].map.get_mut(key) {
            if now.saturating_sub(e.checked) < REVALIDATE {
                return Ok(e.opened.clone());
            }
            if std::fs::metadata(&e.opened.path).is_ok_and(|m| same_file(&e.opened.facts, &m)) {
                e.checked = now;
                return Ok(e.opened.clone());
            }
            cache.remove(r, key);
        }
        let keep_open = cache.open_files < cache.open_files_max;
        let opened = Arc::new(load(root, &root.join(rel), follow_symlinks, keep_open)?);
        cache.insert(r, key.into(), Entry { opened: opened.clone(), checked: now });
        Ok(opened)
    })
}

/// A fresh look at the file system: stat, the symlink policy, and the content if small (or,
/// with `keep_open`, an open descriptor if large).
fn load(root: &Path, path: &Path, follow_symlinks: bool, keep_open: bool) -> io::Result<Opened> {
    let meta = std::fs::metadata(path)?;
    // A FIFO or device under the root would block the worker on open or read: only regular
    // files and directories exist as far as the web is concerned.
    if !meta.is_file() && !meta.is_dir() {
        return Err(io::ErrorKind::NotFound.into());
    }
    if !follow_symlinks {
        // The path was built from checked segments, but a symlink inside the root may point
        // out of it: only what really lies under the root is served.
        if !path.canonicalize()?.starts_with(root) {
            return Err(io::ErrorKind::NotFound.into());
        }
    }
    let facts = facts(&meta);
    let (mut memory, mut file) = (None, None);
    if meta.is_file() && meta.len() <= MAX_MEMORY_FILE {
        memory = read_small(path, &facts)?;
    } else if meta.is_file() && keep_open {
        // Keeping a descriptor is an optimisation: if the open fails (the descriptor table is
        // full, say) the response opens the file itself, or reports why it cannot.
        file = open_same(path, &facts).ok().flatten().map(Arc::new);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let content_type = crate::mime::content_type(name);
    let compressible = crate::coding::compressible(&content_type);
    Ok(Opened {
        facts: Arc::new(facts),
        path: path.into(),
        memory,
        file,
        content_type,
        compressible,
        fixed: OnceLock::new(),
        fixed_encoded: Default::default(),
    })
}

/// The content of a small file, unless it changed while we read it (then it is served from
/// the file this time and cached next time).
fn read_small(path: &Path, facts: &FileFacts) -> io::Result<Option<Bytes>> {
    let mut f = File::open(path)?;
    let mut buf = Vec::with_capacity(facts.len as usize + 1);
    f.by_ref().take(MAX_MEMORY_FILE + 1).read_to_end(&mut buf)?;
    let unchanged = buf.len() as u64 == facts.len && f.metadata().is_ok_and(|m| same_file(facts, &m));
    Ok(unchanged.then(|| Bytes::from(buf)))
}

/// The file opened, unless what opened is not what was stat'ed (replaced in between).
fn open_same(path: &Path, facts: &FileFacts) -> io::Result<Option<File>> {
    let f = File::open(path)?;
    Ok(f.metadata().is_ok_and(|m| same_file(facts, &m)).then_some(f))
}

fn same_file(f: &FileFacts, m: &Metadata) -> bool {
    f.len == m.len() && f.id == (m.dev(), m.ino()) && m.modified().is_ok_and(|t| t == f.modified)
}

impl Default for Cache {
    fn default() -> Cache {
        Cache {
            roots: Vec::new(),
            entries: 0,
            memory_bytes: 0,
            open_files: 0,
            open_files_max: open_files_allowed(),
        }
    }
}

impl Cache {
    fn root_index(&mut self, root: &Root, follow_symlinks: bool) -> usize {
        if let Some(i) =
            self.roots.iter().position(|r| r.root == root.id && r.follow_symlinks == follow_symlinks)
        {
            return i;
        }
        self.roots.push(RootCache { root: root.id, follow_symlinks, map: HashMap::default() });
        self.roots.len() - 1
    }

    fn remove(&mut self, r: usize, key: &[u8]) {
        if let Some(e) = self.roots[r].map.remove(key) {
            self.entries -= 1;
            self.memory_bytes -= e.opened.memory.as_ref().map_or(0, Bytes::len);
            self.open_files -= usize::from(e.opened.file.is_some());
        }
    }

    fn insert(&mut self, r: usize, key: Box<[u8]>, e: Entry) {
        let size = e.opened.memory.as_ref().map_or(0, Bytes::len);
        self.remove(r, &key);
        // Evict arbitrary entries (hash order, so effectively random) until the new one fits:
        // cheap, bounded, and good enough when the working set is smaller than the cache.
        while self.entries > 0 && (self.entries >= MAX_ENTRIES || self.memory_bytes + size > MAX_MEMORY_BYTES)
        {
            let Some((vr, victim)) = self
                .roots
                .iter()
                .enumerate()
                .find_map(|(i, rc)| rc.map.keys().next().map(|k| (i, k.clone())))
            else {
                break;
            };
            self.remove(vr, &victim);
        }
        self.entries += 1;
        self.memory_bytes += size;
        self.open_files += usize::from(e.opened.file.is_some());
        self.roots[r].map.insert(key, e);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> Root {
        let d = std::env::temp_dir().join(format!("pollux-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        Root::new(d.canonicalize().expect("canonical"))
    }

    /// A start for the simulated clock: any reading works, the cache only subtracts.
    const T0: Duration = Duration::from_secs(1000);
    const MS: Duration = Duration::from_millis(1);

    fn len_at(root: &Root, name: &str, now: Duration) -> u64 {
        lookup(root, Path::new(name), false, now).expect("found").facts.len
    }

    #[test]
    fn small_files_are_held_in_memory_and_edits_are_seen_after_revalidation() {
        let root = tmp("small");
        std::fs::write(root.join("a.txt"), "one").expect("write");
        let o = lookup(&root, Path::new("a.txt"), false, T0).expect("found");
        assert_eq!(o.bytes().map(|b| &b[..]), Some(&b"one"[..]));
        // Rewritten with a different length: within the window the cached copy is served, as
        // designed; at its end, the stat notices and the new content is loaded.
        std::fs::write(root.join("a.txt"), "three").expect("write");
        assert_eq!(len_at(&root, "a.txt", T0 + 999 * MS), 3);
        let o = lookup(&root, Path::new("a.txt"), false, T0 + REVALIDATE).expect("found");
        assert_eq!(o.bytes().map(|b| &b[..]), Some(&b"three"[..]));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_window_starts_again_at_each_revalidation() {
        let root = tmp("window");
        std::fs::write(root.join("a.txt"), "one").expect("write");
        assert_eq!(len_at(&root, "a.txt", T0), 3);
        // Confirmed unchanged at T0 + 1 s: trusted for another second from then, not from T0.
        assert_eq!(len_at(&root, "a.txt", T0 + REVALIDATE), 3);
        std::fs::write(root.join("a.txt"), "seven!!").expect("write");
        assert_eq!(len_at(&root, "a.txt", T0 + REVALIDATE + 999 * MS), 3);
        assert_eq!(len_at(&root, "a.txt", T0 + 2 * REVALIDATE), 7);
        // A clock that reads earlier than the check (another thread's coarse reading, say)
        // trusts the entry rather than underflowing.
        std::fs::write(root.join("a.txt"), "x").expect("write");
        assert_eq!(len_at(&root, "a.txt", T0), 7);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_removed_file_is_served_until_the_window_ends_then_not_found() {
        let root = tmp("gone");
        std::fs::write(root.join("a.txt"), "one").expect("write");
        assert_eq!(len_at(&root, "a.txt", T0), 3);
        std::fs::remove_file(root.join("a.txt")).expect("rm");
        assert_eq!(len_at(&root, "a.txt", T0 + 999 * MS), 3);
        let err = lookup(&root, Path::new("a.txt"), false, T0 + REVALIDATE).expect_err("gone");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn large_files_are_not_held_and_bodies_are_ranges_of_the_file() {
        let root = tmp("large");
        let data: Vec<u8> = (0..(MAX_MEMORY_FILE + 10)).map(|i| i as u8).collect();
        std::fs::write(root.join("big"), &data).expect("write");
        let o = lookup(&root, Path::new("big"), false, T0).expect("found");
        assert!(o.bytes().is_none());
        match o.body(5, 10).expect("body") {
            Body::File { offset: 5, len: 10, .. } => {}
            other => panic!("unexpected {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    fn file_bytes(body: Body) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        match body {
            Body::File { file, offset, len } => {
                let mut out = vec![0; len as usize];
                file.read_exact_at(&mut out, offset).expect("read");
                out
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn large_files_share_one_descriptor_and_a_replaced_file_is_seen_after_revalidation() {
        let root = tmp("fd");
        let len = MAX_MEMORY_FILE as usize + 100;
        std::fs::write(root.join("f"), vec![b'a'; len]).expect("write");
        let o = lookup(&root, Path::new("f"), false, T0).expect("found");
        let (b1, b2) = (o.body(0, 4).expect("body"), o.body(0, 4).expect("body"));
        match (&b1, &b2) {
            (Body::File { file: f1, .. }, Body::File { file: f2, .. }) => assert!(Arc::ptr_eq(f1, f2)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(file_bytes(b1), b"aaaa");
        // Replaced by rename (a new inode), as deploy tools do: after the window the stat sees
        // the new identity and the new file is opened.
        std::fs::write(root.join("g"), vec![b'b'; len + 1]).expect("write");
        std::fs::rename(root.join("g"), root.join("f")).expect("rename");
        assert_eq!(len_at(&root, "f", T0 + 999 * MS), len as u64);
        let o = lookup(&root, Path::new("f"), false, T0 + REVALIDATE).expect("found");
        assert_eq!(o.facts.len, len as u64 + 1);
        assert_eq!(file_bytes(o.body(0, 4).expect("body")), b"bbbb");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn open_descriptors_stay_within_their_bound() {
        let root = tmp("fds");
        let n = MAX_OPEN_FILES + 20;
        for i in 0..n {
            std::fs::write(root.join(format!("f{i}")), vec![b'x'; MAX_MEMORY_FILE as usize + 1])
                .expect("write");
        }
        for i in 0..n {
            let o = lookup(&root, Path::new(&format!("f{i}")), false, T0).expect("found");
            // Past the bound a file is opened per response instead: still served.
            assert_eq!(file_bytes(o.body(0, 1).expect("body")), b"x");
        }
        CACHE.with(|c| assert!(c.borrow().open_files <= c.borrow().open_files_max.min(MAX_OPEN_FILES)));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn symlinks_out_of_the_root_are_not_found_unless_followed() {
        let root = tmp("link");
        let outside = tmp("link-outside");
        std::fs::write(outside.join("secret"), "s").expect("write");
        std::os::unix::fs::symlink(outside.join("secret"), root.join("l")).expect("symlink");
        let err = lookup(&root, Path::new("l"), false, T0).expect_err("escapes");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(lookup(&root, Path::new("l"), true, T0).is_ok());
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn memory_stays_within_its_bound() {
        let mut c = Cache::default();
        let r = c.root_index(&Root::new(PathBuf::from("/")), false);
        let blob = Bytes::from(vec![0u8; 1 << 20]);
        for i in 0..100 {
            let opened = Arc::new(Opened {
                facts: Arc::new(FileFacts {
                    len: blob.len() as u64,
                    modified: UNIX_EPOCH,
                    etag: HeaderValue::from_static("\"x\""),
                    last_modified: HeaderValue::from_static("x"),
                    is_dir: false,
                    id: (0, i),
                }),
                path: Path::new("/x").into(),
                memory: Some(blob.clone()),
                file: None,
                content_type: HeaderValue::from_static("x/y"),
                compressible: false,
                fixed: OnceLock::new(),
                fixed_encoded: Default::default(),
            });
            c.insert(r, format!("f{i}").into_bytes().into(), Entry { opened, checked: T0 });
            assert!(c.memory_bytes <= MAX_MEMORY_BYTES);
        }
        assert_eq!(c.memory_bytes, c.roots[r].map.len() << 20);
        assert_eq!(c.entries, c.roots[r].map.len());
    }
}
