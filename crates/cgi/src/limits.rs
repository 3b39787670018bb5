//! The bounds on a script's header block: what the output parser (`output`) and the field
//! collector (`response`) enforce and what the errors (`error`) report. Kept apart so all three
//! depend on this rather than on each other; public as `pollux_cgi::output::{MAX_HEAD,
//! MAX_FIELDS}`.

/// Largest header block, blank line included.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most field lines in a header block.
pub const MAX_FIELDS: usize = 100;
