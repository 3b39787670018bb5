//! `--bind` values: every listening flag of the binary takes the same forms.
//!
//! | typed            | means                                                        |
//! |------------------|--------------------------------------------------------------|
//! | `127.0.0.1:8000` | that address and port                                        |
//! | `[::]:8000`      | IPv6 (brackets needed with a port)                           |
//! | `localhost:8000` | every address the name resolves to, as nginx's `listen` does  |
//! | `0.0.0.0`, `::`  | that host, the command's default port                        |
//! | `8000`, `:8000`  | the command's default host (loopback for servers), that port |
//!
//! A bare port keeps the default host rather than meaning "all interfaces" as it does for
//! nginx and Caddy: a user who expected the LAN and got loopback sees it in the printed URL,
//! while one who expected loopback and got the LAN would expose files without noticing.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::Context;

/// What the accepted forms are, for error messages and `--help`.
pub(crate) const FORMS: &str =
    "HOST:PORT, HOST or PORT (e.g. 127.0.0.1:8000, [::]:8000, localhost:8000, 0.0.0.0, 8000)";

/// A parsed `--bind` value; the missing parts come from the command's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bind {
    host: Option<Host>,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// The clap value parser of every `--bind`.
pub(crate) fn parse_bind(s: &str) -> Result<Bind, String> {
    let bad = || format!("'{s}' is not an address: use {FORMS}");
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(Bind { host: Some(Host::Ip(a.ip())), port: Some(a.port()) });
    }
    let bare = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Bind { host: Some(Host::Ip(ip)), port: None });
    }
    let port = |p: &str| p.parse::<u16>().map_err(|_| format!("'{s}': the port must be 0-65535"));
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return Ok(Bind { host: None, port: Some(port(s)?) });
    }
    if let Some(p) = s.strip_prefix(':') {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        return Ok(Bind { host: None, port: Some(port(p)?) });
    }
    let (name, p) = match s.rsplit_once(':') {
        Some((name, p)) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => (name, Some(port(p)?)),
        Some(_) => return Err(bad()),
        None => (s, None),
    };
    if !is_host_name(name) {
        return Err(bad());
    }
    Ok(Bind { host: Some(Host::Name(name.to_owned())), port: p })
}

/// RFC 1123 host name characters; no scheme, path or stray colon.
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        && !s.starts_with(['-', '.'])
}

impl Bind {
    /// The socket addresses to listen on, the missing host or port taken from `default`;
    /// a host name is resolved (all its addresses, each once).
    pub(crate) fn resolve(&self, default: SocketAddr) -> anyhow::Result<Vec<SocketAddr>> {
        let port = self.port.unwrap_or(default.port());
        match &self.host {
            None => Ok(vec![SocketAddr::new(default.ip(), port)]),
            Some(Host::Ip(ip)) => Ok(vec![SocketAddr::new(*ip, port)]),
            Some(Host::Name(name)) => {
                let mut out: Vec<SocketAddr> = Vec::new();
                for a in (name.as_str(), port)
                    .to_socket_addrs()
                    .with_context(|| format!("cannot resolve {name}"))?
                {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                anyhow::ensure!(!out.is_empty(), "{name} resolves to no address");
                Ok(out)
            }
        }
    }

    /// Whether the port was given.
    pub(crate) fn has_port(&self) -> bool {
        self.port.is_some()
    }
}

/// Every `--bind` resolved against `default`, in order. Not deduplicated across flags:
/// `--bind 127.0.0.1:0` twice asks for two listeners on two free ports.
pub(crate) fn resolve_all(binds: &[Bind], default: SocketAddr) -> anyhow::Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for b in binds {
        out.extend(b.resolve(default)?);
    }
    Ok(out)
}

/// The clap value parser of `--workers`: zero workers would serve nothing.
pub(crate) fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// A server's failure, with the privileged-port hint when the kernel refused a port below
/// 1024 (EACCES from bind(2) means nothing else on Linux).
pub(crate) fn listen_error(e: std::io::Error, addrs: &[SocketAddr]) -> anyhow::Error {
    let privileged = e.kind() == std::io::ErrorKind::PermissionDenied
        && addrs.iter().any(|a| a.port() != 0 && a.port() < 1024);
    let e = anyhow::Error::new(e);
    if privileged {
        e.context(crate::Hint("ports below 1024 need root or CAP_NET_BIND_SERVICE".into()))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

    fn one(s: &str) -> SocketAddr {
        let b = parse_bind(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        b.resolve(DEF).expect("resolve")[0]
    }

    #[test]
    fn every_documented_form_is_accepted() {
        assert_eq!(one("127.0.0.1:9000"), "127.0.0.1:9000".parse().expect("addr"));
        assert_eq!(one("[::1]:9000"), "[::1]:9000".parse().expect("addr"));
        assert_eq!(one("0.0.0.0"), "0.0.0.0:8000".parse().expect("addr"));
        assert_eq!(one("::"), "[::]:8000".parse().expect("addr"));
        assert_eq!(one("[::]"), "[::]:8000".parse().expect("addr"));
        assert_eq!(one("9000"), "127.0.0.1:9000".parse().expect("addr"));
        assert_eq!(one(":9000"), "127.0.0.1:9000".parse().expect("addr"));
        assert!(one("localhost:9000").ip().is_loopback());
    }

    #[test]
    fn nonsense_names_the_accepted_forms() {
        for s in ["", ":", "http://x:80", "1.2.3.4:99999", "a b", "host:port", "99999"] {
            let e = parse_bind(s).expect_err(s);
            assert!(e.contains(s), "{e}");
        }
        assert!(parse_bind("x y").expect_err("space").contains("HOST:PORT"));
    }
}
