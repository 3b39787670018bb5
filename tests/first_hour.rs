//! What a newcomer meets first: the README's install step works, and nothing a user reads
//! uses the project's private shorthand for the notes it grew from.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_readme_install_step_puts_a_working_pollux_on_path() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    assert!(readme.contains("cargo install --path ."), "the README must say how to install");
    // The same command, as a debug build (the test suite's own artifacts are reused), into
    // a scratch root instead of ~/.cargo.
    let root = pollux_testkit::TempRoot::new("install");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["install", "--path", ".", "--debug", "--offline", "--quiet", "--root"])
        .arg(&root.0)
        .current_dir(repo())
        .output()
        .expect("run cargo install");
    assert!(out.status.success(), "cargo install failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let out =
        Command::new(root.0.join("bin/pollux")).arg("--version").output().expect("run the installed pollux");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pollux "), "{out:?}");
}

/// Every text file under `dir` (not build output or caches).
fn texts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "__pycache__" || name == "staticfiles" {
            continue;
        }
        if p.is_dir() {
            texts(&p, out);
        } else if ["md", "py", "rs", "sh", "html", "txt", "css", "toml"]
            .iter()
            .any(|x| name.ends_with(&format!(".{x}")))
        {
            out.push(p);
        }
    }
}

fn says_seeds(text: &str) -> bool {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).any(|w| w == "seeds")
}

#[test]
fn no_help_text_readme_doc_or_example_says_seeds() {
    let mut files = vec![repo().join("README.md")];
    for dir in ["docs", "examples", "bench", "scripts"] {
        texts(&repo().join(dir), &mut files);
    }
    let offenders: Vec<_> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| says_seeds(&t)))
        .map(|f| f.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");

    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["tftp"],
        &["tftp", "serve"],
        &["tftp", "get"],
        &["tftp", "put"],
        &["echo"],
        &["chat"],
        &["chat", "serve"],
        &["chat", "connect"],
        &["udp"],
        &["udp", "send"],
        &["udp", "listen"],
        &["lab"],
        &["lab", "c10k"],
    ];
    for args in commands {
        let out =
            Command::new(pollux_testkit::pollux_bin()).args(*args).arg("--help").output().expect("help");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("Usage:"), "pollux {args:?} --help: {text}");
        assert!(!says_seeds(&text), "pollux {args:?} --help says seeds:\n{text}");
    }
}
