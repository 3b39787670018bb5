//! Listening sockets handed to a supervisor when it starts: by systemd's socket activation
//! (`LISTEN_FDS` from descriptor 3, `LISTEN_PID`, `LISTEN_FDNAMES`, see `sd_listen_fds(3)`)
//! or by the supervisor it replaces in a binary upgrade ([`UPGRADE_FDS`]). Both go the same
//! way: matched to the configuration's listeners by name, the rest by order.

use std::io;
use std::net::TcpListener;

use crate::Want;

/// `FD=KIND:ADDR,…`: the sockets an upgrading supervisor passes to its successor.
pub const UPGRADE_FDS: &str = "POLLUX_UPGRADE_FDS";

/// systemd's first passed descriptor (`SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;

/// Inherited sockets not yet matched to a listener, with their names.
#[derive(Debug, Default)]
pub struct Inherited {
    sockets: Vec<(String, TcpListener)>,
    /// Where they came from, for messages.
    source: &'static str,
}

impl Inherited {
    /// Whether there are any (systemd's socket activation or an upgrade started us).
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The socket named for `want`: by its upgrade key, its address, or its kind (`http`,
    /// `https`, `redirect`, as `FileDescriptorName=` in a socket unit says it).
    pub(crate) fn take_named(&mut self, want: &Want) -> Option<TcpListener> {
        let key = want.key();
        let addr = want.addr.to_string();
        let i = self.sockets.iter().position(|(n, _)| *n == key || *n == addr || *n == want.kind)?;
        Some(self.sockets.remove(i).1)
    }

    /// The next socket whose name matches no kind of listener (systemd's default names).
    pub(crate) fn take_any(&mut self) -> Option<TcpListener> {
        // An upgrade names every socket; one that matches nothing is a listener removed.
        if self.source != "systemd" {
            return None;
        }
        let i =
            self.sockets.iter().position(|(n, _)| !matches!(n.as_str(), "http" | "https" | "redirect"))?;
        Some(self.sockets.remove(i).1)
    }

    pub(crate) fn warn_unused(&mut self) {
        for (name, s) in self.sockets.drain(..) {
            let addr = s.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
            eprintln!("pollux: warning: {} socket {name} ({addr}) matches no listener; closed", self.source);
        }
    }
}

/// The sockets passed to this process, if any: systemd's when `LISTEN_PID` is ours, else an
/// upgrading supervisor's.
pub fn inherited() -> io::Result<Inherited> {
    let me = std::process::id().to_string();
    if let (Ok(n), Ok(pid)) = (std::env::var("LISTEN_FDS"), std::env::var("LISTEN_PID")) {
        if pid == me {
            let n: i32 = n.parse().map_err(|_| bad("LISTEN_FDS", &n))?;
            let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
            let mut names = names.split(':');
            let mut sockets = Vec::new();
            for fd in FIRST_FD..FIRST_FD + n {
                let name = names.next().unwrap_or("unknown").to_owned();
                sockets.push((name, pollux_reactor::adopt_listener(fd)?));
            }
            return Ok(Inherited { sockets, source: "systemd" });
        }
    }
    let mut sockets = Vec::new();
    if let Ok(list) = std::env::var(UPGRADE_FDS) {
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let (fd, key) = item.split_once('=').ok_or_else(|| bad(UPGRADE_FDS, item))?;
            let fd: i32 = fd.parse().map_err(|_| bad(UPGRADE_FDS, item))?;
            sockets.push((key.to_owned(), pollux_reactor::adopt_listener(fd)?));
        }
    }
    Ok(Inherited { sockets, source: "inherited" })
}

fn bad(var: &str, value: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{var}: {value:?} is not a list of descriptors"))
}
