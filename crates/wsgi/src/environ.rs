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

use crate::pool::Request;

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
    empty: Py<PyString>,
    script: Py<PyString>,
    multithread: bool,
    multiprocess: bool,
    file_wrapper: Py<PyAny>,
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
        Ok(Keys {
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
            empty: s(""),
            script: PyString::new(py, script_name).unbind(),
            multithread,
            multiprocess,
            file_wrapper,
        })
    }
}

/// Bytes as a latin-1 `str`: each byte is the code point of the same number.
fn native<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(b) {
        Ok(s) if b.is_ascii() => PyString::new(py, s),
        _ => PyString::new(py, &b.iter().map(|&c| char::from(c)).collect::<String>()),
    }
}

/// `HTTP_` + the name in upper case with `-` as `_`.
fn cgi_name(name: &str) -> String {
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    key.extend(name.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }));
    key
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
    let env = PyDict::new(py);
    let parts = &req.parts;
    env.set_item(k.request_method.bind(py), PyString::new(py, parts.method.as_str()))?;
    env.set_item(k.script_name.bind(py), k.script.bind(py))?;
    env.set_item(k.path_info.bind(py), native(py, &path_info(parts.uri.path(), mount)))?;
    env.set_item(
        k.query_string.bind(py),
        match parts.uri.query() {
            Some(q) => PyString::new(py, q),
            None => k.empty.bind(py).clone(),
        },
    )?;
    let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    env.set_item(k.request_uri.bind(py), PyString::new(py, uri))?;
    env.set_item(
        k.server_protocol.bind(py),
        match parts.version {
            Version::HTTP_10 => k.http_1_0.bind(py),
            _ => k.http_1_1.bind(py),
        },
    )?;
    // SERVER_NAME: the name the client asked for (as gunicorn and waitress give it), else our
    // address; SERVER_PORT: the port the request really came in on.
    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok()).map(host_name).filter(|h| !h.is_empty());
    let local_ip = req.local.map(|a| a.ip().to_string());
    env.set_item(k.server_name.bind(py), host.or(local_ip.as_deref()).unwrap_or("localhost"))?;
    let port = req.local.map_or(0, |a| a.port());
    env.set_item(k.server_port.bind(py), port.to_string())?;
    env.set_item(k.remote_addr.bind(py), req.peer.ip().to_string())?;
    env.set_item(k.remote_port.bind(py), req.peer.port().to_string())?;
    headers(py, k, &env, &parts.headers)?;
    env.set_item(k.wsgi_version.bind(py), k.version_1_0.bind(py))?;
    env.set_item(k.wsgi_url_scheme.bind(py), k.http.bind(py))?;
    env.set_item(k.wsgi_input.bind(py), input)?;
    env.set_item(k.wsgi_input_terminated.bind(py), true)?;
    env.set_item(k.wsgi_errors.bind(py), errors)?;
    env.set_item(k.wsgi_multithread.bind(py), k.multithread)?;
    env.set_item(k.wsgi_multiprocess.bind(py), k.multiprocess)?;
    env.set_item(k.wsgi_run_once.bind(py), false)?;
    env.set_item(k.wsgi_file_wrapper.bind(py), k.file_wrapper.bind(py))?;
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
            env.set_item(cgi_name(name.as_str()), native(py, value))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(cgi_name("x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(host_name("[::1]:8000"), "::1");
        assert_eq!(host_name("example.com:80"), "example.com");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(path_info("/app/a%20b/%E4%BD%A0", "/app"), b"/a b/\xe4\xbd\xa0");
        assert_eq!(path_info("/app", "/app"), b"");
        assert_eq!(path_info("/x%2Fy", ""), b"/x/y");
    }
}
