//! The objects PEP 3333 hands the application: `start_response` (and the `write` callable it
//! returns), `wsgi.input`, `wsgi.errors` and `wsgi.file_wrapper`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_LENGTH};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use pyo3::exceptions::{PyAssertionError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::exchange::{Exchange, Head, Out};

/// The error an app sees when the client went away while it read or wrote.
pub(crate) fn gone_error() -> PyErr {
    PyOSError::new_err("the client disconnected")
}

/// `start_response(status, response_headers, exc_info=None)`, and the head it collects.
#[pyclass(module = "pollux", name = "start_response")]
pub(crate) struct StartResponse {
    x: Arc<Exchange>,
    pub(crate) status: Option<StatusCode>,
    headers: HeaderMap,
    /// The app's `Content-Length`.
    pub(crate) len: Option<u64>,
    pub(crate) head_sent: bool,
    /// Body bytes produced, to notice an app that sends more than its `Content-Length`.
    pub(crate) produced: u64,
}

impl StartResponse {
    pub(crate) fn new(x: Arc<Exchange>) -> StartResponse {
        StartResponse { x, status: None, headers: HeaderMap::new(), len: None, head_sent: false, produced: 0 }
    }

    /// The head, the first time it is asked for after `start_response` (PEP 3333: it goes
    /// out with the first non-empty piece of body, or at the end). `total`: the body's
    /// length when the server knows it whole (a list), used when the app gave none.
    pub(crate) fn take_head(&mut self, total: Option<u64>) -> PyResult<Option<Head>> {
        if self.head_sent {
            return Ok(None);
        }
        let Some(status) = self.status else {
            return Err(PyAssertionError::new_err(
                "the application returned a body before calling start_response",
            ));
        };
        self.head_sent = true;
        Ok(Some(Head { status, headers: std::mem::take(&mut self.headers), len: self.len.or(total) }))
    }
}

/// Fields that describe one connection hop and are the server's to set (RFC 9110 §7.6.1);
/// PEP 3333 forbids them to applications.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn parse_status(status: &Bound<'_, PyAny>) -> PyResult<StatusCode> {
    let s = status
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("start_response: status must be a str such as '200 OK'"))?;
    let s = s.to_str()?;
    let code = s.get(..3).filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
    let ok_rest = s.len() == 3 || s.as_bytes().get(3) == Some(&b' ');
    match code.and_then(|c| c.parse::<u16>().ok()).and_then(|c| StatusCode::from_u16(c).ok()) {
        Some(code) if ok_rest && code.as_u16() >= 200 => Ok(code),
        _ => Err(PyValueError::new_err(format!(
            "start_response: status {s:?} is not a three-digit code of 200 or more and a reason phrase"
        ))),
    }
}

/// A Python `str` as ISO-8859-1 bytes (PEP 3333's "native strings").
pub(crate) fn latin1(s: &Bound<'_, PyString>) -> PyResult<Vec<u8>> {
    let s = s.to_str()?;
    s.chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .map_err(|_| PyValueError::new_err(format!("{s:?} is not ISO-8859-1 (latin-1) text")))
        })
        .collect()
}

fn parse_headers(headers: &Bound<'_, PyAny>) -> PyResult<(HeaderMap, Option<u64>)> {
    let list = headers.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err("start_response: headers must be a list of (name, value) tuples")
    })?;
    let mut map = HeaderMap::with_capacity(list.len());
    let mut len = None;
    for item in list.iter() {
        let pair = item.cast::<PyTuple>().ok().filter(|t| t.len() == 2).ok_or_else(|| {
            PyTypeError::new_err("start_response: each header must be a (name, value) tuple")
        })?;
        let (name, value) = (pair.get_item(0)?, pair.get_item(1)?);
        let (Ok(name), Ok(value)) = (name.cast::<PyString>(), value.cast::<PyString>()) else {
            return Err(PyTypeError::new_err("start_response: header names and values must be str"));
        };
        let name_s = name.to_str()?;
        let name = HeaderName::from_bytes(name_s.as_bytes()).map_err(|_| {
            PyValueError::new_err(format!("start_response: {name_s:?} is not a valid header name"))
        })?;
        if HOP_BY_HOP.contains(&name.as_str()) {
            return Err(PyValueError::new_err(format!(
                "start_response: {name_s:?} is a hop-by-hop header, which the server sets (PEP 3333)"
            )));
        }
        // Optional white space around a value is not part of it (RFC 9110 §5.5); Django's
        // cookies come with a leading space (`SimpleCookie.output(header="")`).
        let raw = latin1(value)?;
        let value = HeaderValue::from_bytes(raw.trim_ascii()).map_err(|_| {
            PyValueError::new_err(format!("start_response: the value of {name_s:?} has a control character"))
        })?;
        if name == CONTENT_LENGTH {
            let n = value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
            len =
                Some(n.ok_or_else(|| {
                    PyValueError::new_err("start_response: Content-Length is not a number")
                })?);
            continue; // the server writes it, from `len`
        }
        map.append(name, value);
    }
    Ok((map, len))
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info=None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        {
            let mut me = slf.borrow_mut();
            match exc_info.filter(|e| !e.is_none()) {
                // PEP 3333: after the head went out, the error can only be re-raised.
                Some(info) if me.head_sent => return Err(PyErr::from_value(info.get_item(1)?)),
                // Before it, the new head replaces the old one.
                Some(_) => {}
                None if me.status.is_some() => {
                    return Err(PyAssertionError::new_err(
                        "start_response called a second time without exc_info",
                    ))
                }
                None => {}
            }
            let code = parse_status(status)?;
            let (map, len) = parse_headers(headers)?;
            me.status = Some(code);
            me.headers = map;
            me.len = len;
        }
        slf.getattr("write")
    }

    /// PEP 3333's `write(data)`: the imperative way to send body bytes.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data.cast::<PyBytes>().map_err(|_| PyTypeError::new_err("write() takes bytes"))?;
        let bytes = Bytes::copy_from_slice(data.as_bytes());
        let (x, head) = {
            let mut me = slf.borrow_mut();
            let head = me.take_head(None)?;
            me.produced += bytes.len() as u64;
            (me.x.clone(), head)
        };
        slf.py().detach(|| x.send(head, [Out::Bytes(bytes)], None)).map_err(|_| gone_error())
    }
}

/// `wsgi.input`: the request body as it arrives.
#[pyclass(module = "pollux", name = "Input")]
pub(crate) struct Input {
    x: Arc<Exchange>,
    /// Bytes received but not yet given to the app (a `readline` stopped inside them).
    buf: Vec<u8>,
    eof: bool,
}

/// One read from the exchange at most (and the most `read()` gathers per wait).
const READ_PIECE: usize = 64 * 1024;

impl Input {
    pub(crate) fn new(x: Arc<Exchange>) -> Input {
        Input { x, buf: Vec::new(), eof: false }
    }

    /// Waits (without the GIL) for more body; `false` at its end.
    fn fill(&mut self, py: Python<'_>) -> PyResult<bool> {
        if self.eof {
            return Ok(false);
        }
        let x = self.x.clone();
        match py.detach(|| x.read_body(READ_PIECE)) {
            Ok(Some(b)) => {
                self.buf.extend_from_slice(&b);
                Ok(true)
            }
            Ok(None) => {
                self.eof = true;
                Ok(false)
            }
            Err(_) => Err(gone_error()),
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let rest = self.buf.split_off(n.min(self.buf.len()));
        std::mem::replace(&mut self.buf, rest)
    }

    fn line(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<u8>> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i + 1;
                return Ok(self.take(limit.map_or(end, |l| l.min(end))));
            }
            scanned = self.buf.len();
            if limit.is_some_and(|l| scanned >= l) || !self.fill(py)? {
                return Ok(self.take(limit.unwrap_or(usize::MAX)));
            }
        }
    }
}

fn limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    /// `read(size=-1)`: up to `size` bytes (fewer only at the end), or the rest.
    #[pyo3(signature = (size=None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let want = limit(size);
        while want.is_none_or(|w| self.buf.len() < w) && self.fill(py)? {}
        let out = self.take(want.unwrap_or(usize::MAX));
        Ok(PyBytes::new(py, &out))
    }

    #[pyo3(signature = (size=None))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let line = self.line(py, limit(size))?;
        Ok(PyBytes::new(py, &line))
    }

    #[pyo3(signature = (hint=None))]
    fn readlines<'py>(&mut self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = limit(hint).filter(|&h| h > 0);
        let list = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.line(py, None)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            list.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(list)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.line(py, None)?;
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }
}

/// `wsgi.errors`: text written to it goes to the server's error log, a line at a time,
/// tagged with the request.
#[pyclass(module = "pollux", name = "Errors")]
pub(crate) struct Errors {
    method: Method,
    uri: Uri,
    line: String,
}

impl Errors {
    pub(crate) fn new(method: Method, uri: Uri) -> Errors {
        Errors { method, uri, line: String::new() }
    }

    fn emit(&mut self) {
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        eprintln!("pollux: wsgi {} {}: {}", self.method, path, self.line.trim_end_matches('\r'));
        self.line.clear();
    }
}

#[pymethods]
impl Errors {
    fn write(&mut self, s: &str) -> usize {
        let mut rest = s;
        while let Some(i) = rest.find('\n') {
            self.line.push_str(&rest[..i]);
            self.emit();
            rest = &rest[i + 1..];
        }
        self.line.push_str(rest);
        if self.line.len() >= 4096 {
            self.emit();
        }
        s.chars().count()
    }

    fn writelines(&mut self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            let line = line?;
            self.write(line.cast::<PyString>()?.to_str()?);
        }
        Ok(())
    }

    fn flush(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}

/// `wsgi.file_wrapper(filelike, block_size=8192)`: returned by the app, a real file goes out
/// with `sendfile`; anything else is read block by block.
#[pyclass(module = "pollux", name = "FileWrapper")]
pub(crate) struct FileWrapper {
    pub(crate) filelike: Py<PyAny>,
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, block_size=8192))]
    fn new(filelike: Py<PyAny>, block_size: usize) -> FileWrapper {
        FileWrapper { filelike, blksize: block_size.max(1) }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self.filelike.bind(py).call_method1("read", (self.blksize,))?;
        let more = block.is_truthy()?;
        Ok(more.then_some(block))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let f = self.filelike.bind(py);
        if f.hasattr("close")? {
            f.call_method0("close")?;
        }
        Ok(())
    }
}
