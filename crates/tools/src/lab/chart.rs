//! The lab's result as a picture: round-trips per second against idle connections (log x),
//! one line per model, and below it the server CPU per round-trip on the same x axis.
//!
//! Idle count 0 cannot sit on a log axis, so it is drawn at 1; the caption says so.

use std::path::Path;

use plotters::prelude::*;

use super::{LabError, Outcome, Row};

/// The measured points of one model: (idle connections, value).
fn series(rows: &[Row], model: &str, value: impl Fn(&super::Measure) -> f64) -> Vec<(f64, f64)> {
    rows.iter()
        .filter(|r| r.model == model)
        .filter_map(|r| match &r.outcome {
            Outcome::Measured(m) => Some(((r.idle.max(1)) as f64, value(m))),
            _ => None,
        })
        .collect()
}

/// Writes the two-panel chart of `rows` to `path` as SVG.
pub fn write_svg(rows: &[Row], path: &Path) -> Result<(), LabError> {
    draw(rows, path).map_err(|e| LabError::Chart(e.to_string()))
}

fn draw(rows: &[Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut models: Vec<&str> = Vec::new();
    for r in rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let max_idle = rows.iter().map(|r| r.idle).max().unwrap_or(1).max(10) as f64 * 2.0;
    let root = SVGBackend::new(path, (900, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(500);

    let rps = |m: &super::Measure| m.rps;
    let ymax = models.iter().flat_map(|m| series(rows, m, rps)).map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&top)
        .caption("Echo round-trips/s vs idle connections (idle 0 drawn at 1)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..max_idle).log_scale(), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("idle connections")
        .y_desc("round-trips/s")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (i, m) in models.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts = series(rows, m, rps);
        chart.draw_series(PointSeries::of_element(pts.clone(), 4, color.filled(), &|c, s, st| {
            EmptyElement::at(c) + Circle::new((0, 0), s, st)
        }))?;
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(*m)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;

    // CPU per round-trip spans orders of magnitude (the busy-polling model burns a core
    // whatever the load), so this panel's y axis is logarithmic too.
    let cpu = |m: &super::Measure| m.cpu_us_per_rt.max(0.1);
    let cmax = models.iter().flat_map(|m| series(rows, m, cpu)).map(|p| p.1).fold(1.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&bottom)
        .caption("Server CPU (user+system, process tree) per round-trip", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..max_idle).log_scale(), (0.1f64..cmax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("idle connections")
        .y_desc("CPU µs per round-trip")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v}"))
        .draw()?;
    for (i, m) in models.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts = series(rows, m, cpu);
        chart.draw_series(PointSeries::of_element(pts.clone(), 4, color.filled(), &|c, s, st| {
            EmptyElement::at(c) + Circle::new((0, 0), s, st)
        }))?;
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(*m)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
