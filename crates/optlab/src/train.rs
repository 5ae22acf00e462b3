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
    /// Parameter group PATTERNS:KEY=VALUE,... (repeatable; patterns separated by ';', `*` a
    /// wildcard; a tensor joins the first group that matches), e.g. for muon
    /// --group '*.bias:use_muon=false,lr=0.001,weight_decay=0'.
    #[arg(long = "group")]
    pub group: Vec<String>,
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
    /// 5,000-digit MNIST subset); for the blobs and MLP tasks also `csv:PATH`, a CSV table of
    /// features with the label column --label.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The label column of a `--data csv:PATH` table (class numbers 0, 1, ...).
    #[arg(long)]
    pub label: Option<String>,
    /// blobs tasks: samples of the generated two-Gaussians set (default 1000).
    #[arg(long)]
    pub blobs_samples: Option<usize>,
    /// blobs tasks: dimension of the two Gaussians (default 2).
    #[arg(long)]
    pub blobs_dim: Option<usize>,
    /// blobs tasks: distance between the two Gaussians' centres (default 3; unit variance).
    #[arg(long)]
    pub blobs_separation: Option<f64>,
    /// Output directory for epochs.csv, steps.csv, loss.png/.svg and accuracy.png/.svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Log the batch loss, the learning rate and the gradient norm every N optimizer steps
    /// (default: max(1, ceil(T/100)) for a run of T steps, about 100 points).
    #[arg(long)]
    pub log_every: Option<u64>,
    /// The run has diverged when a batch loss exceeds this multiple of the first batch loss
    /// (default 1000); a larger factor lets a run that jumps and then stalls go on.
    #[arg(long)]
    pub divergence_factor: Option<f64>,
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
    /// At every logged step, histograms of |g| and |update| on log-spaced bins: histograms.csv
    /// and histograms.png/.svg in --out.
    #[arg(long)]
    pub grad_histograms: bool,
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
        for g in &self.group {
            opt = opt.group(parse_group(g)?);
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
            divergence_factor: self.divergence_factor,
            label: self.label.clone(),
            blobs_samples: self.blobs_samples,
            blobs_dim: self.blobs_dim,
            blobs_separation: self.blobs_separation,
            grad_histograms: self.grad_histograms,
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
            group: vec![],
            epochs: 1,
            max_steps: None,
            batch_size: 64,
            seed: 0,
            val_fraction: 0.2,
            data: None,
            label: None,
            blobs_samples: None,
            blobs_dim: None,
            blobs_separation: None,
            out: None,
            log_every: None,
            divergence_factor: None,
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
            grad_histograms: false,
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

/// `--group PATTERNS:KEY=VALUE,...` as a parameter group (values are checked when the optimizer
/// is built).
fn parse_group(text: &str) -> Result<optlab_optim::GroupConfig> {
    let bad = |why: &str| {
        Error::Usage(format!("--group `{text}`: {why}; expected PATTERNS:KEY=VALUE,... such as '*.bias:lr=0.001'"))
    };
    let (patterns, sets) = text.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let tensors: Vec<String> = patterns.split(';').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    if tensors.is_empty() {
        return Err(bad("no tensor pattern"));
    }
    let mut set = std::collections::BTreeMap::new();
    for kv in sets.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').ok_or_else(|| bad(&format!("`{kv}` is not KEY=VALUE")))?;
        if set.insert(k.trim().to_string(), v.trim().to_string()).is_some() {
            return Err(bad(&format!("{} given twice", k.trim())));
        }
    }
    if set.is_empty() {
        return Err(bad("no setting"));
    }
    Ok(optlab_optim::GroupConfig { tensors, set, schedules: vec![] })
}

#[cfg(test)]
mod group_tests {
    use super::parse_group;

    #[test]
    fn group_flags_parse_and_bad_ones_name_the_flag() {
        let g = parse_group("*.bias;*.norm:use_muon=false, lr=0.001").unwrap();
        assert_eq!(g.tensors, ["*.bias", "*.norm"]);
        assert_eq!(g.set.get("use_muon").map(String::as_str), Some("false"));
        assert_eq!(g.set.get("lr").map(String::as_str), Some("0.001"));
        for bad in ["*.bias", ":lr=1", "*.bias:", "*.bias:lr", "*.bias:lr=1,lr=2"] {
            let e = parse_group(bad).unwrap_err().to_string();
            assert!(e.contains("--group") && e.contains(bad), "{e}");
        }
    }
}
