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

/// A connection can move to another thread (a worker handing it over, a test runner).
#[test]
fn connections_and_events_are_send() {
    fn send<T: Send>() {}
    send::<crate::Connection>();
    send::<crate::Event>();
    send::<crate::ConnError>();
}
