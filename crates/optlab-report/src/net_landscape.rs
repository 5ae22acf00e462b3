//! The files of `optlab landscape` ([`optlab_nn::landscape`]): the grids as CSV, the contour
//! plot (the filled bands of [`crate::landscape`]), the 3-D surface, the 1-D curve along `d1`,
//! and with a trajectory its path over the contour of the PCA plane.
//!
//! - `grid.csv` (`a,b,loss`), `curve.csv` (`a,loss`);
//! - `contour.png`/`.svg`, `surface.png`/`.svg`, `curve.png`/`.svg`;
//! - with a trajectory: `trajectory.csv` (`epoch,a,b`), `trajectory-grid.csv` (`a,b,loss`),
//!   `trajectory.png`/`.svg`.
//!
//! Losses far above the rest (the far-out fence of their log10s, as in the loss plots) and
//! non-finite ones are drawn at that cap (the top band, the top of the surface and the curve);
//! the CSV files hold every value as computed.

use crate::landscape::{
    band_color, clip_polyline, draw_trajectory, path_elements, Chart2d, DrawResult, Landscape, Levels,
};
use crate::style::{darker, FAMILY};
use crate::ReportError;
use optlab_nn::landscape::{NetLandscape, Surface, Trajectory};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, ReportError>;

/// Bands of the contour plots.
pub const BANDS: usize = 24;
const SIZE: (u32, u32) = (900, 760);

fn write_text(dir: &Path, name: &str, text: String) -> Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| ReportError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| ReportError::io(&path, e))?;
    Ok(path)
}

/// `a,b,loss`, one row per grid point, `b` outer.
pub fn grid_csv(s: &Surface) -> String {
    let mut t = String::from("a,b,loss\n");
    for (j, b) in s.b.iter().enumerate() {
        for (i, a) in s.a.iter().enumerate() {
            t.push_str(&format!("{a},{b},{}\n", s.at(i, j)));
        }
    }
    t
}

/// The cap of drawn losses: the far-out fence of the log10s of the finite positive values (or
/// the largest finite value when that is lower).
pub fn cap(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let logs: Vec<f64> = finite.iter().filter(|v| **v > 0.0).map(|v| v.log10()).collect();
    let fence = 10f64.powf(crate::plots::upper_fence(&logs, true));
    if max.is_finite() {
        max.min(fence)
    } else {
        1.0
    }
}

fn capped(values: &[f64]) -> Vec<f64> {
    let c = cap(values);
    values.iter().map(|&v| if v.is_finite() { v.min(c) } else { c }).collect()
}

/// The surface as a [`Landscape`] of cells centred on the grid points.
fn as_landscape(s: &Surface) -> Landscape {
    let half = |v: &[f64]| (v[1] - v[0]) / 2.0;
    let (ha, hb) = (half(&s.a), half(&s.b));
    let bx = [(s.a[0] - ha, s.a[s.a.len() - 1] + ha), (s.b[0] - hb, s.b[s.b.len() - 1] + hb)];
    let values = capped(&s.loss);
    let levels = Levels::choose(&values, None, BANDS);
    debug_assert_eq!(s.a.len(), s.b.len());
    Landscape { bx, grid: s.a.len(), values, levels }
}

/// Writes every file into `dir` (created if needed); returns their paths.
pub fn write_landscape(l: &NetLandscape, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let mut out = vec![write_text(dir, "grid.csv", grid_csv(&l.surface))?];
    let mut t = String::from("a,loss\n");
    for (a, v) in &l.curve {
        t.push_str(&format!("{a},{v}\n"));
    }
    out.push(write_text(dir, "curve.csv", t)?);
    let title = format!("{} — loss around θ ({})", l.task, l.eval);
    for ext in ["png", "svg"] {
        let p = dir.join(format!("contour.{ext}"));
        plot(&p, &Pic::Contour { s: &l.surface, tr: None, title: &title, axes: ("a (d1)", "b (d2)") })?;
        out.push(p);
        let p = dir.join(format!("surface.{ext}"));
        plot(&p, &Pic::Surface { s: &l.surface, title: &title })?;
        out.push(p);
        let p = dir.join(format!("curve.{ext}"));
        plot(&p, &Pic::Curve { pts: &l.curve, title: &title })?;
        out.push(p);
    }
    if let Some(tr) = &l.trajectory {
        let mut t = String::from("epoch,a,b\n");
        for (e, a, b) in &tr.points {
            t.push_str(&format!("{e},{a},{b}\n"));
        }
        out.push(write_text(dir, "trajectory.csv", t)?);
        out.push(write_text(dir, "trajectory-grid.csv", grid_csv(&tr.surface))?);
        let title = format!("{} — training path on the PCA plane ({})", l.task, l.eval);
        let axes = (
            format!("PC1 ({:.1} % of the variance)", 100.0 * tr.explained[0]),
            format!("PC2 ({:.1} %)", 100.0 * tr.explained[1]),
        );
        for ext in ["png", "svg"] {
            let p = dir.join(format!("trajectory.{ext}"));
            plot(&p, &Pic::Contour { s: &tr.surface, tr: Some(tr), title: &title, axes: (&axes.0, &axes.1) })?;
            out.push(p);
        }
    }
    Ok(out)
}

/// One picture of [`write_landscape`].
pub enum Pic<'a> {
    Contour { s: &'a Surface, tr: Option<&'a Trajectory>, title: &'a str, axes: (&'a str, &'a str) },
    Surface { s: &'a Surface, title: &'a str },
    Curve { pts: &'a [(f64, f64)], title: &'a str },
}

fn draw_pic<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, pic: &Pic, bitmap: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match pic {
        Pic::Contour { s, tr, title, axes } => contour(&root, s, *tr, title, *axes, bitmap)?,
        Pic::Surface { s, title } => surface(&root, s, title)?,
        Pic::Curve { pts, title } => curve(&root, pts, title)?,
    }
    root.present()?;
    Ok(())
}

/// Draws `pic` into a PNG or SVG (by the extension), written to a temporary name and renamed.
pub fn plot(path: &Path, pic: &Pic) -> Result<()> {
    crate::style::register_fonts();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let tmp =
        path.with_file_name(format!(".{}.tmp.{ext}", path.file_name().and_then(|f| f.to_str()).unwrap_or("plot")));
    let r = match ext {
        "png" => draw_pic(BitMapBackend::new(&tmp, SIZE).into_drawing_area(), pic, true),
        "svg" => draw_pic(SVGBackend::new(&tmp, SIZE).into_drawing_area(), pic, false),
        _ => return Err(ReportError::Plot { path: path.into(), message: "the extension must be png or svg".into() }),
    };
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReportError::Plot { path: path.into(), message: e.to_string() });
    }
    std::fs::rename(&tmp, path).map_err(|e| ReportError::io(path, e))
}

/// An axis label: values within a millionth of the axis span of 0 are 0 (not `-2.22e-16`).
fn tick(x: f64, range: (f64, f64)) -> String {
    if x.abs() <= 1e-6 * (range.1 - range.0).abs() {
        "0".into()
    } else {
        crate::format::num(x)
    }
}

/// The contour of `s` (filled bands), θ marked at the origin when it
/// is inside, the trajectory's path with its epochs when given, and a colour key on the right.
pub fn contour<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Surface,
    tr: Option<&Trajectory>,
    title: &str,
    axes: (&str, &str),
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let land = as_landscape(s);
    let (w, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(w - 130);
    let bx = land.bx;
    let mut chart: Chart2d<'_, '_, DB> = ChartBuilder::on(&left)
        .caption(title, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(bx[0].0..bx[0].1, bx[1].0..bx[1].1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(axes.0)
        .y_desc(axes.1)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .x_label_formatter(&|x| tick(*x, bx[0]))
        .y_label_formatter(&|y| tick(*y, bx[1]))
        .draw()?;
    // Without the darker contour-line cells of `Landscape::draw`: at a few dozen cells per side
    // they read as thick rings.
    land.draw(&mut chart, false)?;
    if let Some(tr) = tr {
        let pts: Vec<(f64, f64)> = tr.points.iter().map(|p| (p.1, p.2)).collect();
        let c = RGBColor(214, 39, 40);
        // A white casing under the path keeps it visible on dark bands.
        for piece in clip_polyline(&pts, bx) {
            chart.draw_series(path_elements(&piece, WHITE.stroke_width(5), bitmap))?;
        }
        draw_trajectory(&mut chart, &pts, bx, c, 2, bitmap)?;
        let every = tr.points.len().div_ceil(12).max(1);
        let st = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
        for (k, p) in tr.points.iter().enumerate() {
            if k % every == 0 || k + 1 == tr.points.len() {
                chart.draw_series(std::iter::once(Text::new(format!("{}", p.0), (p.1, p.2), st.clone())))?;
            }
        }
    }
    let inside = bx[0].0 <= 0.0 && 0.0 <= bx[0].1 && bx[1].0 <= 0.0 && 0.0 <= bx[1].1;
    if inside {
        chart.draw_series(std::iter::once(Cross::new((0.0, 0.0), 8, WHITE.stroke_width(5))))?;
        chart.draw_series(std::iter::once(Cross::new((0.0, 0.0), 8, BLACK.stroke_width(2))))?;
    }
    // The key: the band ramp, bottom (low loss) to top, with the loss at its ends and middle.
    let lv = &land.levels;
    let (_, height) = right.dim_in_pixel();
    let (top, bottom) = key_span(height);
    let h = (bottom - top) as f64 / lv.bands as f64;
    for b in 0..lv.bands {
        let y1 = bottom - (b as f64 * h) as i32;
        let y0 = bottom - ((b + 1) as f64 * h) as i32;
        right.draw(&Rectangle::new([(10, y0), (34, y1)], band_color(b, lv.bands).filled()))?;
    }
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
    right.draw(&Text::new("loss", (10, top - 24), st.clone()))?;
    for (t, y) in [(0.0, bottom), (0.5, (top + bottom) / 2), (1.0, top)] {
        let v = lv.inv(lv.lo + t * (lv.hi - lv.lo));
        right.draw(&Text::new(crate::format::num(v), (40, y - 7), st.clone()))?;
    }
    let note = if lv.log { "log scale" } else { "linear" };
    right.draw(&Text::new(note, (10, bottom + 12), st.clone()))?;
    if inside {
        right.draw(&Text::new("× θ", (10, bottom + 32), st.clone()))?;
    }
    if tr.is_some() {
        right.draw(&Text::new("labels: epoch", (10, bottom + 52), st))?;
    }
    Ok(())
}

/// The top and bottom pixel rows of the contour key's ramp in a strip `height` pixels high:
/// 500 pixels from row 60 where it fits, otherwise ending [`KEY_NOTES`] pixels above the strip's
/// bottom, so the label at the ramp's foot and the notes under it (scale, θ, epochs) stay inside
/// the picture (a report panel is about 450 pixels high).
fn key_span(height: u32) -> (i32, i32) {
    let top = 60;
    (top, (height as i32 - KEY_NOTES).clamp(top + 100, top + 500))
}

/// Pixels under the key's ramp: three note lines 20 pixels apart, 13-pixel text, and a margin.
const KEY_NOTES: i32 = 86;

/// Panels per row of [`draw_panels`].
pub const PANELS_PER_ROW: usize = 3;

/// The report's picture of `landscape = true`: one contour panel per configuration (label,
/// grid), [`PANELS_PER_ROW`] to a row, under a title.
pub fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    runs: &[(String, Surface)],
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(title, (FAMILY, 22))?;
    let rows = runs.len().div_ceil(PANELS_PER_ROW).max(1);
    let cols = runs.len().clamp(1, PANELS_PER_ROW);
    let areas = root.split_evenly((rows, cols));
    for (area, (label, s)) in areas.iter().zip(runs) {
        contour(area, s, None, label, ("a (d1)", "b (d2)"), bitmap)?;
    }
    Ok(())
}

/// The 3-D surface of `s`: one quadrilateral per grid cell, coloured by its mean loss in the
/// contour's bands, drawn back to front.
pub fn surface<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Surface, title: &str) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let land = as_landscape(s);
    let v = &land.values;
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let (a, b) = (&s.a, &s.b);
    let na = a.len();
    let mut chart = ChartBuilder::on(root).caption(title, (FAMILY, 18)).margin(16).build_cartesian_3d(
        a[0]..a[na - 1],
        lo..hi,
        b[0]..b[b.len() - 1],
    )?;
    chart.with_projection(|mut p| {
        p.yaw = 0.7;
        p.pitch = 0.45;
        p.scale = 0.85;
        p.into_matrix()
    });
    chart
        .configure_axes()
        .light_grid_style(RGBColor(230, 230, 230))
        .max_light_lines(3)
        .label_style((FAMILY, 13))
        .x_formatter(&|x| crate::format::num(*x))
        .y_formatter(&|y| crate::format::num(*y))
        .z_formatter(&|z| crate::format::num(*z))
        .draw()?;
    let mut cells = Vec::new();
    for j in 0..b.len() - 1 {
        for i in 0..na - 1 {
            let q = [
                (a[i], v[j * na + i], b[j]),
                (a[i + 1], v[j * na + i + 1], b[j]),
                (a[i + 1], v[(j + 1) * na + i + 1], b[j + 1]),
                (a[i], v[(j + 1) * na + i], b[j + 1]),
            ];
            let mean = q.iter().map(|p| p.1).sum::<f64>() / 4.0;
            let c = (q[0].0 + q[2].0) / 2.0;
            let d = (q[0].2 + q[2].2) / 2.0;
            let depth = chart.as_coord_spec().projected_depth(&c, &mean, &d);
            cells.push((depth, q, land.levels.band(mean)));
        }
    }
    cells.sort_by_key(|c| std::cmp::Reverse(c.0));
    let n = land.levels.bands;
    chart.draw_series(cells.iter().map(|(_, q, band)| Polygon::new(q.to_vec(), band_color(*band, n).filled())))?;
    chart.draw_series(cells.iter().map(|(_, q, band)| {
        let mut pts = q.to_vec();
        pts.push(q[0]);
        PathElement::new(pts, darker(band_color(*band, n)).stroke_width(1))
    }))?;
    let st = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK);
    root.draw(&Text::new("axes: a (d1), loss (up), b (d2)", (16, 40), st))?;
    Ok(())
}

/// The 1-D curve: the loss along `d1` (b = 0), θ at a = 0.
pub fn curve<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, pts: &[(f64, f64)], title: &str) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let ys = capped(&ys);
    let pts: Vec<(f64, f64)> = pts.iter().zip(&ys).map(|(p, &y)| (p.0, y)).collect();
    let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
    let pad = 0.05 * (hi - lo);
    let (x0, x1) = (pts.first().map_or(-1.0, |p| p.0), pts.last().map_or(1.0, |p| p.0));
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 18))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("a (along d1; b = 0)")
        .y_desc("loss")
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(RGBColor(238, 238, 238))
        .x_label_formatter(&|x| crate::format::num(*x))
        .y_label_formatter(&|y| crate::format::num(*y))
        .draw()?;
    chart.draw_series(LineSeries::new(pts.clone(), crate::style::color(0).stroke_width(3)))?;
    if let Some(c) = pts.iter().min_by(|p, q| p.0.abs().total_cmp(&q.0.abs())) {
        chart.draw_series(std::iter::once(Cross::new(*c, 8, BLACK.stroke_width(2))))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bowl(n: usize) -> Surface {
        let a = optlab_nn::landscape::linspace(-1.0, 1.0, n);
        let loss = a.iter().flat_map(|&b| a.iter().map(move |&x| 0.3 + x * x + 2.0 * b * b)).collect();
        Surface { a: a.clone(), b: a, loss }
    }

    #[test]
    fn the_key_and_its_notes_fit_a_report_panel() {
        // A report panel: one configuration, the size `plots.rs` gives a row of one.
        let (w, h) = (560u32, 500u32);
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            crate::style::register_fonts();
            draw_panels(&root, "t", &[("adam".into(), bowl(9))], true).unwrap();
            root.present().unwrap();
        }
        let px = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            (buf[i], buf[i + 1], buf[i + 2])
        };
        // The ramp's rows: the key strip is the panel's last 130 pixels and the ramp fills its
        // pixels 10..34 with one colour per row (text under it does not fill a row evenly).
        let x0 = w - 130;
        let ramp: Vec<u32> = (0..h)
            .filter(|&y| {
                let c = px(x0 + 12, y);
                c != (255, 255, 255) && (x0 + 12..x0 + 32).all(|x| px(x, y) == c)
            })
            .collect();
        let foot = *ramp.last().expect("a ramp is drawn");
        assert!(ramp.len() > 200, "the ramp is {} rows high", ramp.len());
        assert!(foot + 60 < h, "the ramp runs to row {foot} of {h}: nothing fits under it");
        // The notes under the ramp ("log scale"/"linear", "× θ") are drawn: dark text pixels
        // below its foot, inside the picture.
        let dark = (foot + 1..h).filter(|&y| (w - 130..w).any(|x| px(x, y).0 < 100)).count();
        assert!(dark > 10, "no text under the ramp (rows {foot}..{h})");
        // And the label at the foot (the lowest loss) is beside it.
        let label = (foot - 14..foot + 8).any(|y| (w - 130 + 40..w).any(|x| px(x, y).0 < 100));
        assert!(label, "no label beside the ramp's foot");
    }

    #[test]
    fn the_key_keeps_its_size_where_it_fits() {
        assert_eq!(key_span(SIZE.1), (60, 560));
        assert_eq!(key_span(450), (60, 364));
        assert_eq!(key_span(100), (60, 160));
    }

    #[test]
    fn ticks_near_zero_are_zero() {
        assert_eq!(tick(-2.22e-16, (-1.025, 1.025)), "0");
        assert_eq!(tick(0.5, (-1.025, 1.025)), crate::format::num(0.5));
    }

    #[test]
    fn grid_csv_has_one_row_per_point_b_outer() {
        let s = bowl(3);
        let t = grid_csv(&s);
        let rows: Vec<&str> = t.lines().collect();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0], "a,b,loss");
        assert_eq!(rows[2], "0,-1,2.3");
        assert_eq!(rows[5], "0,0,0.3");
    }

    #[test]
    fn a_blown_up_point_is_capped_in_the_drawing_only() {
        let mut v: Vec<f64> = (0..100).map(|k| 1.0 + k as f64 / 100.0).collect();
        v.push(1e30);
        v.push(f64::NAN);
        let c = capped(&v);
        assert!(c.iter().all(|x| x.is_finite() && *x < 1e4), "{:?}", &c[98..]);
        assert_eq!(c[..100], v[..100]);
    }

    #[test]
    fn files_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let s = bowl(9);
        let curve = s.a.iter().map(|&x| (x, 0.3 + x * x)).collect();
        let tr = Trajectory {
            points: vec![(0, -0.8, 0.5), (1, -0.3, 0.2), (2, 0.0, 0.0)],
            explained: [0.9, 0.1],
            surface: bowl(9),
        };
        let l = NetLandscape {
            task: "t".into(),
            eval: "train, 10 of 10 samples".into(),
            centre: 0.3,
            surface: s,
            curve,
            trajectory: Some(tr),
            evaluations: 1,
            seconds: 0.0,
            threads: 1,
        };
        let files = write_landscape(&l, dir.path()).unwrap();
        for name in [
            "grid.csv",
            "curve.csv",
            "contour.png",
            "contour.svg",
            "surface.png",
            "surface.svg",
            "curve.png",
            "trajectory.csv",
            "trajectory-grid.csv",
            "trajectory.png",
            "trajectory.svg",
        ] {
            let p = dir.path().join(name);
            assert!(files.contains(&p), "{name} not listed");
            assert!(std::fs::metadata(&p).unwrap().len() > 0, "{name} is empty");
        }
        let img = image::open(dir.path().join("contour.png")).unwrap();
        assert_eq!((img.width(), img.height()), SIZE);
    }
}
