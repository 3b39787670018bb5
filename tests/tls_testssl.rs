//! testssl.sh (Debian's `testssl.sh` package, command `testssl`) against the default TLS
//! configuration (`--tls-bind` with `--cert`/`--key`, nothing else): no protocol below TLS 1.2,
//! every cipher suite offered has forward secrecy and AEAD, no vulnerability found, and nothing
//! rated above INFO. Its JSON findings are read, not its text.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::tls::{serve_https, Pki};
use pollux_testkit::{run_within, TempRoot};

#[test]
fn testssl_finds_only_tls_1_2_and_1_3_forward_secret_aead_suites_and_no_vulnerability() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-testssl");
    let s = serve_https(&root.0, &pki, &[], 0);
    let json = root.path("testssl.json");
    let t = Instant::now();
    let out = run_within(
        Command::new("testssl")
            .args(["--quiet", "--color", "0", "--warnings", "off", "--openssl-timeout", "10"])
            .args(["--protocols", "--std", "--fs", "--vulnerable", "--each-cipher"])
            .arg("--jsonfile")
            .arg(&json)
            .arg(s.tls.to_string()),
        Duration::from_secs(400),
        "testssl",
    );
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("testssl took {took:?}:\n{text}");
    let findings: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&json).unwrap_or_else(|e| panic!("no JSON from testssl ({e}): {text}")),
    )
    .expect("testssl's JSON");
    let findings = findings.as_array().expect("a list of findings");
    let get = |id: &str| -> (String, String) {
        let f = findings.iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no finding {id}:\n{text}"));
        (f["severity"].as_str().unwrap_or("").to_owned(), f["finding"].as_str().unwrap_or("").to_owned())
    };
    for old in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert_eq!(get(old).1, "not offered", "{old}");
    }
    assert_eq!(get("TLS1_2").1, "offered");
    assert!(get("TLS1_3").1.starts_with("offered"), "{:?}", get("TLS1_3"));
    for weak in ["NULL", "aNULL", "EXPORT", "LOW", "3DES_IDEA", "AVERAGE"] {
        assert_eq!(get(&format!("cipherlist_{weak}")).1, "not offered", "cipherlist_{weak}");
    }
    assert_eq!(get("cipherlist_STRONG").1, "offered");
    // Every suite offered (--each-cipher): TLS 1.3's, or ECDHE with an AEAD.
    let suites: Vec<&str> = findings
        .iter()
        .filter(|f| f["id"].as_str().is_some_and(|i| i.starts_with("cipher_x")))
        .map(|f| f["finding"].as_str().unwrap_or(""))
        .collect();
    assert!(!suites.is_empty(), "no cipher_x findings:\n{text}");
    for suite in &suites {
        let name = suite.split_whitespace().nth(1).unwrap_or("");
        let tls13 = name.starts_with("TLS_");
        let fs_aead =
            name.starts_with("ECDHE-") && (name.contains("-GCM-") || name.contains("CHACHA20-POLY1305"));
        assert!(tls13 || fs_aead, "offered without forward secrecy or AEAD: {suite}");
    }
    // No finding rated above INFO (vulnerabilities, weak settings) and none that testssl could
    // not test.
    let bad: Vec<String> = findings
        .iter()
        .filter(|f| !matches!(f["severity"].as_str(), Some("OK" | "INFO")))
        .map(|f| format!("{} {} {}", f["id"], f["severity"], f["finding"]))
        .collect();
    assert!(bad.is_empty(), "testssl findings above INFO:\n{}\n{text}", bad.join("\n"));
}
