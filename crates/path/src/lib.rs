//! Request paths made safe: a URL path (`/a/%2e%2e/b.txt`) turned into a relative path that,
//! joined to any root, names something under that root — or refused.
//!
//! ```text
//!  "/docs/a%20b/../x.txt" ─► resolve ─► Some("docs/x.txt") ─► root.join(..)   (fs, cgi, tftp-io)
//!  "/a%2f..%2fetc"        ─► resolve ─► None                ─► 404 / TFTP ERROR 2
//!                                          │
//!                              is_hidden ──┴── to_url (redirects, listings)
//! ```
//!
//! A crate of its own, with no dependency but `percent-encoding`, so every server that maps a
//! name to a file (the static-file handler, the CGI gateway, the TFTP server) uses the same
//! confinement without linking the others: the TFTP server does not pull in the HTTP stack.
//! Nothing here touches the filesystem; symlinks are the caller's business.
//!
//! The path is split on `/` first and each segment percent-decoded on its own, so an encoded
//! slash (`%2f`) can never create a new segment. `.` segments are dropped and `..` pops a
//! segment, but never above the root. A decoded segment holding NUL, `/` or `\`, or that is not
//! UTF-8, refuses the whole request (404): there is no honest file by that name.
//!
//! Dotfiles: [`is_hidden`] says whether a resolved path has a segment starting with `.`. The
//! handler answers those 404 unless `--hidden`, except `.well-known` (RFC 8615), which exists to
//! be fetched (ACME challenges, `security.txt`). This follows static-web-server's
//! `--ignore-hidden-files` and Caddy's `hide`, but hides by default: a forgotten `.git` or
//! `.env` in a served tree is the common leak.
//!
//! The fuzz target `path_resolve` (fuzz/) checks confinement and that the borrowed fast path
//! and full decoding agree.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Bytes escaped when a path segment goes back into a URL (RFC 3986 pchar keeps the rest).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The relative path for a request path, or `None` if it must not be served. A path that is
/// already clean (no escapes, no empty, `.` or `..` segments) is borrowed as it is: the
/// common request costs no allocation.
///
/// ```
/// use std::path::Path;
/// assert_eq!(pollux_path::resolve("/a/../b%20c.txt").as_deref(), Some(Path::new("b c.txt")));
/// assert_eq!(pollux_path::resolve("/../../etc/passwd").as_deref(), Some(Path::new("etc/passwd")));
/// assert_eq!(pollux_path::resolve("/a%2f..%2f..%2fetc"), None); // an encoded `/` is no separator
/// ```
pub fn resolve(request_path: &str) -> Option<Cow<'_, Path>> {
    resolve_noting_dots(request_path).map(|(rel, _)| rel)
}

/// [`resolve`], and whether a segment of the path may start with `.`. When none does,
/// [`is_hidden`] is false without a second pass over the path (~60 instructions a request).
pub fn resolve_noting_dots(request_path: &str) -> Option<(Cow<'_, Path>, bool)> {
    let rest = request_path.strip_prefix('/')?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    match clean_dotted(rest.as_bytes()) {
        Some(dotted) => Some((Cow::Borrowed(Path::new(rest)), dotted)),
        None => decode(request_path).map(|rel| (Cow::Owned(rel), true)),
    }
}

/// If `rest` (the path without its leading and trailing `/`) is what decoding would produce
/// (no escape, backslash or NUL, and, unless empty, no empty, `.` or `..` segment), whether
/// one of its segments starts with `.`; `None` if it needs decoding. One pass, eight bytes at
/// a time where it can: a scan for the three bytes and a split into segments cost ~220
/// instructions per request for `/index.html`, a loop over bytes ~140.
fn clean_dotted(rest: &[u8]) -> Option<bool> {
    if rest.is_empty() {
        return Some(false);
    }
    let dot_or_empty = |seg: &[u8]| matches!(seg, b"" | b"." | b"..");
    let mut dotted = rest[0] == b'.';
    let (mut i, mut seg_start) = (0, 0);
    while i < rest.len() {
        // Dots only matter where a segment ends, so eight bytes without `/`, `%`, `\` or NUL
        // (most of a path) are passed over at once.
        if let Some(word) = rest[i..].first_chunk::<8>() {
            if !any_special(u64::from_le_bytes(*word)) {
                i += 8;
                continue;
            }
        }
        match rest[i] {
            b'%' | b'\\' | 0 => return None,
            b'/' if dot_or_empty(&rest[seg_start..i]) => return None,
            b'/' => {
                seg_start = i + 1;
                dotted |= rest.get(seg_start) == Some(&b'.');
            }
            _ => {}
        }
        i += 1;
    }
    (!dot_or_empty(&rest[seg_start..])).then_some(dotted)
}

/// Whether any of the eight bytes of `word` is `/`, `%`, `\` or NUL: the zero-byte test of
/// `word` XOR each of them. A borrow can mark a byte above a real zero byte, but only when
/// there is one, so the answer for the word as a whole is exact.
fn any_special(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & (ONES << 7);
    let has = |b: u8| has_zero(word ^ (ONES * u64::from(b)));
    (has_zero(word) | has(b'/') | has(b'%') | has(b'\\')) != 0
}

/// The general case of [`resolve`]: decode each segment and apply `.` and `..`. Out of line,
/// so that the common clean path does not pay for its registers.
#[cold]
#[inline(never)]
fn decode(request_path: &str) -> Option<PathBuf> {
    if !request_path.starts_with('/') {
        return None;
    }
    // One allocation: segments go straight into the PathBuf (`decode_utf8` borrows when a
    // segment has no escapes), and `..` pops the last one, which on an empty path does nothing.
    let mut out = PathBuf::with_capacity(request_path.len());
    for raw in request_path.split('/') {
        let seg = percent_decode_str(raw).decode_utf8().ok()?;
        if seg.contains(['\0', '/', '\\']) {
            return None;
        }
        match &*seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(&*seg),
        }
    }
    Some(out)
}

/// Whether a resolved path names a dotfile or something inside a dot-directory, other than
/// `.well-known` (RFC 8615).
pub fn is_hidden(rel: &Path) -> bool {
    // Over the bytes rather than `Path::iter`, which normalises as it goes (170 instructions a
    // request in the profile). A `.` segment in the middle counts as hidden here where `iter`
    // skips it: stricter, and `resolve` never produces one.
    rel.as_os_str()
        .as_encoded_bytes()
        .split(|&b| b == b'/')
        .any(|seg| seg.first() == Some(&b'.') && seg != b".well-known")
}

/// The absolute URL path (`/a/b`) for a relative path that [`resolve`] produced.
pub fn to_url(rel: &Path) -> String {
    let mut out = String::new();
    for seg in rel.iter() {
        out.push('/');
        out.extend(utf8_percent_encode(&seg.to_string_lossy(), SEGMENT));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_under_the_root() {
        assert_eq!(resolve("/a/b.txt").as_deref(), Some(Path::new("a/b.txt")));
        assert_eq!(resolve("/../../etc/passwd").as_deref(), Some(Path::new("etc/passwd")));
        assert_eq!(resolve("/a/%2e%2e/%2e%2e/x").as_deref(), Some(Path::new("x")));
        assert_eq!(resolve("/%E4%B8%AD%E6%96%87.txt").as_deref(), Some(Path::new("中文.txt")));
        assert_eq!(resolve("/").as_deref(), Some(Path::new("")));
    }

    #[test]
    fn urls_are_rebuilt_from_segments() {
        assert_eq!(to_url(&resolve("//evil.example/..").unwrap_or_default()), "/");
        assert_eq!(to_url(&resolve("//sub").unwrap_or_default()), "/sub");
        assert_eq!(to_url(&resolve("/a b/中").unwrap_or_default()), "/a%20b/%E4%B8%AD");
    }

    #[test]
    fn refuses_tricks() {
        assert_eq!(resolve("/a%2f..%2f..%2fetc"), None);
        assert_eq!(resolve("/etc/passwd%00.html"), None);
        assert_eq!(resolve("/..%5c..%5cwindows"), None);
        assert_eq!(resolve("/%ff"), None);
        assert_eq!(resolve("relative"), None);
        // Overlong UTF-8 for `.` and `/` is not UTF-8: refused, never decoded to `..`.
        assert_eq!(resolve("/%c0%ae%c0%ae/etc/passwd"), None);
        assert_eq!(resolve("/..%c0%af..%c0%afetc"), None);
        // Double encoding decodes once: `%252e` is the file named `%2e`, not a dot.
        assert_eq!(resolve("/%252e%252e/x").as_deref(), Some(Path::new("%2e%2e/x")));
    }

    #[test]
    fn the_borrowed_fast_path_agrees_with_full_decoding() {
        // Every path of up to four segments from these pieces: whatever `resolve` borrows
        // must be exactly what decoding would have produced.
        let pieces = ["a", "b.txt", ".", "..", "", "%2e", ".x", "中", "a%20b", "\\", "abcdefgh.txt"];
        let mut paths = vec![String::from("/")];
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &paths {
                for piece in pieces {
                    next.push(format!("{p}{piece}/"));
                    next.push(format!("{p}{piece}"));
                }
            }
            paths = next.into_iter().filter(|p| p.ends_with('/')).collect::<Vec<_>>();
            for p in &paths {
                let trimmed = p.trim_end_matches('/');
                for q in [p.as_str(), trimmed] {
                    assert_eq!(resolve(q).as_deref(), decode(q).as_deref(), "{q}");
                    assert_dots_noted(q);
                }
            }
        }
    }

    #[test]
    fn the_eight_byte_scan_sees_every_position() {
        // `is_clean` passes over eight bytes at a time: each special byte or dot segment, at
        // every offset in and across those words, must be seen: the answer is what decoding
        // gives.
        for special in ["%41", "\\", "\0", "//", "/./", "/../", "/.", "/..", "/", "/.../", "é", "/.x", "/x."]
        {
            for at in 0..20 {
                let p = format!("/{}{special}{}", "a".repeat(at), "b".repeat(20 - at));
                assert_eq!(resolve(&p).as_deref(), decode(&p).as_deref(), "{p:?}");
                assert_dots_noted(&p);
            }
        }
    }

    /// A path `resolve_noting_dots` says has no segment starting with `.` is not hidden.
    fn assert_dots_noted(p: &str) {
        if let Some((rel, false)) = resolve_noting_dots(p) {
            assert!(!is_hidden(&rel), "{p:?}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_but_well_known_is_not() {
        assert!(is_hidden(Path::new(".git/config")));
        assert!(is_hidden(Path::new("a/.env")));
        assert!(is_hidden(Path::new("...")));
        assert!(!is_hidden(Path::new(".well-known/acme-challenge/x")));
        assert!(!is_hidden(Path::new("a/b.txt")));
        assert!(is_hidden(&resolve("/a/%2egit/x").unwrap_or_default()));
        assert!(!is_hidden(&resolve("/a/.git/../b").unwrap_or_default()));
    }
}
