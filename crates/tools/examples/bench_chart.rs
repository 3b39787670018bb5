//! The chart at the top of docs/benchmarks.md: pollux against the best of nginx, lighttpd and
//! h2o, one bar per scenario, from the medians `bench/compare.sh --runs N` prints.
//!
//! ```sh
//! bench/compare.sh --runs 5 > /tmp/medians.tsv
//! cargo run -p pollux-tools --example bench_chart -- docs/benchmarks.svg < /tmp/medians.tsv
//! ```
//!
//! Each bar is how many times better pollux is than the best peer on that row's metric
//! (requests or bytes per second: pollux ÷ best; CPU per request or memory per connection:
//! best ÷ pollux), so above 1 is ahead and the line at 1 is parity whatever the metric.

use std::io::Read;

use plotters::prelude::*;

/// One bar: the row's label and pollux's advantage over the best peer.
struct Bar {
    label: String,
    advantage: f64,
}

fn bars(tsv: &str) -> Vec<Bar> {
    let mut header: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in tsv.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.first() == Some(&"scenario") {
            header = cols;
            continue;
        }
        let get = |name: &str| header.iter().position(|h| *h == name).and_then(|i| cols.get(i));
        let (Some(sc), Some(metric)) = (get("scenario"), get("metric")) else { continue };
        let Some(Ok(ratio)) = get("candidate/best").map(|v| v.parse::<f64>()) else { continue };
        if ratio <= 0.0 {
            continue;
        }
        let lower_is_better = metric.starts_with("cpu") || metric.starts_with("rss");
        let advantage = if lower_is_better { 1.0 / ratio } else { ratio };
        out.push(Bar { label: format!("{sc} {metric}"), advantage });
    }
    out
}

fn draw(bars: &[Bar], path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 60 + 36 * bars.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    // A log axis: 7× (pipelined plaintext) and 0.9× must both be readable.
    let max = bars.iter().map(|b| b.advantage).fold(2.0, f64::max) * 3.0; // room for the labels
    let min = bars.iter().map(|b| b.advantage).fold(0.5, f64::min) * 0.8;
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption("pollux vs the best of nginx, lighttpd, h2o (× better; 1 = parity)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(10)
        .build_cartesian_2d((min..max).log_scale(), 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_label_formatter(&|v| format!("{v:.1}×"))
        .draw()?;
    for (i, b) in bars.iter().enumerate() {
        let top = (n - i) as f64 - 0.15;
        let color = if b.advantage >= 1.0 { RGBColor(46, 125, 50) } else { RGBColor(198, 40, 40) };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(min, top - 0.7), (b.advantage, top)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{}  {:.2}×", b.label, b.advantage),
            (b.advantage * 1.03, top - 0.5),
            ("sans-serif", 14),
        )))?;
    }
    chart.draw_series(LineSeries::new([(1.0, 0.0), (1.0, n as f64)], BLACK.stroke_width(1)))?;
    root.present()?;
    Ok(())
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "benchmarks.svg".into());
    let mut tsv = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut tsv) {
        eprintln!("bench_chart: reading the medians: {e}");
        std::process::exit(1);
    }
    let bars = bars(&tsv);
    if bars.is_empty() {
        eprintln!("bench_chart: no rows with a candidate/best ratio on stdin (bench/compare.sh --runs N prints them)");
        std::process::exit(1);
    }
    if let Err(e) = draw(&bars, &path) {
        eprintln!("bench_chart: {path}: {e}");
        std::process::exit(1);
    }
}
