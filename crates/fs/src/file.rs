//! The response for one file that was found: validators, preconditions, ranges and content
//! coding, in the order RFC 9110 §13.2.2 gives them.
//!
//! ```text
//!  Range? (GET only, valid syntax, ≤ 16 ranges) ─ If-Range ok? ─► identity, ranged
//!                                  otherwise ─► Compression::select ─► encoded or identity, full
//!  preconditions against the chosen representation's ETag ─► 412 / 304
//!  ranged: 206 (one range) / 206 multipart/byteranges / 416      full: 200
//! ```
//!
//! The representation is chosen before the preconditions because its entity-tag is what they
//! compare against: a client holding the gzip copy sends the gzip ETag back.

use std::path::Path;
use std::time::SystemTime;

use http::header::{
    HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MATCH,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, LAST_MODIFIED, RANGE, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, Method, Response, StatusCode};
use pollux_server::{Body, BodyStream, Reply};

use crate::cache::Opened;
use crate::conditional::{self, Precondition, Validators};
use crate::fixed::{Fixed, BYTES, NOSNIFF, VARY_ACCEPT_ENCODING};
use crate::pages;
use crate::range::{self, Ranges};
use crate::ServeDir;

/// Which of the request fields this handler reads are present, found in one pass over the
/// request's (few) fields instead of a hash lookup per field (~40 instructions each, eight of
/// them per response in the profile).
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    range: bool,
    if_range: bool,
    /// Any of If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.
    conditional: bool,
    accept_encoding: bool,
}

impl Seen {
    fn of(headers: &HeaderMap) -> Seen {
        let mut s = Seen::default();
        for name in headers.keys() {
            if name == RANGE {
                s.range = true;
            } else if name == IF_RANGE {
                s.if_range = true;
            } else if name == IF_MATCH
                || name == IF_NONE_MATCH
                || name == IF_MODIFIED_SINCE
                || name == IF_UNMODIFIED_SINCE
            {
                s.conditional = true;
            } else if name == http::header::ACCEPT_ENCODING {
                s.accept_encoding = true;
            }
        }
        s
    }
}

/// Serves `file`, found at `rel` (`a/b.html`; its extension gives the type, its path the
/// Cache-Control rule), with `status` 200 (or 404 for a custom not-found page, which gets no
/// preconditions and no ranges), to a request with `method` and the fields in `headers`. The
/// request comes taken apart: its map moves on here (into the response, or back to the pool)
/// while `rel` may still borrow from its URI. Passing the whole `Request` needed a clone of
/// the URI and two moves of the request: ~135 instructions per response.
pub(crate) fn respond(
    dir: &ServeDir,
    method: &Method,
    headers: HeaderMap,
    rel: &Path,
    file: &Opened,
    status: StatusCode,
) -> Reply {
    let seen = Seen::of(&headers);
    // Without Range, preconditions and Accept-Encoding (most requests) the answer is the whole
    // identity representation, with the prepared fields when they fit: what `respond_in_full`
    // would decide, without entering it.
    if status == StatusCode::OK && !seen.range && !seen.conditional && !seen.accept_encoding {
        let cache_control = dir.cache_control.for_path(rel);
        if let Some(fixed) = fixed_fields(file, cache_control, dir.compression.varies_for(file)) {
            let is_head = method == Method::HEAD;
            return prepared(fixed, headers, status, Precondition::Pass, || full_body(file, is_head));
        }
    }
    respond_in_full(dir, method, headers, rel, file, status, seen)
}

/// [`respond`] for any request. Out of line: with range parsing, negotiation and the
/// preconditions inlined its frame is ~15 KiB, which cost ~30 instructions per request to enter
/// and leave.
#[inline(never)]
fn respond_in_full(
    dir: &ServeDir,
    method: &Method,
    headers: HeaderMap,
    rel: &Path,
    file: &Opened,
    status: StatusCode,
    seen: Seen,
) -> Reply {
    let facts = &file.facts;
    let ok = status == StatusCode::OK;
    let identity = Validators { etag: &facts.etag, modified: facts.modified };

    // §14.2: Range is only defined for GET; an invalid or over-long one is ignored. The map is
    // only searched once `seen` says the field is there: the hash lookup of an absent field
    // cost ~105 instructions per request.
    let range_field = if seen.range && ok && method == Method::GET { headers.get(RANGE) } else { None };
    let ranges = match range_field {
        Some(v) => range::parse(v.as_bytes(), facts.len)
            .filter(|_| !seen.if_range || conditional::if_range(&headers, identity, SystemTime::now())),
        None => None,
    };
    let encoded = match ranges {
        // No Accept-Encoding: identity (see `Accept::from_headers`).
        None if seen.accept_encoding => dir.compression.select(&headers, file, (dir.clock)()),
        _ => None,
    };
    let etag = encoded.as_ref().map_or(&facts.etag, |e| &e.etag);
    let varies = dir.compression.varies_for(file);
    let cache_control = dir.cache_control.for_path(rel);

    let precondition = if ok && seen.conditional {
        conditional::evaluate(&headers, method, Validators { etag, modified: facts.modified })
    } else {
        Precondition::Pass
    };
    if precondition == Precondition::Failed {
        return pages::plain(StatusCode::PRECONDITION_FAILED).into();
    }
    let is_head = method == Method::HEAD;

    if ok && ranges.is_none() {
        match &encoded {
            None => {
                if let Some(fixed) = fixed_fields(file, cache_control, varies) {
                    return prepared(fixed, headers, status, precondition, || full_body(file, is_head));
                }
            }
            Some(enc) => {
                // Browsers send Accept-Encoding with every request: the encoded answer has
                // prepared fields too (per coding), or it builds a map field by field and
                // encodes each (~2,000 instructions per response in callgrind).
                let slot = &file.fixed_encoded[enc.coding.index()];
                let fixed = slot.get_or_init(|| {
                    let ct = &file.content_type;
                    Fixed::new(&enc.etag, &facts.last_modified, ct, Some(enc.coding), cache_control, varies)
                });
                if fixed.fits_encoded(&enc.etag, cache_control, varies) {
                    let body = encoded.map_or(Body::Empty, |e| e.body);
                    return prepared(fixed, headers, status, precondition, || Ok(body));
                }
            }
        }
    }

    let content_type = file.content_type.clone();
    // The request's header map, emptied, carries the response's fields: no new map per request.
    let mut h = headers;
    h.clear();
    if ok {
        // §15.4.5: a 304 carries the fields a 200 would have had that describe the cache entry.
        // A custom 404 page gets none: it is not the representation of the target.
        h.insert(ETAG, etag.clone());
        h.insert(LAST_MODIFIED, facts.last_modified.clone());
        if let Some(cc) = cache_control {
            h.insert(CACHE_CONTROL, cc.clone());
        }
    }
    if varies {
        h.insert(VARY, VARY_ACCEPT_ENCODING);
    }
    if precondition == Precondition::NotModified {
        return with(StatusCode::NOT_MODIFIED, h, Body::Empty);
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);

    match ranges {
        None => {
            let body = match encoded {
                Some(enc) => {
                    h.insert(CONTENT_ENCODING, HeaderValue::from_static(enc.coding.token()));
                    enc.body
                }
                None => {
                    // Ranges are served on the identity representation only, so only it
                    // advertises them (§14.3).
                    if ok {
                        h.insert(ACCEPT_RANGES, BYTES);
                    }
                    match full_body(file, is_head) {
                        Ok(b) => b,
                        Err(e) => return pages::io_error(&e).into(),
                    }
                }
            };
            h.insert(CONTENT_TYPE, content_type);
            with(status, h, body)
        }
        Some(Ranges::Unsatisfiable) => {
            let mut r = pages::plain(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", facts.len)) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            r.headers_mut().insert(ACCEPT_RANGES, BYTES);
            r.into()
        }
        Some(Ranges::Satisfiable(rs)) if rs.len() == 1 => {
            let r = &rs[0];
            let body = match file.body(r.start, r.end - r.start) {
                Ok(b) => b,
                Err(e) => return pages::io_error(&e).into(),
            };
            if let Ok(v) = HeaderValue::from_str(&range::content_range(r, facts.len)) {
                h.insert(CONTENT_RANGE, v);
            }
            h.insert(CONTENT_TYPE, content_type);
            with(StatusCode::PARTIAL_CONTENT, h, body)
        }
        Some(Ranges::Satisfiable(rs)) => {
            let boundary = range::boundary(facts.etag.as_bytes());
            let whole = match file.body(0, facts.len) {
                Ok(b) => b,
                Err(e) => return pages::io_error(&e).into(),
            };
            let parts = match range::Multipart::new(whole, &rs, facts.len, content_type.as_bytes(), &boundary)
            {
                Ok(m) => m,
                Err(e) => return pages::io_error(&e).into(),
            };
            if let Ok(v) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}")) {
                h.insert(CONTENT_TYPE, v);
            }
            with(StatusCode::PARTIAL_CONTENT, h, Body::Stream(Box::new(parts)))
        }
    }
}

/// The file's prepared fields (made by the first answer that needs them), if they were made
/// with this `Cache-Control` value and `Vary` choice.
fn fixed_fields<'f>(
    file: &'f Opened,
    cache_control: Option<&HeaderValue>,
    varies: bool,
) -> Option<&'f Fixed> {
    let fixed = file.fixed.get_or_init(|| {
        let facts = &file.facts;
        Fixed::new(&facts.etag, &facts.last_modified, &file.content_type, None, cache_control, varies)
    });
    fixed.fits(cache_control, varies).then_some(fixed)
}

/// The common answer, a whole representation (identity or encoded) or 304 for it, with the
/// fields prepared for it instead of built field by field; `body` is only asked for a 200.
/// Always inlined (`#[inline]` was not taken): as a call it cost a move of the request's map
/// and a frame, ~30 instructions per request.
#[inline(always)]
fn prepared(
    fixed: &Fixed,
    headers: HeaderMap,
    status: StatusCode,
    precondition: Precondition,
    body: impl FnOnce() -> std::io::Result<Body>,
) -> Reply {
    // The request's map is not needed for the answer: back to the pool, where the server
    // takes the next request's map from.
    pollux_server::headers::give(headers);
    if precondition == Precondition::NotModified {
        let fields = fixed.not_modified.clone();
        return Reply::Prepared { status: StatusCode::NOT_MODIFIED, fields, body: Body::Empty };
    }
    match body() {
        Ok(body) => Reply::Prepared { status, fields: fixed.ok.clone(), body },
        Err(e) => pages::io_error(&e).into(),
    }
}

/// The whole identity body. For HEAD of a file not held in memory, a body that only states its
/// length: the server sends no body bytes for HEAD (it only reads the length for
/// `Content-Length`), so there is no reason to open the file.
fn full_body(file: &Opened, is_head: bool) -> std::io::Result<Body> {
    // Content held in memory is the whole file (`cache::read_small` keeps it only then): a
    // reference count, where `Opened::body` clamps a range first (~30 instructions more).
    if let Some(m) = file.bytes() {
        return Ok(Body::Bytes(m.clone()));
    }
    if !is_head {
        return file.body(0, file.facts.len);
    }
    Ok(Body::Stream(Box::new(LengthOnly(file.facts.len))))
}

/// A body of known length that is never sent (HEAD).
#[derive(Debug)]
struct LengthOnly(u64);

impl BodyStream for LengthOnly {
    fn next_chunk(&mut self) -> Option<std::io::Result<bytes::Bytes>> {
        None
    }
    fn size_hint(&self) -> Option<u64> {
        Some(self.0)
    }
}

fn with(status: StatusCode, headers: HeaderMap, body: Body) -> Reply {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    Reply::Now(r)
}
