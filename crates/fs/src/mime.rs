//! `Content-Type` from a file name's extension.
//!
//! The common web types come from a static table of ready-made header values, so the hot path
//! neither allocates nor formats; everything else asks `mime_guess`. Text types (and the
//! textual `application/` types: JavaScript, JSON, XML) say `charset=utf-8`, because a browser
//! left to guess may pick a legacy encoding, and the guess is also what `nosniff` forbids.

use http::HeaderValue;

/// Extension (matched case-insensitively) → the full header value.
const COMMON: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("xml", "text/xml; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("woff2", "font/woff2"),
    ("woff", "font/woff"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
];

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// The `Content-Type` for a file called `name` (only its extension matters).
pub(crate) fn content_type(name: &str) -> HeaderValue {
    let base = name.rsplit('/').next().unwrap_or(name);
    let Some((stem, ext)) = base.rsplit_once('.') else {
        return OCTET_STREAM;
    };
    if stem.is_empty() {
        // `.bashrc` has no extension.
        return OCTET_STREAM;
    }
    if let Some((_, v)) = COMMON.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)) {
        return HeaderValue::from_static(v);
    }
    let Some(raw) = mime_guess::from_ext(ext).first_raw() else {
        return OCTET_STREAM;
    };
    if is_textual(raw) {
        HeaderValue::from_str(&format!("{raw}; charset=utf-8")).unwrap_or(OCTET_STREAM)
    } else {
        HeaderValue::from_static(raw)
    }
}

/// Whether a media type is text a browser decodes with a charset.
fn is_textual(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(essence, "application/javascript" | "application/json" | "application/xml")
        || essence.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(name: &str) -> String {
        content_type(name).to_str().unwrap_or("").to_owned()
    }

    #[test]
    fn text_types_carry_utf8() {
        assert_eq!(ct("index.html"), "text/html; charset=utf-8");
        assert_eq!(ct("a/b/APP.JS"), "text/javascript; charset=utf-8");
        assert_eq!(ct("data.csv"), "text/csv; charset=utf-8");
        assert_eq!(ct("m.webmanifest"), "application/manifest+json; charset=utf-8");
    }

    #[test]
    fn binary_and_unknown_types() {
        assert_eq!(ct("a.png"), "image/png");
        assert_eq!(ct("a.tar.gz"), "application/gzip");
        assert_eq!(ct("README"), "application/octet-stream");
        assert_eq!(ct(".bashrc"), "application/octet-stream");
        assert_eq!(ct("x.nosuchext"), "application/octet-stream");
    }
}
