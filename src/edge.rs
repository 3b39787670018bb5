//! `pollux serve`'s flags for what happens at the door: PROXY protocol behind a load
//! balancer, `--allow`/`--deny`, `--max-conns-per-ip`, and TCP keepalive on client sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Args;
use pollux_server::ipnet::IpNet;
use pollux_server::{AccessList, AccessRule, Options};

use crate::duration::parse_duration;

/// `--proxy-protocol`, `--allow` and friends.
#[derive(Debug, Args)]
#[command(next_help_heading = "Load balancer and access control")]
pub(crate) struct EdgeArgs {
    /// Every listener (plain and TLS) expects a PROXY protocol header (v1 or v2, as HAProxy's
    /// `send-proxy`/`send-proxy-v2` send it) before its first byte; the client address it
    /// carries is the one logged, given to CGI and WSGI, and checked by --allow/--deny.
    /// Connections without one are closed. Needs --proxy-trusted.
    #[arg(long)]
    proxy_protocol: bool,
    /// A balancer allowed to send PROXY headers: an address or CIDR network (repeatable).
    /// Any other peer of a --proxy-protocol listener is closed at accept.
    #[arg(long = "proxy-trusted", value_name = "CIDR", value_parser = parse_net)]
    proxy_trusted: Vec<IpNet>,
    /// Let clients in this address or CIDR network connect (repeatable). Rules are checked in
    /// command-line order with --deny, first match wins; with any --allow, a client no rule
    /// matches is refused. IPv4 rules match IPv4-mapped IPv6 clients.
    #[arg(long = "allow", value_name = "CIDR", value_parser = parse_allow)]
    allow: Vec<Ordered>,
    /// Refuse clients in this address or CIDR network (repeatable; see --allow). Refused
    /// connections are closed at accept, before anything is read.
    #[arg(long = "deny", value_name = "CIDR", value_parser = parse_deny)]
    deny: Vec<Ordered>,
    /// Most open connections from one client address (across all workers); the next one is
    /// closed at accept.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_conns_per_ip: Option<u32>,
    /// TCP keepalive on client sockets: idle time before the first probe (then every 15 s,
    /// 9 probes), or `off`.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_keepalive)]
    tcp_keepalive: Keepalive,
}

/// `--tcp-keepalive`'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive(Option<Duration>);

/// An access rule with its place on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ordered {
    seq: usize,
    rule: AccessRule,
}

/// The order in which clap met --allow and --deny values. Why a counter: they are two flags
/// (two `Vec`s once parsed), and "first match wins" needs their interleaving; clap runs a
/// value parser as it meets each value, left to right, so numbering them there keeps it.
static SEQ: AtomicUsize = AtomicUsize::new(0);

fn parse_net(s: &str) -> Result<IpNet, String> {
    pollux_server::parse_cidr(s)
}

fn parse_allow(s: &str) -> Result<Ordered, String> {
    let net = parse_net(s)?;
    Ok(Ordered { seq: SEQ.fetch_add(1, Ordering::Relaxed), rule: AccessRule::Allow(net) })
}

fn parse_deny(s: &str) -> Result<Ordered, String> {
    let net = parse_net(s)?;
    Ok(Ordered { seq: SEQ.fetch_add(1, Ordering::Relaxed), rule: AccessRule::Deny(net) })
}

fn parse_keepalive(s: &str) -> Result<Keepalive, String> {
    match s {
        "off" | "0" => Ok(Keepalive(None)),
        _ => match parse_duration(s)? {
            d if d < Duration::from_secs(1) => {
                Err("at least 1s (the kernel counts whole seconds), or off".into())
            }
            d => Ok(Keepalive(Some(d))),
        },
    }
}

impl EdgeArgs {
    /// Sets what these flags decide in `opts`.
    pub(crate) fn apply(&self, opts: Options) -> anyhow::Result<Options> {
        if self.proxy_protocol && self.proxy_trusted.is_empty() {
            // Trusting anyone by default would let any client that reaches us forge its
            // address; trusting only loopback would silently refuse a real balancer.
            anyhow::bail!(
                "--proxy-protocol: no trusted balancer: name each with --proxy-trusted CIDR \
                 (0.0.0.0/0 and ::/0 trust any peer)"
            );
        }
        let mut rules: Vec<Ordered> = self.allow.iter().chain(&self.deny).copied().collect();
        rules.sort_by_key(|r| r.seq);
        Ok(Options {
            proxy_protocol: self.proxy_protocol,
            proxy_trusted: self.proxy_trusted.clone(),
            access: AccessList::new(rules.into_iter().map(|r| r.rule).collect()),
            max_conns_per_ip: self.max_conns_per_ip,
            tcp_keepalive: self.tcp_keepalive.0,
            ..opts
        })
    }
}
