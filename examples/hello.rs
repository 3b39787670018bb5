//! The first server of any network-programming course, and a mirror of what the parser understood.
//!
//! `GET /` → `Hello World`; `GET /plaintext` and `GET /json` follow the TechEmpower rules;
//! anything else gets a JSON description of the parsed request (method, target, version,
//! headers, body length and SHA-256), which the conformance tests read back.
//!
//! ```text
//! cargo build --release --examples && target/release/examples/hello --bind 127.0.0.1:8080
//! ```

use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response};
use pollux_server::{AccessLog, Body, ConnInfo, Options};
use sha2::{Digest, Sha256};

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (repeatable).
    #[arg(long = "bind", default_value = "127.0.0.1:8080")]
    bind: Vec<SocketAddr>,
    /// Worker threads [default: available cores].
    #[arg(long)]
    workers: Option<usize>,
}

// Validated at compile time, not on every response.
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

fn hello(req: Request<Body>, _conn: &ConnInfo) -> Response<Body> {
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    match req.uri().path() {
        "/" if get => text(TEXT_PLAIN, Bytes::from_static(b"Hello World")),
        "/plaintext" if get => text(TEXT_PLAIN, Bytes::from_static(b"Hello, World!")),
        "/json" if get => {
            let body =
                serde_json::to_vec(&serde_json::json!({ "message": "Hello, World!" })).unwrap_or_default();
            text(APPLICATION_JSON, Bytes::from(body))
        }
        _ => describe(req),
    }
}

fn text(ct: HeaderValue, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Body::Bytes(body));
    r.headers_mut().insert(CONTENT_TYPE, ct);
    r
}

fn describe(req: Request<Body>) -> Response<Body> {
    let headers: Vec<[String; 2]> = req
        .headers()
        .iter()
        .map(|(n, v)| [n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()])
        .collect();
    let body = req.body().as_bytes();
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let out = serde_json::json!({
        "method": req.method().as_str(),
        "target": req.uri().to_string(),
        "version": format!("{:?}", req.version()),
        "headers": headers,
        "body_len": body.len(),
        "body_sha256": hex,
    });
    text(APPLICATION_JSON, Bytes::from(serde_json::to_vec(&out).unwrap_or_default()))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let defaults = Options::default();
    let opts = Options {
        addrs: args.bind,
        workers: args.workers.unwrap_or(defaults.workers),
        access_log: AccessLog::Off,
        ..defaults
    };
    pollux_server::serve(opts, hello, |addrs| {
        for a in addrs {
            println!("hello: listening on http://{a}");
        }
    })
}
