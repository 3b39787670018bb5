//! The TechEmpower test types on pollux-web: `/plaintext` and `/json`, by the rules
//! (<https://github.com/TechEmpower/FrameworkBenchmarks/wiki/Project-Information-Framework-Tests-Overview>):
//! the JSON object is built and serialized per request, and every response carries `Server`
//! and `Date` (the server adds both).
//!
//! ```text
//! cargo build --release --examples && target/release/examples/techempower --bind 127.0.0.1:8080
//! ```

use std::net::SocketAddr;

use clap::Parser;
use pollux_server::AccessLog;
use pollux_web::extract::Json;
use pollux_web::{get, Options, Router};
use serde::Serialize;

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (repeatable).
    #[arg(long = "bind", default_value = "127.0.0.1:8080")]
    bind: Vec<SocketAddr>,
    /// Worker threads [default: available cores].
    #[arg(long)]
    workers: Option<usize>,
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn plaintext() -> &'static str {
    "Hello, World!"
}

fn json() -> Json<Message> {
    Json(Message { message: "Hello, World!" })
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = Router::new().route("/plaintext", get(plaintext)).route("/json", get(json)).into_app();
    let defaults = Options::default();
    let opts = Options {
        addrs: args.bind,
        workers: args.workers.unwrap_or(defaults.workers),
        access_log: AccessLog::Off,
        ..defaults
    };
    pollux_web::serve(opts, app, |addrs| {
        for a in addrs {
            println!("techempower: listening on http://{a}");
        }
    })
}
