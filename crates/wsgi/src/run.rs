//! One request in the app's thread: call `application(environ, start_response)`, send what
//! it returns, call its `close()` exactly once whatever happens.

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::environ::{self, Keys};
use pollux_server::Nudge;

use crate::exchange::{End, Exchange, Head, Out};
use crate::job::{Job, Request};
use crate::objects::{Errors, FileWrapper, Input, StartResponse};

/// The loaded application.
pub(crate) struct App {
    pub(crate) callable: Py<PyAny>,
    pub(crate) keys: Keys,
    pub(crate) mount: String,
}

/// Why a response could not be completed.
enum Stop {
    /// The client went away: nothing more to send.
    Gone,
    /// The app raised (or broke the protocol): logged, then a 500 or a cut connection.
    Failed(PyErr),
}

impl From<PyErr> for Stop {
    fn from(e: PyErr) -> Stop {
        Stop::Failed(e)
    }
}

fn tag(req: &Request) -> String {
    let p = &req.parts;
    format!("{} {}", p.method, p.uri.path_and_query().map_or("/", |p| p.as_str()))
}

/// Writes the exception and its traceback to the error log, each line tagged.
pub(crate) fn log_exception(py: Python<'_>, what: &str, e: &PyErr) {
    let text = format_exception(py, e);
    eprintln!("pollux: wsgi {what}: the application raised an exception:");
    for line in text.lines() {
        eprintln!("pollux: wsgi {what}: {line}");
    }
}

/// Python's own rendering of an exception with its traceback.
pub(crate) fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (e.get_type(py), e.value(py), e.traceback(py))))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat(),
        Err(_) => e.to_string(),
    }
}

impl App {
    /// Runs one request. Returns the wake owed to the connection's worker, if any (the
    /// caller gives it, once for a batch).
    pub(crate) fn run(&self, py: Python<'_>, job: Job) -> Option<Nudge> {
        let Job { request, exchange: x } = job;
        if x.is_gone() {
            return None; // the client left while the request was queued
        }
        let sr = match Bound::new(py, StartResponse::new(x.clone())) {
            Ok(sr) => sr,
            Err(e) => return self.fail(py, &request, &x, &e),
        };
        let result = self.call(py, &request, &x, &sr);
        let it = match result {
            Ok(it) => it,
            Err(e) => return self.fail(py, &request, &x, &e),
        };
        let outcome = self.respond(py, &x, &sr, &it);
        // PEP 3333: close() is called on every path once the iterable exists — after the
        // body, after an error, and when the client left mid-way. A plain list or tuple has
        // none (and asking would build an AttributeError for nothing).
        let closed = if it.is_exact_instance_of::<PyList>() || it.is_exact_instance_of::<PyTuple>() {
            Ok(())
        } else {
            match it.getattr(intern!(py, "close")) {
                Ok(close) => close.call0().map(drop),
                Err(_) => Ok(()),
            }
        };
        let outcome = match (outcome, closed) {
            (outcome, Err(e)) => {
                log_exception(py, &tag(&request), &e);
                outcome
            }
            (outcome, Ok(())) => outcome,
        };
        match outcome {
            Ok(nudge) => nudge,
            Err(Stop::Gone) => None,
            Err(Stop::Failed(e)) => self.fail(py, &request, &x, &e),
        }
    }

    fn call<'py>(
        &self,
        py: Python<'py>,
        request: &Request,
        x: &Arc<Exchange>,
        sr: &Bound<'py, StartResponse>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = Bound::new(py, Input::new(x.clone()))?.into_any();
        let p = &request.parts;
        let errors = Bound::new(py, Errors::new(p.method.clone(), p.uri.clone()))?.into_any();
        let env = environ::build(py, &self.keys, &self.mount, request, input, errors)?;
        self.callable.bind(py).call1((env, sr))
    }

    /// Logs the failure; before the head the client gets a 500, after it the cut.
    fn fail(&self, py: Python<'_>, req: &Request, x: &Exchange, e: &PyErr) -> Option<Nudge> {
        if x.is_gone() {
            // The client left and the app noticed (an OSError from wsgi.input or write).
            eprintln!("pollux: wsgi {}: the client disconnected; the application stopped", tag(req));
            return None;
        }
        log_exception(py, &tag(req), e);
        x.finish(None, [], End::Failed)
    }

    /// Sends the iterable `it`.
    fn respond(
        &self,
        py: Python<'_>,
        x: &Arc<Exchange>,
        sr: &Bound<'_, StartResponse>,
        it: &Bound<'_, PyAny>,
    ) -> Result<Option<Nudge>, Stop> {
        // A list (or tuple) is all in memory already: one hand-over, with its length.
        if let Ok(list) = it.cast_exact::<PyList>() {
            return self.whole(py, x, sr, list.iter());
        }
        if let Ok(tuple) = it.cast_exact::<PyTuple>() {
            return self.whole(py, x, sr, tuple.iter());
        }
        if let Ok(fw) = it.cast::<FileWrapper>() {
            if let Some((file, offset, len)) = real_file(py, &fw.borrow().filelike) {
                return self.file(py, x, sr, file, offset, len);
            }
        }
        for item in it.try_iter()? {
            let item = item?;
            let b = body_bytes(&item)?;
            if b.is_empty() {
                continue;
            }
            let head = {
                let mut s = sr.borrow_mut();
                s.produced += b.len() as u64;
                s.take_head(None)?
            };
            let b = Bytes::copy_from_slice(b);
            py.detach(|| x.send(head, [Out::Bytes(b)], None)).map_err(|_| Stop::Gone)?;
        }
        let head = sr.borrow_mut().take_head(None)?;
        self.end(py, x, sr, head, [])
    }

    fn whole<'py>(
        &self,
        py: Python<'py>,
        x: &Arc<Exchange>,
        sr: &Bound<'py, StartResponse>,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
    ) -> Result<Option<Nudge>, Stop> {
        let mut out = Vec::new();
        let mut total = 0u64;
        for item in items {
            let b = body_bytes(&item)?;
            if !b.is_empty() {
                total += b.len() as u64;
                out.push(Out::Bytes(Bytes::copy_from_slice(b)));
            }
        }
        let head = {
            let mut s = sr.borrow_mut();
            s.produced += total;
            s.take_head(Some(total))?
        };
        self.end(py, x, sr, head, out)
    }

    fn file(
        &self,
        py: Python<'_>,
        x: &Arc<Exchange>,
        sr: &Bound<'_, StartResponse>,
        file: File,
        offset: u64,
        len: u64,
    ) -> Result<Option<Nudge>, Stop> {
        let head = {
            let mut s = sr.borrow_mut();
            let len = s.len.map_or(len, |l| l.min(len));
            s.produced += len;
            s.take_head(Some(len))?
        };
        let out = Out::File { file: Arc::new(file), offset, len };
        self.end(py, x, sr, head, [out])
    }

    /// The last hand-over: what is left, then the end. An app that produced more than its
    /// `Content-Length` has the rest cut (by the connection) and is logged here.
    fn end(
        &self,
        py: Python<'_>,
        x: &Arc<Exchange>,
        sr: &Bound<'_, StartResponse>,
        head: Option<Head>,
        out: impl IntoIterator<Item = Out>,
    ) -> Result<Option<Nudge>, Stop> {
        {
            let s = sr.borrow();
            if let Some(len) = s.len.filter(|&l| s.produced > l) {
                eprintln!(
                    "pollux: wsgi: the application produced {} bytes of body after a Content-Length of {len}; the rest was cut",
                    s.produced
                );
            }
        }
        let _ = py;
        Ok(x.finish(head, out, End::Complete))
    }
}

/// An item of the body: PEP 3333 allows only bytes.
fn body_bytes<'a>(item: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match item.cast::<PyBytes>() {
        Ok(b) => Ok(b.as_bytes()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the application's body must be an iterable of bytes, not of {}",
            item.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string())
        ))),
    }
}

/// The file under a `wsgi.file_wrapper`, if it is a regular file: opened anew through
/// `/proc/self/fd` (an independent descriptor the server may keep after Python closes its
/// own), from the file's current position to its end.
fn real_file(py: Python<'_>, filelike: &Py<PyAny>) -> Option<(File, u64, u64)> {
    let f = filelike.bind(py);
    let fd: i32 = f.call_method0("fileno").ok()?.extract().ok()?;
    let pos: u64 = f.call_method0("tell").ok().and_then(|p| p.extract().ok()).unwrap_or(0);
    let file = File::open(format!("/proc/self/fd/{fd}")).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    Some((file, pos, meta.len().saturating_sub(pos)))
}
