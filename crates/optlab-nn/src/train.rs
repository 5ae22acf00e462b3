//! The training loop: tasks, data, seeded models, per-epoch validation, early stopping with the
//! best weights kept, step and time budgets, a progress bar, and checkpoints that resume
//! bit-identically.
//!
//! Reproducibility: the initial weights come from `seed`, the sample order of epoch `e` from
//! `(seed, e)`, the dropout masks of epoch `e` from `(seed, e)` and the Hutchinson probes of step
//! `t` from `(seed, t)`, so nothing but the weights, the optimizer state and the counters has to be
//! checkpointed for a resumed run to continue exactly as an uninterrupted one.

use crate::adapter::{parameters, read_params, state_tensors, write_params, OptlabOptimizer, ParamInfo};
use crate::error::NnError;
use crate::hutchinson::Hutchinson;
use crate::models::{CifarCnn, Loss, Mlp, MnistCnn, Net, OneNeuron, ResNet18, TwoLayer, RESNET18_WIDTHS};
use crate::settings::NetworkSettings;
use burn::module::ParamId;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use optlab_data::Dataset;
use optlab_optim::{OptimConfig, OptimError, OptimizerState};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The task names: `blobs-neuron`, `blobs-two-layer`, `mnist-mlp`, `mnist-cnn`, `cifar-mlp`,
/// `cifar-cnn`, `cifar-resnet18`, `tinyimagenet-resnet18`.
pub const TASKS: &[&str] = &[
    "blobs-neuron",
    "blobs-two-layer",
    "mnist-mlp",
    "mnist-cnn",
    "cifar-mlp",
    "cifar-cnn",
    "cifar-resnet18",
    "tinyimagenet-resnet18",
];

/// The task names (for CLIs and experiment files).
pub fn tasks() -> &'static [&'static str] {
    TASKS
}

/// Samples of the synthetic two-Gaussians data set of the `blobs-*` tasks (dimension 2, centres
/// 3 apart).
pub const BLOBS_SAMPLES: usize = 1000;
pub const BLOBS_DIM: usize = 2;
pub const BLOBS_SEPARATION: f32 = 3.0;
/// Default MLP widths of `mnist-mlp`.
pub const MNIST_MLP_WIDTHS: &[usize] = &[784, 256, 128, 10];
/// Default MLP widths of `cifar-mlp`.
pub const CIFAR_MLP_WIDTHS: &[usize] = &[3072, 512, 256, 10];
/// Default hidden width of `blobs-two-layer`.
pub const TWO_LAYER_HIDDEN: usize = 8;
/// Samples per forward pass when computing the validation loss.
const EVAL_BATCH: usize = 1000;
pub(crate) const CHECKPOINT_FILE: &str = "checkpoint.bin";
/// Magic bytes of the checkpoint format (version 2: with a checksum).
const CHECKPOINT_MAGIC: &[u8; 8] = b"OPTLABN2";
/// Magic bytes of the first checkpoint format (no checksum), refused with a message saying so.
const CHECKPOINT_MAGIC_V1: &[u8; 8] = b"OPTLABNN";
/// A run has diverged when a batch's training loss exceeds this multiple of the run's first
/// batch loss (the loss at the initial weights), or is NaN or infinite. At initialisation the
/// cross-entropy of a classifier is about ln(classes) (0.69 for two classes, 2.3 for ten); a
/// thousand times that means logit margins in the thousands on the wrong side, from which no
/// run of this study came back, while loss spikes of a too-large learning rate that do recover
/// stay within a factor of 10 to 100 of it.
pub const DIVERGENCE_FACTOR: f64 = 1e3;

/// Everything a training run needs: the task, the optimizer, the seed and the
/// [`NetworkSettings`] (the struct an experiment file's comparison fills, too).
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// One of [`TASKS`].
    pub task: String,
    pub optimizer: OptimConfig,
    pub seed: u64,
    pub net: NetworkSettings,
    /// Directory: a checkpoint is written there (atomically) after every epoch, and a run starts
    /// from it if one is present.
    pub checkpoint: Option<PathBuf>,
    /// An indicatif progress bar on stderr.
    pub progress: bool,
    /// With a checkpoint folder: also keep the weights at every epoch end (and the initial
    /// weights) in `iterates.bin` beside the checkpoint, for the trajectory of
    /// `optlab landscape` ([`crate::landscape`]).
    pub keep_iterates: bool,
}

impl TrainConfig {
    /// The defaults: seed 0 and [`NetworkSettings::default`] (5 epochs, batch 64, 20 %
    /// validation, no budgets).
    pub fn new(task: &str, optimizer: OptimConfig) -> Self {
        TrainConfig::with(task, optimizer, NetworkSettings::default())
    }

    /// Seed 0, the given settings, no checkpoint, no progress bar.
    pub fn with(task: &str, optimizer: OptimConfig, net: NetworkSettings) -> Self {
        TrainConfig {
            task: task.into(),
            optimizer,
            seed: 0,
            net,
            checkpoint: None,
            progress: false,
            keep_iterates: false,
        }
    }
}

/// One epoch's figures. Its `Display` is the log line
/// `epoch 3: train 0.2134, val loss 0.0412, accuracy 9871/10000 (98.7%)`, or
/// `epoch 3: train 0.2134 (no validation)` when validation is off (`val_fraction` 0: then
/// `val_loss` is NaN and `correct` and `total` are 0; see [`EpochReport::validated`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: u32,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Mean training loss over the epoch's batches (as trained: dropout on).
    pub train_loss: f64,
    pub val_loss: f64,
    pub correct: usize,
    pub total: usize,
    /// Wall time of the epoch (training and validation).
    pub time_s: f64,
}

impl EpochReport {
    /// Whether the epoch was validated (false when `val_fraction` is 0).
    pub fn validated(&self) -> bool {
        self.total > 0
    }

    /// Validation accuracy (0 when the epoch was not validated; see [`EpochReport::validated`]).
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }

    /// The line the study documents print per epoch (torch's MNIST example):
    /// `Validation set: Average loss: 0.0604, Accuracy: 9809/10000 (98%)`, the percentage rounded
    /// to a whole number; `Train epoch: 3 -- average loss: 0.2134 (no validation)` when the epoch
    /// was not validated.
    pub fn study_line(&self) -> String {
        if !self.validated() {
            return format!("Train epoch: {} -- average loss: {:.4} (no validation)", self.epoch, self.train_loss);
        }
        format!(
            "Validation set: Average loss: {:.4}, Accuracy: {}/{} ({:.0}%)",
            self.val_loss,
            self.correct,
            self.total,
            100.0 * self.accuracy()
        )
    }
}

impl fmt::Display for EpochReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.validated() {
            return write!(f, "epoch {}: train {:.4} (no validation)", self.epoch, self.train_loss);
        }
        write!(
            f,
            "epoch {}: train {:.4}, val loss {:.4}, accuracy {}/{} ({:.1}%)",
            self.epoch,
            self.train_loss,
            self.val_loss,
            self.correct,
            self.total,
            100.0 * self.accuracy()
        )
    }
}

/// One logged training step (every `log_every` steps: [`NetworkSettings::log_every_for`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Optimizer steps taken before this batch (0-based global step index): the batch of step
    /// index `s` is logged when `s % log_every == 0`, so the first point is step 0 (the loss at
    /// the initial weights).
    pub step: u64,
    /// The epoch the batch belongs to (1-based).
    pub epoch: u32,
    /// The batch's mean training loss (as trained: dropout on), at the weights before its update.
    pub loss: f64,
    /// The learning rate of the update made with this batch: the default parameter group's
    /// `lr` with its schedules applied (None for an optimizer without `lr`).
    pub lr: Option<f64>,
    /// The global L2 norm of this batch's gradients before clipping (the engine's
    /// `last_grad_norm`; None when the engine computed none, or when the step was refused).
    pub grad_norm: Option<f64>,
}

/// Why training stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StopReason {
    /// All epochs done.
    Completed,
    /// `max_steps` reached.
    StepBudget,
    /// `time_budget` used up.
    TimeBudget,
    /// `patience` epochs without improvement of the validation loss.
    EarlyStopped,
    /// The epoch callback of [`train_until`] asked to stop after this epoch.
    Stopped { epoch: u32 },
    /// The training loss of a batch of this epoch became NaN or infinite, exceeded
    /// [`DIVERGENCE_FACTOR`] times the first batch loss, or the optimizer refused a non-finite
    /// gradient; `why` says which. The weights are those of before that step.
    Diverged { epoch: u32, why: String },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Completed => write!(f, "completed"),
            StopReason::StepBudget => write!(f, "step budget reached"),
            StopReason::TimeBudget => write!(f, "time budget used up"),
            StopReason::EarlyStopped => write!(f, "early stopping"),
            StopReason::Stopped { epoch } => write!(f, "stopped by the caller after epoch {epoch}"),
            StopReason::Diverged { epoch, why } => write!(f, "diverged in epoch {epoch}: {why}"),
        }
    }
}

/// What a training run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    pub task: String,
    pub optimizer: String,
    pub epochs: Vec<EpochReport>,
    /// The epoch with the lowest validation loss.
    pub best_epoch: Option<u32>,
    pub stopped: StopReason,
    /// Wall time of this call (a resumed run counts from the resume).
    pub wall_s: f64,
    pub steps: u64,
    /// Number of trainable parameters.
    pub param_count: usize,
    /// Train / validation samples.
    pub train_samples: usize,
    pub val_samples: usize,
    /// Epochs restored from a checkpoint at the start (0 for a fresh run).
    pub resumed_epochs: u32,
    /// On a resumed run, the settings that differ from the checkpoint's and were applied from
    /// the resumed step on (also printed on stderr), e.g. "`lr` 0.001 -> 0.5".
    pub resume_changes: Vec<String>,
    /// The final weights by parameter path (the best epoch's when early stopping is on), then
    /// the running statistics of BatchNorm layers (`bn1.running_mean`, ...) when the net has them.
    pub weights: Vec<(String, Vec<f32>)>,
    /// The logged steps, every [`TrainReport::log_every`] steps, in order (a resumed run's
    /// include those logged before the checkpoint), and the batch that diverged, if one did.
    pub step_log: Vec<StepReport>,
    /// The logging interval in force ([`NetworkSettings::log_every_for`]).
    pub log_every: u64,
    /// With `grad_histograms`: the histograms of |g| and |update| of every logged step that
    /// updated the weights, in order (a resumed run's include those from before the checkpoint).
    pub histograms: Vec<crate::histogram::StepHistogram>,
}

/// Trains on the default engine: burn's `flex` CPU backend with autodiff.
pub fn train(cfg: &TrainConfig, on_epoch: &mut dyn FnMut(&EpochReport)) -> Result<TrainReport, NnError> {
    train_with(cfg, &Device::flex().autodiff(), on_epoch)
}

/// [`train`] with an epoch callback that decides whether training goes on: it is called after
/// each epoch's validation, and when it returns false training stops after that epoch with
/// [`StopReason::Stopped`] (the epoch is recorded, and checkpointed when checkpoints are on).
/// Not called for the partial epoch of a divergence. optlab-lab prunes trials with it.
pub fn train_until(cfg: &TrainConfig, on_epoch: &mut dyn FnMut(&EpochReport) -> bool) -> Result<TrainReport, NnError> {
    train_controlled(cfg, &Device::flex().autodiff(), on_epoch)
}

/// Trains on `device`, which must have autodiff enabled (`Device::flex().autodiff()`, or a GPU
/// device when burn is built with that backend's feature). burn 0.22 selects the backend through
/// the device value rather than a type parameter.
pub fn train_with(
    cfg: &TrainConfig,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<TrainReport, NnError> {
    train_controlled(cfg, device, &mut |e| {
        on_epoch(e);
        true
    })
}

/// [`train_with`] with the callback of [`train_until`].
pub fn train_controlled(
    cfg: &TrainConfig,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochReport) -> bool,
) -> Result<TrainReport, NnError> {
    validate(cfg)?;
    if !device.is_autodiff() {
        return Err(NnError::setting("device", format!("{device:?}"), "needs autodiff (use device.autodiff())"));
    }
    let (train_set, val_set) = load_data(cfg)?;
    struct Train<'a> {
        cfg: &'a TrainConfig,
        device: &'a Device,
        on_epoch: &'a mut dyn FnMut(&EpochReport) -> bool,
    }
    impl WithModel for Train<'_> {
        type Out = TrainReport;
        fn call<M: Net>(self, model: M, train: &Dataset, val: &Dataset) -> Result<TrainReport, NnError> {
            run(self.cfg, model, train, val, self.device, self.on_epoch)
        }
    }
    with_model(cfg, device, &train_set, &val_set, Train { cfg, device, on_epoch })
}

/// Validation loss and correct predictions of `weights` (by parameter path, as in
/// [`TrainReport::weights`]) on the task's validation set.
pub fn evaluate_weights(cfg: &TrainConfig, weights: &[(String, Vec<f32>)]) -> Result<(f64, usize), NnError> {
    validate(cfg)?;
    let device = Device::flex().autodiff();
    let (train_set, val_set) = load_data(cfg)?;
    if val_set.is_empty() {
        return Err(NnError::setting("val_fraction", 0, "there is no validation set to evaluate the weights on"));
    }
    struct Eval<'a> {
        device: &'a Device,
        weights: &'a [(String, Vec<f32>)],
    }
    impl WithModel for Eval<'_> {
        type Out = (f64, usize);
        fn call<M: Net>(self, model: M, _: &Dataset, val: &Dataset) -> Result<(f64, usize), NnError> {
            let infos = state_tensors(&model);
            let mut bufs = Vec::with_capacity(infos.len());
            for p in &infos {
                let w = self
                    .weights
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .ok_or_else(|| NnError::Param { param: p.name.clone(), what: "missing from the weights".into() })?;
                let len: usize = p.shape.iter().product();
                if w.1.len() != len {
                    return Err(NnError::Param {
                        param: p.name.clone(),
                        what: format!("{} values given, the model has {len}", w.1.len()),
                    });
                }
                bufs.push(w.1.clone());
            }
            let index = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
            let model = write_params(model, &index, &bufs);
            Ok(evaluate(&model, val, self.device))
        }
    }
    with_model(cfg, &device, &train_set, &val_set, Eval { device: &device, weights })
}

/// Something to do with the task's freshly initialised model (the model type differs by task).
pub(crate) trait WithModel {
    type Out;
    fn call<M: Net>(self, model: M, train: &Dataset, val: &Dataset) -> Result<Self::Out, NnError>;
}

pub(crate) fn with_model<W: WithModel>(
    cfg: &TrainConfig,
    device: &Device,
    train_set: &Dataset,
    val_set: &Dataset,
    w: W,
) -> Result<W::Out, NnError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let loss = if cfg.net.mse { Loss::Mse } else { Loss::BinaryCrossEntropy };
    match cfg.task.as_str() {
        "blobs-neuron" => w.call(OneNeuron::new(train_set.sample_len(), loss, &mut rng, device), train_set, val_set),
        "blobs-two-layer" => {
            let hidden = cfg.net.hidden.unwrap_or(TWO_LAYER_HIDDEN);
            w.call(TwoLayer::new(train_set.sample_len(), hidden, loss, &mut rng, device), train_set, val_set)
        }
        "mnist-mlp" | "cifar-mlp" => {
            let default = if cfg.task == "mnist-mlp" { MNIST_MLP_WIDTHS } else { CIFAR_MLP_WIDTHS };
            let mut default = default.to_vec();
            if csv_path(cfg).is_some() {
                // A CSV table: the default hidden widths between its features and its classes.
                let last = default.len() - 1;
                default[0] = train_set.sample_len();
                default[last] = train_set.classes;
            }
            let widths = cfg.net.widths.clone().unwrap_or(default);
            check_widths(&widths, train_set.sample_len(), train_set.classes)?;
            w.call(Mlp::new(&widths, &mut rng, device), train_set, val_set)
        }
        "mnist-cnn" => {
            let mut m = MnistCnn::new(&mut rng, device);
            if let Some(p) = cfg.net.dropout {
                m.dropout = [p as f32; 2];
            }
            w.call(m, train_set, val_set)
        }
        "cifar-cnn" => {
            let mut m = CifarCnn::new(&mut rng, device);
            if let Some(p) = cfg.net.dropout {
                m.dropout = [p as f32; 2];
            }
            w.call(m, train_set, val_set)
        }
        "cifar-resnet18" | "tinyimagenet-resnet18" => {
            let widths = resnet_widths(cfg)?;
            let [c, side, _] = image_shape(train_set)?;
            w.call(ResNet18::new(c, side, train_set.classes, widths, &mut rng, device), train_set, val_set)
        }
        other => Err(NnError::UnknownTask { name: other.into(), known: TASKS.join(", ") }),
    }
}

fn validate(cfg: &TrainConfig) -> Result<(), NnError> {
    if !TASKS.contains(&cfg.task.as_str()) {
        return Err(NnError::UnknownTask { name: cfg.task.clone(), known: TASKS.join(", ") });
    }
    if cfg.net.batch_size == 0 {
        return Err(NnError::setting("batch_size", 0, "must be at least 1"));
    }
    if cfg.net.epochs == 0 {
        return Err(NnError::setting("epochs", 0, "must be at least 1"));
    }
    if cfg.net.max_steps == Some(0) {
        return Err(NnError::setting("max_steps", 0, "must be at least 1"));
    }
    if !(cfg.net.val_fraction >= 0.0 && cfg.net.val_fraction < 1.0) {
        return Err(NnError::setting(
            "val_fraction",
            cfg.net.val_fraction,
            "must lie in [0, 1) (0: train on every sample, no validation)",
        ));
    }
    if cfg.net.patience == Some(0) {
        return Err(NnError::setting("patience", 0, "must be at least 1"));
    }
    if cfg.keep_iterates && cfg.checkpoint.is_none() {
        return Err(NnError::setting(
            "keep_iterates",
            true,
            "the iterates are written beside the checkpoint: give a checkpoint folder (--checkpoint DIR)",
        ));
    }
    if let Some(f) = cfg.net.divergence_factor {
        if !(f.is_finite() && f > 1.0) {
            return Err(NnError::setting(
                "divergence_factor",
                f,
                "must be a finite number above 1 (a multiple of the first batch loss; leave it out for 1000)",
            ));
        }
    }
    if cfg.net.log_every == Some(0) {
        return Err(NnError::setting(
            "log_every",
            0,
            "must be at least 1 (leave it out for the default of about 100 points per run)",
        ));
    }
    if cfg.net.val_fraction == 0.0 {
        if let Some(p) = cfg.net.patience {
            return Err(NnError::setting(
                "patience",
                p,
                "early stopping watches the validation loss, and val_fraction = 0 turns validation off",
            ));
        }
        let schedules = cfg.optimizer.schedules.iter().chain(cfg.optimizer.groups.iter().flat_map(|g| &g.schedules));
        if let Some(s) = schedules.into_iter().find(|s| s.schedule.to_text().contains("plateau")) {
            return Err(NnError::setting(
                "schedule",
                format!("{}={}", s.key, s.schedule.to_text()),
                "a plateau schedule watches the validation loss, and val_fraction = 0 turns validation off",
            ));
        }
    }
    if let Some(p) = cfg.net.dropout {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::setting("dropout", p, "must lie in [0, 1) (0 turns dropout off)"));
        }
        if !matches!(cfg.task.as_str(), "mnist-cnn" | "cifar-cnn") {
            return Err(NnError::setting(
                "dropout",
                p,
                format!("{} has no dropout layers (the CNNs mnist-cnn and cifar-cnn have)", cfg.task),
            ));
        }
    }
    if cfg.net.augment && !matches!(cfg.task.as_str(), "cifar-cnn" | "cifar-resnet18" | "tinyimagenet-resnet18") {
        return Err(NnError::setting(
            "augment",
            true,
            format!(
                "random crops and flips are for the colour image tasks (cifar-cnn, cifar-resnet18, \
                 tinyimagenet-resnet18), not {}",
                cfg.task
            ),
        ));
    }
    if cfg.net.train_limit == Some(0) {
        return Err(NnError::setting("train_limit", 0, "must be at least 1"));
    }
    if cfg.net.hidden == Some(0) {
        return Err(NnError::setting("hidden", 0, "must be at least 1"));
    }
    if let Some(t) = cfg.net.time_budget_s {
        if !(t.is_finite() && t > 0.0) {
            return Err(NnError::setting("time_budget", t, "must be a positive number of seconds"));
        }
    }
    let blobs = cfg.task.starts_with("blobs-");
    let csv = csv_path(cfg);
    for (key, set) in [
        ("blobs_samples", cfg.net.blobs_samples.map(|v| v.to_string())),
        ("blobs_dim", cfg.net.blobs_dim.map(|v| v.to_string())),
        ("blobs_separation", cfg.net.blobs_separation.map(|v| v.to_string())),
    ] {
        let Some(v) = set else { continue };
        if !blobs {
            return Err(NnError::setting(key, v, format!("is a setting of the blobs tasks, not of {}", cfg.task)));
        }
        if csv.is_some() {
            return Err(NnError::setting(key, v, "sets the generated data, and `data` is a CSV table"));
        }
    }
    if cfg.net.blobs_samples.is_some_and(|n| !(2..=10_000_000).contains(&n)) {
        return Err(NnError::setting("blobs_samples", cfg.net.blobs_samples.unwrap_or(0), "must lie in 2..=10000000"));
    }
    if cfg.net.blobs_dim.is_some_and(|d| !(1..=100_000).contains(&d)) {
        return Err(NnError::setting("blobs_dim", cfg.net.blobs_dim.unwrap_or(0), "must lie in 1..=100000"));
    }
    if let Some(s) = cfg.net.blobs_separation {
        if !(0.0..=1e6).contains(&s) {
            return Err(NnError::setting("blobs_separation", s, "must be a number in [0, 1e6]"));
        }
    }
    match (&csv, &cfg.net.label) {
        (Some(p), None) => {
            return Err(NnError::setting(
                "data",
                format!("csv:{}", p.display()),
                "a CSV table needs `label`, its label column",
            ))
        }
        (None, Some(l)) => {
            return Err(NnError::setting(
                "label",
                l,
                "is the label column of a CSV table, and `data` is not `csv:PATH`",
            ))
        }
        (Some(p), Some(_))
            if !matches!(cfg.task.as_str(), "blobs-neuron" | "blobs-two-layer" | "mnist-mlp" | "cifar-mlp") =>
        {
            return Err(NnError::setting(
                "data",
                format!("csv:{}", p.display()),
                format!("CSV tables of features are for the blobs and MLP tasks, not {}", cfg.task),
            ))
        }
        _ => {}
    }
    cfg.net.hutchinson().validate()
}

/// The four stage widths of a ResNet task: `widths` when given (exactly four, each at least 1),
/// else 64-128-256-512.
fn resnet_widths(cfg: &TrainConfig) -> Result<[usize; 4], NnError> {
    let Some(w) = &cfg.net.widths else { return Ok(RESNET18_WIDTHS) };
    let text = w.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-");
    match <[usize; 4]>::try_from(w.as_slice()) {
        Ok(a) if a.iter().all(|&v| v >= 1) => Ok(a),
        _ => Err(NnError::setting(
            "widths",
            text,
            format!("{} takes the four stage widths (default 64-128-256-512), each at least 1", cfg.task),
        )),
    }
}

/// `[channels, side, side]` of a data set of square CHW images.
fn image_shape(set: &Dataset) -> Result<[usize; 3], NnError> {
    match set.sample_shape.as_slice() {
        &[c, h, w] if h == w && h > 0 => Ok([c, h, w]),
        other => Err(NnError::Data(format!("{}: samples of shape {other:?}, expected square CHW images", set.name))),
    }
}

fn check_widths(widths: &[usize], input: usize, classes: usize) -> Result<(), NnError> {
    let text = widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-");
    if widths.len() < 2 {
        return Err(NnError::setting("widths", &text, "needs at least the input and output widths"));
    }
    if widths.contains(&0) {
        return Err(NnError::setting("widths", &text, "every width must be at least 1"));
    }
    if widths[0] != input || widths[widths.len() - 1] != classes {
        return Err(NnError::setting(
            "widths",
            &text,
            format!("must start with the input size {input} and end with the {classes} classes"),
        ));
    }
    Ok(())
}

fn data_err(e: optlab_data::DataError) -> NnError {
    NnError::Data(e.to_string())
}

/// The path of a `data = "csv:PATH"` setting.
fn csv_path(cfg: &TrainConfig) -> Option<PathBuf> {
    let d = cfg.net.data.as_ref()?.to_str()?;
    d.strip_prefix("csv:").map(PathBuf::from)
}

/// The CSV table of a `data = "csv:PATH"` setting as a data set (labels are class numbers), for
/// the blobs tasks (binary: labels 0 and 1) and the MLP tasks.
fn csv_dataset(cfg: &TrainConfig, path: &Path) -> Result<Dataset, NnError> {
    let label = cfg.net.label.as_deref().unwrap_or_default();
    let set = optlab_data::CsvTable::load(path, label).and_then(|t| t.to_dataset()).map_err(data_err)?;
    if cfg.task.starts_with("blobs-") && set.classes != 2 {
        return Err(NnError::Data(format!(
            "{}: {} is a binary classifier, and the labels of column `{label}` run 0..={}",
            path.display(),
            cfg.task,
            set.classes - 1
        )));
    }
    Ok(set)
}

/// The (training, validation) sets of a task, normalised with the training set's channel
/// statistics. With `val_fraction` 0 the validation set is empty (and a separate test set is not
/// read). An empty training set, or an empty test set when validating, is an error naming the
/// data folder.
pub fn load_data(cfg: &TrainConfig) -> Result<(Dataset, Dataset), NnError> {
    let validating = cfg.net.val_fraction > 0.0;
    let split = |d: Dataset| -> Result<(Dataset, Dataset), NnError> {
        if validating {
            d.split(cfg.net.val_fraction, cfg.seed).map_err(data_err)
        } else {
            let none = d.subset(&[]);
            Ok((d, none))
        }
    };
    let check = |path: &Path, what: &str, set: Dataset, role: &str| -> Result<Dataset, NnError> {
        if set.is_empty() {
            return Err(NnError::Data(format!(
                "{}: the {what} ({}) holds no samples: nothing to {role}{}",
                path.display(),
                set.name,
                if role == "validate on" { " (use --val-fraction 0 to train without validation)" } else { "" }
            )));
        }
        Ok(set)
    };
    let (mut train, mut val) = match cfg.task.as_str() {
        _ if csv_path(cfg).is_some() => {
            let p = csv_path(cfg).unwrap_or_default();
            split(check(&p, "CSV table", csv_dataset(cfg, &p)?, "train on")?)?
        }
        "blobs-neuron" | "blobs-two-layer" => {
            if let Some(p) = &cfg.net.data {
                return Err(NnError::setting(
                    "data",
                    p.display(),
                    "the blobs tasks use generated data, or a CSV table given as csv:PATH",
                ));
            }
            let n = cfg.net.blobs_samples.unwrap_or(BLOBS_SAMPLES);
            let dim = cfg.net.blobs_dim.unwrap_or(BLOBS_DIM);
            let sep = cfg.net.blobs_separation.map_or(BLOBS_SEPARATION, |s| s as f32);
            split(optlab_data::two_gaussians(n, dim, sep, cfg.seed))?
        }
        "mnist-mlp" | "mnist-cnn" => match &cfg.net.data {
            None => split(optlab_data::shipped_mnist().map_err(data_err)?)?,
            Some(dir) => {
                let train = check(
                    dir,
                    "MNIST training set",
                    optlab_data::load_mnist_dir(dir, true).map_err(data_err)?,
                    "train on",
                )?;
                let val = if validating {
                    check(
                        dir,
                        "MNIST test set",
                        optlab_data::load_mnist_dir(dir, false).map_err(data_err)?,
                        "validate on",
                    )?
                } else {
                    train.subset(&[])
                };
                (train, val)
            }
        },
        "cifar-mlp" | "cifar-cnn" | "cifar-resnet18" => match &cfg.net.data {
            None => {
                return Err(NnError::setting(
                    "data",
                    "(none)",
                    format!("{} needs --data DIR with the CIFAR-10 binary batches", cfg.task),
                ))
            }
            Some(dir) => {
                let train = check(
                    dir,
                    "CIFAR-10 training set",
                    optlab_data::load_cifar10(dir, true).map_err(data_err)?,
                    "train on",
                )?;
                let val = if validating {
                    check(
                        dir,
                        "CIFAR-10 test set",
                        optlab_data::load_cifar10(dir, false).map_err(data_err)?,
                        "validate on",
                    )?
                } else {
                    train.subset(&[])
                };
                (train, val)
            }
        },
        "tinyimagenet-resnet18" => match &cfg.net.data {
            None => {
                return Err(NnError::setting(
                    "data",
                    "(none)",
                    "tinyimagenet-resnet18 needs --data DIR with Tiny ImageNet (wnids.txt, train/, val/)",
                ))
            }
            Some(dir) => {
                let train = check(
                    dir,
                    "Tiny ImageNet training set",
                    optlab_data::load_tiny_imagenet(dir, true).map_err(data_err)?,
                    "train on",
                )?;
                let val = if validating {
                    check(
                        dir,
                        "Tiny ImageNet validation set",
                        optlab_data::load_tiny_imagenet(dir, false).map_err(data_err)?,
                        "validate on",
                    )?
                } else {
                    train.subset(&[])
                };
                (train, val)
            }
        },
        other => return Err(NnError::UnknownTask { name: other.into(), known: TASKS.join(", ") }),
    };
    if let Some(n) = cfg.net.train_limit {
        // A seeded random subset: the shipped MNIST digits are sorted by label, so a prefix
        // would hold one or two classes only.
        if n < train.len() {
            let perm = optlab_data::shuffled(train.len(), cfg.seed, u64::MAX);
            let mut idx = perm[..n].to_vec();
            idx.sort_unstable();
            train = train.subset(&idx);
        }
    }
    if !cfg.task.starts_with("blobs") {
        let (mean, std) = train.channel_stats();
        train.normalise(&mean, &std).map_err(data_err)?;
        val.normalise(&mean, &std).map_err(data_err)?;
    }
    Ok((train, val))
}

/// Training progress that a checkpoint stores besides weights and optimizer state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub(crate) task: String,
    pub(crate) optimizer: String,
    pub(crate) seed: u64,
    pub(crate) batch_size: usize,
    pub(crate) epochs_done: u32,
    pub(crate) step: u64,
    pub(crate) reports: Vec<EpochReport>,
    pub(crate) best_epoch: Option<u32>,
    pub(crate) best_val: Option<f64>,
    pub(crate) bad_epochs: u32,
    /// Parameter names and shapes, in the order of the weight blocks.
    pub(crate) params: Vec<(String, Vec<usize>)>,
    pub(crate) has_best: bool,
    pub(crate) opt_state_len: u64,
    /// The run's first batch loss: the reference of the divergence test.
    pub(crate) first_loss: Option<f64>,
    /// Settings a resumed run must share, by name (they change the data, the split, the loss or
    /// the schedules): see [`fixed_settings`].
    pub(crate) fixed: Vec<(String, String)>,
    /// The steps logged so far, and the logging interval they were logged with (absent in
    /// checkpoints written before step logging: then nothing was logged).
    #[serde(default)]
    pub(crate) step_log: Vec<StepReport>,
    #[serde(default)]
    pub(crate) log_every: Option<u64>,
    #[serde(default)]
    pub(crate) histograms: Vec<crate::histogram::StepHistogram>,
    /// Hyperparameters of the default group and of each parameter group, and the Hutchinson
    /// settings: a resumed run applies changed ones from the resumed step on.
    pub(crate) set: BTreeMap<String, String>,
    pub(crate) group_sets: Vec<BTreeMap<String, String>>,
    pub(crate) hutchinson: String,
}

const FIXED_DEFAULT_DROPOUT: &str = "(the network's own)";
const FIXED_DEFAULT_INIT: &str = "(seeded)";

/// The value of a fixed setting that a checkpoint written before the setting existed had.
fn fixed_before_recorded(name: &str) -> &'static str {
    match name {
        "shuffle" => "true",
        "augment" => "false",
        "dropout" => FIXED_DEFAULT_DROPOUT,
        "init" => FIXED_DEFAULT_INIT,
        "early_stop_on" => "loss",
        "weight averaging" => "none",
        _ => "(not recorded)",
    }
}

/// The settings a resumed run must share with its checkpoint, as (name, value) text.
fn fixed_settings(cfg: &TrainConfig) -> Vec<(String, String)> {
    let loss = match cfg.task.as_str() {
        "blobs-neuron" | "blobs-two-layer" if cfg.net.mse => "squared error",
        "blobs-neuron" | "blobs-two-layer" => "binary cross-entropy",
        _ => "cross-entropy",
    };
    let data = cfg.net.data.as_ref().map_or("(default)".to_string(), |d| {
        std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()).display().to_string()
    });
    let schedule_text = |list: &[optlab_optim::Scheduled]| {
        let v: Vec<String> = list
            .iter()
            .map(|s| format!("{}={}@{}", s.key, s.schedule.to_text(), if s.per_epoch { "epoch" } else { "step" }))
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let groups: Vec<String> = cfg
        .optimizer
        .groups
        .iter()
        .map(|g| format!("[{}] schedules {}", g.tensors.join(", "), schedule_text(&g.schedules)))
        .collect();
    vec![
        ("loss".into(), loss.into()),
        ("val_fraction".into(), cfg.net.val_fraction.to_string()),
        ("shuffle".into(), cfg.net.shuffle.to_string()),
        ("augment".into(), cfg.net.augment.to_string()),
        ("early_stop_on".into(), cfg.net.early_stop_on.to_string()),
        ("dropout".into(), cfg.net.dropout.map_or(FIXED_DEFAULT_DROPOUT.to_string(), |p| p.to_string())),
        ("init".into(), cfg.net.init.as_ref().map_or(FIXED_DEFAULT_INIT.to_string(), |p| p.display().to_string())),
        ("train_limit".into(), cfg.net.train_limit.map_or("none".to_string(), |n| n.to_string())),
        ("data".into(), data),
        ("schedules".into(), schedule_text(&cfg.optimizer.schedules)),
        ("parameter groups".into(), if groups.is_empty() { "none".into() } else { groups.join("; ") }),
        ("weight averaging".into(), cfg.optimizer.average.as_ref().map_or("none".to_string(), |a| a.label())),
    ]
}

fn hutchinson_text(cfg: &TrainConfig) -> String {
    format!("samples={}, h={}", cfg.net.hutchinson().samples, cfg.net.hutchinson().h)
}

/// The differences of two hyperparameter maps as "`key` old -> new" (absent = default).
fn set_changes(prefix: &str, old: &BTreeMap<String, String>, new: &BTreeMap<String, String>, out: &mut Vec<String>) {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for k in keys {
        let (a, b) = (old.get(k), new.get(k));
        if a != b {
            let show = |v: Option<&String>| v.map_or("(default)".to_string(), |v| v.clone());
            out.push(format!("{prefix}`{k}` {} -> {}", show(a), show(b)));
        }
    }
}

/// Replaces the hyperparameters of every parameter group of `st` (and of a wrapped optimizer's
/// state) by those of `fresh`, keeping the schedules' state, the moments and the counters.
fn rebase_hypers(st: &mut OptimizerState<f32>, fresh: &OptimizerState<f32>) {
    for (g, f) in st.groups.iter_mut().zip(&fresh.groups) {
        g.hyper = f.hyper.clone();
    }
    if let (Some(i), Some(f)) = (st.inner.as_deref_mut(), fresh.inner.as_deref()) {
        rebase_hypers(i, f);
    }
}

/// FNV-1a (64 bits) of `bytes`: any change of a single byte changes it.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(crate) struct Checkpoint {
    pub(crate) progress: Progress,
    pub(crate) weights: Vec<Vec<f32>>,
    pub(crate) best: Option<Vec<Vec<f32>>>,
    pub(crate) opt_state: Option<OptimizerState<f32>>,
}

fn write_checkpoint(dir: &Path, ck: &Checkpoint) -> Result<(), NnError> {
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))?;
    let path = dir.join(CHECKPOINT_FILE);
    let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    let opt_bytes = ck.opt_state.as_ref().map(|s| s.to_bytes()).unwrap_or_default();
    let mut progress = ck.progress.clone();
    progress.has_best = ck.best.is_some();
    progress.opt_state_len = opt_bytes.len() as u64;
    let header = serde_json::to_vec(&progress).expect("progress serialises");
    let mut out = Vec::with_capacity(header.len() + opt_bytes.len() + 64);
    out.extend_from_slice(CHECKPOINT_MAGIC);
    out.extend_from_slice(&0u64.to_le_bytes()); // the checksum, filled in below
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for block in ck.weights.iter().chain(ck.best.iter().flatten()) {
        for v in block {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out.extend_from_slice(&opt_bytes);
    let sum = checksum(&out[16..]);
    out[8..16].copy_from_slice(&sum.to_le_bytes());
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| NnError::io(&path, e))
}

pub(crate) fn read_checkpoint(path: &Path) -> Result<Checkpoint, NnError> {
    let bad = |what: String| NnError::Checkpoint { path: path.display().to_string(), what };
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    if bytes.len() >= 8 && &bytes[..8] == CHECKPOINT_MAGIC_V1 {
        return Err(bad("written by an older optlab in a format without a checksum; delete it (or use another \
             checkpoint folder) to start afresh"
            .into()));
    }
    if bytes.len() < 24 || &bytes[..8] != CHECKPOINT_MAGIC {
        return Err(bad("not an optlab-nn checkpoint (bad magic bytes or shorter than its 24-byte header)".into()));
    }
    let stored = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let computed = checksum(&bytes[16..]);
    if stored != computed {
        return Err(bad(format!(
            "checksum mismatch (stored {stored:016x}, computed {computed:016x}): the file is corrupt and was \
             not loaded; delete it to start afresh"
        )));
    }
    let hlen = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
    let header = bytes.get(24..24usize.saturating_add(hlen)).ok_or_else(|| bad("truncated header".into()))?;
    let progress: Progress = serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
    let mut pos = 24 + hlen;
    let mut take_block = |n: usize| -> Result<Vec<f32>, NnError> {
        let end = n.checked_mul(4).and_then(|b| b.checked_add(pos)).ok_or_else(|| bad("truncated weights".into()))?;
        let raw = bytes.get(pos..end).ok_or_else(|| bad("truncated weights".into()))?;
        pos = end;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    };
    let sizes: Vec<usize> = progress.params.iter().map(|(_, s)| s.iter().product()).collect();
    let weights = sizes.iter().map(|&n| take_block(n)).collect::<Result<Vec<_>, _>>()?;
    let best = if progress.has_best {
        Some(sizes.iter().map(|&n| take_block(n)).collect::<Result<Vec<_>, _>>()?)
    } else {
        None
    };
    let opt_bytes = &bytes[pos..];
    if opt_bytes.len() as u64 != progress.opt_state_len {
        return Err(bad(format!(
            "optimizer state is {} bytes, the header says {}",
            opt_bytes.len(),
            progress.opt_state_len
        )));
    }
    let opt_state = if opt_bytes.is_empty() {
        None
    } else {
        Some(OptimizerState::<f32>::from_bytes(opt_bytes, &path.display().to_string())?)
    };
    Ok(Checkpoint { progress, weights, best, opt_state })
}

/// torch's `torch.optim.swa_utils.update_bn(loader, model)`: BatchNorm's running statistics of
/// `model` recomputed at its weights. They are reset (mean 0, variance 1), then one pass over
/// `set` in order (batches of `batch_size`, no augmentation) in training mode (dropout masks from
/// `rng`, as torch's `model.train()` pass draws them) updates them with torch's `momentum=None`
/// cumulative average (momentum 1/k at the k-th batch). The parameters are unchanged; a model
/// without BatchNorm is returned as it is.
pub fn update_bn<M: Net>(model: M, set: &Dataset, batch_size: usize, device: &Device, rng: &mut StdRng) -> M {
    let infos = state_tensors(&model);
    if !infos.iter().any(|p| crate::adapter::is_buffer(&p.name)) || set.is_empty() {
        return model;
    }
    // A clone of a module shares its running statistics (burn's `RunningState` holds them behind
    // an `Arc`, and mapping writes through it): without fresh ones the recomputed statistics
    // would also land in the model `model` was cloned from (the training model). `valid()`
    // gives every running state a storage of its own; `train()` brings back autodiff.
    let model = model.valid().train();
    // Reset, on the model itself (its running statistics are what the pass starts from).
    let index: HashMap<ParamId, usize> =
        infos.iter().enumerate().filter(|(_, p)| crate::adapter::is_buffer(&p.name)).map(|(i, p)| (p.id, i)).collect();
    let reset: Vec<Vec<f32>> = infos
        .iter()
        .map(|p| {
            let n = p.shape.iter().product();
            vec![if p.name.ends_with("running_var") { 1.0 } else { 0.0 }; n]
        })
        .collect();
    let model = write_params(model, &index, &reset);
    // The pass without autodiff (a copy on the inner backend; its statistics are copied back).
    let valid = model.valid();
    let inner = device.clone().inner();
    let s = set.sample_len();
    for (k, start) in (0..set.len()).step_by(batch_size.max(1)).enumerate() {
        let end = (start + batch_size.max(1)).min(set.len());
        let x =
            Tensor::<2>::from_data(TensorData::new(set.images[start * s..end * s].to_vec(), [end - start, s]), &inner);
        crate::models::with_bn_momentum(1.0 / (k + 1) as f64, || {
            let _ = valid.forward(x, Some(&mut *rng));
        });
    }
    let vinfos = state_tensors(&valid);
    let vindex: HashMap<ParamId, usize> = vinfos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut stats = reset;
    read_params(&valid, &vindex, &mut stats);
    write_params(model, &index, &stats)
}

/// Loss, correct and total of `model` on `set` (no dropout, no autodiff).
pub fn evaluate<M: Net>(model: &M, set: &Dataset, device: &Device) -> (f64, usize) {
    let valid = model.valid();
    let inner = device.clone().inner();
    let s = set.sample_len();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for start in (0..set.len()).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(set.len());
        let x =
            Tensor::<2>::from_data(TensorData::new(set.images[start * s..end * s].to_vec(), [end - start, s]), &inner);
        let labels = &set.labels[start..end];
        let out = valid.forward(x, None);
        let l: f32 = valid.loss().mean(out.clone(), labels).into_scalar();
        loss_sum += l as f64 * (end - start) as f64;
        correct += valid.loss().correct(out, labels);
    }
    (loss_sum / set.len().max(1) as f64, correct)
}

/// Why a batch loss `loss` at step `step` means divergence, given the run's first batch loss:
/// NaN or infinite, or above `factor` × `first` (when `first` is positive; `factor` is
/// [`NetworkSettings::divergence_factor`], by default [`DIVERGENCE_FACTOR`]).
fn blown_up(loss: f32, first: f64, step: u64, factor: f64) -> Option<String> {
    if !loss.is_finite() {
        Some(format!("training loss {loss} at step {step}"))
    } else if first > 0.0 && f64::from(loss) > factor * first {
        Some(format!("training loss {loss:.4e} at step {step} is above {factor:e} x the first loss {first:.4}"))
    } else {
        None
    }
}

/// The model at the optimizer's evaluation weights (None: the model's own), with BatchNorm's
/// running statistics recomputed there by [`update_bn`] over the training set (its dropout
/// masks from a generator of the seed and `epoch`).
fn eval_weights<M: Net>(
    opt: &OptlabOptimizer,
    model: &M,
    train_set: &Dataset,
    cfg: &TrainConfig,
    epoch: u32,
    device: &Device,
) -> Result<Option<M>, NnError> {
    Ok(opt.eval_module(model)?.map(|m| {
        let mut rng = dropout_rng(cfg.seed ^ 0x5eed_b0a7, epoch);
        update_bn(m, train_set, cfg.net.batch_size, device, &mut rng)
    }))
}

fn dropout_rng(seed: u64, epoch: u32) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (u64::from(epoch) + 1).wrapping_mul(0x9E37_79B9))
}

fn run<M: Net>(
    cfg: &TrainConfig,
    mut model: M,
    train_set: &Dataset,
    val_set: &Dataset,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochReport) -> bool,
) -> Result<TrainReport, NnError> {
    let start = Instant::now();
    let time_budget = cfg.net.time_budget_s.map(Duration::from_secs_f64);
    if let Some(path) = &cfg.net.init {
        model = crate::init::load_torch_init(model, path)?;
    }
    let infos: Vec<ParamInfo> = parameters(&model);
    let index: HashMap<ParamId, usize> = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut bufs: Vec<Vec<f32>> = infos.iter().map(|p| vec![0.0; p.shape.iter().product()]).collect();
    // The model's whole state (the parameters, then BatchNorm's running statistics): what
    // checkpoints, the best epoch's copy and the reported weights hold.
    let state_infos: Vec<ParamInfo> = state_tensors(&model);
    let state_index: HashMap<ParamId, usize> = state_infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut state_bufs: Vec<Vec<f32>> = state_infos.iter().map(|p| vec![0.0; p.shape.iter().product()]).collect();
    let mut opt = OptlabOptimizer::new(cfg.optimizer.clone())?;
    let mut hutch = opt.needs_hessian().then(|| Hutchinson::new(cfg.net.hutchinson(), cfg.seed));
    let mut hess: Vec<Vec<f32>> = if hutch.is_some() { bufs.clone() } else { Vec::new() };
    // The parameters before and after a histogram step (`grad_histograms`).
    let (mut hist_before, mut hist_after) =
        if cfg.net.grad_histograms { (bufs.clone(), bufs.clone()) } else { (Vec::new(), Vec::new()) };
    let loss_kind = model.loss();

    let mut progress = Progress {
        task: cfg.task.clone(),
        optimizer: cfg.optimizer.name.clone(),
        seed: cfg.seed,
        batch_size: cfg.net.batch_size,
        epochs_done: 0,
        step: 0,
        reports: Vec::new(),
        best_epoch: None,
        best_val: None,
        bad_epochs: 0,
        params: state_infos.iter().map(|p| (p.name.clone(), p.shape.clone())).collect(),
        has_best: false,
        opt_state_len: 0,
        first_loss: None,
        fixed: fixed_settings(cfg),
        set: cfg.optimizer.set.clone(),
        group_sets: cfg.optimizer.groups.iter().map(|g| g.set.clone()).collect(),
        hutchinson: hutchinson_text(cfg),
        step_log: Vec::new(),
        log_every: None,
        histograms: Vec::new(),
    };
    let batches_per_epoch = train_set.len().div_ceil(cfg.net.batch_size) as u64;
    let log_every = cfg.net.log_every_for(batches_per_epoch);
    let divergence_factor = cfg.net.divergence_factor.unwrap_or(DIVERGENCE_FACTOR);
    let mut best: Option<Vec<Vec<f32>>> = None;
    let mut resume_changes = Vec::new();

    // Resume.
    let ck_path = cfg.checkpoint.as_ref().map(|d| d.join(CHECKPOINT_FILE));
    if let Some(path) = ck_path.as_ref().filter(|p| p.exists()) {
        let ck = read_checkpoint(path)?;
        let p = &ck.progress;
        let mismatch = |what: &str, here: String, there: String| NnError::Checkpoint {
            path: path.display().to_string(),
            what: format!("{what} is `{there}` in the checkpoint but `{here}` in this run"),
        };
        if p.task != cfg.task {
            return Err(mismatch("task", cfg.task.clone(), p.task.clone()));
        }
        if p.optimizer != cfg.optimizer.name {
            return Err(mismatch("optimizer", cfg.optimizer.name.clone(), p.optimizer.clone()));
        }
        if p.seed != cfg.seed {
            return Err(mismatch("seed", cfg.seed.to_string(), p.seed.to_string()));
        }
        if p.batch_size != cfg.net.batch_size {
            return Err(mismatch("batch size", cfg.net.batch_size.to_string(), p.batch_size.to_string()));
        }
        if p.params != progress.params {
            return Err(mismatch("model parameters", format!("{:?}", progress.params), format!("{:?}", p.params)));
        }
        for (name, here) in &progress.fixed {
            let there =
                p.fixed.iter().find(|(n, _)| n == name).map_or(fixed_before_recorded(name), |(_, v)| v.as_str());
            if here != there {
                return Err(mismatch(name, here.clone(), there.to_string()));
            }
        }
        // Hyperparameters that differ are applied from the resumed step on.
        let mut hyper_changes = Vec::new();
        set_changes("", &p.set, &progress.set, &mut hyper_changes);
        for (i, (a, b)) in p.group_sets.iter().zip(&progress.group_sets).enumerate() {
            set_changes(&format!("parameter group {}: ", i + 1), a, b, &mut hyper_changes);
        }
        let mut opt_state = ck.opt_state;
        if let (Some(st), false) = (opt_state.as_mut(), hyper_changes.is_empty()) {
            let mut layout = optlab_optim::Layout::new();
            for info in &infos {
                layout.push(&info.name, &info.shape)?;
            }
            let fresh = optlab_optim::registry::build::<f32>(layout, &cfg.optimizer)?.state();
            rebase_hypers(st, &fresh);
        }
        resume_changes = hyper_changes;
        if p.hutchinson != progress.hutchinson {
            resume_changes.push(format!("Hutchinson {} -> {}", p.hutchinson, progress.hutchinson));
        }
        if let Some(old) = p.log_every.filter(|&old| old != log_every) {
            resume_changes.push(format!("log_every {old} -> {log_every}"));
        }
        for c in &resume_changes {
            eprintln!(
                "resuming {} after epoch {} (step {}): {c}, applied from step {} on",
                path.display(),
                p.epochs_done,
                p.step,
                p.step + 1
            );
        }
        model = write_params(model, &state_index, &ck.weights);
        match opt_state {
            Some(st) => opt.load_state(st)?,
            // No step taken yet: replay the epoch count that drives per-epoch schedules.
            None => (0..p.epochs_done).for_each(|_| opt.end_epoch()),
        }
        best = ck.best;
        let (set, group_sets, hutchinson) =
            (progress.set.clone(), progress.group_sets.clone(), progress.hutchinson.clone());
        progress = ck.progress;
        // The checkpoints written from now on record the settings in force.
        (progress.set, progress.group_sets, progress.hutchinson) = (set, group_sets, hutchinson);
    }
    let resumed_epochs = progress.epochs_done;
    progress.log_every = Some(log_every);
    // `keep_iterates`: the weights at every epoch end so far (those of a resumed run's earlier
    // epochs from its iterates file), then the current weights if they are not the last.
    let mut iterates: Vec<(u32, Vec<Vec<f32>>)> = Vec::new();
    if let (true, Some(dir)) = (cfg.keep_iterates, &cfg.checkpoint) {
        let path = dir.join(crate::landscape::ITERATES_FILE);
        if progress.epochs_done > 0 && path.is_file() {
            let (params, its) = crate::landscape::read_iterates(&path)?;
            if params == progress.params {
                iterates = its.into_iter().filter(|(e, _)| *e <= progress.epochs_done).collect();
            }
        }
        if iterates.last().map(|i| i.0) != Some(progress.epochs_done) {
            read_params(&model, &state_index, &mut state_bufs);
            iterates.push((progress.epochs_done, state_bufs.clone()));
        }
    }
    // Built now (not at the first step), so that the first logged step has its learning rate.
    opt.prepare(&model)?;

    let n = train_set.len();
    let s = train_set.sample_len();
    let mut perm = vec![0usize; n];
    let (mut xb, mut yb) = (Vec::with_capacity(cfg.net.batch_size * s), Vec::with_capacity(cfg.net.batch_size));
    let bar = cfg.progress.then(|| {
        let total = batches_per_epoch * u64::from(cfg.net.epochs);
        let total = cfg.net.max_steps.map_or(total, |m| m.min(total));
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {elapsed}<{eta} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(cfg.task.clone());
        bar.set_position(progress.step.min(total));
        bar
    });

    let mut stopped = StopReason::Completed;
    let validating = !val_set.is_empty();
    'epochs: while progress.epochs_done < cfg.net.epochs && stopped == StopReason::Completed {
        if cfg.net.max_steps.is_some_and(|m| progress.step >= m) {
            stopped = StopReason::StepBudget;
            break;
        }
        if cfg.net.patience.is_some_and(|p| progress.bad_epochs >= p) {
            stopped = StopReason::EarlyStopped;
            break;
        }
        let epoch = progress.epochs_done + 1;
        let epoch_start = Instant::now();
        if cfg.net.shuffle {
            optlab_data::shuffle_into(&mut perm, cfg.seed, u64::from(epoch));
        } else {
            perm.iter_mut().enumerate().for_each(|(i, p)| *p = i);
        }
        let mut augmenter =
            cfg.net.augment.then(|| optlab_data::Augmenter::new(cfg.seed, u64::from(epoch), optlab_data::CROP_PADDING));
        let mut drop_rng = dropout_rng(cfg.seed, epoch);
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        let mut budget_hit = None;
        for idx in perm.chunks(cfg.net.batch_size) {
            train_set.gather(idx, &mut xb, &mut yb);
            if let Some(a) = augmenter.as_mut() {
                let [c, h, w] = image_shape(train_set)?;
                a.apply(&mut xb, [c, h, w]);
            }
            let b = idx.len();
            let x = Tensor::<2>::from_data(TensorData::new(xb.clone(), [b, s]), device);
            let mask_rng = drop_rng.clone();
            let out = model.forward(x.clone(), Some(&mut drop_rng));
            let loss = loss_kind.mean(out, &yb);
            let lv: f32 = loss.clone().into_scalar();
            let first = *progress.first_loss.get_or_insert(f64::from(lv));
            let logged = progress.step.is_multiple_of(log_every);
            let lr = opt.current("lr");
            if let Some(why) = blown_up(lv, first, progress.step + 1, divergence_factor) {
                progress.step_log.push(StepReport {
                    step: progress.step,
                    epoch,
                    loss: f64::from(lv),
                    lr,
                    grad_norm: None,
                });
                progress.reports.push(EpochReport {
                    epoch,
                    step: progress.step,
                    train_loss: f64::from(lv),
                    val_loss: f64::NAN,
                    correct: 0,
                    total: val_set.len(),
                    time_s: epoch_start.elapsed().as_secs_f64(),
                });
                let _ = on_epoch(progress.reports.last().expect("pushed"));
                stopped = StopReason::Diverged { epoch, why };
                break 'epochs;
            }
            loss_sum += f64::from(lv) * b as f64;
            seen += b;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let step_no = progress.step;
            let hist_now = logged && cfg.net.grad_histograms;
            if hist_now {
                read_params(&model, &index, &mut hist_before);
            }
            let before = model.clone();
            let stepped = match hutch.as_mut() {
                None => opt.step(model, grads),
                Some(h) => {
                    read_params(&model, &index, &mut bufs);
                    let probe = model.clone();
                    let est = h.estimate(
                        step_no,
                        &bufs,
                        |theta, g| -> Result<(), NnError> {
                            let m = write_params(probe.clone(), &index, theta);
                            let out = m.forward(x.clone(), Some(&mut mask_rng.clone()));
                            let gr = GradientsParams::from_grads(loss_kind.mean(out, &yb).backward(), &m);
                            crate::adapter::read_grads(&gr, &infos, g)
                        },
                        &mut hess,
                    );
                    est.and_then(|()| opt.step_with_hessian(model, grads, Some(&hess)))
                }
            };
            model = match stepped {
                Ok(m) => m,
                // A non-finite gradient (or curvature) is divergence, not an error.
                Err(NnError::Optim(e @ OptimError::NonFinite { .. })) => {
                    model = before;
                    progress.step_log.push(StepReport {
                        step: progress.step,
                        epoch,
                        loss: f64::from(lv),
                        lr,
                        grad_norm: None,
                    });
                    progress.reports.push(EpochReport {
                        epoch,
                        step: progress.step,
                        train_loss: f64::NAN,
                        val_loss: f64::NAN,
                        correct: 0,
                        total: val_set.len(),
                        time_s: epoch_start.elapsed().as_secs_f64(),
                    });
                    let _ = on_epoch(progress.reports.last().expect("pushed"));
                    stopped = StopReason::Diverged { epoch, why: format!("step {}: {e}", progress.step + 1) };
                    break 'epochs;
                }
                Err(e) => return Err(e),
            };
            if logged {
                progress.step_log.push(StepReport {
                    step: progress.step,
                    epoch,
                    loss: f64::from(lv),
                    lr,
                    grad_norm: opt.last_grad_norm(),
                });
            }
            // (A step the optimizer skipped leaves the weights as they were: its update bins
            // count zeros.)
            if hist_now {
                read_params(&model, &index, &mut hist_after);
                let grads = opt.last_grads().unwrap_or_default();
                progress.histograms.push(crate::histogram::step_histogram(
                    progress.step,
                    &grads,
                    &hist_before,
                    &hist_after,
                ));
            }
            progress.step += 1;
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(format!("epoch {epoch} loss {lv:.4}"));
            }
            if cfg.net.max_steps.is_some_and(|m| progress.step >= m) {
                budget_hit = Some(StopReason::StepBudget);
                break;
            }
            if time_budget.is_some_and(|t| start.elapsed() >= t) {
                budget_hit = Some(StopReason::TimeBudget);
                break;
            }
        }
        // Validation, the best epoch's copy and the reported weights use the evaluation weights
        // (Schedule-Free's x, the averaged weights of SWA/EMA; the model itself for every other
        // optimizer), with BatchNorm's statistics recomputed there (torch's `update_bn`).
        // Checkpoints keep the training weights, from which a resumed run continues.
        opt.epoch_boundary(&model)?;
        let eval_model = eval_weights(&opt, &model, train_set, cfg, epoch, device)?;
        let shown = eval_model.as_ref().unwrap_or(&model);
        let (val_loss, correct) = if validating { evaluate(shown, val_set, device) } else { (f64::NAN, 0) };
        let report = EpochReport {
            epoch,
            step: progress.step,
            train_loss: loss_sum / seen.max(1) as f64,
            val_loss,
            correct,
            total: val_set.len(),
            time_s: epoch_start.elapsed().as_secs_f64(),
        };
        if let Some(bar) = &bar {
            bar.println(report.to_string());
        }
        let go_on = on_epoch(&report);
        opt.end_epoch();
        // Without validation there is no metric for plateau schedules (refused) and no best epoch.
        if validating {
            opt.report_metric(val_loss);
            // `best_val` is the early-stopping score: lower is better (minus the accuracy on `acc`).
            let score = cfg.net.early_stop_on.score(val_loss, correct, val_set.len());
            if progress.best_val.is_none_or(|b| score < b) {
                progress.best_val = Some(score);
                progress.best_epoch = Some(epoch);
                progress.bad_epochs = 0;
                if cfg.net.patience.is_some() {
                    let mut copy = best.take().unwrap_or_else(|| state_bufs.clone());
                    read_params(shown, &state_index, &mut copy);
                    best = Some(copy);
                }
            } else {
                progress.bad_epochs += 1;
            }
        }
        progress.reports.push(report);
        progress.epochs_done = epoch;
        if let Some(dir) = &cfg.checkpoint {
            read_params(&model, &state_index, &mut state_bufs);
            if cfg.keep_iterates {
                // Written before the checkpoint: a run killed in between resumes from the
                // checkpoint and drops the extra iterate.
                iterates.push((epoch, state_bufs.clone()));
                crate::landscape::write_iterates(dir, &progress.params, &iterates)?;
            }
            write_checkpoint(
                dir,
                &Checkpoint {
                    progress: progress.clone(),
                    weights: state_bufs.clone(),
                    best: best.clone(),
                    opt_state: opt.state(),
                },
            )?;
        }
        if let Some(r) = budget_hit {
            stopped = r;
        } else if !go_on && progress.epochs_done < cfg.net.epochs {
            stopped = StopReason::Stopped { epoch };
        }
    }
    if stopped == StopReason::Completed && cfg.net.patience.is_some_and(|p| progress.bad_epochs >= p) {
        stopped = StopReason::EarlyStopped;
    }
    if let Some(bar) = &bar {
        bar.finish_with_message(format!("{stopped}"));
    }
    let weights = match (&best, cfg.net.patience) {
        (Some(b), Some(_)) => b.clone(),
        _ => {
            match eval_weights(&opt, &model, train_set, cfg, progress.epochs_done, device)? {
                Some(x) => read_params(&x, &state_index, &mut state_bufs),
                None => read_params(&model, &state_index, &mut state_bufs),
            }
            state_bufs
        }
    };
    Ok(TrainReport {
        task: cfg.task.clone(),
        optimizer: cfg.optimizer.name.clone(),
        best_epoch: progress.best_epoch,
        stopped,
        wall_s: start.elapsed().as_secs_f64(),
        steps: progress.step,
        param_count: infos.iter().map(|p| p.shape.iter().product::<usize>()).sum(),
        train_samples: train_set.len(),
        val_samples: val_set.len(),
        resumed_epochs,
        resume_changes,
        weights: state_infos.iter().map(|p| p.name.clone()).zip(weights).collect(),
        epochs: progress.reports,
        step_log: progress.step_log,
        log_every,
        histograms: progress.histograms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schedule-Free: validation and the reported weights use the evaluation weights
    /// x = lerp(y, z, 1 - 1/momentum), built from the training weights y and the state z kept in the
    /// checkpoint (which holds y, so that a resumed run continues from it).
    #[test]
    fn schedule_free_validates_and_reports_the_evaluation_weights() {
        let dir = tempfile::tempdir().unwrap();
        let mom = 0.8;
        let opt = OptimConfig::new("schedule_free_sgd").set("lr", 0.5).set("momentum", mom);
        let mut cfg = TrainConfig::with(
            "blobs-two-layer",
            opt,
            NetworkSettings { epochs: 2, batch_size: 32, ..NetworkSettings::default() },
        );
        cfg.checkpoint = Some(dir.path().to_path_buf());
        let r = train(&cfg, &mut |_| {}).unwrap();
        let ck = read_checkpoint(&dir.path().join(CHECKPOINT_FILE)).unwrap();
        let st = ck.opt_state.unwrap();
        let w = (1.0 - 1.0 / mom) as f32;
        let mut differs = false;
        for (i, (name, x)) in r.weights.iter().enumerate() {
            let y = &ck.weights[i];
            let z = &st.tensors.iter().find(|t| t.name == *name).unwrap().buffers[0].1;
            let want: Vec<f32> = y.iter().zip(z).map(|(y, z)| y + w * (z - y)).collect();
            assert_eq!(x, &want, "{name}: the reported weights are not lerp(y, z, 1 - 1/momentum)");
            differs |= x != y;
        }
        assert!(differs, "x equals y: the test would not tell them apart");
        let last = r.epochs.last().unwrap();
        assert_eq!(evaluate_weights(&cfg, &r.weights).unwrap(), (last.val_loss, last.correct));
    }

    /// Evaluation weights of a BatchNorm net (Schedule-Free's x, a small CIFAR ResNet): the
    /// reported weights carry BatchNorm statistics recomputed at x (torch's `update_bn` over the
    /// training set), not the training weights' statistics; the validation is theirs.
    #[test]
    fn evaluation_weights_get_batchnorm_statistics_recomputed_there() {
        let dir = tempfile::tempdir().unwrap();
        let batch = |n: usize, seed: usize| -> Vec<u8> {
            (0..n)
                .flat_map(|k| {
                    std::iter::once((k % 10) as u8).chain((0..3072).map(move |i| ((i * 31 + k * 7 + seed) % 256) as u8))
                })
                .collect()
        };
        std::fs::write(dir.path().join("data_batch_1.bin"), batch(32, 0)).unwrap();
        std::fs::write(dir.path().join("test_batch.bin"), batch(8, 1)).unwrap();
        let opt = OptimConfig::new("schedule_free_sgd").set("lr", 0.2).set("momentum", 0.9);
        let mut cfg = TrainConfig::with(
            "cifar-resnet18",
            opt,
            NetworkSettings {
                data: Some(dir.path().join("data_batch_1.bin")),
                widths: Some(vec![4, 8, 8, 8]),
                epochs: 2,
                batch_size: 16,
                ..NetworkSettings::default()
            },
        );
        let ck_dir = tempfile::tempdir().unwrap();
        cfg.checkpoint = Some(ck_dir.path().to_path_buf());
        let r = train(&cfg, &mut |_| {}).unwrap();
        let ck = read_checkpoint(&ck_dir.path().join(CHECKPOINT_FILE)).unwrap();
        // The training model's statistics (the checkpoint) differ from the reported ones.
        let stats = |w: &[(String, Vec<f32>)]| -> Vec<Vec<f32>> {
            w.iter().filter(|(n, _)| crate::adapter::is_buffer(n)).map(|(_, v)| v.clone()).collect()
        };
        let names: Vec<String> = r.weights.iter().map(|(n, _)| n.clone()).collect();
        let trained: Vec<(String, Vec<f32>)> = names.iter().cloned().zip(ck.weights.clone()).collect();
        assert!(!stats(&r.weights).is_empty());
        assert_ne!(stats(&r.weights), stats(&trained), "the statistics were not recomputed at x");
        // They are update_bn's at the reported parameters, from any statistics.
        struct Recompute<'a>(&'a [(String, Vec<f32>)], &'a Device, usize);
        impl WithModel for Recompute<'_> {
            type Out = Vec<(String, Vec<f32>)>;
            fn call<M: Net>(self, model: M, train: &Dataset, _: &Dataset) -> Result<Self::Out, NnError> {
                let infos = state_tensors(&model);
                let index = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
                let bufs: Vec<Vec<f32>> = self.0.iter().map(|(_, v)| v.clone()).collect();
                let m =
                    update_bn(write_params(model, &index, &bufs), train, self.2, self.1, &mut StdRng::seed_from_u64(5));
                Ok(crate::adapter::named_values(&m))
            }
        }
        let device = Device::flex().autodiff();
        let (tr, va) = load_data(&cfg).unwrap();
        let again = with_model(&cfg, &device, &tr, &va, Recompute(&trained, &device, 16)).unwrap();
        // From the training weights' statistics: the parameters are y there, so only check x's.
        let mut at_x: Vec<(String, Vec<f32>)> = r.weights.clone();
        for (w, t) in at_x.iter_mut().zip(&trained) {
            if crate::adapter::is_buffer(&w.0) {
                w.1.clone_from(&t.1);
            }
        }
        let recomputed = with_model(&cfg, &device, &tr, &va, Recompute(&at_x, &device, 16)).unwrap();
        assert_eq!(stats(&recomputed), stats(&r.weights));
        assert_ne!(stats(&again), stats(&r.weights), "y and x give other statistics");
        let last = r.epochs.last().unwrap();
        assert_eq!(evaluate_weights(&cfg, &r.weights).unwrap(), (last.val_loss, last.correct));
    }

    #[test]
    fn log_line_format() {
        let r = EpochReport {
            epoch: 3,
            step: 10,
            train_loss: 0.21341,
            val_loss: 0.04119,
            correct: 9871,
            total: 10000,
            time_s: 1.0,
        };
        assert_eq!(r.to_string(), "epoch 3: train 0.2134, val loss 0.0412, accuracy 9871/10000 (98.7%)");
    }

    #[test]
    fn divergence_is_non_finite_or_a_thousand_times_the_first_loss() {
        let d = DIVERGENCE_FACTOR;
        assert_eq!(blown_up(2.3, 2.3, 5, d), None);
        assert_eq!(blown_up(2299.0, 2.3, 5, d), None);
        let why = blown_up(2.7e13, 2.3, 7, d).unwrap();
        assert!(why.contains("2.7000e13") && why.contains("step 7") && why.contains("first loss 2.3"), "{why}");
        assert!(blown_up(f32::NAN, 2.3, 1, d).unwrap().contains("NaN"));
        assert!(blown_up(f32::INFINITY, 0.0, 1, d).unwrap().contains("inf"));
        // A first loss of 0 gives no reference: only non-finite losses count.
        assert_eq!(blown_up(1e30, 0.0, 2, d), None);
        // A larger factor lets a jump of 1500x pass; NaN still counts.
        assert_eq!(blown_up(3450.0, 2.3, 2, 1e4), None);
        assert!(blown_up(3450.0, 2.3, 2, d).is_some());
        assert!(blown_up(f32::NAN, 2.3, 2, 1e4).is_some());
    }

    #[test]
    fn checksum_sees_every_single_byte_change() {
        let data: Vec<u8> = (0..64u8).collect();
        let sum = checksum(&data);
        for i in 0..data.len() {
            for bit in 0..8 {
                let mut d = data.clone();
                d[i] ^= 1 << bit;
                assert_ne!(checksum(&d), sum, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn study_log_line_is_the_documents_format() {
        let r = EpochReport {
            epoch: 3,
            step: 120,
            train_loss: 0.2134,
            val_loss: 0.06041,
            correct: 9809,
            total: 10000,
            time_s: 1.0,
        };
        assert_eq!(r.study_line(), "Validation set: Average loss: 0.0604, Accuracy: 9809/10000 (98%)");
        let r = EpochReport { correct: 1135, val_loss: 2.30157, ..r };
        assert_eq!(r.study_line(), "Validation set: Average loss: 2.3016, Accuracy: 1135/10000 (11%)");
        let r = EpochReport { val_loss: f64::NAN, correct: 0, total: 0, ..r };
        assert_eq!(r.study_line(), "Train epoch: 3 -- average loss: 0.2134 (no validation)");
    }

    #[test]
    fn no_validation_log_line() {
        let r =
            EpochReport { epoch: 2, step: 8, train_loss: 0.5, val_loss: f64::NAN, correct: 0, total: 0, time_s: 1.0 };
        assert!(!r.validated());
        assert_eq!(r.to_string(), "epoch 2: train 0.5000 (no validation)");
    }

    #[test]
    fn bad_settings_are_named() {
        let base = TrainConfig::new("mnist-mlp", OptimConfig::new("adam"));
        let e = |c: TrainConfig| train(&c, &mut |_| {}).unwrap_err().to_string();
        let msg = e(TrainConfig { task: "mnist-rnn".into(), ..base.clone() });
        assert!(msg.contains("mnist-rnn") && msg.contains("mnist-cnn"), "{msg}");
        assert!(e(TrainConfig { net: NetworkSettings { batch_size: 0, ..base.net.clone() }, ..base.clone() })
            .contains("batch_size"));
        assert!(e(TrainConfig { net: NetworkSettings { val_fraction: 1.5, ..base.net.clone() }, ..base.clone() })
            .contains("1.5"));
        assert!(e(TrainConfig { net: NetworkSettings { val_fraction: -0.1, ..base.net.clone() }, ..base.clone() })
            .contains("-0.1"));
        assert!(e(TrainConfig { net: NetworkSettings { val_fraction: f64::NAN, ..base.net.clone() }, ..base.clone() })
            .contains("val_fraction"));
        // No validation: early stopping and plateau schedules have nothing to watch.
        let msg = e(TrainConfig {
            net: NetworkSettings { val_fraction: 0.0, patience: Some(3), ..base.net.clone() },
            ..base.clone()
        });
        assert!(msg.contains("patience") && msg.contains("val_fraction = 0"), "{msg}");
        let plateau = OptimConfig::new("adam").schedule_assignment("lr=plateau(patience=1)@epoch").unwrap();
        let msg = e(TrainConfig {
            optimizer: plateau,
            net: NetworkSettings { val_fraction: 0.0, ..base.net.clone() },
            ..base.clone()
        });
        assert!(msg.contains("plateau") && msg.contains("val_fraction = 0"), "{msg}");
        let msg = e(TrainConfig {
            net: NetworkSettings { widths: Some(vec![784, 32, 7]), ..base.net.clone() },
            ..base.clone()
        });
        assert!(msg.contains("784-32-7") && msg.contains("10 classes"), "{msg}");
        let msg = e(TrainConfig { task: "cifar-cnn".into(), ..base.clone() });
        assert!(msg.contains("--data"), "{msg}");
        let msg = e(TrainConfig { optimizer: OptimConfig::new("adam").set("beta1", 2), ..base.clone() });
        assert!(msg.contains("beta1"), "{msg}");
        let msg =
            e(TrainConfig { net: NetworkSettings { data: Some("/nonexistent/mnist".into()), ..base.net }, ..base });
        assert!(msg.contains("/nonexistent/mnist"), "{msg}");
    }
}
