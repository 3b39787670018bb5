//! `pollux lab c10k` through the real binary, small: two idle steps, two active clients,
//! a third of a second per step, three models (a readiness model, a process per client and
//! our reactor); every (model, step) row must be measured with positive round-trips/s, and
//! the chart must be written.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use pollux_testkit::pollux_bin;

#[test]
fn c10k_small_run_measures_every_model_and_step() {
    let svg = std::env::temp_dir().join(format!("pollux-lab-{}.svg", std::process::id()));
    let t0 = Instant::now();
    let out = Command::new(pollux_bin())
        .args(["lab", "c10k", "--steps", "0,10", "--seconds", "0.3", "--clients", "2"])
        .args(["--models", "poll,process,reactor", "--svg"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "lab failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(t0.elapsed() < Duration::from_secs(20), "lab took {:?}", t0.elapsed());
    // The legend, the caveat and the pointer to the write-up go to stderr (issue 19).
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "rt/s       round-trips per second",
        "cpu_us/rt  server CPU time",
        "share this machine's",
        "docs/io-models.md",
    ] {
        assert!(err.contains(needle), "no {needle:?} in:\n{err}");
    }
    let table = String::from_utf8(out.stdout).unwrap();
    for model in ["poll", "process", "reactor"] {
        for idle in ["0", "10"] {
            let row = table
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find(|c| c.len() >= 9 && c[0] == model && c[1] == idle)
                .unwrap_or_else(|| panic!("no row for {model} at {idle} idle:\n{table}"));
            let rps: f64 =
                row[3].parse().unwrap_or_else(|_| panic!("{model}/{idle}: rt/s {:?}\n{table}", row[3]));
            assert!(rps > 0.0, "{model}/{idle}: {rps} rt/s\n{table}");
            assert_eq!(row[8], "ok", "{model}/{idle}\n{table}");
        }
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_file(&svg);
    assert!(
        chart.starts_with("<svg") && chart.contains("reactor"),
        "chart: {}",
        &chart[..chart.len().min(200)]
    );
}
