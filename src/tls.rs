//! `pollux serve`'s HTTPS flags: certificates to a shared `rustls::ServerConfig`
//! (pollux-tls), reloaded on SIGHUP and when their files change.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::addr::{self, Bind};
use crate::duration::parse_duration;

/// Set by a supervisor for its processes: the directory holding the `--self-signed`
/// certificate it made, so that every process presents the same one.
pub(crate) const SELF_SIGNED_DIR: &str = "POLLUX_SELF_SIGNED_DIR";

/// How often certificate files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// `--tls-bind` and friends.
#[derive(Debug, Args)]
#[command(next_help_heading = "HTTPS")]
pub(crate) struct TlsArgs {
    /// Serve HTTPS on ADDR (repeatable; same forms as --bind, default port 8443). Without
    /// --bind, only HTTPS is served.
    #[arg(long = "tls-bind", value_name = "ADDR", value_parser = addr::parse_bind)]
    pub(crate) tls_bind: Vec<Bind>,
    /// The certificate chain (PEM, leaf first) for names no --tls matches.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// A certificate for one server name (SNI), e.g. `example.com=ex.pem,ex.key` or
    /// `*.example.com=...` (repeatable). Names nothing matches get --cert; without --cert,
    /// their handshake is refused.
    #[arg(long = "tls", value_name = "NAME=CERT,KEY")]
    tls_named: Vec<String>,
    /// Make a certificate for development, valid for localhost, 127.0.0.1, ::1 and NAMES
    /// (comma-separated), and print its SHA-256 fingerprint. Browsers will warn about it.
    #[arg(long = "self-signed", value_name = "NAMES", num_args = 0..=1, require_equals = true,
          default_missing_value = "", conflicts_with = "cert")]
    self_signed: Option<String>,
    /// Oldest TLS version accepted.
    #[arg(long = "tls-min", value_name = "VERSION", default_value = "1.2", value_parser = ["1.2", "1.3"])]
    tls_min: String,
    /// Require a client certificate signed by a CA in FILE (PEM); its subject reaches
    /// handlers (SSL_CLIENT_S_DN for CGI and WSGI).
    #[arg(long = "client-ca", value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Time from connect to a finished TLS handshake; then the connection is closed.
    #[arg(long = "tls-handshake-timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    handshake_timeout: Duration,
    /// Answer plain HTTP on ADDR with 308 to the same URL over HTTPS (repeatable).
    #[arg(long = "redirect-http", value_name = "ADDR", value_parser = addr::parse_bind)]
    pub(crate) redirect_http: Vec<Bind>,
    /// Strict-Transport-Security for HTTPS responses, e.g. `max-age=31536000` or
    /// `max-age=31536000; includeSubDomains`.
    #[arg(long, value_name = "VALUE", value_parser = parse_hsts)]
    hsts: Option<http::HeaderValue>,
    /// End each access log line with the TLS version and cipher (`- -` for plain HTTP).
    #[arg(long = "log-tls")]
    pub(crate) log_tls: bool,
}

/// Where HTTPS listens when --tls-bind leaves the host or port out.
pub(crate) const DEFAULT_TLS_ADDR: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8443);
/// Where --redirect-http listens when it leaves the host or port out.
pub(crate) const DEFAULT_REDIRECT_ADDR: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

fn parse_hsts(s: &str) -> Result<http::HeaderValue, String> {
    let max_age = s.split(';').next().map(str::trim).and_then(|d| d.strip_prefix("max-age="));
    if !max_age.is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())) {
        return Err(format!("'{s}' must start with max-age=SECONDS (RFC 6797 §6.1)"));
    }
    http::HeaderValue::from_str(s).map_err(|_| format!("'{s}' is not a header value"))
}

impl TlsArgs {
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The extra names of `--self-signed`, when it was given.
    fn self_signed_names(&self) -> Option<Vec<String>> {
        let names = self.self_signed.as_ref()?;
        Some(names.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect())
    }

    /// For a supervisor of several processes: makes the `--self-signed` certificate once, in a
    /// private directory named by `SELF_SIGNED_DIR` in the environment the processes inherit,
    /// and prints its fingerprint. Returns the directory (to remove at exit).
    pub(crate) fn share_self_signed(&self) -> anyhow::Result<Option<PathBuf>> {
        let Some(names) = self.self_signed_names() else { return Ok(None) };
        let dir = std::env::temp_dir().join(format!("pollux-self-signed-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot make {}", dir.display()))?;
        let (_, fp) = pollux_tls::write_self_signed(&names, &dir).context("--self-signed")?;
        println!("pollux: self-signed certificate, SHA-256 fingerprint {fp}");
        // Before any process or thread is started: nothing reads the environment meanwhile.
        std::env::set_var(SELF_SIGNED_DIR, &dir);
        Ok(Some(dir))
    }

    /// Whether any HTTPS flag other than --tls-bind was given.
    fn any_tls_flag(&self) -> bool {
        self.cert.is_some()
            || !self.tls_named.is_empty()
            || self.self_signed.is_some()
            || self.client_ca.is_some()
    }

    /// `pollux check-config`: the certificate files load (a `--self-signed` one is not made).
    pub(crate) fn check(&self, addrs: Vec<std::net::SocketAddr>, http2: bool) -> anyhow::Result<()> {
        if self.self_signed.is_none() {
            self.options(addrs, http2)?;
        }
        Ok(())
    }

    /// The HTTPS options, and the loaded certificates (for reloading), when --tls-bind is given.
    pub(crate) fn options(
        &self,
        addrs: Vec<std::net::SocketAddr>,
        http2: bool,
    ) -> anyhow::Result<Option<(pollux_server::TlsOptions, Arc<pollux_tls::Tls>)>> {
        if self.tls_bind.is_empty() {
            if self.any_tls_flag() || !self.redirect_http.is_empty() || self.hsts.is_some() {
                anyhow::bail!("HTTPS flags need --tls-bind ADDR to say where to serve HTTPS");
            }
            return Ok(None);
        }
        let mut settings = pollux_tls::Settings {
            default: None,
            named: Vec::new(),
            self_signed: None,
            min: self
                .tls_min
                .parse()
                .map_err(|_| anyhow::anyhow!("--tls-min {}: use 1.2 or 1.3", self.tls_min))?,
            client_ca: self.client_ca.clone(),
            // HTTP/2 first: a client that offers both gets it (RFC 7301 leaves the choice to
            // the server, and rustls takes our order).
            alpn: if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] },
        };
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            settings.default = Some(pollux_tls::CertFiles { cert: cert.clone(), key: key.clone() });
        }
        for spec in &self.tls_named {
            settings.named.push(pollux_tls::Settings::parse_named(spec).context("--tls")?);
        }
        if let Some(names) = self.self_signed_names() {
            match std::env::var_os(SELF_SIGNED_DIR) {
                // One of a supervisor's processes: the supervisor's certificate.
                Some(dir) => {
                    let dir = PathBuf::from(dir);
                    settings.default =
                        Some(pollux_tls::CertFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") });
                }
                None => settings.self_signed = Some(names),
            }
        }
        let tls = Arc::new(pollux_tls::Tls::new(settings).context("HTTPS")?);
        if let Some(fp) = tls.self_signed_fingerprint() {
            println!("pollux: self-signed certificate, SHA-256 fingerprint {fp}");
        }
        let opts = pollux_server::TlsOptions { addrs, config: tls.config(), hsts: self.hsts.clone() };
        Ok(Some((opts, tls)))
    }
}

/// Reloads the certificates on SIGHUP and whenever their files change; a failed reload keeps
/// the certificates in use and says why.
pub(crate) fn keep_fresh(tls: &Arc<pollux_tls::Tls>) -> anyhow::Result<()> {
    let report = |why: &str, r: Result<(), pollux_tls::Error>| match r {
        Ok(()) => eprintln!("pollux: {why}: certificates reloaded"),
        Err(e) => eprintln!(
            "pollux: {why}: keeping the certificates in use: {}",
            crate::one_line(&anyhow::Error::new(e))
        ),
    };
    let mut hup = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .context("cannot catch SIGHUP for certificate reloads")?;
    let on_hup = tls.clone();
    std::thread::Builder::new()
        .name("tls-reload".into())
        .spawn(move || {
            for _ in hup.forever() {
                report("SIGHUP", on_hup.reload());
            }
        })
        .context("cannot start the certificate reloader")?;
    tls.clone().watch(WATCH_EVERY, move |r| report("certificate files changed", r));
    Ok(())
}
