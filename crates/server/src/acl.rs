//! Who may connect: `--allow`/`--deny` rules and the per-address connection limit
//! (`--max-conns-per-ip`). Both are decided once per connection, at the accept (or, behind a
//! PROXY balancer, once the header named the client), never per request.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
//! what a dual-stack `[::]` listener reports for an IPv4 client) is the IPv4 address it maps,
//! and a rule written in mapped form is the IPv4 rule it means. So one IPv4 rule covers a
//! client however the socket reports it. Prefix arithmetic is `ipnet`'s.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::{IpNet, Ipv4Net};

/// One `--allow` or `--deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRule {
    Allow(IpNet),
    Deny(IpNet),
}

impl AccessRule {
    fn net(&self) -> IpNet {
        match *self {
            AccessRule::Allow(n) | AccessRule::Deny(n) => n,
        }
    }
}

/// The rules in command-line order: the first that matches decides; when none does, the
/// connection is allowed unless some rule is an `Allow` (a list of allowed networks means
/// "only these", as nginx's and Apache's users write it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    rules: Vec<AccessRule>,
    default_allow: bool,
}

impl AccessList {
    pub fn new(rules: Vec<AccessRule>) -> AccessList {
        let default_allow = !rules.iter().any(|r| matches!(r, AccessRule::Allow(_)));
        let rules = rules
            .into_iter()
            .map(|r| match r {
                AccessRule::Allow(n) => AccessRule::Allow(canonical_net(n)),
                AccessRule::Deny(n) => AccessRule::Deny(canonical_net(n)),
            })
            .collect();
        AccessList { rules, default_allow }
    }

    /// No rule at all: every address is allowed, and nothing need be checked.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[AccessRule] {
        &self.rules
    }

    /// Whether a connection from `ip` is let in.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self.rules.iter().find(|r| r.net().contains(&ip)) {
            Some(AccessRule::Allow(_)) => true,
            Some(AccessRule::Deny(_)) => false,
            None => self.default_allow,
        }
    }
}

/// Whether `ip` is in one of `nets` (the trusted balancers), in canonical form.
pub(crate) fn in_any(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    nets.iter().any(|n| canonical_net(*n).contains(&ip))
}

/// A network written in IPv4-mapped form (`::ffff:10.0.0.0/104`) as the IPv4 network it
/// means (`10.0.0.0/8`); every other network as it is.
pub fn canonical_net(n: IpNet) -> IpNet {
    match n {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(n, IpNet::V4),
            None => n,
        },
        _ => n,
    }
}

/// Parses a CIDR network (`10.0.0.0/8`, `2001:db8::/32`) or a single address (a `/32` or
/// `/128`). Host bits set below the prefix are an error: `10.0.0.1/8` is almost always a
/// typo for a network, and silently widening or narrowing it is how rules go wrong.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet =
        s.parse().map_err(|_| format!("`{s}` is not an address or CIDR network (e.g. 10.0.0.0/8)"))?;
    if net.trunc() != net {
        return Err(format!("`{s}` has host bits set below the prefix: did you mean {}?", net.trunc()));
    }
    Ok(net)
}

/// Shards of the per-address table: connections of all workers go through it, so it is
/// split to keep two workers accepting at once from waiting on each other.
const SHARDS: usize = 16;

/// Open connections per client address, across every worker (a worker's own table would let
/// a client hold N on each). Touched at accept and close only, never per request.
#[derive(Debug)]
pub struct PerIpLimit {
    limit: u32,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<IpAddr, u32>>]>,
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct IpSlot {
    table: Arc<PerIpLimit>,
    ip: IpAddr,
}

impl PerIpLimit {
    pub fn new(limit: u32) -> Arc<PerIpLimit> {
        Arc::new(PerIpLimit {
            limit,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        &self.shards[self.hasher.hash_one(ip) as usize % SHARDS]
    }

    /// Counts a connection from `ip`, or `None` when it already has `limit` open.
    pub(crate) fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let ip = ip.to_canonical();
        // A poisoned shard only means another worker panicked mid-update of a counter:
        // the map is still a map.
        let mut map = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(IpSlot { table: self.clone(), ip })
    }

    /// Open connections from `ip` (for tests and metrics).
    pub fn count(&self, ip: IpAddr) -> u32 {
        let ip = ip.to_canonical();
        let map = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.table.shard(&self.ip).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Forget the address: the table holds only clients with open connections.
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // Literals written here: a failure is the test's own typo.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn net(s: &str) -> IpNet {
        parse_cidr(s).unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn first_match_wins_in_order() {
        let l =
            AccessList::new(vec![AccessRule::Allow(net("10.1.0.0/16")), AccessRule::Deny(net("10.0.0.0/8"))]);
        assert!(l.allows(ip("10.1.2.3")));
        assert!(!l.allows(ip("10.2.0.1")));
        // An allow list: what matches nothing is denied.
        assert!(!l.allows(ip("192.0.2.1")));
        let l =
            AccessList::new(vec![AccessRule::Deny(net("10.0.0.0/8")), AccessRule::Allow(net("10.1.0.0/16"))]);
        assert!(!l.allows(ip("10.1.2.3")));
    }

    #[test]
    fn deny_only_allows_the_rest() {
        let l = AccessList::new(vec![
            AccessRule::Deny(net("192.0.2.0/24")),
            AccessRule::Deny(net("2001:db8::/32")),
        ]);
        assert!(!l.allows(ip("192.0.2.200")));
        assert!(l.allows(ip("192.0.3.1")));
        assert!(!l.allows(ip("2001:db8:1::1")));
        assert!(l.allows(ip("2001:db9::1")));
        assert!(AccessList::new(vec![]).allows(ip("::1")));
    }

    #[test]
    fn mapped_ipv6_matches_ipv4_rules_and_back() {
        let l = AccessList::new(vec![AccessRule::Deny(net("127.0.0.0/8"))]);
        assert!(!l.allows(ip("::ffff:127.0.0.1")));
        assert!(l.allows(ip("::1")));
        let l = AccessList::new(vec![AccessRule::Deny(net("::ffff:10.0.0.0/104"))]);
        assert!(!l.allows(ip("10.9.9.9")));
        assert!(l.allows(ip("11.0.0.1")));
        assert!(in_any(&[net("127.0.0.1")], ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn prefix_edges() {
        let l = AccessList::new(vec![AccessRule::Deny(net("192.0.2.128/25"))]);
        assert!(l.allows(ip("192.0.2.127")));
        assert!(!l.allows(ip("192.0.2.128")));
        assert!(!l.allows(ip("192.0.2.255")));
        let l = AccessList::new(vec![AccessRule::Deny(net("0.0.0.0/0"))]);
        assert!(!l.allows(ip("255.255.255.255")));
        assert!(l.allows(ip("::2")), "an IPv4 rule never matches a (non-mapped) IPv6 address");
    }

    #[test]
    fn parse_cidr_refuses_host_bits_and_junk() {
        assert_eq!(net("10.0.0.1"), "10.0.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(net("::1"), "::1/128".parse::<IpNet>().unwrap());
        assert!(parse_cidr("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("ten").is_err());
    }

    #[test]
    fn per_ip_limit_counts_and_releases() {
        let t = PerIpLimit::new(2);
        let a = t.acquire(ip("192.0.2.1")).unwrap();
        let _b = t.acquire(ip("::ffff:192.0.2.1")).unwrap();
        assert!(t.acquire(ip("192.0.2.1")).is_none(), "the third from one address");
        let _c = t.acquire(ip("192.0.2.2")).unwrap();
        drop(a);
        assert_eq!(t.count(ip("192.0.2.1")), 1);
        assert!(t.acquire(ip("192.0.2.1")).is_some());
    }
}
