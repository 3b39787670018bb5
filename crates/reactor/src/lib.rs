//! The reactor: an edge-triggered epoll event loop per core, and nothing else.
//!
//! It knows sockets, readiness, time and threads; it knows nothing of HTTP. A protocol plugs in
//! as a [`Service`]: the reactor accepts connections and hands them over, forwards readiness
//! events and expired timers, and runs the loop until a graceful shutdown has drained.
//!
//! ```text
//!   main thread: bind N SO_REUSEPORT listeners per address ──► spawn N workers ──► wait
//!   signal thread: SIGINT/SIGTERM ──► Shutdown::begin_draining ──► wake every worker
//!                  (accepting on for the drain delay; 2nd signal: end it; 3rd: exit)
//!   worker (one per core, shares nothing):
//!     Service::on_start (register the service's own sockets: UDP services have no listener)
//!     loop { epoll_wait(timeout = next timer) ─► accept until WouldBlock ─► Service::on_accept
//!                                             ─► Service::on_ready(token, readable, writable)
//!                                             ─► Service::on_wake (Remote::send from other threads)
//!            timers.expire(now) ─► Service::on_timer
//!            Service::next_deadline passed ─► Service::on_deadline }
//! ```
//!
//! Edge-triggered means every readiness edge is reported once: a service must read and write
//! until `WouldBlock` (or until a short read/write proves the socket drained), and it registers
//! each connection once for both directions, so no `epoll_ctl` happens per request.

mod listener;
mod pool;
mod remote;
mod shutdown;
pub mod sys;
mod timer;
mod worker;

pub use listener::{
    adopt_listener, bind_joinable, bind_reuseport, bind_shared, ensure_unclaimed, ListenerConfig,
};
pub use pool::Pool;
pub use remote::{Mailbox, Remote};
pub use shutdown::Shutdown;
pub use timer::{TimerKind, Timers};
pub use worker::{default_max_conns, run, Ctx, RunConfig, Service};

/// Re-exported so services name the same types the reactor uses.
pub use mio;
