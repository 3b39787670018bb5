//! The PROXY protocol (HAProxy's `proxy-protocol.txt`, versions 1 and 2), sans-IO: the step a
//! connection takes before its first HTTP or TLS byte when a load balancer in front of us
//! says who the client is.
//!
//! ```text
//!  accept ─► peer trusted? ──no──► close (no read, no answer)
//!              │ yes
//!              ▼
//!  peek(first bytes) ─► parse() ─► Incomplete: wait for more (HEADER_TIMEOUT from the accept)
//!                                  Invalid:    close (no HTTP answer: the peer is no client)
//!                                  Done { len, source }: consume exactly `len` bytes, then
//!                                  the connection starts (plain, TLS or h2) with `source`
//!                                  as its client address
//! ```
//!
//! The driver (`edge.rs`) peeks rather than reads, so the header is taken off the socket
//! only once it is whole and nothing after it is ever consumed here: the HTTP request or
//! TLS ClientHello that follows is read by the connection as if the header had never been.
//!
//! Parsing is `ppp`'s (the crate HAProxy's own spec links to from Rust projects, and the
//! one tokio-based proxies use): it says "incomplete" for a prefix of a valid header, which
//! is what a header arriving in pieces needs, and refuses everything else. This module only
//! maps its answer to what the server does.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ppp::v1;
use ppp::v2;
use ppp::{HeaderResult, PartialResult};

/// How long a connection on a PROXY listener may take to send its whole header, from the
/// accept; then it is closed. HAProxy's balancers send it with their first segment, so a
/// peer that has not sent it by then is not one of them.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest header accepted. A version 1 header is at most 107 bytes; version 2 carries
/// TLVs (ALPN, authority, TLS facts, a unique id), a few hundred bytes from HAProxy. A larger
/// one is refused rather than buffered.
pub const MAX_HEADER: usize = 4096;

/// The longest version 1 header, CRLF included (the specification's 107 bytes).
const V1_MAX: usize = 107;

/// Whose address the connection is from, as the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The client the balancer relays: this address replaces the socket's peer everywhere.
    Client(SocketAddr),
    /// The connection is the balancer's own (version 2 `LOCAL`, a health check), or the
    /// header carries no usable address (`UNKNOWN`, `AF_UNSPEC`, `AF_UNIX`): the socket's own
    /// addresses stand, as the specification asks.
    Local,
}

/// What the first bytes of a connection are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A prefix of a header: wait for more bytes.
    Incomplete,
    /// A whole header of `len` bytes (what follows it is the connection's own).
    Done { len: usize, source: Source },
    /// Not a PROXY header (plain HTTP, a ClientHello, garbage) or a broken one.
    Invalid(Invalid),
}

/// Why a connection's first bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// Neither signature: the peer speaks something else (plain HTTP, TLS).
    NotProxy,
    /// A version 1 header that breaks the grammar.
    V1,
    /// A version 2 header that breaks the format (version, command, family, lengths).
    V2,
    /// Longer than [`MAX_HEADER`].
    TooLong,
}

/// Parses the first bytes of a connection (all that arrived so far, not consumed).
pub fn parse(buf: &[u8]) -> Parsed {
    match HeaderResult::parse(buf) {
        HeaderResult::V2(r) => v2_result(buf, r),
        HeaderResult::V1(r) => v1_result(buf, r),
    }
}

fn v2_result(buf: &[u8], r: Result<v2::Header<'_>, v2::ParseError>) -> Parsed {
    match r {
        Ok(h) => {
            let len = h.len();
            let source = match (h.command, h.addresses) {
                (v2::Command::Local, _) => Source::Local,
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Source::Client(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Source::Client(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                (v2::Command::Proxy, _) => Source::Local,
            };
            if len > MAX_HEADER {
                return Parsed::Invalid(Invalid::TooLong);
            }
            Parsed::Done { len, source }
        }
        // The length field is known once 16 bytes are in: refuse a header we would never
        // hold instead of waiting for it.
        Err(v2::ParseError::Partial(_, declared)) if 16 + declared > MAX_HEADER => {
            Parsed::Invalid(Invalid::TooLong)
        }
        Err(e) if e.is_incomplete() => {
            if buf.len() >= MAX_HEADER {
                Parsed::Invalid(Invalid::TooLong)
            } else {
                Parsed::Incomplete
            }
        }
        Err(_) => Parsed::Invalid(Invalid::V2),
    }
}

fn v1_result(buf: &[u8], r: Result<v1::Header<'_>, v1::BinaryParseError>) -> Parsed {
    match r {
        Ok(h) => {
            let len = h.header.len();
            let source = match h.addresses {
                v1::Addresses::Tcp4(a) => {
                    Source::Client(SocketAddr::new(IpAddr::V4(a.source_address), a.source_port))
                }
                v1::Addresses::Tcp6(a) => {
                    Source::Client(SocketAddr::new(IpAddr::V6(a.source_address), a.source_port))
                }
                v1::Addresses::Unknown => Source::Local,
            };
            Parsed::Done { len, source }
        }
        // A broken version 2 header: ppp tried it as version 1 after version 2 refused it.
        Err(_) if starts_like_v2(buf) => Parsed::Invalid(Invalid::V2),
        // Whatever does not start as a version 1 line is no header: judged at once
        // (ppp reads the line as UTF-8 first, and would call `YYY\xb5` "invalid UTF-8" only
        // after a CR: found by the fuzz target, it made such a peer wait out the timeout).
        Err(_) if !starts_like(buf, V1_PREFIX) => Parsed::Invalid(Invalid::NotProxy),
        // A version 1 header is ASCII (and before its CR, all of `buf` is header).
        Err(_) if !buf.is_ascii() => Parsed::Invalid(Invalid::V1),
        // A version 1 line is judged once its CRLF is in (ppp says "incomplete" for a
        // line cut between CR and LF, and for an empty input). ppp judges some prefixes early:
        // `PROXY TCP4 a b 50000 ` (cut after the space before the last port) is "invalid
        // port" to it, though the next piece would complete it. Until the CR arrives, only
        // a line that cannot become a header (too long) is refused.
        Err(e) if e.is_incomplete() || !buf.contains(&b'\r') => {
            if buf.len() > V1_MAX {
                Parsed::Invalid(Invalid::TooLong)
            } else {
                Parsed::Incomplete
            }
        }
        Err(_) => Parsed::Invalid(Invalid::V1),
    }
}

/// How every version 1 header begins.
const V1_PREFIX: &[u8] = b"PROXY ";

/// Whether `buf` begins with (a prefix of) the version 2 signature: a broken v2 header is
/// reported as such, not as "not PROXY".
fn starts_like_v2(buf: &[u8]) -> bool {
    starts_like(buf, v2::PROTOCOL_PREFIX)
}

/// Whether `buf` and `prefix` agree as far as both go (and `buf` is not empty).
fn starts_like(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    n > 0 && buf[..n] == prefix[..n]
}

/// A connection waiting for its header: the deadline, on whatever clock the caller keeps
/// (the worker's turn time; the tests' simulated one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    accepted: Instant,
}

impl Pending {
    pub fn new(accepted: Instant) -> Pending {
        Pending { accepted }
    }

    /// When the connection is closed if its header is not whole by then.
    pub fn deadline(&self) -> Instant {
        self.accepted + HEADER_TIMEOUT
    }

    /// Whether the header's time is up at `now`. The reactor's timer wheel counts whole
    /// milliseconds and may fire up to two early (see `conn.rs`'s `TIMER_SLACK_MS`): a timer
    /// that fires within that slack counts as due.
    pub fn expired(&self, now: Instant) -> bool {
        now + Duration::from_millis(2) >= self.deadline()
    }
}

#[cfg(test)]
mod tests {
    // Literals written here: a failure is the test's own typo.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn v2_header(command: u8, family: u8, addrs: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut h = v2::PROTOCOL_PREFIX.to_vec();
        h.push(0x20 | command);
        h.push(family);
        let len = (addrs.len() + tlvs.len()) as u16;
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(addrs);
        h.extend_from_slice(tlvs);
        h
    }

    fn v4_addrs() -> Vec<u8> {
        let mut a = vec![203, 0, 113, 7, 192, 0, 2, 1];
        a.extend_from_slice(&50000u16.to_be_bytes());
        a.extend_from_slice(&443u16.to_be_bytes());
        a
    }

    #[test]
    fn v1_tcp4_and_what_follows_is_left_alone() {
        let input = b"PROXY TCP4 203.0.113.7 192.0.2.1 50000 80\r\nGET / HTTP/1.1\r\n\r\n";
        let len = b"PROXY TCP4 203.0.113.7 192.0.2.1 50000 80\r\n".len();
        assert_eq!(
            parse(input),
            Parsed::Done { len, source: Source::Client("203.0.113.7:50000".parse().unwrap()) }
        );
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let input = b"PROXY TCP6 2001:db8::7 2001:db8::1 50000 80\r\n";
        assert_eq!(
            parse(input),
            Parsed::Done { len: input.len(), source: Source::Client("[2001:db8::7]:50000".parse().unwrap()) }
        );
        let input = b"PROXY UNKNOWN\r\n";
        assert_eq!(parse(input), Parsed::Done { len: input.len(), source: Source::Local });
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete() {
        let v1 = b"PROXY TCP4 203.0.113.7 192.0.2.1 50000 80\r\n".to_vec();
        let v2 = v2_header(1, 0x11, &v4_addrs(), &[0x01, 0x00, 0x02, b'h', b'2']);
        for h in [v1, v2] {
            for n in 0..h.len() {
                assert_eq!(parse(&h[..n]), Parsed::Incomplete, "prefix of {n} bytes");
            }
            assert!(matches!(parse(&h), Parsed::Done { len, .. } if len == h.len()));
        }
    }

    #[test]
    fn v2_proxy_with_tlvs() {
        let h = v2_header(1, 0x11, &v4_addrs(), &[0x01, 0x00, 0x02, b'h', b'2']);
        let mut input = h.clone();
        input.extend_from_slice(b"\x16\x03\x01");
        assert_eq!(
            parse(&input),
            Parsed::Done { len: h.len(), source: Source::Client("203.0.113.7:50000".parse().unwrap()) }
        );
    }

    #[test]
    fn v2_local_uses_the_socket_addresses() {
        let h = v2_header(0, 0x00, &[], &[]);
        assert_eq!(parse(&h), Parsed::Done { len: 16, source: Source::Local });
        // LOCAL with addresses (HAProxy's health checks send them): still LOCAL.
        let h = v2_header(0, 0x11, &v4_addrs(), &[]);
        assert_eq!(parse(&h), Parsed::Done { len: h.len(), source: Source::Local });
    }

    #[test]
    fn plain_http_and_tls_are_not_proxy() {
        assert_eq!(parse(b"G"), Parsed::Invalid(Invalid::NotProxy));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Parsed::Invalid(Invalid::NotProxy));
        assert_eq!(parse(b"\x16\x03\x01\x02\x00"), Parsed::Invalid(Invalid::NotProxy));
        assert_eq!(parse(b"PRI * HTTP/2.0\r\n"), Parsed::Invalid(Invalid::NotProxy));
        assert_eq!(parse(b"PROXYZ"), Parsed::Invalid(Invalid::NotProxy));
        assert_eq!(parse(b"PROX"), Parsed::Incomplete);
    }

    /// Found by the fuzz target: bytes that are not UTF-8 were "incomplete" until a CR came,
    /// so such a peer held its connection for the whole header timeout.
    #[test]
    fn non_utf8_garbage_is_refused_at_once() {
        assert_eq!(parse(b"YYY\xb5"), Parsed::Invalid(Invalid::NotProxy));
        assert_eq!(parse(b"\xff\xfe"), Parsed::Invalid(Invalid::NotProxy));
        // A version 1 line is ASCII: a byte beyond it ends the wait too.
        assert_eq!(parse(b"PROXY \xb5"), Parsed::Invalid(Invalid::V1));
        assert_eq!(parse("PROXY TCP4 é".as_bytes()), Parsed::Invalid(Invalid::V1));
    }

    #[test]
    fn broken_headers_are_invalid() {
        assert_eq!(parse(b"PROXY TCP4 300.0.113.7 192.0.2.1 50000 80\r\n"), Parsed::Invalid(Invalid::V1));
        assert_eq!(parse(b"PROXY TCP5 1.2.3.4 1.2.3.4 1 1\r\n"), Parsed::Invalid(Invalid::V1));
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4 1.2.3.4 01 1\r\n"), Parsed::Invalid(Invalid::V1));
        // Version 3 and command 2 do not exist.
        let mut h = v2_header(1, 0x11, &v4_addrs(), &[]);
        h[12] = 0x31;
        assert_eq!(parse(&h), Parsed::Invalid(Invalid::V2));
        let h = v2_header(2, 0x11, &v4_addrs(), &[]);
        assert_eq!(parse(&h), Parsed::Invalid(Invalid::V2));
        // An IPv4 block shorter than its family needs.
        let h = v2_header(1, 0x11, &[1, 2, 3], &[]);
        assert_eq!(parse(&h), Parsed::Invalid(Invalid::V2));
    }

    #[test]
    fn too_long_is_refused_before_it_is_whole() {
        let mut h = v2_header(1, 0x11, &v4_addrs(), &[]);
        h[14..16].copy_from_slice(&8000u16.to_be_bytes());
        assert_eq!(parse(&h), Parsed::Invalid(Invalid::TooLong));
        // A version 1 line with no end in 108 bytes.
        let mut v1 = b"PROXY TCP4 ".to_vec();
        v1.resize(120, b'1');
        assert!(matches!(parse(&v1), Parsed::Invalid(_)));
    }

    /// The header's time on a simulated clock: nothing before three seconds (less the
    /// wheel's slack), expired at them.
    #[test]
    fn header_timeout_on_a_simulated_clock() {
        let t0 = Instant::now();
        let p = Pending::new(t0);
        assert_eq!(p.deadline(), t0 + Duration::from_secs(3));
        assert!(!p.expired(t0));
        assert!(!p.expired(t0 + Duration::from_millis(2997)));
        assert!(p.expired(t0 + Duration::from_millis(2998)));
        assert!(p.expired(t0 + Duration::from_secs(3)));
        assert!(p.expired(t0 + Duration::from_secs(60)));
    }
}
