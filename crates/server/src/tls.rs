//! HTTPS: a rustls session between the socket and the connection, as a [`Transport`]. The
//! connection above it does not change: it reads plaintext into its read buffer and leaves
//! plaintext in its [`Output`]; this transport decrypts and encrypts.
//!
//! ```text
//!  socket ──read_tls──► rustls ──reader()──► Conn's read buffer
//!  socket ◄─write_tls── rustls ◄─writer()─── Conn's Output (buffer, bytes, file via pread)
//! ```
//!
//! Edge-triggered like the plain transport: records are read until the socket is drained (a
//! short read says so), and whatever TLS wants to write (handshake messages, alerts, records)
//! is always flushed, so no edge is lost. Memory is bounded by rustls' buffer limit on the
//! sending side (`ServerConnection::set_buffer_limit`) and by taking plaintext out before
//! reading more records (rustls refuses to buffer more than 16 KiB of it).
//!
//! There is no `sendfile` here: this kernel has no kTLS (`tcp_available_ulp` lists only
//! `mptcp`), so a file body is read with `pread` into the worker's buffer (`FILE_CHUNK`: four
//! full records at a time) and encrypted. Large bodies are corked with a short send queue, as
//! over plain TCP.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use pollux_reactor::mio::net::TcpStream;
use rustix::io::Errno;
use rustix::net::SendFlags;
use rustls::ServerConnection;

use crate::handler::TlsInfo;
use crate::output::{Output, Sending};
use crate::transport::{set_cork, set_notsent_lowat, Flushed, Recv, Transport, READ_CHUNK, TURN_BUDGET};

/// File bytes read and encrypted at a time: four full records (RFC 8446 §5.1: 16 KiB of
/// payload each), one `pread` and, with the records before them, one `writev`.
pub(crate) const FILE_CHUNK: usize = 64 * 1024;

/// Encrypted bytes rustls may hold for the socket before `writer()` accepts no more; the same
/// as the plain write buffer's high-water mark, so a connection's memory is bounded alike.
const TLS_BUFFER: usize = 64 * 1024;

/// Sent, unencrypted, to a client that speaks plain HTTP to the TLS port, as nginx does
/// ("The plain HTTP request was sent to HTTPS port"), before the connection is closed: the
/// person who typed `http://` learns why instead of seeing a dropped connection.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
Content-Length: 57\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use an https:// URL to reach it.\n";

/// A connection's TLS session.
pub(crate) struct TlsSession {
    conn: ServerConnection,
    /// What handlers see, filled when the handshake completes.
    info: Option<TlsInfo>,
    sniff: Sniff,
}

/// What the first bytes of a connection looked like.
#[derive(Debug, Default)]
struct Sniff {
    /// Any byte arrived.
    started: bool,
    /// The first byte was a capital letter (a request line), not a TLS record.
    plain_http: bool,
}

impl TlsSession {
    pub(crate) fn new(config: Arc<rustls::ServerConfig>) -> Option<Box<TlsSession>> {
        let mut conn = ServerConnection::new(config).ok()?;
        conn.set_buffer_limit(Some(TLS_BUFFER));
        Some(Box::new(TlsSession { conn, info: None, sniff: Sniff::default() }))
    }

    /// The session's facts for handlers, once the handshake is done.
    pub(crate) fn info(&self) -> Option<&TlsInfo> {
        self.info.as_ref()
    }

    /// Where the session's facts for handlers live (lent to the application).
    pub(crate) fn info_slot(&mut self) -> &mut Option<TlsInfo> {
        &mut self.info
    }
}

/// What the handshake settled, for handlers.
fn settled(c: &ServerConnection) -> TlsInfo {
    let version = c.protocol_version().and_then(pollux_tls::protocol_name).unwrap_or("TLS");
    let cipher = c.negotiated_cipher_suite().and_then(|s| pollux_tls::cipher_name(s.suite())).unwrap_or("");
    let server_name = c.server_name().map(Arc::from);
    // Only a verified chain is ever here: with client certificates configured, the handshake
    // fails without one.
    let client_subject =
        c.peer_certificates().and_then(|certs| certs.first()).and_then(pollux_tls::subject_dn).map(Arc::from);
    TlsInfo { version, cipher, server_name, client_subject }
}

/// A TLS session over its socket, for one drive.
pub(crate) struct TlsStream<'a> {
    tcp: &'a mut TcpStream,
    conn: &'a mut ServerConnection,
    sniff: &'a mut Sniff,
    /// The worker's buffer for file bytes on their way into records.
    scratch: &'a mut Vec<u8>,
}

impl<'a> TlsStream<'a> {
    /// The transport for one drive, and the slot where the session's facts for handlers
    /// live (lent to the application while the transport runs).
    pub(crate) fn new(
        tcp: &'a mut TcpStream,
        session: &'a mut TlsSession,
        scratch: &'a mut Vec<u8>,
    ) -> (TlsStream<'a>, &'a mut Option<TlsInfo>) {
        let TlsSession { conn, info, sniff } = session;
        (TlsStream { tcp, conn, sniff, scratch }, info)
    }
}

/// The socket as rustls reads it: `recv(2)`, remembering whether the read came back short
/// (the socket is drained: the edge-triggered loop need not ask again).
struct SockReader<'a> {
    tcp: &'a TcpStream,
    short: bool,
    first: Option<u8>,
}

impl Read for SockReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = rustix::net::recv(self.tcp, &mut *buf, rustix::net::RecvFlags::empty())
            .map_err(io::Error::from)?
            .0;
        self.short = n < buf.len();
        if n > 0 && self.first.is_none() {
            self.first = Some(buf[0]);
        }
        Ok(n)
    }
}

/// The socket as rustls writes it: `writev`/`send` without SIGPIPE.
struct SockWriter<'a>(&'a TcpStream);

impl Write for SockWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::net::send(self.0, buf, SendFlags::NOSIGNAL)?)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        // rustls hands over every queued record at once: one system call for all of them.
        (&*self.0).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsStream<'_> {
    /// Moves decrypted bytes into `buf`: `None` when there are none, `Some((0, _))` when the
    /// peer closed the session, else the count and whether more decrypted bytes wait in
    /// rustls (then the socket being drained does not mean the connection is).
    fn take_plaintext(&mut self, buf: &mut BytesMut) -> io::Result<Option<(usize, bool)>> {
        let mut reader = self.conn.reader();
        match reader.fill_buf() {
            Ok(chunk) => {
                // No more than the buffer's usual read size at a time: the connection's reads
                // stay bounded as they are over plain TCP.
                let n = chunk.len().min(READ_CHUNK);
                let more = chunk.len() > n;
                buf.extend_from_slice(&chunk[..n]);
                reader.consume(n);
                // A record's plaintext may come in several chunks.
                let more = more || matches!(reader.fill_buf(), Ok(rest) if !rest.is_empty());
                Ok(Some((n, more)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            // The peer closed TCP without close_notify: for HTTP, whose messages carry their
            // own lengths, the same as a close (RFC 9112 §9.8 leaves it to the framing).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Some((0, false))),
            Err(e) => Err(e),
        }
    }

    /// Writes what rustls holds for the socket. `Ok(false)`: the socket is full.
    fn push(&mut self, moved: &mut bool) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut SockWriter(self.tcp)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => *moved = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The peer sent something that is not TLS, or broke the protocol: say so if it spoke
    /// HTTP, or send rustls' alert, and fail the connection.
    fn fail(&mut self, e: rustls::Error) -> io::Error {
        if self.sniff.plain_http {
            let _ = rustix::net::send(&*self.tcp, PLAIN_HTTP_ANSWER, SendFlags::NOSIGNAL);
        } else {
            let _ = self.push(&mut false);
        }
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

impl Transport for TlsStream<'_> {
    fn recv(&mut self, buf: &mut BytesMut, hup: bool) -> io::Result<Recv> {
        if let Some((n, _)) = self.take_plaintext(buf)? {
            return Ok(if n == 0 { Recv::Eof } else { Recv::Bytes { drained: false } });
        }
        loop {
            let mut rd = SockReader { tcp: self.tcp, short: false, first: None };
            let read = self.conn.read_tls(&mut rd);
            let (short, first) = (rd.short, rd.first);
            let eof = match read {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Recv::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if !self.sniff.started {
                if let Some(b) = first {
                    self.sniff.started = true;
                    // Every TLS connection opens with a handshake record (content type 22); a
                    // request line opens with a method's capital letter.
                    self.sniff.plain_http = b.is_ascii_uppercase();
                }
            }
            if let Err(e) = self.conn.process_new_packets() {
                return Err(self.fail(e));
            }
            // Handshake messages (or a key update) to answer with. A full socket keeps them
            // for `flush_pending` when it drains.
            self.push(&mut false)?;
            if let Some((n, more)) = self.take_plaintext(buf)? {
                return Ok(if n == 0 { Recv::Eof } else { Recv::Bytes { drained: short && !hup && !more } });
            }
            if eof {
                return Ok(Recv::Eof);
            }
            if short && !hup {
                return Ok(Recv::Drained);
            }
        }
    }

    fn flush(&mut self, out: &mut Output, moved: &mut bool) -> io::Result<Flushed> {
        let mut budget = TURN_BUDGET as usize;
        loop {
            // Records already made go first: rustls then has room for the next ones.
            if !self.push(moved)? {
                return Ok(Flushed::Blocked);
            }
            if !out.has_output() {
                return Ok(Flushed::All);
            }
            if budget == 0 {
                return Ok(Flushed::Yield);
            }
            let n = if out.wpos < out.wbuf.len() {
                let pending = &out.wbuf[out.wpos..];
                match &out.sending {
                    // Head and body in the same record(s).
                    Some(Sending::Bytes(body)) => self
                        .conn
                        .writer()
                        .write_vectored(&[io::IoSlice::new(pending), io::IoSlice::new(body)])?,
                    _ => self.conn.writer().write(pending)?,
                }
            } else {
                out.wbuf.clear();
                out.wpos = 0;
                match out.sending.as_mut() {
                    None => continue,
                    Some(Sending::Bytes(body)) if !body.is_empty() => self.conn.writer().write(body)?,
                    Some(Sending::File { file, offset, left, corked }) if *left > 0 => {
                        if !*corked && *left > TURN_BUDGET {
                            // As over plain TCP (see `transport`): full segments only until the
                            // end, and a short send queue so the records leave from our own
                            // calls rather than the client's ACK processing.
                            set_cork(self.tcp, true)?;
                            set_notsent_lowat(self.tcp);
                            *corked = true;
                        }
                        if self.scratch.len() < FILE_CHUNK {
                            self.scratch.resize(FILE_CHUNK, 0);
                        }
                        let chunk = &mut self.scratch[..];
                        let want = (*left).min(FILE_CHUNK as u64) as usize;
                        let got = match rustix::io::pread(&**file, &mut chunk[..want], *offset) {
                            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                            Ok(n) => n,
                            Err(Errno::INTR) => continue,
                            Err(e) => return Err(e.into()),
                        };
                        // rustls' buffer was just emptied, so it takes the whole chunk; count
                        // only what it took all the same.
                        let took = self.conn.writer().write(&chunk[..got])?;
                        *offset += took as u64;
                        *left -= took as u64;
                        out.written += took as u64;
                        *moved = true;
                        budget = budget.saturating_sub(took);
                        continue;
                    }
                    Some(Sending::File { corked, .. }) => {
                        if *corked {
                            set_cork(self.tcp, false)?;
                        }
                        out.sending = None;
                        continue;
                    }
                    Some(_) => {
                        out.refill()?;
                        continue;
                    }
                }
            };
            if n == 0 {
                // rustls' buffer is full although it was just flushed: cannot happen with a
                // buffer limit above one record, but never spin on it.
                return Ok(Flushed::Blocked);
            }
            out.advance(n);
            *moved = true;
            budget = budget.saturating_sub(n);
        }
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        self.push(&mut false).map(|_| ())
    }

    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn tls_info(&self) -> Option<TlsInfo> {
        Some(settled(self.conn))
    }

    fn alpn_h2(&self) -> bool {
        self.conn.alpn_protocol() == Some(b"h2")
    }

    fn shutdown_write(&mut self) {
        self.conn.send_close_notify();
        let _ = self.push(&mut false);
        self.tcp.shutdown_write();
    }

    fn is_reset(&self) -> bool {
        self.tcp.is_reset()
    }

    fn bytes_acked(&self) -> Option<u64> {
        // The socket's count includes record overhead and handshake bytes: the access log
        // uses what was written instead.
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plain_http_answer_is_a_well_framed_message() {
        let text = std::str::from_utf8(super::PLAIN_HTTP_ANSWER).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.parse().ok())
            .expect("a Content-Length");
        assert_eq!(len, body.len());
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    }
}
