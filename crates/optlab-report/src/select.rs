//! Which configurations a plot draws when a comparison has too many to tell apart: beyond
//! [`MAX_DRAWN`] configurations on a task, only the best configuration of each optimizer family
//! (see [`Config::family`]) is drawn; the table keeps them all.
//!
//! The best configuration of a family on a task has the lowest median final loss over its OK
//! seeds; ties go to fewer steps (median over the OK seeds), then to the earlier configuration
//! in table order. A configuration without any OK seed is chosen only when no configuration of
//! the family has one.

use crate::group::{Comparison, Config};
use crate::stats::Spread;
use std::cmp::Ordering;

/// Most configurations a loss-curve, trajectory, target or profile plot draws per task before it
/// falls back to the best configuration per optimizer.
pub const MAX_DRAWN: usize = 10;

/// How a configuration ranks: `(no OK seed, median final loss, median steps)`, smaller is
/// better; medians over the OK seeds (`+∞` when there is none).
pub fn score(cfg: &Config) -> (bool, f64, f64) {
    let median = |f: &dyn Fn(&optlab_lab::record::RunRecord) -> f64| {
        Spread::finite(cfg.ok_runs().map(f)).map_or(f64::INFINITY, |s| s.median)
    };
    let ok = cfg.ok_runs().next().is_some();
    (!ok, median(&|r| r.summary.final_loss), median(&|r| r.summary.steps as f64))
}

fn compare(a: &(bool, f64, f64), b: &(bool, f64, f64)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| a.1.total_cmp(&b.1)).then_with(|| a.2.total_cmp(&b.2))
}

/// The best of some configurations (the first of equals); `None` when there is none.
pub fn best_of<'c, 'a>(configs: impl IntoIterator<Item = &'c Config<'a>>) -> Option<&'c Config<'a>>
where
    'a: 'c,
{
    let mut best: Option<(&Config, (bool, f64, f64))> = None;
    for c in configs {
        let s = score(c);
        if best.as_ref().is_none_or(|(_, b)| compare(&s, b) == Ordering::Less) {
            best = Some((c, s));
        }
    }
    best.map(|(c, _)| c)
}

/// The best configuration of each family on a task, in the order of [`Comparison::families`].
pub fn best_per_family<'c, 'a>(cmp: &'c Comparison<'a>, task: &str) -> Vec<&'c Config<'a>> {
    cmp.families.iter().filter_map(|f| best_of(cmp.configs_of(task).filter(|c| &c.family == f))).collect()
}

/// The configurations a plot of a task draws.
#[derive(Clone, Debug)]
pub struct Drawn<'c, 'a> {
    pub configs: Vec<&'c Config<'a>>,
    /// Whether only the best configuration per family is drawn.
    pub reduced: bool,
}

/// Every configuration of the task when there are at most [`MAX_DRAWN`], else the best per
/// family (when that is fewer).
pub fn drawn<'c, 'a>(cmp: &'c Comparison<'a>, task: &str) -> Drawn<'c, 'a> {
    let all: Vec<&Config> = cmp.configs_of(task).collect();
    if all.len() <= MAX_DRAWN {
        return Drawn { configs: all, reduced: false };
    }
    let best = best_per_family(cmp, task);
    if best.len() >= all.len() {
        return Drawn { configs: all, reduced: false };
    }
    Drawn { configs: best, reduced: true }
}

/// Whether any task of the comparison has more configurations than [`MAX_DRAWN`] (then its
/// plots draw the best configuration per family).
pub fn is_reduced(cmp: &Comparison, task: &str) -> bool {
    drawn(cmp, task).reduced
}

/// What the choice was made over, for titles: `lr` or `beta1 × beta2` (the swept keys), or
/// `configuration` when nothing is swept.
pub fn swept_words(cmp: &Comparison) -> String {
    if cmp.info.swept.is_empty() {
        "configuration".into()
    } else {
        cmp.info.swept.join(" × ")
    }
}

/// Whether a family has more than one configuration on some task (then a "best configuration
/// per optimizer" table says something the full table does not at a glance).
pub fn has_choices(cmp: &Comparison) -> bool {
    cmp.tasks.iter().any(|t| {
        let n = cmp.configs_of(t).count();
        n > 0 && best_per_family(cmp, t).len() < n
    })
}
