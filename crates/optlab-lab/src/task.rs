//! What runs a task: the [`TaskRunner`] trait the `optlab` binary implements (test functions
//! with [`crate::function_task`], networks with optlab-nn), and the job a network run is given.

use std::sync::atomic::AtomicBool;

use optlab_nn::NetworkSettings;
use optlab_optim::OptimConfig;
use serde::{Deserialize, Serialize};

use crate::plan::{RunSpec, TaskSettings};
use crate::prune::Pruner;
use crate::record::{Point, RunRecord, Status, StepPoint, Summary};

/// What a task runner reports for one run; the runner adds the identity, the configuration and
/// the wall time to make the [`RunRecord`].
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    pub status: Status,
    /// Why the run failed or diverged.
    pub error: Option<String>,
    /// `steps_to_target`/`time_to_target` may be left `None`: they are filled from the series
    /// and the comparison's target.
    pub summary: Summary,
    pub series: Vec<Point>,
    /// Network runs: the logged steps.
    pub step_series: Vec<StepPoint>,
    /// Network runs with `grad_histograms`: the histograms of the logged steps.
    pub histograms: Vec<optlab_nn::StepHistogram>,
    /// Network runs with `landscape = true`: the loss on the grid around the final weights.
    pub landscape: Option<optlab_nn::landscape::Surface>,
}

impl RunOutput {
    /// A run that could not be carried out.
    pub fn failed(error: impl Into<String>) -> RunOutput {
        RunOutput {
            status: Status::Failed,
            error: Some(error.into()),
            summary: Summary { final_loss: f64::NAN, min_loss: f64::NAN, ..Summary::default() },
            series: Vec::new(),
            step_series: Vec::new(),
            histograms: Vec::new(),
            landscape: None,
        }
    }
}

/// Runs one run of the plan. Implementations must be deterministic in `spec` (apart from wall
/// times and time budgets) and should return soon after `cancel` becomes true (the result is
/// then discarded and the run is done again next time).
pub trait TaskRunner: Send + Sync {
    fn run(&self, spec: &RunSpec, cancel: &AtomicBool) -> RunOutput;

    /// Runs a tuning trial that `pruner` may stop between epochs ([`crate::prune`]). The
    /// default runs it whole with [`TaskRunner::run`] and then cuts the output where the pruner
    /// would have stopped it ([`cut_at_pruning`]): the same record, without saving the time;
    /// [`crate::lab_tasks::LabTasks`] stops the training instead.
    fn run_pruned(&self, spec: &RunSpec, pruner: &Pruner, cancel: &AtomicBool) -> RunOutput {
        cut_at_pruning(self.run(spec, cancel), pruner)
    }
}

/// The output of a completed run cut after the first epoch at which `pruner` stops it (status
/// [`Status::Pruned`], the pruner's reason as the error, termination `pruned`, the summary's
/// figures those of the epochs kept); unchanged when the pruner lets it run through or the run
/// did not end `ok`.
pub fn cut_at_pruning(mut out: RunOutput, pruner: &Pruner) -> RunOutput {
    if out.status != Status::Ok {
        return out;
    }
    let mut own = Vec::new();
    let mut cut = None;
    for (i, p) in out.series.iter().enumerate() {
        if p.epoch.is_none() {
            continue;
        }
        own.push(crate::prune::metric(p));
        if let Some(why) = pruner.decide(&own) {
            cut = Some((i, why));
            break;
        }
    }
    let Some((i, why)) = cut else { return out };
    out.series.truncate(i + 1);
    let last = out.series[i].clone();
    let epoch = last.epoch.unwrap_or(0);
    out.step_series.retain(|s| s.epoch <= epoch);
    out.histograms.retain(|h| h.step < last.step);
    out.status = Status::Pruned;
    out.error = Some(why);
    let s = &mut out.summary;
    let fin = |v: Option<f64>| v.filter(|x| x.is_finite());
    s.steps = last.step;
    s.epochs = Some(epoch);
    s.final_loss = last.loss;
    // As a network run's: the smallest logged batch loss, else the smallest epoch mean.
    let finite_min = |v: &mut dyn Iterator<Item = f64>| v.filter(|x| x.is_finite()).reduce(f64::min);
    s.min_loss = finite_min(&mut out.step_series.iter().map(|p| p.loss))
        .or_else(|| finite_min(&mut out.series.iter().map(|p| p.loss)))
        .unwrap_or(f64::NAN);
    s.final_val_loss = last.val_loss;
    s.min_val_loss = out.series.iter().filter_map(|p| fin(p.val_loss)).reduce(f64::min);
    s.final_accuracy = last.accuracy;
    s.best_accuracy = out.series.iter().filter_map(|p| fin(p.accuracy)).reduce(f64::max);
    s.steps_to_target = None;
    s.time_to_target = None;
    s.termination = Some("pruned".into());
    out
}

/// Everything a network run needs (what optlab-nn's trainer is given): the plan's
/// [`NetworkSettings`] as they are, with the task, the optimizer and the seed of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkJob {
    /// One of `optlab_nn::TASKS`.
    pub task: String,
    pub optimizer: OptimConfig,
    pub seed: u64,
    pub net: NetworkSettings,
}

impl NetworkJob {
    /// The job of a network run (None for a test-function run).
    pub fn from_spec(spec: &RunSpec) -> Option<NetworkJob> {
        let TaskSettings::Network(n) = &spec.settings else { return None };
        Some(NetworkJob { task: spec.task.clone(), optimizer: spec.optimizer.clone(), seed: spec.seed, net: n.clone() })
    }
}

/// The first point whose loss is at or below `target`: its step and time.
pub fn first_at_target(series: &[Point], target: f64) -> Option<(u64, f64)> {
    series.iter().find(|p| p.loss <= target).map(|p| (p.step, p.time_s))
}

/// The record of a run: identity and configuration from `spec`, results from `out`.
pub fn make_record(spec: &RunSpec, out: RunOutput, wall_s: f64) -> RunRecord {
    let mut summary = out.summary;
    if let Some(t) = spec.target {
        if summary.steps_to_target.is_none() && summary.time_to_target.is_none() {
            if let Some((s, ts)) = first_at_target(&out.series, t) {
                summary.steps_to_target = Some(s);
                summary.time_to_target = Some(ts);
            }
        }
    }
    RunRecord {
        hash: spec.hash.clone(),
        comparison: spec.comparison.clone(),
        task: spec.task.clone(),
        optimizer: spec.optimizer.name.clone(),
        label: spec.label.clone(),
        swept: spec.swept.clone(),
        seed: spec.seed,
        config: spec.config(),
        status: out.status,
        error: out.error,
        wall_s,
        summary,
        series: out.series,
        step_series: out.step_series,
        histograms: out.histograms,
        landscape: out.landscape,
    }
}

/// Keeps at most `max` points of a series, evenly spread by position, always with the first and
/// the last (for a series no longer than `max`, all of them).
pub fn thin<T: Clone>(series: &[T], max: usize) -> Vec<T> {
    let n = series.len();
    if n <= max || max < 2 {
        return series.to_vec();
    }
    let mut out = Vec::with_capacity(max);
    let mut last = usize::MAX;
    for k in 0..max {
        let i = ((k as u128 * (n - 1) as u128) / (max - 1) as u128) as usize;
        if i != last {
            out.push(series[i].clone());
            last = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_at_target_finds_the_first_point() {
        let pts: Vec<Point> = [5.0, 2.0, 0.5, 0.1, 0.7]
            .iter()
            .enumerate()
            .map(|(i, &l)| Point { step: i as u64 * 10, time_s: i as f64, loss: l, ..Point::default() })
            .collect();
        assert_eq!(first_at_target(&pts, 1.0), Some((20, 2.0)));
        assert_eq!(first_at_target(&pts, 0.01), None);
    }

    proptest! {
        #[test]
        fn thin_keeps_ends_and_bound(n in 0usize..5000, max in 2usize..300) {
            let v: Vec<usize> = (0..n).collect();
            let t = thin(&v, max);
            prop_assert!(t.len() <= max.max(n.min(max)));
            if n > 0 {
                prop_assert_eq!(t[0], 0);
                prop_assert_eq!(*t.last().unwrap(), n - 1);
            }
            prop_assert!(t.windows(2).all(|w| w[0] < w[1]));
            if n <= max { prop_assert_eq!(t.len(), n); }
        }
    }
}
