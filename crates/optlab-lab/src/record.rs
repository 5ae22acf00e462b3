//! What one experiment run produces, as stored and as rendered.
//!
//! The store writes these and reads them back unchanged; the report renders them. Series are in
//! the order they were produced. A network run has one [`Point`] per epoch (and `epoch` set),
//! and one [`StepPoint`] every `log_every` steps in [`RunRecord::step_series`]; a test-function
//! run has one [`Point`] per step (thinned to at most a few thousand) with the iterate in `x`, so
//! trajectories can be drawn on the landscape, and no step series.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran to its budget or stopping rule.
    Ok,
    /// The loss or parameters became non-finite (or left the function's far box).
    Diverged,
    /// The run could not be carried out; `RunRecord::error` says why.
    Failed,
    /// A tuning trial stopped between epochs by the comparison's pruner ([`crate::prune`]):
    /// `Summary::epochs` is the epoch it reached, `RunRecord::error` the pruner's reason.
    Pruned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
            Status::Pruned => "pruned",
        }
    }
}

/// The experiment as a whole, for the report's header.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    /// Short identifier (file stem of the experiment file).
    pub name: String,
    pub title: String,
    /// Free text (Markdown allowed) from the experiment file.
    pub description: String,
    /// The experiment file's text, verbatim.
    pub source: String,
    pub comparisons: Vec<ComparisonInfo>,
}

/// One comparison block of an experiment: the runs that belong in the same tables and plots.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparisonInfo {
    pub name: String,
    pub title: String,
    pub description: String,
    /// The tasks the comparison runs on (function names such as `rosenbrock`, or network tasks
    /// such as `mnist-mlp`).
    pub tasks: Vec<String>,
    /// The hyperparameters swept in this comparison, in the order the file gives them (e.g.
    /// `["beta1", "beta2"]`, `["lr"]`, `["batch_size"]`); these are the keys of `RunRecord::swept`.
    pub swept: Vec<String>,
    /// Target loss for "steps/time to reach the target" and performance profiles, per task
    /// (absent: no target for that task).
    pub targets: BTreeMap<String, f64>,
    /// How the report draws the comparison's curves (`[comparison.plot]`); left out of the JSON
    /// at its default.
    #[serde(default, skip_serializing_if = "PlotSettings::is_default")]
    pub plot: PlotSettings,
    /// The comparison's tuning protocol (`[comparison.tune]`), when it has one: its runs are in
    /// two phases, the tuning runs first (see [`crate::tune`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<TuneInfo>,
    /// The optimizer entry (its label) the report's speed-ups are measured against
    /// (`baseline = "adam"`); left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// The x axis of the training-loss curves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlotX {
    /// Optimizer steps: network runs' logged steps ([`RunRecord::step_series`]), test functions'
    /// iterates.
    Steps,
    /// Epochs: network runs' per-epoch mean training loss.
    Epochs,
}

impl PlotX {
    pub fn as_str(self) -> &'static str {
        match self {
            PlotX::Steps => "steps",
            PlotX::Epochs => "epochs",
        }
    }
}

/// A comparison's plot settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlotSettings {
    /// The training-loss curves' x axis; None: steps when the runs logged steps (network runs
    /// and test functions), else epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<PlotX>,
    /// TensorBoard's debiased exponential moving average of each seed's training loss, weight
    /// in [0, 1) (0: no smoothing).
    pub smooth: f64,
}

impl PlotSettings {
    pub fn is_default(&self) -> bool {
        *self == PlotSettings::default()
    }
}

/// A comparison's tuning protocol as the report needs it (`[comparison.tune]`, see
/// [`crate::tune`] and docs/experiments.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TuneInfo {
    /// The protocol: `equal_budget` (every value of the grid from the same tuning starts and
    /// seeds, for every optimizer).
    pub protocol: String,
    /// The tuned hyperparameter (usually `lr`).
    pub key: String,
    /// Its grid, as text, in order.
    pub values: Vec<String>,
    /// Random tuning starts per tuning seed (test functions; a random stream apart from the
    /// evaluation starts').
    pub starts: u32,
    /// Seeds of the tuning runs.
    pub seeds: Vec<u64>,
    /// The rule that picks the value: `median_score`.
    pub rule: String,
    /// The searched keys of `[comparison.search]` (empty: the one key `key` over `values`); with
    /// a search, each value is a trial as text, `lr=0.001 beta1=0.9` ([`crate::search`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// The AlgoPerf protocol's studies (0 for the others): `values` holds `studies` blocks of
    /// trials, block `s` run with tuning seed `seeds[s]` only.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub studies: u32,
    /// The AlgoPerf protocol's target on the validation metric of network runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ValTarget>,
    /// The pruner of the network tuning runs (`pruner = "median"` / `"asha"`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneRule>,
}

/// How tuning trials of network tasks are pruned between epochs (see [`crate::prune`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "pruner")]
pub enum PruneRule {
    /// Optuna's median rule: after `warmup_epochs` epochs, a trial whose best validation loss so
    /// far is worse than the median of the earlier completed trials' validation loss at the same
    /// epoch is pruned, once at least `startup_trials` earlier trials completed.
    Median { warmup_epochs: u32, startup_trials: u32 },
    /// Successive halving (ASHA): at the rungs `min_epochs · reduction^k` (below the last
    /// epoch), a trial goes on only if its validation loss there is among the best
    /// `1/reduction` of the earlier trials that reached the rung, itself included (the best one
    /// while fewer than `reduction` are there).
    Asha { min_epochs: u32, reduction: u32 },
}

impl PruneRule {
    pub fn name(&self) -> &'static str {
        match self {
            PruneRule::Median { .. } => "median",
            PruneRule::Asha { .. } => "asha",
        }
    }
}

impl std::fmt::Display for PruneRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PruneRule::Median { warmup_epochs, startup_trials } => {
                write!(f, "median rule (warm-up {warmup_epochs} epochs, {startup_trials} startup trials)")
            }
            PruneRule::Asha { min_epochs, reduction } => {
                write!(f, "successive halving (ASHA: first rung at epoch {min_epochs}, reduction {reduction})")
            }
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A target on the validation metric (`[comparison.tune] target_accuracy` / `target_val_loss`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValTarget {
    /// Validation accuracy at least this.
    Accuracy(f64),
    /// Validation loss at most this.
    ValLoss(f64),
}

impl ValTarget {
    /// Whether a point of a run's series meets the target.
    pub fn met(&self, p: &Point) -> bool {
        match *self {
            ValTarget::Accuracy(a) => p.accuracy.is_some_and(|x| x >= a),
            ValTarget::ValLoss(l) => p.val_loss.is_some_and(|x| x <= l),
        }
    }
}

impl TuneInfo {
    /// The (key, value) assignments of value `value` of the protocol: the tuned key and the value,
    /// or a search trial's keys and values.
    pub fn assignments(&self, value: &str) -> Vec<(String, String)> {
        if self.search.is_empty() {
            vec![(self.key.clone(), value.to_string())]
        } else {
            crate::search::parse_trial(value)
        }
    }

    /// The keys the protocol chooses.
    pub fn keys(&self) -> Vec<String> {
        if self.search.is_empty() {
            vec![self.key.clone()]
        } else {
            self.search.clone()
        }
    }

    /// The study of value number `i` (AlgoPerf), None for the other protocols.
    pub fn study_of(&self, i: usize) -> Option<u32> {
        (self.studies > 0).then(|| (i / (self.values.len() / self.studies as usize).max(1)) as u32)
    }

    /// A value as the tables show it: `lr=0.01` (a search trial is already `key=value` text).
    pub fn value_label(&self, value: &str) -> String {
        if self.search.is_empty() {
            format!("{}={value}", self.key)
        } else {
            value.to_string()
        }
    }
}

/// What marks a tuning run (phase one of a tuning protocol): the `tune` object of its
/// configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuneMark {
    /// The label of the configuration being tuned (the evaluation runs' label).
    pub base: String,
    pub key: String,
    pub value: String,
    /// The study of the run (the AlgoPerf protocol); absent for the other protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<u32>,
    /// The pruner of a network tuning run (part of its identity: a pruned trial is another
    /// result than a full one); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneRule>,
}

/// One run: a task, an optimizer with its resolved hyperparameters, a seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Hex hash of the canonical JSON of `config`: the run's identity for resuming and merging.
    pub hash: String,
    /// `ComparisonInfo::name` this run belongs to.
    pub comparison: String,
    pub task: String,
    /// Optimizer registry name (e.g. `adam`, `sgd`).
    pub optimizer: String,
    /// Legend label for the configuration (all seeds of one configuration share it), e.g.
    /// `adam beta1=0.9 beta2=0.99`.
    pub label: String,
    /// Value of each swept hyperparameter for this run, as text (`"0.9"`, `"32"`, `"cosine(...)"`).
    pub swept: BTreeMap<String, String>,
    pub seed: u64,
    /// The full resolved configuration (task settings, optimizer config, budget, seed).
    pub config: serde_json::Value,
    pub status: Status,
    /// Why the run failed or diverged.
    pub error: Option<String>,
    /// Wall time of the run in seconds.
    pub wall_s: f64,
    pub summary: Summary,
    pub series: Vec<Point>,
    /// Network runs: the logged steps (every `log_every` steps); empty for test functions and
    /// for runs stored before step logging.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_series: Vec<StepPoint>,
    /// Network runs with `grad_histograms`: the histograms of |g| and |update| of the logged
    /// steps (optlab-nn's `StepHistogram`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub histograms: Vec<optlab_nn::StepHistogram>,
    /// Network runs with `landscape = true`: the loss on a grid around the final weights
    /// (optlab-nn's `landscape::Surface`; in the store's `landscapes` table, not in JSON).
    #[serde(skip)]
    pub landscape: Option<optlab_nn::landscape::Surface>,
}

/// One logged step of a network run (optlab-nn's `StepReport`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepPoint {
    /// Optimizer steps taken before the batch (0-based global step index).
    pub step: u64,
    /// The epoch of the batch (1-based).
    pub epoch: u32,
    /// The batch's training loss.
    pub loss: f64,
    /// The default parameter group's learning rate for this batch's update.
    pub lr: Option<f64>,
    /// The global gradient norm of the batch before clipping.
    pub grad_norm: Option<f64>,
}

impl RunRecord {
    /// Whether the run trained a network (its settings are network settings).
    pub fn kind_is_network(&self) -> bool {
        self.config.get("settings").is_some_and(|s| s.get("network").is_some())
    }

    /// The mark of a tuning run (None for an evaluation run): its configuration's `tune` object.
    pub fn tuning(&self) -> Option<TuneMark> {
        self.config.get("tune").and_then(|t| serde_json::from_value(t.clone()).ok())
    }
}

/// The numbers a table shows for a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Optimizer steps taken.
    pub steps: u64,
    /// Epochs completed (networks only).
    pub epochs: Option<u32>,
    /// Training loss at the end (non-finite when diverged).
    pub final_loss: f64,
    /// Smallest training loss seen: for a network run, the smallest logged batch loss (its step
    /// series; the smallest per-epoch mean when it logged none); for a test function, the
    /// smallest f over its steps.
    pub min_loss: f64,
    /// Validation loss at the end, and the smallest seen (networks only).
    pub final_val_loss: Option<f64>,
    pub min_val_loss: Option<f64>,
    /// Validation accuracy in [0, 1] at the end, and the best seen (classifiers only).
    pub final_accuracy: Option<f64>,
    pub best_accuracy: Option<f64>,
    /// First step / wall time at which the loss reached the comparison's target for this task.
    pub steps_to_target: Option<u64>,
    pub time_to_target: Option<f64>,
    /// Why the run stopped: for a test function `reached`, `escaped`, `stalled`, `max_steps`,
    /// `diverged` or `time_limit` (docs/study.md); for a network `completed`, `step_budget`,
    /// `time_budget`, `early_stopped` or `diverged`. None for a failed run (and for runs stored by an
    /// older optlab).
    #[serde(default)]
    pub termination: Option<String>,
    /// Evaluations of f and its gradient (test functions: the run loop's, line searches
    /// included, so lbfgs compares with first-order optimizers per evaluation). None for network
    /// runs (one per step), failed runs and runs stored by an older optlab.
    #[serde(default)]
    pub evals: Option<u64>,
}

/// One point of a run's metric series.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Optimizer steps taken when the point was recorded.
    pub step: u64,
    /// Epochs completed (networks only).
    pub epoch: Option<u32>,
    /// Seconds since the run started.
    pub time_s: f64,
    /// Training loss (for a test function: f(x)).
    pub loss: f64,
    pub val_loss: Option<f64>,
    /// Validation accuracy in [0, 1].
    pub accuracy: Option<f64>,
    /// The iterate (test functions only).
    pub x: Option<Vec<f64>>,
}
