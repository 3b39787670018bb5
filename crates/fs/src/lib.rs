//! Static files as a [`pollux_server::Handler`]: [`ServeDir`].
//!
//! ```text
//!  request ─► method (GET/HEAD; OPTIONS 204; else 405)
//!          ─► root by host (vhost) ─► pollux_path::resolve (decode, `..`, NUL, `\`) ─► dotfiles?
//!          ─► cache::lookup ─┬─ file ─────────────────► file::respond (conditionals, ranges, coding)
//!                            ├─ dir, no slash ────────► 301 to the slash form
//!                            ├─ dir ─► index.html ────► file::respond
//!                            │      └► none ──────────► listing (--listing) or not found
//!                            └─ not found ────────────► --fallback (200), --404 page, or 404
//! ```
//!
//! Files are reached only through `cache::lookup`, which also keeps symlinks inside the root
//! unless `--follow-symlinks`; the path that reaches it was built from decoded, checked
//! segments ([`pollux_path`]) and can never name anything above the root.

// The OS boundary is `pollux_reactor::sys` and rustix: no `unsafe` here.
#![forbid(unsafe_code)]

mod cache;
mod clock;
pub mod coding;
mod conditional;
mod config;
mod file;
mod fixed;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod listing;
mod mime;
mod pages;
mod range;
mod single;
mod vhost;

pub use clock::{coarse_monotonic, Clock};
pub use coding::files::Compression;
pub use config::{ConfigError, ServeDir};
pub use single::ServeFile;

use std::path::Path;

use http::header::{HeaderValue, LOCATION};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use pollux_server::{Body, ConnInfo, Handler, Reply};

use crate::cache::Root;
use crate::config::PageFile;

impl Handler for ServeDir {
    /// [`ServeDir::serve`]'s answer; a cached file's comes with its fields prepared
    /// ([`Reply::Prepared`]).
    fn call(&self, req: Request<Body>, _conn: &ConnInfo) -> Reply {
        self.reply(req)
    }
}

impl ServeDir {
    /// Answers `req` from this directory: the whole static-file pipeline of the diagram
    /// above.
    pub fn serve(&self, req: Request<Body>) -> Response<Body> {
        // Every answer here is one now: nothing is deferred.
        self.reply(req).into_response().unwrap_or_else(|_| pages::plain(StatusCode::INTERNAL_SERVER_ERROR))
    }

    fn reply(&self, req: Request<Body>) -> Reply {
        // RFC 9110 §9.3.7 / §15.5.6: the resource answers GET and HEAD; OPTIONS says so.
        match *req.method() {
            Method::GET | Method::HEAD => {}
            Method::OPTIONS => return pages::options().into(),
            _ => return pages::not_allowed().into(),
        }
        // Taken apart rather than its URI cloned: the resolved path may borrow from the URI
        // while the header map moves on to the response (or back to the pool).
        let (req, _body) = req.into_parts();
        let root = self.vhosts.root_for(&req.uri, &req.headers, &self.root);
        // Once: `Uri::path` works the path out of the stored target each time (~25 instructions).
        let target = req.uri.path();
        let Some((rel, dotted)) = pollux_path::resolve_noting_dots(target) else {
            return self.not_found(&req.method, req.headers, root);
        };
        // Without a segment that starts with `.` there is nothing to hide.
        if !self.hidden && dotted && pollux_path::is_hidden(&rel) {
            return self.not_found(&req.method, req.headers, root);
        }
        match cache::lookup(root, &rel, self.follow_symlinks, (self.clock)()) {
            // `/file.txt/` names a directory that does not exist (and would break relative
            // links if it were answered with the file).
            Ok(o) if !o.facts.is_dir && target.ends_with('/') => {
                self.not_found(&req.method, req.headers, root)
            }
            Ok(o) if !o.facts.is_dir => {
                file::respond(self, &req.method, req.headers, &rel, &o, StatusCode::OK)
            }
            Ok(_) => self.directory(&req.method, &req.uri, req.headers, root, &rel),
            Err(e) if pages::is_not_found(&e) => self.not_found(&req.method, req.headers, root),
            Err(e) => pages::io_error(&e).into(),
        }
    }

    fn directory(&self, method: &Method, uri: &Uri, headers: HeaderMap, root: &Root, rel: &Path) -> Reply {
        if !uri.path().ends_with('/') {
            return redirect_to_slash(uri, rel).into();
        }
        let index = rel.join("index.html");
        match cache::lookup(root, &index, self.follow_symlinks, (self.clock)()) {
            Ok(o) if !o.facts.is_dir => {
                return file::respond(self, method, headers, &index, &o, StatusCode::OK)
            }
            Ok(_) => {}
            Err(e) if pages::is_not_found(&e) => {}
            Err(e) => return pages::io_error(&e).into(),
        }
        if !self.listing {
            if self.listing_hint && self.fallback.is_none() && self.not_found.is_none() {
                return pages::no_listing_hint().into();
            }
            // Without --listing a directory without index.html does not exist as a resource.
            return self.not_found(method, headers, root);
        }
        let (key, desc) = listing::sort_from_query(uri.query());
        let mut entries = match listing::read(&root.join(rel), root, self.hidden, self.follow_symlinks) {
            Ok(v) => v,
            Err(e) => return pages::io_error(&e).into(),
        };
        listing::sort(&mut entries, key, desc);
        let url = pollux_path::to_url(rel);
        let url = if url.ends_with('/') { url } else { url + "/" };
        listing::response(&entries, &url, key, desc, listing::wants_json(&headers)).into()
    }

    /// Nothing matched: the fallback page (200) for a single-page app, else the custom 404
    /// page, else the built-in one.
    fn not_found(&self, method: &Method, headers: HeaderMap, root: &Root) -> Reply {
        for (page, status) in [(&self.fallback, StatusCode::OK), (&self.not_found, StatusCode::NOT_FOUND)] {
            let Some(page) = page else { continue };
            let found = match page {
                PageFile::UnderRoot(rel) => {
                    let now = (self.clock)();
                    cache::lookup(root, rel, self.follow_symlinks, now).map(|o| (o, rel.as_path()))
                }
                PageFile::Absolute { dir, name } => {
                    cache::lookup(dir, name, true, (self.clock)()).map(|o| (o, name.as_path()))
                }
            };
            if let Ok((o, rel)) = found {
                if !o.facts.is_dir {
                    return file::respond(self, method, headers, rel, &o, status);
                }
            }
        }
        pages::plain(StatusCode::NOT_FOUND).into()
    }
}

/// 301 to the slash form. Relative links inside an index page only work from there. The
/// location is rebuilt from the resolved segments, never copied from the request:
/// `//evil.example/..` must not become a redirect to another host.
fn redirect_to_slash(uri: &Uri, rel: &Path) -> Response<Body> {
    let mut loc = pollux_path::to_url(rel);
    if !loc.ends_with('/') {
        loc.push('/');
    }
    if let Some(q) = uri.query() {
        loc.push('?');
        loc.push_str(q);
    }
    let mut r = pages::plain(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}
