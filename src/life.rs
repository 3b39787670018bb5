//! `pollux serve`'s life-cycle flags: draining on SIGTERM and the supervisor that makes reload
//! (SIGHUP) and binary upgrade (SIGUSR2) possible.

use std::time::Duration;

use clap::Args;

use crate::duration::parse_duration;

/// Draining, reload and upgrade.
#[derive(Debug, Args)]
#[command(next_help_heading = "Reload, upgrade and draining")]
pub(crate) struct LifeArgs {
    /// After SIGTERM/SIGINT: how long to keep accepting (answering with `Connection: close`,
    /// /healthz 503) before the listeners close, so a load balancer notices first; 0 closes
    /// them at once. A second signal ends the delay, a third exits.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub(crate) drain_delay: Duration,
    /// Run a supervisor process that holds the listening sockets and runs the server as its
    /// child: SIGHUP then reloads without a failed request (implied by --config, --admin,
    /// --processes above 1, --max-requests, --reload and systemd socket activation).
    #[arg(long)]
    pub(crate) supervise: bool,
}

/// Whether this process was handed listening sockets to supervise: by systemd's socket
/// activation (`LISTEN_PID` is ours) or by the supervisor it replaces in an upgrade.
pub(crate) fn handed_sockets() -> bool {
    let systemd = std::env::var("LISTEN_PID").is_ok_and(|p| p == std::process::id().to_string())
        && std::env::var_os("LISTEN_FDS").is_some();
    systemd || std::env::var_os(pollux_supervisor::UPGRADE_FDS).is_some()
}

/// The configuration generation this process serves, when a supervisor says.
pub(crate) fn generation() -> Option<u64> {
    std::env::var(pollux_supervisor::GENERATION).ok()?.parse().ok()
}

/// The supervisor's hooks: `reload` reads the configuration again on SIGHUP, `lifecycle`
/// follows the generations and the drain, and each child gets a slot of the shared counters
/// (`--admin`), retired when it is gone.
pub(crate) fn hooks(
    lifecycle: std::sync::Arc<pollux_server::Lifecycle>,
    metrics: Option<std::sync::Arc<pollux_server::metrics::Area>>,
    reload: pollux_supervisor::Reload,
) -> pollux_supervisor::Hooks {
    let (on_gen, on_drain) = (lifecycle.clone(), lifecycle);
    let (on_start, on_gone) = (metrics.clone(), metrics);
    pollux_supervisor::Hooks {
        reload: Some(reload),
        on_generation: Box::new(move |g| on_gen.set_generation(g)),
        on_drain: Box::new(move || on_drain.begin_draining()),
        child_start: Box::new(move |cmd| {
            use pollux_server::metrics::{METRICS_FD, METRICS_SLOT};
            let area = on_start.as_ref()?;
            let slot = area.claim()?;
            cmd.env(METRICS_FD, area.raw_fd().to_string()).env(METRICS_SLOT, slot.to_string());
            Some(slot)
        }),
        child_gone: Box::new(move |slot| {
            // What the child counted joins the retired totals; the slot is free again.
            if let Some(area) = &on_gone {
                area.retire(slot);
            }
        }),
    }
}

/// SIGHUP and SIGUSR2 without a supervisor: their default action would end the process, so
/// they are caught. Alone, each gets a line saying what would make it work; a supervisor's
/// child (which its supervisor never sends them) ignores them.
pub(crate) fn single_process_signals(child: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    use signal_hook::consts::{SIGHUP, SIGUSR2};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGHUP, SIGUSR2]).context("cannot catch SIGHUP")?;
    std::thread::Builder::new()
        .name("hup".into())
        .spawn(move || {
            for sig in signals.forever() {
                if child {
                    continue;
                }
                let what = if sig == SIGHUP {
                    "SIGHUP: reloading the configuration"
                } else {
                    "SIGUSR2: a binary upgrade"
                };
                eprintln!("pollux: {what} needs --supervise or --config; serving on");
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
