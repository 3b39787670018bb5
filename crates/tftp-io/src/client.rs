//! The client: one transfer driven by a blocking loop over a std `UdpSocket`.
//!
//! ```text
//!   drive: loop { file ⇄ machine (Download: drain the Receiver; Upload: feed the Sender)
//!                 events; poll_transmit ──► send_to
//!                 deadline passed? ──► handle_timeout
//!                 recv (read timeout = time left until the machine's deadline) ──► handle_datagram }
//! ```
//!
//! [`get`] and [`put`] are the same loop (`drive`) over a [`pollux_tftp::Machine`]; a
//! `Local` adds what differs by direction: the file side, and what the progress bar is told.
//!
//! A get ends as soon as the final block is in and acknowledged; unlike the server's
//! receiver it does not dally (RFC 1350 §6 suggests it), because every common client
//! (tftp-hpa, atftp, curl) exits at once too and a script should not wait seconds for
//! nothing. If that final ACK is lost the server retransmits into the void and gives up; the
//! file here is complete either way.
//!
//! [`get_file`] writes to a hidden temporary name beside the destination and renames it at
//! the end, so a failed or interrupted download never replaces an existing file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::pump;
use crate::udp::{self, Batch, Gso};
use pollux_tftp::{
    Config, ErrorCode, Event, Machine, Mode, Receiver, RequestError, RequestOptions, Sender, TransferError,
    TransferOptions,
};

/// How a client transfer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// `netascii` or `octet`.
    pub mode: Mode,
    /// Requested block size (RFC 2348); `None` sends no option (512 bytes).
    pub blksize: Option<u16>,
    /// Requested window size (RFC 7440); `None` sends no option (lock-step).
    pub windowsize: Option<u16>,
    /// Ask for (get) or announce (put) the transfer size (RFC 2349), for a progress bar.
    pub tsize: bool,
    /// Local retransmission timeout.
    pub timeout: Duration,
    /// Retransmissions without progress before giving up.
    pub retries: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            mode: Mode::Octet,
            blksize: None,
            windowsize: None,
            tsize: false,
            timeout: Duration::from_secs(1),
            retries: 5,
        }
    }
}

/// Why a client transfer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The local file could not be read or written.
    #[error("{path}: {source}")]
    Local {
        /// The local file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The socket failed.
    #[error("network: {0}")]
    Network(#[source] io::Error),
    /// The request could not be built (a filename TFTP cannot carry, an option out of range).
    #[error("{0}")]
    Request(#[from] RequestError),
    /// The transfer failed: the server's ERROR, a timeout, or a protocol violation.
    #[error("{0}")]
    Transfer(#[from] TransferError),
    /// [`Progress::cancelled`] said stop.
    #[error("interrupted")]
    Cancelled,
}

/// Told about progress; the binary draws a bar with it.
pub trait Progress {
    /// The transfer's size, once known (from `tsize`).
    fn total(&mut self, bytes: u64);
    /// `bytes` more file bytes were sent or received.
    fn advance(&mut self, bytes: u64);
    /// Whether the user asked to stop (Ctrl-C): asked once per datagram or timeout, so a
    /// transfer stops within one retransmission timeout. The server is sent an ERROR.
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn total(&mut self, _bytes: u64) {}
    fn advance(&mut self, _bytes: u64) {}
}

/// What a finished transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// File bytes moved (before netascii encoding / after decoding).
    pub bytes: u64,
    /// Wall time of the whole transfer.
    pub elapsed: Duration,
}

fn config(opts: &ClientOptions) -> Config {
    Config { timeout: opts.timeout, max_retries: opts.retries, ..Config::default() }
}

fn request_options(opts: &ClientOptions, tsize: Option<u64>) -> RequestOptions {
    RequestOptions { blksize: opts.blksize, windowsize: opts.windowsize, timeout: None, tsize }
}

fn socket_for(server: SocketAddr) -> Result<UdpSocket, ClientError> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    UdpSocket::bind(local).map_err(ClientError::Network)
}

/// The socket's read timeout, set only when it must change by more than a quarter: the
/// deadline moves on every block, and a `setsockopt` per datagram would cost more than it
/// buys. The timeout kept is never longer than the time left, so a wait may end early (the
/// loop then simply waits again for the rest) but never after the deadline.
struct ReadTimeout {
    current: Option<Duration>,
}

impl ReadTimeout {
    fn wait(&mut self, socket: &UdpSocket, left: Duration) -> Result<(), ClientError> {
        let left = left.max(Duration::from_millis(1));
        let close = self.current.is_some_and(|c| c <= left && c >= left - left / 4);
        if !close {
            // An eighth short of the time left: the deadline creeps closer by a little on
            // every datagram, and this keeps the same setting good for a while.
            let timeout = (left - left / 8).max(Duration::from_millis(1));
            socket.set_read_timeout(Some(timeout)).map_err(ClientError::Network)?;
            self.current = Some(timeout);
        }
        Ok(())
    }
}

/// Receives datagrams into `buf` unless the deadline passes first; `None` on timeout.
/// With `UDP_GRO` on, several datagrams of one size may come at once (the third value).
fn receive(
    socket: &UdpSocket,
    timeout: &mut ReadTimeout,
    deadline: Instant,
    buf: &mut [u8],
) -> Result<Option<(usize, SocketAddr, Option<usize>)>, ClientError> {
    let now = Instant::now();
    if now >= deadline {
        return Ok(None);
    }
    timeout.wait(socket, deadline - now)?;
    match udp::recv(socket, buf) {
        Ok(r) => Ok(Some((r.len, r.src, r.segment))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        // A stale ICMP error (the server's old port): not this transfer's business.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
        Err(e) => Err(ClientError::Network(e)),
    }
}

/// What a transfer's direction adds to [`drive`]: the local file's side of it.
trait Local {
    type Machine: Machine;
    /// Moves file bytes between the machine and the local file; on failure, the ERROR the
    /// server is sent and the local error.
    fn file_io(
        &mut self,
        machine: &mut Self::Machine,
        progress: &mut dyn Progress,
    ) -> Result<(), (ErrorCode, &'static str, io::Error)>;
    /// Negotiation is over.
    fn negotiated(&mut self, opts: &TransferOptions, progress: &mut dyn Progress);
    /// After each turn's events.
    fn advance(&mut self, machine: &Self::Machine, progress: &mut dyn Progress);
    /// Sends everything the machine has to send.
    fn send(socket: &UdpSocket, machine: &mut Self::Machine, out: &mut Out);
    /// The transfer completed: anything left to do locally.
    fn finish(&mut self) -> io::Result<()>;
    /// File bytes moved.
    fn bytes(&self) -> u64;
}

/// A get's local side: the receiver's data into `out`.
struct Download<'a> {
    out: &'a mut dyn Write,
    bytes: u64,
}

impl Local for Download<'_> {
    type Machine = Receiver;

    fn file_io(
        &mut self,
        receiver: &mut Receiver,
        progress: &mut dyn Progress,
    ) -> Result<(), (ErrorCode, &'static str, io::Error)> {
        // Every block as it comes: `out` does its own buffering (`get_file` gives a BufWriter).
        let n = pump::drain(receiver, &mut self.out, 0)
            .map_err(|e| (ErrorCode::DiskFull, "client cannot write the file", e))?;
        if n > 0 {
            self.bytes += n;
            progress.advance(n);
        }
        Ok(())
    }

    fn negotiated(&mut self, opts: &TransferOptions, progress: &mut dyn Progress) {
        if let Some(size) = opts.tsize {
            progress.total(size);
        }
    }

    fn advance(&mut self, _: &Receiver, _: &mut dyn Progress) {}

    /// ACKs, one at a time; the receiver needs no clock to send them.
    fn send(socket: &UdpSocket, receiver: &mut Receiver, out: &mut Out) {
        while let Some(to) = receiver.poll_transmit(&mut out.buf) {
            // A failed send is a lost datagram: the timer retransmits.
            let _ = socket.send_to(&out.buf, to);
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A put's local side: `input` into the sender.
struct Upload<'a> {
    input: &'a mut dyn Read,
    scratch: Vec<u8>,
    bytes: u64,
    /// What the progress bar was told: what the server has acknowledged.
    acked: u64,
}

impl Local for Upload<'_> {
    type Machine = Sender;

    fn file_io(
        &mut self,
        sender: &mut Sender,
        _: &mut dyn Progress,
    ) -> Result<(), (ErrorCode, &'static str, io::Error)> {
        // No read-ahead: `input` does its own buffering (`put_file` gives a BufReader).
        let fed = pump::feed(sender, &mut self.input, &mut self.scratch, 0);
        self.bytes += fed.bytes;
        match fed.error {
            Some(e) => Err((ErrorCode::NotDefined, "client cannot read the file", e)),
            None => Ok(()),
        }
    }

    fn negotiated(&mut self, _: &TransferOptions, _: &mut dyn Progress) {}

    fn advance(&mut self, sender: &Sender, progress: &mut dyn Progress) {
        // What the peer has acknowledged is what has been uploaded.
        let acked = (sender.blocks_acked() * u64::from(sender.options().blksize)).min(self.bytes);
        if acked > self.acked {
            progress.advance(acked - self.acked);
            self.acked = acked;
        }
    }

    /// DATA of a window goes out in one `sendto` with GSO where the kernel allows it (see
    /// [`crate::udp`]), anything else as it is; the sender times what it sends by `now`.
    fn send(socket: &UdpSocket, sender: &mut Sender, out: &mut Out) {
        let now = Instant::now();
        let mut batch = Batch::new(socket, &mut out.gso, &mut out.batch);
        // A failed send is a lost datagram: the timer retransmits.
        while let Some(to) = sender.poll_transmit(now, &mut out.buf) {
            batch.push(&out.buf, to);
        }
        batch.flush();
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// The send side's buffers: the datagram, and a window gathered for GSO.
struct Out {
    buf: Vec<u8>,
    gso: Gso,
    batch: Vec<u8>,
}

/// Runs one transfer to its end: the loop both directions share.
fn drive<L: Local>(
    socket: &UdpSocket,
    machine: &mut L::Machine,
    local: &mut L,
    progress: &mut dyn Progress,
    started: Instant,
) -> Result<Summary, ClientError> {
    let mut out = Out { buf: Vec::with_capacity(65536), gso: Gso::default(), batch: Vec::new() };
    let mut rbuf = vec![0u8; 65536];
    let mut timeout = ReadTimeout { current: None };
    let mut done: Option<Result<(), TransferError>> = None;
    let local_error = |e| ClientError::Local { path: PathBuf::from("-"), source: e };
    loop {
        if progress.cancelled() {
            machine.abort(ErrorCode::NotDefined, "cancelled by the user");
            L::send(socket, machine, &mut out);
            return Err(ClientError::Cancelled);
        }
        if let Err((code, message, e)) = local.file_io(machine, progress) {
            machine.abort(code, message);
            L::send(socket, machine, &mut out);
            return Err(local_error(e));
        }
        while let Some(event) = machine.poll_event() {
            match event {
                Event::Negotiated(o) => local.negotiated(&o, progress),
                Event::Complete => done = Some(Ok(())),
                Event::Failed(e) => done = Some(Err(e)),
                _ => {}
            }
        }
        local.advance(machine, progress);
        L::send(socket, machine, &mut out);
        match done.take() {
            Some(Ok(())) => {
                local.finish().map_err(local_error)?;
                return Ok(Summary { bytes: local.bytes(), elapsed: started.elapsed() });
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
        let Some(deadline) = machine.poll_timeout() else {
            // Neither done nor waiting: cannot happen with a live machine; do not spin.
            return Err(TransferError::TimedOut { retries: 0 }.into());
        };
        match receive(socket, &mut timeout, deadline, &mut rbuf)? {
            Some((n, src, segment)) => {
                let now = Instant::now();
                match segment {
                    // With UDP_GRO (a get), one read may hold a window of datagrams of one size.
                    Some(size) => {
                        for datagram in rbuf[..n].chunks(size.max(1)) {
                            machine.handle_datagram(now, src, datagram);
                        }
                    }
                    None => machine.handle_datagram(now, src, &rbuf[..n]),
                }
            }
            None => {
                let now = Instant::now();
                if now >= deadline {
                    machine.handle_timeout(now);
                }
            }
        }
    }
}

/// Downloads `remote` from `server` into `out`.
pub fn get(
    server: SocketAddr,
    remote: &str,
    out: &mut dyn Write,
    opts: &ClientOptions,
    progress: &mut dyn Progress,
) -> Result<Summary, ClientError> {
    let started = Instant::now();
    let socket = socket_for(server)?;
    let config = config(opts);
    let request = request_options(opts, opts.tsize.then_some(0));
    let mut machine = Receiver::get(remote, opts.mode, request, server, &config, started)?;
    // A window then arrives in one read (see `udp`); without it, one datagram per read.
    udp::enable_gro(&socket);
    drive(&socket, &mut machine, &mut Download { out, bytes: 0 }, progress, started)
}

/// Uploads everything `input` yields to `server` as `remote`. `size` is announced as `tsize`
/// if [`ClientOptions::tsize`] is set (octet mode only: netascii changes the size).
pub fn put(
    server: SocketAddr,
    remote: &str,
    input: &mut dyn Read,
    size: Option<u64>,
    opts: &ClientOptions,
    progress: &mut dyn Progress,
) -> Result<Summary, ClientError> {
    let started = Instant::now();
    let socket = socket_for(server)?;
    let config = config(opts);
    let tsize = if opts.tsize && opts.mode == Mode::Octet { size } else { None };
    if let Some(size) = size {
        progress.total(size);
    }
    let mut machine = Sender::put(remote, opts.mode, request_options(opts, tsize), server, &config, started)?;
    let mut upload = Upload { input, scratch: vec![0u8; pump::READ_CHUNK], bytes: 0, acked: 0 };
    drive(&socket, &mut machine, &mut upload, progress, started)
}

/// Downloads into `local` through a temporary file beside it, renamed over `local` only when
/// the transfer completed; on failure the temporary file is removed and `local` untouched.
pub fn get_file(
    server: SocketAddr,
    remote: &str,
    local: &Path,
    opts: &ClientOptions,
    progress: &mut dyn Progress,
) -> Result<Summary, ClientError> {
    let local_err = |source| ClientError::Local { path: local.to_path_buf(), source };
    let dir = match local.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = local.file_name().ok_or_else(|| local_err(io::Error::from(io::ErrorKind::InvalidInput)))?;
    let temp = dir.join(format!(".{}.part-{}", name.to_string_lossy(), std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).open(&temp).map_err(local_err)?;
    let mut writer = BufWriter::with_capacity(256 * 1024, file);
    let result = get(server, remote, &mut writer, opts, progress);
    let finished = result.and_then(|summary| {
        let file = writer.into_inner().map_err(|e| local_err(e.into_error()))?;
        drop(file);
        fs::rename(&temp, local).map_err(local_err)?;
        Ok(summary)
    });
    if finished.is_err() {
        let _ = fs::remove_file(&temp);
    }
    finished.map_err(|e| match e {
        ClientError::Local { path, source } if path.as_os_str() == "-" => {
            ClientError::Local { path: local.to_path_buf(), source }
        }
        e => e,
    })
}

/// Uploads the file at `local` as `remote`.
pub fn put_file(
    server: SocketAddr,
    remote: &str,
    local: &Path,
    opts: &ClientOptions,
    progress: &mut dyn Progress,
) -> Result<Summary, ClientError> {
    let local_err = |source| ClientError::Local { path: local.to_path_buf(), source };
    let mut file = File::open(local).map_err(local_err)?;
    let size = file.metadata().map_err(local_err)?.len();
    let mut reader = io::BufReader::with_capacity(256 * 1024, &mut file);
    put(server, remote, &mut reader, Some(size), opts, progress).map_err(|e| match e {
        ClientError::Local { source, .. } => ClientError::Local { path: local.to_path_buf(), source },
        e => e,
    })
}
