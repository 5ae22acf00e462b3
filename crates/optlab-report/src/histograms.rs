//! Heatmaps of the per-step histograms of |g| and |update| (`grad_histograms`; see
//! [`optlab_nn::histogram`]), as in the RAdam figure of the course notes: one row per run, the
//! |g| panel on the left and the |update| panel on the right; x = log10 of the value (the bins),
//! y = the logged step, colour = the share of the parameters in the bin at that step (a square-root
//! scale, so that thin tails stay visible). The under/overflow bins are drawn as one bin-width
//! beyond the ends. Only the span of bins that hold a count in any drawn histogram is shown.

use crate::ReportError;
use optlab_nn::histogram::{StepHistogram, BINS, LOG10_LO, PER_DECADE};
use plotters::prelude::*;
use std::path::Path;

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The header of `histograms.csv`.
pub const CSV_HEADER: &str = "step,kind,bin,lower,upper,count";

/// One row per step, kind (`grad`, `update`) and bin: `step,kind,bin,lower,upper,count` (the
/// lower edge of bin 0 is 0, the upper edge of the last bin `inf`).
pub fn csv(hists: &[StepHistogram]) -> String {
    let mut s = format!("{CSV_HEADER}\n");
    for h in hists {
        for (kind, counts) in [("grad", &h.grad), ("update", &h.update)] {
            for (i, c) in counts.iter().enumerate() {
                let (lo, hi) = (optlab_nn::histogram::lower_edge(i), optlab_nn::histogram::lower_edge(i + 1));
                s.push_str(&format!("{},{kind},{i},{lo:e},{hi:e},{c}\n", h.step));
            }
        }
    }
    s
}

/// The x position (log10) of bin `i`'s lower edge: the underflow bin is drawn one bin-width below
/// `1e-12`.
fn x_of(i: usize) -> f64 {
    LOG10_LO as f64 + (i as f64 - 1.0) / PER_DECADE as f64
}

/// The bins `[first, last]` that hold a count in any histogram (None when all are empty).
fn occupied(runs: &[(String, &[StepHistogram])]) -> Option<(usize, usize)> {
    let mut span: Option<(usize, usize)> = None;
    for (_, hs) in runs {
        for h in hs.iter() {
            for counts in [&h.grad, &h.update] {
                for (i, &c) in counts.iter().enumerate() {
                    if c > 0 {
                        span = Some(span.map_or((i, i), |(a, b)| (a.min(i), b.max(i))));
                    }
                }
            }
        }
    }
    span
}

/// Draws the heatmaps of `runs` (label, histograms) into `path` (PNG or SVG by extension),
/// through a temporary name and a rename.
pub fn plot(title: &str, runs: &[(String, &[StepHistogram])], path: &Path) -> Result<(), ReportError> {
    crate::style::register_fonts();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_string();
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}.{ext}",
        path.file_stem().and_then(|f| f.to_str()).unwrap_or("plot"),
        std::process::id()
    ));
    let size = (1100, 80 + 300 * runs.len().max(1) as u32);
    let r = match ext.as_str() {
        "png" => draw(&BitMapBackend::new(&tmp, size).into_drawing_area(), title, runs),
        "svg" => draw(&SVGBackend::new(&tmp, size).into_drawing_area(), title, runs),
        _ => Err("the extension must be png or svg".into()),
    };
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReportError::Plot { path: path.into(), message: e.to_string() });
    }
    std::fs::rename(&tmp, path).map_err(|e| ReportError::io(path, e))
}

/// The SVG text of [`plot`] (for the HTML report).
pub fn svg(title: &str, runs: &[(String, &[StepHistogram])]) -> Result<String, String> {
    crate::style::register_fonts();
    let size = (1100, 80 + 300 * runs.len().max(1) as u32);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        draw(&root, title, runs).map_err(|e| e.to_string())?;
    }
    Ok(s)
}

pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    runs: &[(String, &[StepHistogram])],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    const FAMILY: &str = crate::style::FAMILY;
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(50);
    head.titled(title, (FAMILY, 22))?;
    let (first, last) = occupied(runs).unwrap_or((1, BINS - 2));
    let (x0, x1) = (x_of(first), x_of(last + 1));
    let rows = body.split_evenly((runs.len().max(1), 2));
    for (r, (label, hs)) in runs.iter().enumerate() {
        let steps: Vec<u64> = hs.iter().map(|h| h.step).collect();
        let y1 = match steps.len() {
            0 => 1.0,
            1 => steps[0] as f64 + 1.0,
            n => steps[n - 1] as f64 + (steps[n - 1] - steps[n - 2]) as f64,
        };
        let y0 = steps.first().copied().unwrap_or(0) as f64;
        for (c, kind) in ["|g|", "|update|"].iter().enumerate() {
            let area = &rows[r * 2 + c];
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{label}: {kind}"), (FAMILY, 16))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1.max(y0 + 1.0))?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(format!("log10 {kind}"))
                .y_desc("step")
                .label_style((FAMILY, 13))
                .axis_desc_style((FAMILY, 14))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .draw()?;
            let mut cells = Vec::new();
            for (k, h) in hs.iter().enumerate() {
                let counts = if c == 0 { &h.grad } else { &h.update };
                let total: u64 = counts.iter().sum();
                if total == 0 {
                    continue;
                }
                let top = steps.get(k + 1).map_or(y1, |&s| s as f64);
                for (i, &n) in counts.iter().enumerate().take(last + 1).skip(first) {
                    if n == 0 {
                        continue;
                    }
                    let share = n as f64 / total as f64;
                    let color = crate::plots::ramp(1.0 - share.sqrt());
                    cells.push(Rectangle::new([(x_of(i), h.step as f64), (x_of(i + 1), top)], color.filled()));
                }
            }
            chart.draw_series(cells)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(step: u64, g: &[(usize, u64)], u: &[(usize, u64)]) -> StepHistogram {
        let mut grad = vec![0; BINS];
        let mut update = vec![0; BINS];
        g.iter().for_each(|&(i, c)| grad[i] = c);
        u.iter().for_each(|&(i, c)| update[i] = c);
        StepHistogram { step, grad, update }
    }

    #[test]
    fn csv_rows_and_the_occupied_span() {
        let hs = vec![hist(0, &[(20, 3)], &[(0, 3)]), hist(5, &[(21, 2), (22, 1)], &[(30, 3)])];
        let text = csv(&hs);
        assert_eq!(text.lines().count(), 1 + 2 * 2 * BINS);
        assert!(text.contains("\n0,grad,20,"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("5,update,30,") && l.ends_with(",3")));
        assert!(text.contains("0,update,0,0e0,1e-12,3"));
        let runs = vec![("a".to_string(), &hs[..])];
        assert_eq!(occupied(&runs), Some((0, 30)));
        let dir = tempfile::tempdir().unwrap();
        for f in ["h.png", "h.svg"] {
            plot("t", &runs, &dir.path().join(f)).unwrap();
            assert!(std::fs::metadata(dir.path().join(f)).unwrap().len() > 1000);
        }
        assert!(svg("t", &runs).unwrap().starts_with("<svg"));
        let e = plot("t", &runs, &dir.path().join("h.jpg")).unwrap_err().to_string();
        assert!(e.contains("h.jpg"), "{e}");
    }
}
