//! The supervisor: a process that never serves a request itself, holds the listening sockets,
//! and keeps copies of the server running on them as its children (as nginx's master does).
//! It knows processes, sockets and signals; nothing of HTTP or Python.
//!
//! ```text
//!  start: listeners from systemd (LISTEN_FDS) or an upgrading supervisor
//!         (POLLUX_UPGRADE_FDS), the rest bound here ─► N children (POLLUX_LISTEN_FDS,
//!         POLLUX_GENERATION) ─► all print their URLs ─► READY=1 (sd_notify)
//!  child exited unexpectedly ─► another (after a back-off if it died young)
//!  child "retiring" (--max-requests), a .py file changed (--reload) ─► its replacement;
//!     once that one serves, SIGTERM the old one, which drains and exits
//!  SIGHUP ─► re-read the configuration (a bad one: log a line, keep the old generation)
//!     ─► keep the sockets whose address did not change, bind the new ones
//!     ─► generation+1 children ─► once they serve, SIGTERM the old ones ─► once those
//!     exited, close the removed sockets (the old children accepted what was queued)
//!  SIGUSR2 ─► start the binary again as a new supervisor on the same sockets; once it
//!     reports ready, drain the children and exit
//!  SIGTERM/SIGINT ─► STOPPING=1, pass it on (the children drain), drop our copies of the
//!     sockets (they close when the children stop accepting), exit once every child has
//! ```
//!
//! The sockets stay open in the supervisor while children come and go, so a connection
//! queued when a child exits waits for the others instead of being reset, and a replaced
//! child's successor serves before the old one stops: no request fails.

#![forbid(unsafe_code)]

mod event;
mod inherit;
mod notify;
mod run;
mod sockets;
mod want;
mod watch;

pub use inherit::{inherited, Inherited, UPGRADE_FDS};
pub use notify::{notify, Notify};
pub use run::{supervise, ChildStart, Hooks, Reload, Supervisor};
pub use sockets::Sockets;
pub use want::Want;

/// The variable that tells a child which descriptors are its listening sockets.
pub const LISTEN_FDS: &str = "POLLUX_LISTEN_FDS";
/// The configuration generation a child serves (1 at start, one more per reload).
pub const GENERATION: &str = "POLLUX_GENERATION";
/// What a child prints (on stdout) once it serves, in the URL of each of its listeners
/// (`http://…` or `https://…`): the supervisor waits for it.
pub const READY_MARK: &str = "://";
/// What a child prints when it has served its `--max-requests`.
pub const RETIRE_LINE: &str = "pollux: retiring";
/// Where a supervisor started by an upgrade reports that it serves (a notify socket of the
/// old supervisor, spoken to as systemd's `NOTIFY_SOCKET`).
pub const UPGRADE_NOTIFY: &str = "POLLUX_UPGRADE_NOTIFY";
