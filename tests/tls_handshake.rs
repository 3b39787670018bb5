//! The handshake as `openssl s_client` sees it: a certificate per server name (SNI), ALPN
//! `http/1.1` only, TLS 1.2 and 1.3 and nothing older, `--tls-min 1.3`, session resumption
//! across workers, and no 0-RTT.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use pollux_testkit::tls::{get_close, s_client, s_client_brief, serve_https, Pki};
use pollux_testkit::TempRoot;

/// The server with three certificates: `a.test`, `b.test`, and `localhost` as the default.
fn sni_server(pki: &Pki, extra: &[&str]) -> (TempRoot, pollux_testkit::tls::Https) {
    let root = TempRoot::new("tls-sni");
    let mut args: Vec<String> = pki.sni_args("a.test", "a.test");
    args.extend(pki.sni_args("b.test", "b.test"));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = serve_https(&root.0, pki, &args, 0);
    (root, s)
}

fn ca_args(pki: &Pki) -> [String; 3] {
    ["-CAfile".into(), pki.cert("ca").display().to_string(), "-verify_return_error".into()]
}

#[test]
fn each_server_name_gets_its_own_certificate() {
    let pki = Pki::new();
    let (_root, s) = sni_server(&pki, &[]);
    let ca = ca_args(&pki);
    for (name, cn) in
        [("a.test", "a.test"), ("b.test", "b.test"), ("c.test", "localhost"), ("A.Test", "a.test")]
    {
        let h = s_client(
            s.tls,
            &["-servername", name, "-verify_hostname", cn, &ca[0], &ca[1], &ca[2]],
            &get_close("/", name),
        );
        assert!(h.established(), "{name}: {}", h.dump());
        assert_eq!(h.subject.as_deref(), Some(format!("CN = {cn}").as_str()), "{name}: {}", h.dump());
        assert_eq!(h.issuer.as_deref(), Some("CN = pollux test CA"), "{name}");
        assert_eq!(h.verify_code, Some(0), "{name}: {}", h.dump());
        assert!(h.stdout.contains("HTTP/1.1 200 OK"), "{name}: the request is answered: {}", h.dump());
    }
    // No SNI at all: the default certificate.
    let h = s_client(s.tls, &["-noservername"], &get_close("/", "x"));
    assert_eq!(h.subject.as_deref(), Some("CN = localhost"), "{}", h.dump());
}

#[test]
fn without_a_default_certificate_an_unknown_name_is_refused_with_an_alert() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-nodefault");
    let mut cmd = pollux_testkit::tls::https_command(&root.0);
    cmd.args(["--workers", "1", "--access-log", "off"]).args(pki.sni_args("a.test", "a.test"));
    let s = pollux_testkit::tls::spawn_https(cmd, 0);
    let h = s_client_brief(s.tls, &["-servername", "c.test"], Duration::from_millis(500));
    assert!(!h.established(), "{}", h.dump());
    assert!(h.alert().is_some(), "the server says why with an alert: {}", h.dump());
    let h = s_client_brief(s.tls, &["-noservername"], Duration::from_millis(500));
    assert!(!h.established() && h.alert().is_some(), "{}", h.dump());
    // The known name still works.
    let h = s_client(s.tls, &["-servername", "a.test"], &get_close("/", "a.test"));
    assert_eq!(h.subject.as_deref(), Some("CN = a.test"), "{}", h.dump());
}

#[test]
fn alpn_chooses_h2_when_offered_and_http_1_1_otherwise() {
    let pki = Pki::new();
    let (_root, s) = sni_server(&pki, &[]);
    let h = s_client(s.tls, &["-servername", "localhost", "-alpn", "http/1.1"], &get_close("/", "localhost"));
    assert_eq!(h.alpn.as_deref(), Some("http/1.1"), "{}", h.dump());
    // A client offering both gets h2: ours is the order that counts, and h2 comes first.
    let h = s_client_brief(
        s.tls,
        &["-servername", "localhost", "-alpn", "http/1.1,h2"],
        Duration::from_millis(500),
    );
    assert_eq!(h.alpn.as_deref(), Some("h2"), "{}", h.dump());
    // No ALPN offered: none agreed, and the connection speaks HTTP/1.1.
    let h = s_client(s.tls, &["-servername", "localhost"], &get_close("/", "localhost"));
    assert_eq!(h.alpn, None, "{}", h.dump());
    assert!(h.stdout.contains("No ALPN negotiated") && h.stdout.contains("HTTP/1.1 200 OK"), "{}", h.dump());
    // Nothing we speak: RFC 7301 §3.2, the server refuses with no_application_protocol (120).
    let h =
        s_client_brief(s.tls, &["-servername", "localhost", "-alpn", "spdy/3"], Duration::from_millis(500));
    assert!(!h.established(), "{}", h.dump());
    assert_eq!(h.alert().as_deref(), Some("no application protocol"), "{}", h.dump());

    // --no-http2: h2 is not offered, so h2 alone is refused and h2 with http/1.1 gets http/1.1.
    let (_root, s) = sni_server(&pki, &["--no-http2"]);
    let h =
        s_client(s.tls, &["-servername", "localhost", "-alpn", "h2,http/1.1"], &get_close("/", "localhost"));
    assert_eq!(h.alpn.as_deref(), Some("http/1.1"), "{}", h.dump());
    let h = s_client_brief(s.tls, &["-servername", "localhost", "-alpn", "h2"], Duration::from_millis(500));
    assert!(!h.established(), "{}", h.dump());
    assert_eq!(h.alert().as_deref(), Some("no application protocol"), "{}", h.dump());
}

#[test]
fn tls_1_2_and_1_3_are_spoken_with_forward_secret_aead_suites() {
    let pki = Pki::new();
    let (_root, s) = sni_server(&pki, &[]);
    let ca = ca_args(&pki);
    let h = s_client(
        s.tls,
        &["-tls1_3", "-servername", "a.test", &ca[0], &ca[1], &ca[2]],
        &get_close("/", "a.test"),
    );
    assert_eq!(h.protocol.as_deref(), Some("TLSv1.3"), "{}", h.dump());
    assert!(h.stdout.contains("Protocol  : TLSv1.3"), "{}", h.dump());
    let h = s_client(
        s.tls,
        &["-tls1_2", "-servername", "a.test", &ca[0], &ca[1], &ca[2]],
        &get_close("/", "a.test"),
    );
    assert_eq!(h.protocol.as_deref(), Some("TLSv1.2"), "{}", h.dump());
    assert!(h.stdout.contains("Protocol  : TLSv1.2"), "{}", h.dump());
    let cipher = h.cipher.clone().unwrap_or_default();
    assert!(
        cipher.starts_with("ECDHE-ECDSA-") && (cipher.contains("GCM") || cipher.contains("CHACHA20")),
        "{cipher}"
    );
    assert!(h.stdout.contains("HTTP/1.1 200 OK"), "{}", h.dump());
    // Offered only CBC or non-ephemeral suites, a TLS 1.2 client gets no session.
    for weak in ["ECDHE-ECDSA-AES128-SHA256", "AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-SHA"] {
        let h = s_client_brief(s.tls, &["-tls1_2", "-cipher", weak], Duration::from_millis(300));
        assert!(!h.established(), "{weak} was accepted: {}", h.dump());
        assert_eq!(h.alert().as_deref(), Some("handshake failure"), "{weak}: {}", h.dump());
    }
}

#[test]
fn tls_1_1_and_1_0_hellos_are_refused_by_the_server() {
    let pki = Pki::new();
    let (_root, s) = sni_server(&pki, &[]);
    // SECLEVEL=0 lets Debian's OpenSSL send the old hello at all; the refusal must then be the
    // server's alert, not a client that would not try. Which alert: rustls checks for the
    // signature_algorithms extension (TLS 1.2's, absent from an older hello) before the
    // version, so it answers handshake_failure (40) where RFC 5246 E.1 suggests
    // protocol_version (70); either says "not this".
    for old in ["-tls1_1", "-tls1"] {
        let h = s_client_brief(s.tls, &[old, "-cipher", "DEFAULT:@SECLEVEL=0"], Duration::from_millis(300));
        assert!(!h.established(), "{old}: {}", h.dump());
        assert!(
            !h.stderr.contains("no protocols available"),
            "{old}: the client refused to send: {}",
            h.dump()
        );
        assert!(
            h.stdout.contains("SSL handshake has read 7 bytes"),
            "{old}: one alert record back: {}",
            h.dump()
        );
        let alert = h.alert();
        assert!(
            matches!(alert.as_deref(), Some("protocol version" | "handshake failure")),
            "{old}: {}",
            h.dump()
        );
    }
}

#[test]
fn tls_min_1_3_refuses_a_tls_1_2_client() {
    let pki = Pki::new();
    let (_root, s) = sni_server(&pki, &["--tls-min", "1.3"]);
    let h = s_client_brief(s.tls, &["-tls1_2"], Duration::from_millis(300));
    assert!(!h.established(), "{}", h.dump());
    assert_eq!(h.alert().as_deref(), Some("protocol version"), "{}", h.dump());
    let h = s_client(s.tls, &["-tls1_3"], &get_close("/", "localhost"));
    assert_eq!(h.protocol.as_deref(), Some("TLSv1.3"), "{}", h.dump());
}

/// 20 reconnects, each resuming the latest session it was given (`-sess_in` the last
/// `-sess_out` that was written: s_client writes one only for a new session or ticket, which a
/// TLS 1.2 resumption by session ID does not make), against two workers: SO_REUSEPORT spreads the connections over both (all 20
/// on one worker has odds of 2^-19), so resumption works across workers or some are `New`.
fn resume_20_times(version: &str) {
    let pki = Pki::new();
    let root = TempRoot::new("tls-resume");
    let mut cmd = pollux_testkit::tls::https_command(&root.0);
    cmd.args(["--workers", "2", "--access-log", "off"]).args(pki.cert_args("localhost"));
    let s = pollux_testkit::tls::spawn_https(cmd, 0);
    let dir = TempRoot::empty("tls-sessions");
    let sess = |i: usize| dir.path(&format!("s{i}.pem")).display().to_string();
    let first =
        s_client(s.tls, &[version, "-servername", "localhost", "-sess_out", &sess(0)], &get_close("/", "x"));
    assert!(first.established() && !first.reused, "{}", first.dump());
    let mut resumed = 0;
    let mut latest = 0;
    for i in 1..=20 {
        let h = s_client(
            s.tls,
            &[version, "-servername", "localhost", "-sess_in", &sess(latest), "-sess_out", &sess(i)],
            &get_close("/", "x"),
        );
        if std::path::Path::new(&sess(i)).exists() {
            latest = i;
        }
        assert!(h.stdout.contains("HTTP/1.1 200 OK"), "reconnect {i}: {}", h.dump());
        assert!(h.reused, "reconnect {i} of 20 was not resumed ({resumed} were): {}", h.dump());
        // No 0-RTT: a resumed TLS 1.3 session never offers early data.
        assert!(!h.stdout.contains("Early data was accepted"), "{}", h.dump());
        resumed += 1;
    }
    assert_eq!(resumed, 20);
}

#[test]
fn twenty_tls_1_3_reconnects_all_resume_across_two_workers() {
    resume_20_times("-tls1_3");
}

#[test]
fn twenty_tls_1_2_reconnects_all_resume_across_two_workers() {
    resume_20_times("-tls1_2");
}

#[test]
fn no_0_rtt_early_data_is_accepted() {
    let pki = Pki::new();
    let root = TempRoot::new("tls-0rtt");
    std::fs::write(root.path("early.txt"), get_close("/", "x")).unwrap();
    let s = serve_https(&root.0, &pki, &[], 0);
    let dir = TempRoot::empty("tls-0rtt-sess");
    let sess = dir.path("s.pem").display().to_string();
    let h = s_client(s.tls, &["-tls1_3", "-sess_out", &sess], &get_close("/", "x"));
    assert!(h.established(), "{}", h.dump());
    // The tickets it sent allow no early data...
    assert!(h.stdout.contains("Max Early Data: 0"), "{}", h.dump());
    assert!(
        !h.stdout.lines().any(|l| l.trim().starts_with("Max Early Data: ") && !l.trim().ends_with(": 0")),
        "{}",
        h.dump()
    );
    // ...so a client with early data to send does not send it (or has it rejected).
    let early = root.path("early.txt").display().to_string();
    let h = s_client(s.tls, &["-tls1_3", "-sess_in", &sess, "-early_data", &early], &get_close("/", "x"));
    assert!(!h.stdout.contains("Early data was accepted"), "{}", h.dump());
}
