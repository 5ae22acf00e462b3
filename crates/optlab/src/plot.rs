//! Pictures of a study with `plotters` (PNG and SVG): per function, a filled contour plot with the
//! trajectories of every optimizer from the first default start, and the loss-versus-step curves
//! of the same runs (log y). 1-D functions get `f(x)` with the iterates instead of a contour.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`assets/fonts/`, Bitstream Vera
//! license) through plotters' `ab_glyph` feature, so no system font or fontconfig is needed.
//!
//! Contour levels: `z = f − base`, where `base = f*` (or the lowest grid value without `f*`). If
//! the range of `z` over the plot box is large (max/median > 5) the 20 bands are equally spaced
//! in `log10(z + c)`, with `c = 1e-5 × (max − base)`; otherwise they are equally spaced in `f`.

use crate::error::{Error, Result};
use crate::study::{Outcome, RunRecord, Study, StudyFunction};
use crate::table::lr_text;
use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Registers the embedded font (once).
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            panic!("the embedded DejaVuSans.ttf is not a valid font");
        }
    });
}

/// Trajectory colours (Tableau 10 without its grey, then black).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Trajectories are drawn in optimizer order with decreasing widths (5 px down to 2 px), so a path
/// hidden under a later one still shows as a border around it.
fn line_width(i: usize, n: usize) -> u32 {
    if n <= 1 {
        return 2;
    }
    (5.0 - 3.0 * i as f64 / (n - 1) as f64).round() as u32
}

/// A darker shade of a band colour, for the cells on a band boundary (the contour lines).
fn line_color(c: RGBColor) -> RGBColor {
    RGBColor(c.0 - c.0 / 4, c.1 - c.1 / 4, c.2 - c.2 / 4)
}

/// One loss curve: optimizer index, (step, value) points, diverged.
type Series = (usize, Vec<(f64, f64)>, bool);

type DrawResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn err(path: &Path, e: Box<dyn std::error::Error>) -> Error {
    Error::Io { path: path.display().to_string(), source: std::io::Error::other(e.to_string()) }
}

/// Level mapping of a contour plot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    pub base: f64,
    pub log: bool,
    pub c: f64,
    pub lo: f64,
    pub hi: f64,
    pub bands: usize,
}

impl Levels {
    /// Chooses linear or log levels from grid values.
    pub fn choose(values: &[f64], fstar: Option<f64>, bands: usize) -> Levels {
        let finite: Vec<f64> = crate::study::sorted(values.iter().copied().filter(|v| v.is_finite()).collect());
        let gmin = finite.first().copied().unwrap_or(0.0);
        let gmax = finite.last().copied().unwrap_or(1.0);
        let base = fstar.map_or(gmin, |f| f.min(gmin));
        let med = crate::study::quantile_sorted(&finite, 0.5);
        let range = (gmax - base).max(1e-300);
        let log = (gmax - base) > 5.0 * (med - base).max(1e-300);
        let c = range * 1e-5;
        let mut l = Levels { base, log, c, lo: 0.0, hi: 1.0, bands };
        l.lo = l.v(gmin);
        l.hi = l.v(gmax);
        if l.hi.partial_cmp(&l.lo) != Some(std::cmp::Ordering::Greater) {
            l.hi = l.lo + 1.0;
        }
        l
    }
    /// The level variable.
    pub fn v(&self, f: f64) -> f64 {
        if self.log {
            (f - self.base + self.c).max(1e-300).log10()
        } else {
            f
        }
    }
    /// Band index in `0..bands`.
    pub fn band(&self, f: f64) -> usize {
        if !f.is_finite() {
            return self.bands - 1;
        }
        let t = (self.v(f) - self.lo) / (self.hi - self.lo);
        ((t * self.bands as f64).floor().max(0.0) as usize).min(self.bands - 1)
    }
    pub fn describe(&self) -> String {
        if self.log {
            format!("{} bands, log scale of f − f* + {:.1e}", self.bands, self.c)
        } else {
            format!("{} bands, linear in f", self.bands)
        }
    }
}

/// Grey ramp for the contour bands (dark = low f), so that coloured trajectories stand out: band
/// `k` of `n`.
pub fn band_color(k: usize, n: usize) -> RGBColor {
    let t = if n <= 1 { 0.0 } else { k as f64 / (n - 1) as f64 };
    let g = (140.0 + 112.0 * t).round() as u8;
    RGBColor(g, g, g.saturating_add(6))
}

/// A polyline as elements. Bitmap backends draw a wide polyline as a polygon with unlimited miter
/// joins, which turns a sharp reversal (an oscillating optimizer) into a long spike; there every
/// segment is drawn on its own (the iterate dots cover the joins). SVG viewers limit miters, so
/// SVG gets one polyline.
fn path_elements(pts: &[(f64, f64)], style: ShapeStyle, bitmap: bool) -> Vec<PathElement<(f64, f64)>> {
    if bitmap && style.stroke_width > 1 && pts.len() > 2 {
        pts.windows(2).map(|w| PathElement::new(vec![w[0], w[1]], style)).collect()
    } else {
        vec![PathElement::new(pts.to_vec(), style)]
    }
}

/// Clips the segment `a–b` to the box (Liang–Barsky); `None` when it is outside.
pub fn clip_segment(a: (f64, f64), b: (f64, f64), bx: [(f64, f64); 2]) -> Option<((f64, f64), (f64, f64))> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    if !(dx.is_finite() && dy.is_finite()) {
        return None;
    }
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [(-dx, a.0 - bx[0].0), (dx, bx[0].1 - a.0), (-dy, a.1 - bx[1].0), (dy, bx[1].1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 || !t0.is_finite() || !t1.is_finite() {
        return None;
    }
    Some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

/// Splits a polyline into its visible pieces inside the box.
pub fn clip_polyline(pts: &[(f64, f64)], bx: [(f64, f64); 2]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    if pts.len() == 1 {
        if let Some((p, _)) = clip_segment(pts[0], pts[0], bx) {
            out.push(vec![p]);
        }
        return out;
    }
    for w in pts.windows(2) {
        match clip_segment(w[0], w[1], bx) {
            Some((p, q)) => {
                if cur.last() != Some(&p) {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.push(p);
                }
                cur.push(q);
                if q != w[1] {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
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
        let c = color(r.optimizer);
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
        let mut chart = ChartBuilder::on(&left)
            .caption(caption, (FAMILY, 22))
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
            let c = color(r.optimizer);
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
        let (nx, ny) = (grid, grid);
        let mut x = start.clone();
        let mut vals = vec![0.0; nx * ny];
        let dx = (bx[0].1 - bx[0].0) / nx as f64;
        let dy = (bx[1].1 - bx[1].0) / ny as f64;
        for j in 0..ny {
            for i in 0..nx {
                x[0] = bx[0].0 + (i as f64 + 0.5) * dx;
                x[1] = bx[1].0 + (j as f64 + 0.5) * dy;
                vals[j * nx + i] = f.value(&x);
            }
        }
        let levels = Levels::choose(&vals, p.fstar, 20);
        let scale = if levels.log { "log-scale levels of f − f*" } else { "linear levels of f" };
        let caption = format!("{}: trajectories from ({}); {}", f.title(), fmt_pt(&start), scale);
        let mut chart = ChartBuilder::on(&left)
            .caption(caption, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(bx[0].0..bx[0].1, bx[1].0..bx[1].1)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x")
            .y_desc("y")
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .draw()?;
        // Filled bands, run-length merged along rows; in bitmaps, cells whose right or upper
        // neighbour lies in another band are drawn darker: they trace the contour lines.
        let bands: Vec<usize> = vals.iter().map(|&v| levels.band(v)).collect();
        let cell = |i: usize, j: usize| -> (usize, bool) {
            let b = bands[j * nx + i];
            let edge =
                bitmap && ((i + 1 < nx && bands[j * nx + i + 1] != b) || (j + 1 < ny && bands[(j + 1) * nx + i] != b));
            (b, edge)
        };
        let mut rects = Vec::new();
        for j in 0..ny {
            let mut i = 0;
            while i < nx {
                let key = cell(i, j);
                let mut e = i + 1;
                while e < nx && cell(e, j) == key {
                    e += 1;
                }
                let x0 = bx[0].0 + i as f64 * dx;
                let x1 = bx[0].0 + e as f64 * dx;
                let y0 = bx[1].0 + j as f64 * dy;
                let y1 = bx[1].0 + (j + 1) as f64 * dy;
                let c = band_color(key.0, levels.bands);
                rects.push(Rectangle::new([(x0, y0), (x1, y1)], if key.1 { line_color(c) } else { c }.filled()));
                i = e;
            }
        }
        chart.draw_series(rects)?;
        let pbox = [bx[0], bx[1]];
        // Trajectories: lines, then dots at every iterate.
        for r in &runs {
            let tr = r.trace.as_ref().expect("first runs have traces");
            let d = f.dim();
            let pts: Vec<(f64, f64)> = tr.chunks_exact(d + 1).map(|c| (c[1], c[2])).collect();
            let c = color(r.optimizer);
            let wd = line_width(r.optimizer, study.optimizers.len());
            for piece in clip_polyline(&pts, pbox) {
                chart.draw_series(path_elements(&piece, c.stroke_width(wd), bitmap))?;
            }
            // Dots at the iterates; in SVG only where they are at least 1/300 of the box apart
            // (keeps files small when thousands of iterates pile up).
            let (mx, my) = ((pbox[0].1 - pbox[0].0) / 300.0, (pbox[1].1 - pbox[1].0) / 300.0);
            let mut last = (f64::NAN, f64::NAN);
            let mut dots = Vec::new();
            for &q in &pts {
                let inside = q.0 >= pbox[0].0 && q.0 <= pbox[0].1 && q.1 >= pbox[1].0 && q.1 <= pbox[1].1;
                let apart = bitmap || !((q.0 - last.0).abs() < mx && (q.1 - last.1).abs() < my);
                if inside && apart {
                    dots.push(Circle::new(q, wd.max(3) as i32 - 1, c.filled()));
                    last = q;
                }
            }
            chart.draw_series(dots)?;
        }
        // Minima (black ×, white halo) and the start (white disc, black ring).
        for m in &p.minima {
            let q = (m[0], m[1]);
            chart.draw_series(std::iter::once(Cross::new(q, 8, WHITE.stroke_width(5))))?;
            chart.draw_series(std::iter::once(Cross::new(q, 8, BLACK.stroke_width(2))))?;
        }
        if start.len() >= 2 {
            let q = (start[0], start[1]);
            chart.draw_series(std::iter::once(Circle::new(q, 7, WHITE.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(q, 7, BLACK.stroke_width(2))))?;
        }
        // Level key at the bottom of the legend panel.
        let (_, rh) = right.dim_in_pixel();
        let key_top = rh as i32 - 120;
        let st = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK);
        right.draw(&Text::new(
            if levels.log { "levels: log10(f − f* + c)" } else { "levels: f" },
            (8, key_top),
            st.clone(),
        ))?;
        let bw = 12;
        for b in 0..levels.bands {
            let x0 = 8 + b as i32 * bw;
            right.draw(&Rectangle::new(
                [(x0, key_top + 22), (x0 + bw, key_top + 42)],
                band_color(b, levels.bands).filled(),
            ))?;
        }
        let inv = |v: f64| if levels.log { 10f64.powf(v) - levels.c + levels.base } else { v };
        let small = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
        right.draw(&Text::new(
            format!("f = {}", crate::table::num(inv(levels.lo))),
            (8, key_top + 48),
            small.clone(),
        ))?;
        right.draw(&Text::new(
            format!("… {}", crate::table::num(inv(levels.hi))),
            (8 + levels.bands as i32 * bw - 80, key_top + 66),
            small.clone(),
        ))?;
        let mk = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
        let marks = if p.minima.is_empty() { "○ start   (no minimum)" } else { "○ start   × global minimum" };
        right.draw(&Text::new(marks, (8, key_top + 90), mk))?;
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
                let c = color(*oi);
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
                let c = color(*oi);
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

const CONTOUR_SIZE: (u32, u32) = (1060, 760);
const LOSS_SIZE: (u32, u32) = (1060, 620);

/// Writes the plots of function `fi` into `dir`; returns the files.
pub fn write_function(study: &Study, fi: usize, dir: &Path) -> Result<Vec<PathBuf>> {
    register_fonts();
    let name = study.functions[fi].problem.name();
    let mut files = Vec::new();
    let contour_png = dir.join(format!("{name}_contour.png"));
    let contour_svg = dir.join(format!("{name}_contour.svg"));
    let loss_png = dir.join(format!("{name}_loss.png"));
    let loss_svg = dir.join(format!("{name}_loss.svg"));
    let run = |path: &Path, f: &dyn Fn() -> DrawResult| f().map_err(|e| err(path, e));
    run(&contour_png, &|| {
        let root = BitMapBackend::new(&contour_png, CONTOUR_SIZE).into_drawing_area();
        draw_landscape(root.clone(), study, fi, 700, true)?;
        root.present()?;
        Ok(())
    })?;
    files.push(contour_png.clone());
    run(&contour_svg, &|| {
        let root = SVGBackend::new(&contour_svg, CONTOUR_SIZE).into_drawing_area();
        draw_landscape(root.clone(), study, fi, 100, false)?;
        root.present()?;
        Ok(())
    })?;
    files.push(contour_svg.clone());
    run(&loss_png, &|| {
        let root = BitMapBackend::new(&loss_png, LOSS_SIZE).into_drawing_area();
        draw_loss(root.clone(), study, fi, true)?;
        root.present()?;
        Ok(())
    })?;
    files.push(loss_png.clone());
    run(&loss_svg, &|| {
        let root = SVGBackend::new(&loss_svg, LOSS_SIZE).into_drawing_area();
        draw_loss(root.clone(), study, fi, false)?;
        root.present()?;
        Ok(())
    })?;
    files.push(loss_svg);
    Ok(files)
}

/// Writes every function's plots into `dir` (in parallel); returns the files.
pub fn write_all(study: &Study, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
    let per: Vec<Vec<PathBuf>> =
        (0..study.functions.len()).into_par_iter().map(|fi| write_function(study, fi, dir)).collect::<Result<_>>()?;
    Ok(per.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [(f64, f64); 2] = [(0.0, 1.0), (0.0, 1.0)];

    #[test]
    fn segments_are_clipped_to_the_box() {
        assert_eq!(clip_segment((0.5, 0.5), (0.6, 0.6), B), Some(((0.5, 0.5), (0.6, 0.6))));
        assert_eq!(clip_segment((0.5, 0.5), (1.5, 0.5), B), Some(((0.5, 0.5), (1.0, 0.5))));
        assert_eq!(clip_segment((-1.0, 0.5), (2.0, 0.5), B), Some(((0.0, 0.5), (1.0, 0.5))));
        assert_eq!(clip_segment((2.0, 2.0), (3.0, 3.0), B), None);
        assert_eq!(clip_segment((0.5, 0.5), (1e300, f64::NAN), B), None);
    }

    #[test]
    fn polylines_split_where_they_leave_the_box() {
        let pts = [(0.5, 0.5), (2.0, 0.5), (0.5, 0.7), (0.6, 0.7)];
        let pieces = clip_polyline(&pts, B);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.5, 0.5), (1.0, 0.5)]);
        assert_eq!(pieces[1].len(), 3);
        assert_eq!(pieces[1][0].0, 1.0);
        assert!((pieces[1][0].1 - (0.5 + 0.2 / 1.5)).abs() < 1e-12);
        assert_eq!(&pieces[1][1..], &[(0.5, 0.7), (0.6, 0.7)]);
    }

    #[test]
    fn levels_are_logarithmic_for_a_large_dynamic_range() {
        let wide: Vec<f64> = (0..100).map(|k| (k as f64 / 10.0).exp()).collect();
        let l = Levels::choose(&wide, Some(0.0), 20);
        assert!(l.log);
        assert_eq!(l.band(wide[0]), 0);
        assert_eq!(l.band(*wide.last().unwrap()), 19);
        let flat: Vec<f64> = (0..100).map(|k| k as f64).collect();
        assert!(!Levels::choose(&flat, Some(0.0), 20).log);
        assert_eq!(Levels::choose(&flat, Some(0.0), 20).band(f64::NAN), 19);
    }

    #[test]
    fn the_embedded_font_registers() {
        register_fonts();
        register_fonts();
        assert_eq!(&FONT[..4], &[0, 1, 0, 0], "a TrueType font");
    }
}
