//! Handing work back to a worker from another thread.
//!
//! A [`Remote`] pushes a message into the worker's queue and pokes its `mio::Waker`; the worker
//! drains the queue on its next turn and gives each message to [`crate::Service::on_message`].
//! A blocking pool uses this to return finished responses to the connection's own worker.

use std::sync::{Arc, Mutex};

use mio::Waker;

struct Inner<M> {
    queue: Mutex<Vec<M>>,
    waker: Arc<Waker>,
}

/// The worker's end: owned by the event loop.
pub struct Mailbox<M> {
    inner: Arc<Inner<M>>,
}

/// A cloneable, `Send` handle that delivers messages to one worker.
pub struct Remote<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Clone for Remote<M> {
    fn clone(&self) -> Self {
        Remote { inner: self.inner.clone() }
    }
}

impl<M> std::fmt::Debug for Remote<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Remote")
    }
}

impl<M> std::fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailbox")
    }
}

impl<M> Mailbox<M> {
    pub(crate) fn new(waker: Arc<Waker>) -> Self {
        Mailbox { inner: Arc::new(Inner { queue: Mutex::new(Vec::new()), waker }) }
    }

    /// A handle other threads use to reach this worker.
    pub fn remote(&self) -> Remote<M> {
        Remote { inner: self.inner.clone() }
    }

    /// Takes every queued message, holding the lock only for the swap.
    pub(crate) fn drain(&self) -> Vec<M> {
        self.inner.queue.lock().map(|mut q| std::mem::take(&mut *q)).unwrap_or_default()
    }
}

impl<M> Remote<M> {
    /// Queues `msg` for the worker and wakes it. Returns the message back if the worker's
    /// queue is poisoned (a panic while holding the lock, which the code never does).
    /// Queues `msg` without waking the worker, when the caller will call [`Remote::wake`]
    /// itself a little later (after a batch of messages). Returns whether a wake is owed:
    /// `true` when the queue was empty, so no wake is on its way yet.
    pub fn send_quiet(&self, msg: M) -> Result<bool, M> {
        match self.inner.queue.lock() {
            Ok(mut q) => {
                q.push(msg);
                Ok(q.len() == 1)
            }
            Err(_) => Err(msg),
        }
    }

    /// Wakes the worker (after [`Remote::send_quiet`]).
    pub fn wake(&self) {
        let _ = self.inner.waker.wake();
    }

    /// Whether both handles reach the same worker.
    pub fn same_worker(&self, other: &Remote<M>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn send(&self, msg: M) -> Result<(), M> {
        let first = match self.inner.queue.lock() {
            Ok(mut q) => {
                q.push(msg);
                q.len() == 1
            }
            Err(_) => return Err(msg),
        };
        // Only the message that finds the queue empty wakes the worker: the others join a
        // queue the worker has not drained yet, and it drains all of it after that one wake.
        // A busy pool handing back many answers costs one `eventfd` write per batch, not one
        // per answer. A failed wake means the worker is gone; the message is dropped with it.
        if first {
            let _ = self.inner.waker.wake();
        }
        Ok(())
    }
}
