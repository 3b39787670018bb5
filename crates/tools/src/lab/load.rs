//! The load a step puts on a server: N idle connections, each proven served by one echoed
//! byte, and a fixed set of active clients doing round-trips of a small message.
//!
//! Everything here has a deadline. A model that cannot take the load (a process per client
//! at ten thousand clients, select past FD_SETSIZE) must show up as a failed step with its
//! reason, never as a lab that hangs.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The size of an active client's request; the echo is the same size.
pub const MESSAGE_LEN: usize = 64;

/// Connections opened before the lab waits for them to be served. The textbook servers
/// listen with std's backlog of 128; opening thousands at once overflows it, the kernel
/// drops SYNs, and a slow acceptor then looks like a broken one (connect times out after
/// SYN retries). Batches well under the backlog measure holding connections, not accepting
/// a flood.
const BATCH: usize = 64;

/// Opens `n` connections to `addr` and has each echo one byte, so that a connection counts
/// only once the server has accepted it and is watching it (a connection still in the
/// listen backlog costs the server nothing and would prove nothing). Fails with a reason
/// once `deadline` passes.
pub fn open_idle(addr: SocketAddr, n: usize, deadline: Instant) -> Result<Vec<TcpStream>, String> {
    let mut conns: Vec<TcpStream> = Vec::with_capacity(n);
    while conns.len() < n {
        let first = conns.len();
        for i in first..n.min(first + BATCH) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out after {i} of {n} idle connections"));
            }
            let s = TcpStream::connect_timeout(&addr, left.min(Duration::from_secs(5)))
                .map_err(|e| format!("connection {i} of {n}: {e}"))?;
            conns.push(s);
        }
        // Write to the whole batch first, then read: the servers that serve clients in
        // parallel answer while we are still writing, and none of them waits on us.
        for (i, s) in conns[first..].iter_mut().enumerate() {
            s.write_all(b"i").map_err(|e| format!("idle connection {}: write: {e}", first + i))?;
        }
        for (i, s) in conns[first..].iter_mut().enumerate() {
            let i = first + i;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out after {i} of {n} idle connections answered"));
            }
            s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
            let mut b = [0u8; 1];
            // A socket with a timeout reports a signal's wake-up as EINTR: read again.
            let got = loop {
                match s.read(&mut b) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r,
                }
            };
            match got {
                Ok(1) => {}
                Ok(_) => return Err(format!("server closed idle connection {i} of {n}")),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(format!("timed out after {i} of {n} idle connections answered"))
                }
                Err(e) => return Err(format!("idle connection {i}: read: {e}")),
            }
        }
    }
    Ok(conns)
}

/// Round-trip latencies of one measurement window, in microseconds.
#[derive(Debug, Default)]
pub struct Samples {
    /// One entry per completed round-trip.
    pub micros: Vec<u32>,
    /// The first client error, if any client stopped early.
    pub error: Option<String>,
    /// The active connections, still open: a process-per-client server's children exit
    /// with them, and children reaped by the kernel (SIGCHLD ignored) take their CPU time
    /// out of `/proc` for good, so the caller measures before dropping these.
    pub open: Vec<TcpStream>,
}

impl Samples {
    /// The `q`-quantile (0.0..=1.0) of the latencies; sorts in place.
    pub fn quantile(&mut self, q: f64) -> u32 {
        if self.micros.is_empty() {
            return 0;
        }
        self.micros.sort_unstable();
        let i = ((self.micros.len() - 1) as f64 * q).round() as usize;
        self.micros[i.min(self.micros.len() - 1)]
    }
}

/// `clients` connections doing write-then-read round-trips of [`MESSAGE_LEN`] bytes for
/// `window`, one thread each. A round-trip that takes longer than a second ends that client.
pub fn run_active(addr: SocketAddr, clients: usize, window: Duration) -> Samples {
    // Connect all before the clock starts, so connection set-up is not in the window.
    let mut conns = Vec::new();
    let mut out = Samples::default();
    for _ in 0..clients {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => conns.push(s),
            Err(e) => {
                out.error = Some(format!("active client: connect: {e}"));
                return out;
            }
        }
    }
    let end = Instant::now() + window;
    let handles: Vec<_> = conns.into_iter().map(|s| std::thread::spawn(move || client(s, end))).collect();
    for h in handles {
        match h.join() {
            Ok((micros, err, s)) => {
                out.micros.extend(micros);
                out.open.push(s);
                if out.error.is_none() {
                    out.error = err;
                }
            }
            Err(_) => out.error = Some("active client thread panicked".into()),
        }
    }
    out
}

fn client(mut s: TcpStream, end: Instant) -> (Vec<u32>, Option<String>, TcpStream) {
    let mut micros = Vec::new();
    let msg = [b'x'; MESSAGE_LEN];
    let mut buf = [0u8; MESSAGE_LEN];
    let _ = s.set_nodelay(true);
    if let Err(e) = s.set_read_timeout(Some(Duration::from_secs(1))) {
        return (micros, Some(e.to_string()), s);
    }
    while Instant::now() < end {
        let t0 = Instant::now();
        if let Err(e) = s.write_all(&msg).and_then(|()| s.read_exact(&mut buf)) {
            return (micros, Some(format!("round-trip: {e}")), s);
        }
        micros.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    (micros, None, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_set() {
        let mut s = Samples { micros: (1..=100).rev().collect(), ..Samples::default() };
        assert_eq!(s.quantile(0.5), 51);
        assert_eq!(s.quantile(0.99), 99);
        assert_eq!(s.quantile(1.0), 100);
        assert_eq!(Samples::default().quantile(0.5), 0);
    }
}
