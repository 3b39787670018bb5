//! A handler served in this process: what a library crate's tests use instead of the binary.
//! Readiness is the server's own `on_bound` callback, sent over a channel.

use std::net::SocketAddr;
use std::time::Duration;

/// An app served in-process on `127.0.0.1:0` by one worker; shut down when dropped.
#[derive(Debug)]
pub struct AppServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: pollux_server::Shutdown,
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.shutdown.begin();
    }
}

/// Serves `app` (any server handler: a `pollux_web::App`, a closure) in this process, with one
/// worker, signals and the access log off, and a 2 s shutdown grace.
pub fn start_app(app: impl pollux_server::Handler) -> AppServer {
    start_app_with(app, |_| {})
}

/// [`start_app`] with options changed by `tweak`.
pub fn start_app_with(
    app: impl pollux_server::Handler,
    tweak: impl FnOnce(&mut pollux_server::Options),
) -> AppServer {
    let shutdown = pollux_server::Shutdown::new();
    let mut opts = pollux_server::Options {
        addrs: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        workers: 1,
        handle_signals: false,
        shutdown: shutdown.clone(),
        access_log: pollux_server::AccessLog::Off,
        grace: Duration::from_secs(2),
        ..Default::default()
    };
    tweak(&mut opts);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pollux_server::serve(opts, app, move |a| {
            let _ = tx.send(a[0]);
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).expect("server bound");
    AppServer { addr, shutdown }
}
