//! The URLs a server bound to a wildcard address can be reached at: one per address of the
//! machine's interfaces, as miniserve prints them, since `http://0.0.0.0:8000` is not
//! something to type into a phone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `SCHEME://ADDR` lines for a bound address: itself, or for `0.0.0.0` / `[::]` every interface
/// address of that family (loopback first, IPv6 link-local left out: it needs a zone that
/// browsers do not take).
pub(crate) fn urls(bound: SocketAddr, scheme: &str) -> Vec<String> {
    if !bound.ip().is_unspecified() {
        return vec![format!("{scheme}://{bound}")];
    }
    let mut ips: Vec<IpAddr> = interface_addrs()
        .into_iter()
        .filter(|ip| ip.is_ipv4() == bound.is_ipv4())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if is_link_local(v6)))
        .collect();
    ips.sort_by_key(|ip| !ip.is_loopback());
    ips.dedup();
    if ips.is_empty() {
        // Nothing listed (no getifaddrs): loopback at least is there.
        ips.push(if bound.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    ips.into_iter().map(|ip| format!("{scheme}://{}", SocketAddr::new(ip, bound.port()))).collect()
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// Every address of every interface that is up, from getifaddrs(3). libc (already in the
/// tree for the tests and the crates) rather than a crate for ~20 lines.
fn interface_addrs() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs stores a list it allocated in `head`, or fails and stores nothing.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    // Bounded by the kernel's list, which ends in a null pointer.
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        let up = ifa.ifa_flags & libc::IFF_UP as libc::c_uint != 0;
        if ifa.ifa_addr.is_null() || !up {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says which struct it is.
        match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in>() };
                out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sin6 = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in6>() };
                out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
            _ => {}
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}
