//! Which media types are worth a content coding.
//!
//! An allow list, not a deny list: a type we do not know (`application/octet-stream`, a new
//! image format) is assumed to be compressed already or binary, where a coding wastes CPU on
//! both ends for nothing. Images, audio, video, archives (zip, gzip, br, zstd, 7z) and woff2
//! fonts are compressed by their own format and never reach this list.

use http::HeaderValue;

/// Whether `content_type` is worth compressing (on the fly or by a sidecar).
///
/// Runs on every request, so it only compares a few short strings, without allocating.
pub(crate) fn compressible(content_type: &HeaderValue) -> bool {
    let v = content_type.as_bytes();
    let essence = match v.iter().position(|&b| b == b';') {
        Some(i) => &v[..i],
        None => v,
    };
    let essence = essence.trim_ascii();
    let Some(slash) = essence.iter().position(|&b| b == b'/') else {
        return false;
    };
    let (ty, sub) = (&essence[..slash], &essence[slash + 1..]);
    if ty.eq_ignore_ascii_case(b"text") {
        return true;
    }
    // Structured syntax suffixes (RFC 6839): image/svg+xml, application/ld+json, atom+xml...
    if ends_with_ignore_case(sub, b"+xml") || ends_with_ignore_case(sub, b"+json") {
        return true;
    }
    let listed: &[&[u8]] = if ty.eq_ignore_ascii_case(b"application") {
        &[
            b"javascript",
            b"x-javascript",
            b"ecmascript",
            b"json",
            b"xml",
            b"wasm",
            b"toml",
            b"yaml",
            b"x-yaml",
            b"x-sh",
            b"x-csh",
            b"x-tex",
            b"rtf",
            b"postscript",
            b"vnd.ms-fontobject",
            b"x-font-ttf",
            b"x-font-otf",
        ]
    } else if ty.eq_ignore_ascii_case(b"font") {
        // TrueType and OpenType are uncompressed tables (woff/woff2 are compressed: absent).
        &[b"ttf", b"otf", b"sfnt", b"collection"]
    } else if ty.eq_ignore_ascii_case(b"image") {
        // The only uncompressed image formats still served.
        &[b"bmp", b"x-icon", b"vnd.microsoft.icon"]
    } else {
        &[]
    };
    listed.iter().any(|l| sub.eq_ignore_ascii_case(l))
}

fn ends_with_ignore_case(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &'static str) -> bool {
        compressible(&HeaderValue::from_static(s))
    }

    #[test]
    fn text_and_structured_types_are_compressible() {
        for t in [
            "text/html; charset=utf-8",
            "text/css",
            "TEXT/PLAIN",
            "text/javascript; charset=utf-8",
            "application/javascript",
            "application/json; charset=utf-8",
            "application/xml",
            "application/wasm",
            "image/svg+xml",
            "application/ld+json",
            "application/rss+xml",
            "font/ttf",
            "image/x-icon",
        ] {
            assert!(c(t), "{t}");
        }
    }

    #[test]
    fn compressed_and_unknown_types_are_not() {
        for t in [
            "image/png",
            "image/jpeg",
            "image/webp",
            "image/avif",
            "video/mp4",
            "audio/mpeg",
            "application/zip",
            "application/gzip",
            "application/x-gzip",
            "application/x-brotli",
            "application/zstd",
            "font/woff2",
            "font/woff",
            "application/pdf",
            "application/octet-stream",
            "",
            "text",
            "garbage",
        ] {
            assert!(!c(t), "{t}");
        }
    }
}
