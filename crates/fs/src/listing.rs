//! Directory listings (`--listing`): an HTML page, or JSON for `Accept: application/json`.
//!
//! The page works without JavaScript and on a phone: a viewport meta tag, one small table,
//! column headers that are links (`?sort=size&order=desc`), directories first whatever the
//! order. Every name is HTML-escaped in text and percent-encoded in `href`, and every link is
//! `./NAME` so that a file called `javascript:alert(1)` cannot become a URL with a scheme.
//! Names that are not UTF-8 cannot be requested (the path decoder refuses them) and are not
//! listed; dotfiles are listed only with `--hidden` (`.well-known` always).
//!
//! Listings read the directory directly, not through the file cache: they are not the hot
//! path, and a cache of directory contents would go stale with every file added.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, VARY, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use pollux_server::Body;

/// Bytes percent-encoded in an `href` segment: everything outside RFC 3986 unreserved and a
/// few harmless sub-delims, so the result needs no HTML escaping either.
const HREF: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// One directory entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) size: u64,
    /// Seconds since the epoch.
    pub(crate) modified: u64,
}

/// Which column the listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    Name,
    Size,
    Modified,
}

/// `?sort=name|size|modified&order=asc|desc`; anything else is by name, ascending.
pub(crate) fn sort_from_query(query: Option<&str>) -> (SortKey, bool) {
    let (mut key, mut desc) = (SortKey::Name, false);
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("sort", "size")) => key = SortKey::Size,
            Some(("sort", "modified")) => key = SortKey::Modified,
            Some(("sort", "name")) => key = SortKey::Name,
            Some(("order", "desc")) => desc = true,
            Some(("order", "asc")) => desc = false,
            _ => {}
        }
    }
    (key, desc)
}

/// Reads `dir`, leaving out hidden names (unless `hidden`) and, unless `follow_symlinks`,
/// entries whose real location is outside `root` (they would be 404 anyway).
pub(crate) fn read(dir: &Path, root: &Path, hidden: bool, follow_symlinks: bool) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else { continue };
        if !hidden && name.starts_with('.') && name != ".well-known" {
            continue;
        }
        let path = e.path();
        if !follow_symlinks && e.file_type().is_ok_and(|t| t.is_symlink()) {
            match path.canonicalize() {
                Ok(real) if real.starts_with(root) => {}
                _ => continue,
            }
        }
        // Follows symlinks: the listing shows what a request would get.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        let modified =
            meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        out.push(Entry {
            name,
            is_dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified,
        });
    }
    Ok(out)
}

/// Directories first, then by `key`; ties by name so the order is stable.
pub(crate) fn sort(entries: &mut [Entry], key: SortKey, desc: bool) {
    entries.sort_by(|a, b| {
        let by_key = match key {
            SortKey::Name => Ordering::Equal,
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Modified => a.modified.cmp(&b.modified),
        }
        .then_with(|| a.name.cmp(&b.name));
        b.is_dir.cmp(&a.is_dir).then(if desc { by_key.reverse() } else { by_key })
    });
}

/// Whether the client asked for JSON: `application/json` acceptable (q > 0) and not less
/// preferred than `text/html`.
pub(crate) fn wants_json(req: &HeaderMap) -> bool {
    let (mut json, mut html) = (None, 0.0f32);
    for v in req.get_all(ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for range in v.split(',') {
            let mut parts = range.split(';');
            let ty = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if ty.eq_ignore_ascii_case("application/json") {
                json = Some(q);
            } else if ty.eq_ignore_ascii_case("text/html") {
                html = q;
            }
        }
    }
    json.is_some_and(|q| q > 0.0 && q >= html)
}

/// The listing response for `url_path` (the directory's path, ending in `/`).
pub(crate) fn response(
    entries: &[Entry],
    url_path: &str,
    key: SortKey,
    desc: bool,
    json: bool,
) -> Response<Body> {
    let (body, ty) = if json {
        (to_json(entries), "application/json; charset=utf-8")
    } else {
        (to_html(entries, url_path, key, desc), "text/html; charset=utf-8")
    };
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    h.insert(VARY, HeaderValue::from_static("accept"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// `[{"name":…,"type":"dir"|"file","size":…,"modified":"RFC 3339"}]`.
pub(crate) fn to_json(entries: &[Entry]) -> String {
    let mut s = String::with_capacity(64 * entries.len() + 2);
    s.push('[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"name\":\"");
        for c in e.name.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(s, "\\u{:04x}", c as u32);
                }
                c => s.push(c),
            }
        }
        let ty = if e.is_dir { "dir" } else { "file" };
        let _ =
            write!(s, "\",\"type\":\"{ty}\",\"size\":{},\"modified\":\"{}\"}}", e.size, rfc3339(e.modified));
    }
    s.push(']');
    s
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1rem;color:#222;background:#fff}\
h1{font-size:1.2rem;word-break:break-all}table{border-collapse:collapse;width:100%}\
th,td{padding:.45rem .4rem;text-align:left;border-bottom:1px solid #ddd}\
td.name{word-break:break-all}th a,td a{text-decoration:none;color:#0645ad}\
.size,.mod{white-space:nowrap;text-align:right;color:#555}\
@media (max-width:480px){.mod .t{display:none}.mod{font-size:.85rem}body{margin:.5rem}}";

/// The HTML page.
pub(crate) fn to_html(entries: &[Entry], url_path: &str, key: SortKey, desc: bool) -> String {
    let title = escape(&decoded(url_path));
    let mut s = String::with_capacity(512 + 160 * entries.len());
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Index of {title}</title><style>{STYLE}</style></head>\n<body><h1>Index of {title}</h1>\n\
         <table><thead><tr>"
    );
    for (k, label, class) in [
        (SortKey::Name, "Name", "name"),
        (SortKey::Size, "Size", "size"),
        (SortKey::Modified, "Modified", "mod"),
    ] {
        // Clicking the current column flips its order; another column starts ascending.
        let order = if k == key && !desc { "desc" } else { "asc" };
        let arrow = match (k == key, desc) {
            (true, false) => " ▲",
            (true, true) => " ▼",
            _ => "",
        };
        let _ = write!(
            s,
            "<th class=\"{class}\"><a href=\"?sort={}&amp;order={order}\">{label}{arrow}</a></th>",
            label.to_ascii_lowercase()
        );
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    if url_path != "/" {
        s.push_str("<tr><td class=\"name\"><a href=\"../\">../</a></td><td class=\"size\"></td><td class=\"mod\"></td></tr>\n");
    }
    for e in entries {
        let href: String = utf8_percent_encode(&e.name, HREF).collect();
        let slash = if e.is_dir { "/" } else { "" };
        let size = if e.is_dir { "—".to_owned() } else { human(e.size) };
        // On a phone the time of day is dropped (the date stays) so the name keeps its room.
        let when = rfc3339(e.modified);
        let _ = writeln!(
            s,
            "<tr><td class=\"name\"><a href=\"./{href}{slash}\">{}{slash}</a></td><td class=\"size\">{size}</td>\
             <td class=\"mod\"><time datetime=\"{when}\">{}<span class=\"t\"> {}</span></time></td></tr>",
            escape(&e.name),
            &when[..10],
            &when[11..16],
        );
    }
    s.push_str("</tbody></table>\n</body></html>\n");
    s
}

fn decoded(url_path: &str) -> String {
    percent_encoding::percent_decode_str(url_path).decode_utf8_lossy().into_owned()
}

/// HTML-escapes text for element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1.5 KiB`, `12 B`, `3.2 GiB`.
pub(crate) fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

/// `2024-01-02T15:04:05Z` for seconds since the epoch (UTC).
pub(crate) fn rfc3339(secs: u64) -> String {
    let rem = secs % 86_400;
    let (y, m, d) = pollux_server::civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, is_dir: bool, size: u64, modified: u64) -> Entry {
        Entry { name: name.into(), is_dir, size, modified }
    }

    #[test]
    fn dates_and_sizes() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(50 * 1024 * 1024), "50 MiB");
    }

    #[test]
    fn directories_first_then_the_column() {
        let mut v = vec![e("b", false, 5, 3), e("z", true, 0, 1), e("a", false, 9, 2), e("c", true, 0, 9)];
        sort(&mut v, SortKey::Size, true);
        let names: Vec<_> = v.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["z", "c", "a", "b"]);
        sort(&mut v, SortKey::Name, false);
        let names: Vec<_> = v.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["c", "z", "a", "b"]);
        assert_eq!(sort_from_query(Some("sort=modified&order=desc")), (SortKey::Modified, true));
        assert_eq!(sort_from_query(Some("sort=evil")), (SortKey::Name, false));
    }

    #[test]
    fn names_are_escaped_everywhere() {
        let html = to_html(
            &[e("<script>&\"x.txt", false, 1, 0), e("javascript:alert(1)", false, 1, 0)],
            "/",
            SortKey::Name,
            false,
        );
        assert!(html.contains("&lt;script&gt;&amp;&quot;x.txt"), "{html}");
        assert!(html.contains("href=\"./%3Cscript%3E%26%22x.txt\""), "{html}");
        assert!(html.contains("href=\"./javascript:alert(1)\""), "{html}");
        assert!(!html.contains("<script>"));
        let json = to_json(&[e("a\"\\\n", true, 0, 0)]);
        assert_eq!(
            json,
            r#"[{"name":"a\"\\\u000a","type":"dir","size":0,"modified":"1970-01-01T00:00:00Z"}]"#
        );
    }

    #[test]
    fn json_is_chosen_by_accept() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(ACCEPT, HeaderValue::from_static(v));
            wants_json(&m)
        };
        assert!(h("application/json"));
        assert!(h("application/json, text/html;q=0.9"));
        assert!(!h("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!h("application/json;q=0"));
        assert!(!wants_json(&HeaderMap::new()));
    }
}
