//! `pollux serve`: flags to `pollux_server::Options`, a `ServeDir` as the handler.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use pollux_server::{AccessLog, Limits, Options};

use crate::addr::{self, Bind};
use crate::duration::parse_duration;
use crate::Hint;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Directory to serve [default: the current directory].
    root: Option<PathBuf>,
    /// Address to listen on (repeatable): HOST:PORT, HOST or PORT, e.g. `0.0.0.0` (every IPv4
    /// interface, for the LAN), `[::]:8000`, `localhost:9000`, `9000` (loopback, port 9000)
    /// [default: 127.0.0.1:8000, unless --tls-bind is given].
    #[arg(long = "bind", value_name = "ADDR", value_parser = addr::parse_bind)]
    bind: Vec<Bind>,
    /// Port to listen on, as `python -m http.server` and miniserve take it: `-p 8080` is
    /// `--bind 127.0.0.1:8080`; with `--bind HOST` (no port) it is that host's port.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    port: Option<u16>,
    /// Worker threads, one event loop each [default: available cores].
    #[arg(long, value_parser = crate::addr::at_least_one)]
    workers: Option<usize>,
    /// listen(2) backlog.
    #[arg(long, default_value_t = 4096)]
    backlog: i32,
    /// Most open connections across workers [default: from RLIMIT_NOFILE].
    #[arg(long)]
    max_conns: Option<usize>,
    /// Time for a complete request head before 408 (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Idle time allowed between requests on a keep-alive connection.
    #[arg(long, default_value = "75s", value_parser = parse_duration)]
    keepalive_timeout: Duration,
    /// Longest pause while reading a request body before 408.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// Longest pause while the client does not read the response.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    send_timeout: Duration,
    /// Time in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    grace: Duration,
    /// Largest request body in bytes (413 beyond it).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body: u64,
    /// Speak only HTTP/1.1: no `h2` in TLS's ALPN, no HTTP/2 with prior knowledge on plain
    /// listeners.
    #[arg(long)]
    no_http2: bool,
    /// HTTP/2 streams a connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    h2_max_streams: u32,
    /// Access log in Common Log Format: `off`, `-` (stderr) or a file path.
    #[arg(long, default_value = "-")]
    access_log: String,
    /// List directories that have no index.html (HTML, or JSON for `Accept: application/json`).
    /// On by default when ROOT is given (`pollux serve DIR`) and no --wsgi app is served.
    #[arg(long, overrides_with = "no_listing")]
    listing: bool,
    /// Never list directories: one without index.html is 404.
    #[arg(long, overrides_with = "listing")]
    no_listing: bool,
    /// Serve and list dotfiles; without it any path segment starting with `.` is 404, except
    /// `.well-known`.
    #[arg(long)]
    hidden: bool,
    /// Follow symlinks that point outside ROOT (by default only targets inside ROOT are served).
    #[arg(long)]
    follow_symlinks: bool,
    /// Serve DIR for requests whose Host is NAME (repeatable; port ignored, case-insensitive).
    #[arg(long = "vhost", value_name = "NAME=DIR")]
    vhosts: Vec<String>,
    /// For GET/HEAD paths that match nothing, serve FILE with 200 (single-page apps). A relative
    /// FILE is looked up under the request's root.
    #[arg(long, value_name = "FILE")]
    fallback: Option<PathBuf>,
    /// Custom not-found page, sent with status 404. A relative FILE is looked up under the
    /// request's root.
    #[arg(long = "404", value_name = "FILE")]
    not_found: Option<PathBuf>,
    /// Cache-Control for files (repeatable): `GLOB=VALUE` (e.g. `*.html=no-cache`, first match
    /// wins) or a bare VALUE for the rest (e.g. `max-age=3600`).
    #[arg(long = "cache-control", value_name = "[GLOB=]VALUE")]
    cache_control: Vec<String>,
    /// Content coding (gzip, brotli, zstd) for compressible files.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    compress: String,
    /// The CGI gateway (boxed: most runs leave it off, and `Command` stays small).
    #[command(flatten)]
    cgi: Box<CgiArgs>,
    /// The WSGI server.
    #[command(flatten)]
    wsgi: Box<WsgiArgs>,
    /// HTTPS.
    #[command(flatten)]
    tls: Box<crate::tls::TlsArgs>,
    #[command(flatten)]
    life: Box<crate::life::LifeArgs>,
    #[command(flatten)]
    observe: Box<crate::observe::ObserveArgs>,
    #[command(flatten)]
    edge: Box<crate::edge::EdgeArgs>,
    /// --config FILE and --dump-options.
    #[command(flatten)]
    pub(crate) config: Box<crate::config_file::ConfigArgs>,
}

/// Every address `serve` listens on, by kind, in the order the server takes its listeners.
struct Listen {
    plain: Vec<SocketAddr>,
    tls: Vec<SocketAddr>,
    redirect: Vec<SocketAddr>,
}

impl Listen {
    fn resolve(args: &ServeArgs) -> anyhow::Result<Listen> {
        let mut default = DEFAULT_ADDR;
        if let Some(p) = args.port {
            // `-p 8080 --bind 0.0.0.0:9000` names two ports for one listener: say so rather
            // than pick one.
            if args.bind.iter().any(Bind::has_port) {
                anyhow::bail!("-p {p} and a --bind with a port both give a port: use --bind HOST with -p, or --bind HOST:PORT alone");
            }
            default.set_port(p);
        }
        let plain = match (&args.bind[..], &args.tls.tls_bind[..]) {
            // Only HTTPS was asked for.
            ([], [_, ..]) if args.port.is_none() => Vec::new(),
            ([], _) => vec![default],
            (binds, _) => addr::resolve_all(binds, default)?,
        };
        Ok(Listen {
            plain,
            tls: addr::resolve_all(&args.tls.tls_bind, crate::tls::DEFAULT_TLS_ADDR)?,
            redirect: addr::resolve_all(&args.tls.redirect_http, crate::tls::DEFAULT_REDIRECT_ADDR)?,
        })
    }

    fn all(&self) -> Vec<SocketAddr> {
        self.plain.iter().chain(&self.tls).chain(&self.redirect).copied().collect()
    }

    /// The URL scheme of the `i`th listener, and whether it only redirects.
    fn scheme(&self, i: usize) -> (&'static str, bool) {
        if i < self.plain.len() {
            ("http", false)
        } else if i < self.plain.len() + self.tls.len() {
            ("https", false)
        } else {
            ("http", true)
        }
    }
}

/// `--wsgi*`: a Python application loaded once and served natively (pollux-wsgi).
#[derive(Debug, Args)]
#[command(next_help_heading = "WSGI")]
struct WsgiArgs {
    /// Serve the WSGI application MODULE:CALLABLE (CALLABLE defaults to `application`, then
    /// `app`), e.g. `mysite.wsgi` or `app:app`. ROOT, when given, is where MODULE is imported
    /// from (unless --pythonpath says otherwise) and the document root of --cgi-ext.
    #[arg(long = "wsgi", value_name = "MODULE[:CALLABLE]")]
    app: Option<String>,
    /// Import the application from DIR (repeatable, first wins) [default: ROOT].
    #[arg(long = "pythonpath", value_name = "DIR", requires = "app")]
    pythonpath: Vec<PathBuf>,
    /// Use the packages of the virtualenv DIR [default: $VIRTUAL_ENV, if set].
    #[arg(long = "venv", value_name = "DIR", requires = "app")]
    venv: Option<PathBuf>,
    /// Serve the files under DIR at URL and below, ahead of the application (repeatable),
    /// e.g. `/static=./staticfiles`.
    #[arg(long = "static", value_name = "URL=DIR", requires = "app")]
    statics: Vec<String>,
    /// Mount the application below /PREFIX (its SCRIPT_NAME); other paths are 404.
    #[arg(long = "wsgi-mount", value_name = "/PREFIX", requires = "app")]
    mount: Option<String>,
    /// Python threads calling the application.
    #[arg(long = "wsgi-threads", value_name = "N", default_value_t = pollux_wsgi::DEFAULT_THREADS as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Requests that may wait for a Python thread; more get 503 with Retry-After.
    #[arg(long = "wsgi-queue", value_name = "N", default_value_t = 1024, requires = "app")]
    queue: usize,
    /// Processes serving the application, each with its own interpreter: a number, or `auto`
    /// for one per core. Above 1 (or with --max-requests or --reload) a supervisor process
    /// holds the listening sockets and keeps that many running.
    #[arg(long, value_name = "N|auto", default_value = "1", value_parser = parse_processes, requires = "app")]
    processes: usize,
    /// Replace a process after it answered N requests (plus up to --max-requests-jitter
    /// more), its successor serving before it stops: no request fails.
    #[arg(long, value_name = "N", requires = "app")]
    max_requests: Option<u64>,
    /// Most extra requests added at random to --max-requests per process, so processes
    /// started together are not replaced together [default: a tenth of --max-requests].
    #[arg(long, value_name = "N", requires = "max_requests")]
    max_requests_jitter: Option<u64>,
    /// Restart the application when a .py file under --pythonpath changes (development).
    #[arg(long, requires = "app")]
    reload: bool,
}

fn parse_processes(s: &str) -> Result<usize, String> {
    if s == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a number of processes (1 or more) or `auto`")),
    }
}

/// `--cgi*`: scripts run per RFC 3875 (pollux-cgi).
#[derive(Debug, Args)]
#[command(next_help_heading = "CGI")]
struct CgiArgs {
    /// Run the files under DIR as CGI scripts at the URL PREFIX (repeatable), e.g.
    /// `/cgi-bin=./cgi-bin`. Scripts get this server's PATH: started from an activated
    /// virtualenv, `#!/usr/bin/env python3` is the virtualenv's Python.
    #[arg(long = "cgi", value_name = "PREFIX=DIR")]
    mounts: Vec<String>,
    /// Run the files under ROOT whose name ends in EXT as CGI scripts (e.g. `.py`).
    #[arg(long = "cgi-ext", value_name = "EXT")]
    ext: Option<String>,
    /// Longest time a CGI script may go without a byte in or out; then its process group is
    /// killed (504 if nothing was sent yet).
    #[arg(long = "cgi-timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Most CGI scripts running at once; beyond that, 503 with Retry-After.
    #[arg(long = "cgi-max", value_name = "N", default_value_t = 64)]
    max: usize,
}

fn family(a: &SocketAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Where `serve` listens when `--bind` leaves the host or port out.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

/// A directory served with every file-serving flag of `pollux serve`.
fn serve_dir(args: &ServeArgs, dir: &std::path::Path) -> anyhow::Result<pollux_fs::ServeDir> {
    let handler = pollux_fs::ServeDir::new(dir).map_err(|e| {
        let e = anyhow::Error::new(e).context(format!("cannot serve {}", dir.display()));
        // `pollux serve 8080` is the `python -m http.server 8080` habit: ROOT comes first here.
        match dir.to_str().and_then(|s| s.parse::<u16>().ok()) {
            Some(p) => e.context(Hint(format!(
                "did you mean --bind 127.0.0.1:{p} (or --bind 0.0.0.0:{p} to share on the LAN)?"
            ))),
            None => e,
        }
    })?;
    // Refusing would be too strict (a directory may be searchable but not listable on purpose),
    // but a root nobody can read answers 403 to everything, which is worth a word at start.
    if let Err(e) = std::fs::read_dir(handler.root()) {
        eprintln!("pollux: warning: cannot read {}: {e}; requests will be refused", handler.root().display());
    }
    let mut handler = handler
        .listing(listing(args))
        .listing_hint(!args.listing && !args.no_listing && args.root.is_none() && args.wsgi.app.is_none())
        .hidden(args.hidden)
        .follow_symlinks(args.follow_symlinks)
        .compression(pollux_fs::Compression::new(args.compress == "on"));
    for v in &args.vhosts {
        handler = handler.vhost_spec(v).context("--vhost")?;
    }
    if let Some(f) = &args.fallback {
        handler = handler.fallback(f).context("--fallback")?;
    }
    if let Some(f) = &args.not_found {
        handler = handler.not_found_page(f).context("--404")?;
    }
    for rule in &args.cache_control {
        handler = handler.cache_control(rule).context("--cache-control")?;
    }
    Ok(handler)
}

/// Whether directories without index.html are listed: asked for, or by default when a
/// directory was named to be served (`pollux serve DIR`, as `python -m http.server` and
/// miniserve list it) and it is not a WSGI app's import path. Without ROOT the current
/// directory is served, perhaps by accident (`~`): there the default stays 404, with a page
/// saying how to list.
fn listing(args: &ServeArgs) -> bool {
    !args.no_listing && (args.listing || (args.root.is_some() && args.wsgi.app.is_none()))
}

/// Loads the WSGI application (before anything is bound: an import error ends the start).
fn wsgi_app(args: &ServeArgs, w: &WsgiArgs, spec: &str) -> anyhow::Result<pollux_wsgi::Wsgi> {
    let mut config = pollux_wsgi::Config::new(spec.parse().context("--wsgi")?);
    config.pythonpath = match (&w.pythonpath, &args.root) {
        (dirs, _) if !dirs.is_empty() => dirs.clone(),
        (_, Some(root)) => vec![root.clone()],
        _ => Vec::new(),
    };
    config.venv = w.venv.clone().or_else(|| std::env::var_os("VIRTUAL_ENV").map(PathBuf::from));
    config.threads = usize::from(w.threads);
    config.queue = w.queue;
    config.multiprocess = w.processes > 1;
    if let Some(m) = &w.mount {
        let m = m.trim_end_matches('/');
        if !m.is_empty() && !m.starts_with('/') {
            anyhow::bail!("--wsgi-mount {m}: the prefix must start with /");
        }
        config.mount = m.to_owned();
    }
    let mut app = pollux_wsgi::Wsgi::load(&config)?;
    for spec in &w.statics {
        let Some((url, dir)) = spec.split_once('=') else {
            anyhow::bail!("--static {spec}: expected URL=DIR, e.g. /static=./staticfiles");
        };
        app = app.serve_static(url, serve_dir(args, std::path::Path::new(dir)).context("--static")?);
    }
    Ok(app)
}

/// How this process takes part in serving.
enum Role {
    /// One process does everything.
    Alone,
    /// A supervisor of serving processes (it never loads Python, never serves a request):
    /// several WSGI processes, `--supervise`, or `--admin`, which the supervisor serves.
    Supervisor,
    /// One of a supervisor's processes, on the listening sockets it inherited.
    Child(Vec<std::sync::Arc<std::net::TcpListener>>),
}

fn role(args: &ServeArgs) -> anyhow::Result<Role> {
    use pollux_supervisor::LISTEN_FDS;
    if let Some(fds) = std::env::var_os(LISTEN_FDS) {
        let mut ls = Vec::new();
        for fd in fds.to_string_lossy().split(',').filter(|f| !f.is_empty()) {
            let fd: i32 = fd.parse().with_context(|| format!("{LISTEN_FDS}: {fd:?}"))?;
            ls.push(std::sync::Arc::new(pollux_reactor::adopt_listener(fd).context("inherited socket")?));
        }
        // A supervisor killed outright still stops its children (gracefully).
        let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM));
        return Ok(Role::Child(ls));
    }
    let w = &args.wsgi;
    let wsgi_many = w.app.is_some() && (w.processes > 1 || w.max_requests.is_some() || w.reload);
    // A config file is what SIGHUP re-reads, and only a supervisor can reload without a
    // failed request (as nginx's master does), so a file brings one.
    let reloadable = args.config.config.is_some();
    if wsgi_many
        || args.life.supervise
        || reloadable
        || args.observe.admin.is_some()
        || crate::life::handed_sockets()
    {
        return Ok(Role::Supervisor);
    }
    Ok(Role::Alone)
}

/// The listeners `listen` asks for, as the supervisor keeps them across reloads.
fn wants(listen: &Listen) -> Vec<pollux_supervisor::Want> {
    use pollux_supervisor::Want;
    let plain = listen.plain.iter().map(|a| Want::new("http", *a));
    let tls = listen.tls.iter().map(|a| Want::new("https", *a));
    plain.chain(tls).chain(listen.redirect.iter().map(|a| Want::new("redirect", *a))).collect()
}

/// SIGHUP in the supervisor: the command line read again, as the children will read it, and
/// the listeners it asks for; or why not, in one line.
fn reread() -> Result<(Vec<std::ffi::OsString>, Vec<pollux_supervisor::Want>), String> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The file and the environment merged under the command line as at start; a bad file is
    // refused here, its error naming FILE:LINE (the children read it again themselves).
    let args = crate::serve_args_again(argv.clone()).map_err(|e| crate::one_line(&e))?;
    let listen = Listen::resolve(&args).map_err(|e| crate::one_line(&e))?;
    Ok((argv.into_iter().skip(1).collect(), wants(&listen)))
}

/// The supervisor: bind here (or take the sockets systemd or the previous supervisor
/// passed), then keep the children running (each runs this same command); with `--admin`,
/// serve the admin listener from here.
fn supervise(args: &ServeArgs) -> anyhow::Result<()> {
    let listen = Listen::resolve(args)?;
    // Every process presents the same --self-signed certificate, made here.
    let shared = args.tls.share_self_signed()?;
    // The certificates are loaded here once so that a bad one stops the start, not every child.
    args.tls.options(listen.tls.clone(), !args.no_http2)?;
    let addrs = listen.all();
    let mut inherited = pollux_supervisor::inherited().context("inherited sockets")?;
    let cfg = pollux_reactor::ListenerConfig { backlog: args.backlog };
    let sockets = pollux_supervisor::Sockets::open(&wants(&listen), cfg, &mut inherited)
        .map_err(|e| addr::listen_error(e, &addrs))?;
    let program = std::env::current_exe().context("cannot find the pollux binary to start processes")?;
    let processes = if args.wsgi.app.is_some() { args.wsgi.processes } else { 1 };
    let lifecycle = std::sync::Arc::new(pollux_server::Lifecycle::new());
    let mut metrics = None;
    if args.observe.admin.is_some() {
        // A slot per child, and as many again for replacements that overlap them.
        let workers = match args.workers {
            Some(n) => n,
            None if processes > 1 => 1,
            None => Options::default().workers,
        };
        let area = pollux_server::metrics::Area::create(processes * 2 + 1, workers)
            .context("cannot make the shared metrics area")?;
        // Inherited by every child at the same number, like the listeners.
        rustix::io::fcntl_setfd(area.fd(), rustix::io::FdFlags::empty())
            .context("cannot pass the metrics area on")?;
        let area = std::sync::Arc::new(area);
        let labelled = sockets
            .listeners()
            .filter_map(|(want, l)| {
                let a = l.local_addr().ok()?;
                Some((format!("{}://{a}", want.kind), std::sync::Arc::new(l.try_clone().ok()?)))
            })
            .collect();
        args.observe.start_admin(labelled, lifecycle.clone(), area.clone())?;
        metrics = Some(area);
    }
    let mut sup =
        pollux_supervisor::Supervisor::new(program, std::env::args_os().skip(1).collect(), processes);
    sup.generation = crate::life::generation().unwrap_or(1);
    if args.wsgi.reload {
        sup.watch = match (&args.wsgi.pythonpath, &args.root) {
            (dirs, _) if !dirs.is_empty() => dirs.clone(),
            (_, Some(root)) => vec![root.clone()],
            _ => vec![PathBuf::from(".")],
        };
    }
    let what = match &args.wsgi.app {
        Some(spec) => {
            let n = args.wsgi.processes;
            format!("the WSGI app {spec} ({n} process{})", if n == 1 { "" } else { "es" })
        }
        None => args.root.clone().unwrap_or_else(|| PathBuf::from(".")).display().to_string(),
    };
    let hooks = crate::life::hooks(lifecycle, metrics, Box::new(reread));
    let code = pollux_supervisor::supervise(sup, sockets, hooks, |bound| print_urls(&what, bound, &listen));
    if let Some(dir) = shared {
        let _ = std::fs::remove_dir_all(dir);
    }
    let code = code.context("supervisor failed")?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    args.observe.check()?;
    let listen = Listen::resolve(&args)?;
    let addrs = listen.all();
    let root_dir = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let role = role(&args)?;
    let mut inherited = Vec::new();
    let mut metrics = None;
    match role {
        Role::Supervisor => return supervise(&args),
        Role::Alone => crate::life::single_process_signals(false)?,
        Role::Child(ref ls) => {
            crate::life::single_process_signals(true)?;
            inherited = ls.clone();
            metrics = pollux_server::metrics::Area::from_env()
                .context(pollux_server::metrics::METRICS_FD)?
                .map(std::sync::Arc::new);
        }
    }
    let wsgi = match &args.wsgi.app {
        Some(spec) => match role {
            Role::Supervisor | Role::Alone => Some(wsgi_app(&args, &args.wsgi, spec)?),
            Role::Child(_) => {
                let app = wsgi_app(&args, &args.wsgi, spec)?;
                if let Some(n) = args.wsgi.max_requests {
                    let jitter = args.wsgi.max_requests_jitter.unwrap_or(n / 10);
                    // Each process draws its own: the pid and the clock are different enough.
                    let seed = u64::from(std::process::id())
                        ^ std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos() as u64);
                    let limit = n + if jitter == 0 { 0 } else { seed % (jitter + 1) };
                    app.retire_after(limit, move || {
                        println!("{} after {limit} requests", pollux_supervisor::RETIRE_LINE);
                    });
                }
                Some(app)
            }
        },
        None => {
            if let Role::Child(ls) = role {
                inherited = ls;
            }
            None
        }
    };
    let handler = serve_dir(&args, &root_dir)?;
    let root = handler.root().to_path_buf();
    let defaults = Options::default();
    // Python is what a WSGI process spends its time on: one event loop per process is plenty
    // when there are several processes.
    let workers = match args.workers {
        Some(n) => n,
        None if args.wsgi.processes > 1 => 1,
        None => defaults.workers,
    };
    let tls = args.tls.options(listen.tls.clone(), !args.no_http2)?;
    let redirect = (!listen.redirect.is_empty())
        .then(|| pollux_server::RedirectOptions { addrs: listen.redirect.clone(), https_port: None });
    if let Some((_, certs)) = &tls {
        crate::tls::keep_fresh(certs)?;
    }
    let opts = Options {
        addrs: listen.plain.clone(),
        tls: tls.map(|(o, _)| o),
        redirect,
        log_tls: args.tls.log_tls,
        tls_handshake_timeout: args.tls.handshake_timeout(),
        listeners: inherited,
        workers,
        backlog: args.backlog,
        max_conns: args.max_conns,
        header_timeout: args.header_timeout,
        keepalive_timeout: args.keepalive_timeout,
        body_timeout: args.body_timeout,
        send_timeout: args.send_timeout,
        grace: args.grace,
        drain_delay: args.life.drain_delay,
        task_timeout: args.cgi.timeout,
        limits: Limits { max_body: args.max_body, ..Limits::default() },
        http2: !args.no_http2,
        h2_max_streams: args.h2_max_streams,
        access_log: match args.access_log.as_str() {
            "off" => AccessLog::Off,
            "-" => AccessLog::Stderr,
            p => AccessLog::File(p.into()),
        },
        log_format: args.observe.log_format,
        metrics,
        ..defaults
    };
    let opts = args.edge.apply(opts)?;
    if let Some(g) = crate::life::generation() {
        opts.lifecycle.set_generation(g);
    }
    let what = match &args.wsgi.app {
        Some(spec) => format!("the WSGI app {spec}"),
        None => root.display().to_string(),
    };
    let on_bound = |bound: &[SocketAddr]| print_urls(&what, bound, &listen);
    let failed = |e| addr::listen_error(e, &addrs);
    let cgi_wanted = !args.cgi.mounts.is_empty() || args.cgi.ext.is_some();
    let area = opts.metrics.clone();
    let wsgi_load = wsgi.as_ref().map(pollux_wsgi::Wsgi::busy);
    match (wsgi, cgi_wanted) {
        (None, false) => pollux_server::serve(opts, handler, on_bound).map_err(failed),
        (Some(app), false) => {
            sample_load(area, None, wsgi_load);
            pollux_server::serve(opts, app, on_bound).map_err(failed)
        }
        (None, true) => {
            let cgi = cgi_handler(&args, &root, handler)?;
            sample_load(area, Some(cgi.load()), None);
            pollux_server::serve(opts, cgi, on_bound).map_err(failed)
        }
        (Some(app), true) => {
            let cgi = cgi_handler(&args, &root, app)?;
            sample_load(area, Some(cgi.load()), wsgi_load);
            pollux_server::serve(opts, cgi, on_bound).map_err(failed)
        }
    }
}

/// `pollux check-config`: every check `run` makes before binding (addresses resolved, the
/// roots and pages opened, certificates loaded), as a one-line summary.
pub(crate) fn check(args: &ServeArgs) -> anyhow::Result<String> {
    let listen = Listen::resolve(args)?;
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let handler = serve_dir(args, &root)?;
    args.tls.check(listen.tls.clone(), !args.no_http2)?;
    let mut urls: Vec<String> = Vec::new();
    for (i, a) in listen.all().iter().enumerate() {
        let (scheme, redirect) = listen.scheme(i);
        urls.push(format!("{scheme}://{a}{}", if redirect { " (redirect)" } else { "" }));
    }
    let what = match &args.wsgi.app {
        Some(app) => format!("the WSGI app {app}"),
        None => format!("root {}", handler.root().display()),
    };
    let sites = match args.vhosts.len() {
        0 => String::new(),
        1 => "; 1 virtual host".into(),
        n => format!("; {n} virtual hosts"),
    };
    Ok(format!("listening on {}; {what}{sites}", urls.join(", ")))
}

/// With `--admin`: copies the CGI and WSGI load into the shared metrics five times a second,
/// from a thread of its own (the numbers exist already; nothing is added to a request's path).
fn sample_load(
    area: Option<std::sync::Arc<pollux_server::metrics::Area>>,
    cgi: Option<pollux_cgi::CgiLoad>,
    wsgi: Option<pollux_wsgi::WsgiLoad>,
) {
    use pollux_server::metrics::Load;
    let Some(area) = area else { return };
    let spawned = std::thread::Builder::new().name("load".into()).spawn(move || loop {
        if let Some(c) = &cgi {
            area.set_load(Load::CgiInFlight, c.in_flight() as u64);
        }
        if let Some(w) = &wsgi {
            let (running, queued) = w.now();
            area.set_load(Load::WsgiInFlight, running as u64);
            area.set_load(Load::WsgiQueued, queued as u64);
        }
        std::thread::sleep(Duration::from_millis(200));
    });
    if let Err(e) = spawned {
        eprintln!("pollux: warning: cannot sample the CGI/WSGI load for the metrics: {e}");
    }
}

/// Tells where the server listens: one URL per interface address for a wildcard bind (as
/// miniserve does), and whether only this machine can connect.
fn print_urls(what: &str, bound: &[SocketAddr], listen: &Listen) {
    for (i, a) in bound.iter().enumerate() {
        let (scheme, redirect) = listen.scheme(i);
        let urls = crate::lan::urls(*a, scheme);
        let doing = if redirect { "redirecting to HTTPS".to_owned() } else { format!("serving {what}") };
        if a.ip().is_unspecified() {
            println!("pollux: {doing} on every {} interface, port {}:", family(a), a.port());
            for u in urls {
                println!("  {u}");
            }
        } else {
            for u in urls {
                println!("pollux: {doing} on {u}");
            }
        }
    }
    if bound.iter().all(|a| a.ip().is_loopback()) {
        println!("pollux: only this machine can connect; --bind 0.0.0.0 shares on the LAN");
    }
}

/// The CGI gateway in front of `inner`, which answers every path that is not a script.
fn cgi_handler<H: pollux_server::Handler>(
    args: &ServeArgs,
    root: &std::path::Path,
    inner: H,
) -> anyhow::Result<pollux_cgi::Cgi<H>> {
    let mut cgi = pollux_cgi::Cgi::new(root, inner).context("--cgi")?.max(args.cgi.max);
    // Our PATH, as Apache's mod_cgi passes its own: `#!/usr/bin/env python3` then finds the
    // virtualenv's Python when the server was started from an activated virtualenv.
    if let Some(path) = std::env::var_os("PATH") {
        cgi = cgi.path(path);
    }
    for spec in &args.cgi.mounts {
        cgi = cgi.mount_spec(spec).context("--cgi")?;
    }
    if let Some(ext) = &args.cgi.ext {
        cgi = cgi.extension(ext).context("--cgi-ext")?;
    }
    Ok(cgi)
}
