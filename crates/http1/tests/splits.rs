//! Property: how the bytes are split into reads never changes what the decoder makes of them.
//!
//! A stream of pipelined requests (Content-Length and chunked bodies, extensions, trailers,
//! stray empty lines), sometimes mutated into something invalid, is decoded once from a
//! single buffer and once fed in arbitrary pieces. The normalized results (heads, body bytes
//! per message, trailers, and the final error) must be identical.

use bytes::BytesMut;
use http::HeaderMap;
use pollux_http1::{Error, Event, Limits, RequestDecoder};
use proptest::collection::vec;
use proptest::prelude::*;

/// One message as seen by a caller that gathers body pieces.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Head { method: String, uri: String, version: String, headers: Vec<(String, Vec<u8>)>, keep_alive: bool },
    Body(Vec<u8>),
    End(Option<Vec<(String, Vec<u8>)>>),
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    seen: Vec<Seen>,
    error: Option<Error>,
}

fn fields(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect()
}

/// Feeds `input` cut at `cuts` (sorted offsets), draining the decoder after each read.
fn decode(input: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    let mut decoder = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Event::Head(h))) => {
                    seen.push(Seen::Head {
                        method: h.method.to_string(),
                        uri: h.uri.to_string(),
                        version: format!("{:?}", h.version),
                        headers: fields(&h.headers),
                        keep_alive: h.keep_alive,
                    });
                    body = Some(Vec::new());
                }
                Ok(Some(Event::Data(d))) => body.get_or_insert_with(Vec::new).extend_from_slice(&d),
                Ok(Some(Event::End(t))) => {
                    seen.push(Seen::Body(body.take().unwrap_or_default()));
                    seen.push(Seen::End(t.as_ref().map(fields)));
                }
                Ok(None) => break,
                Err(e) => {
                    seen.extend(body.take().map(Seen::Body));
                    return Outcome { seen, error: Some(e) };
                }
            }
        }
    }
    seen.extend(body.take().map(Seen::Body));
    Outcome { seen, error: None }
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9-]{0,6}"
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-z0-9/._-]{0,12}(\\?[a-z0-9=&]{0,8})?",
        Just("*".to_string()),
        Just("http://example.com/abs".to_string()),
    ]
}

fn extra_headers() -> impl Strategy<Value = String> {
    vec((token(), "[ -~]{0,10}"), 0..3).prop_map(|hs| {
        hs.into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
            .map(|(n, v)| format!("X-{n}: {v}\r\n"))
            .collect()
    })
}

/// One valid request.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let empty = (target(), any::<bool>(), extra_headers()).prop_map(|(t, v10, h)| {
        let method = if t == "*" { "OPTIONS" } else { "GET" };
        let version = if v10 { "HTTP/1.0\r\nConnection: keep-alive" } else { "HTTP/1.1" };
        format!("{method} {t} {version}\r\nHost: h\r\n{h}\r\n").into_bytes()
    });
    let sized = (vec(any::<u8>(), 0..40), extra_headers()).prop_map(|(body, h)| {
        let mut m =
            format!("POST /cl HTTP/1.1\r\nHost: h\r\n{h}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        m.extend_from_slice(&body);
        m
    });
    let chunked = (
        vec((vec(any::<u8>(), 1..20), prop::option::of("[a-z]{1,4}")), 0..4),
        vec((token(), "[a-z0-9 ]{0,6}"), 0..2),
    )
        .prop_map(|(chunks, trailers)| {
            let mut m = b"PUT /ch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for (data, ext) in chunks {
                let ext = ext.map(|e| format!(" ; {e} = \"v\"")).unwrap_or_default();
                m.extend_from_slice(format!("{:X}{ext}\r\n", data.len()).as_bytes());
                m.extend_from_slice(&data);
                m.extend_from_slice(b"\r\n");
            }
            m.extend_from_slice(b"0\r\n");
            for (n, v) in trailers {
                m.extend_from_slice(format!("T-{n}: {v}\r\n").as_bytes());
            }
            m.extend_from_slice(b"\r\n");
            m
        });
    prop_oneof![empty, sized, chunked]
}

/// Several pipelined requests, sometimes with empty lines between them, sometimes mutated.
fn valid_stream() -> impl Strategy<Value = Vec<u8>> {
    vec((message(), any::<bool>()), 1..4).prop_map(|ms| {
        ms.into_iter()
            .flat_map(|(m, crlf)| if crlf { [b"\r\n".to_vec(), m].concat() } else { m })
            .collect::<Vec<u8>>()
    })
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    let mutation = (any::<usize>(), any::<u8>(), 0..3u8);
    let specials =
        prop_oneof![Just(b'\r'), Just(b'\n'), Just(b' '), Just(b':'), Just(b'0'), Just(b';'), any::<u8>()];
    prop_oneof![
        3 => valid_stream(),
        3 => (valid_stream(), vec((mutation, specials), 1..4)).prop_map(|(mut s, muts)| {
            for ((at, _, op), byte) in muts {
                if s.is_empty() {
                    break;
                }
                let at = at % s.len();
                match op {
                    0 => s[at] = byte,
                    1 => s.insert(at, byte),
                    _ => {
                        s.remove(at);
                    }
                }
            }
            s
        }),
        1 => vec(any::<u8>(), 0..200),
    ]
}

fn small_limits() -> Limits {
    Limits { max_target: 16, max_head: 160, max_headers: 4, max_body: 48, max_trailer: 24 }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_split_gives_the_same_events(
        input in stream(),
        raw_cuts in vec(any::<usize>(), 0..12),
        small in any::<bool>(),
    ) {
        let limits = if small { small_limits() } else { Limits::default() };
        let mut cuts: Vec<usize> = raw_cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let whole = decode(&input, &[], limits);
        let pieces = decode(&input, &cuts, limits);
        prop_assert_eq!(&whole, &pieces, "cuts {:?}", cuts);
        // Byte by byte is the harshest split of all.
        let every: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&whole, &decode(&input, &every, limits));
    }

    #[test]
    fn valid_streams_decode_without_error(input in vec(message(), 1..4)) {
        let input: Vec<u8> = input.concat();
        let out = decode(&input, &[], Limits::default());
        prop_assert_eq!(out.error, None);
        let ends = out.seen.iter().filter(|s| matches!(s, Seen::End(_))).count();
        let heads = out.seen.iter().filter(|s| matches!(s, Seen::Head { .. })).count();
        prop_assert_eq!(ends, heads);
    }
}
