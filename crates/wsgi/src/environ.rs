//! The environ dictionary (PEP 3333 §"environ Variables", with CGI's meta-variables of
//! RFC 3875 §4.1): built fresh for each request from the request alone, so nothing of the
//! server's own environment leaks into it.
//!
//! Strings are "native strings": `str` holding ISO-8859-1 (latin-1) decoded bytes, so that
//! `PATH_INFO.encode('latin-1')` gives the path's percent-decoded bytes back exactly.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
use http::{HeaderMap, Version};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::job::Request;

/// The keys, and the values that never change, made once: each request then sets
/// pre-built objects instead of creating (and hashing) the same strings again.
pub(crate) struct Keys {
    request_method: Py<PyString>,
    script_name: Py<PyString>,
    path_info: Py<PyString>,
    query_string: Py<PyString>,
    content_type: Py<PyString>,
    content_length: Py<PyString>,
    server_name: Py<PyString>,
    server_port: Py<PyString>,
    server_protocol: Py<PyString>,
    remote_addr: Py<PyString>,
    remote_port: Py<PyString>,
    request_uri: Py<PyString>,
    server_software: Py<PyString>,
    wsgi_version: Py<PyString>,
    wsgi_url_scheme: Py<PyString>,
    wsgi_input: Py<PyString>,
    wsgi_input_terminated: Py<PyString>,
    wsgi_errors: Py<PyString>,
    wsgi_multithread: Py<PyString>,
    wsgi_multiprocess: Py<PyString>,
    wsgi_run_once: Py<PyString>,
    wsgi_file_wrapper: Py<PyString>,
    // Values.
    version_1_0: Py<PyTuple>,
    http: Py<PyString>,
    http_1_1: Py<PyString>,
    http_1_0: Py<PyString>,
    http_2: Py<PyString>,
    empty: Py<PyString>,
    software: Py<PyString>,
    script: Py<PyString>,
    multithread: bool,
    multiprocess: bool,
    file_wrapper: Py<PyAny>,
    /// The common methods, made once.
    methods: Vec<(http::Method, Py<PyString>)>,
    /// The entries every environ has alike; each request's starts as a copy (a dict copy
    /// duplicates the table at once instead of inserting key by key).
    template: Py<PyDict>,
}

impl Keys {
    pub(crate) fn new(
        py: Python<'_>,
        script_name: &str,
        multithread: bool,
        multiprocess: bool,
        file_wrapper: Py<PyAny>,
    ) -> PyResult<Keys> {
        let s = |v: &str| PyString::intern(py, v).unbind();
        let keys = Keys {
            template: PyDict::new(py).unbind(),
            request_method: s("REQUEST_METHOD"),
            script_name: s("SCRIPT_NAME"),
            path_info: s("PATH_INFO"),
            query_string: s("QUERY_STRING"),
            content_type: s("CONTENT_TYPE"),
            content_length: s("CONTENT_LENGTH"),
            server_name: s("SERVER_NAME"),
            server_port: s("SERVER_PORT"),
            server_protocol: s("SERVER_PROTOCOL"),
            remote_addr: s("REMOTE_ADDR"),
            remote_port: s("REMOTE_PORT"),
            request_uri: s("REQUEST_URI"),
            server_software: s("SERVER_SOFTWARE"),
            wsgi_version: s("wsgi.version"),
            wsgi_url_scheme: s("wsgi.url_scheme"),
            wsgi_input: s("wsgi.input"),
            wsgi_input_terminated: s("wsgi.input_terminated"),
            wsgi_errors: s("wsgi.errors"),
            wsgi_multithread: s("wsgi.multithread"),
            wsgi_multiprocess: s("wsgi.multiprocess"),
            wsgi_run_once: s("wsgi.run_once"),
            wsgi_file_wrapper: s("wsgi.file_wrapper"),
            version_1_0: PyTuple::new(py, [1, 0])?.unbind(),
            http: s("http"),
            http_1_1: s("HTTP/1.1"),
            http_1_0: s("HTTP/1.0"),
            // As granian and hypercorn give it.
            http_2: s("HTTP/2"),
            empty: s(""),
            software: s(concat!("pollux/", env!("CARGO_PKG_VERSION"))),
            script: PyString::new(py, script_name).unbind(),
            multithread,
            multiprocess,
            file_wrapper,
            methods: [
                http::Method::GET,
                http::Method::HEAD,
                http::Method::POST,
                http::Method::PUT,
                http::Method::DELETE,
                http::Method::PATCH,
                http::Method::OPTIONS,
            ]
            .into_iter()
            .map(|m| {
                let s = PyString::intern(py, m.as_str()).unbind();
                (m, s)
            })
            .collect(),
        };
        let t = keys.template.bind(py);
        t.set_item(keys.script_name.bind(py), keys.script.bind(py))?;
        t.set_item(keys.query_string.bind(py), keys.empty.bind(py))?;
        t.set_item(keys.server_software.bind(py), keys.software.bind(py))?;
        t.set_item(keys.wsgi_version.bind(py), keys.version_1_0.bind(py))?;
        t.set_item(keys.wsgi_url_scheme.bind(py), keys.http.bind(py))?;
        t.set_item(keys.wsgi_input_terminated.bind(py), true)?;
        t.set_item(keys.wsgi_multithread.bind(py), keys.multithread)?;
        t.set_item(keys.wsgi_multiprocess.bind(py), keys.multiprocess)?;
        t.set_item(keys.wsgi_run_once.bind(py), false)?;
        t.set_item(keys.wsgi_file_wrapper.bind(py), keys.file_wrapper.bind(py))?;
        Ok(keys)
    }
}

/// Bytes as a latin-1 `str`: each byte is the code point of the same number.
fn native<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(b) {
        Ok(s) if b.is_ascii() => PyString::new(py, s),
        _ => PyString::new(py, &b.iter().map(|&c| char::from(c)).collect::<String>()),
    }
}

/// A short text built on the stack (an address, a field's CGI name): no allocation for the
/// common sizes.
struct Small {
    buf: [u8; 64],
    len: usize,
    long: Option<String>,
}

impl Small {
    fn of(v: &impl std::fmt::Display) -> Small {
        use std::io::Write;
        let mut s = Small { buf: [0; 64], len: 0, long: None };
        let mut cur = std::io::Cursor::new(&mut s.buf[..]);
        match write!(cur, "{v}") {
            Ok(()) => s.len = cur.position() as usize,
            Err(_) => s.long = Some(v.to_string()),
        }
        s
    }
}

impl std::ops::Deref for Small {
    type Target = str;
    fn deref(&self) -> &str {
        match &self.long {
            Some(l) => l,
            // Only whole `write!` output is kept, and Display writes UTF-8.
            None => std::str::from_utf8(&self.buf[..self.len]).unwrap_or(""),
        }
    }
}

/// `HTTP_` + the name in upper case with `-` as `_`.
fn cgi_name(name: &str) -> Small {
    struct Cgi<'a>(&'a str);
    impl std::fmt::Display for Cgi<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            use std::fmt::Write;
            f.write_str("HTTP_")?;
            for c in self.0.chars() {
                f.write_char(if c == '-' { '_' } else { c.to_ascii_uppercase() })?;
            }
            Ok(())
        }
    }
    Small::of(&Cgi(name))
}

/// The percent-decoded path below the mount point (`PATH_INFO`); the mount was checked
/// by the handler.
fn path_info(path: &str, mount: &str) -> Vec<u8> {
    let below = path.get(mount.len()..).unwrap_or("");
    percent_encoding::percent_decode_str(below).collect()
}

/// Builds the environ for `req`. `input` and `errors` are the request's own objects.
pub(crate) fn build<'py>(
    py: Python<'py>,
    k: &Keys,
    mount: &str,
    req: &Request,
    input: Bound<'py, PyAny>,
    errors: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = k.template.bind(py).copy()?;
    let parts = &req.parts;
    match k.methods.iter().find(|(m, _)| *m == parts.method) {
        Some((_, s)) => env.set_item(k.request_method.bind(py), s.bind(py))?,
        None => env.set_item(k.request_method.bind(py), PyString::new(py, parts.method.as_str()))?,
    }
    env.set_item(k.path_info.bind(py), native(py, &path_info(parts.uri.path(), mount)))?;
    if let Some(q) = parts.uri.query() {
        env.set_item(k.query_string.bind(py), PyString::new(py, q))?;
    }
    let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    env.set_item(k.request_uri.bind(py), PyString::new(py, uri))?;
    env.set_item(
        k.server_protocol.bind(py),
        match parts.version {
            Version::HTTP_10 => k.http_1_0.bind(py),
            Version::HTTP_2 => k.http_2.bind(py),
            _ => k.http_1_1.bind(py),
        },
    )?;
    // SERVER_NAME: the name the client asked for (as gunicorn and waitress give it), else our
    // address; SERVER_PORT: the port the request really came in on.
    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok()).map(host_name).filter(|h| !h.is_empty());
    match host {
        Some(h) => env.set_item(k.server_name.bind(py), PyString::new(py, h))?,
        None => match req.local {
            Some(a) => env.set_item(k.server_name.bind(py), PyString::new(py, &Small::of(&a.ip())))?,
            None => env.set_item(k.server_name.bind(py), "localhost")?,
        },
    }
    let port = req.local.map_or(0, |a| a.port());
    let mut num = itoa::Buffer::new();
    env.set_item(k.server_port.bind(py), PyString::new(py, num.format(port)))?;
    env.set_item(k.remote_addr.bind(py), PyString::new(py, &Small::of(&req.peer.ip())))?;
    env.set_item(k.remote_port.bind(py), PyString::new(py, num.format(req.peer.port())))?;
    if let Some(tls) = &req.tls {
        // PEP 3333's scheme, and the variables Apache's mod_ssl and gunicorn behind it give.
        env.set_item(k.wsgi_url_scheme.bind(py), "https")?;
        env.set_item("HTTPS", "on")?;
        env.set_item("SSL_PROTOCOL", tls.version)?;
        env.set_item("SSL_CIPHER", tls.cipher)?;
        if let Some(name) = &tls.server_name {
            env.set_item("SSL_TLS_SNI", &**name)?;
        }
        if let Some(subject) = &tls.client_subject {
            env.set_item("SSL_CLIENT_S_DN", &**subject)?;
            env.set_item("SSL_CLIENT_VERIFY", "SUCCESS")?;
        }
    }
    headers(py, k, &env, &parts.headers)?;
    env.set_item(k.wsgi_input.bind(py), input)?;
    env.set_item(k.wsgi_errors.bind(py), errors)?;
    Ok(env)
}

/// The host part of a `Host` value (`[::1]:8000` → `::1`, `example.com:80` → `example.com`).
fn host_name(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    h.rsplit_once(':').map_or(h, |(name, _)| name)
}

/// The request's fields as `HTTP_*` (and `CONTENT_TYPE`, `CONTENT_LENGTH`).
fn headers(py: Python<'_>, k: &Keys, env: &Bound<'_, PyDict>, map: &HeaderMap) -> PyResult<()> {
    for name in map.keys() {
        let mut values = map.get_all(name).iter();
        let Some(first) = values.next() else { continue };
        let sep: &[u8] = if name == COOKIE { b"; " } else { b", " };
        let joined;
        let value: &[u8] = match values.next() {
            None => first.as_bytes(),
            Some(second) => {
                let mut v = first.as_bytes().to_vec();
                for more in std::iter::once(second).chain(values) {
                    v.extend_from_slice(sep);
                    v.extend_from_slice(more.as_bytes());
                }
                joined = v;
                &joined
            }
        };
        if name == CONTENT_TYPE {
            env.set_item(k.content_type.bind(py), native(py, value))?;
        } else if name == CONTENT_LENGTH {
            env.set_item(k.content_length.bind(py), native(py, value))?;
        } else if name.as_str() == "proxy" || name.as_str().contains('_') {
            // `Proxy:` would become HTTP_PROXY, which HTTP libraries take for their proxy
            // setting (httpoxy, CVE-2016-5385). A name with `_` would collide with the `-`
            // spelling of another (X-Auth vs X_Auth both HTTP_X_AUTH): nginx and gunicorn
            // drop those too.
            continue;
        } else {
            env.set_item(PyString::new(py, &cgi_name(name.as_str())), native(py, value))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(&*cgi_name("x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
        let long = "x-".repeat(40);
        assert_eq!(&*cgi_name(&long), format!("HTTP_{}", "X_".repeat(40)));
        assert_eq!(
            &*Small::of(&"::ffff:192.0.2.1".parse::<std::net::IpAddr>().expect("ip")),
            "::ffff:192.0.2.1"
        );
        assert_eq!(host_name("[::1]:8000"), "::1");
        assert_eq!(host_name("example.com:80"), "example.com");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(path_info("/app/a%20b/%E4%BD%A0", "/app"), b"/a b/\xe4\xbd\xa0");
        assert_eq!(path_info("/app", "/app"), b"");
        assert_eq!(path_info("/x%2Fy", ""), b"/x/y");
    }
}
