//! Turning a request path into a path under the root, or refusing it.
//!
//! The path is split on `/` first and each segment percent-decoded on its own, so an encoded
//! slash (`%2f`) can never create a new segment. `.` segments are dropped and `..` pops a
//! segment, but never above the root. A decoded segment holding NUL, `/` or `\`, or that is not
//! UTF-8, refuses the whole request (404): there is no honest file by that name.

use std::path::PathBuf;

use std::path::Path;

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

/// The relative path for a request path, or `None` if it must not be served.
pub fn resolve(request_path: &str) -> Option<PathBuf> {
    if !request_path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    for raw in request_path.split('/') {
        let seg = percent_decode_str(raw).decode_utf8().ok()?;
        if seg.contains(['\0', '/', '\\']) {
            return None;
        }
        match &*seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(seg.into_owned()),
        }
    }
    Some(parts.iter().collect())
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
        assert_eq!(resolve("/a/b.txt"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(resolve("/../../etc/passwd"), Some(PathBuf::from("etc/passwd")));
        assert_eq!(resolve("/a/%2e%2e/%2e%2e/x"), Some(PathBuf::from("x")));
        assert_eq!(resolve("/%E4%B8%AD%E6%96%87.txt"), Some(PathBuf::from("中文.txt")));
        assert_eq!(resolve("/"), Some(PathBuf::new()));
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
    }
}
