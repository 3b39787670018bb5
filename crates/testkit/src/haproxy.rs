//! HAProxy (Debian's package) in front of a set of servers: its configuration, the process,
//! its stats socket (`show servers state`) and its log.
//!
//! The configuration is what an operator runs in front of pollux: HTTP health checks
//! (`option httpchk GET /healthz`) every 200 ms with `fall 1`, so a server that stops
//! answering them is out of rotation within a fraction of a second; `retries 3` with
//! `option redispatch`, so a refused connection is retried on another server; and, where the
//! servers speak it, `send-proxy-v2` so they see the client's address.
//!
//! `option http-server-close`: HAProxy closes its connection to the server after each
//! response, so every request reaches a server through its listening socket's accept queue:
//! the path where a reload, an upgrade or a shutdown loses connections (a listener closed
//! with connections queued resets them). With keep-alive to the servers most requests would
//! ride on long-lived connections and never test it.
//!
//! HAProxy's retries hide a refused connection from the client (round robin with more than
//! one server redispatches at once), so the clients' error count alone cannot tell a server
//! that drains from one that merely closes its listeners in time; [`Haproxy::stat`] gives
//! HAProxy's own count of the failures it hid (connection errors, retries, redispatches).
//! Only errors and server state changes are logged (`option dontlog-normal`): a load run
//! would otherwise log every request.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::group::Group;
use crate::netns::Node;

/// Where HAProxy sends its health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// `GET /healthz` on the admin listener at this port of each server (`check port N`):
    /// the supervisor answers it, 503 from the moment a drain begins.
    AdminPort(u16),
}

/// What HAProxy balances.
#[derive(Debug, Clone)]
pub struct Balance {
    /// The frontend's address (in the balancer's namespace).
    pub frontend: SocketAddr,
    /// The servers: name and address.
    pub servers: Vec<(String, SocketAddr)>,
    /// Where health checks go.
    pub health: Health,
    /// Whether connections to the servers start with a PROXY protocol v2 header.
    pub send_proxy_v2: bool,
}

/// The backend's name in the configuration and the log (`be/s2 is DOWN`).
pub const BACKEND: &str = "be";

impl Balance {
    /// The configuration file's text; `socket` is the stats socket's path.
    pub fn config(&self, socket: &Path) -> String {
        let mut c = String::new();
        let _ = write!(
            c,
            "global
    log stdout format raw local0 info
    stats socket {socket} mode 600 level admin
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 500ms
    retries 3
    option redispatch
    option http-server-close

frontend fe
    bind {frontend}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 200ms fall 1 rise 2{check_port}{proxy}
",
            socket = socket.display(),
            frontend = self.frontend,
            check_port = match self.health {
                Health::AdminPort(p) => format!(" port {p}"),
            },
            proxy = if self.send_proxy_v2 { " send-proxy-v2" } else { "" },
        );
        for (name, addr) in &self.servers {
            let _ = writeln!(c, "    server {name} {addr} check");
        }
        c
    }
}

/// A running HAProxy; killed when dropped.
#[derive(Debug)]
pub struct Haproxy {
    proc: Group,
    socket: PathBuf,
}

impl Haproxy {
    /// Writes the configuration into `dir` and starts `haproxy -db` in `node`'s namespace;
    /// returns once its stats socket answers and every server is up (at most 10 s).
    pub fn start(node: &Node, dir: &Path, balance: &Balance) -> Haproxy {
        let socket = dir.join("haproxy.sock");
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, balance.config(&socket)).expect("write haproxy.cfg");
        let mut cmd = node.command("haproxy");
        cmd.arg("-db").arg("-f").arg(&cfg);
        let mut h = Haproxy { proc: Group::spawn(cmd), socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let states = h.try_states();
            let up = states.as_ref().is_some_and(|s| {
                s.len() == balance.servers.len() && s.iter().all(|(_, st)| *st == ServerState::Running)
            });
            if up {
                return h;
            }
            assert!(!h.proc.has_exited(), "haproxy exited: {}{}", h.proc.out.text(), h.proc.err.text());
            assert!(
                Instant::now() < deadline,
                "haproxy's servers not all up within 10 s: {states:?}\n{}",
                h.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one command to the stats socket; the answer, or `None` if the socket does not
    /// answer (not there yet).
    pub fn command(&self, line: &str) -> Option<String> {
        let mut s = UnixStream::connect(&self.socket).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(format!("{line}\n").as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    fn try_states(&self) -> Option<Vec<(String, ServerState)>> {
        let text = self.command(&format!("show servers state {BACKEND}"))?;
        // "1" (the format's version), then "# be_id be_name srv_id srv_name srv_addr
        // srv_op_state …", then one line per server.
        let rows = text.lines().filter(|l| !l.starts_with('#') && l.split_whitespace().count() > 5);
        Some(
            rows.map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[3].to_owned(), ServerState::from_code(f[5]))
            })
            .collect(),
        )
    }

    /// Each server's name and operational state, from `show servers state`.
    pub fn states(&self) -> Vec<(String, ServerState)> {
        self.try_states().expect("haproxy's stats socket answers")
    }

    /// A server's counters from `show stat` (HAProxy's CSV statistics): column name to value.
    pub fn stat(&self, server: &str) -> ServerStat {
        let text = self.command("show stat").expect("haproxy's stats socket answers");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").trim_start_matches("# ").split(',').collect();
        let row = lines
            .map(|l| l.split(',').collect::<Vec<&str>>())
            .find(|f| f.first() == Some(&BACKEND) && f.get(1) == Some(&server))
            .unwrap_or_else(|| panic!("no {BACKEND}/{server} in show stat: {text}"));
        let get = |name: &str| -> u64 {
            header
                .iter()
                .position(|h| *h == name)
                .and_then(|i| row.get(i))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        ServerStat {
            connect_errors: get("econ"),
            response_errors: get("eresp"),
            retries: get("wretr"),
            redispatches: get("wredis"),
            sessions: get("stot"),
        }
    }

    /// Waits until HAProxy's log says `server` went down or up (`"DOWN"`, `"UP"`), at most
    /// `limit` after `since`; how long after `since` the line was seen, or `None`.
    pub fn wait_marked(&self, server: &str, what: &str, since: Instant, limit: Duration) -> Option<Duration> {
        let needle = format!("{BACKEND}/{server} is {what}");
        // The log is on stdout (`log stdout`); the same alert is also a warning on stderr.
        let left = limit.saturating_sub(since.elapsed());
        let text = self.proc.out.wait_for(&needle, left.as_secs() + 1);
        let elapsed = since.elapsed();
        text.contains(&needle).then_some(elapsed)
    }

    /// Everything HAProxy logged so far (errors, retries, server state changes, warnings).
    pub fn log(&self) -> String {
        format!("{}{}", self.proc.out.text(), self.proc.err.text())
    }
}

/// A server's operational state (`srv_op_state` in `show servers state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// 0: out of rotation.
    Stopped,
    /// 1: being brought up (slow start).
    Starting,
    /// 2: in rotation.
    Running,
    /// 3: being stopped.
    Stopping,
    /// Anything else.
    Unknown,
}

impl ServerState {
    fn from_code(code: &str) -> ServerState {
        match code {
            "0" => ServerState::Stopped,
            "1" => ServerState::Starting,
            "2" => ServerState::Running,
            "3" => ServerState::Stopping,
            _ => ServerState::Unknown,
        }
    }
}

/// What HAProxy counted for one server (`show stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerStat {
    /// Connection attempts that failed (`econ`): refused, reset, timed out.
    pub connect_errors: u64,
    /// Responses that failed (`eresp`): the connection closed or reset before an answer.
    pub response_errors: u64,
    /// Connection attempts retried (`wretr`).
    pub retries: u64,
    /// Requests sent to another server after failing on this one (`wredis`).
    pub redispatches: u64,
    /// Sessions (requests, with server connections closed after each) it was given (`stot`).
    pub sessions: u64,
}

impl ServerStat {
    /// Every failure HAProxy saw on this server, whether or not its retries hid it from
    /// the client.
    pub fn failures(&self) -> u64 {
        self.connect_errors + self.response_errors + self.retries + self.redispatches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_has_what_the_issue_asks_for() {
        let b = Balance {
            frontend: SocketAddr::from(([10, 0, 0, 2], 8080)),
            servers: vec![("s1".into(), SocketAddr::from(([10, 0, 0, 3], 8000)))],
            health: Health::AdminPort(9000),
            send_proxy_v2: true,
        };
        let c = b.config(Path::new("/run/h.sock"));
        for line in [
            "option httpchk GET /healthz",
            "retries 3",
            "option redispatch",
            "default-server inter 200ms fall 1 rise 2 port 9000 send-proxy-v2",
            "server s1 10.0.0.3:8000 check",
            "bind 10.0.0.2:8080",
            "stats socket /run/h.sock",
        ] {
            assert!(c.contains(line), "no {line:?} in\n{c}");
        }
        let plain = Balance { send_proxy_v2: false, ..b }.config(Path::new("/run/h.sock"));
        assert!(!plain.contains("send-proxy"), "{plain}");
    }
}
