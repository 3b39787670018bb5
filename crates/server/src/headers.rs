//! A per-worker pool of header maps, so that answering a request allocates none.
//!
//! A `HeaderMap` allocates twice when its first field goes in. The server already parses each
//! request's fields into the previous response's map (`RequestDecoder::recycle_headers`); what
//! is left per request is the request's map, dropped by the handler, and the response's, built
//! by the handler. A handler (or framework) that gives the request's map back with [`give`] and
//! builds its response on [`take`] closes the loop: request map → response map → next request.

use std::cell::RefCell;

use http::HeaderMap;

/// Maps kept per thread; more are dropped (a burst of pipelined requests, say).
const POOL_MAX: usize = 32;
/// Maps grown past this many slots are not kept (one odd request must not pin memory).
const KEEP_CAPACITY: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// An empty header map, reusing one given back on this thread if there is one.
///
/// ```
/// let mut h = pollux_server::headers::take();
/// h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
/// pollux_server::headers::give(h);
/// assert!(pollux_server::headers::take().is_empty());
/// ```
pub fn take() -> HeaderMap {
    POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default()
}

/// Gives `map` back for reuse on this thread (cleared here).
///
/// ```
/// use http::Request;
/// let req = Request::get("/").header("accept", "*/*").body(()).unwrap();
/// let (parts, ()) = req.into_parts();
/// pollux_server::headers::give(parts.headers); // done with the request's fields
/// ```
pub fn give(mut map: HeaderMap) {
    if map.capacity() > KEEP_CAPACITY {
        return;
    }
    map.clear();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(map);
        }
    });
}
