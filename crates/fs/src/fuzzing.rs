//! The fuzz targets' door to crate-private parsers (`fuzz/`: `range`, `accept_encoding`),
//! compiled only with the `fuzzing` feature. Not an API: thin wrappers that turn private
//! types into plain ones, so the parsers themselves keep their `pub(crate)` signatures.
//! Path resolution needs no door: it is the `pollux-path` crate's public API.

use std::ops::Range;

use http::HeaderMap;

use crate::coding::{Accept, Offer};
use crate::range::{self, Ranges};

pub use crate::coding::Coding;

/// Most ranges a satisfiable answer may hold (after coalescing).
pub const MAX_RANGES: usize = range::MAX_RANGES;

/// Every coding, in the order of the weight arrays below (and of preference at equal weight).
pub const CODINGS: [Coding; 3] = Coding::ALL;

/// What a `Range` field asks of `len` bytes, as the handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The field is ignored: the whole representation, 200.
    Ignore,
    /// 416.
    Unsatisfiable,
    /// 206 with these ranges.
    Satisfiable(Vec<Range<u64>>),
}

/// `crate::range::parse`.
pub fn parse_range(value: &[u8], len: u64) -> RangeAnswer {
    match range::parse(value, len) {
        None => RangeAnswer::Ignore,
        Some(Ranges::Unsatisfiable) => RangeAnswer::Unsatisfiable,
        Some(Ranges::Satisfiable(v)) => RangeAnswer::Satisfiable(v),
    }
}

/// How a coding could be produced for a file (`crate::coding::Offer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Availability {
    /// Not available.
    No,
    /// Compressed on the fly.
    Fly,
    /// A precompressed sidecar file.
    Sidecar,
}

/// What the server makes of the `Accept-Encoding` fields of `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The weight (thousandths) of each coding in [`CODINGS`]; 0 is "not acceptable".
    pub q: [u16; 3],
    /// The coding chosen when each of [`CODINGS`] is available as `offer` says; `None` is
    /// identity.
    pub chosen: Option<Coding>,
}

/// `Accept::from_headers` (the per-thread memo included) and `Accept::choose`.
pub fn negotiate(headers: &HeaderMap, offer: [Availability; 3]) -> Negotiated {
    let accept = Accept::from_headers(headers);
    let offer = offer.map(|a| match a {
        Availability::No => Offer::No,
        Availability::Fly => Offer::Fly,
        Availability::Sidecar => Offer::Sidecar,
    });
    Negotiated { q: CODINGS.map(|c| accept.q(c)), chosen: accept.choose(offer) }
}
