//! Feeds arbitrary request paths to `pollux_path::resolve`, the only thing standing between
//! a request-target and a file name under the served root.
//!
//! Oracles besides "no panic":
//! - confinement: a resolved path is relative and made only of normal segments (no root, no
//!   `..`, no `.`), none holding NUL or `\`, so joined to any root it stays under that root;
//! - the fast path (a clean path borrowed as it is) and the decoding path agree: `/.` in front
//!   forces decoding and must not change the answer;
//! - what `resolve` produced, written back as a URL by `to_url`, resolves to itself.

#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use pollux_path::{resolve, to_url};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    check(s);
    check(&format!("/{s}"));
});

fn check(request_path: &str) {
    let Some(rel) = resolve(request_path) else {
        if request_path.starts_with('/') {
            // Refused: the decoding path must refuse it too.
            assert!(
                resolve(&format!("/.{request_path}")).is_none(),
                "{request_path:?}: fast path refused, decode accepted"
            );
        }
        return;
    };
    for c in rel.components() {
        let Component::Normal(seg) = c else {
            panic!("{request_path:?} resolved to {rel:?}, with a {c:?} component");
        };
        let seg = seg.as_encoded_bytes();
        assert!(!seg.contains(&0) && !seg.contains(&b'\\'), "{request_path:?}: segment {seg:?}");
    }
    let root = Path::new("/srv/root");
    let joined = root.join(&rel);
    assert!(joined.starts_with(root), "{request_path:?} escapes: {}", joined.display());

    let dotted = format!("/.{request_path}");
    assert_eq!(resolve(&dotted).as_deref(), Some(&*rel), "{request_path:?}: fast and decoding paths differ");

    let url = to_url(&rel);
    assert_eq!(resolve(&url).as_deref(), Some(&*rel), "{request_path:?} -> {rel:?} -> {url:?}");
}
