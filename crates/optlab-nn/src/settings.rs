//! [`NetworkSettings`]: the settings of a network run, one struct from the front ends to the
//! trainer. An experiment file's comparison fills it (optlab-lab's spec), the plan stores it in
//! each network run (its JSON is part of the run's identity), `optlab train` fills it from the
//! command line, and [`crate::TrainConfig`] carries it to the training loop: a new setting is one
//! new field here, read where it is used.
//!
//! The settings added after the first stores were written (`mse`, `train_limit`, `init`,
//! `shuffle`, `dropout`, `augment`, `early_stop_on`, `log_every`, `divergence_factor`, `grad_histograms`, `landscape`) are left out of the JSON while they have their default, so
//! the runs of existing experiment files keep their identity (hash).

use crate::hutchinson::HutchinsonConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything about a network run besides the task, the optimizer and the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    /// Epochs to train (an epoch is one pass over the training set).
    pub epochs: u32,
    pub batch_size: usize,
    /// Stop after this many optimizer steps (may end an epoch early).
    pub max_steps: Option<u64>,
    /// Fraction of the training set held out for validation when there is no separate test set
    /// (the shipped MNIST subset, the blobs tasks). 0 trains on every sample and skips
    /// validation (for every task, also with a separate test set).
    pub val_fraction: f64,
    /// The task's data folder (default: the shipped MNIST subset for the MNIST tasks).
    pub data: Option<PathBuf>,
    /// MLP layer widths, input to classes (`mnist-mlp` default 784-256-128-10, `cifar-mlp`
    /// 3072-512-256-10).
    pub widths: Option<Vec<usize>>,
    /// `blobs-two-layer` hidden units (default 8).
    pub hidden: Option<usize>,
    /// Early stopping: stop after this many epochs without a lower validation loss; the best
    /// weights are kept.
    pub patience: Option<u32>,
    /// Stop when this many seconds of wall time have passed (checked after every step).
    pub time_budget_s: Option<f64>,
    /// Hutchinson estimator of the Hessian diagonal (optimizers that need it): probes per step.
    pub hutchinson_samples: u32,
    /// Hutchinson finite-difference step.
    pub hutchinson_h: f64,
    /// `blobs-neuron`/`blobs-two-layer` loss: squared error of the sigmoid instead of binary
    /// cross-entropy.
    #[serde(skip_serializing_if = "is_false")]
    pub mse: bool,
    /// Use only n training samples: a seeded random subset, in the original order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Initial weights from a safetensors file with torch's parameter names and layouts
    /// (`safetensors.torch.save_file(model.state_dict(), FILE)`) instead of the seeded
    /// initialisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// Shuffle the training set every epoch (false: batches in data order, every epoch).
    #[serde(skip_serializing_if = "is_true")]
    pub shuffle: bool,
    /// Dropout probability of every dropout layer (None: the network's own, e.g. 0.25 and 0.5 in
    /// the CNNs; 0 turns dropout off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropout: Option<f64>,
    /// Seeded augmentation of image tasks: random crop with padding 4 and horizontal flip.
    #[serde(skip_serializing_if = "is_false")]
    pub augment: bool,
    /// The validation metric that picks the best epoch and drives `patience`: the loss (lower is
    /// better, the default) or the accuracy (higher is better).
    #[serde(skip_serializing_if = "EarlyStopOn::is_loss")]
    pub early_stop_on: EarlyStopOn,
    /// Log the training loss of the batch, the learning rate and the gradient norm every this
    /// many optimizer steps (see [`NetworkSettings::log_every_for`]); None: about 100 points per
    /// run. 0 is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_every: Option<u64>,
    /// A run has diverged when a batch's training loss exceeds this multiple of its first batch
    /// loss (or is not finite); None: [`crate::train::DIVERGENCE_FACTOR`] (1000). Must be above 1.
    /// A larger factor lets a run that jumps and then stalls (RMSprop at a large learning rate)
    /// go on and be reported by its curve rather than as diverged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence_factor: Option<f64>,
    /// The label column when `data` is a CSV table (`csv:PATH`; the blobs and MLP tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `blobs-*` tasks: samples of the generated two-Gaussians set (default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs_samples: Option<usize>,
    /// `blobs-*` tasks: dimension of the two-Gaussians set (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs_dim: Option<usize>,
    /// `blobs-*` tasks: distance between the two Gaussians' centres (default 3; unit variance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs_separation: Option<f64>,
    /// At every logged step, histograms of |g| and |update| on log-spaced bins
    /// ([`crate::histogram`]), in [`crate::TrainReport::histograms`].
    #[serde(skip_serializing_if = "is_false")]
    pub grad_histograms: bool,
    /// At the end of the run, the loss landscape around the final weights on a small grid
    /// ([`crate::landscape::REPORT_GRID`] points per axis, filter-normalised random directions;
    /// [`crate::landscape`]), for the experiment report. Not a training setting: it changes what
    /// is stored, not how the run trains.
    #[serde(skip_serializing_if = "is_false")]
    pub landscape: bool,
}

/// Points a run logs by default: `log_every` is then `max(1, ⌈T / 100⌉)` for a run of `T` steps.
pub const DEFAULT_LOG_POINTS: u64 = 100;

/// The validation metric of early stopping and of the best epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarlyStopOn {
    /// Validation loss: an epoch is better when its loss is lower.
    #[default]
    Loss,
    /// Validation accuracy: an epoch is better when its accuracy is higher.
    Acc,
}

impl EarlyStopOn {
    fn is_loss(&self) -> bool {
        *self == EarlyStopOn::Loss
    }

    /// The metric as a score where lower is better: the loss, or minus the accuracy.
    pub fn score(self, val_loss: f64, correct: usize, total: usize) -> f64 {
        match self {
            EarlyStopOn::Loss => val_loss,
            EarlyStopOn::Acc => -(correct as f64 / total.max(1) as f64),
        }
    }
}

impl std::fmt::Display for EarlyStopOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EarlyStopOn::Loss => "loss",
            EarlyStopOn::Acc => "acc",
        })
    }
}

impl std::str::FromStr for EarlyStopOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "loss" => Ok(EarlyStopOn::Loss),
            "acc" | "accuracy" => Ok(EarlyStopOn::Acc),
            _ => Err(format!("`{s}`: expected `loss` or `acc`")),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Default for NetworkSettings {
    /// The trainer's defaults (also `optlab train`'s): 5 epochs, batch 64, 20 % validation,
    /// shuffled batches, the networks' own dropout, no budgets.
    fn default() -> Self {
        NetworkSettings {
            epochs: 5,
            batch_size: 64,
            max_steps: None,
            val_fraction: 0.2,
            data: None,
            widths: None,
            hidden: None,
            patience: None,
            time_budget_s: None,
            hutchinson_samples: 1,
            hutchinson_h: 1e-3,
            mse: false,
            train_limit: None,
            init: None,
            shuffle: true,
            dropout: None,
            augment: false,
            early_stop_on: EarlyStopOn::Loss,
            log_every: None,
            divergence_factor: None,
            label: None,
            blobs_samples: None,
            blobs_dim: None,
            blobs_separation: None,
            grad_histograms: false,
            landscape: false,
        }
    }
}

impl NetworkSettings {
    /// The Hutchinson estimator's configuration.
    pub fn hutchinson(&self) -> HutchinsonConfig {
        HutchinsonConfig { samples: self.hutchinson_samples as usize, h: self.hutchinson_h as f32 }
    }

    /// The logging interval of a run with `batches_per_epoch` batches per epoch: `log_every`
    /// when set, else `max(1, ⌈T / 100⌉)` where `T = batches_per_epoch × epochs`, or `max_steps`
    /// when that is smaller (so at most 100 points: the batches of the 0-based global steps
    /// `0, N, 2N, ...`).
    pub fn log_every_for(&self, batches_per_epoch: u64) -> u64 {
        if let Some(n) = self.log_every {
            return n.max(1);
        }
        let total = batches_per_epoch.saturating_mul(u64::from(self.epochs));
        let total = self.max_steps.map_or(total, |m| m.min(total));
        total.div_ceil(DEFAULT_LOG_POINTS).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_settings_stay_out_of_the_json_at_their_defaults() {
        let s = NetworkSettings::default();
        let json = serde_json::to_string(&s).unwrap();
        for key in [
            "mse",
            "train_limit",
            "init",
            "shuffle",
            "dropout",
            "augment",
            "early_stop_on",
            "log_every",
            "label",
            "blobs_samples",
            "blobs_dim",
            "blobs_separation",
            "grad_histograms",
            "landscape",
        ] {
            assert!(!json.contains(key), "{key} in {json}");
        }
        let back: NetworkSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let set = NetworkSettings { shuffle: false, dropout: Some(0.0), augment: true, ..s };
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains("\"shuffle\":false") && json.contains("\"dropout\":0.0"), "{json}");
        assert_eq!(serde_json::from_str::<NetworkSettings>(&json).unwrap(), set);
        let set = NetworkSettings { log_every: Some(7), ..NetworkSettings::default() };
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains("\"log_every\":7"), "{json}");
        assert_eq!(serde_json::from_str::<NetworkSettings>(&json).unwrap(), set);
    }

    #[test]
    fn the_default_logging_interval_gives_at_most_100_points() {
        let s = NetworkSettings { epochs: 5, ..NetworkSettings::default() };
        // 63 batches × 5 epochs = 315 steps: every 4th, 79 points.
        assert_eq!(s.log_every_for(63), 4);
        assert_eq!(NetworkSettings { epochs: 1, ..s.clone() }.log_every_for(63), 1);
        assert_eq!(NetworkSettings { epochs: 1, ..s.clone() }.log_every_for(100), 1);
        assert_eq!(NetworkSettings { epochs: 1, ..s.clone() }.log_every_for(101), 2);
        // max_steps bounds the run.
        assert_eq!(NetworkSettings { max_steps: Some(1000), ..s.clone() }.log_every_for(10_000), 10);
        assert_eq!(NetworkSettings { max_steps: Some(10_000_000), ..s.clone() }.log_every_for(1000), 50);
        assert_eq!(NetworkSettings { log_every: Some(3), ..s }.log_every_for(63), 3);
    }
}
