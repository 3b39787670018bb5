//! Connection tests: a client played with hand-built frames (see `harness`), one file per
//! concern. Time is simulated: each test says what `now_ms` is.

mod harness;

mod flow;
mod handshake;
mod limits;
mod rules;
mod send;
mod streams;
mod validation;
