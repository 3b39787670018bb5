//! How a [`ServeDir`] is set up: its roots, switches, special pages and `Cache-Control` rules.
//!
//! Everything here is checked once, at start-up, so that a typo in a flag is an error message
//! rather than a silent 404 for every request.

use std::io;
use std::path::{Path, PathBuf};

use http::HeaderValue;

use crate::cache::Root;
use crate::clock::{self, Clock};
use crate::coding::files::Compression;
use crate::vhost::Vhosts;

/// Serves the files under a root directory (and, with [`ServeDir::vhost`], other roots by
/// `Host`).
///
/// ```no_run
/// let handler = pollux_fs::ServeDir::new(".")
///     .expect("the root exists")
///     .listing(true)
///     .cache_control("*.html=no-cache")
///     .expect("a valid rule");
/// ```
#[derive(Debug, Clone)]
pub struct ServeDir {
    pub(crate) root: Root,
    pub(crate) vhosts: Vhosts,
    pub(crate) listing: bool,
    /// A directory without index.html, listing off, answers 404 with a line on how to list.
    pub(crate) listing_hint: bool,
    pub(crate) hidden: bool,
    pub(crate) follow_symlinks: bool,
    pub(crate) fallback: Option<PageFile>,
    pub(crate) not_found: Option<PageFile>,
    pub(crate) cache_control: CacheControl,
    pub(crate) compression: Compression,
    /// What the file cache's revalidation window and the sidecar probes are timed by.
    pub(crate) clock: Clock,
}

/// A misconfiguration found at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A root or virtual-host directory that cannot be used.
    #[error("{}: {source}", path.display())]
    Dir {
        /// The directory as given.
        path: PathBuf,
        /// Why it cannot be served.
        source: io::Error,
    },
    /// A `--fallback` or `--404` file that cannot be found.
    #[error("{}: {source}", path.display())]
    Page {
        /// The file as given.
        path: PathBuf,
        /// Why it cannot be served.
        source: io::Error,
    },
    /// A `--vhost` that is not `NAME=DIR` with a host name.
    #[error("virtual host {0:?}: expected NAME=DIR with a host name")]
    Vhost(String),
    /// A `--cache-control` rule whose value is no valid field value.
    #[error("cache-control rule {0:?}: the value is not a valid header value")]
    CacheControl(String),
}

/// A special page (`--fallback`, `--404`). A relative path names a file under whichever root
/// the request's host chose (as Caddy's `try_files` and nginx's `try_files` do), so each
/// virtual host can have its own; an absolute path is one file for every host.
#[derive(Debug, Clone)]
pub(crate) enum PageFile {
    UnderRoot(PathBuf),
    Absolute { dir: Root, name: PathBuf },
}

impl ServeDir {
    /// Serves `root`, which must be an existing directory (it is canonicalised once, here).
    pub fn new(root: impl AsRef<Path>) -> Result<ServeDir, ConfigError> {
        Ok(ServeDir {
            root: Root::new(canonical_dir(root.as_ref())?),
            vhosts: Vhosts::default(),
            listing: false,
            listing_hint: false,
            hidden: false,
            follow_symlinks: false,
            fallback: None,
            not_found: None,
            cache_control: CacheControl::default(),
            compression: Compression::new(true),
            clock: clock::coarse_monotonic,
        })
    }

    /// The canonical default root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// HTML (or JSON) listings for directories without `index.html`; off, they are 404.
    pub fn listing(mut self, on: bool) -> Self {
        self.listing = on;
        self
    }

    /// With listings off, a directory without `index.html` answers 404 with a line saying how
    /// to list it (for `pollux serve` started without a directory), unless a --fallback or
    /// --404 page answers instead.
    pub fn listing_hint(mut self, on: bool) -> Self {
        self.listing_hint = on;
        self
    }

    /// Serve and list dotfiles; off, any path segment starting with `.` other than
    /// `.well-known` is 404.
    pub fn hidden(mut self, on: bool) -> Self {
        self.hidden = on;
        self
    }

    /// Follow symlinks wherever they point; off, only those whose target stays in the root.
    pub fn follow_symlinks(mut self, on: bool) -> Self {
        self.follow_symlinks = on;
        self
    }

    /// The monotonic clock the per-worker file cache runs on: an entry is trusted without a
    /// `stat` for one second after it was last confirmed, and a sidecar probe for two. The
    /// default, [`coarse_monotonic`](crate::coarse_monotonic), is what a server wants; tests
    /// pass a simulated clock to step through those windows exactly instead of sleeping.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::time::Duration;
    ///
    /// thread_local!(static NOW: Cell<Duration> = const { Cell::new(Duration::ZERO) });
    /// fn simulated() -> Duration {
    ///     NOW.with(Cell::get)
    /// }
    /// let dir = pollux_fs::ServeDir::new(".").expect("a directory").clock(simulated);
    /// // ... dir.serve(request), then NOW.with(|n| n.set(n.get() + Duration::from_secs(1))) ...
    /// # let _ = dir;
    /// ```
    ///
    /// The cache is per thread, so a thread-local simulated clock serves each test thread its
    /// own time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The content-coding settings (`--compress on|off`).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Requests whose `Host` is `name` (any port, any case) are served from `dir`.
    pub fn vhost(mut self, name: &str, dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let name = name.trim().trim_end_matches('.');
        if name.is_empty() || name.contains(['/', ' ', '@']) {
            return Err(ConfigError::Vhost(name.to_owned()));
        }
        self.vhosts.add(name, canonical_dir(dir.as_ref())?);
        Ok(self)
    }

    /// A `NAME=DIR` virtual host, as `--vhost` gives it.
    pub fn vhost_spec(self, spec: &str) -> Result<Self, ConfigError> {
        let Some((name, dir)) = spec.split_once('=') else {
            return Err(ConfigError::Vhost(spec.to_owned()));
        };
        self.vhost(name, dir)
    }

    /// For GET and HEAD requests that match nothing, serve `file` with 200 (single-page apps).
    pub fn fallback(mut self, file: impl AsRef<Path>) -> Result<Self, ConfigError> {
        self.fallback = Some(self.page(file.as_ref())?);
        Ok(self)
    }

    /// The body of 404 answers (sent with status 404).
    pub fn not_found_page(mut self, file: impl AsRef<Path>) -> Result<Self, ConfigError> {
        self.not_found = Some(self.page(file.as_ref())?);
        Ok(self)
    }

    /// A `Cache-Control` rule: `GLOB=VALUE`, or a bare `VALUE` for files no glob matches.
    /// A rule is a glob rule only when the text before the first `=` contains `*`, `?`, `.` or
    /// `/` (values have `=` of their own: `max-age=3600`). A glob with `/` matches the whole
    /// path from the root (`/assets/*.js`, `**` crossing directories); without, only the file
    /// name (`*.html`).
    pub fn cache_control(mut self, rule: &str) -> Result<Self, ConfigError> {
        self.cache_control.add(rule)?;
        Ok(self)
    }

    fn page(&self, file: &Path) -> Result<PageFile, ConfigError> {
        let err = |source| ConfigError::Page { path: file.to_path_buf(), source };
        if file.is_absolute() {
            let real = file.canonicalize().map_err(err)?;
            let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
                return Err(err(io::ErrorKind::InvalidInput.into()));
            };
            if !real.is_file() {
                return Err(err(io::Error::new(io::ErrorKind::InvalidInput, "not a file")));
            }
            return Ok(PageFile::Absolute { dir: Root::new(dir.to_path_buf()), name: name.into() });
        }
        // Checked against the default root; a virtual host without the file answers plain 404.
        let rel = pollux_path::resolve(&format!("/{}", file.display()))
            .map(std::borrow::Cow::into_owned)
            .ok_or_else(|| err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path")))?;
        if !self.root.join(&rel).is_file() {
            return Err(err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such file under {}", self.root.display()),
            )));
        }
        Ok(PageFile::UnderRoot(rel))
    }
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, ConfigError> {
    let err = |source| ConfigError::Dir { path: dir.to_path_buf(), source };
    let real = dir.canonicalize().map_err(err)?;
    if !real.is_dir() {
        return Err(err(io::Error::new(io::ErrorKind::InvalidInput, "not a directory")));
    }
    Ok(real)
}

/// `Cache-Control` values by glob: the first matching rule wins, then the default, else none.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheControl {
    rules: Vec<(String, HeaderValue)>,
    default: Option<HeaderValue>,
}

impl CacheControl {
    /// Adds `GLOB=VALUE` or a default `VALUE`.
    ///
    /// Cache-Control values contain `=` themselves (`max-age=3600`), so a rule is a glob rule
    /// only when the text before the first `=` contains `*`, `?`, `.` or `/`, which no
    /// Cache-Control directive name does. A glob with `/` matches the whole path from the root
    /// (`/assets/*.js`, `**` crossing directories); without, only the file name (`*.html`).
    pub(crate) fn add(&mut self, rule: &str) -> Result<(), ConfigError> {
        let bad = || ConfigError::CacheControl(rule.to_owned());
        match rule.split_once('=') {
            Some((glob, value)) if glob.contains(['*', '?', '.', '/']) => {
                let v = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
                self.rules.push((glob.trim().to_owned(), v));
            }
            _ => self.default = Some(HeaderValue::from_str(rule.trim()).map_err(|_| bad())?),
        }
        Ok(())
    }

    /// The value for a file at `rel` (`a/b.html`, relative to the root). Inlined, so that
    /// without glob rules (the common setup) it costs a test, not a call (~20 instructions).
    #[inline]
    pub(crate) fn for_path(&self, rel: &Path) -> Option<&HeaderValue> {
        if self.rules.is_empty() {
            return self.default.as_ref();
        }
        self.by_rules(rel)
    }

    /// [`CacheControl::for_path`] with glob rules to try (kept out of `for_path`, which would
    /// otherwise be too big to inline).
    #[inline(never)]
    fn by_rules(&self, rel: &Path) -> Option<&HeaderValue> {
        let rel = rel.as_os_str().as_encoded_bytes();
        let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
        for (glob, v) in &self.rules {
            let hit = match glob.strip_prefix('/') {
                Some(g) => glob_match(g.as_bytes(), rel),
                None if glob.contains('/') => glob_match(glob.as_bytes(), rel),
                None => glob_match(glob.as_bytes(), name),
            };
            if hit {
                return Some(v);
            }
        }
        self.default.as_ref()
    }
}

/// `*` (not across `/`), `**` (across `/`) and `?` (one byte, not `/`); the rest literal.
/// Backtracking, but only ever run on paths of files that exist (segments of at most 255
/// bytes) against the operator's own globs.
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            // `**/` also matches no directory at all.
            let zero_dirs = p[2..].strip_prefix(b"/").is_some_and(|rest| glob_match(rest, s));
            zero_dirs || (0..=s.len()).any(|i| glob_match(&p[2..], &s[i..]))
        }
        Some(b'*') => {
            (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| glob_match(&p[1..], &s[i..]))
        }
        Some(b'?') => s.first().is_some_and(|&c| c != b'/') && glob_match(&p[1..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob_match(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*.html", b"index.html"));
        assert!(!glob_match(b"*.html", b"index.htm"));
        assert!(glob_match(b"assets/*.js", b"assets/app.js"));
        assert!(!glob_match(b"assets/*.js", b"assets/x/app.js"));
        assert!(glob_match(b"assets/**.js", b"assets/x/app.js"));
        assert!(glob_match(b"**/*.js", b"a/b/c.js"));
        assert!(glob_match(b"**/*.js", b"c.js"));
        assert!(glob_match(b"?.txt", b"a.txt"));
        assert!(!glob_match(b"?.txt", b"ab.txt"));
    }

    #[test]
    fn first_matching_rule_wins_then_the_default() {
        let mut c = CacheControl::default();
        for r in
            ["*.html=no-cache", "max-age=60", "/assets/**=public, max-age=31536000, immutable", "*.htm*=x"]
        {
            c.add(r).unwrap_or_else(|e| panic!("{e}"));
        }
        let get = |p: &str| c.for_path(Path::new(p)).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
        assert_eq!(get("a/index.html"), "no-cache");
        assert_eq!(get("assets/x/app.js"), "public, max-age=31536000, immutable");
        assert_eq!(get("assets/page.html"), "no-cache");
        assert_eq!(get("a.htmx"), "x");
        assert_eq!(get("a.css"), "max-age=60");
        assert!(CacheControl::default().for_path(Path::new("a")).is_none());
        assert!(CacheControl::default().add("*.x=bad\nvalue").is_err());
    }
}
