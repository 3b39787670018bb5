//! Which script a request path names, and what is left over for `PATH_INFO`.
//!
//! RFC 3875 §3.3 leaves the mapping to the server; we follow the usual one. The URL path is
//! first made safe by [`pollux_path::resolve`], the same function the static-file handler
//! uses, so CGI and static files can never disagree about what a path means: each segment is
//! percent-decoded on its own (`%2f` never makes a new segment), `.` and `..` are applied
//! without ever climbing above the root, and NUL, backslash and non-UTF-8 refuse the request.
//! Then the segments are walked from the left until one names a regular file:
//!
//! ```text
//!   /cgi-bin/sub/script.py/extra/path
//!   └prefix─┘└─ walked ──┘└PATH_INFO─┘     SCRIPT_NAME = /cgi-bin/sub/script.py
//!            dir/sub          → directory, go on
//!            dir/sub/script.py → regular file: the script
//! ```
//!
//! Two ways to say a path is a script, as the command line has them:
//!
//! * [`Mount`] (`--cgi /cgi-bin=DIR`): everything under the URL prefix is a script in `DIR`;
//!   a path under the prefix that names no file is a 404, never a static file.
//! * [`ExtensionRule`] (`--cgi-ext .py`): a file under the document root whose name ends in the
//!   extension; a path without such a segment is not ours ([`Ok(None)`](Option::None)) and goes
//!   on to the static handler.
//!
//! The filesystem is asked through a closure (`FnMut(&Path) -> Entry`, [`stat`] in
//! production), so tests need no files and the caller can add its own policy (symlinks).
//! Only the walk stats anything: a missing entry ends it, so a long path costs at most one
//! `stat` per existing directory level.
//!
//! Dot segments (`.git`, `.env`, but not `.well-known`, as [`pollux_path::is_hidden`]
//! says) are refused in the script's part of the path: running or even probing a script
//! inside a hidden directory is the leak that hiding exists to prevent. PATH_INFO may hold
//! them: it is an argument to the script, not a file we open.

use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;
use pollux_path::{is_hidden, resolve};

/// What the filesystem holds at a path, as far as the walk cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A regular file (after following symlinks): a script.
    File,
    /// A directory: the walk goes on into it.
    Directory,
    /// Nothing, or something we never run (socket, FIFO, device) or cannot stat.
    Missing,
}

/// [`Entry`] from `std::fs::metadata` (symlinks followed). The production lookup.
pub fn stat(path: &Path) -> Entry {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Entry::File,
        Ok(m) if m.is_dir() => Entry::Directory,
        _ => Entry::Missing,
    }
}

/// A resolved script: what RFC 3875 calls the script URI, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// `SCRIPT_NAME` (§4.1.13): the URL path of the script, decoded, starting with `/`.
    pub script_name: String,
    /// `PATH_INFO` (§4.1.5): what follows the script, decoded; empty or starting with `/`.
    pub path_info: String,
    /// The script file on disk (for `SCRIPT_FILENAME` and for running it).
    pub file: PathBuf,
}

impl Script {
    /// Whether this is a non-parsed-header script (`nph-` name): see [`crate::is_nph`].
    pub fn is_nph(&self) -> bool {
        crate::is_nph(&self.script_name)
    }
}

/// Why a request path that is ours names no script. Every variant is answered 404: saying
/// "forbidden" for a hidden path would confirm that it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// [`pollux_path::resolve`] refused the path (encoded slash, NUL, backslash,
    /// non-UTF-8, not starting with `/`).
    #[error("request path refused")]
    BadPath,
    /// A dot segment in the script's part of the path.
    #[error("hidden path segment")]
    Hidden,
    /// Under a CGI prefix, but no segment names a regular file.
    #[error("no script at this path")]
    NotFound,
}

impl ResolveError {
    /// The status code to answer with.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::NOT_FOUND
    }
}

/// A `--cgi` or `--cgi-ext` argument that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL prefix must be `/` or `/seg/seg` with plain segments: no escapes, no empty,
    /// `.`, `..` or hidden segments (a prefix the walk could never match is a typo).
    #[error("invalid CGI URL prefix {0:?}: use a plain absolute path such as /cgi-bin")]
    InvalidPrefix(String),
    /// The extension must be `.name` (or `name`) with no `/`, `\` or NUL.
    #[error("invalid CGI extension {0:?}: use a suffix such as .py")]
    InvalidExtension(String),
}

/// `--cgi PREFIX=DIR`: every path under `PREFIX` is a script in `DIR`.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The prefix as a relative path (`cgi-bin`), compared component by component, so
    /// `/cgi-binx` is not under `/cgi-bin`.
    prefix: PathBuf,
    dir: PathBuf,
}

impl Mount {
    /// A mount of `dir` at the URL `prefix` (`/cgi-bin`, `/cgi-bin/`, or `/` for all paths).
    pub fn new(prefix: &str, dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let bad = || ConfigError::InvalidPrefix(prefix.to_owned());
        let rest = prefix.strip_prefix('/').ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let plain = |seg: &str| !seg.is_empty() && !seg.starts_with('.') && !seg.contains(['%', '\\', '\0']);
        if !rest.is_empty() && !rest.split('/').all(plain) {
            return Err(bad());
        }
        Ok(Mount { prefix: PathBuf::from(rest), dir: dir.into() })
    }

    /// The script for `request_path` (the path of the request-target, without the query).
    ///
    /// `Ok(None)`: the path is not under the prefix, so not ours. A path that
    /// [`pollux_path::resolve`] refuses is `Err(BadPath)` whoever would have served it:
    /// it is a 404 for every handler.
    pub fn resolve(
        &self,
        request_path: &str,
        mut lookup: impl FnMut(&Path) -> Entry,
    ) -> Result<Option<Script>, ResolveError> {
        let rel = resolve(request_path).ok_or(ResolveError::BadPath)?;
        let Ok(under) = rel.strip_prefix(&self.prefix) else {
            return Ok(None);
        };
        let segments = segments(under)?;
        let mut file = self.dir.clone();
        for (i, seg) in segments.iter().enumerate() {
            if is_hidden(Path::new(seg)) {
                return Err(ResolveError::Hidden);
            }
            file.push(seg);
            match lookup(&file) {
                Entry::File => {
                    let prefix = self::segments(&self.prefix)?;
                    let (script, info) = segments.split_at(i + 1);
                    return Ok(Some(Script {
                        script_name: url_path(prefix.iter().chain(script)),
                        path_info: path_info(info, request_path),
                        file,
                    }));
                }
                Entry::Directory => {}
                // Nothing deeper can exist: stop stat-ing.
                Entry::Missing => break,
            }
        }
        Err(ResolveError::NotFound)
    }
}

/// `--cgi-ext EXT`: a regular file under the document root whose name ends in `EXT`
/// (case-sensitive, as file names are) is a script.
#[derive(Debug, Clone)]
pub struct ExtensionRule {
    /// With its leading dot.
    ext: String,
    root: PathBuf,
}

impl ExtensionRule {
    /// Scripts named `*EXT` under `root`. `py` and `.py` mean the same.
    pub fn new(ext: &str, root: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let bare = ext.strip_prefix('.').unwrap_or(ext);
        if bare.is_empty() || bare.contains(['/', '\\', '\0']) {
            return Err(ConfigError::InvalidExtension(ext.to_owned()));
        }
        Ok(ExtensionRule { ext: format!(".{bare}"), root: root.into() })
    }

    /// The script for `request_path`, or `Ok(None)` when no segment is an existing file with
    /// the extension (the static handler's turn). Only segments ending in the extension are
    /// looked up, so ordinary static requests cost no `stat` here.
    pub fn resolve(
        &self,
        request_path: &str,
        mut lookup: impl FnMut(&Path) -> Entry,
    ) -> Result<Option<Script>, ResolveError> {
        let rel = resolve(request_path).ok_or(ResolveError::BadPath)?;
        let segments = segments(&rel)?;
        let mut file = self.root.clone();
        let mut hidden = false;
        for (i, seg) in segments.iter().enumerate() {
            hidden |= is_hidden(Path::new(seg));
            file.push(seg);
            // `.py` alone is a dotfile, never a script.
            if seg.len() <= self.ext.len() || !seg.ends_with(&self.ext) {
                continue;
            }
            if hidden {
                // Neither run it nor let the static handler show its source.
                return Err(ResolveError::Hidden);
            }
            match lookup(&file) {
                Entry::File => {
                    let (script, info) = segments.split_at(i + 1);
                    return Ok(Some(Script {
                        script_name: url_path(script),
                        path_info: path_info(info, request_path),
                        file,
                    }));
                }
                Entry::Directory => {}
                Entry::Missing => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// The segments of a path that [`pollux_path::resolve`] produced (UTF-8 by construction;
/// anything else is refused rather than unwrapped).
fn segments(rel: &Path) -> Result<Vec<&str>, ResolveError> {
    rel.components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str().ok_or(ResolveError::BadPath),
            _ => Err(ResolveError::BadPath),
        })
        .collect()
}

/// `/a/b` from decoded segments: SCRIPT_NAME is "not URL-encoded" (RFC 3875 §4.1.13).
fn url_path<'s>(segments: impl IntoIterator<Item = &'s &'s str>) -> String {
    let mut out = String::new();
    for seg in segments {
        out.push('/');
        out.push_str(seg);
    }
    out
}

/// PATH_INFO from the segments after the script. Resolving dropped a trailing slash, but
/// `/script.py/` and `/script.py/dir/` mean something to the script (a directory-like
/// resource), so it comes back when the request path ended in `/`, `/.` or `/..`, exactly
/// where RFC 3986 §5.2.4 dot removal leaves one.
fn path_info(segments: &[&str], request_path: &str) -> String {
    let mut out = url_path(segments);
    let last = request_path.rsplit('/').next().unwrap_or("");
    let trailing = match percent_decode_str(last).decode_utf8() {
        Ok(seg) => matches!(&*seg, "" | "." | ".."),
        Err(_) => false,
    };
    if trailing {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake filesystem: these files, and every directory above them.
    fn fs<'a>(files: &'a [&'a str]) -> impl FnMut(&Path) -> Entry + 'a {
        move |p: &Path| {
            if files.iter().any(|f| Path::new(f) == p) {
                Entry::File
            } else if files.iter().any(|f| Path::new(f).starts_with(p)) {
                Entry::Directory
            } else {
                Entry::Missing
            }
        }
    }

    const FILES: &[&str] = &["/srv/cgi/script.py", "/srv/cgi/sub/script.py", "/srv/cgi/nph-raw"];

    fn mount(path: &str) -> Result<Option<Script>, ResolveError> {
        let m = Mount::new("/cgi-bin", "/srv/cgi").expect("valid prefix");
        m.resolve(path, fs(FILES))
    }

    fn split(path: &str) -> Option<(String, String, PathBuf)> {
        mount(path).ok().flatten().map(|s| (s.script_name, s.path_info, s.file))
    }

    fn triple(name: &str, info: &str, file: &str) -> Option<(String, String, PathBuf)> {
        Some((name.to_owned(), info.to_owned(), PathBuf::from(file)))
    }

    #[test]
    fn path_info_splits_after_the_first_file() {
        assert_eq!(
            split("/cgi-bin/sub/script.py/extra/path"),
            triple("/cgi-bin/sub/script.py", "/extra/path", "/srv/cgi/sub/script.py")
        );
        assert_eq!(split("/cgi-bin/script.py"), triple("/cgi-bin/script.py", "", "/srv/cgi/script.py"));
        assert_eq!(split("/cgi-bin/script.py/"), triple("/cgi-bin/script.py", "/", "/srv/cgi/script.py"));
        assert_eq!(
            split("/cgi-bin/script.py/a/b/"),
            triple("/cgi-bin/script.py", "/a/b/", "/srv/cgi/script.py")
        );
        // A path under the script is PATH_INFO even when it names a real file too.
        assert_eq!(
            split("/cgi-bin/script.py/sub/script.py"),
            triple("/cgi-bin/script.py", "/sub/script.py", "/srv/cgi/script.py")
        );
    }

    #[test]
    fn path_info_is_decoded_and_dot_segments_applied() {
        assert_eq!(
            split("/cgi-bin/script.py/a%20b/%E4%B8%AD"),
            triple("/cgi-bin/script.py", "/a b/中", "/srv/cgi/script.py")
        );
        assert_eq!(
            split("/cgi-bin/script.py/a/../b"),
            triple("/cgi-bin/script.py", "/b", "/srv/cgi/script.py")
        );
        assert_eq!(split("/cgi-bin/script.py/a/.."), triple("/cgi-bin/script.py", "/", "/srv/cgi/script.py"));
        assert_eq!(
            split("/cgi-bin/script.py/a/%2e"),
            triple("/cgi-bin/script.py", "/a/", "/srv/cgi/script.py")
        );
        assert_eq!(
            split("/cgi-bin//sub//script.py"),
            triple("/cgi-bin/sub/script.py", "", "/srv/cgi/sub/script.py")
        );
        // Hidden segments after the script are the script's business.
        assert_eq!(split("/cgi-bin/script.py/.x"), triple("/cgi-bin/script.py", "/.x", "/srv/cgi/script.py"));
    }

    #[test]
    fn the_script_name_is_decoded() {
        assert_eq!(
            split("/cgi%2Dbin/sub/script%2epy/x"),
            triple("/cgi-bin/sub/script.py", "/x", "/srv/cgi/sub/script.py")
        );
    }

    #[test]
    fn paths_outside_the_prefix_are_not_ours() {
        assert_eq!(mount("/"), Ok(None));
        assert_eq!(mount("/cgi-binx/script.py"), Ok(None));
        assert_eq!(mount("/index.html"), Ok(None));
        // `..` is applied before the prefix is compared, as the static handler would.
        assert_eq!(mount("/cgi-bin/../script.py"), Ok(None));
    }

    #[test]
    fn no_file_under_the_prefix_is_not_found() {
        assert_eq!(mount("/cgi-bin"), Err(ResolveError::NotFound));
        assert_eq!(mount("/cgi-bin/"), Err(ResolveError::NotFound));
        assert_eq!(mount("/cgi-bin/sub"), Err(ResolveError::NotFound));
        assert_eq!(mount("/cgi-bin/missing.py/x"), Err(ResolveError::NotFound));
    }

    #[test]
    fn traversal_never_leaves_the_directory() {
        // Every spelling of `..` is clamped at the URL root, so none reaches the filesystem
        // above the CGI directory; most also leave the prefix and are not ours at all.
        for path in [
            "/cgi-bin/../../etc/passwd",
            "/cgi-bin/%2e%2e/%2e%2e/etc/passwd",
            "/cgi-bin/%2E%2E/x",
            "/cgi-bin/.%2e/.%2e/etc/passwd",
        ] {
            let mut asked = Vec::new();
            let m = Mount::new("/cgi-bin", "/srv/cgi").expect("valid prefix");
            let got = m.resolve(path, |p: &Path| {
                asked.push(p.to_path_buf());
                Entry::Missing
            });
            assert!(matches!(got, Ok(None) | Err(ResolveError::NotFound)), "{path}: {got:?}");
            assert!(asked.iter().all(|p| p.starts_with("/srv/cgi")), "{path}: {asked:?}");
        }
        // Refused outright: encoded slash, backslash (plain or encoded), NUL, bad UTF-8.
        for path in [
            "/cgi-bin/..%2f..%2fetc/passwd",
            "/cgi-bin/..\\..\\etc\\passwd",
            "/cgi-bin/..%5c..%5cetc",
            "/cgi-bin/script.py%00.txt",
            "/cgi-bin/%c0%ae%c0%ae/etc",
            "cgi-bin/script.py",
        ] {
            assert_eq!(mount(path), Err(ResolveError::BadPath), "{path}");
        }
        // Double encoding decodes once: `%252e%252e` is a file named `%2e%2e`, not `..`.
        let m = Mount::new("/cgi-bin", "/srv/cgi").expect("valid prefix");
        let mut asked = Vec::new();
        let got = m.resolve("/cgi-bin/%252e%252e/x", |p: &Path| {
            asked.push(p.to_path_buf());
            Entry::Missing
        });
        assert_eq!(got, Err(ResolveError::NotFound));
        assert_eq!(asked, [PathBuf::from("/srv/cgi/%2e%2e")]);
    }

    #[test]
    fn hidden_segments_in_the_script_part_are_refused_before_any_lookup() {
        let m = Mount::new("/cgi-bin", "/srv/cgi").expect("valid prefix");
        for path in ["/cgi-bin/.git/hooks/x", "/cgi-bin/%2eenv", "/cgi-bin/sub/.script.py"] {
            let got = m.resolve(path, |p: &Path| {
                assert!(!is_hidden(p.strip_prefix("/srv/cgi").unwrap_or(p)), "{path} looked up {p:?}");
                Entry::Directory
            });
            assert_eq!(got, Err(ResolveError::Hidden), "{path}");
        }
    }

    #[test]
    fn the_walk_stops_at_the_first_missing_entry() {
        let m = Mount::new("/cgi-bin", "/srv/cgi").expect("valid prefix");
        let mut lookups = 0;
        let deep = format!("/cgi-bin{}", "/a".repeat(1000));
        let got = m.resolve(&deep, |_: &Path| {
            lookups += 1;
            Entry::Missing
        });
        assert_eq!(got, Err(ResolveError::NotFound));
        assert_eq!(lookups, 1);
    }

    #[test]
    fn prefixes() {
        assert!(Mount::new("/cgi-bin/", "/d").is_ok());
        assert!(Mount::new("/a/b", "/d").is_ok());
        for bad in ["cgi-bin", "", "/a//b", "/a/../b", "/%63gi", "/.cgi", "/a\\b"] {
            assert!(Mount::new(bad, "/d").is_err(), "{bad}");
        }
        // `/` mounts the whole site.
        let all = Mount::new("/", "/srv/cgi").expect("valid prefix");
        let got = all.resolve("/script.py/x", fs(FILES)).ok().flatten();
        assert_eq!(got.map(|s| (s.script_name, s.path_info)), Some(("/script.py".into(), "/x".into())));
        // A deeper prefix.
        let deep = Mount::new("/apps/cgi", "/srv/cgi").expect("valid prefix");
        let got = deep.resolve("/apps/cgi/sub/script.py", fs(FILES)).ok().flatten();
        assert_eq!(got.map(|s| s.script_name), Some("/apps/cgi/sub/script.py".into()));
        assert_eq!(deep.resolve("/apps/script.py", fs(FILES)), Ok(None));
    }

    const ROOT_FILES: &[&str] =
        &["/www/app.py", "/www/dir.py/inner.py", "/www/a/b.py", "/www/.hidden/x.py", "/www/notes.txt"];

    fn by_ext(path: &str) -> Result<Option<(String, String)>, ResolveError> {
        let rule = ExtensionRule::new(".py", "/www").expect("valid extension");
        Ok(rule.resolve(path, fs(ROOT_FILES))?.map(|s| (s.script_name, s.path_info)))
    }

    fn pair(name: &str, info: &str) -> Result<Option<(String, String)>, ResolveError> {
        Ok(Some((name.to_owned(), info.to_owned())))
    }

    #[test]
    fn extension_mode_finds_scripts_under_the_root() {
        assert_eq!(by_ext("/app.py"), pair("/app.py", ""));
        assert_eq!(by_ext("/app.py/users/7"), pair("/app.py", "/users/7"));
        assert_eq!(by_ext("/a/b.py/"), pair("/a/b.py", "/"));
        // A directory named like a script is walked through.
        assert_eq!(by_ext("/dir.py/inner.py/x"), pair("/dir.py/inner.py", "/x"));
        assert_eq!(by_ext("/notes.txt"), Ok(None));
        assert_eq!(by_ext("/missing.py"), Ok(None));
        assert_eq!(by_ext("/"), Ok(None));
        assert_eq!(by_ext("/.py"), Ok(None));
        assert_eq!(by_ext("/app.PY"), Ok(None));
        assert_eq!(by_ext("/.hidden/x.py"), Err(ResolveError::Hidden));
        assert_eq!(by_ext("/a/%2e%2e/%2e%2e/app.py/%2e%2e"), Ok(None));
        assert_eq!(by_ext("/x/%2e%2e/app.py/q"), pair("/app.py", "/q"));
        assert_eq!(by_ext("/app.py%2fx"), Err(ResolveError::BadPath));
    }

    #[test]
    fn extension_mode_stats_only_candidates() {
        let rule = ExtensionRule::new("py", "/www").expect("valid extension");
        let mut asked = Vec::new();
        let got = rule.resolve("/static/css/site.css", |p: &Path| {
            asked.push(p.to_path_buf());
            Entry::File
        });
        assert_eq!(got, Ok(None));
        assert!(asked.is_empty());
    }

    #[test]
    fn extensions() {
        for bad in ["", ".", "a/b", ".p\\y", "\0"] {
            assert!(ExtensionRule::new(bad, "/www").is_err(), "{bad:?}");
        }
        assert!(ExtensionRule::new(".cgi", "/www").is_ok());
    }

    #[test]
    fn nph_scripts_are_recognised_by_name() {
        let s = mount("/cgi-bin/nph-raw/x").ok().flatten();
        assert!(s.is_some_and(|s| s.is_nph()));
        let s = mount("/cgi-bin/script.py").ok().flatten();
        assert!(s.is_some_and(|s| !s.is_nph()));
    }

    #[test]
    fn refusals_are_404() {
        for e in [ResolveError::BadPath, ResolveError::Hidden, ResolveError::NotFound] {
            assert_eq!(e.status(), 404);
        }
    }
}
