//! Network namespaces on one bridge: a small LAN the test owns, torn down when dropped.
//!
//! ```text
//!   ns <tag>-cli   ns <tag>-lb    ns <tag>-s1  …          (one per node, address 10.218.0.N/24)
//!       eth0          eth0           eth0
//!        ║             ║              ║                    veth pairs
//!   ns <tag>-hub:  v0 ══╬═══ v1 ═══════╬══ v2 …  ── bridge br0
//! ```
//!
//! Each node's end of its veth pair is `eth0` in the node's namespace; the other end sits in a
//! hub namespace, enslaved to a bridge there, so nothing is added to the host's own network.
//! Namespace names carry the test process's pid and a counter, so tests running in parallel
//! (threads of one test binary, or several binaries) never collide. Interface names are
//! created directly inside their namespaces and need not be unique.
//!
//! Making namespaces needs root and iproute2 (`ip`); [`Lan::new`] panics without them, so a
//! test using it is `#[ignore = "needs root …"]` and run by scripts/test.sh as root.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The LAN's prefix; every [`Lan`] uses the same one, each in its own namespaces.
const PREFIX: [u8; 3] = [10, 218, 0];

/// Runs `ip ARGS`, quietly; whether it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One namespace on the LAN.
#[derive(Debug, Clone)]
pub struct Node {
    /// The role it was created for (`"cli"`, `"s1"` …).
    pub role: String,
    /// The namespace's name (for `ip netns exec`).
    pub ns: String,
    /// Its address on the LAN.
    pub addr: Ipv4Addr,
}

impl Node {
    /// A command that runs `program` inside this namespace (`ip netns exec NS program`: ip
    /// execs the program, so the child's pid is the program's own).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).arg(program);
        cmd
    }
}

/// Namespaces joined by a bridge; removed when dropped.
#[derive(Debug)]
pub struct Lan {
    hub: String,
    nodes: Vec<Node>,
}

impl Lan {
    /// Makes one namespace per role (addresses 10.218.0.(i+1) in the order given) and joins
    /// them on a bridge. Panics if this machine cannot (not root, no iproute2).
    pub fn new(roles: &[&str]) -> Lan {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!("px{}n{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let hub = format!("{tag}-hub");
        assert!(ip(&["netns", "add", &hub]), "`ip netns add` failed: this test needs root and iproute2");
        // From here on a failure drops `lan`, which removes what was made so far.
        let mut lan = Lan { hub, nodes: Vec::new() };
        let ok = ip(&["-n", &lan.hub, "link", "add", "br0", "type", "bridge"])
            && ip(&["-n", &lan.hub, "link", "set", "br0", "up"]);
        assert!(ok, "could not make the bridge in {}", lan.hub);
        for (i, role) in roles.iter().enumerate() {
            let last = u8::try_from(i + 1).expect("fewer than 255 nodes");
            let node = Node {
                role: (*role).to_owned(),
                ns: format!("{tag}-{role}"),
                addr: Ipv4Addr::new(PREFIX[0], PREFIX[1], PREFIX[2], last),
            };
            assert!(ip(&["netns", "add", &node.ns]), "ip netns add {}", node.ns);
            lan.nodes.push(node.clone());
            let port = format!("v{i}");
            let cidr = format!("{}/24", node.addr);
            let ok = ip(&[
                "link", "add", "eth0", "netns", &node.ns, "type", "veth", "peer", "name", &port, "netns",
                &lan.hub,
            ]) && ip(&["-n", &lan.hub, "link", "set", &port, "master", "br0"])
                && ip(&["-n", &lan.hub, "link", "set", &port, "up"])
                && ip(&["-n", &node.ns, "addr", "add", &cidr, "dev", "eth0"])
                && ip(&["-n", &node.ns, "link", "set", "eth0", "up"])
                && ip(&["-n", &node.ns, "link", "set", "lo", "up"]);
            assert!(ok, "could not link {} to the bridge", node.ns);
        }
        lan
    }

    /// The node made for `role`; panics if there is none.
    pub fn node(&self, role: &str) -> &Node {
        self.nodes.iter().find(|n| n.role == role).unwrap_or_else(|| panic!("no node {role}"))
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends, and with them their peers. A process
        // still inside keeps its namespace alive (unnamed): the owner of the processes kills
        // them before dropping the LAN.
        for node in &self.nodes {
            ip(&["netns", "del", &node.ns]);
        }
        ip(&["netns", "del", &self.hub]);
    }
}
