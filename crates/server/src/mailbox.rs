//! What crosses threads back to a connection's worker: a deferred answer, or a task's wake-up.
//! Both halves (the connection's and the other thread's) share one [`Shared`] flag block.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use http::Response;

use crate::Body;

#[derive(Debug)]
pub(crate) struct Shared {
    /// Set by the connection when it no longer waits (closed, timed out, shut down).
    pub(crate) cancelled: AtomicBool,
    /// A task wake-up is in the worker's mailbox and not yet delivered: further wakes need
    /// not queue another (see [`crate::TaskWaker::wake`]).
    pub(crate) queued: AtomicBool,
    /// The connection's slot in its worker.
    pub(crate) token: usize,
}

impl Shared {
    pub(crate) fn new(token: usize) -> Arc<Shared> {
        Arc::new(Shared { cancelled: AtomicBool::new(false), queued: AtomicBool::new(false), token })
    }
}

/// A deferred response on its way back to the connection's worker. The server makes and
/// consumes it ([`crate::Responder::send`] wraps the response in one); it is public only as
/// the message type of the workers' mailboxes, and crosses threads.
///
/// ```
/// fn sendable<T: Send + 'static>() {}
/// sendable::<pollux_server::Finished>();
/// ```
#[derive(Debug)]
pub struct Finished {
    pub(crate) shared: Arc<Shared>,
    pub(crate) what: Message,
}

/// What came back: a deferred answer, or a nudge for a task (see [`crate::TaskWaker`]).
#[derive(Debug)]
pub(crate) enum Message {
    Response(Response<Body>),
    Wake,
}
