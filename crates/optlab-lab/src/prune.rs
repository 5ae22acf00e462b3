//! Pruning of tuning trials between epochs of network runs (`pruner = "median"` / `"asha"`).
//!
//! A *pruning group* is the tuning runs of one configuration (the evaluation runs' label, the
//! [`TuneMark`]'s `base`) on one task of one comparison, and of one study for the AlgoPerf
//! protocol: the trials that compete for that configuration's choice. After each epoch but the
//! last, a trial asks its [`Pruner`] whether to stop; the pruner compares the trial's per-epoch
//! metric (the validation loss; the training loss when `val_fraction = 0`) with the *earlier
//! trials* of its group at the same epoch:
//!
//! * the earlier trials are those of the group that come before it in plan order **and run in
//!   the same shard** (the whole plan without `--shard`): [`earlier_trials`];
//! * a trial starts only once every earlier trial of its group is stored ([`crate::runner::run`]
//!   holds it back while one is being run), so each decision reads a complete, fixed set of
//!   stored curves, never depending on timing: resuming an interrupted run, any `--jobs`, or
//!   running a shard again on a store that merged the other shards' runs gives the same records.
//!   A different shard count gives other groups of earlier trials, so it may prune differently;
//!   and a failed earlier trial counts as having no curve (retrying it later does not re-decide
//!   the trials already stored). docs/experiments.md, "Pruning", says the same.
//!
//! A pruned run is stored with status [`Status::Pruned`], the epoch it reached in
//! `Summary::epochs`, termination `pruned` and the pruner's reason as its error; the tuning
//! protocol scores it `+∞` (it cannot be chosen, except by the AlgoPerf protocol when it met the
//! target before it was pruned).

use crate::plan::{RunSpec, TaskSettings};
use crate::record::{Point, PruneRule, Status, TuneMark};
use crate::stats::median;

/// The per-epoch metric of an earlier trial of a group: `values[e - 1]` at the end of epoch `e`.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub status: Status,
    pub values: Vec<f64>,
}

impl Curve {
    /// A stored run's curve from its per-epoch series (a diverged run's last point, the partial
    /// epoch it diverged in, is left out; a failed run has none).
    pub fn of(status: Status, series: &[Point]) -> Curve {
        let mut values: Vec<f64> = series.iter().filter(|p| p.epoch.is_some()).map(metric).collect();
        if status == Status::Diverged {
            values.pop();
        }
        if status == Status::Failed {
            values.clear();
        }
        Curve { status, values }
    }
}

/// The metric pruning compares (lower is better): the validation loss, or the training loss
/// without validation; a non-finite value is `+∞`.
pub fn metric(p: &Point) -> f64 {
    finite(p.val_loss.unwrap_or(p.loss))
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::INFINITY
    }
}

/// What a trial prunes with: the rule, the run's epochs, and the earlier trials of its group.
#[derive(Clone, Debug, PartialEq)]
pub struct Pruner {
    pub rule: PruneRule,
    /// The run's epochs: no decision after the last.
    pub epochs: u32,
    pub earlier: Vec<Curve>,
}

/// ASHA's rungs below `epochs`: `min · reduction^k`.
pub fn rungs(min_epochs: u32, reduction: u32, epochs: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut r = u64::from(min_epochs.max(1));
    while r < u64::from(epochs) {
        out.push(r as u32);
        r *= u64::from(reduction.max(2));
    }
    out
}

impl Pruner {
    /// Whether to stop the trial after epoch `own.len()`, given its metric at epochs
    /// `1..=own.len()` ([`metric`]): `Some(reason)` to prune.
    pub fn decide(&self, own: &[f64]) -> Option<String> {
        let e = own.len();
        if e == 0 || e >= self.epochs as usize {
            return None;
        }
        let at = |c: &Curve| c.values.get(e - 1).copied();
        match self.rule {
            PruneRule::Median { warmup_epochs, startup_trials } => {
                if e <= warmup_epochs as usize {
                    return None;
                }
                let done: Vec<f64> = self.earlier.iter().filter(|c| c.status == Status::Ok).filter_map(at).collect();
                if done.len() < startup_trials.max(1) as usize {
                    return None;
                }
                let m = median(done.iter().copied());
                let best = own.iter().copied().map(finite).fold(f64::INFINITY, f64::min);
                (best > m).then(|| {
                    format!(
                        "pruned after epoch {e} by the median rule: best validation loss {} so far is worse than the median {} of {} earlier completed trials at epoch {e}",
                        fmt(best),
                        fmt(m),
                        done.len()
                    )
                })
            }
            PruneRule::Asha { min_epochs, reduction } => {
                let rs = rungs(min_epochs, reduction, self.epochs);
                let k = rs.iter().position(|&r| r as usize == e)?;
                let v = finite(own[e - 1]);
                let mut competing: Vec<f64> = self.earlier.iter().filter_map(at).collect();
                competing.push(v);
                competing.sort_by(f64::total_cmp);
                let keep = (competing.len() / reduction as usize).max(1);
                let cut = competing[keep - 1];
                (v > cut).then(|| {
                    format!(
                        "pruned after epoch {e} by successive halving: validation loss {} at rung {} is not among the best {keep} of the {} trials that reached it (cut-off {})",
                        fmt(v),
                        k + 1,
                        competing.len(),
                        fmt(cut)
                    )
                })
            }
        }
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.4}")
}

/// The pruning group of a run: (comparison, task, configuration, study); None for a run that is
/// not pruned (an evaluation run, a test function, a comparison without a pruner).
pub fn group_of(spec: &RunSpec) -> Option<(&str, &str, &str, Option<u32>)> {
    let TuneMark { base, study, prune, .. } = spec.tune.as_ref()?;
    prune.as_ref()?;
    matches!(spec.settings, TaskSettings::Network(_)).then_some((
        spec.comparison.as_str(),
        spec.task.as_str(),
        base.as_str(),
        *study,
    ))
}

/// For each pruned run among `selected` (a plan's runs of one shard, in plan order), the
/// earlier runs of its group among `selected`, in plan order.
pub fn earlier_trials<'p>(selected: &[&'p RunSpec]) -> std::collections::HashMap<usize, Vec<&'p RunSpec>> {
    let mut groups: std::collections::HashMap<(&str, &str, &str, Option<u32>), Vec<&RunSpec>> = Default::default();
    let mut out = std::collections::HashMap::new();
    for &r in selected {
        if let Some(g) = group_of(r) {
            let before = groups.entry(g).or_default();
            out.insert(r.index, before.clone());
            before.push(r);
        }
    }
    out
}

/// The rule and epochs of a pruned run (None for a run that is not pruned).
pub fn rule_of(spec: &RunSpec) -> Option<(PruneRule, u32)> {
    group_of(spec)?;
    let TaskSettings::Network(n) = &spec.settings else { return None };
    Some((spec.tune.as_ref()?.prune?, n.epochs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(values: &[f64]) -> Curve {
        Curve { status: Status::Ok, values: values.to_vec() }
    }

    fn median_rule(warmup: u32, startup: u32, earlier: Vec<Curve>) -> Pruner {
        Pruner { rule: PruneRule::Median { warmup_epochs: warmup, startup_trials: startup }, epochs: 5, earlier }
    }

    #[test]
    fn the_median_rule_compares_the_best_so_far_with_the_median_of_completed_trials() {
        let earlier = vec![
            ok(&[1.0, 0.8, 0.6, 0.5, 0.4]),
            ok(&[1.2, 0.9, 0.7, 0.6, 0.5]),
            ok(&[0.9, 0.5, 0.4, 0.3, 0.2]),
            // Not completed: pruned and diverged trials are not in the median.
            Curve { status: Status::Pruned, values: vec![5.0, 0.01] },
            Curve { status: Status::Diverged, values: vec![0.001, 0.001, 0.001] },
        ];
        let p = median_rule(1, 2, earlier.clone());
        // Epoch 1 is the warm-up.
        assert_eq!(p.decide(&[9.0]), None);
        // Epoch 2: median of 0.8, 0.9, 0.5 is 0.8; best so far 0.85 > 0.8: pruned.
        let why = p.decide(&[9.0, 0.85]).unwrap();
        assert!(why.contains("after epoch 2") && why.contains("median 0.8000 of 3 earlier"), "{why}");
        // Best so far (epoch 1's 0.7) counts, not the current value.
        assert_eq!(p.decide(&[0.7, 0.85]), None);
        // Equal to the median is kept (strictly worse is pruned).
        assert_eq!(p.decide(&[9.0, 0.8]), None);
        // Epoch 3: median of 0.6, 0.7, 0.4 is 0.6.
        assert!(p.decide(&[9.0, 0.8, 0.65]).is_some());
        assert_eq!(p.decide(&[9.0, 0.8, 0.6]), None);
        // Never after the last epoch.
        assert_eq!(p.decide(&[9.0; 5]), None);
        // Too few completed trials: no decision.
        assert_eq!(median_rule(1, 4, earlier.clone()).decide(&[9.0, 9.0]), None);
        // A longer warm-up.
        assert_eq!(median_rule(2, 2, earlier.clone()).decide(&[9.0, 9.0]), None);
        assert!(median_rule(2, 2, earlier).decide(&[9.0, 9.0, 9.0]).is_some());
        // No earlier trial: the first trial always runs through.
        assert_eq!(median_rule(0, 1, vec![]).decide(&[f64::INFINITY]), None);
    }

    #[test]
    fn asha_rungs_are_geometric_below_the_last_epoch() {
        assert_eq!(rungs(1, 3, 27), [1, 3, 9]);
        assert_eq!(rungs(1, 3, 28), [1, 3, 9, 27]);
        assert_eq!(rungs(2, 2, 20), [2, 4, 8, 16]);
        assert_eq!(rungs(5, 3, 5), Vec::<u32>::new());
    }

    #[test]
    fn asha_keeps_the_best_fraction_at_each_rung() {
        let asha =
            |earlier: Vec<Curve>| Pruner { rule: PruneRule::Asha { min_epochs: 1, reduction: 3 }, epochs: 9, earlier };
        // No earlier trial: the trial is the best at its rung.
        assert_eq!(asha(vec![]).decide(&[5.0]), None);
        // One earlier trial (2 at the rung, 2/3 → keep 1): only the better goes on.
        assert!(asha(vec![ok(&[1.0; 9])]).decide(&[2.0]).is_some());
        assert_eq!(asha(vec![ok(&[1.0; 9])]).decide(&[0.5]), None);
        // Pruned trials count at the rungs they reached.
        let earlier = vec![
            ok(&[0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]),
            Curve { status: Status::Pruned, values: vec![0.9] },
            Curve { status: Status::Pruned, values: vec![0.7] },
            ok(&[0.6, 0.5, 0.45, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]),
            Curve { status: Status::Pruned, values: vec![0.8, 0.7, 0.6] },
        ];
        // Rung 1 (epoch 1): 6 trials with this one, keep 2: cut-off 0.6.
        assert_eq!(asha(earlier.clone()).decide(&[0.55]), None);
        let why = asha(earlier.clone()).decide(&[0.65]).unwrap();
        assert!(why.contains("rung 1") && why.contains("best 2 of the 6") && why.contains("cut-off 0.6000"), "{why}");
        // Epoch 2 is no rung.
        assert_eq!(asha(earlier.clone()).decide(&[0.55, 9.0]), None);
        // Rung 2 (epoch 3): 4 trials with this one (three reached it), keep 1: cut-off the best.
        assert!(asha(earlier.clone()).decide(&[0.55, 0.5, 0.35]).is_some());
        assert_eq!(asha(earlier).decide(&[0.55, 0.5, 0.25]), None);
    }

    #[test]
    fn curves_leave_out_a_divergences_partial_epoch() {
        let pts: Vec<Point> = [0.5, 0.4, f64::NAN]
            .iter()
            .enumerate()
            .map(|(i, &v)| Point { epoch: Some(i as u32 + 1), loss: 1.0, val_loss: Some(v), ..Point::default() })
            .collect();
        assert_eq!(Curve::of(Status::Diverged, &pts).values, [0.5, 0.4]);
        assert_eq!(Curve::of(Status::Ok, &pts).values, [0.5, 0.4, f64::INFINITY]);
        assert!(Curve::of(Status::Failed, &pts).values.is_empty());
        // Without validation: the training loss.
        let p = Point { epoch: Some(1), loss: 0.3, ..Point::default() };
        assert_eq!(metric(&p), 0.3);
    }
}
