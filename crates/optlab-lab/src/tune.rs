//! Tuning protocols (`[comparison.tune]`): two-phase plans.
//!
//! Phase one runs every configuration of a comparison once per value of the tuned key's grid,
//! from the same tuning starts and seeds for every optimizer (the *equal-budget* protocol:
//! every optimizer gets the same number of runs of the same length). Those are the *tuning runs*:
//! stored like any run, marked by a `tune` object in their configuration ([`TuneMark`]: the
//! configuration tuned, the key, the value), and left out of the report's main tables. Phase two
//! (planned by [`crate::plan::Plan::with_results`] once every tuning run is stored) runs the
//! evaluation runs, each configuration with the value [`choose`] picked for it on its task.
//!
//! A protocol is a [`TuneInfo`] (what the experiment file says) and a rule; [`choose`] reads
//! the tuning runs only, so the plan, the report and `optlab functions study` agree on the
//! choice. The rule `median_score` (the test-function study's, docs/study.md):
//!
//! * the score of a run: for a test function, the final gap `f − f*` clipped below at the
//!   tolerance `ftol·max(1, |f*|)` (so every run that reached the tolerance scores the same), for
//!   functions without `f*` the final `f` clipped below at the lowest `f` over the domain (an
//!   escape scores that value); for a network, the final validation loss (the training loss
//!   without a validation set); a diverged or failed run scores `+∞`;
//! * the chosen value has the lowest median score over its runs; ties go to the lower median
//!   steps to success (test functions: reached or escaped; networks: steps to the comparison's
//!   target; `+∞` for runs without), then to the smaller value.

use std::collections::HashMap;

use crate::function_task::{Outcome, Problem, RunResult};
use crate::plan::{FunctionRun, TaskSettings};
use crate::record::{RunRecord, Status, TuneInfo, TuneMark, ValTarget};
use crate::stats::median;

/// One value of the grid on one configuration and task.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The value, as text (as in the experiment's `tune` grid; a search trial is
    /// `lr=0.001 beta1=0.9`).
    pub value: String,
    /// The study of the trial (the AlgoPerf protocol), None for the other protocols.
    pub study: Option<u32>,
    pub median_score: f64,
    pub median_steps: f64,
    /// Runs that succeeded (finite steps to success).
    pub successes: usize,
    pub runs: usize,
    /// The epochs reached by the runs the pruner stopped (`pruner`, [`crate::prune`]), in run
    /// order; empty when none was pruned.
    pub pruned: Vec<u32>,
    /// No tuning run has this value: the optimizer refuses it (out of its range).
    pub invalid: bool,
}

/// The tuning of one configuration (the evaluation runs' label) on one task.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuned {
    pub task: String,
    /// The configuration's label (that of its evaluation runs).
    pub base: String,
    /// The optimizer's registry name.
    pub optimizer: String,
    /// One per value of the grid, in grid order.
    pub trials: Vec<Trial>,
    /// Index of the chosen trial.
    pub chosen: Option<usize>,
    /// The AlgoPerf protocol's score: the median over studies of the best trial's steps to the
    /// target (`+∞` when the median study misses it); None for the other protocols.
    pub score: Option<f64>,
}

impl Tuned {
    /// The chosen value's text.
    pub fn chosen_value(&self) -> Option<&str> {
        self.chosen.map(|i| self.trials[i].value.as_str())
    }
}

/// The rule `median_score` over items: `key` gives (median score, median steps, value), or None
/// for an item that cannot be chosen; the lowest score wins, then the fewest steps, then the
/// smallest value. Returns the index of the winner.
pub fn pick_by<T>(items: &[T], key: impl Fn(&T) -> Option<(f64, f64, f64)>) -> Option<usize> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| key(t).map(|k| (i, k)))
        .min_by(|(_, a), (_, b)| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.total_cmp(&b.2)))
        .map(|(i, _)| i)
}

/// Test functions prepared once per (name, dimension, tolerance).
#[derive(Default)]
pub struct Problems(HashMap<(String, Option<usize>, u64), Option<Problem>>);

impl Problems {
    fn get(&mut self, task: &str, f: &FunctionRun) -> Option<&Problem> {
        self.0
            .entry((task.to_string(), f.dim, f.ftol.to_bits()))
            .or_insert_with(|| Problem::with_dim(task, f.dim, f.ftol).ok())
            .as_ref()
    }
}

/// The result of a stored test-function run as the study knows it (its outcome from the stored
/// termination; no final point). None for a run without a known outcome (failed).
pub fn function_result(run: &RunRecord) -> Option<RunResult> {
    let outcome = match run.status {
        Status::Failed | Status::Pruned => return None,
        Status::Diverged => Outcome::Diverged,
        Status::Ok => Outcome::from_name(run.summary.termination.as_deref()?)?,
    };
    Some(RunResult {
        outcome,
        steps: run.summary.steps,
        evals: run.summary.evals,
        final_f: run.summary.final_loss,
        final_x: run.series.last().and_then(|p| p.x.clone()).unwrap_or_default(),
        note: run.error.clone(),
    })
}

/// The score of a tuning run and its steps to success (see the module documentation).
pub fn score(run: &RunRecord, problems: &mut Problems) -> (f64, f64) {
    const FAIL: (f64, f64) = (f64::INFINITY, f64::INFINITY);
    let settings = run.config.get("settings").and_then(|s| serde_json::from_value::<TaskSettings>(s.clone()).ok());
    match settings {
        Some(TaskSettings::Function(f)) => {
            let (Some(p), Some(r)) = (problems.get(&run.task, &f), function_result(run)) else { return FAIL };
            (r.score(p), r.steps_to_success())
        }
        Some(TaskSettings::Network(_)) => {
            if run.status != Status::Ok {
                return FAIL;
            }
            let s = &run.summary;
            let v = s.final_val_loss.unwrap_or(s.final_loss);
            let steps = s.steps_to_target.map_or(f64::INFINITY, |n| n as f64);
            (if v.is_finite() { v } else { f64::INFINITY }, steps)
        }
        None => FAIL,
    }
}

/// Scores, steps and (for a pruned run) the epoch reached of the runs of each (study, value).
type ByValue = HashMap<(Option<u32>, String), Vec<(f64, f64, Option<u32>)>>;

/// The first step at which network run `run` met the validation target (its per-epoch series),
/// `+∞` when it never did (or diverged or failed; a pruned run counts up to its last epoch).
pub fn steps_to_val_target(run: &RunRecord, target: &ValTarget) -> f64 {
    // A pruned trial counts the epochs it ran: it may have met the target before it was pruned.
    if !matches!(run.status, Status::Ok | Status::Pruned) {
        return f64::INFINITY;
    }
    run.series.iter().find(|p| target.met(p)).map_or(f64::INFINITY, |p| p.step as f64)
}

/// The choice of protocol `tune` from the tuning runs of one comparison (others are ignored):
/// per task and configuration, in the order the runs come (plan order), every value of the grid
/// with its median score, and the value the rule picks.
pub fn choose(tune: &TuneInfo, runs: &[&RunRecord]) -> Vec<Tuned> {
    let mut problems = Problems::default();
    // (task, base) → value → (score, steps) of each run.
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut results: HashMap<(String, String), ByValue> = HashMap::new();
    for r in runs {
        let Some(TuneMark { base, key, value, study, .. }) = r.tuning() else { continue };
        if key != tune.key {
            continue;
        }
        let k = (r.task.clone(), base.clone());
        if !results.contains_key(&k) {
            order.push((r.task.clone(), base, r.optimizer.clone()));
        }
        let (sc, mut steps) = score(r, &mut problems);
        // AlgoPerf on a network: the steps to the validation target.
        if let Some(t) = tune.target.as_ref().filter(|_| tune.studies > 0 && r.kind_is_network()) {
            steps = steps_to_val_target(r, t);
        }
        let pruned = (r.status == Status::Pruned).then(|| r.summary.epochs.unwrap_or(0));
        results.entry(k).or_default().entry((study, value)).or_default().push((sc, steps, pruned));
    }
    order
        .into_iter()
        .map(|(task, base, optimizer)| {
            let by_value = &results[&(task.clone(), base.clone())];
            let trials: Vec<Trial> = tune
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| match by_value.get(&(tune.study_of(i), v.clone())) {
                    None => Trial {
                        value: v.clone(),
                        study: tune.study_of(i),
                        median_score: f64::INFINITY,
                        median_steps: f64::INFINITY,
                        successes: 0,
                        runs: 0,
                        pruned: Vec::new(),
                        invalid: true,
                    },
                    Some(rs) => Trial {
                        value: v.clone(),
                        study: tune.study_of(i),
                        median_score: median(rs.iter().map(|r| r.0)),
                        median_steps: median(rs.iter().map(|r| r.1)),
                        successes: rs.iter().filter(|r| r.1.is_finite()).count(),
                        runs: rs.len(),
                        pruned: rs.iter().filter_map(|r| r.2).collect(),
                        invalid: false,
                    },
                })
                .collect();
            // Ties go to the smaller value of a grid, to the earlier trial of a search.
            let order =
                |i: usize| if tune.search.is_empty() { trials[i].value.parse().unwrap_or(f64::NAN) } else { i as f64 };
            if tune.studies == 0 {
                let ix: Vec<usize> = (0..trials.len()).collect();
                let chosen = pick_by(&ix, |&i| {
                    let t = &trials[i];
                    (!t.invalid).then(|| (t.median_score, t.median_steps, order(i)))
                });
                return Tuned { task, base, optimizer, trials, chosen, score: None };
            }
            // AlgoPerf: per study its best trial (fewest steps to the target, then the lowest
            // score, then the earlier trial); the score is the median over studies of the best
            // trial's steps (a miss is +inf); the choice is the best trial of the median study
            // (the lower of the two middle ones for an even number).
            let mut best: Vec<(f64, f64, usize)> = Vec::new();
            for s in 0..tune.studies {
                let ix: Vec<usize> = (0..trials.len()).filter(|&i| trials[i].study == Some(s)).collect();
                let b = pick_by(&ix, |&i| {
                    let t = &trials[i];
                    (!t.invalid).then_some((t.median_steps, t.median_score, i as f64))
                });
                if let Some(b) = b {
                    let i = ix[b];
                    best.push((trials[i].median_steps, trials[i].median_score, i));
                }
            }
            best.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            let mid = best.get(best.len().saturating_sub(1) / 2);
            let score = Some(median(best.iter().map(|b| b.0)));
            Tuned { task, base, optimizer, trials, chosen: mid.map(|m| m.2), score }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_takes_the_lowest_score_then_fewest_steps_then_smallest_value() {
        let k = |v: &(f64, f64, f64)| Some(*v);
        assert_eq!(pick_by(&[(1e-6, 50.0, 0.1), (1e-6, 20.0, 0.2), (1e-3, 1.0, 0.3)], k), Some(1));
        assert_eq!(pick_by(&[(1e-6, 20.0, 0.3), (1e-6, 20.0, 0.2)], k), Some(1));
        assert_eq!(pick_by(&[(f64::INFINITY, f64::INFINITY, 0.3), (5.0, f64::INFINITY, 0.2)], k), Some(1));
        // Items that cannot be chosen are skipped; none left: no choice.
        assert_eq!(pick_by(&[(0.0, 0.0, 0.1), (1.0, 1.0, 0.2)], |v| (v.2 > 0.15).then_some(*v)), Some(1));
        assert_eq!(pick_by(&[(0.0, 0.0, 0.1)], |_| None::<(f64, f64, f64)>), None);
    }
}
