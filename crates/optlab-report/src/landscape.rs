//! Landscapes of 2-D test functions: filled contour bands, clipped trajectories, minima and start
//! marks, the level key, and the chart they are drawn on ([`contour_chart`]). Shared by the study's
//! contour plots (`optlab functions study`) and the report's trajectory plots.
//!
//! Contour levels: `z = f − base`, where `base = f*` (or the lowest grid value without `f*`). If
//! the range of `z` over the plot box is large (max/median > 5) the bands are equally spaced in
//! `log10(z + c)`, with `c = 1e-5 × (max − base)`; otherwise they are equally spaced in `f`.

use crate::format::num;
use crate::stats::{quantile_sorted, sorted_finite};
use crate::style::{darker, FAMILY};
use optlab_functions::TestFunction;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Result of a drawing call (plotters' errors are boxed).
pub type DrawResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A chart with two linear `f64` axes.
pub type Chart2d<'a, 'b, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

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
        let finite = sorted_finite(values.iter().copied());
        let gmin = finite.first().copied().unwrap_or(0.0);
        let gmax = finite.last().copied().unwrap_or(1.0);
        let base = fstar.map_or(gmin, |f| f.min(gmin));
        let med = quantile_sorted(&finite, 0.5);
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
    /// The value of `f` at level variable `v` (inverse of [`Levels::v`]).
    pub fn inv(&self, v: f64) -> f64 {
        if self.log {
            10f64.powf(v) - self.c + self.base
        } else {
            v
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
pub fn path_elements(pts: &[(f64, f64)], style: ShapeStyle, bitmap: bool) -> Vec<PathElement<(f64, f64)>> {
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

/// Values of a function on a raster over a plot box, with the contour levels chosen for them.
#[derive(Clone, Debug, PartialEq)]
pub struct Landscape {
    pub bx: [(f64, f64); 2],
    /// Cells per side.
    pub grid: usize,
    /// `grid × grid` values at the cell centres, row by row from the bottom.
    pub values: Vec<f64>,
    pub levels: Levels,
}

impl Landscape {
    /// Evaluates `f` on a `grid × grid` raster over `bx` (first two coordinates; the others fixed
    /// at `fix`'s values) and chooses `bands` levels.
    pub fn compute(f: &dyn TestFunction, fix: &[f64], bx: [(f64, f64); 2], grid: usize, bands: usize) -> Landscape {
        let n = grid.max(1);
        let mut x = fix.to_vec();
        if x.len() < f.dim() {
            x.resize(f.dim(), 0.0);
        }
        let mut values = vec![0.0; n * n];
        let dx = (bx[0].1 - bx[0].0) / n as f64;
        let dy = (bx[1].1 - bx[1].0) / n as f64;
        for j in 0..n {
            for i in 0..n {
                x[0] = bx[0].0 + (i as f64 + 0.5) * dx;
                x[1] = bx[1].0 + (j as f64 + 0.5) * dy;
                values[j * n + i] = f.value(&x);
            }
        }
        let levels = Levels::choose(&values, f.min_value(), bands.max(1));
        Landscape { bx, grid: n, values, levels }
    }

    /// Fills the chart's plot box with the bands, run-length merged along rows; in bitmaps, cells
    /// whose right or upper neighbour lies in another band are drawn darker: they trace the
    /// contour lines.
    pub fn draw<DB: DrawingBackend>(&self, chart: &mut Chart2d<'_, '_, DB>, bitmap: bool) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (nx, ny, bx, levels) = (self.grid, self.grid, self.bx, &self.levels);
        let dx = (bx[0].1 - bx[0].0) / nx as f64;
        let dy = (bx[1].1 - bx[1].0) / ny as f64;
        let band_of: Vec<usize> = self.values.iter().map(|&v| levels.band(v)).collect();
        let cell = |i: usize, j: usize| -> (usize, bool) {
            let b = band_of[j * nx + i];
            let edge = bitmap
                && ((i + 1 < nx && band_of[j * nx + i + 1] != b) || (j + 1 < ny && band_of[(j + 1) * nx + i] != b));
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
                rects.push(Rectangle::new([(x0, y0), (x1, y1)], if key.1 { darker(c) } else { c }.filled()));
                i = e;
            }
        }
        chart.draw_series(rects)?;
        Ok(())
    }
}

/// The contour chart of a landscape on `area`, the one set-up of the report's trajectory plots and
/// the study's contour plots: axes `x₁`, `x₂` over the landscape's box (no mesh), an optional
/// caption, and the filled bands. Returns the chart, to draw trajectories and marks on.
pub fn contour_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    land: &Landscape,
    caption: Option<(&str, u32)>,
    bitmap: bool,
) -> DrawResult<Chart2d<'a, 'a, DB>>
where
    DB::ErrorType: 'static,
{
    let bx = land.bx;
    let mut builder = ChartBuilder::on(area);
    if let Some((text, size)) = caption {
        builder.caption(text, (FAMILY, size));
    }
    let mut chart = builder
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(bx[0].0..bx[0].1, bx[1].0..bx[1].1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x₁")
        .y_desc("x₂")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .draw()?;
    land.draw(&mut chart, bitmap)?;
    Ok(chart)
}

/// One trajectory inside the box: its visible pieces as lines of width `wd`, then dots at the
/// iterates; in SVG only where they are at least 1/300 of the box apart (keeps files small when
/// thousands of iterates pile up).
pub fn draw_trajectory<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, '_, DB>,
    pts: &[(f64, f64)],
    bx: [(f64, f64); 2],
    c: RGBColor,
    wd: u32,
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for piece in clip_polyline(pts, bx) {
        chart.draw_series(path_elements(&piece, c.stroke_width(wd), bitmap))?;
    }
    let (mx, my) = ((bx[0].1 - bx[0].0) / 300.0, (bx[1].1 - bx[1].0) / 300.0);
    let mut last = (f64::NAN, f64::NAN);
    let mut dots = Vec::new();
    for &q in pts {
        let inside = q.0 >= bx[0].0 && q.0 <= bx[0].1 && q.1 >= bx[1].0 && q.1 <= bx[1].1;
        let apart = bitmap || !((q.0 - last.0).abs() < mx && (q.1 - last.1).abs() < my);
        if inside && apart {
            dots.push(Circle::new(q, wd.max(3) as i32 - 1, c.filled()));
            last = q;
        }
    }
    chart.draw_series(dots)?;
    Ok(())
}

/// Minima (black ×, white halo) and the starts (white disc, black ring).
pub fn draw_marks<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, '_, DB>,
    minima: &[Vec<f64>],
    starts: &[(f64, f64)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for m in minima.iter().filter(|m| m.len() >= 2) {
        let q = (m[0], m[1]);
        chart.draw_series(std::iter::once(Cross::new(q, 8, WHITE.stroke_width(5))))?;
        chart.draw_series(std::iter::once(Cross::new(q, 8, BLACK.stroke_width(2))))?;
    }
    for &q in starts {
        chart.draw_series(std::iter::once(Circle::new(q, 7, WHITE.filled())))?;
        chart.draw_series(std::iter::once(Circle::new(q, 7, BLACK.stroke_width(2))))?;
    }
    Ok(())
}

/// The level key (band ramp with its end values and the marks' meaning), 120 px tall, drawn at
/// `top` in `area`.
pub fn draw_level_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    levels: &Levels,
    has_minima: bool,
    top: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let st = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK);
    area.draw(&Text::new(if levels.log { "levels: log10(f − f* + c)" } else { "levels: f" }, (8, top), st))?;
    let bw = 12;
    for b in 0..levels.bands {
        let x0 = 8 + b as i32 * bw;
        area.draw(&Rectangle::new([(x0, top + 22), (x0 + bw, top + 42)], band_color(b, levels.bands).filled()))?;
    }
    let small = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
    area.draw(&Text::new(format!("f = {}", num(levels.inv(levels.lo))), (8, top + 48), small.clone()))?;
    area.draw(&Text::new(
        format!("… {}", num(levels.inv(levels.hi))),
        (8 + levels.bands as i32 * bw - 80, top + 66),
        small.clone(),
    ))?;
    let marks = if has_minima { "○ start   × global minimum" } else { "○ start   (no minimum)" };
    area.draw(&Text::new(marks, (8, top + 90), small))?;
    Ok(())
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
    fn landscape_grid_values_and_levels() {
        let f = optlab_functions::by_name("sphere", Some(3)).unwrap();
        let l = Landscape::compute(&*f, &[0.0, 0.0, 2.0], [(-1.0, 1.0), (-1.0, 1.0)], 2, 10);
        // Cell centres (±0.5, ±0.5) with the third coordinate fixed at 2: 0.25 + 0.25 + 4.
        assert_eq!(l.values, vec![4.5; 4]);
        assert_eq!(l.levels.bands, 10);
    }

    #[test]
    fn levels_are_logarithmic_for_a_large_dynamic_range() {
        let wide: Vec<f64> = (0..100).map(|k| (k as f64 / 10.0).exp()).collect();
        let l = Levels::choose(&wide, Some(0.0), 20);
        assert!(l.log);
        assert_eq!(l.band(wide[0]), 0);
        assert_eq!(l.band(*wide.last().unwrap()), 19);
        assert!((l.inv(l.v(123.0)) - 123.0).abs() < 1e-9);
        let flat: Vec<f64> = (0..100).map(|k| k as f64).collect();
        assert!(!Levels::choose(&flat, Some(0.0), 20).log);
        assert_eq!(Levels::choose(&flat, Some(0.0), 20).band(f64::NAN), 19);
    }
}
