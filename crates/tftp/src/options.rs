//! Option negotiation (RFC 2347) for blksize (RFC 2348), timeout and tsize (RFC 2349) and
//! windowsize (RFC 7440).
//!
//! ```text
//!   client                                   server
//!   RequestOptions ──RRQ/WRQ + options──►  negotiate(): clamp to caps, drop unknown
//!                  ◄──────── OACK ───────  Negotiation::accepted (only what was accepted)
//!   check_oack(): nothing unrequested,
//!   nothing larger than asked ──► TransferOptions ◄── Negotiation::options
//! ```
//!
//! The server only ever lowers a value (RFC 2348/7440) and only acknowledges options it
//! understood; the client refuses an OACK that breaks either rule with ERROR 8. An option the
//! server leaves out of its OACK simply keeps its default.

use std::time::Duration;

use crate::error::{OptionError, OptionName};
use crate::packet::{Mode, Options, Request, RequestKind};
use crate::Config;

pub use crate::blksize::{DEFAULT_BLKSIZE, MAX_BLKSIZE, MIN_BLKSIZE};

/// The parameters a transfer runs with once negotiation is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOptions {
    /// Bytes per DATA block; a shorter block ends the transfer.
    pub blksize: u16,
    /// Blocks sent before waiting for an ACK (1 = RFC 1350 lock-step).
    pub windowsize: u16,
    /// Negotiated retransmission timeout in seconds; `None` uses [`Config::timeout`].
    pub timeout: Option<u8>,
    /// The transfer size in bytes if known: from the server's OACK to an RRQ, or as announced
    /// by a WRQ.
    pub tsize: Option<u64>,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeout: None, tsize: None }
    }
}

impl TransferOptions {
    /// The retransmission timeout: the negotiated one, else the configured default.
    pub fn retransmit_timeout(&self, config: &Config) -> Duration {
        self.timeout.map_or(config.timeout, |s| Duration::from_secs(u64::from(s)))
    }
}

/// Options a client asks for; `None` leaves an option out of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestOptions {
    /// `blksize`, 8–65464.
    pub blksize: Option<u16>,
    /// `windowsize`, 1–65535.
    pub windowsize: Option<u16>,
    /// `timeout` in seconds, 1–255.
    pub timeout: Option<u8>,
    /// `tsize`: 0 on an RRQ to ask for the size, the file's size on a WRQ.
    pub tsize: Option<u64>,
}

impl RequestOptions {
    /// Checks every value against its RFC range.
    pub fn validate(&self) -> Result<(), OptionError> {
        if self.blksize.is_some_and(|b| !(MIN_BLKSIZE..=MAX_BLKSIZE).contains(&b)) {
            return Err(OptionError::OutOfRange(OptionName::Blksize));
        }
        if self.windowsize == Some(0) {
            return Err(OptionError::OutOfRange(OptionName::Windowsize));
        }
        if self.timeout == Some(0) {
            return Err(OptionError::OutOfRange(OptionName::Timeout));
        }
        Ok(())
    }

    /// No option set: the request carries none and no OACK is expected.
    pub fn is_empty(&self) -> bool {
        *self == RequestOptions::default()
    }

    /// The options that are set, in a fixed order, as wire pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (OptionName, u64)> {
        [
            self.blksize.map(|v| (OptionName::Blksize, u64::from(v))),
            self.windowsize.map(|v| (OptionName::Windowsize, u64::from(v))),
            self.timeout.map(|v| (OptionName::Timeout, u64::from(v))),
            self.tsize.map(|v| (OptionName::Tsize, v)),
        ]
        .into_iter()
        .flatten()
    }

    /// Client side: checks the server's OACK against what we requested (RFC 2347: the server
    /// may only acknowledge requested options; RFC 2348/7440: never larger; RFC 2349: the
    /// timeout, and the tsize of a WRQ, are echoed unchanged).
    pub fn check_oack(&self, kind: RequestKind, oack: &Options<'_>) -> Result<TransferOptions, OptionError> {
        let mut opts = TransferOptions::default();
        for (name, value) in oack.iter() {
            let name = OptionName::from_name(name).ok_or(OptionError::NotRequested)?;
            let value = parse_number(name, value)?;
            match name {
                OptionName::Blksize => {
                    let asked = self.blksize.ok_or(OptionError::NotRequested)?;
                    if value < u64::from(MIN_BLKSIZE) {
                        return Err(OptionError::OutOfRange(name));
                    }
                    opts.blksize = narrow(value, asked, name)?;
                }
                OptionName::Windowsize => {
                    let asked = self.windowsize.ok_or(OptionError::NotRequested)?;
                    if value == 0 {
                        return Err(OptionError::OutOfRange(name));
                    }
                    opts.windowsize = narrow(value, asked, name)?;
                }
                OptionName::Timeout => {
                    let asked = self.timeout.ok_or(OptionError::NotRequested)?;
                    if value != u64::from(asked) {
                        return Err(OptionError::Mismatch(name));
                    }
                    opts.timeout = Some(asked);
                }
                OptionName::Tsize => {
                    let asked = self.tsize.ok_or(OptionError::NotRequested)?;
                    if kind == RequestKind::Write && value != asked {
                        return Err(OptionError::Mismatch(name));
                    }
                    opts.tsize = Some(value);
                }
            }
        }
        Ok(opts)
    }
}

/// `value` if it does not exceed `asked`.
fn narrow(value: u64, asked: u16, name: OptionName) -> Result<u16, OptionError> {
    if value > u64::from(asked) {
        return Err(OptionError::LargerThanRequested(name));
    }
    Ok(value as u16) // ≤ asked, which is a u16
}

/// A decimal number: ASCII digits only (no sign, no spaces), at least one.
fn parse_number(name: OptionName, value: &str) -> Result<u64, OptionError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OptionError::NotANumber(name));
    }
    value.parse().map_err(|_| OptionError::OutOfRange(name))
}

/// The server's answer to a request's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiation {
    /// What the transfer will run with.
    pub options: TransferOptions,
    /// What goes into the OACK: exactly the accepted options, with the accepted values.
    pub accepted: RequestOptions,
}

impl Negotiation {
    /// RFC 2347: an OACK is sent only if at least one option was accepted; otherwise the
    /// server answers as RFC 1350 does (DATA 1 or ACK 0).
    pub fn needs_oack(&self) -> bool {
        !self.accepted.is_empty()
    }
}

/// Server side: decides which requested options to accept, within `config`'s caps.
///
/// Unknown options are ignored (RFC 2347). blksize and windowsize are clamped down to the
/// caps; a value outside the RFC range that cannot be clamped (blksize < 8, windowsize 0,
/// timeout outside 1–255) or a non-numeric value fails with [`OptionError`] → ERROR 8.
/// `file_size` answers an RRQ's `tsize`; it is left out in netascii mode, where the size on
/// the wire is unknown until the whole file has been encoded.
pub fn negotiate(
    request: &Request<'_>,
    config: &Config,
    file_size: Option<u64>,
) -> Result<Negotiation, OptionError> {
    let mut options = TransferOptions::default();
    let mut accepted = RequestOptions::default();
    for (name, value) in request.options.iter() {
        let Some(name) = OptionName::from_name(name) else { continue };
        let value = parse_number(name, value)?;
        match name {
            OptionName::Blksize => {
                if value < u64::from(MIN_BLKSIZE) {
                    return Err(OptionError::OutOfRange(name));
                }
                let blksize = value.min(u64::from(config.blksize_cap())) as u16;
                options.blksize = blksize;
                accepted.blksize = Some(blksize);
            }
            OptionName::Windowsize => {
                if value == 0 {
                    return Err(OptionError::OutOfRange(name));
                }
                let window = value.min(u64::from(config.window_cap())) as u16;
                options.windowsize = window;
                accepted.windowsize = Some(window);
            }
            OptionName::Timeout => {
                let secs =
                    u8::try_from(value).ok().filter(|&s| s >= 1).ok_or(OptionError::OutOfRange(name))?;
                options.timeout = Some(secs);
                accepted.timeout = Some(secs);
            }
            OptionName::Tsize => match request.kind {
                RequestKind::Write => {
                    options.tsize = Some(value);
                    accepted.tsize = Some(value);
                }
                RequestKind::Read => {
                    if let (Some(size), Mode::Octet) = (file_size, request.mode) {
                        options.tsize = Some(size);
                        accepted.tsize = Some(size);
                    }
                }
            },
        }
    }
    Ok(Negotiation { options, accepted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit;
    use crate::Packet;

    fn with_request<R>(bytes: &[u8], f: impl FnOnce(&Request<'_>) -> R) -> R {
        match Packet::parse(bytes) {
            Ok(Packet::Request(r)) => f(&r),
            other => panic!("{other:?}"),
        }
    }

    fn server(bytes: &[u8], file_size: Option<u64>) -> Result<Negotiation, OptionError> {
        with_request(bytes, |r| negotiate(r, &Config::default(), file_size))
    }

    fn oack(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut buf = b"\x00\x06".to_vec();
        for (n, v) in pairs {
            emit::encode_raw_option(&mut buf, n, v).expect("printable");
        }
        buf
    }

    fn client(
        asked: RequestOptions,
        kind: RequestKind,
        pairs: &[(&str, &str)],
    ) -> Result<TransferOptions, OptionError> {
        let bytes = oack(pairs);
        match Packet::parse(&bytes) {
            Ok(Packet::Oack(o)) => asked.check_oack(kind, &o),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_options_no_oack() {
        let n = server(b"\x00\x01f\0octet\0", Some(10)).expect("ok");
        assert!(!n.needs_oack());
        assert_eq!(n.options, TransferOptions::default());
    }

    #[test]
    fn server_accepts_and_clamps() {
        let n = server(
            b"\x00\x01f\0octet\0BLKSIZE\x0065464\0windowsize\x00999\0timeout\x003\0tsize\x000\0",
            Some(1234),
        )
        .expect("ok");
        let want = TransferOptions { blksize: 1468, windowsize: 64, timeout: Some(3), tsize: Some(1234) };
        assert_eq!(n.options, want);
        assert_eq!(
            n.accepted,
            RequestOptions { blksize: Some(1468), windowsize: Some(64), timeout: Some(3), tsize: Some(1234) }
        );
        // Values beyond the RFC maximum clamp too (to the cap).
        let n = server(b"\x00\x01f\0octet\0blksize\x0099999\0windowsize\x0070000\0", None).expect("ok");
        assert_eq!((n.options.blksize, n.options.windowsize), (1468, 64));
    }

    #[test]
    fn server_ignores_unknown_options() {
        let n = server(b"\x00\x01f\0octet\0multicast\0\0rollover\x000\0blksize\x00800\0", None).expect("ok");
        assert_eq!(n.accepted, RequestOptions { blksize: Some(800), ..Default::default() });
    }

    #[test]
    fn server_tsize_rules() {
        // RRQ: the file size, if known, in octet mode only.
        assert!(!server(b"\x00\x01f\0octet\0tsize\x000\0", None).expect("ok").needs_oack());
        assert!(!server(b"\x00\x01f\0netascii\0tsize\x000\0", Some(5)).expect("ok").needs_oack());
        // WRQ: echoed, so the application can refuse a file too large (ERROR 3).
        let n = server(b"\x00\x02f\0octet\0tsize\x00777\0", None).expect("ok");
        assert_eq!((n.options.tsize, n.accepted.tsize), (Some(777), Some(777)));
    }

    #[test]
    fn server_refuses_bad_values() {
        use OptionName::*;
        for (bytes, err) in [
            (&b"\x00\x01f\0octet\0blksize\x007\0"[..], OptionError::OutOfRange(Blksize)),
            (b"\x00\x01f\0octet\0blksize\x00big\0", OptionError::NotANumber(Blksize)),
            (b"\x00\x01f\0octet\0blksize\0\0", OptionError::NotANumber(Blksize)),
            (b"\x00\x01f\0octet\0blksize\x00-512\0", OptionError::NotANumber(Blksize)),
            (b"\x00\x01f\0octet\0windowsize\x000\0", OptionError::OutOfRange(Windowsize)),
            (b"\x00\x01f\0octet\0timeout\x000\0", OptionError::OutOfRange(Timeout)),
            (b"\x00\x01f\0octet\0timeout\x00256\0", OptionError::OutOfRange(Timeout)),
            (b"\x00\x02f\0octet\0tsize\x00 1\0", OptionError::NotANumber(Tsize)),
            (b"\x00\x02f\0octet\0tsize\x0099999999999999999999\0", OptionError::OutOfRange(Tsize)),
        ] {
            assert_eq!(server(bytes, Some(1)), Err(err), "{bytes:?}");
        }
    }

    #[test]
    fn client_accepts_equal_or_smaller() {
        let asked =
            RequestOptions { blksize: Some(1024), windowsize: Some(8), timeout: Some(2), tsize: Some(0) };
        let got = client(
            asked,
            RequestKind::Read,
            &[("blksize", "512"), ("WINDOWSIZE", "8"), ("timeout", "2"), ("tsize", "4096")],
        );
        assert_eq!(
            got,
            Ok(TransferOptions { blksize: 512, windowsize: 8, timeout: Some(2), tsize: Some(4096) })
        );
        // Left out of the OACK: defaults.
        assert_eq!(client(asked, RequestKind::Read, &[]), Ok(TransferOptions::default()));
    }

    #[test]
    fn client_refuses_what_it_did_not_ask_for() {
        use OptionName::*;
        let asked =
            RequestOptions { blksize: Some(1024), windowsize: Some(8), timeout: Some(2), tsize: Some(10) };
        let read = RequestKind::Read;
        let write = RequestKind::Write;
        let none = RequestOptions::default();
        for (asked, kind, pairs, err) in [
            (asked, read, &[("blksize", "1025")][..], OptionError::LargerThanRequested(Blksize)),
            (asked, read, &[("windowsize", "9")], OptionError::LargerThanRequested(Windowsize)),
            (asked, read, &[("blksize", "4")], OptionError::OutOfRange(Blksize)),
            (asked, read, &[("windowsize", "0")], OptionError::OutOfRange(Windowsize)),
            (asked, read, &[("timeout", "3")], OptionError::Mismatch(Timeout)),
            (asked, write, &[("tsize", "11")], OptionError::Mismatch(Tsize)),
            (asked, read, &[("blksize", "x")], OptionError::NotANumber(Blksize)),
            (asked, read, &[("multicast", "1")], OptionError::NotRequested),
            (none, read, &[("blksize", "512")], OptionError::NotRequested),
            (none, read, &[("tsize", "0")], OptionError::NotRequested),
        ] {
            assert_eq!(client(asked, kind, pairs), Err(err), "{pairs:?}");
        }
    }

    #[test]
    fn request_option_ranges() {
        let bad = |o: RequestOptions| o.validate().is_err();
        assert!(bad(RequestOptions { blksize: Some(7), ..Default::default() }));
        assert!(bad(RequestOptions { blksize: Some(65465), ..Default::default() }));
        assert!(bad(RequestOptions { windowsize: Some(0), ..Default::default() }));
        assert!(bad(RequestOptions { timeout: Some(0), ..Default::default() }));
        let good =
            RequestOptions { blksize: Some(8), windowsize: Some(65535), timeout: Some(255), tsize: Some(0) };
        assert_eq!(good.validate(), Ok(()));
        assert_eq!(good.pairs().count(), 4);
    }
}
