//! A test client: builds frames by hand (HPACK blocks with pollux-hpack's encoder), feeds
//! them to a [`Connection`] and parses what it sends back.

use bytes::{Bytes, BytesMut};

use crate::frame::{flag, kind, PREFACE};
use crate::{Config, ConnError, Connection, ErrorCode, Event, StreamId};

/// A frame the server wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Out {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: StreamId,
    pub(crate) payload: Vec<u8>,
}

impl Out {
    pub(crate) fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.payload[at],
            self.payload[at + 1],
            self.payload[at + 2],
            self.payload[at + 3],
        ])
    }
}

/// Cuts a byte string into frames; panics on a partial one (the server never writes those).
pub(crate) fn parse_frames(mut bytes: &[u8]) -> Vec<Out> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 9, "partial frame header: {bytes:?}");
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        assert!(bytes.len() >= 9 + len, "partial frame payload");
        frames.push(Out {
            kind: bytes[3],
            flags: bytes[4],
            stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]),
            payload: bytes[9..9 + len].to_vec(),
        });
        bytes = &bytes[9 + len..];
    }
    frames
}

// ---- frame builder ----------------------------------------------------------------------------

pub(crate) fn frame(kind: u8, flags: u8, stream: StreamId, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub(crate) fn data(stream: StreamId, end_stream: bool, payload: &[u8]) -> Vec<u8> {
    frame(kind::DATA, if end_stream { flag::END_STREAM } else { 0 }, stream, payload)
}

pub(crate) fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(kind::SETTINGS, 0, 0, &p)
}

pub(crate) fn settings_ack() -> Vec<u8> {
    frame(kind::SETTINGS, flag::ACK, 0, &[])
}

pub(crate) fn ping(payload: &[u8; 8]) -> Vec<u8> {
    frame(kind::PING, 0, 0, payload)
}

pub(crate) fn rst_stream(stream: StreamId, code: ErrorCode) -> Vec<u8> {
    frame(kind::RST_STREAM, 0, stream, &code.as_u32().to_be_bytes())
}

pub(crate) fn window_update(stream: StreamId, increment: u32) -> Vec<u8> {
    frame(kind::WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

pub(crate) fn priority(stream: StreamId, dependency: StreamId) -> Vec<u8> {
    let mut p = dependency.to_be_bytes().to_vec();
    p.push(15);
    frame(kind::PRIORITY, 0, stream, &p)
}

pub(crate) fn goaway(last: StreamId, code: ErrorCode) -> Vec<u8> {
    let mut p = last.to_be_bytes().to_vec();
    p.extend_from_slice(&code.as_u32().to_be_bytes());
    frame(kind::GOAWAY, 0, 0, &p)
}

/// The pseudo-headers of a request to `https://example.com/`.
pub(crate) const GET: &[(&str, &str)] =
    &[(":method", "GET"), (":scheme", "https"), (":authority", "example.com"), (":path", "/")];
pub(crate) const POST: &[(&str, &str)] =
    &[(":method", "POST"), (":scheme", "https"), (":authority", "example.com"), (":path", "/upload")];

/// A test client with its own HPACK contexts and simulated clock.
pub(crate) struct Client {
    pub(crate) conn: Connection,
    pub(crate) enc: pollux_hpack::Encoder,
    pub(crate) dec: pollux_hpack::Decoder,
    pub(crate) now: u64,
    pub(crate) inbuf: BytesMut,
}

impl Client {
    /// A connection that has seen nothing yet.
    pub(crate) fn fresh(config: Config) -> Client {
        Client {
            conn: Connection::new(config),
            enc: pollux_hpack::Encoder::new(),
            dec: pollux_hpack::Decoder::new(4096),
            now: 1_000,
            inbuf: BytesMut::new(),
        }
    }

    /// Preface, an empty SETTINGS, our ack of the server's; the server's preface and ack
    /// are taken off the output.
    pub(crate) fn with(config: Config) -> Client {
        Client::with_settings(config, &[])
    }

    pub(crate) fn with_settings(config: Config, pairs: &[(u16, u32)]) -> Client {
        let mut c = Client::fresh(config);
        let mut bytes = PREFACE.to_vec();
        bytes.extend(settings(pairs));
        bytes.extend(settings_ack());
        c.send(&bytes).expect("handshake");
        let out = c.frames();
        assert_eq!(out[0].kind, kind::SETTINGS);
        assert!(out.iter().any(|f| f.kind == kind::SETTINGS && f.has(flag::ACK)), "{out:?}");
        assert!(c.conn.is_established());
        c
    }

    pub(crate) fn new() -> Client {
        Client::with(Config::default())
    }

    /// Feeds bytes (kept if partial) at the current time.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.inbuf.extend_from_slice(bytes);
        self.conn.handle_read(&mut self.inbuf, self.now)
    }

    /// Feeds several frames in one read.
    pub(crate) fn send_all(&mut self, frames: &[Vec<u8>]) -> Result<(), ConnError> {
        self.send(&frames.concat())
    }

    /// Everything `poll_transmit` has, as frames.
    pub(crate) fn frames(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        self.conn.poll_transmit(&mut out);
        parse_frames(&out)
    }

    pub(crate) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// An HPACK block for `fields`, from the client's encoder.
    pub(crate) fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        self.enc.begin(&mut out);
        for (n, v) in fields {
            self.enc.field(n.as_bytes(), v.as_bytes(), &mut out);
        }
        out
    }

    /// A HEADERS frame with END_HEADERS carrying `fields`.
    pub(crate) fn headers(&mut self, stream: StreamId, end_stream: bool, fields: &[(&str, &str)]) -> Vec<u8> {
        let block = self.block(fields);
        let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
        frame(kind::HEADERS, flags, stream, &block)
    }

    /// Sends a request and takes its Request event.
    pub(crate) fn request(&mut self, stream: StreamId, end_stream: bool, fields: &[(&str, &str)]) {
        let f = self.headers(stream, end_stream, fields);
        self.send(&f).expect("request accepted");
        match self.events().as_slice() {
            [Event::Request { stream: s, end_stream: e, .. }] => {
                assert_eq!((*s, *e), (stream, end_stream));
            }
            other => panic!("expected one Request, got {other:?}"),
        }
    }

    /// Decodes a response field block.
    pub(crate) fn decode(&mut self, block: &[u8]) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        self.dec
            .decode(&Bytes::copy_from_slice(block), |n, v, _| {
                fields
                    .push((String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(&v).into_owned()))
            })
            .expect("the server's block decodes");
        fields
    }
}

/// The GOAWAY among `frames`: (last stream id, code).
pub(crate) fn goaway_of(frames: &[Out]) -> Option<(StreamId, ErrorCode)> {
    frames
        .iter()
        .find(|f| f.kind == kind::GOAWAY)
        .map(|f| (f.u32_at(0) & 0x7fff_ffff, ErrorCode::from_u32(f.u32_at(4))))
}

/// Every RST_STREAM among `frames`: (stream, code).
pub(crate) fn resets_of(frames: &[Out]) -> Vec<(StreamId, ErrorCode)> {
    frames
        .iter()
        .filter(|f| f.kind == kind::RST_STREAM)
        .map(|f| (f.stream, ErrorCode::from_u32(f.u32_at(0))))
        .collect()
}

/// Every WINDOW_UPDATE among `frames`: (stream, increment).
pub(crate) fn window_updates_of(frames: &[Out]) -> Vec<(StreamId, u32)> {
    frames.iter().filter(|f| f.kind == kind::WINDOW_UPDATE).map(|f| (f.stream, f.u32_at(0))).collect()
}

/// Asserts a connection error with `code` and the GOAWAY for it.
#[track_caller]
pub(crate) fn assert_conn_error(c: &mut Client, result: Result<(), ConnError>, code: ErrorCode) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "{e}"),
        Ok(()) => panic!("expected a connection error {code}"),
    }
    let frames = c.frames();
    assert_eq!(goaway_of(&frames).map(|g| g.1), Some(code), "{frames:?}");
    assert!(c.conn.is_done());
}

/// Asserts exactly one RST_STREAM, on `stream` with `code`, and no GOAWAY.
#[track_caller]
pub(crate) fn assert_stream_error(
    c: &mut Client,
    result: Result<(), ConnError>,
    stream: StreamId,
    code: ErrorCode,
) {
    assert_eq!(result, Ok(()));
    let frames = c.frames();
    assert_eq!(resets_of(&frames), [(stream, code)], "{frames:?}");
    assert_eq!(goaway_of(&frames), None);
}
