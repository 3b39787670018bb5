//! Server options: what `pollux serve` flags set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pollux_http1::Limits;
use pollux_reactor::Shutdown;

/// Where the access log (Common Log Format) goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    Stderr,
    File(PathBuf),
}

/// Everything that shapes a running server.
#[derive(Debug, Clone)]
pub struct Options {
    pub addrs: Vec<SocketAddr>,
    pub workers: usize,
    pub backlog: i32,
    /// Connections across all workers; `None` derives it from `RLIMIT_NOFILE`.
    pub max_conns: Option<usize>,
    /// Time allowed for a complete request head (then 408). The slow-client (slowloris) defence.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests.
    pub keepalive_timeout: Duration,
    /// Longest pause while reading a request body.
    pub body_timeout: Duration,
    /// Longest pause while the client does not read our response.
    pub send_timeout: Duration,
    /// After a final response on a closing connection: how long to keep discarding the
    /// client's bytes so that closing does not reset the connection before it read the answer.
    pub linger: Duration,
    pub grace: Duration,
    /// During a graceful shutdown, how long an idle keep-alive connection stays open for
    /// one more request (answered with `Connection: close`) before it is closed. A client
    /// whose next request is already on its way then gets an answer instead of a closed
    /// connection, and reconnects to whoever still accepts (another process on the same
    /// socket, say).
    pub drain_idle: Duration,
    /// How long a worker-local [`crate::Task`] (a CGI script) may go without producing or
    /// consuming a byte before [`crate::Task::on_timeout`].
    pub task_timeout: Duration,
    pub limits: Limits,
    pub access_log: AccessLog,
    /// The `Server` header; empty for none.
    pub server_name: String,
    /// Catch SIGINT/SIGTERM (graceful, then immediate).
    pub handle_signals: bool,
    pub shutdown: Shutdown,
    /// Listening sockets made elsewhere (inherited from a supervising process): when there
    /// are any, `addrs` is not bound and every worker accepts from each of these.
    pub listeners: Vec<std::sync::Arc<std::net::TcpListener>>,
    /// HTTPS listeners, beside the plain ones.
    pub tls: Option<TlsOptions>,
    /// Time from the accept of a TLS connection to its finished handshake; then the
    /// connection is closed (it cannot carry an HTTP answer yet).
    pub tls_handshake_timeout: Duration,
    /// Plain listeners that answer every request with a redirect to HTTPS.
    pub redirect: Option<RedirectOptions>,
    /// Add the TLS version and cipher to each access log line (`-` for plain connections).
    pub log_tls: bool,
    /// Speak HTTP/2: over TLS when ALPN chooses `h2`, and on plain listeners to clients that
    /// open with the HTTP/2 preface (h2c with prior knowledge).
    pub http2: bool,
    /// HTTP/2 streams one connection may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    pub h2_max_streams: u32,
    /// Draining and configuration generation, shared with whatever reports them (the admin
    /// listener) and whatever changes them (signals, reloads).
    pub lifecycle: std::sync::Arc<crate::Lifecycle>,
    /// After SIGTERM/SIGINT (with `handle_signals`): how long the listeners keep accepting,
    /// every answer with `Connection: close`, before they close, so that a load balancer
    /// notices the failing health check first. Zero closes them at once.
    pub drain_delay: Duration,
    /// How access-log lines are written (`common`, `combined`, `json`).
    pub log_format: crate::LogFormat,
    /// Where the workers count requests, bytes and connections for `/metrics`: the area a
    /// supervisor shares with this process, or `None` for one of this process's own.
    pub metrics: Option<std::sync::Arc<crate::metrics::Area>>,
    /// Every listener (plain, TLS, redirecting) expects a PROXY protocol header (v1 or v2)
    /// before its first byte, from a peer in `proxy_trusted`; the address it carries becomes
    /// the connection's client address everywhere (logs, CGI, WSGI, access rules).
    pub proxy_protocol: bool,
    /// The balancers allowed to send a PROXY header; any other peer is closed at accept.
    /// Empty: nobody (the binary refuses to start with `--proxy-protocol` and no list).
    pub proxy_trusted: Vec<ipnet::IpNet>,
    /// `--allow`/`--deny` in command-line order, checked at accept (after the PROXY header
    /// when there is one); a refused connection is closed unread.
    pub access: crate::AccessList,
    /// Most open connections from one client address, across all workers; the next is
    /// closed at accept.
    pub max_conns_per_ip: Option<u32>,
    /// TCP keepalive on client sockets: idle time before the first probe (`None`: off).
    pub tcp_keepalive: Option<Duration>,
    /// Connections refused before they started (access rules, per-address limit, PROXY
    /// header), by reason, counted by every worker; for whatever reports them.
    pub refused: std::sync::Arc<crate::acl::Refused>,
}

/// HTTPS listeners and how they speak TLS.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Where to accept TLS connections. With inherited `listeners`, their sockets follow the
    /// plain ones, in this order.
    pub addrs: Vec<SocketAddr>,
    /// The one configuration every worker's sessions share (certificates, session cache and
    /// ticket keys: a session resumes on any worker).
    pub config: std::sync::Arc<rustls::ServerConfig>,
    /// The `Strict-Transport-Security` value for every response over TLS (never over plain
    /// HTTP, RFC 6797 §7.2).
    pub hsts: Option<http::HeaderValue>,
}

/// `--redirect-http`: plain listeners whose every answer is `308 Permanent Redirect` to the
/// same URL over HTTPS.
#[derive(Debug, Clone)]
pub struct RedirectOptions {
    /// With inherited `listeners`, their sockets follow the TLS ones, in this order.
    pub addrs: Vec<SocketAddr>,
    /// The HTTPS port the redirect names (left out of the URL when 443); `None`: the port the
    /// first TLS listener is bound to.
    pub https_port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addrs: vec![SocketAddr::from(([127, 0, 0, 1], 8000))],
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            backlog: 4096,
            max_conns: None,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            linger: Duration::from_secs(2),
            grace: Duration::from_secs(10),
            drain_idle: Duration::from_secs(1),
            task_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            access_log: AccessLog::Stderr,
            server_name: "pollux".into(),
            handle_signals: true,
            shutdown: Shutdown::new(),
            listeners: Vec::new(),
            tls: None,
            tls_handshake_timeout: Duration::from_secs(10),
            redirect: None,
            log_tls: false,
            http2: true,
            h2_max_streams: 100,
            lifecycle: std::sync::Arc::new(crate::Lifecycle::new()),
            drain_delay: Duration::ZERO,
            log_format: crate::LogFormat::Common,
            metrics: None,
            proxy_protocol: false,
            proxy_trusted: Vec::new(),
            access: crate::AccessList::default(),
            max_conns_per_ip: None,
            tcp_keepalive: Some(Duration::from_secs(15)),
            refused: std::sync::Arc::default(),
        }
    }
}
