//! A fleet behind a load balancer, as operators run pollux when one machine is not enough:
//! three `pollux serve` instances, HAProxy in front of them, and wrk as the clients, each in
//! a network namespace of its own on one bridge ([`crate::netns`]).
//!
//! ```text
//!   cli 10.218.0.1          lb 10.218.0.2                s1 10.218.0.3 ┐
//!   wrk -c32 ──HTTP──► HAProxy :8080 ──(PROXY v2)──► s2 10.218.0.4 ├─ pollux serve :8000
//!                        checks GET /healthz ──────► s3 10.218.0.5 ┘   (+ admin port)
//! ```
//!
//! A test makes the fleet ([`Fleet::new`]), may write files into each server's directory
//! (a config file) and the shared web root, starts it ([`Fleet::start`]), runs a load while
//! it acts on a server at a set time ([`Fleet::load_with`]), and asserts on wrk's totals,
//! HAProxy's view and the servers' own. Every process (servers, HAProxy, wrk) is killed and
//! every namespace deleted when the fleet is dropped, also when the test panics.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use rustix::process::Signal;

use crate::data::TempRoot;
use crate::group::Group;
use crate::haproxy::{Balance, Haproxy, Health};
use crate::netns::{Lan, Node};
use crate::process::{pollux_bin, run_bounded};
use crate::wrk::{Load, Totals};

/// The port every server serves HTTP on.
pub const SERVE_PORT: u16 = 8000;
/// HAProxy's frontend port.
pub const FRONTEND_PORT: u16 = 8080;
/// The port a test gives each server's admin listener (`--admin {addr}:9000`).
pub const ADMIN_PORT: u16 = 9000;
/// How long a server gets to say it is listening.
const READY_SECS: u64 = 20;

/// How the fleet is made.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Flags of every `pollux serve` after `ROOT --bind ADDR:8000`. `{dir}` in a flag becomes
    /// the server's own directory, `{addr}` its LAN address, `{lb}` the balancer's, `{www}`
    /// the web root.
    pub serve: Vec<String>,
    /// Where HAProxy checks health.
    pub health: Health,
    /// Whether HAProxy sends a PROXY v2 header on each connection to a server.
    pub send_proxy_v2: bool,
}

/// One pollux instance of the fleet.
#[derive(Debug)]
pub struct Instance {
    /// Its namespace (role `s1` …).
    pub node: Node,
    /// Its directory (config file, logs).
    pub dir: PathBuf,
    /// The process, while running.
    pub proc: Option<Group>,
}

impl Instance {
    /// The address it serves HTTP on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.node.addr, SERVE_PORT))
    }

    /// The running process; panics if the instance is not running.
    pub fn proc(&mut self) -> &mut Group {
        let role = &self.node.role;
        self.proc.as_mut().unwrap_or_else(|| panic!("{role} is not running"))
    }
}

/// Three servers, HAProxy and a client namespace; everything is torn down on drop.
#[derive(Debug)]
pub struct Fleet {
    /// `s1`, `s2`, `s3` (index 0, 1, 2).
    pub servers: Vec<Instance>,
    haproxy: Option<Haproxy>,
    spec: FleetSpec,
    lan: Lan,
    /// The fleet's files: `www/` (the web root every server serves), one directory per
    /// server, HAProxy's configuration and socket.
    pub dir: TempRoot,
}

impl Fleet {
    /// Makes the namespaces and directories, with `www/index.html`; starts nothing yet.
    /// Panics without root and iproute2.
    pub fn new(spec: FleetSpec) -> Fleet {
        let dir = TempRoot::empty("fleet");
        let www = dir.path("www");
        std::fs::create_dir_all(&www).expect("mkdir www");
        std::fs::write(www.join("index.html"), "<h1>hello from the fleet</h1>\n").expect("write index");
        let lan = Lan::new(&["cli", "lb", "s1", "s2", "s3"]);
        let servers = ["s1", "s2", "s3"]
            .iter()
            .map(|role| {
                let d = dir.path(role);
                std::fs::create_dir_all(&d).expect("mkdir server dir");
                Instance { node: lan.node(role).clone(), dir: d, proc: None }
            })
            .collect();
        Fleet { servers, haproxy: None, spec, lan, dir }
    }

    /// The web root every server serves.
    pub fn www(&self) -> PathBuf {
        self.dir.path("www")
    }

    /// A node of the LAN by role (`"cli"`, `"lb"`, `"s1"` …).
    pub fn node(&self, role: &str) -> &Node {
        self.lan.node(role)
    }

    /// Starts the three servers, then HAProxy (which waits until it sees all three up).
    pub fn start(&mut self) {
        for i in 0..self.servers.len() {
            self.start_server(i);
        }
        let balance = Balance {
            frontend: SocketAddr::from((self.node("lb").addr, FRONTEND_PORT)),
            servers: self.servers.iter().map(|s| (s.node.role.clone(), s.addr())).collect(),
            health: self.spec.health,
            send_proxy_v2: self.spec.send_proxy_v2,
        };
        let lb = self.node("lb").clone();
        self.haproxy = Some(Haproxy::start(&lb, &self.dir.0, &balance));
    }

    /// The flags server `i` is started with (the spec's, placeholders filled in).
    pub fn serve_args(&self, i: usize) -> Vec<String> {
        let s = &self.servers[i];
        let mut args = vec![
            "serve".to_owned(),
            self.www().display().to_string(),
            "--bind".to_owned(),
            s.addr().to_string(),
        ];
        let (dir, addr) = (s.dir.display().to_string(), s.node.addr.to_string());
        let (lb, www) = (self.node("lb").addr.to_string(), self.www().display().to_string());
        args.extend(self.spec.serve.iter().map(|a| {
            a.replace("{dir}", &dir).replace("{addr}", &addr).replace("{lb}", &lb).replace("{www}", &www)
        }));
        args
    }

    /// Starts server `i` (0 for s1) and waits until it prints its address.
    pub fn start_server(&mut self, i: usize) {
        let args = self.serve_args(i);
        let s = &mut self.servers[i];
        let mut cmd = s.node.command(pollux_bin());
        cmd.args(&args);
        let mut proc = Group::spawn(cmd);
        let url = format!("http://{}", s.addr());
        // A second at a time, so that a server that exits at once (a bad flag) fails the
        // test at once, not after the whole wait.
        let mut out = String::new();
        for _ in 0..READY_SECS {
            out = proc.out.wait_for(&url, 1);
            if out.contains(&url) || proc.has_exited() {
                break;
            }
        }
        assert!(out.contains(&url), "{} did not print {url}: {out}{}", s.node.role, proc.err.text());
        s.proc = Some(proc);
    }

    /// Sends `sig` to server `i`'s process (the one the fleet started).
    pub fn signal(&mut self, i: usize, sig: Signal) {
        self.servers[i].proc().signal(sig);
    }

    /// SIGKILL to every process of server `i` (its process group): the machine died.
    pub fn kill(&mut self, i: usize) {
        self.servers[i].proc().signal_group(Signal::KILL);
    }

    /// Waits at most `limit` for server `i`'s process to exit: its status and how long the
    /// wait took; `None` if it had to be killed.
    pub fn wait_exit(&mut self, i: usize, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        self.servers[i].proc().wait_exit(limit)
    }

    /// SIGHUP to server `i`'s supervisor; returns once its log says `generation` serves
    /// (at most 20 s).
    pub fn reload(&mut self, i: usize, generation: u64) {
        self.signal(i, Signal::HUP);
        let line = format!("pollux: generation {generation} serving");
        let log = self.servers[i].proc().err.wait_for(&line, 20);
        assert!(log.contains(&line), "{}: no {line:?} after SIGHUP:\n{log}", self.servers[i].node.role);
    }

    /// SIGUSR2 to server `i`'s supervisor (a binary upgrade); returns once the new supervisor
    /// serves and the old one has exited (at most 20 s each), the new one being server `i`'s
    /// process from then on.
    pub fn upgrade(&mut self, i: usize) {
        const SERVES: &str = "pollux: upgraded: process ";
        let role = self.servers[i].node.role.clone();
        let p = self.servers[i].proc();
        let before = p.err.text().matches(SERVES).count();
        p.signal(Signal::USR2);
        let log = p.err.wait_until(20, |t| t.matches(SERVES).count() > before);
        let pid = log
            .rsplit(SERVES)
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|_| log.matches(SERVES).count() > before)
            .unwrap_or_else(|| panic!("{role}: no new supervisor after SIGUSR2:\n{log}"));
        let exited = p.wait_exit(Duration::from_secs(20));
        assert!(
            exited.is_some(),
            "{role}: the old supervisor did not exit after the upgrade:\n{}",
            p.err.text()
        );
        p.follow(pid);
    }

    /// The value of metric `name` (a line `name VALUE`, no labels) in server `i`'s `/metrics`
    /// (fetched from the balancer's namespace); `None` if absent.
    pub fn metric(&self, i: usize, name: &str) -> Option<f64> {
        let url = format!("http://{}:{ADMIN_PORT}/metrics", self.servers[i].node.addr);
        let out = self.curl("lb", &[&url]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Everything server `i` wrote to stderr so far.
    pub fn server_log(&mut self, i: usize) -> String {
        self.servers[i].proc().err.text()
    }

    /// The load balancer; panics before [`Fleet::start`].
    pub fn haproxy(&self) -> &Haproxy {
        self.haproxy.as_ref().expect("the fleet is started")
    }

    /// The URL clients use (HAProxy's frontend).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{FRONTEND_PORT}{path}", self.node("lb").addr)
    }

    /// Runs `load` from `cli` against HAProxy and, `at` after it started, `act` on the fleet
    /// (the load goes on meanwhile); wrk's totals once it is done.
    pub fn load_with(&mut self, load: Load, at: Duration, act: impl FnOnce(&mut Fleet)) -> Totals {
        let (cli, dir, url) = (self.node("cli").clone(), self.dir.0.clone(), self.url("/"));
        std::thread::scope(|scope| {
            let wrk = scope.spawn(move || load.run(&cli, &dir, &url));
            // The scenario's timeline ("at t = 5 s"), not a wait for readiness.
            std::thread::sleep(at);
            act(self);
            wrk.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Runs `curl -sS --max-time 5 ARGS` in `role`'s namespace.
    pub fn curl(&self, role: &str, args: &[&str]) -> Output {
        let mut cmd = self.node(role).command("curl");
        cmd.args(["-sS", "--max-time", "5"]).args(args);
        run_bounded(&mut cmd, 10)
    }

    /// The listening TCP sockets in server `i`'s namespace: address and socket inode, sorted
    /// (from `/proc/net/tcp`, read inside the namespace).
    pub fn listening(&self, i: usize) -> Vec<(SocketAddr, u64)> {
        let mut cmd = self.servers[i].node.command("cat");
        cmd.arg("/proc/net/tcp");
        let out = run_bounded(&mut cmd, 10);
        let mut v = parse_proc_net_tcp_listeners(&String::from_utf8_lossy(&out.stdout));
        v.sort_unstable();
        v
    }
}

/// The LISTEN rows (state `0A`) of a `/proc/net/tcp` text: local address and inode.
fn parse_proc_net_tcp_listeners(text: &str) -> Vec<(SocketAddr, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                return None;
            }
            let (host, port) = f[1].split_once(':')?;
            // The address is the in-memory (network order) u32 printed as a host-order number.
            let ip = Ipv4Addr::from(u32::from_str_radix(host, 16).ok()?.swap_bytes());
            let port = u16::from_str_radix(port, 16).ok()?;
            Some((SocketAddr::from((ip, port)), f[9].parse().ok()?))
        })
        .collect()
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Processes first: a process left inside would keep its namespace alive unnamed.
        self.servers.clear();
        self.haproxy = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listeners_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 030012AC:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 030012AC:1F40 050012AC:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
";
        let addr = SocketAddr::from(([172, 18, 0, 3], 8000));
        assert_eq!(parse_proc_net_tcp_listeners(text), vec![(addr, 4242)]);
    }
}
