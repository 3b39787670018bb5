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
    let (info, len) = tcp_info(fd)?;
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + std::mem::size_of::<u64>();
    (len >= end).then_some(info.tcpi_bytes_acked)
}

/// `getsockopt(TCP_INFO)`: the structure and how many bytes of it the kernel filled (older
/// kernels fill less; callers check that the field they read is inside). `None` on failure.
fn tcp_info(fd: impl AsFd) -> Option<(libc::tcp_info, usize)> {
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
    (rc == 0).then_some((info, len as usize))
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

/// Starting a program without stopping the caller: `clone(CLONE_VM | CLONE_PIDFD)` *without*
/// `CLONE_VFORK`, for the CGI gateway (`pollux-cgi`'s `process` module says when and why).
///
/// ```text
///   caller (a worker)                         child (shares the caller's memory until execve)
///   block all signals, clone ───────────────► on its own 64 KiB stack, raw syscalls only:
///   restore the mask, setpgid(pid, pid)         handlers → SIG_DFL, setpgid(0, 0), dup3 0/1/2,
///   return Child { pid, pidfd } at once         chdir, the caller's mask back, execve
///   ...                                         (fails: errno into shared memory, a line on
///   the kernel zeroes `tid` ◄────────────────── fd 2, exit 127) — the kernel zeroes `tid`
///   when the child leaves the memory            as the child leaves the memory
///   waitpid ──► the memory is freed
/// ```
///
/// Why not `posix_spawn` (what `std::process::Command` uses): glibc's `posix_spawn` is
/// `clone(CLONE_VM | CLONE_VFORK)`, and `CLONE_VFORK` suspends the calling thread until the
/// child has reached `execve`; the child starts on the caller's CPU and keeps it through the
/// `execve` and often its whole run, so the woken caller still waits behind it — measured in
/// `docs/benchmarks.md` (2026-12-07): the only worker spent 70-80% of its wall time inside
/// `clone3` when not pinned to a core. `fork` would
/// return at once but copies the page tables of a multi-threaded server and makes every page
/// it then writes fault once. Sharing the memory without waiting costs neither; the price is
/// that the child must not touch anything the caller uses: it runs on a stack of its own, makes
/// system calls with no libc wrapper (a wrapper's `errno` is a thread-local of the *caller's*
/// thread: the child runs with that thread's TLS pointer), allocates nothing and cannot panic
/// (no indexing, no arithmetic that can overflow).
///
/// On targets without the raw-syscall helper below (`x86_64` and `aarch64` have one) the flags
/// add `CLONE_VFORK` back: the caller then waits as with `posix_spawn`, and libc's `syscall`
/// may write the suspended caller's `errno`, which nothing reads.
pub mod spawn {
    use std::ffi::{c_char, c_int, c_void, CString};
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::ptr::{self, NonNull};
    use std::sync::atomic::{AtomicI32, Ordering};

    use rustix::process::{Pid, WaitOptions};

    /// The child's stack. It runs a few dozen system calls in small frames.
    const STACK: usize = 64 * 1024;

    /// What to run: `program` (an absolute path: no `PATH` search) with exactly `env`
    /// (`NAME=value` strings), in `cwd`, with `stdio` as its descriptors 0, 1 and 2.
    #[derive(Debug)]
    pub struct Spec<'a> {
        pub program: CString,
        pub env: Vec<CString>,
        pub cwd: Option<CString>,
        pub stdio: [BorrowedFd<'a>; 3],
        /// Its own process group (pgid = its pid), as `setpgid(0, 0)` in the child and
        /// `setpgid(pid, pid)` in the caller: whichever runs first, a kill of the group that
        /// follows `spawn` reaches the child.
        pub new_group: bool,
    }

    #[derive(Clone, Copy)]
    #[repr(C, align(16))]
    struct StackUnit([u8; 16]);

    /// Everything the child reads, allocated before the clone and not touched by the caller
    /// until the child has left the memory (`tid` is 0), except through the two atomics.
    struct Shared {
        stack: Box<[MaybeUninit<StackUnit>]>,
        program: CString,
        _env: Vec<CString>,
        argv: [*const c_char; 2],
        envp: Vec<*const c_char>,
        cwd: Option<CString>,
        fds: [RawFd; 3],
        new_group: bool,
        /// The caller's signal mask, which the program gets.
        mask: u64,
        /// "cannot run PROGRAM: os error ", written to fd 2 when execve fails.
        msg: Vec<u8>,
        /// The errno of the failed step, 0 while none failed.
        errno: AtomicI32,
        /// `CLONE_CHILD_CLEARTID`: 1 until the kernel writes 0 here as the child leaves the
        /// memory (at `execve`, or at exit if it never got there).
        tid: AtomicI32,
    }

    /// A started child until it is reaped. Dropping an unreaped `Child` neither kills nor
    /// reaps it (the owner does both); its memory is then kept for good if the child may
    /// still be using it.
    #[derive(Debug)]
    pub struct Child {
        pid: Pid,
        pidfd: Option<OwnedFd>,
        shared: NonNull<Shared>,
        status: Option<ExitStatus>,
    }

    // SAFETY: `shared` is owned by this `Child` alone (a `Box` turned into a pointer so that
    // moving the `Child` asserts nothing about memory the child process reads); the raw
    // pointers inside it point into strings the same allocation owns. Nothing in it is
    // thread-bound.
    unsafe impl Send for Child {}

    impl Child {
        /// The process id.
        pub fn id(&self) -> u32 {
            self.pid.as_raw_nonzero().get() as u32
        }

        /// A descriptor that turns readable when the child exits (`None` before Linux 5.2).
        pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
            use std::os::fd::AsFd;
            self.pidfd.as_ref().map(|fd| fd.as_fd())
        }

        fn shared(&self) -> &Shared {
            // SAFETY: the allocation lives as long as `self` (freed only in `drop`), and only
            // shared references to it are ever made.
            unsafe { self.shared.as_ref() }
        }

        /// Whether the child has left the caller's memory: it has run `execve`, or exited.
        pub fn left(&self) -> bool {
            self.shared().tid.load(Ordering::Acquire) == 0
        }

        /// Why the child could not run its program (`execve` or a step before it failed;
        /// it then exited with status 127). `None` while it has not got that far, and after
        /// a successful `execve`.
        pub fn exec_error(&self) -> Option<io::Error> {
            if !self.left() {
                return None;
            }
            match self.shared().errno.load(Ordering::Acquire) {
                0 => None,
                e => Some(io::Error::from_raw_os_error(e)),
            }
        }

        /// `waitpid(pid, WNOHANG)`: the exit status once the child has exited (and on every
        /// later call).
        pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
            self.wait_with(WaitOptions::NOHANG)
        }

        /// `waitpid(pid)`: blocks until the child exits.
        pub fn wait(&mut self) -> io::Result<ExitStatus> {
            loop {
                if let Some(status) = self.wait_with(WaitOptions::empty())? {
                    return Ok(status);
                }
            }
        }

        fn wait_with(&mut self, opts: WaitOptions) -> io::Result<Option<ExitStatus>> {
            if let Some(status) = self.status {
                return Ok(Some(status));
            }
            loop {
                match rustix::process::waitpid(Some(self.pid), opts) {
                    Ok(Some((_, ws))) => {
                        let status = ExitStatus::from_raw(ws.as_raw());
                        self.status = Some(status);
                        return Ok(Some(status));
                    }
                    Ok(None) => return Ok(None),
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    impl Drop for Child {
        fn drop(&mut self) {
            if self.left() {
                // SAFETY: the pointer came from `Box::into_raw` in `spawn` and is freed only
                // here; the child no longer reads the memory (the kernel zeroed `tid` as it
                // left it), and no reference to it outlives this call.
                drop(unsafe { Box::from_raw(self.shared.as_ptr()) });
            }
            // Otherwise the child may still be running on that stack: keep it (never happens
            // to a reaped child; its owner reaps before dropping).
        }
    }

    /// Starts `spec.program` and returns as soon as the kernel has created the process; see
    /// the module docs. Errors are those of `clone` (`EAGAIN`, `ENOMEM`); the program's own
    /// failures (`execve`'s `ENOENT`, `EACCES`, `ENOEXEC`, ...) come later, through
    /// [`Child::exec_error`], a line on the child's fd 2 and exit status 127.
    pub fn spawn(spec: Spec<'_>) -> io::Result<Child> {
        let Spec { program, env, cwd, stdio, new_group } = spec;
        let mut envp: Vec<*const c_char> = env.iter().map(|v| v.as_ptr()).collect();
        envp.push(ptr::null());
        let mut msg = b"cannot run ".to_vec();
        msg.extend_from_slice(program.to_bytes());
        msg.extend_from_slice(b": os error ");
        let shared = Box::new(Shared {
            stack: Box::new_uninit_slice(STACK / std::mem::size_of::<StackUnit>()),
            argv: [program.as_ptr(), ptr::null()],
            program,
            _env: env,
            envp,
            cwd,
            fds: stdio.map(|fd| fd.as_raw_fd()),
            new_group,
            mask: 0,
            msg,
            errno: AtomicI32::new(0),
            tid: AtomicI32::new(1),
        });
        let shared = NonNull::from(Box::leak(shared));
        let mut child = Child { pid: Pid::INIT, pidfd: None, shared, status: None };
        let all: u64 = !0;
        let mut old: u64 = 0;
        // SAFETY: rt_sigprocmask reads and writes one kernel sigset (8 bytes) each through
        // pointers to live u64s. All signals stay blocked in this thread until the clone is
        // done, so the child starts with them blocked and no handler of ours runs in it
        // before it has reset them.
        unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &all, &mut old, 8) };
        // SAFETY: no other reference to the allocation exists yet (the child does not exist).
        unsafe { (*shared.as_ptr()).mask = old };
        let mut result = clone(shared, true);
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
            // Before Linux 5.2: no CLONE_PIDFD. The caller then notices the exit otherwise.
            result = clone(shared, false);
        }
        // SAFETY: as above, restoring the mask saved there.
        unsafe {
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &old, ptr::null_mut::<u64>(), 8)
        };
        let (pid, pidfd) = match result {
            Ok(r) => r,
            Err(e) => {
                // No child: the memory is ours again (tid is still 1, so say so).
                // SAFETY: the allocation is live and nobody else reads it.
                unsafe { (*shared.as_ptr()).tid.store(0, Ordering::Relaxed) };
                return Err(e);
            }
        };
        child.pid = pid;
        child.pidfd = pidfd;
        if new_group {
            // EACCES once the child has run execve: it made itself the group leader first.
            let _ = rustix::process::setpgid(Some(pid), Some(pid));
        }
        Ok(child)
    }

    /// Without the raw-syscall helper the child must not run beside the caller.
    const WAIT_FOR_EXEC: c_int =
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) { 0 } else { libc::CLONE_VFORK };

    fn clone(shared: NonNull<Shared>, pidfd: bool) -> io::Result<(Pid, Option<OwnedFd>)> {
        let mut fd: c_int = -1;
        let mut flags = libc::CLONE_VM | libc::CLONE_CHILD_CLEARTID | WAIT_FOR_EXEC | libc::SIGCHLD;
        if pidfd {
            flags |= libc::CLONE_PIDFD;
        }
        let arg = shared.as_ptr();
        // SAFETY: the stack is a live allocation of STACK bytes, 16-byte aligned, and its top
        // is one past its end; nothing else uses it. `arg`, the `tid` word and everything the
        // child reads stay allocated until the child has left the memory (see `Child::drop`),
        // and the caller writes none of it meanwhile. The child runs `child_main`, which never
        // returns into libc's `clone` frame (it execs or exits). `fd` receives the pidfd.
        let pid = unsafe {
            let s = &mut *arg;
            let top = s.stack.as_mut_ptr().add(s.stack.len()).cast::<c_void>();
            let tid = s.tid.as_ptr();
            libc::clone(
                child_main,
                top,
                flags,
                arg.cast::<c_void>(),
                &mut fd as *mut c_int,
                ptr::null_mut::<c_void>(),
                tid,
            )
        };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("clone returned pid 0"))?;
        // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor (O_CLOEXEC) that nothing
        // else owns.
        let fd = pidfd.then(|| unsafe { OwnedFd::from_raw_fd(fd) });
        Ok((pid, fd))
    }

    /// The child, between clone and execve. See the module docs for what it must not do.
    extern "C" fn child_main(arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the `Shared` allocation `spawn` made; it stays allocated and
        // unwritten (but for the atomics) until this process has left the memory.
        let s = unsafe { &*arg.cast::<Shared>() };
        let errno = prepare_and_exec(s);
        s.errno.store(errno as i32, Ordering::Release);
        // SAFETY (all raw calls below): write(2) and exit_group(2) on our own descriptor and
        // with pointers into `s`.
        unsafe {
            raw(libc::SYS_write, 2, s.msg.as_ptr() as usize, s.msg.len(), 0);
            let mut digits = [0u8; 12];
            let mut at = digits.len();
            let mut n = errno;
            while at > 0 {
                at -= 1;
                if let Some(d) = digits.get_mut(at) {
                    *d = b'0' + (n % 10) as u8;
                }
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            let tail = digits.get(at..).unwrap_or(&[]);
            raw(libc::SYS_write, 2, tail.as_ptr() as usize, tail.len(), 0);
            raw(libc::SYS_write, 2, b"\n".as_ptr() as usize, 1, 0);
            raw(libc::SYS_exit_group, 127, 0, 0, 0);
        }
        127
    }

    /// Returns only on failure: the errno.
    fn prepare_and_exec(s: &Shared) -> usize {
        // SAFETY (every `raw` below): the pointers passed point into `s` or into locals of
        // this frame and are live for the call; the descriptors are the caller's, copied
        // into this process's own table by the clone.
        unsafe {
            // No handler of the caller's may run here or in the program: dispositions are
            // per-process (no CLONE_SIGHAND), so resetting them touches only the child. SIGPIPE
            // goes back to the default that Rust's runtime replaced with SIG_IGN (as
            // std::process::Command does); other ignored signals stay ignored.
            for sig in 1..=64usize {
                if sig == libc::SIGKILL as usize || sig == libc::SIGSTOP as usize {
                    continue;
                }
                let mut old = KSigaction::default();
                if raw(libc::SYS_rt_sigaction, sig, 0, &mut old as *mut KSigaction as usize, 8) != 0 {
                    continue;
                }
                let custom = old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN;
                if custom || sig == libc::SIGPIPE as usize {
                    let dfl = KSigaction::default();
                    raw(libc::SYS_rt_sigaction, sig, &dfl as *const KSigaction as usize, 0, 8);
                }
            }
            if s.new_group {
                let r = raw(libc::SYS_setpgid, 0, 0, 0, 0);
                if r < 0 {
                    return r.unsigned_abs();
                }
            }
            for (target, &fd) in s.fds.iter().enumerate() {
                let r = if fd as usize == target {
                    // Already in place: only the close-on-exec flag must go.
                    raw(libc::SYS_fcntl, target, libc::F_SETFD as usize, 0, 0)
                } else {
                    raw(libc::SYS_dup3, fd as usize, target, 0, 0)
                };
                if r < 0 {
                    return r.unsigned_abs();
                }
            }
            if let Some(cwd) = &s.cwd {
                let r = raw(libc::SYS_chdir, cwd.as_ptr() as usize, 0, 0, 0);
                if r < 0 {
                    return r.unsigned_abs();
                }
            }
            raw(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as usize, &s.mask as *const u64 as usize, 0, 8);
            let r = raw(
                libc::SYS_execve,
                s.program.as_ptr() as usize,
                s.argv.as_ptr() as usize,
                s.envp.as_ptr() as usize,
                0,
            );
            r.unsigned_abs()
        }
    }

    /// The kernel's `struct sigaction` (x86_64 and arm64 alike: handler, flags, restorer,
    /// a 64-signal mask). All zeroes is SIG_DFL with no flags.
    #[derive(Default)]
    #[repr(C)]
    struct KSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }

    /// A system call with no libc wrapper: returns the result or `-errno`, writes no `errno`.
    ///
    /// # Safety
    /// The arguments must be valid for system call `n` (pointers live and large enough).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn raw(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
        let ret: isize;
        // SAFETY: the x86_64 Linux system call convention: number in rax, arguments in rdi,
        // rsi, rdx, r10; the kernel clobbers rcx and r11. Validity of the call: the caller's.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// See the x86_64 version.
    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    unsafe fn raw(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
        let ret: isize;
        // SAFETY: the arm64 Linux system call convention: number in x8, arguments and result
        // in x0..x3. Validity of the call: the caller's.
        unsafe {
            std::arch::asm!(
                "svc 0",
                in("x8") n,
                inlateout("x0") a as isize => ret,
                in("x1") b, in("x2") c, in("x3") d,
                options(nostack),
            );
        }
        ret
    }

    /// Elsewhere libc's `syscall` (the caller is suspended by CLONE_VFORK meanwhile).
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    unsafe fn raw(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
        // SAFETY: validity of the call: the caller's.
        let r = unsafe { libc::syscall(n, a, b, c, d) } as isize;
        if r < 0 {
            -(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as isize)
        } else {
            r
        }
    }
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
    fn spawn_runs_the_program_and_reports_what_execve_refused() {
        use std::io::Read;
        use std::os::fd::AsFd;

        let null = std::fs::File::open("/dev/null").expect("/dev/null");
        let run = |program: &std::ffi::CStr| {
            let (mut r, w) = std::io::pipe().expect("pipe");
            let child = spawn::spawn(spawn::Spec {
                program: program.to_owned(),
                env: vec![c"X=1".to_owned()],
                cwd: Some(c"/".to_owned()),
                stdio: [null.as_fd(), w.as_fd(), w.as_fd()],
                new_group: true,
            })
            .expect("spawn");
            drop(w);
            let mut out = String::new();
            r.read_to_string(&mut out).expect("read");
            (child, out)
        };

        let (mut child, out) = run(c"/usr/bin/env");
        assert_eq!(out, "X=1\n");
        assert!(child.wait().expect("wait").success());
        assert!(child.left() && child.exec_error().is_none());
        assert!(child.pidfd().is_some(), "CLONE_PIDFD since Linux 5.2");

        let (mut child, out) = run(c"/nonexistent/program");
        assert_eq!(out, format!("cannot run /nonexistent/program: os error {}\n", libc::ENOENT));
        assert_eq!(child.wait().expect("wait").code(), Some(127));
        assert_eq!(child.exec_error().and_then(|e| e.raw_os_error()), Some(libc::ENOENT));
    }

    #[test]
    fn local_addr_of_a_bad_number_is_none() {
        assert_eq!(local_addr_of_raw(-1), None);
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        assert_eq!(local_addr_of_raw(l.as_raw_fd()), Some(l.local_addr().expect("addr")));
    }
}

/// A listening socket's accept queue as the kernel reports it in `TCP_INFO`: for a socket in
/// `LISTEN` state Linux puts the current accept-queue length in `tcpi_unacked` and the backlog
/// (the `listen(2)` argument, capped by `net.core.somaxconn`) in `tcpi_sacked` — the same two
/// numbers `ss -lnt` shows as Recv-Q and Send-Q. `None` if the call fails.
pub fn listen_queue(fd: impl AsFd) -> Option<(u32, u32)> {
    let (info, len) = tcp_info(fd)?;
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_sacked) + std::mem::size_of::<u32>();
    (len >= end).then_some((info.tcpi_unacked, info.tcpi_sacked))
}

/// Counters shared between processes: a `memfd` mapped `MAP_SHARED`, seen as `[AtomicU64]`.
/// A supervisor creates it and its children inherit the descriptor and map the same pages,
/// so what a child's workers count is read by the supervisor without any message.
#[derive(Debug)]
pub struct SharedMemory {
    ptr: std::ptr::NonNull<std::sync::atomic::AtomicU64>,
    words: usize,
    fd: std::os::fd::OwnedFd,
}

// SAFETY: the mapping is only ever accessed as `AtomicU64`s, which are `Sync`; the pointer is
// owned by this value and unmapped only in `Drop`.
unsafe impl Send for SharedMemory {}
// SAFETY: as above: shared access goes through atomics only.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// A new zeroed area of `words` counters (`memfd_create`, close-on-exec: whoever passes it
    /// to a child clears the flag on purpose).
    pub fn create(name: &str, words: usize) -> io::Result<SharedMemory> {
        let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, (words * 8) as u64)?;
        SharedMemory::map(fd, words)
    }

    /// Maps an inherited area (descriptor number `fd`, from the parent's environment), all of
    /// it (its size says how many counters it holds, at least `min_words`). The descriptor
    /// gets close-on-exec again so a CGI script of this process cannot reach it.
    pub fn adopt(fd: RawFd, min_words: usize) -> io::Result<SharedMemory> {
        use std::os::fd::FromRawFd;
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: only borrowed for the checks below, while this process does nothing else
        // with `fd` (it was inherited, and nothing in the process opened or closed it since).
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let st = rustix::fs::fstat(borrowed)?;
        let words = usize::try_from(st.st_size).unwrap_or(0) / 8;
        if words < min_words.max(1) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited descriptor {fd} is not a shared memory area"),
            ));
        }
        rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::CLOEXEC)?;
        // SAFETY: `fd` is open (fstat succeeded) and this process owns it from now on: the
        // parent handed it over and nothing else here refers to it.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        SharedMemory::map(fd, words)
    }

    fn map(fd: std::os::fd::OwnedFd, words: usize) -> io::Result<SharedMemory> {
        let len = (words * 8).max(8);
        // SAFETY: a fresh shared mapping of a file at least `len` bytes long (checked or made
        // so by the callers), at an address the kernel chooses: no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(SharedMemory { ptr, words, fd })
    }

    /// The descriptor, to hand to a child process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl std::ops::Deref for SharedMemory {
    type Target = [std::sync::atomic::AtomicU64];

    fn deref(&self) -> &[std::sync::atomic::AtomicU64] {
        // SAFETY: the mapping is `words * 8` bytes, page-aligned (so aligned for u64), lives
        // as long as `self`, and is only accessed through atomics (another process writing it
        // concurrently is what atomics are for).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.words) }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; no reference into it outlives
        // `self` (`deref` borrows `self`).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), (self.words * 8).max(8)) };
    }
}
