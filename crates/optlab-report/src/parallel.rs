//! The parallel-coordinates plot of a task's configurations: one vertical axis per hyperparameter
//! that varies (see [`crate::verdict::varying_keys`]) and a last axis for the median final
//! training loss; one line per configuration, coloured by optimizer. A numeric axis is
//! logarithmic when its values are positive and span a factor of 20 or more; text values are
//! evenly spaced categories. A configuration whose runs all diverged is drawn up to a `diverged`
//! mark above the loss axis; a configuration without a key (another optimizer's hyperparameter)
//! skips that axis.

use crate::format::{cmp_values, log_tick, num};
use crate::group::Comparison;
use crate::landscape::DrawResult;
use crate::scores::median;
use crate::style::{series_color, FAMILY};
use crate::verdict::{hyper_values, varying_keys};
use optlab_lab::record::Status;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How an axis maps values to heights in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub enum Scale {
    Linear {
        lo: f64,
        hi: f64,
    },
    /// Over `log10` of the values.
    Log {
        lo: f64,
        hi: f64,
    },
    Categories(Vec<String>),
}

impl Scale {
    fn of(values: &[String]) -> Scale {
        let nums: Option<Vec<f64>> =
            values.iter().map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite())).collect();
        match nums {
            Some(n) if !n.is_empty() => Scale::numeric(&n),
            _ => {
                let mut c: Vec<String> = values.to_vec();
                c.sort_by(|a, b| cmp_values(a, b));
                c.dedup();
                Scale::Categories(c)
            }
        }
    }

    fn numeric(n: &[f64]) -> Scale {
        let lo = n.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = n.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo > 0.0 && hi / lo >= 20.0 {
            Scale::Log { lo: lo.log10(), hi: hi.log10() }
        } else if hi > lo {
            Scale::Linear { lo, hi }
        } else {
            let p = lo.abs().max(1.0) * 0.1;
            Scale::Linear { lo: lo - p, hi: hi + p }
        }
    }

    /// Height in [0, 1] of a value; None when it is not on the axis.
    pub fn pos(&self, v: &str) -> Option<f64> {
        match self {
            Scale::Categories(c) => {
                let i = c.iter().position(|x| x == v)?;
                Some(if c.len() == 1 { 0.5 } else { i as f64 / (c.len() - 1) as f64 })
            }
            _ => self.pos_num(v.trim().parse().ok()?),
        }
    }

    fn pos_num(&self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return None;
        }
        match *self {
            Scale::Linear { lo, hi } => Some((x - lo) / (hi - lo)),
            Scale::Log { lo, hi } if x > 0.0 => Some(if hi > lo { (x.log10() - lo) / (hi - lo) } else { 0.5 }),
            _ => None,
        }
    }

    /// Tick labels and their heights.
    fn ticks(&self) -> Vec<(f64, String)> {
        match self {
            Scale::Categories(c) => c.iter().filter_map(|v| Some((self.pos(v)?, v.clone()))).collect(),
            Scale::Linear { lo, hi } => {
                (0..5).map(|i| (i as f64 / 4.0, num(lo + (hi - lo) * i as f64 / 4.0))).collect()
            }
            Scale::Log { lo, hi } => {
                if hi - lo < 1e-12 {
                    return vec![(0.5, log_tick(*lo))];
                }
                let decades: Vec<f64> = ((lo.ceil() as i32)..=(hi.floor() as i32)).map(|k| k as f64).collect();
                let mut t: Vec<f64> = if decades.len() >= 2 { decades } else { vec![*lo, *hi] };
                if t.len() > 8 {
                    let step = t.len().div_ceil(8);
                    t = t.into_iter().step_by(step).collect();
                }
                t.into_iter().map(|v| ((v - lo) / (hi - lo), log_tick(v))).collect()
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub name: String,
    pub scale: Scale,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    /// Height per axis (None: the configuration has no value there). Above 1: diverged.
    pub pos: Vec<Option<f64>>,
    pub diverged: bool,
}

/// A parallel-coordinates plot, as plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct Parallel {
    pub title: String,
    pub axes: Vec<Axis>,
    pub lines: Vec<Line>,
    /// The legend: optimizers and their colours.
    pub families: Vec<(String, RGBColor)>,
}

/// The plot of a task, when some hyperparameter varies among at least two configurations.
pub fn parallel(cmp: &Comparison, task: &str) -> Option<Parallel> {
    let keys = varying_keys(cmp, task, None);
    let cfgs: Vec<_> = cmp.configs_of(task).filter(|c| c.runs.iter().any(|r| r.status != Status::Failed)).collect();
    if keys.is_empty() || cfgs.len() < 2 {
        return None;
    }
    let hv: Vec<_> = cfgs.iter().map(|c| hyper_values(c.runs[0])).collect();
    let losses: Vec<f64> = cfgs
        .iter()
        .map(|c| {
            let v: Vec<f64> = c
                .runs
                .iter()
                .filter(|r| r.status != Status::Failed)
                .map(|r| {
                    if r.status == Status::Ok && !r.summary.final_loss.is_nan() {
                        r.summary.final_loss
                    } else {
                        f64::INFINITY
                    }
                })
                .collect();
            median(&v)
        })
        .collect();
    let mut axes: Vec<Axis> = keys
        .iter()
        .map(|k| {
            let vals: Vec<String> = hv.iter().filter_map(|h| h.get(k).cloned()).collect();
            Axis { name: k.clone(), scale: Scale::of(&vals) }
        })
        .collect();
    let finite: Vec<f64> = losses.iter().copied().filter(|x| x.is_finite()).collect();
    let loss_scale = if finite.is_empty() {
        Scale::Linear { lo: 0.0, hi: 1.0 }
    } else {
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo > 0.0 && hi / lo >= 100.0 {
            Scale::Log { lo: lo.log10(), hi: hi.log10() }
        } else {
            Scale::numeric(&finite)
        }
    };
    axes.push(Axis { name: "final loss (median)".into(), scale: loss_scale });
    let n_fam = cmp.families.len();
    let lines = cfgs
        .iter()
        .zip(&hv)
        .zip(&losses)
        .map(|((c, h), &loss)| {
            let mut pos: Vec<Option<f64>> =
                keys.iter().zip(&axes).map(|(k, a)| h.get(k).and_then(|v| a.scale.pos(v))).collect();
            let diverged = !loss.is_finite();
            pos.push(if diverged { Some(1.12) } else { axes[axes.len() - 1].scale.pos_num(loss) });
            Line { label: c.label.clone(), color: series_color(cmp.family_index(&c.family), n_fam), pos, diverged }
        })
        .collect();
    Some(Parallel {
        title: format!("{}: configurations on {task} (parallel coordinates)", cmp.info.name),
        axes,
        lines,
        families: cmp.families.iter().enumerate().map(|(i, f)| (f.clone(), series_color(i, n_fam))).collect(),
    })
}

/// Draws the plot.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Parallel) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = root.dim_in_pixel();
    let title = TextStyle::from((FAMILY, 18).into_font()).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(d.title.clone(), (w as i32 / 2, 10), title))?;
    let legend_w = 300i32;
    let (left, right) = (80i32, w as i32 - legend_w - 60);
    let (top, bottom) = (90i32, h as i32 - 50);
    let n = d.axes.len() as i32;
    let x_of = |i: usize| if n <= 1 { (left + right) / 2 } else { left + (right - left - 40) * i as i32 / (n - 1) };
    let y_of = |p: f64| bottom - ((bottom - top) as f64 * p.clamp(-0.05, 1.15)).round() as i32;
    let grey = RGBColor(90, 90, 90);
    let tick = TextStyle::from((FAMILY, 12).into_font()).color(&grey).pos(Pos::new(HPos::Right, VPos::Center));
    let head = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (i, a) in d.axes.iter().enumerate() {
        let x = x_of(i);
        root.draw(&PathElement::new(vec![(x, y_of(0.0)), (x, y_of(1.0))], grey.stroke_width(2)))?;
        let name = match a.scale {
            Scale::Log { .. } => format!("{} (log)", a.name),
            _ => a.name.clone(),
        };
        root.draw(&Text::new(name, (x, top - 22), head.clone()))?;
        for (p, label) in a.scale.ticks() {
            let y = y_of(p);
            root.draw(&PathElement::new(vec![(x - 4, y), (x, y)], grey.stroke_width(1)))?;
            root.draw(&Text::new(label, (x - 7, y), tick.clone()))?;
        }
    }
    let last = d.axes.len().saturating_sub(1);
    if d.lines.iter().any(|l| l.diverged) {
        let st = TextStyle::from((FAMILY, 12).into_font())
            .color(&RGBColor(160, 20, 20))
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new("diverged", (x_of(last) + 8, y_of(1.12)), st))?;
    }
    for l in &d.lines {
        let pts: Vec<(i32, i32)> =
            l.pos.iter().enumerate().filter_map(|(i, p)| p.map(|p| (x_of(i), y_of(p)))).collect();
        let style = if l.diverged { l.color.mix(0.45).stroke_width(1) } else { l.color.mix(0.8).stroke_width(2) };
        root.draw(&PathElement::new(pts.clone(), style))?;
        for &(x, y) in &pts {
            root.draw(&Circle::new((x, y), 3, l.color.filled()))?;
        }
        if l.diverged {
            if let Some(&(x, y)) = pts.last() {
                root.draw(&Cross::new((x, y), 5, RGBColor(160, 20, 20).stroke_width(2)))?;
            }
        }
    }
    let lx = w as i32 - legend_w + 20;
    let st = TextStyle::from((FAMILY, 15).into_font()).color(&BLACK);
    root.draw(&Text::new("optimizer", (lx, top - 30), st))?;
    let st = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
    for (k, (f, c)) in d.families.iter().enumerate() {
        let y = top + 24 * k as i32;
        root.draw(&PathElement::new(vec![(lx, y + 8), (lx + 28, y + 8)], c.stroke_width(3)))?;
        let name: String =
            if f.chars().count() > 34 { f.chars().take(33).collect::<String>() + "…" } else { f.clone() };
        root.draw(&Text::new(name, (lx + 36, y), st.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_place_values() {
        let s = Scale::of(&["0.001".into(), "0.01".into(), "0.1".into()]);
        assert_eq!(s, Scale::Log { lo: -3.0, hi: -1.0 });
        assert!((s.pos("0.01").unwrap() - 0.5).abs() < 1e-12);
        let s = Scale::of(&["0.9".into(), "0.99".into()]);
        assert!(matches!(s, Scale::Linear { .. }));
        assert_eq!(s.pos("0.99"), Some(1.0));
        let s = Scale::of(&["cosine".into(), "constant".into(), "step".into()]);
        assert_eq!(s, Scale::Categories(vec!["constant".into(), "cosine".into(), "step".into()]));
        assert_eq!(s.pos("step"), Some(1.0));
        assert_eq!(s.pos("other"), None);
        let s = Scale::of(&["2".into(), "2".into()]);
        assert!((s.pos("2").unwrap() - 0.5).abs() < 1e-12);
    }
}
