//! `pollux lab c10k`: flags to `pollux_tools::lab`, rows to stdout as they are measured,
//! the chart to `--svg`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use pollux_tools::lab::{self, Config};

#[derive(Debug, Args)]
pub(crate) struct LabArgs {
    #[command(subcommand)]
    experiment: Experiment,
}

#[derive(Debug, Subcommand)]
enum Experiment {
    /// Each echo model under N idle connections plus a few busy clients.
    C10k(C10kArgs),
}

#[derive(Debug, Args)]
struct C10kArgs {
    /// Idle connection counts, one step each.
    #[arg(long, value_delimiter = ',', default_value = "0,100,1000,10000")]
    steps: Vec<usize>,
    /// Active clients doing round-trips during each step.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Length of each step's measurement window, in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Models to run (comma-separated) [default: all, the reactor last].
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(lab::MODELS))]
    models: Vec<String>,
    /// Seconds allowed to open a step's idle connections before the step counts as failed.
    #[arg(long, default_value_t = 20.0)]
    setup_timeout: f64,
    /// Write the chart here (SVG).
    #[arg(long)]
    svg: Option<PathBuf>,
}

pub(crate) fn run(args: LabArgs) -> anyhow::Result<()> {
    let Experiment::C10k(a) = args.experiment;
    anyhow::ensure!(a.seconds > 0.0 && a.seconds <= 60.0, "--seconds must be in (0, 60]");
    anyhow::ensure!((1..=256).contains(&a.clients), "--clients must be 1..=256");
    anyhow::ensure!(a.steps.iter().all(|&n| n <= 100_000), "steps above 100000 idle connections are refused");
    let nofile = lab::procfs::raise_nofile_limit().context("cannot raise RLIMIT_NOFILE")?;
    if let Some(&max) = a.steps.iter().max() {
        if max as u64 + 64 > nofile {
            eprintln!("pollux: RLIMIT_NOFILE is {nofile}; the {max}-connection step will fail");
        }
    }
    let cfg = Config {
        exe: std::env::current_exe().context("cannot find the pollux binary")?,
        models: if a.models.is_empty() {
            lab::MODELS.iter().map(|m| m.to_string()).collect()
        } else {
            a.models
        },
        steps: a.steps,
        clients: a.clients,
        window: Duration::from_secs_f64(a.seconds),
        setup_timeout: Duration::from_secs_f64(a.setup_timeout),
    };
    // On stderr, so that stdout stays a table for scripts.
    eprint!("{}", legend(cfg.clients));
    println!("{}", lab::header());
    let rows = lab::run_c10k(&cfg, |row| {
        println!("{}", lab::format_row(row));
        let _ = std::io::stdout().flush();
    });
    eprintln!("pollux: a run on a quiet machine and what it shows: docs/io-models.md");
    if let Some(path) = a.svg {
        lab::chart::write_svg(&rows, &path)?;
        eprintln!("pollux: chart written to {}", path.display());
    }
    Ok(())
}

/// What the columns mean, and the caveat that matters most when reading them.
fn legend(clients: usize) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "pollux lab c10k: each echo server model in turn, under N idle connections plus {clients} busy clients\n\
         \x20 idle       idle connections held open during the step (each one echoed a byte first)\n\
         \x20 clients    busy clients, each sending a line and waiting for its echo, in a loop\n\
         \x20 rt/s       round-trips per second, all busy clients together (higher is better)\n\
         \x20 p50_us     median round-trip time in microseconds; p99_us: the 99th percentile\n\
         \x20 cpu_us/rt  server CPU time (user + system, whole process tree) per round-trip, in µs\n\
         \x20 rss_MiB    server resident memory at the end of the step\n\
         \x20 status     ok, skipped (a step the model cannot take, and why) or failed\n\
         warning: the load generator and the servers share this machine's {cores} core(s); \
         compare models with each other, not with other machines, and keep the machine quiet\n"
    )
}
