//! The files of `optlab train --out`: `epochs.csv`, `steps.csv`, the loss plot (against steps or
//! epochs, optionally smoothed), the validation-accuracy plot, and with `grad_histograms`
//! `histograms.csv` and the heatmaps `histograms.png`/`.svg` ([`crate::histograms`]).

use crate::ReportError;
use optlab_lab::record::PlotX;
use optlab_nn::{EpochReport, StepReport, TrainReport};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, ReportError>;

/// How `loss.png`/`.svg` are drawn: against steps or epochs, smoothed or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotChoice {
    pub x: PlotX,
    /// TensorBoard's EMA weight for the training loss (0: none).
    pub smooth: f64,
}

impl Default for PlotChoice {
    fn default() -> Self {
        PlotChoice { x: PlotX::Steps, smooth: 0.0 }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::io(path, source)
}

/// The header of `steps.csv`: one row per logged step (see [`optlab_nn::StepReport`]); `lr`
/// and `grad_norm` are empty where there is none.
pub const STEPS_CSV_HEADER: &str = "step,epoch,loss,lr,grad_norm";

fn write_text(dir: &Path, name: &str, text: String) -> Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// Writes `epochs.csv`, `steps.csv`, `loss.png`/`.svg` and (when validated) `accuracy.png`/`.svg`
/// into `dir` (each atomically).
pub fn write_outputs(report: &TrainReport, dir: &Path, choice: PlotChoice) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut text = String::from("epoch,step,train_loss,val_loss,correct,total,accuracy,time_s\n");
    for e in &report.epochs {
        // Without validation (--val-fraction 0) the validation columns are empty.
        let (val, correct, total, acc) = if e.validated() {
            (e.val_loss.to_string(), e.correct.to_string(), e.total.to_string(), e.accuracy().to_string())
        } else {
            Default::default()
        };
        text.push_str(&format!("{},{},{},{val},{correct},{total},{acc},{}\n", e.epoch, e.step, e.train_loss, e.time_s));
    }
    let mut out = vec![write_text(dir, "epochs.csv", text)?];
    let mut text = format!("{STEPS_CSV_HEADER}\n");
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for p in &report.step_log {
        text.push_str(&format!("{},{},{},{},{}\n", p.step, p.epoch, p.loss, opt(p.lr), opt(p.grad_norm)));
    }
    out.push(write_text(dir, "steps.csv", text)?);
    let title = format!("{} — {}", report.task, report.optimizer);
    for ext in ["png", "svg"] {
        let path = dir.join(format!("loss.{ext}"));
        plot_losses(&report.epochs, &report.step_log, choice, &title, &path)?;
        out.push(path);
    }
    // With `--grad-histograms`: histograms.csv and the heatmaps of |g| and |update|.
    if !report.histograms.is_empty() {
        out.push(write_text(dir, "histograms.csv", crate::histograms::csv(&report.histograms))?);
        let runs = vec![(report.optimizer.clone(), &report.histograms[..])];
        for ext in ["png", "svg"] {
            let path = dir.join(format!("histograms.{ext}"));
            crate::histograms::plot(&format!("{title}: |g| and |update| per logged step"), &runs, &path)?;
            out.push(path);
        }
    }
    if report.epochs.iter().any(|e| e.validated() && e.val_loss.is_finite()) {
        for ext in ["png", "svg"] {
            let path = dir.join(format!("accuracy.{ext}"));
            plot_accuracy(&report.epochs, &title, &path)?;
            out.push(path);
        }
    }
    Ok(out)
}

/// One line of a plot: points, colour, label, whether to mark each point, and how strong.
struct Line {
    pts: Vec<(f64, f64)>,
    color: RGBColor,
    label: Option<String>,
    marks: bool,
    faint: bool,
}

/// What a plot of `optlab train` shows.
struct Chart {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    /// x labels are whole epochs.
    epochs: bool,
    /// A log y axis is allowed (losses; not the accuracy).
    may_log: bool,
    lines: Vec<Line>,
}

/// The lines of `loss.png`: the training loss against steps (the logged batch losses; without
/// any, the epochs' means at their last step) or epochs (the epochs' means), smoothed with
/// TensorBoard's EMA when `choice.smooth` > 0 (the raw curve drawn faintly behind), and the
/// validation loss at each epoch's end.
fn loss_chart(epochs: &[EpochReport], steps: &[StepReport], choice: PlotChoice, title: &str) -> Chart {
    let train_color = RGBColor(31, 119, 180);
    let val_color = RGBColor(255, 127, 14);
    let by_steps = choice.x == PlotX::Steps;
    let x_of = |e: &EpochReport| if by_steps { e.step as f64 } else { e.epoch as f64 };
    let (mut train, train_marks): (Vec<(f64, f64)>, bool) = if by_steps && !steps.is_empty() {
        (steps.iter().filter(|p| p.loss.is_finite()).map(|p| (p.step as f64, p.loss)).collect(), false)
    } else {
        (epochs.iter().filter(|e| e.train_loss.is_finite()).map(|e| (x_of(e), e.train_loss)).collect(), true)
    };
    train.sort_by(|a, b| a.0.total_cmp(&b.0));
    let val: Vec<(f64, f64)> =
        epochs.iter().filter(|e| e.val_loss.is_finite()).map(|e| (x_of(e), e.val_loss)).collect();
    let mut lines = Vec::new();
    let what = if train_marks { "train loss (epoch mean)" } else { "train loss (batch)" };
    if choice.smooth > 0.0 {
        let ys: Vec<f64> = train.iter().map(|p| p.1).collect();
        let smoothed: Vec<(f64, f64)> =
            train.iter().zip(crate::stats::ema_smooth(&ys, choice.smooth)).map(|(p, y)| (p.0, y)).collect();
        lines.push(Line { pts: train, color: train_color, label: None, marks: false, faint: true });
        lines.push(Line {
            pts: smoothed,
            color: train_color,
            label: Some(format!("{what}, EMA-smoothed {}", crate::format::num(choice.smooth))),
            marks: train_marks,
            faint: false,
        });
    } else {
        lines.push(Line { pts: train, color: train_color, label: Some(what.into()), marks: train_marks, faint: false });
    }
    // Without validation (--val-fraction 0) there is no validation curve nor legend entry.
    if !val.is_empty() {
        lines.push(Line {
            pts: val,
            color: val_color,
            label: Some("validation loss (epoch end)".into()),
            marks: true,
            faint: false,
        });
    }
    Chart {
        title: title.into(),
        x_desc: if by_steps { "step" } else { "epoch" },
        y_desc: "loss",
        epochs: !by_steps,
        may_log: true,
        lines,
    }
}

/// Train and validation loss (see [`loss_chart`]; log y when the losses span more than a
/// decade), as PNG or SVG by the file's extension; written to a temporary name and renamed.
pub fn plot_losses(
    epochs: &[EpochReport],
    steps: &[StepReport],
    choice: PlotChoice,
    title: &str,
    path: &Path,
) -> Result<()> {
    plot(&loss_chart(epochs, steps, choice, title), path)
}

/// Validation accuracy (percent) against epochs, as PNG or SVG by the file's extension.
pub fn plot_accuracy(epochs: &[EpochReport], title: &str, path: &Path) -> Result<()> {
    let pts: Vec<(f64, f64)> = epochs
        .iter()
        .filter(|e| e.validated() && e.val_loss.is_finite())
        .map(|e| (e.epoch as f64, 100.0 * e.accuracy()))
        .collect();
    let chart = Chart {
        title: title.into(),
        x_desc: "epoch",
        y_desc: "validation accuracy (%)",
        epochs: true,
        may_log: false,
        lines: vec![Line {
            pts,
            color: RGBColor(44, 160, 44),
            label: Some("validation accuracy".into()),
            marks: true,
            faint: false,
        }],
    };
    plot(&chart, path)
}

fn plot(chart: &Chart, path: &Path) -> Result<()> {
    crate::style::register_fonts();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let tmp =
        path.with_file_name(format!(".{}.tmp.{ext}", path.file_name().and_then(|f| f.to_str()).unwrap_or("plot")));
    let size = (900, 560);
    let r = match ext {
        "png" => draw(BitMapBackend::new(&tmp, size).into_drawing_area(), chart),
        "svg" => draw(SVGBackend::new(&tmp, size).into_drawing_area(), chart),
        _ => return Err(ReportError::Plot { path: path.into(), message: "the extension must be png or svg".into() }),
    };
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReportError::Plot { path: path.into(), message: e.to_string() });
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The y range of a loss plot: that of the finite positive values, its top stopped at the
/// report's far-out fence (`crate::plots::upper_fence` of their log10s), so that one
/// blown-up epoch (a run that diverged) does not flatten the rest.
fn y_limits(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let finite: Vec<f64> = values.filter(|v| v.is_finite() && *v > 0.0).collect();
    if finite.is_empty() {
        return (0.1, 1.0);
    }
    let (lo, hi) = finite.iter().fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    let logs: Vec<f64> = finite.iter().map(|v| v.log10()).collect();
    (lo, hi.min(10f64.powf(crate::plots::upper_fence(&logs, true))).max(lo))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, c: &Chart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    const FAMILY: &str = "sans-serif";
    root.fill(&WHITE)?;
    let all = || c.lines.iter().flat_map(|l| l.pts.iter());
    let (lo, hi) = if c.may_log {
        y_limits(all().map(|p| p.1))
    } else {
        let (l, h) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.1), h.max(p.1)));
        if l.is_finite() {
            (l, h)
        } else {
            (0.0, 1.0)
        }
    };
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.0), h.max(p.0)));
    let (x0, x1) = if x0.is_finite() { (x0, x1.max(x0 + 1.0)) } else { (0.0, 1.0) };
    let x_pad = if c.epochs { 0.2 } else { (x1 - x0) * 0.02 };
    let x_range = (x0 - x_pad)..(x1 + x_pad);
    // A value above the range (a diverged last epoch) is drawn at its top edge.
    let lines: Vec<(Vec<(f64, f64)>, &Line)> =
        c.lines.iter().map(|l| (l.pts.iter().map(|&(x, y)| (x, y.min(hi))).collect(), l)).collect();
    let n_epochs = (x1 - x0 + 1.0).max(2.0) as usize;
    let mut builder = ChartBuilder::on(&root);
    builder.caption(&c.title, (FAMILY, 24)).margin(16).x_label_area_size(48).y_label_area_size(72);
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(c.x_desc)
                .y_desc(c.y_desc)
                .label_style((FAMILY, 15))
                .axis_desc_style((FAMILY, 17))
                .light_line_style(RGBColor(238, 238, 238))
                .max_light_lines(1)
                .y_label_formatter(&|y| crate::format::num(*y));
            if c.epochs {
                mesh.x_labels(n_epochs.min(12)).x_label_formatter(&|x| {
                    if x.fract() == 0.0 {
                        format!("{x:.0}")
                    } else {
                        String::new()
                    }
                });
            } else {
                mesh.x_label_formatter(&|x| crate::format::num(*x));
            }
            mesh.draw()?;
            for (pts, l) in &lines {
                let color = if l.faint { l.color.mix(0.3) } else { l.color.mix(1.0) };
                let width = if l.faint { 1 } else { 3 };
                let drawn = chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))?;
                if let Some(label) = &l.label {
                    drawn
                        .label(label.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
                }
                if l.marks {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
                }
            }
            chart
                .configure_series_labels()
                .label_font((FAMILY, 16))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(if c.may_log { SeriesLabelPosition::UpperRight } else { SeriesLabelPosition::LowerRight })
                .draw()?;
        }};
    }
    if c.may_log && hi / lo > 10.0 {
        finish!(builder.build_cartesian_2d(x_range, (lo * 0.8..hi * 1.25).log_scale())?);
    } else {
        let pad = (hi - lo).max(hi.abs() * 0.05).max(1e-12) * 0.1;
        let bottom = if c.may_log { (lo - pad).max(0.0) } else { lo - pad };
        finish!(builder.build_cartesian_2d(x_range, bottom..hi + pad)?);
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(epoch: u32, t: f64, v: f64) -> EpochReport {
        EpochReport { epoch, step: epoch as u64 * 10, train_loss: t, val_loss: v, correct: 90, total: 100, time_s: 0.5 }
    }

    fn steps(n: u64, every: u64) -> Vec<StepReport> {
        (0..n)
            .step_by(every as usize)
            .map(|s| StepReport {
                step: s,
                epoch: 1 + (s / 10) as u32,
                loss: 2.0 / (1.0 + s as f64) + if s % 2 == 0 { 0.1 } else { 0.0 },
                lr: Some(0.01),
                grad_norm: Some(1.0),
            })
            .collect()
    }

    #[test]
    fn plots_are_written_for_both_scales() {
        let dir = tempfile::tempdir().unwrap();
        let steps = steps(30, 1);
        let choices = [PlotChoice::default(), PlotChoice { x: PlotX::Epochs, smooth: 0.0 }];
        for (name, eps, choice) in [
            ("lin.png", vec![report(1, 0.9, 0.8), report(2, 0.6, 0.7), report(3, 0.5, 0.65)], choices[1]),
            ("log.svg", vec![report(1, 2.3, 1.0), report(2, 0.1, 0.2), report(3, 0.01, 0.15)], choices[1]),
            ("steps.png", vec![report(1, 0.9, 0.8), report(2, 0.6, 0.7), report(3, 0.5, 0.65)], choices[0]),
            ("smooth.svg", vec![report(1, 0.9, 0.8), report(2, 0.6, 0.7)], PlotChoice { smooth: 0.9, ..choices[0] }),
        ] {
            let p = dir.path().join(name);
            plot_losses(&eps, &steps, choice, "test", &p).unwrap();
            assert!(std::fs::metadata(&p).unwrap().len() > 1000, "{name}");
        }
        let p = dir.path().join("acc.png");
        plot_accuracy(&[report(1, 0.9, 0.8), report(2, 0.6, 0.7)], "test", &p).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 1000);
        let err = plot_losses(&[report(1, 1.0, 1.0)], &[], choices[0], "t", &dir.path().join("x.jpg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.jpg"), "{err}");
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 5, "{names:?}");
    }

    #[test]
    fn the_loss_chart_follows_the_choice_of_axis_and_smoothing() {
        let eps = vec![report(1, 0.9, 0.8), report(2, 0.6, 0.7)];
        let st = steps(20, 5);
        // Against steps: the logged batch losses, and the validation loss at each epoch's last step.
        let c = loss_chart(&eps, &st, PlotChoice::default(), "t");
        assert_eq!((c.x_desc, c.lines.len()), ("step", 2));
        assert_eq!(c.lines[0].pts, st.iter().map(|p| (p.step as f64, p.loss)).collect::<Vec<_>>());
        assert_eq!(c.lines[1].pts, vec![(10.0, 0.8), (20.0, 0.7)]);
        // Against epochs: the epochs' means.
        let c = loss_chart(&eps, &st, PlotChoice { x: PlotX::Epochs, smooth: 0.0 }, "t");
        assert_eq!(c.x_desc, "epoch");
        assert_eq!(c.lines[0].pts, vec![(1.0, 0.9), (2.0, 0.6)]);
        assert_eq!(c.lines[1].pts, vec![(1.0, 0.8), (2.0, 0.7)]);
        // Smoothed: the raw curve faint and unlabelled, the EMA on top.
        let c = loss_chart(&eps, &st, PlotChoice { x: PlotX::Steps, smooth: 0.9 }, "t");
        assert_eq!(c.lines.len(), 3);
        assert!(c.lines[0].faint && c.lines[0].label.is_none());
        let ys: Vec<f64> = st.iter().map(|p| p.loss).collect();
        let want = crate::stats::ema_smooth(&ys, 0.9);
        assert_eq!(c.lines[1].pts.iter().map(|p| p.1).collect::<Vec<_>>(), want);
        assert!(c.lines[1].label.as_deref().unwrap().contains("EMA-smoothed 0.9"));
    }

    #[test]
    fn a_blown_up_epoch_does_not_set_the_loss_range() {
        let mut eps: Vec<EpochReport> = (1..=5).map(|e| report(e, 1.0 / e as f64, 1.2 / e as f64)).collect();
        let values = |eps: &[EpochReport]| eps.iter().flat_map(|e| [e.train_loss, e.val_loss]).collect::<Vec<_>>();
        assert_eq!(y_limits(values(&eps).into_iter()), (0.2, 1.2));
        eps.push(EpochReport { train_loss: 2.7e13, val_loss: f64::NAN, ..report(6, 0.0, 0.0) });
        let (lo, hi) = y_limits(values(&eps).into_iter());
        assert_eq!(lo, 0.2);
        assert!(hi < 1e4 && hi > 1.2, "{hi}");
        let dir = tempfile::tempdir().unwrap();
        let choice = PlotChoice { x: PlotX::Epochs, smooth: 0.0 };
        plot_losses(&eps, &[], choice, "diverged", &dir.path().join("d.png")).unwrap();
    }
}
