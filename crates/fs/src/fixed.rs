//! [`Fixed`]: the prepared fields of a file's full answers, made once per file cache entry and
//! representation, so the common answer copies a prepared block instead of building a header
//! map field by field. The file cache holds them ([`crate::cache::Opened`]); the response
//! layer ([`crate::file`]) makes and uses them.

use http::header::{
    HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, LAST_MODIFIED, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use pollux_server::PreparedFields;

use crate::coding::Coding;

pub(crate) const BYTES: HeaderValue = HeaderValue::from_static("bytes");
pub(crate) const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
pub(crate) const VARY_ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// The fields of a file's full answers in one representation (identity, or one content
/// coding), prepared once per cache entry: the 200's (validators, caching policy, `Vary`,
/// coding, type) and the 304's (the ones of those that describe the cache entry, §15.4.5).
/// They depend on the serving configuration as well as the file, so they remember the two
/// settings they were made with; another `ServeDir` over the same root with other settings
/// builds its fields per response. An encoded representation's also remember its entity-tag:
/// a sidecar's differs from the on-the-fly copy's, and either may be chosen.
#[derive(Debug)]
pub(crate) struct Fixed {
    cache_control: Option<HeaderValue>,
    varies: bool,
    etag: HeaderValue,
    /// The 200's fields.
    pub(crate) ok: PreparedFields,
    /// The 304's fields.
    pub(crate) not_modified: PreparedFields,
}

impl Fixed {
    /// The fields for a representation with this entity-tag, of a file with this
    /// `Last-Modified` and type; `coding` is `None` for identity.
    pub(crate) fn new(
        etag: &HeaderValue,
        last_modified: &HeaderValue,
        content_type: &HeaderValue,
        coding: Option<Coding>,
        cache_control: Option<&HeaderValue>,
        varies: bool,
    ) -> Fixed {
        let etag = etag.clone();
        let mut entry = vec![(ETAG, etag.clone()), (LAST_MODIFIED, last_modified.clone())];
        entry.extend(cache_control.map(|cc| (CACHE_CONTROL, cc.clone())));
        if varies {
            entry.push((VARY, VARY_ACCEPT_ENCODING));
        }
        let not_modified = PreparedFields::new(entry.iter().cloned());
        entry.push((X_CONTENT_TYPE_OPTIONS, NOSNIFF));
        match coding {
            Some(c) => entry.push((CONTENT_ENCODING, HeaderValue::from_static(c.token()))),
            // Ranges are served on the identity representation only, so only it advertises
            // them (§14.3).
            None => entry.push((ACCEPT_RANGES, BYTES)),
        }
        entry.push((CONTENT_TYPE, content_type.clone()));
        Fixed {
            cache_control: cache_control.cloned(),
            varies,
            etag,
            ok: PreparedFields::new(entry),
            not_modified,
        }
    }

    pub(crate) fn fits(&self, cache_control: Option<&HeaderValue>, varies: bool) -> bool {
        self.varies == varies && self.cache_control.as_ref() == cache_control
    }

    pub(crate) fn fits_encoded(
        &self,
        etag: &HeaderValue,
        cache_control: Option<&HeaderValue>,
        varies: bool,
    ) -> bool {
        self.fits(cache_control, varies) && self.etag == etag
    }
}
