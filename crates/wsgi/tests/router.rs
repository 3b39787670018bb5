//! A WSGI app mounted in a `pollux-web` router beside Rust routes, served on a real socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pollux_web::{get, Options, Router};
use pollux_wsgi::{Config, Wsgi};

fn exchange(addr: std::net::SocketAddr, raw: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(raw.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn a_wsgi_app_answers_below_its_prefix_and_rust_routes_beside_it() {
    let mut config = Config::new("echoapp".parse().expect("spec"));
    config.pythonpath.push(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps").into());
    config.threads = 2;
    let wsgi = Wsgi::load(&config).expect("load the app");
    let app = Router::new().route("/rust", get(|| "from rust\n")).nest_service("/py", wsgi).with_state(());
    let shutdown = pollux_server::Shutdown::new();
    let opts = Options {
        addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        workers: 1,
        handle_signals: false,
        shutdown: shutdown.clone(),
        access_log: pollux_server::AccessLog::Off,
        ..Options::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pollux_web::serve(opts, app, move |a| {
            let _ = tx.send(a[0]);
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("bound");

    let r = exchange(addr, "GET /rust HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(r.ends_with("\r\n\r\nfrom rust\n"), "{r}");
    let r = exchange(
        addr,
        "POST /py/items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert!(r.ends_with("\r\n\r\nPOST '' /items hello\n"), "{r}");
    shutdown.begin();
}
