//! SETTINGS (RFC 9113 §6.5): the limits we announce, from [`Config`], and the peer's values
//! as they arrive, validated one by one in order (§6.5.3).

use crate::error::ErrorCode;
use crate::flood::Flood;
use crate::frame::{
    self, Violation, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, MAX_FRAME_SIZE_LIMIT, MAX_WINDOW,
};

/// Setting identifiers (§6.5.2).
pub(crate) mod id {
    pub(crate) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(crate) const ENABLE_PUSH: u16 = 0x2;
    pub(crate) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(crate) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(crate) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(crate) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// HPACK's default dynamic table size (RFC 7541 §4.2, RFC 9113 §6.5.2).
pub(crate) const DEFAULT_HEADER_TABLE_SIZE: u32 = 4096;

/// Limits and our SETTINGS. Defaults in brackets.
#[derive(Debug, Clone)]
pub struct Config {
    /// [100] SETTINGS_MAX_CONCURRENT_STREAMS: a HEADERS opening one more stream is refused
    /// with RST_STREAM(REFUSED_STREAM) (§5.1.2).
    pub max_concurrent_streams: u32,
    /// [256 KiB] Our SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. At most 2^31-1.
    pub initial_window_size: u32,
    /// [1 MiB] The connection's receive window, raised from 65,535 by a WINDOW_UPDATE right after
    /// our SETTINGS. At least 65,535 (a connection window cannot be shrunk, §6.9.2).
    pub connection_window: u32,
    /// [16,384] The largest frame payload we accept. Announced as SETTINGS_MAX_FRAME_SIZE only
    /// when it differs from the default; kept within 16,384..=2^24-1.
    pub max_frame_size: u32,
    /// [32 KiB] SETTINGS_MAX_HEADER_LIST_SIZE, sized as RFC 7541 §4.1 does (name + value + 32 per
    /// field). A request above it is passed on with `too_large` set, for a 431.
    pub max_header_list_size: u32,
    /// [64 KiB] Compressed octets of one field block across HEADERS and CONTINUATION; beyond it
    /// the connection ends with ENHANCE_YOUR_CALM (HPACK can inflate each octet into a whole
    /// table entry, so the block itself must be bounded).
    pub max_header_block: usize,
    /// [16] CONTINUATION frames in one field block; beyond it GOAWAY(ENHANCE_YOUR_CALM) (the
    /// CONTINUATION flood, CVE-2024-27316 and relatives).
    pub max_continuations: u32,
    /// [4096] SETTINGS_HEADER_TABLE_SIZE for our HPACK decoder: a dynamic table size update above
    /// it is a COMPRESSION_ERROR. Announced only when it differs from the default.
    pub header_table_size: u32,
    /// Token buckets against floods of cheap frames.
    pub flood: Flood,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 100,
            initial_window_size: 256 * 1024,
            connection_window: 1024 * 1024,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: 32 * 1024,
            max_header_block: 64 * 1024,
            max_continuations: 16,
            header_table_size: DEFAULT_HEADER_TABLE_SIZE,
            flood: Flood::default(),
        }
    }
}

impl Config {
    /// The values clamped into what the protocol allows.
    pub(crate) fn normalized(mut self) -> Config {
        self.initial_window_size = self.initial_window_size.min(MAX_WINDOW);
        self.connection_window = self.connection_window.clamp(DEFAULT_WINDOW, MAX_WINDOW);
        self.max_frame_size = self.max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT);
        self
    }

    /// Appends our SETTINGS frame. ENABLE_PUSH is a client's setting (§6.5.2: a server must not
    /// send 1, and 0 means nothing from a server), so it is left out.
    pub(crate) fn encode_settings(&self, out: &mut Vec<u8>) {
        let mut pairs = [(0u16, 0u32); 5];
        let mut n = 0;
        let mut push = |id: u16, value: u32| {
            pairs[n] = (id, value);
            n += 1;
        };
        if self.header_table_size != DEFAULT_HEADER_TABLE_SIZE {
            push(id::HEADER_TABLE_SIZE, self.header_table_size);
        }
        push(id::MAX_CONCURRENT_STREAMS, self.max_concurrent_streams);
        push(id::INITIAL_WINDOW_SIZE, self.initial_window_size);
        if self.max_frame_size != DEFAULT_MAX_FRAME_SIZE {
            push(id::MAX_FRAME_SIZE, self.max_frame_size);
        }
        push(id::MAX_HEADER_LIST_SIZE, self.max_header_list_size);
        frame::encode_settings(out, &pairs[..n]);
    }
}

/// The peer's settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerSettings {
    pub(crate) initial_window_size: u32,
    pub(crate) max_frame_size: u32,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings { initial_window_size: DEFAULT_WINDOW, max_frame_size: DEFAULT_MAX_FRAME_SIZE }
    }
}

/// What applying one setting changed that others must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    Nothing,
    /// Every stream's send window moves by this much (§6.9.2).
    InitialWindow(i64),
    /// The peer's decoder table size: our encoder must stay within it.
    HeaderTableSize(u32),
}

impl PeerSettings {
    /// Validates and applies one (identifier, value) pair. Unknown identifiers are ignored
    /// (§6.5.2); so are MAX_CONCURRENT_STREAMS (we never open streams) and
    /// MAX_HEADER_LIST_SIZE (advisory; our responses are small).
    pub(crate) fn apply(&mut self, id: u16, value: u32) -> Result<Applied, Violation> {
        match id {
            id::HEADER_TABLE_SIZE => Ok(Applied::HeaderTableSize(value)),
            id::ENABLE_PUSH if value > 1 => {
                Err(Violation::Conn(ErrorCode::ProtocolError, "SETTINGS_ENABLE_PUSH not 0 or 1"))
            }
            id::INITIAL_WINDOW_SIZE => {
                if value > MAX_WINDOW {
                    return Err(Violation::Conn(
                        ErrorCode::FlowControlError,
                        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                    ));
                }
                let delta = i64::from(value) - i64::from(self.initial_window_size);
                self.initial_window_size = value;
                Ok(Applied::InitialWindow(delta))
            }
            id::MAX_FRAME_SIZE => {
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&value) {
                    return Err(Violation::Conn(
                        ErrorCode::ProtocolError,
                        "SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1",
                    ));
                }
                self.max_frame_size = value;
                Ok(Applied::Nothing)
            }
            _ => Ok(Applied::Nothing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_default_settings_frame() {
        let mut out = Vec::new();
        Config::default().encode_settings(&mut out);
        let mut want = b"\0\0\x12\x04\0\0\0\0\0".to_vec();
        want.extend_from_slice(b"\x00\x03\x00\x00\x00\x64"); // MAX_CONCURRENT_STREAMS 100
        want.extend_from_slice(b"\x00\x04\x00\x04\x00\x00"); // INITIAL_WINDOW_SIZE 262144
        want.extend_from_slice(b"\x00\x06\x00\x00\x80\x00"); // MAX_HEADER_LIST_SIZE 32768
        assert_eq!(out, want);
    }

    #[test]
    fn non_default_table_and_frame_sizes_are_announced() {
        let config = Config { header_table_size: 0, max_frame_size: 1 << 20, ..Config::default() };
        let mut out = Vec::new();
        config.encode_settings(&mut out);
        assert_eq!(&out[..3], b"\0\0\x1e");
        assert_eq!(&out[9..15], b"\x00\x01\x00\x00\x00\x00");
        assert_eq!(&out[27..33], b"\x00\x05\x00\x10\x00\x00");
    }

    #[test]
    fn normalized_clamps_into_protocol_ranges() {
        let c = Config {
            initial_window_size: u32::MAX,
            connection_window: 10,
            max_frame_size: 1,
            ..Config::default()
        }
        .normalized();
        assert_eq!(c.initial_window_size, MAX_WINDOW);
        assert_eq!(c.connection_window, 65_535);
        assert_eq!(c.max_frame_size, 16_384);
        assert_eq!(
            Config { max_frame_size: u32::MAX, ..Config::default() }.normalized().max_frame_size,
            (1 << 24) - 1
        );
    }

    #[test]
    fn enable_push_must_be_zero_or_one() {
        let mut p = PeerSettings::default();
        assert_eq!(p.apply(id::ENABLE_PUSH, 0), Ok(Applied::Nothing));
        assert_eq!(p.apply(id::ENABLE_PUSH, 1), Ok(Applied::Nothing));
        assert!(matches!(p.apply(id::ENABLE_PUSH, 2), Err(Violation::Conn(ErrorCode::ProtocolError, _))));
    }

    #[test]
    fn initial_window_size_reports_the_delta_and_refuses_above_the_maximum() {
        let mut p = PeerSettings::default();
        assert_eq!(p.apply(id::INITIAL_WINDOW_SIZE, 100), Ok(Applied::InitialWindow(100 - 65_535)));
        assert_eq!(p.apply(id::INITIAL_WINDOW_SIZE, 1), Ok(Applied::InitialWindow(-99)));
        assert_eq!(p.initial_window_size, 1);
        assert!(matches!(
            p.apply(id::INITIAL_WINDOW_SIZE, 1 << 31),
            Err(Violation::Conn(ErrorCode::FlowControlError, _))
        ));
        assert_eq!(
            p.apply(id::INITIAL_WINDOW_SIZE, MAX_WINDOW),
            Ok(Applied::InitialWindow(i64::from(MAX_WINDOW) - 1))
        );
    }

    #[test]
    fn max_frame_size_range() {
        let mut p = PeerSettings::default();
        assert!(matches!(
            p.apply(id::MAX_FRAME_SIZE, (1 << 14) - 1),
            Err(Violation::Conn(ErrorCode::ProtocolError, _))
        ));
        assert!(matches!(
            p.apply(id::MAX_FRAME_SIZE, 1 << 24),
            Err(Violation::Conn(ErrorCode::ProtocolError, _))
        ));
        assert_eq!(p.apply(id::MAX_FRAME_SIZE, (1 << 24) - 1), Ok(Applied::Nothing));
        assert_eq!(p.max_frame_size, (1 << 24) - 1);
    }

    #[test]
    fn unknown_and_advisory_settings_are_ignored() {
        let mut p = PeerSettings::default();
        assert_eq!(p.apply(0xff, 0), Ok(Applied::Nothing));
        assert_eq!(p.apply(id::MAX_CONCURRENT_STREAMS, 0), Ok(Applied::Nothing));
        assert_eq!(p.apply(id::MAX_HEADER_LIST_SIZE, 1), Ok(Applied::Nothing));
        assert_eq!(p.apply(id::HEADER_TABLE_SIZE, 0), Ok(Applied::HeaderTableSize(0)));
        assert_eq!(p, PeerSettings::default());
    }
}
