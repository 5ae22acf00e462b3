//! `optlab train`: one network trained with one optimizer (crate `optlab-nn`), its per-epoch log
//! lines, CSVs of the epochs and of the logged steps, the loss curves (train and validation, against
//! steps or epochs, optionally smoothed) and the validation accuracy as PNG and SVG.

use crate::error::{Error, Result};
use clap::Args;
use optlab_lab::record::PlotX;
use optlab_nn::{EpochReport, NetworkSettings, TrainConfig};
use optlab_optim::OptimConfig;
use optlab_report::train_plots::{write_outputs, PlotChoice};
use std::path::PathBuf;

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
    /// Output directory for epochs.csv, steps.csv, loss.png/.svg and accuracy.png/.svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Log the batch loss, the learning rate and the gradient norm every N optimizer steps
    /// (default: max(1, ceil(T/100)) for a run of T steps, about 100 points).
    #[arg(long)]
    pub log_every: Option<u64>,
    /// The x axis of loss.png/.svg: steps (the logged batch losses) or epochs (the epochs' means).
    #[arg(long, default_value = "steps")]
    pub plot_x: String,
    /// Smooth the training loss of loss.png/.svg with TensorBoard's debiased EMA of this weight,
    /// in [0, 1) (0: none; TensorBoard's default is 0.6).
    #[arg(long, default_value_t = 0.0)]
    pub smooth: f64,
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
    /// Weight averaging (SWA/EMA): validation, the reported metrics and weights are the averaged
    /// weights, with BatchNorm statistics recomputed there.
    #[command(flatten)]
    pub average: crate::average_args::AverageArgs,
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
        opt.average = self.average.to_config()?;
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
        if self.log_every == Some(0) {
            return Err(Error::Usage(
                "--log-every 0: must be at least 1 (leave it out for about 100 points per run)".into(),
            ));
        }
        self.plot_choice()?;
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
            log_every: self.log_every,
        };
        Ok(TrainConfig {
            seed: self.seed,
            checkpoint: self.checkpoint.clone(),
            progress: !self.quiet,
            ..TrainConfig::with(&self.task, opt, net)
        })
    }
}

impl TrainArgs {
    /// `--plot-x` and `--smooth`, checked.
    pub fn plot_choice(&self) -> Result<PlotChoice> {
        let x = match self.plot_x.as_str() {
            "steps" => PlotX::Steps,
            "epochs" => PlotX::Epochs,
            other => return Err(Error::Usage(format!("--plot-x `{other}`: expected `steps` or `epochs`"))),
        };
        if !(self.smooth.is_finite() && (0.0..1.0).contains(&self.smooth)) {
            return Err(Error::Usage(format!(
                "--smooth {}: expected a weight in [0, 1) (0: no smoothing; TensorBoard's default is 0.6)",
                self.smooth
            )));
        }
        Ok(PlotChoice { x, smooth: self.smooth })
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
    let choice = args.plot_choice()?;
    let format = args.log_format.as_str();
    if !matches!(format, "optlab" | "study") {
        return Err(Error::Usage(format!("--log-format `{format}`: expected optlab or study")));
    }
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
        let files = write_outputs(&report, dir, choice)?;
        for f in files {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            log_every: None,
            plot_x: "steps".into(),
            smooth: 0.0,
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
            average: Default::default(),
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
        let a = TrainArgs { set: vec![], log_every: Some(0), ..args.clone() };
        assert!(a.to_config().unwrap_err().to_string().contains("--log-every 0"));
        let a = TrainArgs { set: vec![], plot_x: "time".into(), ..args.clone() };
        let e = a.to_config().unwrap_err().to_string();
        assert!(e.contains("--plot-x") && e.contains("time"), "{e}");
        for bad in [1.0, -0.1, f64::NAN] {
            let a = TrainArgs { set: vec![], smooth: bad, ..args.clone() };
            assert!(a.to_config().unwrap_err().to_string().contains("--smooth"), "{bad}");
        }
        let a = TrainArgs { set: vec![], log_every: Some(5), plot_x: "epochs".into(), smooth: 0.9, ..args.clone() };
        assert_eq!(a.to_config().unwrap().net.log_every, Some(5));
        assert_eq!(a.plot_choice().unwrap(), PlotChoice { x: PlotX::Epochs, smooth: 0.9 });
        let a = TrainArgs { set: vec![], clip_norm: Some(1.0), clip_value: Some(0.5), ..args };
        let c = a.to_config().unwrap();
        assert_eq!((c.optimizer.clip_norm, c.optimizer.clip_value), (Some(1.0), Some(0.5)));
    }
}
