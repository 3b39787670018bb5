//! The script's environment: the RFC 3875 §4.1 meta-variables, built from nothing.
//!
//! Nothing of the server's own environment is inherited: the caller runs the script with
//! `meta_variables(&info)` as its whole environment, so a secret in the server's
//! environment never reaches a script, and a script sees the same variables whoever
//! started the server. `PATH` is the one variable that is not about the request: the server's
//! own by default (the binary passes it, as Apache's mod_cgi does), so that
//! `#!/usr/bin/env python3` finds the Python of the virtualenv or pyenv the server was started
//! from; [`PATH`] where none is given.
//!
//! Request header fields become `HTTP_*` variables (§4.1.18) with four families left out:
//!
//! * fields with their own variable (`Content-Type`, `Content-Length`);
//! * credentials (`Authorization`, `Proxy-Authorization`): §4.1.18 says the server SHOULD
//!   remove them, and we have no `AUTH_TYPE`/`REMOTE_USER` to offer instead;
//! * `Proxy` (httpoxy, CVE-2016-5385): as `HTTP_PROXY` it is read by many HTTP client
//!   libraries as their outbound proxy, so any client could route the script's own requests
//!   through a host of its choosing;
//! * fields about this one connection (`Connection`, `Keep-Alive`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`), which §4.1.18 lets us remove: the script reads a
//!   de-chunked body from stdin, and an `HTTP_TRANSFER_ENCODING=chunked` would tell it
//!   otherwise.
//!
//! Only names made of letters, digits and `-` are passed. A `_` is refused in particular:
//! `X-User` and `X_User` would both become `HTTP_X_USER`, letting a client forge a field that a
//! proxy in front of us thought it had set or stripped (Apache 2.4 and nginx drop these too).
//!
//! Values are bytes, not text: a header value may hold obs-text (0x80–0xFF), which reaches the
//! script unchanged, so this module is Unix-only (`OsStringExt`). A NUL cannot cross `execve`
//! (and would make the spawn fail outright), so a variable whose value would hold one is
//! left out instead.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use http::header::{self, HeaderName};
use http::uri::Authority;
use http::{HeaderMap, Method, Uri, Version};

use crate::Script;

/// The `PATH` a script gets when the server passes none.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Request fields never passed as `HTTP_*` (see the module docs for why each).
fn withheld(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-type"
            | "content-length"
            | "authorization"
            | "proxy-authorization"
            | "proxy"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Whether the request carries a message body, as the script will read it from stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// No body: no `CONTENT_LENGTH`.
    None,
    /// A body of this many bytes after transfer-decoding (§4.1.2), `Content-Length: 0`
    /// included: the script reads exactly this much.
    Length(u64),
    /// A body whose length is not known when the script starts (a chunked request streamed
    /// through). §4.1.2 wants a length, so prefer buffering; without one, `CONTENT_LENGTH` is
    /// left out and the script must read stdin to its end.
    Unknown,
}

/// Everything the meta-variables are made from.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    /// The request-target as received: `REQUEST_URI`, `QUERY_STRING`, and the authority of an
    /// absolute-form target.
    pub uri: &'a Uri,
    /// `SERVER_PROTOCOL`.
    pub version: Version,
    pub headers: &'a HeaderMap,
    pub body: RequestBody,
    /// The client (`REMOTE_ADDR`, `REMOTE_PORT`).
    pub peer: SocketAddr,
    /// Our end of the connection (`SERVER_PORT`, and `SERVER_NAME` without a Host).
    pub local: SocketAddr,
    /// The connection's TLS session: `HTTPS=on` and the `SSL_*` variables.
    pub tls: Option<&'a pollux_server::TlsInfo>,
    /// `SCRIPT_NAME`, `PATH_INFO`, `SCRIPT_FILENAME`.
    pub script: &'a Script,
    /// The site's root (`DOCUMENT_ROOT`, and the base of `PATH_TRANSLATED`); with `--cgi
    /// PREFIX=DIR` this is still the served root, not `DIR`.
    pub document_root: &'a Path,
    /// `SERVER_SOFTWARE`, e.g. `pollux/0.1.0`.
    pub server_software: &'a str,
    /// `PATH`.
    pub path: &'a std::ffi::OsStr,
}

/// The script's complete environment, in a fixed order: the RFC 3875 variables, the common
/// extensions (`DOCUMENT_ROOT`, `REQUEST_URI`, `SCRIPT_FILENAME`, `HTTPS`), `PATH`, then one
/// `HTTP_*` per request field name.
pub fn meta_variables(info: &RequestInfo<'_>) -> Vec<(OsString, OsString)> {
    let mut env = Env(Vec::with_capacity(24 + info.headers.keys_len()));
    let script = info.script;

    // RFC 3875 §4.1, in its order. AUTH_TYPE and REMOTE_USER/REMOTE_IDENT are absent: the
    // server authenticates nobody.
    match info.body {
        RequestBody::Length(n) => env.set("CONTENT_LENGTH", n.to_string()),
        RequestBody::None | RequestBody::Unknown => {}
    }
    if let Some(ct) = info.headers.get(header::CONTENT_TYPE) {
        env.set("CONTENT_TYPE", ct.as_bytes());
    }
    env.set("GATEWAY_INTERFACE", "CGI/1.1");
    // §4.1.5: decoded, and present even when empty.
    env.set("PATH_INFO", &script.path_info);
    // §4.1.6: "If PATH_INFO is NULL, then the PATH_TRANSLATED variable MUST be set to NULL
    // (or unset)". The path info was resolved like any request path, so it cannot climb out.
    if !script.path_info.is_empty() {
        let root = info.document_root.as_os_str().as_bytes();
        let root = root.strip_suffix(b"/").unwrap_or(root);
        env.set("PATH_TRANSLATED", [root, script.path_info.as_bytes()].concat());
    }
    // §4.1.7: as received, not decoded.
    env.set("QUERY_STRING", info.uri.query().unwrap_or(""));
    let remote = info.peer.ip().to_canonical().to_string();
    env.set("REMOTE_ADDR", &remote);
    // §4.1.9: SHOULD be set; MAY be the address when the name is not looked up (never, here).
    env.set("REMOTE_HOST", &remote);
    env.set("REMOTE_PORT", info.peer.port().to_string());
    env.set("REQUEST_METHOD", info.method.as_str());
    env.set("SCRIPT_NAME", &script.script_name);
    env.set("SERVER_NAME", server_name(info));
    env.set("SERVER_PORT", info.local.port().to_string());
    env.set("SERVER_PROTOCOL", protocol(info.version));
    env.set("SERVER_SOFTWARE", info.server_software);

    // Not in RFC 3875, but what scripts written for Apache expect.
    env.set("DOCUMENT_ROOT", info.document_root.as_os_str().as_bytes());
    env.set("REQUEST_URI", request_uri(info.uri));
    env.set("SCRIPT_FILENAME", script.file.as_os_str().as_bytes());
    if let Some(tls) = info.tls {
        // The names Apache's mod_ssl gives scripts (and nginx's fastcgi_params pass on).
        env.set("HTTPS", "on");
        env.set("SSL_PROTOCOL", tls.version);
        env.set("SSL_CIPHER", tls.cipher);
        if let Some(name) = &tls.server_name {
            env.set("SSL_TLS_SNI", name.as_bytes());
        }
        if let Some(subject) = &tls.client_subject {
            env.set("SSL_CLIENT_S_DN", subject.as_bytes());
            env.set("SSL_CLIENT_VERIFY", "SUCCESS");
        }
    }
    env.set("PATH", info.path.as_bytes());

    for name in info.headers.keys() {
        if withheld(name) {
            continue;
        }
        let Some(var) = variable_name(name) else { continue };
        // RFC 9110 §5.3 combines repeated fields with commas; cookies are the exception,
        // whose pairs are separated by `; ` (RFC 6265 §4.2.1, and RFC 9113 §8.2.3 for
        // joining several Cookie fields).
        let sep: &[u8] = if name == header::COOKIE { b"; " } else { b", " };
        let mut value = Vec::new();
        for (i, v) in info.headers.get_all(name).iter().enumerate() {
            if i > 0 {
                value.extend_from_slice(sep);
            }
            value.extend_from_slice(v.as_bytes());
        }
        env.set(&var, value);
    }
    env.0
}

/// The variables as they are collected, with the one check every value needs.
struct Env(Vec<(OsString, OsString)>);

impl Env {
    fn set(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        if value.contains(&0) {
            return;
        }
        self.0.push((OsString::from(name), OsString::from_vec(value.to_vec())));
    }
}

/// `HTTP_` and the field name upper-cased with `-` as `_` (§4.1.18), or `None` if the name
/// holds anything else (see the module docs for `_`).
fn variable_name(name: &HeaderName) -> Option<String> {
    let mut var = String::with_capacity(5 + name.as_str().len());
    var.push_str("HTTP_");
    for b in name.as_str().bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => var.push(char::from(b.to_ascii_uppercase())),
            b'-' => var.push('_'),
            _ => return None,
        }
    }
    Some(var)
}

/// `SERVER_NAME` (§4.1.14): the host the client asked for, without its port: from an
/// absolute-form target (which RFC 9112 §3.2.2 says overrides Host), else from Host, else
/// our own address (an HTTP/1.0 request may have no Host).
fn server_name(info: &RequestInfo<'_>) -> String {
    let asked = match info.uri.authority() {
        Some(a) => host_of(a),
        None => info
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<Authority>().ok())
            .and_then(|a| host_of(&a)),
    };
    asked.unwrap_or_else(|| match info.local.ip().to_canonical() {
        IpAddr::V4(ip) => ip.to_string(),
        // §4.1.14: server-name = hostname | ipv4-address | ( "[" ipv6-address "]" ).
        IpAddr::V6(ip) => format!("[{ip}]"),
    })
}

/// The host of an authority (IPv6 keeps its brackets), refusing userinfo, which has no place
/// in a Host field and would smuggle `user@` into URLs the script builds from SERVER_NAME.
fn host_of(authority: &Authority) -> Option<String> {
    let host = authority.host();
    (!host.is_empty() && !authority.as_str().contains('@')).then(|| host.to_owned())
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// The path and query exactly as the client sent them. For an absolute-form target that is
/// its origin-form part: scripts compare REQUEST_URI with their own paths.
fn request_uri(uri: &Uri) -> &str {
    uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use http::HeaderValue;

    use super::*;

    fn script(name: &str, info: &str) -> Script {
        Script {
            script_name: name.to_owned(),
            path_info: info.to_owned(),
            file: PathBuf::from(format!("/srv/cgi{}", name.trim_start_matches("/cgi-bin"))),
        }
    }

    fn headers(fields: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("test field name");
            map.append(name, HeaderValue::from_bytes(value).expect("test field value"));
        }
        map
    }

    /// What a request is made of, owned, so tests can change any of it.
    struct Fixture {
        method: Method,
        version: Version,
        body: RequestBody,
        peer: SocketAddr,
        local: SocketAddr,
        tls: Option<pollux_server::TlsInfo>,
        script: Script,
        document_root: PathBuf,
    }

    /// The environment of `GET uri` with `fields`, with `edit` applied to the defaults.
    fn env_of(
        uri: &str,
        fields: &[(&str, &[u8])],
        edit: impl FnOnce(&mut Fixture),
    ) -> Vec<(String, Vec<u8>)> {
        let uri: Uri = uri.parse().expect("test uri");
        let headers = headers(fields);
        let mut fx = Fixture {
            method: Method::GET,
            version: Version::HTTP_11,
            body: RequestBody::None,
            peer: "192.0.2.7:50000".parse().expect("addr"),
            local: "198.51.100.1:8080".parse().expect("addr"),
            tls: None,
            script: script("/cgi-bin/app.py", "/extra/path"),
            document_root: PathBuf::from("/srv/www"),
        };
        edit(&mut fx);
        let info = RequestInfo {
            method: &fx.method,
            uri: &uri,
            version: fx.version,
            headers: &headers,
            body: fx.body,
            peer: fx.peer,
            local: fx.local,
            tls: fx.tls.as_ref(),
            script: &fx.script,
            document_root: &fx.document_root,
            server_software: "pollux/0.1.0",
            path: std::ffi::OsStr::new(PATH),
        };
        meta_variables(&info)
            .into_iter()
            .map(|(k, v)| (k.into_string().expect("names are ASCII"), v.into_vec()))
            .collect()
    }

    fn get<'e>(env: &'e [(String, Vec<u8>)], name: &str) -> Option<&'e str> {
        let mut hits = env.iter().filter(|(k, _)| k == name);
        let hit = hits.next().map(|(_, v)| std::str::from_utf8(v).expect("UTF-8 value"));
        assert!(hits.next().is_none(), "{name} set twice");
        hit
    }

    #[test]
    fn every_meta_variable() {
        let env = env_of(
            "/cgi-bin/app.py/extra/path?a=%20b&c",
            &[
                ("host", b"example.com:8080"),
                ("content-type", b"application/x-www-form-urlencoded"),
                ("content-length", b"5"),
                ("user-agent", b"test/1"),
                ("accept", b"text/html"),
                ("accept", b"*/*"),
            ],
            |info| {
                info.method = Method::POST;
                info.body = RequestBody::Length(5);
            },
        );
        let expected: &[(&str, &str)] = &[
            ("CONTENT_LENGTH", "5"),
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("PATH_INFO", "/extra/path"),
            ("PATH_TRANSLATED", "/srv/www/extra/path"),
            ("QUERY_STRING", "a=%20b&c"),
            ("REMOTE_ADDR", "192.0.2.7"),
            ("REMOTE_HOST", "192.0.2.7"),
            ("REMOTE_PORT", "50000"),
            ("REQUEST_METHOD", "POST"),
            ("SCRIPT_NAME", "/cgi-bin/app.py"),
            ("SERVER_NAME", "example.com"),
            ("SERVER_PORT", "8080"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_SOFTWARE", "pollux/0.1.0"),
            ("DOCUMENT_ROOT", "/srv/www"),
            ("REQUEST_URI", "/cgi-bin/app.py/extra/path?a=%20b&c"),
            ("SCRIPT_FILENAME", "/srv/cgi/app.py"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("HTTP_HOST", "example.com:8080"),
            ("HTTP_USER_AGENT", "test/1"),
            ("HTTP_ACCEPT", "text/html, */*"),
        ];
        let got: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), std::str::from_utf8(v).expect("UTF-8"))).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn no_body_no_content_variables() {
        let env = env_of("/x", &[("host", b"h")], |_| {});
        assert_eq!(get(&env, "CONTENT_LENGTH"), None);
        assert_eq!(get(&env, "CONTENT_TYPE"), None);
        let env = env_of("/x", &[("host", b"h")], |i| i.body = RequestBody::Length(0));
        assert_eq!(get(&env, "CONTENT_LENGTH"), Some("0"));
        let env = env_of("/x", &[("host", b"h"), ("content-type", b"text/plain")], |i| {
            i.body = RequestBody::Unknown
        });
        assert_eq!(get(&env, "CONTENT_LENGTH"), None);
        assert_eq!(get(&env, "CONTENT_TYPE"), Some("text/plain"));
    }

    #[test]
    fn empty_path_info_and_query() {
        let env = env_of("/cgi-bin/app.py", &[("host", b"h")], |i| i.script = script("/cgi-bin/app.py", ""));
        assert_eq!(get(&env, "PATH_INFO"), Some(""));
        assert_eq!(get(&env, "PATH_TRANSLATED"), None);
        assert_eq!(get(&env, "QUERY_STRING"), Some(""));
        assert_eq!(get(&env, "REQUEST_URI"), Some("/cgi-bin/app.py"));
    }

    #[test]
    fn path_translated_joins_the_root_and_decoded_path_info() {
        let env = env_of("/cgi-bin/app.py/a%20b/%E4%B8%AD/", &[("host", b"h")], |i| {
            i.script = script("/cgi-bin/app.py", "/a b/中/");
            i.document_root = PathBuf::from("/srv/www/");
        });
        assert_eq!(get(&env, "PATH_INFO"), Some("/a b/中/"));
        assert_eq!(get(&env, "PATH_TRANSLATED"), Some("/srv/www/a b/中/"));
        assert_eq!(get(&env, "REQUEST_URI"), Some("/cgi-bin/app.py/a%20b/%E4%B8%AD/"));
    }

    #[test]
    fn server_name_comes_from_the_request_or_our_address() {
        let name = |uri: &str, host: Option<&[u8]>, local: &str| {
            let fields: Vec<(&str, &[u8])> = host.map(|h| ("host", h)).into_iter().collect();
            let local: SocketAddr = local.parse().expect("addr");
            let env = env_of(uri, &fields, |i| {
                i.local = local;
                i.version = Version::HTTP_10;
            });
            (get(&env, "SERVER_NAME").map(str::to_owned), get(&env, "SERVER_PORT").map(str::to_owned))
        };
        let both = |n: &str, p: &str| (Some(n.to_owned()), Some(p.to_owned()));
        assert_eq!(name("/", Some(b"Example.com:8443"), "10.0.0.1:80"), both("Example.com", "80"));
        assert_eq!(name("/", Some(b"[2001:db8::1]:8080"), "10.0.0.1:80"), both("[2001:db8::1]", "80"));
        assert_eq!(name("/", None, "10.0.0.1:80"), both("10.0.0.1", "80"));
        assert_eq!(name("/", None, "[2001:db8::2]:81"), both("[2001:db8::2]", "81"));
        assert_eq!(name("/", None, "[::ffff:10.0.0.3]:82"), both("10.0.0.3", "82"));
        assert_eq!(name("/", Some(b"user@evil:80"), "10.0.0.1:80"), both("10.0.0.1", "80"));
        assert_eq!(name("/", Some(b"bad host"), "10.0.0.1:80"), both("10.0.0.1", "80"));
        // An absolute-form target names the host; Host is ignored (RFC 9112 §3.2.2).
        assert_eq!(
            name("http://origin.example:81/x", Some(b"other"), "10.0.0.1:80"),
            both("origin.example", "80")
        );
    }

    #[test]
    fn protocol_and_method_and_remote() {
        let env = env_of("/", &[], |i| {
            i.version = Version::HTTP_10;
            i.method = Method::HEAD;
            i.peer = "[2001:db8::7]:4000".parse().expect("addr");
        });
        assert_eq!(get(&env, "SERVER_PROTOCOL"), Some("HTTP/1.0"));
        assert_eq!(get(&env, "REQUEST_METHOD"), Some("HEAD"));
        assert_eq!(get(&env, "REMOTE_ADDR"), Some("2001:db8::7"));
        assert_eq!(get(&env, "REMOTE_PORT"), Some("4000"));
        let env = env_of("/", &[], |i| i.peer = "[::ffff:192.0.2.9]:1".parse().expect("addr"));
        assert_eq!(get(&env, "REMOTE_ADDR"), Some("192.0.2.9"));
    }

    fn tls_session() -> pollux_server::TlsInfo {
        pollux_server::TlsInfo {
            version: "TLSv1.3",
            cipher: "TLS_AES_128_GCM_SHA256",
            server_name: Some("a.test".into()),
            client_subject: Some("CN=alice,O=Example".into()),
        }
    }

    #[test]
    fn https_and_ssl_variables_only_over_tls() {
        let plain = env_of("/", &[], |_| {});
        for name in
            ["HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_TLS_SNI", "SSL_CLIENT_S_DN", "SSL_CLIENT_VERIFY"]
        {
            assert_eq!(get(&plain, name), None, "{name}");
        }
        let env = env_of("/", &[], |i| i.tls = Some(tls_session()));
        assert_eq!(get(&env, "HTTPS"), Some("on"));
        assert_eq!(get(&env, "SSL_PROTOCOL"), Some("TLSv1.3"));
        assert_eq!(get(&env, "SSL_CIPHER"), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(get(&env, "SSL_TLS_SNI"), Some("a.test"));
        assert_eq!(get(&env, "SSL_CLIENT_S_DN"), Some("CN=alice,O=Example"));
        assert_eq!(get(&env, "SSL_CLIENT_VERIFY"), Some("SUCCESS"));
        let anonymous = env_of("/", &[], |i| {
            i.tls = Some(pollux_server::TlsInfo { client_subject: None, ..tls_session() })
        });
        assert_eq!(get(&anonymous, "SSL_CLIENT_S_DN"), None);
        assert_eq!(get(&anonymous, "SSL_CLIENT_VERIFY"), None);
    }

    #[test]
    fn absolute_form_request_uri_is_its_path_and_query() {
        let env = env_of("http://h.example/cgi-bin/app.py?q=1", &[], |_| {});
        assert_eq!(get(&env, "REQUEST_URI"), Some("/cgi-bin/app.py?q=1"));
        assert_eq!(get(&env, "QUERY_STRING"), Some("q=1"));
    }

    #[test]
    fn httpoxy_proxy_never_becomes_http_proxy() {
        let env = env_of("/", &[("proxy", b"http://evil.example:3128"), ("host", b"h")], |_| {});
        assert!(env.iter().all(|(k, _)| k != "HTTP_PROXY"), "{env:?}");
        assert_eq!(get(&env, "HTTP_HOST"), Some("h"));
        // Nor through an alias that would mangle to the same name.
        let env = env_of("/", &[("Proxy_", b"x"), ("pRoXy", b"y")], |_| {});
        assert!(env.iter().all(|(k, _)| !k.starts_with("HTTP_PROXY")), "{env:?}");
    }

    #[test]
    fn credentials_are_not_passed() {
        let env = env_of(
            "/",
            &[
                ("authorization", b"Basic dXNlcjpwdw=="),
                ("proxy-authorization", b"Basic eA=="),
                ("cookie", b"a=1"),
            ],
            |_| {},
        );
        let names: Vec<&str> =
            env.iter().map(|(k, _)| k.as_str()).filter(|k| k.starts_with("HTTP_")).collect();
        assert_eq!(names, ["HTTP_COOKIE"]);
    }

    #[test]
    fn own_variables_and_connection_fields_are_not_duplicated() {
        let env = env_of(
            "/",
            &[
                ("content-type", b"text/plain"),
                ("content-length", b"3"),
                ("transfer-encoding", b"chunked"),
                ("connection", b"keep-alive"),
                ("keep-alive", b"timeout=5"),
                ("te", b"trailers"),
                ("trailer", b"x"),
                ("upgrade", b"websocket"),
            ],
            |_| {},
        );
        assert!(env.iter().all(|(k, _)| !k.starts_with("HTTP_")), "{env:?}");
    }

    #[test]
    fn header_names_are_mangled_or_dropped() {
        let env = env_of(
            "/",
            &[
                ("X-Forwarded-For", b"192.0.2.1"),
                ("x-forwarded-for", b"192.0.2.2"),
                ("DNT", b"1"),
                ("x-1st", b"digit"),
                ("x_user", b"smuggled"),
                ("x.dotted", b"no"),
                ("x!bang", b"no"),
                ("cookie", b"a=1"),
                ("cookie", b"b=2"),
            ],
            |_| {},
        );
        let http: Vec<(&str, &str)> = env
            .iter()
            .filter(|(k, _)| k.starts_with("HTTP_"))
            .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).expect("UTF-8")))
            .collect();
        assert_eq!(
            http,
            [
                ("HTTP_X_FORWARDED_FOR", "192.0.2.1, 192.0.2.2"),
                ("HTTP_DNT", "1"),
                ("HTTP_X_1ST", "digit"),
                ("HTTP_COOKIE", "a=1; b=2"),
            ]
        );
    }

    #[test]
    fn values_are_bytes_not_text() {
        let env = env_of("/", &[("x-latin1", b"caf\xe9")], |_| {});
        let v = env.iter().find(|(k, _)| k == "HTTP_X_LATIN1").map(|(_, v)| v.as_slice());
        assert_eq!(v, Some(&b"caf\xe9"[..]));
    }

    #[test]
    fn a_nul_drops_the_variable_instead_of_failing_the_spawn() {
        // HeaderValue cannot hold NUL, but the script split is the caller's to build.
        let s = Script {
            script_name: "/cgi-bin/a\0b".into(),
            path_info: "/x\0".into(),
            file: "/srv/cgi/a".into(),
        };
        let env = env_of("/", &[], |i| i.script = s);
        for name in ["SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED"] {
            assert_eq!(get(&env, name), None, "{name}");
        }
        assert!(env.iter().all(|(_, v)| !v.contains(&0)));
        assert_eq!(get(&env, "SCRIPT_FILENAME"), Some("/srv/cgi/a"));
    }

    #[test]
    fn every_name_is_a_valid_variable_name() {
        let env = env_of("/", &[("a-b", b"1"), ("x", b"2"), ("9", b"3")], |i| i.tls = Some(tls_session()));
        for (k, _) in &env {
            assert!(k.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'), "{k}");
            assert!(!k.starts_with(|c: char| c.is_ascii_digit()), "{k}");
        }
    }
}
