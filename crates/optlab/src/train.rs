//! `optlab train`: one network trained with one optimizer (crate `optlab-nn`), its per-epoch log
//! lines, a CSV of the epochs and the loss curves (train and validation) as PNG and SVG.

use crate::error::{Error, Result};
use clap::Args;
use optlab_nn::{EpochReport, NetworkSettings, TrainConfig, TrainReport};
use optlab_optim::OptimConfig;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Task: blobs-neuron, blobs-two-layer, mnist-mlp, mnist-cnn, cifar-mlp, cifar-cnn,
    /// cifar-resnet18 or tinyimagenet-resnet18 (docs/networks.md).
    #[arg(long)]
    pub task: String,
    /// Optimizer name (see `optlab optimizers`).
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Hyperparameter KEY=VALUE (repeatable).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Schedule KEY=SCHEDULE, e.g. lr=cosine(t_max=300) or lr=step(step_size=2,gamma=0.5)@epoch (repeatable).
    #[arg(long = "schedule")]
    pub schedule: Vec<String>,
    #[arg(long, default_value_t = 5)]
    pub epochs: u32,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Validation fraction of the training set (when there is no separate test set); 0 trains on
    /// every sample and skips validation (also with a separate test set).
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// MNIST IDX directory, CIFAR-10 binary directory or Tiny ImageNet folder (default: the shipped
    /// 5,000-digit MNIST subset).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output directory for epochs.csv, loss.png and loss.svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub time_budget: Option<f64>,
    /// Early stopping: epochs without a better validation loss (the best weights are kept).
    #[arg(long)]
    pub patience: Option<u32>,
    /// MLP widths, e.g. 784-256-128-10 (mnist-mlp) or 3072-512-10 (cifar-mlp); the ResNet tasks:
    /// the four stage widths (default 64-128-256-512).
    #[arg(long)]
    pub widths: Option<String>,
    /// blobs-two-layer hidden units.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// blobs tasks: squared error of the sigmoid instead of binary cross-entropy.
    #[arg(long)]
    pub mse: bool,
    /// Hutchinson probe samples per step (optimizers that need the Hessian diagonal).
    #[arg(long, default_value_t = 1)]
    pub hutchinson_samples: u32,
    /// Hutchinson finite-difference step h.
    #[arg(long, default_value_t = 1e-3)]
    pub hutchinson_h: f64,
    /// Checkpoint directory: written after every epoch, resumed from when present.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Use only N training samples (a seeded random subset).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Shuffle the training set every epoch (`--shuffle false`: batches in data order).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub shuffle: bool,
    /// Dropout probability of every dropout layer (mnist-cnn, cifar-cnn; 0 turns dropout off).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Seeded augmentation of the colour image tasks: random crop (padding 4) and horizontal flip.
    #[arg(long)]
    pub augment: bool,
    /// Initial weights: a safetensors file written by torch
    /// (`safetensors.torch.save_file(model.state_dict(), FILE)`; docs/networks.md).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Clip gradients by global norm before every step (torch's clip_grad_norm_; > 0).
    #[arg(long, allow_hyphen_values = true)]
    pub clip_norm: Option<f64>,
    /// The validation metric of --patience and of the best epoch: loss or acc.
    #[arg(long, default_value = "loss")]
    pub early_stop_on: String,
    /// Per-epoch log lines: `optlab` (`epoch 3: train …, val loss …, accuracy …`) or `study`
    /// (the study documents' `Validation set: Average loss: …, Accuracy: …/… (…%)`).
    #[arg(long, default_value = "optlab", value_parser = ["optlab", "study"])]
    pub log_format: String,
    /// Clamp gradient elements to [-V, V] before every step (torch's clip_grad_value_; > 0).
    #[arg(long, allow_hyphen_values = true)]
    pub clip_value: Option<f64>,
}

impl TrainArgs {
    pub fn to_config(&self) -> Result<TrainConfig> {
        crate::cli::check_repeated_keys("--set", &self.set)?;
        crate::cli::check_repeated_keys("--schedule", &self.schedule)?;
        let mut opt = OptimConfig::new(&self.optimizer);
        for kv in &self.set {
            opt = opt.set_assignment(kv).map_err(|e| Error::Usage(format!("--set `{kv}`: {e}")))?;
        }
        for s in &self.schedule {
            opt = opt.schedule_assignment(s).map_err(|e| Error::Usage(format!("--schedule `{s}`: {e}")))?;
        }
        opt.clip_norm = self.clip_norm;
        opt.clip_value = self.clip_value;
        opt.check_clipping().map_err(|e| Error::Usage(format!("--clip-norm/--clip-value: {e}")))?;
        let widths = match &self.widths {
            None => None,
            Some(w) => Some(
                w.split('-').map(|p| p.trim().parse::<usize>()).collect::<std::result::Result<Vec<_>, _>>().map_err(
                    |_| Error::Usage(format!("--widths `{w}`: expected numbers joined by `-`, e.g. 784-256-10")),
                )?,
            ),
        };
        if let Some(t) = self.time_budget {
            if !(t.is_finite() && t > 0.0) {
                return Err(Error::Usage(format!("--time-budget {t}: expected a positive number of seconds")));
            }
        }
        let net = NetworkSettings {
            epochs: self.epochs,
            batch_size: self.batch_size,
            max_steps: self.max_steps,
            val_fraction: self.val_fraction,
            data: self.data.clone(),
            widths,
            hidden: self.hidden,
            patience: self.patience,
            time_budget_s: self.time_budget,
            hutchinson_samples: self.hutchinson_samples,
            hutchinson_h: self.hutchinson_h,
            mse: self.mse,
            train_limit: self.train_limit,
            init: self.init.clone(),
            shuffle: self.shuffle,
            dropout: self.dropout,
            augment: self.augment,
            early_stop_on: self.early_stop_on.parse().map_err(|e| Error::Usage(format!("--early-stop-on {e}")))?,
        };
        Ok(TrainConfig {
            seed: self.seed,
            checkpoint: self.checkpoint.clone(),
            progress: !self.quiet,
            ..TrainConfig::with(&self.task, opt, net)
        })
    }
}

/// The per-epoch log line in the format `--log-format` names (`optlab` or `study`).
pub fn epoch_line(e: &EpochReport, format: &str) -> Result<String> {
    match format {
        "optlab" => Ok(e.to_string()),
        "study" => Ok(e.study_line()),
        other => Err(Error::Usage(format!("--log-format `{other}`: expected optlab or study"))),
    }
}

/// Runs `optlab train`: log lines on stdout, files in `--out`.
pub fn cli_run(args: &TrainArgs) -> Result<()> {
    let cfg = args.to_config()?;
    let format = args.log_format.as_str();
    let report = optlab_nn::train(&cfg, &mut |e| {
        if !cfg.progress {
            println!("{}", epoch_line(e, format).unwrap_or_default());
        }
    })?;
    if cfg.progress {
        // The bar printed the lines on stderr; stdout gets them too, for pipes and logs.
        for e in &report.epochs {
            println!("{}", epoch_line(e, format)?);
        }
    }
    println!(
        "{}: {} parameters, {}: {} epochs, {} steps, stopped: {}, best epoch {}, {:.1} s",
        report.task,
        report.param_count,
        report.optimizer,
        report.epochs.len(),
        report.steps,
        report.stopped,
        report.best_epoch.map_or("-".to_string(), |e| e.to_string()),
        report.wall_s
    );
    if let Some(dir) = &args.out {
        let files = write_outputs(&report, dir)?;
        for f in files {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

/// Writes `epochs.csv`, `loss.png` and `loss.svg` into `dir` (each atomically).
pub fn write_outputs(report: &TrainReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let csv = dir.join("epochs.csv");
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
    let tmp = dir.join(".epochs.csv.tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &csv).map_err(io(&csv))?;
    let title = format!("{} — {}", report.task, report.optimizer);
    let mut out = vec![csv];
    for ext in ["png", "svg"] {
        let path = dir.join(format!("loss.{ext}"));
        plot_losses(&report.epochs, &title, &path)?;
        out.push(path);
    }
    Ok(out)
}

/// Train and validation loss per epoch (log y when the losses span more than a decade), as PNG
/// or SVG by the file's extension; written to a temporary name and renamed.
pub fn plot_losses(epochs: &[EpochReport], title: &str, path: &Path) -> Result<()> {
    optlab_report::style::register_fonts();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let tmp =
        path.with_file_name(format!(".{}.tmp.{ext}", path.file_name().and_then(|f| f.to_str()).unwrap_or("plot")));
    let size = (900, 560);
    let r = match ext {
        "png" => draw(BitMapBackend::new(&tmp, size).into_drawing_area(), epochs, title),
        "svg" => draw(SVGBackend::new(&tmp, size).into_drawing_area(), epochs, title),
        _ => return Err(Error::Usage(format!("plot `{}`: the extension must be png or svg", path.display()))),
    };
    r.map_err(|e| Error::Usage(format!("plot `{}`: {e}", path.display())))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The loss range of the plot: that of the finite positive losses, its top stopped at the
/// report's far-out fence (`optlab_report::plots::upper_fence` of their log10s), so that one
/// blown-up epoch (a run that diverged) does not flatten the rest.
fn y_limits(epochs: &[EpochReport]) -> (f64, f64) {
    let finite: Vec<f64> =
        epochs.iter().flat_map(|e| [e.train_loss, e.val_loss]).filter(|v| v.is_finite() && *v > 0.0).collect();
    if finite.is_empty() {
        return (0.1, 1.0);
    }
    let (lo, hi) = finite.iter().fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    let logs: Vec<f64> = finite.iter().map(|v| v.log10()).collect();
    (lo, hi.min(10f64.powf(optlab_report::plots::upper_fence(&logs, true))).max(lo))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    epochs: &[EpochReport],
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    const FAMILY: &str = "sans-serif";
    root.fill(&WHITE)?;
    let (lo, hi) = y_limits(epochs);
    let last = epochs.last().map_or(1, |e| e.epoch.max(1));
    let first = epochs.first().map_or(1, |e| e.epoch);
    let x_range = (first as f64 - 0.2)..(last as f64 + 0.2);
    // A loss above the range (a diverged last epoch) is drawn at its top edge.
    let train_pts: Vec<(f64, f64)> =
        epochs.iter().filter(|e| e.train_loss.is_finite()).map(|e| (e.epoch as f64, e.train_loss.min(hi))).collect();
    let val_pts: Vec<(f64, f64)> =
        epochs.iter().filter(|e| e.val_loss.is_finite()).map(|e| (e.epoch as f64, e.val_loss.min(hi))).collect();
    let train_color = RGBColor(31, 119, 180);
    let val_color = RGBColor(255, 127, 14);
    let n_epochs = epochs.len().max(2);
    let mut builder = ChartBuilder::on(&root);
    builder.caption(title, (FAMILY, 24)).margin(16).x_label_area_size(48).y_label_area_size(72);
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("loss")
                .label_style((FAMILY, 15))
                .axis_desc_style((FAMILY, 17))
                .x_labels(n_epochs.min(12))
                .x_label_formatter(&|x| if x.fract() == 0.0 { format!("{x:.0}") } else { String::new() })
                .draw()?;
            chart
                .draw_series(LineSeries::new(train_pts.clone(), train_color.stroke_width(3)))?
                .label("train loss")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], train_color.stroke_width(3)));
            chart.draw_series(train_pts.iter().map(|&p| Circle::new(p, 4, train_color.filled())))?;
            // Without validation (--val-fraction 0) there is no validation curve nor legend entry.
            if !val_pts.is_empty() {
                chart
                    .draw_series(LineSeries::new(val_pts.clone(), val_color.stroke_width(3)))?
                    .label("validation loss")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], val_color.stroke_width(3)));
                chart.draw_series(val_pts.iter().map(|&p| Circle::new(p, 4, val_color.filled())))?;
            }
            chart
                .configure_series_labels()
                .label_font((FAMILY, 16))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }};
    }
    if hi / lo > 10.0 {
        finish!(builder.build_cartesian_2d(x_range, (lo * 0.8..hi * 1.25).log_scale())?);
    } else {
        let pad = (hi - lo).max(hi * 0.05) * 0.1;
        finish!(builder.build_cartesian_2d(x_range, (lo - pad).max(0.0)..hi + pad)?);
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

    #[test]
    fn plots_are_written_for_both_scales() {
        let dir = tempfile::tempdir().unwrap();
        for (name, eps) in [
            ("lin.png", vec![report(1, 0.9, 0.8), report(2, 0.6, 0.7), report(3, 0.5, 0.65)]),
            ("log.svg", vec![report(1, 2.3, 1.0), report(2, 0.1, 0.2), report(3, 0.01, 0.15)]),
        ] {
            let p = dir.path().join(name);
            plot_losses(&eps, "test", &p).unwrap();
            assert!(std::fs::metadata(&p).unwrap().len() > 1000, "{name}");
        }
        let err = plot_losses(&[report(1, 1.0, 1.0)], "t", &dir.path().join("x.jpg")).unwrap_err().to_string();
        assert!(err.contains("x.jpg"), "{err}");
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_blown_up_epoch_does_not_set_the_loss_range() {
        let mut eps: Vec<EpochReport> = (1..=5).map(|e| report(e, 1.0 / e as f64, 1.2 / e as f64)).collect();
        assert_eq!(y_limits(&eps), (0.2, 1.2));
        eps.push(EpochReport { train_loss: 2.7e13, val_loss: f64::NAN, ..report(6, 0.0, 0.0) });
        let (lo, hi) = y_limits(&eps);
        assert_eq!(lo, 0.2);
        assert!(hi < 1e4 && hi > 1.2, "{hi}");
        let dir = tempfile::tempdir().unwrap();
        plot_losses(&eps, "diverged", &dir.path().join("d.png")).unwrap();
    }

    #[test]
    fn bad_arguments_are_named() {
        let args = TrainArgs {
            task: "mnist-mlp".into(),
            optimizer: "adam".into(),
            set: vec!["lr".into()],
            schedule: vec![],
            epochs: 1,
            max_steps: None,
            batch_size: 64,
            seed: 0,
            val_fraction: 0.2,
            data: None,
            out: None,
            time_budget: None,
            patience: None,
            widths: None,
            hidden: None,
            mse: false,
            hutchinson_samples: 1,
            hutchinson_h: 1e-3,
            checkpoint: None,
            train_limit: None,
            shuffle: true,
            dropout: None,
            augment: false,
            init: None,
            quiet: true,
            clip_norm: None,
            clip_value: None,
            early_stop_on: "loss".into(),
            log_format: "optlab".into(),
        };
        assert!(args.to_config().unwrap_err().to_string().contains("--set `lr`"));
        let a = TrainArgs { set: vec![], widths: Some("784-x-10".into()), ..args.clone() };
        assert!(a.to_config().unwrap_err().to_string().contains("784-x-10"));
        let a = TrainArgs { set: vec![], time_budget: Some(-1.0), ..args.clone() };
        assert!(a.to_config().unwrap_err().to_string().contains("--time-budget"));
        let a = TrainArgs { set: vec![], clip_norm: Some(-1.0), ..args.clone() };
        let e = a.to_config().unwrap_err().to_string();
        assert!(e.contains("--clip-norm") && e.contains("clip_norm"), "{e}");
        let a = TrainArgs { set: vec![], clip_value: Some(0.0), ..args.clone() };
        assert!(a.to_config().unwrap_err().to_string().contains("clip_value"));
        let a = TrainArgs { set: vec![], early_stop_on: "f1".into(), ..args.clone() };
        let e = a.to_config().unwrap_err().to_string();
        assert!(e.contains("--early-stop-on") && e.contains("f1"), "{e}");
        let a = TrainArgs { set: vec![], clip_norm: Some(1.0), clip_value: Some(0.5), ..args };
        let c = a.to_config().unwrap();
        assert_eq!((c.optimizer.clip_norm, c.optimizer.clip_value), (Some(1.0), Some(0.5)));
    }
}
