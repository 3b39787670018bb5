//! Virtual hosts: choosing the root by the request's host.
//!
//! The host is the URI's authority for an absolute-form target (RFC 9112 §3.2.2: the server
//! MUST ignore `Host` then) and the `Host` field otherwise. The port is ignored, names compare
//! case-insensitively (RFC 9110 §4.2.3), and a trailing dot (`example.com.`) is the same name.
//! An unknown host gets the default root.

use std::path::PathBuf;

use http::header::HOST;
use http::{HeaderMap, Uri};

use crate::cache::Root;

/// Host name → root. A list, scanned in order: a server has a handful of names, and comparing
/// in place needs no lower-cased copy of the request's host.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vhosts {
    hosts: Vec<(String, Root)>,
}

impl Vhosts {
    pub(crate) fn add(&mut self, name: &str, root: PathBuf) {
        let name = name.to_ascii_lowercase();
        self.hosts.retain(|(n, _)| *n != name);
        self.hosts.push((name, Root::new(root)));
    }

    /// The root for a request to `uri` with the fields `headers`, or `default`.
    pub(crate) fn root_for<'a>(&'a self, uri: &Uri, headers: &HeaderMap, default: &'a Root) -> &'a Root {
        if self.hosts.is_empty() {
            return default;
        }
        let host = match uri.host() {
            Some(h) => h,
            None => match headers.get(HOST).and_then(|v| v.to_str().ok()) {
                Some(h) => strip_port(h),
                None => return default,
            },
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        self.hosts.iter().find(|(n, _)| n.eq_ignore_ascii_case(host)).map_or(default, |(_, r)| r)
    }
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]` (the URI's `host()` keeps the
/// brackets too, so both forms compare alike).
fn strip_port(h: &str) -> &str {
    let h = h.trim();
    if h.starts_with('[') {
        return h.find(']').map_or(h, |i| &h[..=i]);
    }
    h.rsplit_once(':').map_or(h, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use pollux_server::Body;

    fn site() -> Vhosts {
        let mut v = Vhosts::default();
        v.add("Example.COM", PathBuf::from("/ex"));
        v.add("[::1]", PathBuf::from("/v6"));
        v
    }

    fn root(target: &str, host: Option<&str>) -> PathBuf {
        let mut b = Request::builder().uri(target);
        if let Some(h) = host {
            b = b.header(HOST, h);
        }
        let req = b.body(Body::Empty).unwrap_or_default();
        site().root_for(req.uri(), req.headers(), &Root::new(PathBuf::from("/default"))).to_path_buf()
    }

    #[test]
    fn host_field_chooses_the_root() {
        assert_eq!(root("/", Some("example.com")), PathBuf::from("/ex"));
        assert_eq!(root("/", Some("EXAMPLE.com:8080")), PathBuf::from("/ex"));
        assert_eq!(root("/", Some("example.com.")), PathBuf::from("/ex"));
        assert_eq!(root("/", Some("[::1]:80")), PathBuf::from("/v6"));
        assert_eq!(root("/", Some("other.example")), PathBuf::from("/default"));
        assert_eq!(root("/", None), PathBuf::from("/default"));
    }

    #[test]
    fn absolute_form_authority_wins_over_host() {
        assert_eq!(root("http://example.com/x", Some("other")), PathBuf::from("/ex"));
        assert_eq!(root("http://other/x", Some("example.com")), PathBuf::from("/default"));
    }
}
