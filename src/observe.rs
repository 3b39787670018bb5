//! `pollux serve`'s observability flags: the access-log format and the admin listener
//! (`/metrics`, `/healthz`, `/status`), which the supervisor process serves.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pollux_server::LogFormat;

#[derive(Debug, Args)]
#[command(next_help_heading = "Observability")]
pub(crate) struct ObserveArgs {
    /// Access-log format: `common` (Common Log Format), `combined` (nginx's, with referer
    /// and user agent: fail2ban's nginx filters read it) or `json` (one object per line).
    #[arg(long, value_name = "FORMAT", default_value = "common", value_parser = parse_log_format)]
    pub(crate) log_format: LogFormat,
    /// Serve /metrics (Prometheus), /healthz and /status on ADDR (HOST:PORT), from a
    /// supervisor process that runs the server as its child. Loopback only, unless
    /// --admin-public.
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin: Option<SocketAddr>,
    /// Allow --admin on an address other hosts can reach (metrics and status are then
    /// public: put a firewall or an authenticating proxy in front).
    #[arg(long, requires = "admin")]
    pub(crate) admin_public: bool,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
}

impl ObserveArgs {
    /// Refuses an admin address other hosts can reach unless --admin-public says so.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if let Some(a) = self.admin {
            if !pollux_server::admin::is_loopback(&a) && !self.admin_public {
                anyhow::bail!("--admin {a}: not a loopback address; add --admin-public to expose metrics");
            }
        }
        Ok(())
    }

    /// Binds the admin listener and serves it on a thread of its own (supervisor side).
    pub(crate) fn start_admin(
        &self,
        listeners: Vec<(String, Arc<std::net::TcpListener>)>,
        lifecycle: Arc<pollux_server::Lifecycle>,
        area: Arc<pollux_server::metrics::Area>,
    ) -> anyhow::Result<()> {
        let Some(addr) = self.admin else { return Ok(()) };
        let mut view = pollux_server::admin::AdminView::new(lifecycle, area);
        view.listeners = listeners;
        let socket = bind_admin(addr).with_context(|| format!("--admin {addr}"))?;
        let bound = socket.local_addr().unwrap_or(addr);
        pollux_server::admin::spawn_on(socket, view).context("cannot start the admin listener")?;
        println!("pollux: admin on http://{bound} (/metrics, /healthz, /status)");
        Ok(())
    }
}

/// The admin listener's socket, with `SO_REUSEPORT`: the supervisor a binary upgrade
/// (SIGUSR2) starts binds the same address while this one still answers on it, and the old
/// one's copy goes when it exits. Checked unclaimed first, as the serving listeners are,
/// unless this process is that successor (or was started by socket activation).
fn bind_admin(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let cfg = pollux_reactor::ListenerConfig { backlog: 128 };
    pollux_reactor::bind_joinable(addr, cfg, !crate::life::handed_sockets())
}
