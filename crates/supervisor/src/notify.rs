//! systemd's readiness protocol (`sd_notify(3)`): datagrams like `READY=1` to the unix socket
//! named in `NOTIFY_SOCKET` (a path, or an abstract name when it starts with `@`).
//!
//! By hand rather than through the `sd-notify` crate: the protocol is one datagram per state
//! change, and std's `UnixDatagram` with `SocketAddrExt::from_abstract_name` covers both kinds
//! of address in a dozen lines, with no `unsafe` and no dependency. The same code tells an
//! upgrading supervisor's parent that it serves ([`crate::UPGRADE_NOTIFY`]).

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Where state changes are reported; nothing when the variable is absent.
#[derive(Debug)]
pub struct Notify {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notify {
    /// From the environment variable `var` (`NOTIFY_SOCKET` for systemd).
    pub fn from_env(var: &str) -> Notify {
        let target = std::env::var(var).ok().filter(|s| !s.is_empty()).and_then(|s| {
            let addr = address(&s).ok()?;
            Some((UnixDatagram::unbound().ok()?, addr))
        });
        Notify { target }
    }

    /// Sends `state` (`READY=1`, `RELOADING=1\nMONOTONIC_USEC=…`, `STOPPING=1`); a failure is
    /// only worth a line (the service manager then times us out, which says more).
    pub fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                eprintln!("pollux: cannot notify the service manager: {e}");
            }
        }
    }

    /// `RELOADING=1` with the `CLOCK_MONOTONIC` time in microseconds, as `Type=notify-reload`
    /// requires.
    pub fn reloading(&self) {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let usec = now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000;
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }
}

/// A `NOTIFY_SOCKET` value as a socket address.
fn address(s: &str) -> io::Result<SocketAddr> {
    match s.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(s),
    }
}

/// Sends one state to `NOTIFY_SOCKET`, if set.
pub fn notify(state: &str) {
    Notify::from_env("NOTIFY_SOCKET").send(state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("pollux-notify-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).expect("addr"))
            .expect("bind");
        let n = Notify {
            target: Some((
                UnixDatagram::unbound().expect("sock"),
                address(&format!("@{name}")).expect("addr"),
            )),
        };
        n.reloading();
        let mut buf = [0u8; 128];
        let len = rx.recv(&mut buf).expect("recv");
        let text = std::str::from_utf8(&buf[..len]).expect("utf8");
        assert!(text.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{text}");
        assert!(text["RELOADING=1\nMONOTONIC_USEC=".len()..].parse::<u64>().is_ok(), "{text}");
    }
}
