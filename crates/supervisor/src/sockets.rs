//! The listening sockets the supervisor holds, one per address of the configuration, and how
//! a reload changes them: the sockets of addresses that stay are the same objects (no queued
//! connection lost, the same inode), new addresses are bound, removed ones are handed back
//! to be closed once the children that accept on them have gone.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd};

use pollux_reactor::ListenerConfig;

use crate::{Inherited, Want};

/// The sockets, in the configuration's order (the order children take them in).
#[derive(Debug)]
pub struct Sockets {
    held: Vec<(Want, TcpListener)>,
    cfg: ListenerConfig,
}

impl Sockets {
    /// Takes the inherited sockets that match `wants` (systemd's, or an upgrading
    /// supervisor's) and binds the others.
    pub fn open(wants: &[Want], cfg: ListenerConfig, inherited: &mut Inherited) -> io::Result<Sockets> {
        let mut held = Vec::with_capacity(wants.len());
        let mut from_env: Vec<Option<TcpListener>> = wants.iter().map(|w| inherited.take_named(w)).collect();
        for slot in from_env.iter_mut().filter(|s| s.is_none()) {
            *slot = inherited.take_any();
        }
        for (w, got) in wants.iter().zip(from_env) {
            let sock = match got {
                Some(s) => s,
                None => pollux_reactor::bind_shared(w.addr, cfg)?,
            };
            held.push((w.clone(), sock));
        }
        inherited.warn_unused();
        Ok(Sockets { held, cfg })
    }

    /// Moves to the listeners `wants` asks for: the same socket for a listener that stays,
    /// a new one for a new address. Returns the removed sockets (to close once the children
    /// that accept on them exited); on an error (an address in use, say) nothing changed.
    pub fn apply(&mut self, wants: &[Want]) -> io::Result<Vec<TcpListener>> {
        // Which socket each want keeps (each socket at most once: the same address may be
        // asked for twice with port 0), then the new ones bound before anything changes.
        let mut taken = vec![false; self.held.len()];
        let mut picks = Vec::with_capacity(wants.len());
        for w in wants {
            let i = (0..self.held.len()).find(|&i| !taken[i] && self.held[i].0 == *w);
            if let Some(i) = i {
                taken[i] = true;
            }
            picks.push(i);
        }
        let mut fresh = Vec::new();
        for (w, _) in wants.iter().zip(&picks).filter(|(_, p)| p.is_none()) {
            fresh.push(pollux_reactor::bind_shared(w.addr, self.cfg)?);
        }
        let mut old: Vec<Option<(Want, TcpListener)>> =
            std::mem::take(&mut self.held).into_iter().map(Some).collect();
        let mut fresh = fresh.into_iter();
        for (w, pick) in wants.iter().zip(picks) {
            let kept = pick.and_then(|i| old[i].take());
            if let Some(s) = kept.or_else(|| fresh.next().map(|s| (w.clone(), s))) {
                self.held.push(s);
            }
        }
        let removed: Vec<TcpListener> = old.into_iter().flatten().map(|(_, s)| s).collect();
        // Children started from now on must not inherit them.
        for s in &removed {
            rustix::io::fcntl_setfd(s.as_fd(), rustix::io::FdFlags::CLOEXEC)?;
        }
        Ok(removed)
    }

    /// The descriptors for children to inherit, in order (`3,4`), made inheritable.
    pub fn child_fds(&self) -> io::Result<String> {
        let mut fds = Vec::with_capacity(self.held.len());
        for (_, s) in &self.held {
            rustix::io::fcntl_setfd(s.as_fd(), rustix::io::FdFlags::empty())?;
            fds.push(s.as_raw_fd().to_string());
        }
        Ok(fds.join(","))
    }

    /// [`crate::UPGRADE_FDS`]'s value: `FD=KEY` by socket, comma-separated.
    pub fn upgrade_fds(&self) -> io::Result<String> {
        self.child_fds()?;
        Ok(self
            .held
            .iter()
            .map(|(w, s)| format!("{}={}", s.as_raw_fd(), w.key()))
            .collect::<Vec<_>>()
            .join(","))
    }

    /// The addresses really bound (ports chosen by the kernel included).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.held.iter().filter_map(|(_, s)| s.local_addr().ok()).collect()
    }

    /// The sockets as they are (for whoever reports on them: the admin listener).
    pub fn listeners(&self) -> impl Iterator<Item = (&Want, &TcpListener)> {
        self.held.iter().map(|(w, s)| (w, s))
    }

    /// Closes every socket of ours (the children's copies keep them open while they accept).
    pub fn close_all(&mut self) {
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(addr: &str) -> Want {
        Want::new("http", addr.parse().expect("addr"))
    }

    fn inode(s: &TcpListener) -> u64 {
        rustix::fs::fstat(s).map(|st| st.st_ino).unwrap_or(0)
    }

    #[test]
    fn a_reload_keeps_the_same_sockets_binds_new_ones_and_hands_back_removed_ones() {
        let cfg = ListenerConfig { backlog: 16 };
        let (a, b) = (want("127.0.0.1:0"), want("127.0.0.2:0"));
        let mut s = Sockets::open(&[a.clone(), a.clone()], cfg, &mut Inherited::default()).expect("open");
        let before: Vec<u64> = s.listeners().map(|(_, l)| inode(l)).collect();
        // The same address asked for a third time, and a new one: two kept, two bound.
        let removed = s.apply(&[b.clone(), a.clone(), a.clone(), a.clone()]).expect("apply");
        assert!(removed.is_empty());
        let after: Vec<u64> = s.listeners().map(|(_, l)| inode(l)).collect();
        assert_eq!(after.len(), 4);
        assert_eq!(&after[1..3], &before[..], "the kept sockets, in order");
        // Down to one: the others come back to be closed later.
        let removed = s.apply(std::slice::from_ref(&a)).expect("apply");
        assert_eq!(removed.len(), 3);
        assert_eq!(s.listeners().map(|(_, l)| inode(l)).collect::<Vec<_>>(), vec![before[0]]);
    }
}
