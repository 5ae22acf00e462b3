//! The answer a report opens with, per comparison and task: which optimizer reaches the target
//! first (or, without a target or when no optimizer reached it, ends lowest), by how much, with
//! bootstrap intervals over seeds, and whether the difference is significant; then the AlgoPerf
//! score of each optimizer, its geometric-mean speed-up against the comparison's `baseline`, and
//! each optimizer's sensitivity to the hyperparameters that vary.
//!
//! An optimizer here is a family (see [`crate::group::Config::family`]): on each task, the
//! family's configuration that is best under the task's criterion stands for it. The values over
//! seeds (and random starts) are those of the runs that did not fail: a diverged run counts as
//! never reaching the target and as an infinite final loss; failed runs are left out (they have no
//! result). Medians use `+∞` for "never" (see [`crate::stats`]).
//!
//! - **Steps to the target** ("reaches the target first"): on a task with a target that some
//!   configuration's median run reached. The margin is the ratio of the runner-up's median steps
//!   to the winner's ("3.1× fewer steps").
//! - **Final loss** ("ends lowest"): otherwise. The margin is the runner-up's median final
//!   training loss minus the winner's.
//!
//! Intervals are percentile bootstraps ([`crate::scores::bootstrap`], [`crate::scores::RESAMPLES`]
//! resamples, 95 %) with a seed derived from the comparison, task and configurations; the test
//! is a two-sided Mann–Whitney U test of the winner's runs against the runner-up's, exact up to
//! [`crate::scores::EXACT_MAX`] runs in all, at level [`crate::scores::ALPHA`].

use crate::format::{cmp_values, num};
use crate::group::{Comparison, Config};
use crate::html::escape;
use crate::scores::{self, bootstrap, mann_whitney, median, seed_of, Interval, MannWhitney};
use crate::table::Table;
use optlab_lab::record::{RunRecord, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// What a task's winner is chosen by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Criterion {
    /// Fewest steps until the training loss reached `target` (median over the runs).
    Steps { target: f64 },
    /// Lowest final training loss (median over the runs).
    FinalLoss,
}

/// One optimizer (family) on a task, with its best configuration there.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub family: String,
    pub label: String,
    /// The criterion's value of each run that did not fail (`+∞`: never reached / diverged).
    pub values: Vec<f64>,
    pub median: f64,
    /// Bootstrap interval of the median.
    pub ci: Option<Interval>,
    pub diverged: usize,
    pub failed: usize,
}

/// How much the winner is ahead of the runner-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Margin {
    /// Steps: runner-up's median / winner's; final loss: runner-up's median − winner's.
    pub value: f64,
    pub ci: Option<Interval>,
    pub test: Option<MannWhitney>,
}

/// The answer for one task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskVerdict {
    pub task: String,
    pub criterion: Criterion,
    /// Best first; families without a run that did not fail are left out.
    pub entries: Vec<Entry>,
    /// Between the first two entries.
    pub margin: Option<Margin>,
}

/// The values of a configuration's runs under a criterion (failed runs left out).
fn values(cfg: &Config, criterion: Criterion) -> Vec<f64> {
    cfg.runs
        .iter()
        .filter(|r| r.status != Status::Failed)
        .map(|r| match (criterion, r.status) {
            (_, Status::Diverged) => f64::INFINITY,
            (Criterion::Steps { .. }, _) => r.summary.steps_to_target.map_or(f64::INFINITY, |s| s as f64),
            (Criterion::FinalLoss, _) => {
                let l = r.summary.final_loss;
                if l.is_nan() {
                    f64::INFINITY
                } else {
                    l
                }
            }
        })
        .collect()
}

fn final_losses(cfg: &Config) -> Vec<f64> {
    values(cfg, Criterion::FinalLoss)
}

/// The best configuration of each family on a task under `criterion` (ties: lower median final
/// loss, then the earlier configuration), as entries best first.
fn entries(cmp: &Comparison, task: &str, criterion: Criterion) -> Vec<Entry> {
    let mut best: Vec<(&Config, Vec<f64>, f64, f64)> = Vec::new();
    for cfg in cmp.configs_of(task) {
        let v = values(cfg, criterion);
        if v.is_empty() {
            continue;
        }
        let (m, tie) = (median(&v), median(&final_losses(cfg)));
        match best.iter_mut().find(|b| b.0.family == cfg.family) {
            Some(b) => {
                if m.total_cmp(&b.2).then(tie.total_cmp(&b.3)).is_lt() {
                    *b = (cfg, v, m, tie);
                }
            }
            None => best.push((cfg, v, m, tie)),
        }
    }
    best.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.3.total_cmp(&b.3)));
    best.into_iter()
        .map(|(cfg, v, m, _)| {
            let seed = seed_of(&[&cmp.info.name, task, &cfg.label, "median"]);
            Entry {
                family: cfg.family.clone(),
                label: cfg.label.clone(),
                ci: bootstrap(std::slice::from_ref(&v), seed, |g| median(&g[0])),
                median: m,
                values: v,
                diverged: cfg.count(Status::Diverged),
                failed: cfg.count(Status::Failed),
            }
        })
        .collect()
}

/// The verdict of one task.
pub fn task_verdict(cmp: &Comparison, task: &str) -> Option<TaskVerdict> {
    let mut criterion = Criterion::FinalLoss;
    if let Some(&target) = cmp.info.targets.get(task) {
        let c = Criterion::Steps { target };
        if cmp.configs_of(task).any(|cfg| median(&values(cfg, c)).is_finite()) {
            criterion = c;
        }
    }
    let entries = entries(cmp, task, criterion);
    if entries.is_empty() {
        return None;
    }
    let margin = (entries.len() >= 2).then(|| {
        let (w, r) = (&entries[0], &entries[1]);
        let f = |runner: f64, winner: f64| match criterion {
            Criterion::Steps { .. } => scores::ratio(runner, winner),
            Criterion::FinalLoss => scores::difference(runner, winner),
        };
        let seed = seed_of(&[&cmp.info.name, task, &w.label, &r.label, "margin"]);
        Margin {
            value: f(r.median, w.median),
            ci: bootstrap(&[w.values.clone(), r.values.clone()], seed, |g| f(median(&g[1]), median(&g[0]))),
            test: mann_whitney(&w.values, &r.values),
        }
    });
    Some(TaskVerdict { task: task.to_string(), criterion, entries, margin })
}

/// Every task's verdict, in task order.
pub fn verdicts(cmp: &Comparison) -> Vec<TaskVerdict> {
    cmp.tasks.iter().filter_map(|t| task_verdict(cmp, t)).collect()
}

fn interval_text(ci: &Option<Interval>, fmt: impl Fn(f64) -> String) -> String {
    match ci {
        Some(i) => format!("95% CI {} to {}", fmt(i.lo), fmt(i.hi)),
        None => "no interval".into(),
    }
}

fn times(x: f64) -> String {
    format!("{}×", num(x))
}

fn test_text(t: &Option<MannWhitney>) -> String {
    match t {
        None => "no test".into(),
        Some(t) => {
            let verdict = if t.significant() {
                format!("significant at {}", num(scores::ALPHA))
            } else {
                format!("not significant at {}", num(scores::ALPHA))
            };
            let floor = if t.min_p > scores::ALPHA {
                format!(
                    "; with {} and {} runs no outcome could be (smallest possible p = {})",
                    t.n_a,
                    t.n_b,
                    num(t.min_p)
                )
            } else {
                String::new()
            };
            format!(
                "{verdict} (two-sided Mann–Whitney U{}, p = {}, {} vs {} runs{floor})",
                if t.exact { ", exact" } else { ", normal approximation" },
                num(t.p),
                t.n_a,
                t.n_b
            )
        }
    }
}

fn runs_word(n: usize) -> String {
    format!("{n} run{}", if n == 1 { "" } else { "s" })
}

/// The verdict of a task as one sentence (plain text; the HTML escapes it).
pub fn sentence(v: &TaskVerdict) -> String {
    let w = &v.entries[0];
    let who = if w.label == w.family { w.family.clone() } else { format!("{} ({})", w.family, w.label) };
    let head = match v.criterion {
        Criterion::Steps { target } => format!(
            "{who} reaches loss {} first: median {} steps ({}) over {}",
            num(target),
            num(w.median),
            interval_text(&w.ci, num),
            runs_word(w.values.len())
        ),
        Criterion::FinalLoss => {
            let why = if v.entries.iter().all(|e| e.median.is_infinite()) { " (every run diverged)" } else { "" };
            format!(
                "{who} ends lowest{why}: median final loss {} ({}) over {}",
                num(w.median),
                interval_text(&w.ci, num),
                runs_word(w.values.len())
            )
        }
    };
    let Some(m) = &v.margin else {
        return format!("{head}; it is the only optimizer with a result.");
    };
    let r = &v.entries[1];
    let by = match v.criterion {
        Criterion::Steps { .. } if r.median.is_infinite() => format!(
            "while the next best, {}, did not reach it in its median run (the ratio's {})",
            r.family,
            interval_text(&m.ci, times)
        ),
        Criterion::FinalLoss if r.median.is_infinite() => {
            format!("while the next best, {}, diverged in its median run", r.family)
        }
        Criterion::Steps { .. } => format!(
            "{} fewer steps than {} ({}; {} median {})",
            times(m.value),
            r.family,
            interval_text(&m.ci, times),
            r.family,
            num(r.median)
        ),
        Criterion::FinalLoss => format!(
            "{} lower than {} ({}; {} median {})",
            num(m.value),
            r.family,
            interval_text(&m.ci, num),
            r.family,
            num(r.median)
        ),
    };
    format!("{head}, {by}; {}.", test_text(&m.test))
}

/// AlgoPerf scores: whether the solvers are optimizers with their best configuration per task
/// (rather than configurations), and per solver `(solver, score by steps, score by time)`.
pub type Scores = (bool, Vec<(String, f64, f64)>);

/// AlgoPerf's score of each solver of the comparison's performance profile (see
/// [`crate::plots::profile`]).
pub fn algoperf_scores(cmp: &Comparison, table: &Table) -> Option<Scores> {
    let p = crate::plots::profile(cmp, table)?;
    let rows = p
        .solvers
        .iter()
        .enumerate()
        .map(|(s, (name, _))| {
            (
                name.clone(),
                scores::profile_score(&p.steps[s], scores::R_MAX),
                scores::profile_score(&p.time[s], scores::R_MAX),
            )
        })
        .collect();
    Some((p.by_family, rows))
}

/// One optimizer's geometric-mean speed-up against the baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Speedup {
    pub family: String,
    /// Geometric mean over the tasks where both reached the target.
    pub geomean: f64,
    pub tasks: usize,
    /// Tasks with a target that one of the two reached and the other did not.
    pub one_sided: usize,
    pub ci: Option<Interval>,
}

/// The speed-ups against the comparison's `baseline` over its tasks with a target: per task the
/// baseline's median steps to the target over the optimizer's (each with its best configuration
/// there by steps to the target), the geometric mean over the tasks both reached. `Err` says why
/// there is none.
pub fn speedups(cmp: &Comparison) -> Result<Vec<Speedup>, String> {
    let Some(base) = cmp.info.baseline.as_deref() else { return Err("no baseline".into()) };
    let tasks: Vec<&String> = cmp.tasks.iter().filter(|t| cmp.info.targets.contains_key(*t)).collect();
    if tasks.is_empty() {
        return Err(format!("no task has a target, so there is no speed-up against the baseline `{base}`"));
    }
    let per_task: Vec<Vec<Entry>> =
        tasks.iter().map(|t| entries(cmp, t, Criterion::Steps { target: cmp.info.targets[*t] })).collect();
    if !per_task.iter().flatten().any(|e| e.family == base) {
        return Err(format!("the baseline `{base}` has no runs on the tasks with a target"));
    }
    let families: Vec<&String> = cmp.families.iter().filter(|f| *f != base).collect();
    let mut out = Vec::new();
    for f in families {
        // Groups: for each task where both ran, the baseline's values then the optimizer's.
        let mut groups: Vec<Vec<f64>> = Vec::new();
        for es in &per_task {
            let (Some(b), Some(o)) = (es.iter().find(|e| e.family == base), es.iter().find(|e| e.family == *f)) else {
                continue;
            };
            groups.push(b.values.clone());
            groups.push(o.values.clone());
        }
        if groups.is_empty() {
            continue;
        }
        let stat = |g: &[Vec<f64>]| -> f64 {
            let s: Vec<f64> = g.chunks(2).map(|p| scores::ratio(median(&p[0]), median(&p[1]))).collect();
            scores::geomean(&s).0
        };
        let ratios: Vec<f64> = groups.chunks(2).map(|p| scores::ratio(median(&p[0]), median(&p[1]))).collect();
        let (geomean, n) = scores::geomean(&ratios);
        let one_sided = ratios.iter().filter(|r| **r == 0.0 || r.is_infinite()).count();
        let seed = seed_of(&[&cmp.info.name, base, f, "speedup"]);
        out.push(Speedup {
            family: f.clone(),
            geomean,
            tasks: n,
            one_sided,
            ci: if n > 0 { bootstrap(&groups, seed, stat) } else { None },
        });
    }
    Ok(out)
}

/// The hyperparameter values of a run: its swept values and its optimizer's `set` values, as
/// text (a searched hyperparameter is a `set` value that varies across runs).
pub fn hyper_values(r: &RunRecord) -> BTreeMap<String, String> {
    let mut out = r.swept.clone();
    if let Some(set) = r.config.get("optimizer").and_then(|o| o.get("set")).and_then(|s| s.as_object()) {
        for (k, v) in set {
            let text = v.as_str().map_or_else(|| v.to_string(), String::from);
            out.entry(k.clone()).or_insert(text);
        }
    }
    out
}

/// The hyperparameters that take at least two values among one family's configurations on one
/// task, in the comparison's swept order, then by name.
pub fn varying_keys(cmp: &Comparison, task: &str, family: Option<&str>) -> Vec<String> {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut families: BTreeMap<&str, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for cfg in cmp.configs_of(task).filter(|c| family.is_none_or(|f| c.family == f)) {
        let Some(r) = cfg.runs.first() else { continue };
        let fam = families.entry(cfg.family.as_str()).or_default();
        for (k, v) in hyper_values(r) {
            seen.entry(k.clone()).or_default().insert(v.clone());
            fam.entry(k).or_default().insert(v);
        }
    }
    // A key varies when it varies within some family (not merely between families' defaults).
    let mut keys: Vec<String> =
        seen.keys().filter(|k| families.values().any(|f| f.get(*k).is_some_and(|v| v.len() >= 2))).cloned().collect();
    keys.sort_by_key(|k| (cmp.info.swept.iter().position(|s| s == k).unwrap_or(usize::MAX), k.clone()));
    keys
}

/// One optimizer's sensitivity to one hyperparameter on one task.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensitivity {
    pub task: String,
    pub family: String,
    pub key: String,
    pub values: usize,
    /// The value with the lowest, and with the highest, marginal loss: the lowest median final
    /// loss over the family's configurations with that value (`+∞`: all diverged).
    pub best: (String, f64),
    pub worst: (String, f64),
}

/// The share of the variance of the configurations' ranks that a key explains on its own, per
/// family: `(family, key, share, tasks)`.
pub type Importance = (String, String, f64, usize);

/// Average ranks (1-based, ties share their mean rank) of values in the total order.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && v[idx[j]].total_cmp(&v[idx[i]]).is_eq() {
            j += 1;
        }
        for &k in &idx[i..j] {
            out[k] = (i + 1 + j) as f64 / 2.0;
        }
        i = j;
    }
    out
}

/// Sensitivity rows and the importance ranking of a comparison (see the module docs): per task
/// and family, each varying key's best and worst value by marginal median final loss; per family,
/// each key's one-way η² of the ranks of its configurations' median final losses, pooled over
/// the tasks (between-value sum of squares over total), highest first.
pub fn sensitivity(cmp: &Comparison) -> (Vec<Sensitivity>, Vec<Importance>) {
    let mut rows = Vec::new();
    // (family, key) → (between SS, total SS, tasks)
    let mut ss: BTreeMap<(String, String), (f64, f64, usize)> = BTreeMap::new();
    for task in &cmp.tasks {
        for family in &cmp.families {
            let keys = varying_keys(cmp, task, Some(family));
            if keys.is_empty() {
                continue;
            }
            let cfgs: Vec<&Config> =
                cmp.configs_of(task).filter(|c| &c.family == family && !final_losses(c).is_empty()).collect();
            if cfgs.len() < 2 {
                continue;
            }
            let meds: Vec<f64> = cfgs.iter().map(|c| median(&final_losses(c))).collect();
            let hv: Vec<BTreeMap<String, String>> = cfgs.iter().map(|c| hyper_values(c.runs[0])).collect();
            let rk = ranks(&meds);
            let mean = rk.iter().sum::<f64>() / rk.len() as f64;
            let total: f64 = rk.iter().map(|r| (r - mean).powi(2)).sum();
            for key in keys {
                let mut by_value: BTreeMap<String, (f64, Vec<f64>)> = BTreeMap::new();
                for ((h, m), r) in hv.iter().zip(&meds).zip(&rk) {
                    let v = h.get(&key).cloned().unwrap_or_else(|| "—".into());
                    let e = by_value.entry(v).or_insert((f64::INFINITY, Vec::new()));
                    e.0 = e.0.min(*m);
                    e.1.push(*r);
                }
                if by_value.len() < 2 {
                    continue;
                }
                let mut vals: Vec<(&String, f64)> = by_value.iter().map(|(v, (m, _))| (v, *m)).collect();
                vals.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| cmp_values(a.0, b.0)));
                let (b, w) = (vals[0], vals[vals.len() - 1]);
                rows.push(Sensitivity {
                    task: task.clone(),
                    family: family.clone(),
                    key: key.clone(),
                    values: by_value.len(),
                    best: (b.0.clone(), b.1),
                    worst: (w.0.clone(), w.1),
                });
                let between: f64 = by_value
                    .values()
                    .map(|(_, rs)| {
                        let m = rs.iter().sum::<f64>() / rs.len() as f64;
                        rs.len() as f64 * (m - mean).powi(2)
                    })
                    .sum();
                let e = ss.entry((family.clone(), key)).or_insert((0.0, 0.0, 0));
                e.0 += between;
                e.1 += total;
                e.2 += 1;
            }
        }
    }
    let mut imp: Vec<Importance> = ss
        .into_iter()
        .map(|((f, k), (b, t, n))| (f, k, if t > 0.0 { (b / t).clamp(0.0, 1.0) } else { 0.0 }, n))
        .collect();
    imp.sort_by(|a, b| {
        cmp.family_index(&a.0).cmp(&cmp.family_index(&b.0)).then(b.2.total_cmp(&a.2)).then(a.1.cmp(&b.1))
    });
    (rows, imp)
}

/// Everything the verdict section says about one comparison.
pub struct ComparisonVerdict {
    pub tasks: Vec<TaskVerdict>,
    pub scores: Option<Scores>,
    pub speedups: Option<Result<Vec<Speedup>, String>>,
    pub sensitivity: Vec<Sensitivity>,
    pub importance: Vec<Importance>,
}

pub fn build(cmp: &Comparison, table: &Table) -> ComparisonVerdict {
    let (sensitivity, importance) = sensitivity(cmp);
    ComparisonVerdict {
        tasks: verdicts(cmp),
        scores: algoperf_scores(cmp, table),
        speedups: cmp.info.baseline.as_ref().map(|_| speedups(cmp)),
        sensitivity,
        importance,
    }
}

fn ci_cell(ci: &Option<Interval>, f: impl Fn(f64) -> String) -> String {
    ci.map_or("—".into(), |i| format!("{} to {}", f(i.lo), f(i.hi)))
}

impl ComparisonVerdict {
    /// The verdict as HTML: one sentence per task, the scores and speed-ups.
    pub fn html(&self, cmp: &Comparison) -> String {
        let mut s = String::new();
        if self.tasks.is_empty() {
            s.push_str("<p>No results yet.</p>\n");
        } else {
            s.push_str("<ul class=\"verdict\">\n");
            for v in &self.tasks {
                let _ = writeln!(s, "<li><strong>{}</strong>: {}</li>", escape(&v.task), escape(&sentence(v)));
            }
            s.push_str("</ul>\n");
        }
        if let Some((by_family, rows)) = &self.scores {
            let _ = writeln!(
                s,
                "<p>AlgoPerf score of each {} over the tasks with a target: the integral of its performance profile from τ = 1 to r<sub>max</sub> = {}, divided by {} (1: fastest on every task; 0: never within {}× of the fastest).</p>",
                if *by_family { "optimizer (best configuration per task)" } else { "configuration" },
                num(scores::R_MAX),
                num(scores::R_MAX - 1.0),
                num(scores::R_MAX)
            );
            s.push_str("<div class=\"table-wrap\"><table class=\"scores\"><thead><tr><th class=\"t\">solver</th><th>score (steps)</th><th>score (time)</th></tr></thead><tbody>\n");
            let mut sorted = rows.clone();
            sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.total_cmp(&a.2)));
            for (name, st, tt) in &sorted {
                let _ = writeln!(
                    s,
                    "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
                    escape(name),
                    num(*st),
                    num(*tt)
                );
            }
            s.push_str("</tbody></table></div>\n");
        }
        match &self.speedups {
            None => {}
            Some(Err(why)) => {
                let _ = writeln!(s, "<p>Speed-up against the baseline: {}.</p>", escape(why));
            }
            Some(Ok(rows)) => {
                let base = cmp.info.baseline.as_deref().unwrap_or("");
                let _ = writeln!(
                    s,
                    "<p>Speed-up against the baseline <code>{}</code>: per task with a target, the baseline's median steps to the target over the optimizer's (each with its best configuration there); the geometric mean over the tasks both reached, with its 95% bootstrap interval over seeds.</p>",
                    escape(base)
                );
                s.push_str("<div class=\"table-wrap\"><table class=\"speedups\"><thead><tr><th class=\"t\">optimizer</th><th>geometric-mean speed-up</th><th>95% CI</th><th>tasks both reached</th><th>reached by one only</th></tr></thead><tbody>\n");
                for r in rows {
                    let _ = writeln!(
                        s,
                        "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(&r.family),
                        if r.tasks == 0 { "—".into() } else { times(r.geomean) },
                        ci_cell(&r.ci, times),
                        r.tasks,
                        r.one_sided
                    );
                }
                s.push_str("</tbody></table></div>\n");
            }
        }
        s
    }

    /// The hyperparameter sensitivity and importance tables (HTML), when some hyperparameter
    /// varies.
    pub fn sensitivity_html(&self) -> Option<String> {
        if self.sensitivity.is_empty() {
            return None;
        }
        let mut s = String::from("<p>Importance: per optimizer, the share of the variance of its configurations' ranks (by median final loss, per task) that each varying hyperparameter explains alone (one-way η² pooled over the tasks; with a single varying hyperparameter it is 1 by construction).</p>\n");
        s.push_str("<div class=\"table-wrap\"><table class=\"importance\"><thead><tr><th class=\"t\">optimizer</th><th class=\"t\">hyperparameter</th><th>importance</th><th>tasks</th></tr></thead><tbody>\n");
        for (f, k, share, n) in &self.importance {
            let _ = writeln!(
                s,
                "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{n}</td></tr>",
                escape(f),
                escape(k),
                num(*share)
            );
        }
        s.push_str("</tbody></table></div>\n");
        s.push_str("<p>Sensitivity: per task, optimizer and varying hyperparameter, the value with the lowest and the highest marginal loss (the lowest median final loss over the configurations with that value).</p>\n");
        let body: String = self
            .sensitivity
            .iter()
            .map(|r| {
                format!(
                    "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    escape(&r.task),
                    escape(&r.family),
                    escape(&r.key),
                    r.values,
                    escape(&r.best.0),
                    num(r.best.1),
                    escape(&r.worst.0),
                    num(r.worst.1)
                )
            })
            .collect();
        let table = format!("<div class=\"table-wrap\"><table class=\"sensitivity\"><thead><tr><th class=\"t\">task</th><th class=\"t\">optimizer</th><th class=\"t\">hyperparameter</th><th>values</th><th>best value</th><th>its loss</th><th>worst value</th><th>its loss</th></tr></thead><tbody>\n{body}</tbody></table></div>\n");
        if self.sensitivity.len() > 40 {
            let _ = write!(
                s,
                "<details class=\"long-table\"><summary>{} rows (show)</summary>\n{table}</details>\n",
                self.sensitivity.len()
            );
        } else {
            s.push_str(&table);
        }
        Some(s)
    }

    /// The verdict as Markdown (`tables/<comparison>-verdict.md`).
    pub fn markdown(&self, title: &str) -> String {
        let mut s = format!("# {title}: verdict\n\n");
        for v in &self.tasks {
            let _ = writeln!(s, "- **{}**: {}", v.task, sentence(v));
        }
        if let Some((_, rows)) = &self.scores {
            let _ = writeln!(
                s,
                "\nAlgoPerf scores (r_max = {}):\n\n| solver | score (steps) | score (time) |\n|---|---:|---:|",
                num(scores::R_MAX)
            );
            for (n, a, b) in rows {
                let _ = writeln!(s, "| {} | {} | {} |", crate::format::md_cell(n), num(*a), num(*b));
            }
        }
        match &self.speedups {
            Some(Ok(rows)) => {
                s.push_str("\nGeometric-mean speed-up against the baseline:\n\n| optimizer | speed-up | 95% CI | tasks |\n|---|---:|---:|---:|\n");
                for r in rows {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} |",
                        crate::format::md_cell(&r.family),
                        if r.tasks == 0 { "—".into() } else { times(r.geomean) },
                        ci_cell(&r.ci, times),
                        r.tasks
                    );
                }
            }
            Some(Err(why)) => {
                let _ = writeln!(s, "\nSpeed-up against the baseline: {why}.");
            }
            None => {}
        }
        if !self.importance.is_empty() {
            s.push_str("\nHyperparameter importance (one-way η² of the configurations' ranks):\n\n| optimizer | hyperparameter | importance | tasks |\n|---|---|---:|---:|\n");
            for (f, k, share, n) in &self.importance {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {n} |",
                    crate::format::md_cell(f),
                    crate::format::md_cell(k),
                    num(*share)
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, f64::INFINITY]), vec![2.5, 1.0, 2.5, 4.0]);
        assert!(ranks(&[]).is_empty());
    }
}
