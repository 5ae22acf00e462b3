//! The report's plots, drawn with plotters into SVG (inlined in the HTML) and PNG.
//!
//! Each plot is first reduced to plain data ([`Drawing`]) by a builder function (testable without
//! drawing), then drawn on any plotters backend. Log axes are drawn as linear axes over `log10`
//! of the values, with tick labels giving the values.

use crate::format::{cmp_values, log_tick, num, slug};
use crate::group::{Comparison, Config};
use crate::landscape::{contour_chart, draw_level_key, draw_marks, draw_trajectory, DrawResult, Landscape};
use crate::select::{best_per_family, drawn, swept_words, MAX_DRAWN};
use crate::stats::{band, ema_smooth, performance_ratios, profile_steps, quantile_sorted, Spread};
use crate::style::{series_color, FAMILY};
use crate::table::Table;
use crate::thin::{thin_by, thin_path, MAX_POINTS, MIN_PX};
use optlab_lab::record::{PlotX, RunRecord, Status};
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Width of the legend panel right of a chart.
const LEGEND_W: u32 = 340;

/// One plot: its file stem, a caption for the report, its pixel size and what to draw.
#[derive(Clone, Debug)]
pub struct Plot {
    /// `<comparison>-<task>-<kind>` (file-name safe).
    pub stem: String,
    pub caption: String,
    pub size: (u32, u32),
    pub drawing: Drawing,
}

/// What a plot shows, as plain data.
#[derive(Clone, Debug)]
pub enum Drawing {
    Curves(Curves),
    Heatmap(Heatmap),
    Sensitivity(Sensitivity),
    Trajectories(Trajectories),
    Target(TargetBars),
    Profile(Profile),
    /// Per-step histograms of |g| and |update| (`grad_histograms`): see [`crate::histograms`].
    Histograms(Histograms),
    /// See [`crate::parallel`].
    Parallel(crate::parallel::Parallel),
    /// Loss landscapes around the final weights (`landscape = true`): see
    /// [`crate::net_landscape`].
    Landscapes(Landscapes),
}

/// The loss landscapes of a task: per drawn configuration, its first seed's grid.
#[derive(Clone, Debug)]
pub struct Landscapes {
    pub title: String,
    pub runs: Vec<(String, optlab_nn::landscape::Surface)>,
}

/// The landscapes of `task` (None when no drawn configuration has one).
pub fn landscapes(cmp: &Comparison, task: &str) -> Option<Landscapes> {
    let runs: Vec<(String, optlab_nn::landscape::Surface)> = drawn(cmp, task)
        .configs
        .iter()
        .filter_map(|c| c.runs.iter().find_map(|r| r.landscape.clone()).map(|s| (c.label.clone(), s)))
        .collect();
    (!runs.is_empty()).then(|| Landscapes { title: format!("{task}: loss around the final weights"), runs })
}

/// The histogram heatmaps of a task: per drawn configuration, its first seed's histograms.
#[derive(Clone, Debug)]
pub struct Histograms {
    pub title: String,
    pub runs: Vec<(String, Vec<optlab_nn::StepHistogram>)>,
}

/// The histogram heatmaps of `task` (None when no drawn configuration has histograms).
pub fn histograms(cmp: &Comparison, task: &str) -> Option<Histograms> {
    let runs: Vec<(String, Vec<optlab_nn::StepHistogram>)> = drawn(cmp, task)
        .configs
        .iter()
        .filter_map(|c| {
            c.runs.iter().find(|r| !r.histograms.is_empty()).map(|r| (c.label.clone(), r.histograms.clone()))
        })
        .collect();
    (!runs.is_empty()).then(|| Histograms { title: format!("{task}: |g| and |update| per logged step"), runs })
}

/// Median curves with min–max bands over seeds.
#[derive(Clone, Debug)]
pub struct Curves {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub log_y: bool,
    /// On a log axis, values below this (the smallest positive value; exact zeros) are drawn
    /// at it.
    pub floor: f64,
    /// Only the best configuration per optimizer family is drawn (see [`crate::select`]).
    pub reduced: bool,
    /// The x values are network runs' logged steps (their step series).
    pub logged_steps: bool,
    /// The EMA weight each seed was smoothed with (0: none).
    pub smooth: f64,
    /// Bounded values (the accuracy, in percent): the y range is that of all medians and bands,
    /// without the caps against a blow-up of [`Curves::y_range`].
    pub bounded: bool,
    pub curves: Vec<Curve>,
}

#[derive(Clone, Debug)]
pub struct Curve {
    pub label: String,
    pub color: RGBColor,
    /// `(x, median, min, max)` over the seeds.
    pub band: Vec<(f64, f64, f64, f64)>,
    /// Last finite point of each diverged seed.
    pub diverged_ends: Vec<(f64, f64)>,
    pub seeds: usize,
}

/// Final loss over a two-key grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub title: String,
    /// Key along x (the second swept key) and y (the first).
    pub x_key: String,
    pub y_key: String,
    pub xs: Vec<String>,
    pub ys: Vec<String>,
    /// `cells[y][x]`.
    pub cells: Vec<Vec<HeatCell>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeatCell {
    /// Median final loss over the OK seeds.
    pub median: Option<f64>,
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
}

impl HeatCell {
    pub fn total(&self) -> usize {
        self.ok + self.diverged + self.failed
    }
}

/// Final loss versus learning rate, one line per optimizer (and other swept values).
#[derive(Clone, Debug)]
pub struct Sensitivity {
    pub title: String,
    pub log_y: bool,
    /// See [`Curves::floor`].
    pub floor: f64,
    pub lines: Vec<SensLine>,
}

#[derive(Clone, Debug)]
pub struct SensLine {
    pub name: String,
    pub color: RGBColor,
    /// `(lr, spread of the final loss over OK seeds or None when no seed ran OK)`, by lr.
    pub points: Vec<(f64, Option<Spread>)>,
}

/// Trajectories of the first seed of each configuration on a 2-D test function (among runs of
/// one seed from several random starts, the run from the lowest start).
#[derive(Clone, Debug)]
pub struct Trajectories {
    pub title: String,
    pub function: String,
    /// Only the best configuration per optimizer family is drawn (see [`crate::select`]).
    pub reduced: bool,
    pub paths: Vec<Path2d>,
}

#[derive(Clone, Debug)]
pub struct Path2d {
    pub label: String,
    pub color: RGBColor,
    pub seed: u64,
    pub status: Status,
    pub points: Vec<(f64, f64)>,
}

/// Steps and time to the target, per configuration.
#[derive(Clone, Debug)]
pub struct TargetBars {
    pub title: String,
    pub rows: Vec<BarRow>,
}

#[derive(Clone, Debug)]
pub struct BarRow {
    pub label: String,
    pub color: RGBColor,
    pub steps: Option<Spread>,
    pub time: Option<Spread>,
    /// `diverged` / `failed` when no seed ran OK.
    pub status: Option<&'static str>,
}

/// Performance profiles (steps and time to the target) across tasks.
#[derive(Clone, Debug)]
pub struct Profile {
    pub title: String,
    pub tasks: Vec<String>,
    pub solvers: Vec<(String, RGBColor)>,
    /// Whether a solver is an optimizer family with its best configuration per task (rather than
    /// one configuration).
    pub by_family: bool,
    /// `ratios[s][p]` for steps and for time.
    pub steps: Vec<Vec<f64>>,
    pub time: Vec<Vec<f64>>,
}

fn err(path: &Path, e: Box<dyn std::error::Error>) -> crate::ReportError {
    crate::ReportError::Plot { path: path.to_path_buf(), message: e.to_string() }
}

impl Plot {
    /// The plot as an SVG document.
    pub fn svg(&self, path_for_errors: &Path) -> Result<String, crate::ReportError> {
        crate::style::register_fonts();
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, self.size).into_drawing_area();
            self.draw(&root, false).map_err(|e| err(path_for_errors, e))?;
            root.present().map_err(|e| err(path_for_errors, Box::new(e)))?;
        }
        Ok(s)
    }

    /// Draws the plot as a PNG file at `path` (which must end in `.png`).
    pub fn png(&self, path: &Path) -> Result<(), crate::ReportError> {
        crate::style::register_fonts();
        let root = BitMapBackend::new(path, self.size).into_drawing_area();
        self.draw(&root, true).map_err(|e| err(path, e))?;
        root.present().map_err(|e| err(path, Box::new(e)))?;
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, bitmap: bool) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        match &self.drawing {
            Drawing::Curves(d) => draw_curves(root, d),
            Drawing::Heatmap(d) => draw_heatmap(root, d),
            Drawing::Sensitivity(d) => draw_sensitivity(root, d),
            Drawing::Trajectories(d) => draw_trajectories(root, d, bitmap),
            Drawing::Target(d) => draw_target(root, d),
            Drawing::Profile(d) => draw_profile(root, d),
            Drawing::Histograms(d) => {
                let runs: Vec<(String, &[optlab_nn::StepHistogram])> =
                    d.runs.iter().map(|(l, h)| (l.clone(), &h[..])).collect();
                crate::histograms::draw(root, &d.title, &runs)
            }
            Drawing::Parallel(d) => crate::parallel::draw(root, d),
            Drawing::Landscapes(d) => crate::net_landscape::draw_panels(root, &d.title, &d.runs, bitmap),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Builders.

/// Which series a curve plot shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The training loss: against steps or epochs as the comparison's `plot.x` says, smoothed
    /// by its `plot.smooth`.
    Loss,
    /// The validation loss per epoch.
    ValLoss,
    /// The validation accuracy per epoch (in percent, linear axis).
    Accuracy,
}

/// Curves of a task. The validation loss and accuracy: x = epoch when every point has one,
/// else step. The training loss: with `plot.x = "epochs"` the per-epoch means against epochs;
/// otherwise (`"steps"` or unset) the logged steps of network runs against the step (runs
/// without a step series: their series as for the validation loss), and test functions'
/// iterates against the step; each seed smoothed with [`ema_smooth`] when `plot.smooth` > 0.
/// Beyond [`MAX_DRAWN`] configurations only the best of each optimizer is drawn (see
/// [`crate::select`]); curves have at most [`MAX_POINTS`] points (min–max thinned).
pub fn curves(cmp: &Comparison, task: &str, metric: Metric) -> Option<Curves> {
    let sel = drawn(cmp, task);
    let configs: Vec<&Config> = sel.configs;
    let color_of = |cfg: &Config| config_color(cmp, cfg, sel.reduced);
    let runs = || configs.iter().flat_map(|c| c.runs.iter()).filter(|r| r.status != Status::Failed);
    let plot = &cmp.info.plot;
    let by_steps = metric == Metric::Loss && plot.x != Some(PlotX::Epochs) && runs().any(|r| !r.step_series.is_empty());
    let by_epoch = !by_steps
        && (metric != Metric::Loss || plot.x != Some(PlotX::Steps))
        && runs().all(|r| r.series.iter().all(|p| p.epoch.is_some()))
        && runs().any(|r| !r.series.is_empty());
    let smooth = if metric == Metric::Loss { plot.smooth } else { 0.0 };
    let y_of = |p: &optlab_lab::record::Point| match metric {
        Metric::Loss => Some(p.loss),
        Metric::ValLoss => p.val_loss,
        Metric::Accuracy => p.accuracy.map(|a| 100.0 * a),
    };
    let xy = |r: &RunRecord| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = if by_steps {
            r.step_series.iter().filter(|p| p.loss.is_finite()).map(|p| (p.step as f64, p.loss)).collect()
        } else {
            r.series
                .iter()
                .filter_map(|p| {
                    let x = if by_epoch { p.epoch.unwrap_or(0) as f64 } else { p.step as f64 };
                    y_of(p).filter(|y| y.is_finite()).map(|y| (x, y))
                })
                .collect()
        };
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        if smooth > 0.0 {
            let ys: Vec<f64> = v.iter().map(|p| p.1).collect();
            v.iter_mut().zip(ema_smooth(&ys, smooth)).for_each(|(p, y)| p.1 = y);
        }
        v
    };
    let all: Vec<f64> = runs().flat_map(|r| xy(r).into_iter().map(|p| p.1)).collect();
    if all.is_empty() {
        return None;
    }
    let (log_y, floor) = if metric == Metric::Accuracy { (false, 1.0) } else { log_floor(&all) };
    let mut out = Vec::new();
    for cfg in &configs {
        let series: Vec<Vec<(f64, f64)>> =
            cfg.runs.iter().filter(|r| r.status != Status::Failed).map(|r| xy(r)).filter(|s| !s.is_empty()).collect();
        if series.is_empty() {
            continue;
        }
        let diverged_ends =
            cfg.runs.iter().filter(|r| r.status == Status::Diverged).filter_map(|r| xy(r).last().copied()).collect();
        let b = thin_by(&band(&series), MAX_POINTS, |p| p.1);
        out.push(Curve { label: cfg.label.clone(), color: color_of(cfg), band: b, diverged_ends, seeds: series.len() });
    }
    let (what, y) = match metric {
        Metric::Loss if by_steps => ("training loss per logged step", "batch loss"),
        Metric::Loss => ("training loss", "loss"),
        Metric::ValLoss => ("validation loss", "validation loss"),
        Metric::Accuracy => ("validation accuracy", "validation accuracy (%)"),
    };
    let which = if sel.reduced { format!("best {} per optimizer; ", swept_words(cmp)) } else { String::new() };
    let smoothed = if smooth > 0.0 { format!("EMA-smoothed {}; ", num(smooth)) } else { String::new() };
    Some(Curves {
        title: format!("{}: {what} on {task} ({which}{smoothed}median, min–max over seeds)", cmp.info.name),
        x_desc: if by_epoch { "epoch" } else { "step" }.into(),
        y_desc: if log_y { format!("{y} (log scale)") } else { y.into() },
        log_y,
        floor,
        reduced: sel.reduced,
        logged_steps: by_steps,
        smooth,
        bounded: metric == Metric::Accuracy,
        curves: out,
    })
}

/// A configuration's colour: by family when only the best per family is drawn (so an optimizer
/// keeps its colour across tasks and matches the sensitivity plot), else by label.
fn config_color(cmp: &Comparison, cfg: &Config, by_family: bool) -> RGBColor {
    if by_family {
        series_color(cmp.family_index(&cfg.family), cmp.families.len())
    } else {
        series_color(cmp.color_index(&cfg.label), cmp.labels.len())
    }
}

impl Curves {
    /// The value drawn for `y` (its `log10`, at least the floor's, on a log axis).
    pub fn ty(&self, y: f64) -> f64 {
        if self.log_y {
            y.max(self.floor).log10()
        } else {
            y
        }
    }

    /// The drawn y range (in [`Curves::ty`] units, padded): that of the medians, so that bands
    /// and diverged seeds' ends, clipped to it, do not squash every curve against the bottom;
    /// (for [`Curves::bounded`] values, the range of all medians and bands instead);
    /// its top is also capped at 10× (linear axis: 10·max(1, |s|) above) the largest starting
    /// median `s`, so that a median blowing up (most seeds diverged) runs along the top edge,
    /// and at the upper fence of all the medians' values ([`upper_fence`]), so that one outlier
    /// curve — even one that starts high, such as a run that blew up in its first epoch — is
    /// clipped to the top edge instead of setting the range.
    pub fn y_range(&self) -> (f64, f64) {
        if self.bounded {
            let all = self.curves.iter().flat_map(|c| c.band.iter().flat_map(|p| [p.1, p.2, p.3]));
            return pad_range(ext(all.map(|v| self.ty(v)).filter(|v| v.is_finite())).unwrap_or((0.0, 1.0)), 0.04);
        }
        let values: Vec<f64> =
            self.curves.iter().flat_map(|c| c.band.iter().map(|p| self.ty(p.1))).filter(|v| v.is_finite()).collect();
        let y_data = ext(values.iter().copied()).unwrap_or((0.0, 1.0));
        let start = ext(self.curves.iter().filter_map(|c| c.band.first().map(|p| self.ty(p.1)))).map(|r| r.1);
        let cap = start.map_or(f64::INFINITY, |s| if self.log_y { s + 1.0 } else { s + 10.0 * s.abs().max(1.0) });
        let fence = upper_fence(&values, self.log_y);
        pad_range((y_data.0, y_data.1.min(cap).min(fence).max(y_data.0)), 0.04)
    }
}

/// Tukey's far-out fence above finite values: `q75 + 3·IQR`, with the IQR taken as at least one
/// decade on a log axis (values are `log10`s: the fence is then at least 1000× the upper
/// quartile) and at least `|q75|` on a linear one, so that only values far beyond the bulk are
/// cut. `+∞` for fewer than four values.
pub fn upper_fence(values: &[f64], log: bool) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 4 {
        return f64::INFINITY;
    }
    v.sort_by(f64::total_cmp);
    let (q25, q75) = (quantile_sorted(&v, 0.25), quantile_sorted(&v, 0.75));
    let iqr = (q75 - q25).max(if log { 1.0 } else { q75.abs() });
    q75 + 3.0 * iqr
}

impl Curves {}

/// Whether values go on a log axis (all ≥ 0, some > 0) and the floor for the zeros.
pub fn log_floor(values: &[f64]) -> (bool, f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let floor = finite.iter().copied().filter(|&v| v > 0.0).fold(f64::INFINITY, f64::min);
    (floor.is_finite() && finite.iter().all(|&v| v >= 0.0), if floor.is_finite() { floor } else { 1.0 })
}

/// The grid of final losses of one optimizer on a task when exactly two keys are swept.
pub fn heatmap(cmp: &Comparison, task: &str, optimizer: &str) -> Option<Heatmap> {
    if cmp.info.swept.len() != 2 {
        return None;
    }
    let configs: Vec<&Config> = cmp.configs_of(task).filter(|c| c.optimizer == optimizer).collect();
    heatmap_of(cmp, task, optimizer, &configs, "")
}

/// Heatmaps of the first two swept keys, one per combination of the values of the other swept
/// keys (e.g. a beta1 × beta2 grid at each batch size), each with that combination as its
/// slice label (`batch_size=8`); empty when fewer than two keys are swept.
pub fn heatmaps(cmp: &Comparison, task: &str, optimizer: &str) -> Vec<(String, Heatmap)> {
    let keys = &cmp.info.swept;
    if keys.len() < 2 {
        return Vec::new();
    }
    let configs: Vec<&Config> = cmp.configs_of(task).filter(|c| c.optimizer == optimizer).collect();
    let mut slices: Vec<Vec<String>> = configs.iter().map(|c| c.swept[2..].to_vec()).collect();
    slices.sort_by(|a, b| {
        a.iter().zip(b).map(|(x, y)| cmp_values(x, y)).find(|o| o.is_ne()).unwrap_or(a.len().cmp(&b.len()))
    });
    slices.dedup();
    slices
        .into_iter()
        .filter_map(|slice| {
            let label: Vec<String> = keys[2..].iter().zip(&slice).map(|(k, v)| format!("{k}={v}")).collect();
            let label = label.join(" ");
            let sel: Vec<&Config> = configs.iter().copied().filter(|c| c.swept[2..] == slice[..]).collect();
            heatmap_of(cmp, task, optimizer, &sel, &label).map(|h| (label, h))
        })
        .collect()
}

fn heatmap_of(cmp: &Comparison, task: &str, optimizer: &str, configs: &[&Config], slice: &str) -> Option<Heatmap> {
    let keys = &cmp.info.swept;
    if configs.is_empty() {
        return None;
    }
    let mut ys: Vec<String> = configs.iter().map(|c| c.swept[0].clone()).collect();
    let mut xs: Vec<String> = configs.iter().map(|c| c.swept[1].clone()).collect();
    for v in [&mut xs, &mut ys] {
        v.sort_by(|a, b| cmp_values(a, b));
        v.dedup();
    }
    let mut cells = vec![vec![HeatCell::default(); xs.len()]; ys.len()];
    for (yi, y) in ys.iter().enumerate() {
        for (xi, x) in xs.iter().enumerate() {
            let runs: Vec<&RunRecord> = configs
                .iter()
                .filter(|c| &c.swept[0] == y && &c.swept[1] == x)
                .flat_map(|c| c.runs.iter().copied())
                .collect();
            let cell = &mut cells[yi][xi];
            cell.ok = runs.iter().filter(|r| r.status == Status::Ok).count();
            cell.diverged = runs.iter().filter(|r| r.status == Status::Diverged).count();
            cell.failed = runs.iter().filter(|r| r.status == Status::Failed).count();
            cell.median = Spread::finite(runs.iter().filter(|r| r.status == Status::Ok).map(|r| r.summary.final_loss))
                .map(|s| s.median);
        }
    }
    Some(Heatmap {
        title: if slice.is_empty() {
            format!("{}: final loss of {optimizer} on {task} (median over seeds)", cmp.info.name)
        } else {
            format!("{}: final loss of {optimizer} on {task}, {slice} (median over seeds)", cmp.info.name)
        },
        x_key: keys[1].clone(),
        y_key: keys[0].clone(),
        xs,
        ys,
        cells,
    })
}

/// Final loss versus `lr` (when `lr` is swept and its values are numbers).
pub fn sensitivity(cmp: &Comparison, table: &Table, task: &str) -> Option<Sensitivity> {
    let li = cmp.info.swept.iter().position(|k| k == "lr")?;
    let mut lines: Vec<SensLine> = Vec::new();
    for r in table.rows.iter().filter(|r| r.task == task) {
        let lr: f64 = r.swept[li].trim().parse().ok().filter(|v: &f64| v.is_finite() && *v > 0.0)?;
        let others: Vec<String> =
            cmp.info.swept.iter().zip(&r.swept).filter(|(k, _)| *k != "lr").map(|(k, v)| format!("{k}={v}")).collect();
        let name = if others.is_empty() { r.family.clone() } else { format!("{} {}", r.family, others.join(" ")) };
        let p = (lr, if r.ok > 0 { r.final_loss } else { None });
        match lines.iter_mut().find(|l| l.name == name) {
            Some(l) => l.points.push(p),
            None => lines.push(SensLine { name, color: BLACK, points: vec![p] }),
        }
    }
    if lines.is_empty() {
        return None;
    }
    let n = lines.len();
    // One line per family (only lr swept): the family's colour, as in the reduced plots.
    let by_family = cmp.info.swept.len() == 1;
    for (i, l) in lines.iter_mut().enumerate() {
        l.color =
            if by_family { series_color(cmp.family_index(&l.name), cmp.families.len()) } else { series_color(i, n) };
        l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let values: Vec<f64> =
        lines.iter().flat_map(|l| l.points.iter().filter_map(|p| p.1)).flat_map(|s| [s.min, s.median, s.max]).collect();
    let (log_y, floor) = log_floor(&values);
    Some(Sensitivity {
        title: format!("{}: final loss versus learning rate on {task}", cmp.info.name),
        log_y,
        floor,
        lines,
    })
}

/// Trajectories on a 2-D test function (the first seed of each configuration that has 2-D
/// iterates; runs of the same function in more dimensions are not drawn on a 2-D landscape).
pub fn trajectories(cmp: &Comparison, task: &str) -> Option<Trajectories> {
    let f = optlab_functions::by_name(task, Some(2)).ok()?;
    let sel = drawn(cmp, task);
    let mut paths = Vec::new();
    for cfg in sel.configs.iter().copied() {
        // The lowest seed, and among runs of the same seed (random starts) the lowest start, so
        // that configurations run from the same starts are drawn from the same one.
        let start =
            |r: &RunRecord| r.series.iter().find_map(|p| p.x.as_ref().filter(|x| x.len() == 2).map(|x| (x[0], x[1])));
        let Some(r) = cfg.runs.iter().filter(|r| start(r).is_some()).min_by(|a, b| {
            let (sa, sb) = (start(a).unwrap_or_default(), start(b).unwrap_or_default());
            a.seed.cmp(&b.seed).then(sa.0.total_cmp(&sb.0)).then(sa.1.total_cmp(&sb.1))
        }) else {
            continue;
        };
        let points: Vec<(f64, f64)> =
            r.series.iter().filter_map(|p| p.x.as_ref().filter(|x| x.len() == 2).map(|x| (x[0], x[1]))).collect();
        paths.push(Path2d {
            label: cfg.label.clone(),
            color: config_color(cmp, cfg, sel.reduced),
            seed: r.seed,
            status: r.status,
            points,
        });
    }
    if paths.is_empty() {
        return None;
    }
    Some(Trajectories {
        title: if sel.reduced {
            format!(
                "{}: trajectories on {} (best {} per optimizer, first seed)",
                cmp.info.name,
                f.title(),
                swept_words(cmp)
            )
        } else {
            format!("{}: trajectories on {} (first seed of each configuration)", cmp.info.name, f.title())
        },
        function: task.to_string(),
        reduced: sel.reduced,
        paths,
    })
}

/// Steps and time to the task's target per configuration.
pub fn target_bars(cmp: &Comparison, table: &Table, task: &str) -> Option<TargetBars> {
    let target = cmp.info.targets.get(task)?;
    let sel = drawn(cmp, task);
    let rows: Vec<BarRow> = table
        .rows
        .iter()
        .filter(|r| r.task == task)
        .filter_map(|r| sel.configs.iter().find(|c| c.label == r.label).map(|c| (r, *c)))
        .map(|(r, c)| BarRow {
            label: r.label.clone(),
            color: config_color(cmp, c, sel.reduced),
            steps: r.steps_to_target,
            time: r.time_to_target,
            status: r.status_word(),
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let which = if sel.reduced { format!("best {} per optimizer; ", swept_words(cmp)) } else { String::new() };
    Some(TargetBars {
        title: format!(
            "{}: reaching loss {} on {task} ({which}median, min–max over seeds)",
            cmp.info.name,
            num(*target)
        ),
        rows,
    })
}

/// Performance profiles over the tasks that have a target, when there are at least two. A
/// solver is a configuration (label); its cost on a task is the median over its OK seeds of the
/// steps (time) to the target, `∞` when the median seed never got there, when no seed ran OK or
/// when it did not run on that task. Steps below 1 count as 1.
///
/// With more than [`MAX_DRAWN`] configurations (and fewer families), a solver is an optimizer
/// family instead, run on each task with its best configuration there (see [`crate::select`]).
pub fn profile(cmp: &Comparison, table: &Table) -> Option<Profile> {
    let tasks: Vec<String> = cmp.tasks.iter().filter(|t| cmp.info.targets.contains_key(*t)).cloned().collect();
    if tasks.len() < 2 || cmp.labels.is_empty() {
        return None;
    }
    let by_family = cmp.labels.len() > MAX_DRAWN && cmp.families.len() < cmp.labels.len();
    // The label a solver runs with on a task.
    let label_on = |solver: &str, task: &str| -> Option<String> {
        if by_family {
            best_per_family(cmp, task).into_iter().find(|c| c.family == solver).map(|c| c.label.clone())
        } else {
            Some(solver.to_string())
        }
    };
    let cost = |solver: &str, task: &str, time: bool| -> f64 {
        let Some(label) = label_on(solver, task) else { return f64::INFINITY };
        table
            .rows
            .iter()
            .find(|r| r.label == label && r.task == task && r.ok > 0)
            .and_then(|r| if time { r.time_to_target } else { r.steps_to_target })
            .map_or(f64::INFINITY, |s| s.median)
    };
    let solvers = if by_family { &cmp.families } else { &cmp.labels };
    let costs = |time: bool| -> Vec<Vec<f64>> {
        solvers.iter().map(|l| tasks.iter().map(|t| cost(l, t, time)).collect()).collect()
    };
    let n = solvers.len();
    let which =
        if by_family { format!(" (best {} per optimizer on each task)", swept_words(cmp)) } else { String::new() };
    Some(Profile {
        title: format!("{}: performance profiles over {} tasks{which}", cmp.info.name, tasks.len()),
        solvers: solvers.iter().enumerate().map(|(i, l)| (l.clone(), series_color(i, n))).collect(),
        by_family,
        steps: performance_ratios(&costs(false), 1.0),
        time: performance_ratios(&costs(true), 1e-9),
        tasks,
    })
}

/// Every plot of a comparison, in report order.
pub fn plots_of(cmp: &Comparison, table: &Table) -> Vec<Plot> {
    let mut out = Vec::new();
    let base = &cmp.slug;
    for task in &cmp.tasks {
        let t = slug(&optlab_functions::file_stem(task));
        let sel = drawn(cmp, task);
        let legend_h = (90 + 24 * sel.configs.len() as u32).max(560);
        // What a reduced plot leaves out, and where to find it.
        let (per, note) = if sel.reduced {
            let mut elsewhere = vec!["the table"];
            if cmp.info.swept.iter().any(|k| k == "lr") {
                elsewhere.push("the sensitivity plot");
            }
            if cmp.info.swept.len() == 2 {
                elsewhere.push("the heatmaps");
            }
            (
                format!("for the best {} of each optimizer", swept_words(cmp)),
                format!(
                    " Only the best configuration of each optimizer is drawn (lowest median final loss over the seeds that ran OK; ties: fewer steps) — {} of {} configurations; all configurations are in {}.",
                    sel.configs.len(),
                    cmp.configs_of(task).count(),
                    elsewhere.join(" and ")
                ),
            )
        } else {
            ("per configuration".to_string(), String::new())
        };
        if let Some(c) = curves(cmp, task, Metric::Loss) {
            let against = match (c.logged_steps, c.x_desc.as_str()) {
                (true, _) => " (the batch loss every log_every steps) against steps",
                (false, "epoch") => " (mean over each epoch's batches) against epochs",
                _ => " against steps",
            };
            let smoothed = if c.smooth > 0.0 {
                format!(
                    " Each seed is smoothed with TensorBoard's debiased exponential moving average, weight {}, before the median is taken.",
                    num(c.smooth)
                )
            } else {
                String::new()
            };
            out.push(Plot {
                stem: format!("{base}-{t}-loss"),
                caption: format!(
                    "Training loss on {task}{against} {per}: median over seeds (line), min–max (band, clipped to the range of the medians); ✕ marks where a diverged seed's last finite loss was.{smoothed}{note}"
                ),
                size: (1100, legend_h),
                drawing: Drawing::Curves(c),
            });
        }
        if let Some(c) = curves(cmp, task, Metric::ValLoss) {
            out.push(Plot {
                stem: format!("{base}-{t}-val-loss"),
                caption: format!(
                    "Validation loss on {task} {per}: median over seeds (line), min–max (band, clipped to the range of the medians).{note}"
                ),
                size: (1100, legend_h),
                drawing: Drawing::Curves(c),
            });
        }
        if let Some(c) = curves(cmp, task, Metric::Accuracy) {
            out.push(Plot {
                stem: format!("{base}-{t}-val-accuracy"),
                caption: format!(
                    "Validation accuracy on {task} against epochs {per}: median over seeds (line), min–max (band).{note}"
                ),
                size: (1100, legend_h),
                drawing: Drawing::Curves(c),
            });
        }
        let mut opts: Vec<&str> = cmp.configs_of(task).map(|c| c.optimizer.as_str()).collect();
        opts.sort();
        opts.dedup();
        for o in opts {
            for (slice, h) in heatmaps(cmp, task, o) {
                let (w, hgt) = (260 + 110 * h.xs.len() as u32 + LEGEND_W / 2, 170 + 70 * h.ys.len() as u32);
                let (stem_slice, at) = if slice.is_empty() {
                    (String::new(), String::new())
                } else {
                    (format!("-{}", slug(&slice)), format!(" at {slice}"))
                };
                out.push(Plot {
                    stem: format!("{base}-{t}-{}-heatmap{stem_slice}", slug(o)),
                    caption: format!(
                        "Final training loss of {o} on {task}{at} for each {} × {} pair (median over OK seeds; k/n = seeds that ran OK; diverged or failed cells hatched).",
                        h.y_key, h.x_key
                    ),
                    size: (w.max(700).max(60 + 10 * h.title.chars().count() as u32), hgt.max(420)),
                    drawing: Drawing::Heatmap(h),
                });
            }
        }
        if let Some(h) = histograms(cmp, task) {
            out.push(Plot {
                stem: format!("{base}-{t}-histograms"),
                caption: format!(
                    "Histograms of |g| (left) and of |update| = |θ after − θ before| (right) over the logged steps on {task}, the first seed of each configuration {per} (grad_histograms = true): x = log10 of the value (bins of a quarter decade; the outermost columns hold the values below 1e-12, zeros included, and those from 1e2 up), y = the step, colour = the share of the parameters in the bin at that step (white = none, yellow = few, dark purple = many; square-root scale).{note}"
                ),
                size: (1100, 80 + 300 * h.runs.len() as u32),
                drawing: Drawing::Histograms(h),
            });
        }
        if let Some(l) = landscapes(cmp, task) {
            let rows = l.runs.len().div_ceil(crate::net_landscape::PANELS_PER_ROW) as u32;
            let cols = l.runs.len().min(crate::net_landscape::PANELS_PER_ROW) as u32;
            out.push(Plot {
                stem: format!("{base}-{t}-landscape"),
                caption: format!(
                    "Loss landscapes on {task} around the final weights θ of the first seed of each configuration {per} (landscape = true): the training loss (a seeded subset of {} samples) at θ + a·d1 + b·d2 on a {g} × {g} grid, a, b ∈ [−1, 1], d1 and d2 seeded Gaussian directions filter-normalised as in Li et al. 2018 (each filter scaled to the norm of θ's filter; zero on biases and BatchNorm); dark = low loss, × = θ (docs/landscape.md).{note}",
                    optlab_nn::landscape::REPORT_SAMPLES,
                    g = optlab_nn::landscape::REPORT_GRID
                ),
                size: (40 + 520 * cols, 40 + 460 * rows),
                drawing: Drawing::Landscapes(l),
            });
        }
        if let Some(s) = sensitivity(cmp, table, task) {
            out.push(Plot {
                stem: format!("{base}-{t}-lr-sensitivity"),
                caption: format!(
                    "Learning-rate sensitivity on {task}: final training loss (median over OK seeds, bars min–max) versus lr; ✕ at the top = no seed ran OK at that lr."
                ),
                size: (1100, (90 + 24 * s.lines.len() as u32).max(560)),
                drawing: Drawing::Sensitivity(s),
            });
        }
        if let Some(p) = crate::parallel::parallel(cmp, task) {
            out.push(Plot {
                stem: format!("{base}-{t}-parallel"),
                caption: format!(
                    "Every configuration on {task} in parallel coordinates: one axis per hyperparameter that varies ({}), the last the median final training loss over the runs (✕ above it: every run diverged); one line per configuration, coloured by optimizer.",
                    p.axes[..p.axes.len() - 1].iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
                size: (1100, (140 + 24 * p.families.len() as u32).max(480)),
                drawing: Drawing::Parallel(p),
            });
        }
        if let Some(tr) = trajectories(cmp, task) {
            out.push(Plot {
                stem: format!("{base}-{t}-trajectories"),
                caption: format!(
                    "Iterates on the landscape of {task} (grey bands, dark = low f): the first seed {per}; ○ start, × global minima.{note}"
                ),
                size: (1100, (320 + 24 * tr.paths.len() as u32).max(780)),
                drawing: Drawing::Trajectories(tr),
            });
        }
        if let Some(b) = target_bars(cmp, table, task) {
            out.push(Plot {
                stem: format!("{base}-{t}-target"),
                caption: format!(
                    "Steps and seconds until the training loss first reached the target on {task} {per} (median over OK seeds, whiskers min–max).{note}"
                ),
                size: (1100, (130 + 34 * b.rows.len() as u32).max(300)),
                drawing: Drawing::Target(b),
            });
        }
    }
    if let Some(p) = profile(cmp, table) {
        out.push(Plot {
            stem: format!("{base}-profile"),
            caption: format!(
                "Performance profiles over the {} tasks with a target: the fraction ρ(τ) of tasks on which {} reached the target within τ times the best {}'s steps (left) or time (right). Lines are offset very slightly in height so that coinciding ones stay visible.{}",
                p.tasks.len(),
                if p.by_family { "an optimizer (with its best configuration on that task)" } else { "a configuration" },
                if p.by_family { "optimizer" } else { "configuration" },
                if p.by_family {
                    format!(" The {} configurations are too many to draw; each optimizer runs with its best {} per task (lowest median final loss).", cmp.labels.len(), swept_words(cmp))
                } else {
                    String::new()
                }
            ),
            size: (1100, (110 + 24 * p.solvers.len() as u32).max(520)),
            drawing: Drawing::Profile(p),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Drawing.

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Legend entries (colour line + text) from `top` down in `area`.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[(String, RGBColor)],
    top: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let t = TextStyle::from((FAMILY, 15).into_font()).color(&BLACK);
    area.draw(&Text::new(title.to_string(), (8, top), t))?;
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
    for (k, (label, c)) in entries.iter().enumerate() {
        let y = top + 28 + 24 * k as i32;
        area.draw(&PathElement::new(vec![(8, y + 8), (36, y + 8)], c.stroke_width(3)))?;
        area.draw(&Text::new(truncate(label, 46), (44, y), st.clone()))?;
    }
    Ok(())
}

fn legend_title(reduced: bool) -> &'static str {
    if reduced {
        "best configuration per optimizer"
    } else {
        "configuration"
    }
}

fn ext(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo <= hi).then_some((lo, hi))
}

fn pad_range((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let w = (hi - lo).abs();
    let p = if w > 0.0 { w * frac } else { lo.abs().max(1.0) * 0.1 };
    (lo - p, hi + p)
}

fn axis_label(log: bool) -> impl Fn(&f64) -> String {
    move |v: &f64| if log { log_tick(*v) } else { num(*v) }
}

/// Smallest font size of a plot title (it shrinks to fit on one line, then wraps).
const MIN_TITLE_PX: u32 = 13;

/// The font size and lines of a title so that every line fits `width` pixels as `measure`
/// (text, font size → pixel width) says: one line at `size`, else one line at a font size down to
/// 3/4 of `size` (at least [`MIN_TITLE_PX`]), else wrapped at spaces at a size from `size` down to
/// [`MIN_TITLE_PX`] into as few lines as fit; a single word too long even then is cut with `…`.
pub fn fit_title(title: &str, size: u32, width: u32, measure: &mut dyn FnMut(&str, u32) -> u32) -> (u32, Vec<String>) {
    let smallest_one_line = (size * 3 / 4).max(MIN_TITLE_PX).min(size);
    for s in (smallest_one_line..=size).rev() {
        if measure(title, s) <= width {
            return (s, vec![title.to_string()]);
        }
    }
    let wrap = |s: u32, measure: &mut dyn FnMut(&str, u32) -> u32| -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for word in title.split(' ').filter(|w| !w.is_empty()) {
            match lines.last_mut() {
                Some(line) if measure(&format!("{line} {word}"), s) <= width => {
                    line.push(' ');
                    line.push_str(word);
                }
                _ => lines.push(word.to_string()),
            }
        }
        lines
    };
    let mut best = (MIN_TITLE_PX, wrap(MIN_TITLE_PX, measure));
    for s in (MIN_TITLE_PX..=size).rev() {
        let lines = wrap(s, measure);
        if lines.len() <= 2 && lines.iter().all(|l| measure(l, s) <= width) {
            best = (s, lines);
            break;
        }
    }
    let s = best.0;
    let lines = best
        .1
        .into_iter()
        .map(|l| {
            let mut l = l;
            while measure(&l, s) > width && l.chars().count() > 1 {
                let keep = l.chars().count() - 2;
                l = l.chars().take(keep).collect::<String>() + "…";
            }
            l
        })
        .collect();
    (s, lines)
}

/// Draws `title` centred across the whole width of `root` (fitted by [`fit_title`], so it is
/// never cut off and never runs into the legend) and returns the area below it.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
) -> DrawResult<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let (w, _) = root.dim_in_pixel();
    let margin = 12;
    let mut measure = |t: &str, s: u32| {
        root.estimate_text_size(t, &TextStyle::from((FAMILY, s).into_font())).map_or(u32::MAX, |(tw, _)| tw)
    };
    let (s, lines) = fit_title(title, size, w.saturating_sub(2 * margin), &mut measure);
    let line_h = s as i32 + 5;
    let style = TextStyle::from((FAMILY, s).into_font()).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, l) in lines.iter().enumerate() {
        root.draw(&Text::new(l.clone(), (w as i32 / 2, 8 + line_h * i as i32), style.clone()))?;
    }
    let (_, body) = root.split_vertically(14 + line_h * lines.len() as i32);
    Ok(body)
}

fn draw_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Curves) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let body = titled(root, &d.title, 19)?;
    let (w, _) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(w - LEGEND_W);
    let ty = |y: f64| if d.log_y { y.max(d.floor).log10() } else { y };
    let x_range = ext(d.curves.iter().flat_map(|c| c.band.iter().map(|p| p.0))).unwrap_or((0.0, 1.0));
    let x_range = if x_range.1 > x_range.0 { x_range } else { (x_range.0, x_range.0 + 1.0) };
    let (ylo, yhi) = d.y_range();
    let clamp = |y: f64| ty(y).clamp(ylo, yhi);
    let mut chart = ChartBuilder::on(&left)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(x_range.0..x_range.1, ylo..yhi)?;
    let yl = axis_label(d.log_y);
    chart
        .configure_mesh()
        .x_desc(&d.x_desc)
        .y_desc(&d.y_desc)
        .y_label_formatter(&yl)
        // Epochs are whole numbers: no label at 1.5.
        .x_label_formatter(&|v| if d.x_desc == "epoch" && v.fract() != 0.0 { String::new() } else { num(*v) })
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(RGBColor(238, 238, 238))
        .max_light_lines(1)
        .draw()?;
    for c in &d.curves {
        if c.band.len() > 1 && c.band.iter().any(|p| p.2 != p.3) {
            let mut poly: Vec<(f64, f64)> = c.band.iter().map(|p| (p.0, clamp(p.3))).collect();
            poly.extend(c.band.iter().rev().map(|p| (p.0, clamp(p.2))));
            chart.draw_series(std::iter::once(Polygon::new(poly, c.color.mix(0.16).filled())))?;
        }
    }
    for c in &d.curves {
        let pts: Vec<(f64, f64)> = c.band.iter().map(|p| (p.0, clamp(p.1))).collect();
        if pts.len() == 1 {
            chart.draw_series(std::iter::once(Circle::new(pts[0], 4, c.color.filled())))?;
        } else {
            chart.draw_series(std::iter::once(PathElement::new(pts, c.color.stroke_width(2))))?;
        }
        chart
            .draw_series(c.diverged_ends.iter().map(|&(x, y)| Cross::new((x, clamp(y)), 6, c.color.stroke_width(2))))?;
    }
    let entries: Vec<(String, RGBColor)> = d
        .curves
        .iter()
        .map(|c| (format!("{} ({} seed{})", c.label, c.seeds, if c.seeds == 1 { "" } else { "s" }), c.color))
        .collect();
    draw_legend(&right, legend_title(d.reduced), &entries, 24)?;
    let (_, rh) = right.dim_in_pixel();
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&RGBColor(70, 70, 70));
    right.draw(&Text::new("line median · band min–max · ✕ diverged", (8, rh as i32 - 36), st))?;
    Ok(())
}

/// Viridis-like ramp, `t` in [0, 1] (0 = dark purple = low loss).
pub fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 1.0 };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn draw_heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Heatmap) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let body = titled(root, &d.title, 18)?;
    let (w, _) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(w - LEGEND_W / 2);
    let medians: Vec<f64> = d.cells.iter().flatten().filter_map(|c| c.median).collect();
    let log = !medians.is_empty() && medians.iter().all(|&m| m > 0.0);
    let tv = |m: f64| if log { m.log10() } else { m };
    let (lo, hi) = ext(medians.iter().map(|&m| tv(m))).unwrap_or((0.0, 1.0));
    let t_of = |m: f64| if hi > lo { (tv(m) - lo) / (hi - lo) } else { 0.5 };
    let (nx, ny) = (d.xs.len() as i32, d.ys.len() as i32);
    let mut chart = ChartBuilder::on(&left)
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((0..(nx - 1).max(0)).into_segmented(), (0..(ny - 1).max(0)).into_segmented())?;
    let xs = d.xs.clone();
    let ys = d.ys.clone();
    let seg_label = |names: &[String], v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(d.xs.len() + 1)
        .y_labels(d.ys.len() + 1)
        .x_desc(&d.x_key)
        .y_desc(&d.y_key)
        .x_label_formatter(&|v| seg_label(&xs, v))
        .y_label_formatter(&|v| seg_label(&ys, v))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .draw()?;
    for (yi, row) in d.cells.iter().enumerate() {
        for (xi, cell) in row.iter().enumerate() {
            let (x, y) = (xi as i32, yi as i32);
            let corners = [
                (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
            ];
            let centre = (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y));
            let (fill, text, ink) = match cell.median {
                Some(m) => {
                    let c = ramp(t_of(m));
                    let lum = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
                    let mut t = num(m);
                    if cell.ok < cell.total() {
                        t = format!("{t}\u{2002}{}/{}", cell.ok, cell.total());
                    }
                    (c, t, if lum < 128.0 { WHITE } else { BLACK })
                }
                None if cell.total() == 0 => (RGBColor(255, 255, 255), "no runs".into(), RGBColor(90, 90, 90)),
                None => {
                    let word = if cell.diverged > 0 { "diverged" } else { "failed" };
                    (
                        RGBColor(235, 225, 225),
                        format!("{word} {}/{}", cell.diverged + cell.failed, cell.total()),
                        RGBColor(160, 20, 20),
                    )
                }
            };
            chart.draw_series(std::iter::once(Rectangle::new(corners.clone(), fill.filled())))?;
            if cell.median.is_none() && cell.total() > 0 {
                // Hatching: a cross over the cell.
                let cross = [
                    vec![
                        (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                    ],
                    vec![
                        (SegmentValue::Exact(x), SegmentValue::Exact(y + 1)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y)),
                    ],
                ];
                for line in cross {
                    chart.draw_series(std::iter::once(PathElement::new(
                        line,
                        RGBColor(200, 150, 150).stroke_width(1),
                    )))?;
                }
            }
            chart.draw_series(std::iter::once(Rectangle::new(corners, WHITE.stroke_width(2))))?;
            let style = TextStyle::from((FAMILY, 15).into_font()).color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(text, centre, style)))?;
        }
    }
    // Colour bar.
    let (_, rh) = right.dim_in_pixel();
    let (top, bottom) = (60, rh as i32 - 80);
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
    right.draw(&Text::new(if log { "final loss (log)" } else { "final loss" }, (4, top - 34), st.clone()))?;
    let steps = 60;
    for k in 0..steps {
        let y0 = bottom - (bottom - top) * (k + 1) / steps;
        let y1 = bottom - (bottom - top) * k / steps;
        right.draw(&Rectangle::new([(10, y0), (36, y1)], ramp(k as f64 / (steps - 1) as f64).filled()))?;
    }
    let inv = |v: f64| if log { 10f64.powf(v) } else { v };
    right.draw(&Text::new(num(inv(hi)), (42, top - 6), st.clone()))?;
    right.draw(&Text::new(num(inv(lo)), (42, bottom - 10), st))?;
    Ok(())
}

fn draw_sensitivity<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Sensitivity) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let body = titled(root, &d.title, 19)?;
    let (w, _) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(w - LEGEND_W);
    let ty = |y: f64| if d.log_y { y.max(d.floor).log10() } else { y };
    let xr = ext(d.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0.log10()))).unwrap_or((-4.0, 0.0));
    let xr = pad_range(xr, 0.06);
    let yr = ext(d.lines.iter().flat_map(|l| l.points.iter().filter_map(|p| p.1).flat_map(|s| [ty(s.min), ty(s.max)])))
        .unwrap_or((0.0, 1.0));
    let (ylo, yhi) = pad_range(yr, 0.08);
    let mut chart = ChartBuilder::on(&left)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(xr.0..xr.1, ylo..yhi)?;
    let yl = axis_label(d.log_y);
    chart
        .configure_mesh()
        .x_desc("learning rate (log scale)")
        .y_desc(if d.log_y { "final loss (log scale)" } else { "final loss" })
        .x_label_formatter(&|v| log_tick(*v))
        .y_label_formatter(&yl)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(RGBColor(238, 238, 238))
        .max_light_lines(1)
        .draw()?;
    for l in &d.lines {
        // Lines join consecutive learning rates with an OK seed.
        let mut piece: Vec<(f64, f64)> = Vec::new();
        let mut pieces = Vec::new();
        for p in &l.points {
            match p.1 {
                Some(s) => piece.push((p.0.log10(), ty(s.median))),
                None => pieces.push(std::mem::take(&mut piece)),
            }
        }
        pieces.push(piece);
        for pc in pieces.into_iter().filter(|p| p.len() > 1) {
            chart.draw_series(std::iter::once(PathElement::new(pc, l.color.stroke_width(2))))?;
        }
        for p in &l.points {
            let x = p.0.log10();
            match p.1 {
                Some(s) => {
                    chart.draw_series(std::iter::once(Circle::new((x, ty(s.median)), 4, l.color.filled())))?;
                    if s.min != s.max {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x, ty(s.min)), (x, ty(s.max))],
                            l.color.stroke_width(1),
                        )))?;
                    }
                }
                None => {
                    chart.draw_series(std::iter::once(Cross::new(
                        (x, yhi - (yhi - ylo) * 0.02),
                        7,
                        l.color.stroke_width(3),
                    )))?;
                }
            }
        }
    }
    let entries: Vec<(String, RGBColor)> = d.lines.iter().map(|l| (l.name.clone(), l.color)).collect();
    draw_legend(&right, "optimizer", &entries, 24)?;
    let (_, rh) = right.dim_in_pixel();
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&RGBColor(70, 70, 70));
    right.draw(&Text::new("● median · bar min–max · ✕ no OK seed", (8, rh as i32 - 36), st))?;
    Ok(())
}

fn draw_trajectories<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Trajectories, bitmap: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let f = optlab_functions::by_name(&d.function, Some(2)).map_err(|e| e.to_string())?;
    let body = titled(root, &d.title, 18)?;
    let (w, h) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(w - LEGEND_W - 40);
    let bx = f.plot_box();
    let side = (h as i32 - 40).min(w as i32 - LEGEND_W as i32 - 40);
    let left = left.margin(0, (h as i32 - side).max(0) / 2, 0, 0);
    let start = d.paths.iter().find_map(|p| p.points.first().copied()).unwrap_or((0.0, 0.0));
    let land = Landscape::compute(&*f, &[start.0, start.1], [bx[0], bx[1]], if bitmap { 500 } else { 100 }, 20);
    let mut chart = contour_chart(&left, &land, None, bitmap)?;
    let levels = land.levels;
    let n = d.paths.len();
    // Pixels per unit along each axis: paths are thinned to what can be seen.
    let (pw, ph) = chart.plotting_area().dim_in_pixel();
    let px = (pw as f64 / (bx[0].1 - bx[0].0), ph as f64 / (bx[1].1 - bx[1].0));
    for (i, p) in d.paths.iter().enumerate() {
        let wd = if n <= 1 { 2 } else { (6.0 - 4.0 * i as f64 / (n - 1) as f64).round() as u32 };
        let pts = thin_path(&p.points, px, MIN_PX, MAX_POINTS);
        draw_trajectory(&mut chart, &pts, [bx[0], bx[1]], p.color, wd, bitmap)?;
    }
    let mut starts: Vec<(f64, f64)> = d.paths.iter().filter_map(|p| p.points.first().copied()).collect();
    starts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    starts.dedup();
    draw_marks(&mut chart, &f.minima(), &starts)?;
    let entries: Vec<(String, RGBColor)> = d
        .paths
        .iter()
        .map(|p| {
            let note = if p.status == Status::Ok { String::new() } else { format!(", {}", p.status.as_str()) };
            (format!("{} (seed {}{note})", p.label, p.seed), p.color)
        })
        .collect();
    draw_legend(&right, legend_title(d.reduced), &entries, 24)?;
    let (_, rh) = right.dim_in_pixel();
    draw_level_key(&right, &levels, !f.minima().is_empty(), rh as i32 - 130)?;
    Ok(())
}

fn draw_target<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &TargetBars) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let body = titled(root, &d.title, 18)?;
    let (w, _) = body.dim_in_pixel();
    let (a, b) = body.split_horizontally(w * 58 / 100);
    let n = d.rows.len() as i32;
    for (panel, time) in [(&a, false), (&b, true)] {
        let value = |r: &BarRow| if time { r.time } else { r.steps };
        let room = if d.rows.iter().filter_map(value).any(|s| s.max.is_infinite()) { 1.8 } else { 1.35 };
        let xmax = ext(d.rows.iter().filter_map(value).flat_map(|s| [s.median, s.max])).map_or(1.0, |r| r.1) * room;
        let labels: Vec<String> = d.rows.iter().map(|r| truncate(&r.label, 30)).collect();
        let mut chart = ChartBuilder::on(panel)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(if time { 10 } else { 240 })
            .build_cartesian_2d(0.0..xmax.max(1e-9), (0..(n - 1).max(0)).into_segmented())?;
        let lab = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) if !time => labels.get((n - 1 - *i) as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .y_labels(d.rows.len() + 1)
            .y_label_formatter(&lab)
            .x_label_formatter(&|v| num(*v))
            .x_desc(if time { "seconds to target" } else { "steps to target" })
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .light_line_style(RGBColor(238, 238, 238))
            .max_light_lines(1)
            .disable_y_mesh()
            .draw()?;
        for (k, r) in d.rows.iter().enumerate() {
            let y = n - 1 - k as i32;
            let note = |t: String| {
                Text::new(
                    t,
                    (0.01 * xmax, SegmentValue::CenterOf(y)),
                    TextStyle::from((FAMILY, 14).into_font())
                        .color(&RGBColor(160, 20, 20))
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            };
            match (r.status, value(r)) {
                (Some(word), _) => {
                    chart.draw_series(std::iter::once(note(word.to_string())))?;
                }
                (None, Some(s)) if s.median.is_finite() => {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(0.0, SegmentValue::Exact(y)), (s.median, SegmentValue::Exact(y + 1))],
                        r.color.mix(0.85).filled(),
                    )))?;
                    // A seed that never got there has no finite end: its whisker stops at the median.
                    let hi = if s.max.is_finite() { s.max } else { s.median };
                    if s.min != hi {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(s.min, SegmentValue::CenterOf(y)), (hi, SegmentValue::CenterOf(y))],
                            BLACK.stroke_width(2),
                        )))?;
                    }
                    let label =
                        if s.max.is_finite() { num(s.median) } else { format!("{}, not every seed", num(s.median)) };
                    chart.draw_series(std::iter::once(Text::new(
                        label,
                        (hi + 0.01 * xmax, SegmentValue::CenterOf(y)),
                        TextStyle::from((FAMILY, 13).into_font()).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
                    )))?;
                }
                _ => {
                    chart.draw_series(std::iter::once(note("not reached".into())))?;
                }
            }
        }
    }
    Ok(())
}

fn draw_profile<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Profile) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let body = titled(root, &d.title, 18)?;
    let (w, _) = body.dim_in_pixel();
    let (panels, legend) = body.split_horizontally(w - LEGEND_W + 40);
    let (pw, _) = panels.dim_in_pixel();
    let (a, b) = panels.split_horizontally(pw / 2);
    let n = d.solvers.len();
    for (panel, ratios, what) in [(&a, &d.steps, "steps"), (&b, &d.time, "time")] {
        let tmax = ext(ratios.iter().flatten().copied()).map_or(2.0, |r| r.1).max(2.0) * 1.5;
        let xmax = tmax.log10();
        let mut chart = ChartBuilder::on(panel)
            .margin(10)
            .caption(format!("by {what} to target"), (FAMILY, 16))
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..xmax, -0.03..1.04)?;
        chart
            .configure_mesh()
            .x_desc("τ (log scale)")
            .y_desc("ρ(τ): fraction of tasks")
            .x_label_formatter(&|v| log_tick(*v))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .light_line_style(RGBColor(238, 238, 238))
            .max_light_lines(1)
            .draw()?;
        for (s, (_, color)) in d.solvers.iter().enumerate() {
            let steps = profile_steps(&ratios[s]);
            // A small vertical offset per configuration keeps coinciding lines visible.
            let dy = (s as f64 - (n as f64 - 1.0) / 2.0) * (0.03 / n as f64).min(0.005);
            let mut pts = vec![(0.0, dy)];
            let mut rho = 0.0;
            for (tau, r) in steps {
                let x = tau.log10();
                pts.push((x, rho + dy));
                pts.push((x, r + dy));
                rho = r;
            }
            pts.push((xmax, rho + dy));
            let wd = if n <= 1 { 2 } else { (5.0 - 3.0 * s as f64 / (n - 1) as f64).round() as u32 };
            chart.draw_series(std::iter::once(PathElement::new(pts, color.stroke_width(wd))))?;
        }
    }
    draw_legend(&legend, if d.by_family { "optimizer (best per task)" } else { "configuration" }, &d.solvers, 40)?;
    let (_, lh) = legend.dim_in_pixel();
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&RGBColor(70, 70, 70));
    legend.draw(&Text::new(format!("tasks: {}", truncate(&d.tasks.join(", "), 36)), (8, lh as i32 - 40), st))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed-width "font": each character is `size / 2` pixels wide.
    fn mono(t: &str, size: u32) -> u32 {
        t.chars().count() as u32 * size / 2
    }

    #[test]
    fn a_title_that_fits_stays_on_one_line_at_its_size() {
        assert_eq!(fit_title("short title", 19, 500, &mut mono), (19, vec!["short title".to_string()]));
        // Slightly too wide: the font shrinks a little instead of wrapping.
        let (s, lines) = fit_title(&"x".repeat(55), 19, 500, &mut mono);
        assert_eq!((s, lines.len()), (18, 1));
    }

    #[test]
    fn a_long_title_wraps_and_every_line_fits() {
        let title = "betas-blobs-two-layer: training loss on blobs-two-layer (best beta1 × beta2 per optimizer; median, min–max over seeds)";
        for width in [300, 500, 700] {
            let (s, lines) = fit_title(title, 19, width, &mut mono);
            assert!(lines.len() >= 2 || mono(title, s) <= width, "{width}: {lines:?}");
            for l in &lines {
                assert!(mono(l, s) <= width, "{width}: {l:?} at {s}px");
            }
            assert!(s >= MIN_TITLE_PX);
            if !lines.iter().any(|l| l.ends_with('…')) {
                assert_eq!(lines.join(" "), title, "{width}");
            }
        }
        // One word longer than the width is cut with an ellipsis, still within the width.
        let (s, lines) = fit_title(&"y".repeat(200), 19, 300, &mut mono);
        assert!(lines.iter().all(|l| mono(l, s) <= 300 && l.ends_with('…')), "{lines:?}");
    }

    #[test]
    fn the_upper_fence_cuts_only_far_outliers() {
        // log10 values of a bulk between 0.01 and 2.3, and one run at 2.7e13.
        let mut v: Vec<f64> = (0..20).map(|i| (0.01f64 + 0.1 * i as f64).log10()).collect();
        assert!(upper_fence(&v, true) > v.iter().copied().fold(f64::MIN, f64::max));
        v.push(2.7e13f64.log10());
        let fence = upper_fence(&v, true);
        // Well above the bulk (at least 3 decades above its upper quartile), below the outlier.
        assert!(fence < 13.0 && fence > 1.9f64.log10() + 2.5, "{fence}");
        assert_eq!(upper_fence(&[1.0, 1e9], true), f64::INFINITY);
        // Linear: a tight bulk keeps at least |q75| of room.
        let lin = [1.0, 1.0, 1.0, 1.0, 1.5, 1000.0];
        let f = upper_fence(&lin, false);
        assert!(f > 1.5 && f < 1000.0, "{f}");
    }
}
