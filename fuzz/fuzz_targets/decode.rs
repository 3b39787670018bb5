//! Feeds arbitrary bytes to the HTTP/1.1 request decoder in two reads, split at a point taken
//! from the first byte, and encodes a response for every request it yields.
//!
//! Oracles besides "no panic": the same bytes in one read must give the same events (how the
//! network splits bytes must never change what we parse), and an encoded head must contain
//! exactly one empty line, at its end (request field values echoed into a response must not
//! be able to inject lines).

#![no_main]

use bytes::BytesMut;
use http::{HeaderMap, StatusCode};
use libfuzzer_sys::fuzz_target;
use pollux_http1::{
    encode_chunk, encode_head, encode_last_chunk, Event, Framing, Limits, RequestDecoder, ResponseHead,
};

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(first) * input.len() / 255;
    // Odd first bytes get tiny limits, so the limit paths are reached with small inputs.
    let limits = if first & 1 == 1 {
        Limits { max_target: 24, max_head: 200, max_headers: 6, max_body: 64, max_trailer: 32 }
    } else {
        Limits::default()
    };
    let split_run = run(input, &[split], limits);
    let whole_run = run(input, &[], limits);
    assert_eq!(split_run, whole_run, "split at {split} changed the outcome");
});

/// Decodes `input` cut at `cuts`, encoding a response as it goes; returns a transcript.
fn run(input: &[u8], cuts: &[usize], limits: Limits) -> Vec<String> {
    let mut decoder = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut transcript = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Event::Head(head))) => {
                    transcript.push(format!(
                        "{} {} {:?} {:?} {:?} {}",
                        head.method, head.uri, head.version, head.headers, head.body, head.keep_alive
                    ));
                    respond(&mut out, &head.headers, &head.method, head.version, head.keep_alive);
                }
                Ok(Some(Event::Data(data))) => {
                    transcript.push(format!("data {}", data.len()));
                    encode_chunk(&mut out, &data);
                }
                Ok(Some(Event::End(trailers))) => {
                    transcript.push(format!("end {trailers:?}"));
                    encode_last_chunk(&mut out);
                }
                Ok(None) => break,
                Err(e) => {
                    transcript.push(format!("error {e:?} {}", e.status()));
                    return merge_data(transcript);
                }
            }
        }
    }
    merge_data(transcript)
}

/// Body pieces depend on the reads; only their total per message must match.
fn merge_data(transcript: Vec<String>) -> Vec<String> {
    let mut merged: Vec<String> = Vec::new();
    let mut pending = 0usize;
    for line in transcript {
        if let Some(n) = line.strip_prefix("data ").and_then(|n| n.parse::<usize>().ok()) {
            pending += n;
            continue;
        }
        if pending > 0 {
            merged.push(format!("data {pending}"));
            pending = 0;
        }
        merged.push(line);
    }
    if pending > 0 {
        merged.push(format!("data {pending}"));
    }
    merged
}

/// Encodes a response that echoes the request's fields, and checks its shape.
fn respond(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    method: &http::Method,
    version: http::Version,
    keep_alive: bool,
) {
    let framing = Framing::choose(method, version, StatusCode::OK, None);
    let mut head = Vec::new();
    encode_head(
        &mut head,
        &ResponseHead {
            status: StatusCode::OK,
            headers,
            framing,
            close: !keep_alive,
            keep_alive_header: keep_alive && version == http::Version::HTTP_10,
            date: b"Sun, 06 Nov 1994 08:49:37 GMT",
            server: b"pollux",
            server_and_date: b"Server: pollux\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
            encoded: None,
            extra: b"Strict-Transport-Security: max-age=60\r\n",
        },
    );
    let blank = head.windows(4).position(|w| w == b"\r\n\r\n");
    assert_eq!(blank, Some(head.len() - 4), "response head has an early empty line");
    out.extend_from_slice(&head);
}
