//! The test harness every pollux test shares: start the real `pollux` binary (or an example, or
//! an app in-process) on `127.0.0.1:0`, wait until it says it is ready, and talk to it over real
//! sockets with raw bytes.
//!
//! ```text
//!   test ──► process::spawn ──► child prints `http://ADDR` / `tcp://ADDR` / `tftp://ADDR`
//!              │  (readiness is that line, never a sleep)        │
//!              ▼                                                  ▼
//!   http::{send, request, Conn} ── raw HTTP/1.1 bytes ──►  the server under test
//!   tftp::{hpa, atftp, in_tftpd} ── real TFTP clients/servers ──►
//!   h2::{curl_h2, nghttp, h2load, h2_script} ── real HTTP/2 clients ──►
//!   retry::{ReadRetry, recv_from} ── blocking socket calls that retry EINTR
//!   fleet::Fleet ── netns LAN, 3 × pollux, HAProxy, wrk ── the operations scenarios
//! ```
//!
//! A dev-dependency only (`publish = false`): of the root package, whose black-box tests drive
//! the binary, and of the library crates whose own tests serve an app in-process
//! ([`app::start_app`]). [`process::pollux_bin`] finds the binary next to the running test
//! executable, where cargo builds it for the root package's integration tests; a library
//! crate's tests have no binary to find and must not call it.
//!
//! Everything is re-exported at the top, so a test says `use pollux_testkit::{serve, send};`.

#![forbid(unsafe_code)]

pub mod app;
pub mod browser;
pub mod data;
pub mod fleet;
pub mod group;
pub mod h2;
pub mod haproxy;
pub mod http;
pub mod net;
pub mod netns;
pub mod process;
pub mod procfs;
pub mod retry;
pub mod tftp;
pub mod tls;
pub mod tmux;
pub mod wrk;

pub use app::{start_app, start_app_with, AppServer};
pub use browser::chromium;
pub use data::{assert_same_file, byte_pattern, random_bytes, upload_block, upload_sha256, TempRoot};
pub use fleet::{Fleet, FleetSpec, Instance};
pub use group::{Group, Signal};
pub use h2::{
    curl_h2, h2_python, h2_script, h2_script_command, h2load, httpwg_bin, last_line, nghttp, H2Resp, H2load,
    RssWatch, Trace, TraceFrame, Via,
};
pub use haproxy::{Haproxy, Health, ServerStat, ServerState};
pub use http::{
    connect, curl, env_map, exchange, fetch, find, get_with, parse_responses, read_all, request, send,
    send_body, Conn, Resp,
};
pub use net::{socat_io, tcp_round_trip};
pub use netns::{Lan, Node};
pub use process::{
    check, example_bin, hello, pollux_bin, run_bounded, run_bounded_input, run_within, serve, spawn,
    spawn_bound, target_dir, wait_exit, wait_until, write_scripts, Log, Server,
};
pub use procfs::{assert_no_zombies, children_of, group_members, processes, rss_kib, zombies_of};
pub use retry::{recv_from, ReadRetry};
pub use tmux::Tmux;
pub use wrk::{Load, Totals};
