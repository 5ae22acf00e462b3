//! `optlab ema`: exponential moving averages of a series for several β, with and without bias
//! correction (the course notes' §1.1–1.3), and the three momentum formulations of the notes'
//! §1.21, shown to be one method up to a rescaled learning rate.
//!
//! EMA: `v_0 = 0`, `v_k = β v_{k−1} + (1 − β) x_k`; bias-corrected `v̂_k = v_k / (1 − β^k)`, whose
//! weights sum to one at every `k` (those of `v_k` sum to `1 − β^k`).
//!
//! Momentum, with a constant step size α and friction β:
//! - (A) `v_k = β v_{k−1} − α g_k`, `w_k = w_{k−1} + v_k`;
//! - (B) `v_k = β v_{k−1} + g_k`, `w_k = w_{k−1} − α v_k`;
//! - (C) `v_k = β v_{k−1} + (1 − β) g_k`, `w_k = w_{k−1} − α' v_k`.
//!
//! By induction `v^A_k = −α v^B_k` and `v^C_k = (1 − β) v^B_k`, so (A) and (B) give the same
//! iterates with the same α, and (C) gives them with `α' = α / (1 − β)`. (With a step size or β
//! that change over time the forms differ: (A) keeps old steps' α inside `v`, and (C) needs
//! `α'_k = α_k / (1 − β_k)`.) [`momentum_forms`] runs the three on a test function.

use crate::ReportError;
use optlab_functions::TestFunction;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, ReportError>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The default βs of `optlab ema` (the notes' figure: ≈ 2, 10 and 50 values averaged).
pub const DEFAULT_BETAS: [f64; 3] = [0.5, 0.9, 0.98];

/// Checks a list of βs: each in [0, 1), finite, none twice, at least one. The error names the value.
pub fn check_betas(betas: &[f64]) -> std::result::Result<(), String> {
    if betas.is_empty() {
        return Err("no beta given".into());
    }
    for (i, &b) in betas.iter().enumerate() {
        if !(0.0..1.0).contains(&b) {
            return Err(format!("beta {b} is not in [0, 1)"));
        }
        if betas[..i].contains(&b) {
            return Err(format!("beta {b} is given twice"));
        }
    }
    Ok(())
}

/// The EMA of `xs` with weight `beta` (`v_0 = 0`), divided by `1 − β^k` when `corrected`.
pub fn ema(xs: &[f64], beta: f64, corrected: bool) -> Vec<f64> {
    let mut v = 0.0;
    let mut pow = 1.0;
    xs.iter()
        .map(|&x| {
            v = beta * v + (1.0 - beta) * x;
            pow *= beta;
            if corrected {
                v / (1.0 - pow)
            } else {
                v
            }
        })
        .collect()
}

/// A momentum formulation of the notes (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MomentumForm {
    /// `v ← βv − αg`, `w ← w + v`.
    A,
    /// `v ← βv + g`, `w ← w − αv`.
    B,
    /// `v ← βv + (1 − β)g`, `w ← w − αv`.
    C,
}

/// `steps` iterates of momentum form `form` with step size `alpha` from `start` on `f`
/// (the start first: `steps + 1` points).
pub fn momentum_run(
    f: &dyn TestFunction,
    form: MomentumForm,
    start: &[f64],
    alpha: f64,
    beta: f64,
    steps: usize,
) -> Vec<Vec<f64>> {
    let n = start.len();
    let (mut w, mut v, mut g) = (start.to_vec(), vec![0.0; n], vec![0.0; n]);
    let mut out = vec![w.clone()];
    for _ in 0..steps {
        f.gradient(&w, &mut g);
        for i in 0..n {
            match form {
                MomentumForm::A => {
                    v[i] = beta * v[i] - alpha * g[i];
                    w[i] += v[i];
                }
                MomentumForm::B => {
                    v[i] = beta * v[i] + g[i];
                    w[i] -= alpha * v[i];
                }
                MomentumForm::C => {
                    v[i] = beta * v[i] + (1.0 - beta) * g[i];
                    w[i] -= alpha * v[i];
                }
            }
        }
        out.push(w.clone());
    }
    out
}

/// The three forms with the step sizes that make them equal: (A) and (B) with `alpha`, (C) with
/// `alpha / (1 − beta)`; then (C) with the plain `alpha` (a different, slower method).
pub fn momentum_forms(f: &dyn TestFunction, start: &[f64], alpha: f64, beta: f64, steps: usize) -> [Vec<Vec<f64>>; 4] {
    [
        momentum_run(f, MomentumForm::A, start, alpha, beta, steps),
        momentum_run(f, MomentumForm::B, start, alpha, beta, steps),
        momentum_run(f, MomentumForm::C, start, alpha / (1.0 - beta), beta, steps),
        momentum_run(f, MomentumForm::C, start, alpha, beta, steps),
    ]
}

/// The largest distance between the iterates of two runs, relative to the larger norm (at least 1).
pub fn max_relative_gap(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
            let s =
                x.iter().map(|p| p * p).sum::<f64>().sqrt().max(y.iter().map(|q| q * q).sum::<f64>().sqrt()).max(1.0);
            d / s
        })
        .fold(0.0, f64::max)
}

/// What `optlab ema` draws.
pub struct EmaInput<'a> {
    /// The series' name in titles, e.g. "Seattle daily maximum temperature (°C), 2012–2015".
    pub name: &'a str,
    pub values: &'a [f64],
    pub betas: &'a [f64],
}

/// The momentum demonstration of `optlab ema`.
pub struct MomentumInput<'a> {
    pub function: &'a dyn TestFunction,
    pub start: &'a [f64],
    pub alpha: f64,
    pub beta: f64,
    pub steps: usize,
}

/// What [`write_outputs`] wrote and found.
pub struct EmaOutputs {
    pub files: Vec<PathBuf>,
    /// Largest relative gap of (B) and of (C, rescaled α) from (A).
    pub gap_b: f64,
    pub gap_c: f64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::io(path, source)
}

fn fmt_beta(b: f64) -> String {
    format!("{b}")
}

/// Draws with `$draw` (a closure of the root area) into `$path` as PNG or SVG by its extension,
/// through a temporary name and a rename.
macro_rules! plot {
    ($path:expr, $size:expr, |$root:ident| $draw:expr) => {{
        let path: &Path = $path;
        crate::style::register_fonts();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_string();
        let tmp = path.with_file_name(format!(
            ".{}.tmp{}.{ext}",
            path.file_stem().and_then(|f| f.to_str()).unwrap_or("plot"),
            std::process::id()
        ));
        let r: DrawResult = match ext.as_str() {
            "png" => {
                let $root = BitMapBackend::new(&tmp, $size).into_drawing_area();
                $draw.and_then(|_| $root.present().map_err(|e| e.into()))
            }
            "svg" => {
                let $root = SVGBackend::new(&tmp, $size).into_drawing_area();
                $draw.and_then(|_| $root.present().map_err(|e| e.into()))
            }
            _ => Err("the extension must be png or svg".into()),
        };
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            return Err(ReportError::Plot { path: path.into(), message: e.to_string() });
        }
        std::fs::rename(&tmp, path).map_err(io(path))?;
    }};
}

/// Writes `ema.csv`, `ema.png`/`.svg`, `momentum.csv` and `momentum.png`/`.svg` into `dir`
/// (each to a temporary name, then renamed).
pub fn write_outputs(input: &EmaInput<'_>, mom: &MomentumInput<'_>, dir: &Path) -> Result<EmaOutputs> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut files = Vec::new();
    let curves: Vec<(f64, Vec<f64>, Vec<f64>)> =
        input.betas.iter().map(|&b| (b, ema(input.values, b, false), ema(input.values, b, true))).collect();
    let mut text = String::from("k,x");
    for (b, _, _) in &curves {
        text.push_str(&format!(",ema_{0},ema_{0}_corrected", fmt_beta(*b)));
    }
    text.push('\n');
    for (k, x) in input.values.iter().enumerate() {
        text.push_str(&format!("{},{x}", k + 1));
        for (_, u, c) in &curves {
            text.push_str(&format!(",{},{}", u[k], c[k]));
        }
        text.push('\n');
    }
    let path = dir.join("ema.csv");
    crate::write_atomic(&path, text.as_bytes())?;
    files.push(path);
    for ext in ["png", "svg"] {
        let path = dir.join(format!("ema.{ext}"));
        plot!(&path, (1000, 900), |root| draw_ema(&root, input, &curves));
        files.push(path);
    }
    let runs = momentum_forms(mom.function, mom.start, mom.alpha, mom.beta, mom.steps);
    let fvals: Vec<Vec<f64>> = runs.iter().map(|r| r.iter().map(|w| mom.function.value(w)).collect()).collect();
    let mut text = String::from("step");
    for tag in ["a", "b", "c", "c_plain"] {
        for j in 0..mom.start.len() {
            text.push_str(&format!(",{tag}_x{j}"));
        }
        text.push_str(&format!(",{tag}_f"));
    }
    text.push('\n');
    for k in 0..=mom.steps {
        text.push_str(&k.to_string());
        for (r, fv) in runs.iter().zip(&fvals) {
            for x in &r[k] {
                text.push_str(&format!(",{x}"));
            }
            text.push_str(&format!(",{}", fv[k]));
        }
        text.push('\n');
    }
    let path = dir.join("momentum.csv");
    crate::write_atomic(&path, text.as_bytes())?;
    files.push(path);
    for ext in ["png", "svg"] {
        let path = dir.join(format!("momentum.{ext}"));
        plot!(&path, (1000, 600), |root| draw_momentum(&root, mom, &fvals));
        files.push(path);
    }
    Ok(EmaOutputs { files, gap_b: max_relative_gap(&runs[0], &runs[1]), gap_c: max_relative_gap(&runs[0], &runs[2]) })
}

/// The notes' colours for their βs (blue 0.5, red 0.9, green 0.98); the palette for others.
fn beta_color(b: f64, i: usize) -> RGBColor {
    match b {
        0.5 => RGBColor(31, 119, 180),
        0.9 => RGBColor(214, 39, 40),
        0.98 => RGBColor(44, 160, 44),
        _ => crate::style::color(i + 4),
    }
}

const FAMILY: &str = crate::style::FAMILY;

fn y_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad)..(hi + pad)
}

/// Top: the series (grey dots) and its bias-corrected EMAs; bottom: the first `1/(1 − β_max)·2`
/// points (at least 20), corrected (solid) against uncorrected (dashed).
fn draw_ema<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    input: &EmaInput<'_>,
    curves: &[(f64, Vec<f64>, Vec<f64>)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(470);
    let n = input.values.len();
    let bmax = input.betas.iter().copied().fold(0.0, f64::max);
    let head = ((2.0 / (1.0 - bmax)).ceil() as usize).max(20).min(n);
    for (area, len, zoom) in [(&top, n, false), (&bottom, head, true)] {
        let title = if zoom {
            format!("first {len} values: with bias correction (solid) and without (dashed)")
        } else {
            format!("{}: EMA with bias correction", input.name)
        };
        let yr = y_range(
            input.values[..len]
                .iter()
                .copied()
                .chain(curves.iter().flat_map(|(_, u, c)| u[..len].iter().chain(&c[..len]).copied())),
        );
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FAMILY, 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5..len as f64 + 0.5, yr)?;
        chart
            .configure_mesh()
            .x_desc("k (day)")
            .y_desc(if zoom { "v_k" } else { "x_k and v̂_k" })
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        let pts = input.values[..len].iter().enumerate().map(|(k, &x)| ((k + 1) as f64, x));
        let dot = if zoom { 3 } else { 1 };
        chart
            .draw_series(pts.map(|p| Circle::new(p, dot, RGBColor(120, 120, 120).filled())))?
            .label("x_k (data)")
            .legend(|(x, y)| Circle::new((x + 12, y), 3, RGBColor(120, 120, 120).filled()));
        for (i, (b, u, c)) in curves.iter().enumerate() {
            let color = beta_color(*b, i);
            let line = |v: &[f64]| -> Vec<(f64, f64)> {
                v[..len].iter().enumerate().map(|(k, &y)| ((k + 1) as f64, y)).collect()
            };
            let approx = 1.0 / (1.0 - b);
            chart
                .draw_series(LineSeries::new(line(c), color.stroke_width(2)))?
                .label(format!("β = {} (≈ {} values)", fmt_beta(*b), crate::format::num(approx)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
            if zoom {
                chart.draw_series(DashedLineSeries::new(line(u), 6, 4, color.stroke_width(2)))?;
            }
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
    }
    Ok(())
}

/// f(w_k) − min f against k for the four runs of [`momentum_forms`] (log y).
fn draw_momentum<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    mom: &MomentumInput<'_>,
    fvals: &[Vec<f64>],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let fmin =
        mom.function.min_value().unwrap_or_else(|| fvals.iter().flatten().copied().fold(f64::INFINITY, f64::min));
    let gap = |v: f64| (v - fmin).max(1e-300);
    let all: Vec<f64> = fvals.iter().flatten().map(|&v| gap(v)).filter(|v| v.is_finite()).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).max(1e-16);
    let hi = all.iter().copied().fold(0.0, f64::max).max(lo * 10.0);
    let title = format!(
        "momentum on {} from ({}): α = {}, β = {}",
        mom.function.name(),
        mom.start.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", "),
        crate::format::num(mom.alpha),
        fmt_beta(mom.beta)
    );
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..mom.steps as f64, (lo * 0.5..hi * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("step k")
        .y_desc("f(w_k) − f*")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .y_label_formatter(&|y| crate::format::num(*y))
        .draw()?;
    let line = |v: &[f64]| -> Vec<(f64, f64)> { v.iter().enumerate().map(|(k, &y)| (k as f64, gap(y))).collect() };
    let scaled = crate::format::num(mom.alpha / (1.0 - mom.beta));
    let a = crate::format::num(mom.alpha);
    let labels = [
        format!("(A) v ← βv − αg, w ← w + v; α = {a}"),
        format!("(B) v ← βv + g, w ← w − αv; α = {a}"),
        format!("(C) v ← βv + (1−β)g, w ← w − α'v; α' = α/(1−β) = {scaled}"),
        format!("(C) with α' = α = {a} (not rescaled)"),
    ];
    let colors = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(0, 0, 0), RGBColor(150, 150, 150)];
    for (i, (v, label)) in fvals.iter().zip(labels).enumerate() {
        let color = colors[i];
        let style = color.stroke_width(if i == 0 { 6 } else { 2 });
        let drawn = if i == 1 || i == 2 {
            chart.draw_series(DashedLineSeries::new(
                line(v),
                if i == 1 { 10 } else { 3 },
                if i == 1 { 6 } else { 5 },
                style,
            ))?
        } else {
            chart.draw_series(LineSeries::new(line(v), style))?
        };
        drawn.label(label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_by_hand_and_bias_correction_weights_sum_to_one() {
        // The notes' example: beta 0.9, v1 = 0.1 x1, v2 = 0.9 v1 + 0.1 x2.
        let xs = [4.0, 9.0, 1.0];
        let v = ema(&xs, 0.9, false);
        assert!((v[0] - 0.4).abs() < 1e-15 && (v[1] - (0.9 * 0.4 + 0.9)).abs() < 1e-15);
        let c = ema(&xs, 0.9, true);
        assert!((c[0] - 4.0).abs() < 1e-14, "corrected v1 is x1");
        assert!((c[1] - v[1] / 0.19).abs() < 1e-14);
        // On a constant series the corrected EMA is the constant at every k; the plain one is (1 − β^k) c.
        let ones = vec![3.0; 50];
        for (k, (u, c)) in ema(&ones, 0.98, false).iter().zip(ema(&ones, 0.98, true)).enumerate() {
            assert!((c - 3.0).abs() < 1e-12, "k={k}: {c}");
            assert!((u - 3.0 * (1.0 - 0.98f64.powi(k as i32 + 1))).abs() < 1e-12);
        }
        // beta 0 is the series itself.
        assert_eq!(ema(&xs, 0.0, false), xs.to_vec());
    }

    #[test]
    fn betas_are_checked() {
        assert!(check_betas(&DEFAULT_BETAS).is_ok());
        assert!(check_betas(&[]).unwrap_err().contains("no beta"));
        assert!(check_betas(&[0.9, 1.0]).unwrap_err().contains("1 is not in [0, 1)"));
        assert!(check_betas(&[-0.1]).unwrap_err().contains("-0.1"));
        assert!(check_betas(&[f64::NAN]).unwrap_err().contains("NaN"));
        assert!(check_betas(&[0.5, 0.5]).unwrap_err().contains("twice"));
    }

    /// The three formulations are one method up to α' = α/(1 − β): the same iterates within
    /// rounding over 500 steps on Rosenbrock; without the rescaling (C) is another method.
    #[test]
    fn three_momentum_forms_agree_with_a_rescaled_step_size() {
        let f = optlab_functions::by_name("rosenbrock", None).unwrap();
        let runs = momentum_forms(f.as_ref(), &[-1.5, 2.0], 5e-4, 0.9, 500);
        assert!(max_relative_gap(&runs[0], &runs[1]) < 1e-10, "{}", max_relative_gap(&runs[0], &runs[1]));
        assert!(max_relative_gap(&runs[0], &runs[2]) < 1e-10, "{}", max_relative_gap(&runs[0], &runs[2]));
        assert!(max_relative_gap(&runs[0], &runs[3]) > 1e-2, "the unscaled (C) differs");
        // And they did move (from f = 12.5 at the start).
        assert!(f.value(&runs[0][500]) < 1.0, "{}", f.value(&runs[0][500]));
    }

    /// One momentum step of each form by hand on f(x) = x²/2 (g = x).
    #[test]
    fn momentum_forms_one_and_two_steps_by_hand() {
        let f = optlab_functions::by_name("sphere", Some(1)).unwrap();
        let mut g = [0.0];
        f.gradient(&[2.0], &mut g);
        let gscale = g[0] / 2.0; // sphere's gradient is gscale·x
        let (a, b) = (0.1, 0.5);
        let w1 = 2.0 - a * gscale * 2.0;
        let w2 = w1 + (b * (-a * gscale * 2.0) - a * gscale * w1);
        for form in [MomentumForm::A, MomentumForm::B] {
            let r = momentum_run(f.as_ref(), form, &[2.0], a, b, 2);
            assert!((r[1][0] - w1).abs() < 1e-15 && (r[2][0] - w2).abs() < 1e-15, "{form:?}: {r:?}");
        }
        let r = momentum_run(f.as_ref(), MomentumForm::C, &[2.0], a / (1.0 - b), b, 2);
        assert!((r[1][0] - w1).abs() < 1e-15 && (r[2][0] - w2).abs() < 1e-15, "C: {r:?}");
    }
}
