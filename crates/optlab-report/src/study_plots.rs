//! Pictures of a study with `plotters` (PNG and SVG): per function, a filled contour plot with the
//! trajectories of every optimizer from the first default start, and the loss-versus-step curves
//! of the same runs (log y). 1-D functions get `f(x)` with the iterates instead of a contour.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`crates/optlab-report/assets/fonts/`,
//! Bitstream Vera license) through plotters' `ab_glyph` feature, so no system font or fontconfig
//! is needed. The font, the palette and the landscape drawing (levels, bands, clipped
//! trajectories, marks, level key, contour chart) are the report's ([`crate::style`],
//! [`crate::landscape`]).
//!
//! Contour levels: `z = f − base`, where `base = f*` (or the lowest grid value without `f*`). If
//! the range of `z` over the plot box is large (max/median > 5) the 20 bands are equally spaced
//! in `log10(z + c)`, with `c = 1e-5 × (max − base)`; otherwise they are equally spaced in `f`.

use crate::error::ReportError;
use crate::study_tables::lr_text;
use optlab_lab::function_task::Outcome;
use optlab_lab::study::{RunRecord, Study, StudyFunction};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

use crate::landscape::{
    clip_polyline, contour_chart, draw_level_key, draw_marks, draw_trajectory, path_elements, DrawResult, Landscape,
};
use crate::style::{register_fonts, series_color, FAMILY};

type Result<T, E = ReportError> = std::result::Result<T, E>;

/// Trajectories are drawn in optimizer order with decreasing widths (5 px down to 2 px), so a path
/// hidden under a later one still shows as a border around it.
fn line_width(i: usize, n: usize) -> u32 {
    if n <= 1 {
        return 2;
    }
    (5.0 - 3.0 * i as f64 / (n - 1) as f64).round() as u32
}

/// One loss curve: optimizer index, (step, value) points, diverged.
type Series = (usize, Vec<(f64, f64)>, bool);

fn err(path: &Path, e: Box<dyn std::error::Error>) -> ReportError {
    ReportError::Plot { path: path.to_path_buf(), message: e.to_string() }
}

fn outcome_text(r: &RunRecord) -> String {
    let o = r.result.outcome;
    match o {
        Outcome::Reached | Outcome::Escaped => {
            format!("{} in {} step{}", o.as_str(), r.result.steps, if r.result.steps == 1 { "" } else { "s" })
        }
        Outcome::MaxSteps => format!("max steps ({})", r.result.steps),
        _ => format!(
            "{} after {} step{}",
            o.as_str().replace('_', " "),
            r.result.steps,
            if r.result.steps == 1 { "" } else { "s" }
        ),
    }
}

fn fmt_pt(x: &[f64]) -> String {
    x.iter().map(|v| format!("{}", (v * 1000.0).round() / 1000.0)).collect::<Vec<_>>().join(", ")
}

/// The first default start's run of each optimizer on function `fi`.
fn first_runs(study: &Study, fi: usize) -> Vec<&RunRecord> {
    (0..study.optimizers.len()).filter_map(|oi| study.runs_of(oi, fi).iter().find(|r| r.trace.is_some())).collect()
}

/// Draws the legend panel: one entry per optimizer (line + name; lr and outcome below).
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, study: &Study, fi: usize, top: i32) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let runs = first_runs(study, fi);
    let title = TextStyle::from((FAMILY, 16).into_font()).color(&BLACK);
    area.draw(&Text::new("optimizer (lr: outcome)", (8, top), title))?;
    let name_style = TextStyle::from((FAMILY, 15).into_font()).color(&BLACK);
    let sub_style = TextStyle::from((FAMILY, 13).into_font()).color(&RGBColor(70, 70, 70));
    for (k, r) in runs.iter().enumerate() {
        let y = top + 30 + 44 * k as i32;
        let c = series_color(r.optimizer, study.optimizers.len());
        area.draw(&PathElement::new(
            vec![(8, y + 8), (38, y + 8)],
            c.stroke_width(line_width(r.optimizer, study.optimizers.len())),
        ))?;
        area.draw(&Circle::new((23, y + 8), 4, c.filled()))?;
        area.draw(&Text::new(study.optimizers[r.optimizer].label.clone(), (46, y), name_style.clone()))?;
        let lr = study.lr[r.optimizer][fi].lr();
        area.draw(&Text::new(format!("lr {}: {}", lr_text(lr), outcome_text(r)), (46, y + 19), sub_style.clone()))?;
    }
    Ok(())
}

/// Filled contour + trajectories (2-D) or `f(x)` + iterates (1-D).
fn draw_landscape<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    study: &Study,
    fi: usize,
    grid: usize,
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let sf: &StudyFunction = &study.functions[fi];
    let p = &sf.problem;
    let f = &*p.f;
    root.fill(&WHITE)?;
    let (w, _h) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(w as i32 - 290);
    let runs = first_runs(study, fi);
    let start = sf.starts.iter().find(|s| s.default).map(|s| s.x.clone()).unwrap_or_default();
    let bx = f.plot_box();
    if f.dim() == 1 {
        let caption = format!("{}: f(x) and iterates from x = {}", f.title(), fmt_pt(&start));
        let size = caption_size(&left, &caption, 22);
        let mut chart = ChartBuilder::on(&left)
            .caption(caption, (FAMILY, size))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(bx[0].0..bx[0].1, bx[1].0..bx[1].1)?;
        chart
            .configure_mesh()
            .x_desc("x")
            .y_desc("f(x)")
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .draw()?;
        let n = 400;
        let curve: Vec<(f64, f64)> = (0..=n)
            .map(|k| {
                let x = bx[0].0 + (bx[0].1 - bx[0].0) * k as f64 / n as f64;
                (x, f.value(&[x]))
            })
            .collect();
        chart.draw_series(LineSeries::new(curve, BLACK.stroke_width(2)))?;
        let pbox = [bx[0], bx[1]];
        for r in &runs {
            let tr = r.trace.as_ref().expect("first runs have traces");
            let pts: Vec<(f64, f64)> = tr.chunks_exact(2).map(|c| (c[1], c[0])).collect();
            let c = series_color(r.optimizer, study.optimizers.len());
            for piece in clip_polyline(&pts, pbox) {
                chart.draw_series(path_elements(&piece, c.stroke_width(2), bitmap))?;
            }
            chart.draw_series(
                pts.iter()
                    .filter(|q| q.0 >= pbox[0].0 && q.0 <= pbox[0].1 && q.1 >= pbox[1].0 && q.1 <= pbox[1].1)
                    .map(|&q| Circle::new(q, 3, c.filled())),
            )?;
        }
        if let Some(&x0) = start.first() {
            chart.draw_series(std::iter::once(Circle::new((x0, f.value(&[x0])), 7, BLACK.stroke_width(2))))?;
        }
    } else {
        // Grid of values over the plot box (first two coordinates; others at the first start's values).
        let land = Landscape::compute(f, &start, [bx[0], bx[1]], grid, 20);
        let levels = land.levels;
        let scale = if levels.log { "log-scale levels of f − f*" } else { "linear levels of f" };
        let caption = format!("{}: trajectories from ({}); {}", f.title(), fmt_pt(&start), scale);
        let size = caption_size(&left, &caption, 20);
        let mut chart = contour_chart(&left, &land, Some((&caption, size)), bitmap)?;
        let pbox = [bx[0], bx[1]];
        // Trajectories: lines, then dots at the iterates.
        for r in &runs {
            let tr = r.trace.as_ref().expect("first runs have traces");
            let d = f.dim();
            let pts: Vec<(f64, f64)> = tr.chunks_exact(d + 1).map(|c| (c[1], c[2])).collect();
            let wd = line_width(r.optimizer, study.optimizers.len());
            draw_trajectory(&mut chart, &pts, pbox, series_color(r.optimizer, study.optimizers.len()), wd, bitmap)?;
        }
        // Minima (black ×, white halo) and the start (white disc, black ring).
        let starts: Vec<(f64, f64)> = if start.len() >= 2 { vec![(start[0], start[1])] } else { Vec::new() };
        draw_marks(&mut chart, &p.minima, &starts)?;
        // Level key at the bottom of the legend panel.
        let (_, rh) = right.dim_in_pixel();
        draw_level_key(&right, &levels, !p.minima.is_empty(), rh as i32 - 120)?;
    }
    draw_legend(&right, study, fi, 20)?;
    Ok(())
}

/// Loss (gap to f*, log y; or f, linear y, without f*) versus step for the first default start.
fn draw_loss<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, study: &Study, fi: usize, bitmap: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let sf = &study.functions[fi];
    let p = &sf.problem;
    let f = &*p.f;
    root.fill(&WHITE)?;
    let (w, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(w as i32 - 290);
    let runs = first_runs(study, fi);
    let d = f.dim();
    let series: Vec<Series> = runs
        .iter()
        .map(|r| {
            let tr = r.trace.as_ref().expect("traced");
            let pts = tr
                .chunks_exact(d + 1)
                .enumerate()
                .filter(|(_, c)| c[0].is_finite())
                .map(|(k, c)| (k as f64, c[0]))
                .collect();
            (r.optimizer, pts, r.result.outcome == Outcome::Diverged)
        })
        .collect();
    let xmax = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2) as f64 - 1.0;
    let start = sf.starts.iter().find(|s| s.default).map(|s| fmt_pt(&s.x)).unwrap_or_default();
    match p.fstar {
        Some(fs) => {
            let floor = 1e-16;
            let gap = |v: f64| (v - fs).max(floor);
            // The y range stops at 1000 × the starting gap: curves of runs that blow up are drawn
            // along the top edge (their end marked ✕).
            let start_gap = series.iter().filter_map(|s| s.1.first()).map(|q| gap(q.1)).fold(floor, f64::max);
            let cap = start_gap * 1e3;
            let ys: Vec<f64> = series.iter().flat_map(|s| s.1.iter().map(|q| gap(q.1).min(cap))).collect();
            let ymin = ys.iter().copied().fold(f64::INFINITY, f64::min).max(floor) / 3.0;
            let ymax = ys.iter().copied().fold(0.0, f64::max).max(ymin * 100.0) * 1.5;
            let gap = |v: f64| gap(v).min(cap);
            let mut chart = ChartBuilder::on(&left)
                .caption(format!("{}: f − f* versus step, start ({})", f.title(), start), (FAMILY, 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(75)
                .build_cartesian_2d(0.0..xmax, (ymin..ymax).log_scale())?;
            chart
                .configure_mesh()
                .x_desc("step")
                .x_label_formatter(&step_label)
                .y_desc("f − f*  (log scale)")
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .label_style((FAMILY, 15))
                .axis_desc_style((FAMILY, 17))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (oi, pts, diverged) in &series {
                let c = series_color(*oi, study.optimizers.len());
                let pts: Vec<(f64, f64)> = pts.iter().map(|q| (q.0, gap(q.1))).collect();
                chart.draw_series(path_elements(&pts, c.stroke_width(2), bitmap))?;
                if let Some(&last) = pts.last() {
                    if *diverged {
                        chart.draw_series(std::iter::once(Cross::new(last, 7, c.stroke_width(3))))?;
                    } else {
                        chart.draw_series(std::iter::once(Circle::new(last, 5, c.filled())))?;
                    }
                }
            }
            let tol = p.ftol_abs;
            if tol > ymin && tol < ymax {
                chart.draw_series(DashedLineSeries::new(vec![(0.0, tol), (xmax, tol)], 6, 4, BLACK.stroke_width(1)))?;
                chart.draw_series(std::iter::once(Text::new(
                    format!("tol {tol:.0e}"),
                    (xmax * 0.85, tol * 2.0),
                    (FAMILY, 14),
                )))?;
            }
        }
        None => {
            // Unbounded below: the y range stops a little below the domain's lowest value (a run
            // that jumps far beyond is drawn along the bottom edge).
            let floor = p.f_floor - 2.0 * (p.f_floor.abs() + 1.0);
            let series: Vec<Series> = series
                .into_iter()
                .map(|(o, pts, d)| (o, pts.into_iter().map(|q| (q.0, q.1.max(floor))).collect(), d))
                .collect();
            let ys: Vec<f64> = series.iter().flat_map(|s| s.1.iter().map(|q| q.1)).collect();
            let ymin = ys.iter().copied().fold(f64::INFINITY, f64::min);
            let ymax = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let pad = 0.05 * (ymax - ymin).max(1e-9);
            let mut chart = ChartBuilder::on(&left)
                .caption(format!("{}: f versus step, start ({})", f.title(), start), (FAMILY, 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(75)
                .build_cartesian_2d(0.0..xmax, (ymin - pad)..(ymax + pad))?;
            chart
                .configure_mesh()
                .x_desc("step")
                .x_label_formatter(&step_label)
                .y_desc("f (no minimum: unbounded below)")
                .label_style((FAMILY, 15))
                .axis_desc_style((FAMILY, 17))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (oi, pts, diverged) in &series {
                let c = series_color(*oi, study.optimizers.len());
                chart.draw_series(path_elements(pts, c.stroke_width(2), bitmap))?;
                if let Some(&last) = pts.last() {
                    if *diverged {
                        chart.draw_series(std::iter::once(Cross::new(last, 7, c.stroke_width(3))))?;
                    } else {
                        chart.draw_series(std::iter::once(Circle::new(last, 5, c.filled())))?;
                    }
                }
            }
        }
    }
    draw_legend(&right, study, fi, 20)?;
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&RGBColor(70, 70, 70));
    let (_, rh) = right.dim_in_pixel();
    right.draw(&Text::new("● end of run   ✕ diverged", (8, rh as i32 - 40), st))?;
    Ok(())
}

/// Step axis labels: integers as such, other ticks with one decimal.
fn step_label(v: &f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The largest font size up to `size` (at least 11) at which `caption` fits the width of `area`
/// (long captions: the titles of formula functions).
fn caption_size<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, caption: &str, size: u32) -> u32 {
    let (w, _) = area.dim_in_pixel();
    (11..=size)
        .rev()
        .find(|&s| {
            area.estimate_text_size(caption, &TextStyle::from((FAMILY, s).into_font()))
                .is_ok_and(|(tw, _)| tw + 24 <= w)
        })
        .unwrap_or(11)
}

const CONTOUR_SIZE: (u32, u32) = (1060, 760);
const LOSS_SIZE: (u32, u32) = (1060, 620);

/// Pixels of the legend panel's entries for `n` optimizers: the title, 44 px per entry, a margin.
fn legend_height(n: usize) -> u32 {
    20 + 30 + 44 * n as u32 + 20
}

/// The canvas of a contour plot: taller than [`CONTOUR_SIZE`] when the legend and the level key
/// below it (140 px) need it, so that a study of many optimizers keeps every entry readable.
fn contour_size(n: usize) -> (u32, u32) {
    (CONTOUR_SIZE.0, CONTOUR_SIZE.1.max(legend_height(n) + 140))
}

/// The canvas of a loss plot: taller than [`LOSS_SIZE`] when the legend needs it.
fn loss_size(n: usize) -> (u32, u32) {
    (LOSS_SIZE.0, LOSS_SIZE.1.max(legend_height(n) + 40))
}

/// Writes the plots of function `fi` into `dir`; returns the files.
pub fn write_function(study: &Study, fi: usize, dir: &Path) -> Result<Vec<PathBuf>> {
    register_fonts();
    let name = optlab_functions::file_stem(study.functions[fi].problem.name());
    let mut files = Vec::new();
    let n = study.optimizers.len();
    let contour_png = dir.join(format!("{name}_contour.png"));
    let contour_svg = dir.join(format!("{name}_contour.svg"));
    let loss_png = dir.join(format!("{name}_loss.png"));
    let loss_svg = dir.join(format!("{name}_loss.svg"));
    let run = |path: &Path, f: &dyn Fn() -> DrawResult| f().map_err(|e| err(path, e));
    run(&contour_png, &|| {
        let root = BitMapBackend::new(&contour_png, contour_size(n)).into_drawing_area();
        draw_landscape(root.clone(), study, fi, 700, true)?;
        root.present()?;
        Ok(())
    })?;
    files.push(contour_png.clone());
    run(&contour_svg, &|| {
        let root = SVGBackend::new(&contour_svg, contour_size(n)).into_drawing_area();
        draw_landscape(root.clone(), study, fi, 100, false)?;
        root.present()?;
        Ok(())
    })?;
    files.push(contour_svg.clone());
    run(&loss_png, &|| {
        let root = BitMapBackend::new(&loss_png, loss_size(n)).into_drawing_area();
        draw_loss(root.clone(), study, fi, true)?;
        root.present()?;
        Ok(())
    })?;
    files.push(loss_png.clone());
    run(&loss_svg, &|| {
        let root = SVGBackend::new(&loss_svg, loss_size(n)).into_drawing_area();
        draw_loss(root.clone(), study, fi, false)?;
        root.present()?;
        Ok(())
    })?;
    files.push(loss_svg);
    Ok(files)
}

/// Writes every function's plots into `dir`; returns the files.
pub fn write_all(study: &Study, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let per: Vec<Vec<PathBuf>> =
        (0..study.functions.len()).map(|fi| write_function(study, fi, dir)).collect::<Result<_>>()?;
    Ok(per.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_uses_the_shared_font() {
        crate::style::register_fonts();
        assert_eq!(FAMILY, crate::style::FAMILY);
    }

    /// The default study's 8 optimizers keep the usual canvases; 30 (every registered one) get
    /// canvases tall enough for all legend entries above the level key, and colours that stay
    /// apart (the 10-colour palette would repeat).
    #[test]
    fn many_optimizers_get_a_taller_canvas_and_distinct_colours() {
        assert_eq!((contour_size(8), loss_size(8)), (CONTOUR_SIZE, LOSS_SIZE));
        let (_, h) = contour_size(30);
        assert!(h >= 50 + 44 * 30 + 140, "{h}");
        assert!(loss_size(30).1 >= 50 + 44 * 30, "{:?}", loss_size(30));
        let colours: std::collections::HashSet<_> = (0..30)
            .map(|i| {
                let c = series_color(i, 30);
                (c.0, c.1, c.2)
            })
            .collect();
        assert_eq!(colours.len(), 30);
    }
}
