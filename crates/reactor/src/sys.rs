//! The workspace's OS boundary: the few system calls that neither `std` nor a safe `rustix`
//! API can make without a cost, each behind a small safe function, and the helpers several
//! crates share (the descriptor limit, the coarse clocks).
//!
//! Every crate above the reactor (`server`, `fs`, `cgi`, `tftp-io`, ...) carries
//! `#![forbid(unsafe_code)]`; what they need of the kernel beyond `std` comes from `rustix`
//! (safe) or from here. Each `unsafe` block below has a `// SAFETY:` line; keep this module
//! small enough to audit in one sitting.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use rustix::process::{Resource, Rlimit};

/// One `recv(2)` (made by rustix: no libc wrapper, no cancellation point) into the spare
/// capacity of `buf`, which grows by the bytes received. Reading into the uninitialised spare
/// capacity saves zeroing it first, which a safe `&mut [u8]` would need on every read.
/// Returns the byte count (0: the peer closed its side) and the room there was.
#[inline]
pub fn recv_spare(fd: impl AsFd, buf: &mut BytesMut) -> rustix::io::Result<(usize, usize)> {
    // SAFETY: recv(2) only writes initialised bytes into the slice; nothing uninitialised is
    // read through it, and nothing is written through it but by the kernel.
    let spare: &mut [MaybeUninit<u8>] = unsafe { buf.chunk_mut().as_uninit_slice_mut() };
    let room = spare.len();
    let ((filled, _), _) = rustix::net::recv(fd, spare, rustix::net::RecvFlags::empty())?;
    let n = filled.len();
    // SAFETY: recv(2) initialised the first `n` bytes of the spare capacity.
    unsafe { buf.advance_mut(n) };
    Ok((n, room))
}

/// `setsockopt(fd, level, name, &value)` for an option whose value is a C `int` (the options
/// rustix does not name: `TCP_NOTSENT_LOWAT`, `UDP_SEGMENT`, `UDP_GRO`, `IP_PKTINFO`,
/// `IPV6_RECVPKTINFO`).
pub fn set_int_opt(fd: impl AsFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    let value: libc::c_int = value;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a pointer to a live c_int; the
    // descriptor is borrowed, so open, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bytes of a TCP connection the peer acknowledged (`tcpi_bytes_acked` of `TCP_INFO`, Linux
/// 4.1); `None` if the kernel does not say. It stays readable after a reset.
pub fn tcp_bytes_acked(fd: impl AsFd) -> Option<u64> {
    // SAFETY: tcp_info is plain old data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info` and stores the length it
    // wrote; the descriptor is borrowed, so open, for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + std::mem::size_of::<u64>();
    (rc == 0 && len as usize >= end).then_some(info.tcpi_bytes_acked)
}

/// The local address of the socket numbered `fd`, for a caller that keeps a descriptor's number
/// where a borrow cannot reach (the server's `ConnInfo`, set by the worker for the span of a
/// handler call). `getsockname` on a number is memory-safe whatever the number names: a closed
/// descriptor is `EBADF` (`None`), so the caller's promise that `fd` is its open socket is one
/// of correctness, not of soundness.
pub fn local_addr_of_raw(fd: RawFd) -> Option<SocketAddr> {
    if fd < 0 {
        return None;
    }
    // SAFETY: the borrow lives only for this one getsockname call, which neither closes nor
    // keeps the descriptor; the caller vouches that `fd` is its open socket (see above).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    socket2::SockRef::from(&fd).local_addr().ok()?.as_socket()
}

/// What [`recv_udp`] got.
#[derive(Debug, Clone, Copy)]
pub struct UdpReceived {
    /// Bytes in the buffer.
    pub len: usize,
    /// Where they came from.
    pub src: SocketAddr,
    /// With `UDP_GRO`: the buffer holds datagrams of this size (the last may be shorter).
    pub segment: Option<usize>,
    /// With packet info on: the address the datagram was sent to.
    pub dst: Option<IpAddr>,
}

/// `recvmsg(2)` on a UDP socket into `buf`: one datagram, or several coalesced ones with
/// `UDP_GRO`, with the control messages `UDP_GRO` and `IP_PKTINFO`/`IPV6_RECVPKTINFO` add
/// (rustix's ancillary-data API names neither).
pub fn recv_udp(fd: impl AsFd, buf: &mut [u8]) -> io::Result<UdpReceived> {
    // SAFETY: all-zero bytes are a valid `sockaddr_storage` and `msghdr` (plain C structs of
    // integers and pointers, null pointers included).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // u64s keep the control buffer aligned for `cmsghdr`; room for GRO and packet info.
    let mut control = [0u64; 16];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut storage as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: every pointer in `msg` points to a live local or to `buf`, with its true size;
    // the kernel writes no more than those sizes. The descriptor is borrowed for the call.
    let n = unsafe { libc::recvmsg(fd.as_fd().as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut segment = None;
    let mut dst = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, within
    // `msg_controllen`; each payload is read unaligned as the type its (level, type) names.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::SOL_UDP, libc::UDP_GRO) => {
                    let size = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    segment = usize::try_from(size).ok().filter(|&s| s > 0);
                }
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                    dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr))));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    // SAFETY: the kernel filled `storage` and set `msg_namelen` to the address's length.
    let addr = unsafe { socket2::SockAddr::new(storage, msg.msg_namelen) };
    let src = addr.as_socket().ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
    Ok(UdpReceived { len: n as usize, src, segment, dst })
}

/// The soft `RLIMIT_NOFILE` (`u64::MAX` when unlimited).
pub fn nofile_limit() -> u64 {
    rustix::process::getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (no privilege needed) and returns the
/// soft limit now in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let lim = rustix::process::getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let raised = Rlimit { current: lim.maximum, maximum: lim.maximum };
        rustix::process::setrlimit(Resource::Nofile, raised)?;
    }
    Ok(lim.maximum.unwrap_or(u64::MAX))
}

/// The kernel's tick-time clocks (`CLOCK_*_COARSE`): a cached value read through the vDSO, no
/// TSC read, at a few milliseconds' resolution — plenty for one-second windows and fields.
///
/// Through glibc, not `rustix::time::clock_gettime`: rustix finds the vDSO by parsing the ELF
/// image the auxiliary vector points to, and under valgrind (which `bench/instructions.sh`
/// runs the server in) that parse reads unmapped memory and the process dies of SIGSEGV on its
/// first clock read (rustix 1.1.6, valgrind 3.19).
#[inline]
fn coarse(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids passed are constants Linux
    // knows, so the call cannot fail.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), ts.tv_nsec as u32)
}

/// `CLOCK_MONOTONIC_COARSE` as a duration since an unspecified start (see [`coarse`]).
#[inline]
pub fn coarse_monotonic() -> Duration {
    coarse(libc::CLOCK_MONOTONIC_COARSE)
}

/// `CLOCK_REALTIME_COARSE`: whole seconds since the Unix epoch (see [`coarse`]).
#[inline]
pub fn coarse_realtime_secs() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as in `coarse`.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    ts.tv_sec.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clocks_move_forward() {
        let a = coarse_monotonic();
        assert!(coarse_monotonic() >= a);
        assert!(coarse_realtime_secs() > 1_600_000_000);
    }

    #[test]
    fn nofile_limit_is_positive_and_raising_does_not_lower_it() {
        let before = nofile_limit();
        assert!(before > 0);
        assert!(raise_nofile_limit().unwrap_or(before) >= before);
    }

    #[test]
    fn local_addr_of_a_bad_number_is_none() {
        assert_eq!(local_addr_of_raw(-1), None);
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        assert_eq!(local_addr_of_raw(l.as_raw_fd()), Some(l.local_addr().expect("addr")));
    }
}
