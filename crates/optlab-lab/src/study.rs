//! The test-function study (`optlab functions study`): optimizers × test functions × starts, with
//! the stopping rules of [`crate::function_task`] and a per-function learning-rate protocol; its
//! tables and pictures are drawn by `optlab_report::study_tables` and `optlab_report::study_plots`.
//!
//! The protocol (also in `docs/study.md`):
//!
//! * **Starts.** Each function's default starts, then `random_starts` points drawn uniformly in the
//!   function's *start box*: the plot box intersected with the domain (they coincide except for
//!   Easom, domain `[-100, 100]²` but plot box `[-1, 7]²`, where the function is flat to machine
//!   precision almost everywhere, and three-hump camel, domain `[-5, 5]²`, plot box `[-3, 3]²`).
//!   The stream of random numbers depends only on the seed and the function's name.
//! * **Stopping rules**, checked in this order at every iterate `θ_t` (after `t` steps):
//!   1. *diverged* (a failure): `f`, `∇f`, `θ` (or the Hessian diagonal, for optimizers that use
//!      it) is not finite, or the optimizer refuses a non-finite gradient, or `θ` is *far* outside
//!      the domain: some coordinate lies more than 10 domain widths beyond the domain's edge;
//!   2. *escaped* (a success, only for functions without a minimum, i.e. unbounded below, such as
//!      `saddle`): `θ` left the domain;
//!   3. *reached* (a success): `|f(θ_t) − f*| <= ftol·max(1, |f*|)`;
//!   4. *stalled*: `‖θ_t − θ_{t−1}‖∞ <= xtol·max(1, ‖θ_t‖∞)` on `patience` consecutive steps;
//!   5. *max steps*: `t` reached the step budget;
//!   6. *time limit*: the run's wall time exceeded its budget (checked every 64 steps; the only
//!      rule that makes results depend on the machine).
//! * **Learning rate.** Unless the optimizer's text fixes `lr`, each optimizer's `lr` is chosen
//!   per function from a log grid (default 13 points, 1e-4 to 1) with the same budget for every
//!   optimizer: every grid value is run from `tune_starts` tuning starts, drawn like the random
//!   starts but from a different random stream (so they are not evaluation starts). Score of a
//!   run: the final gap `f − f*` clipped below at the tolerance `ftol·max(1, |f*|)` (so every run
//!   that reached the tolerance scores the same); for functions without `f*`, the final `f`
//!   clipped below at the lowest value of `f` over the domain (an escape scores that value); a
//!   diverged run scores `+∞`. The chosen `lr` has the lowest median score; ties are broken by
//!   the lower median number of steps to success (`+∞` for runs that did not succeed), then by
//!   the smaller `lr`.
//! * Runs are independent and run in parallel (rayon); each is a pure function of its inputs, so
//!   results do not depend on the number of threads.

use crate::error::{LabError, Result};
use crate::function_task::{random_starts, run_one, Limits, Problem, RunResult, StartStream};
use crate::stats::median;
use optlab_optim::registry;
use optlab_optim::{Layout, NonFinite, OptimConfig};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Optimizers of the default study (the experimental Adam variants, their parents, and SGD with
/// heavy-ball momentum).
pub const DEFAULT_OPTIMIZERS: &[&str] = &[
    "adam_curvature",
    "adam",
    "adadelta",
    "rmsprop",
    "adam_scheduled_betas",
    "adam_skew",
    "adam_third",
    "sgd:momentum=0.9",
];

/// Functions of the default study: every 2-D test function except rastrigin and ackley (and the
/// 1-D cubic, which the study supports but does not include by default).
pub const DEFAULT_FUNCTIONS: &[&str] = &[
    "booth",
    "bukin_n6",
    "himmelblau",
    "matyas",
    "sphere",
    "styblinski_tang",
    "saddle",
    "beale",
    "easom",
    "goldstein_price",
    "rosenbrock",
    "three_hump_camel",
];

/// Everything a study needs.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyConfig {
    /// Optimizer texts `name[:key=value[:key=value...]]`, e.g. `adam` or `sgd:momentum=0.9`.
    pub optimizers: Vec<String>,
    /// Test function names (their default dimension).
    pub functions: Vec<String>,
    /// Random evaluation starts per function (in addition to the default starts).
    pub random_starts: usize,
    /// Random tuning starts per function for the learning-rate protocol.
    pub tune_starts: usize,
    /// Step budget of every run.
    pub steps: u64,
    /// Tolerance on `f`: reached when `|f − f*| <= ftol·max(1, |f*|)`.
    pub ftol: f64,
    /// Tolerance on `θ`: stalled when `‖Δθ‖∞ <= xtol·max(1, ‖θ‖∞)` on `patience` consecutive steps.
    pub xtol: f64,
    /// Consecutive small steps that make a run stalled.
    pub patience: u32,
    /// Seed of the random starts.
    pub seed: u64,
    /// The learning-rate grid.
    pub lr_grid: Vec<f64>,
    /// Wall-time budget of each run.
    pub time_limit: Option<Duration>,
    /// Threads (None: rayon's global pool).
    pub threads: Option<usize>,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            optimizers: DEFAULT_OPTIMIZERS.iter().map(|s| s.to_string()).collect(),
            functions: DEFAULT_FUNCTIONS.iter().map(|s| s.to_string()).collect(),
            random_starts: 20,
            tune_starts: 8,
            steps: 2000,
            ftol: 1e-6,
            xtol: 1e-8,
            patience: 10,
            seed: 0,
            lr_grid: log_grid(1e-4, 1.0, 13),
            time_limit: Some(Duration::from_secs(10)),
            threads: None,
        }
    }
}

/// `n` points from `lo` to `hi`, equally spaced in log10 (both ends included exactly).
pub fn log_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![lo],
        _ => {
            let (a, b) = (lo.log10(), hi.log10());
            (0..n)
                .map(|k| match k {
                    0 => lo,
                    k if k == n - 1 => hi,
                    k => 10f64.powf(a + (b - a) * k as f64 / (n - 1) as f64),
                })
                .collect()
        }
    }
}

/// An optimizer of the study: its label (the text it was given), its configuration, and whether
/// its `lr` is tuned.
#[derive(Clone, Debug)]
pub struct OptimizerSpec {
    pub label: String,
    pub config: OptimConfig,
    /// The text set `lr` explicitly: it is used as given.
    pub fixed_lr: bool,
    /// The optimizer accepts `lr` (false for optimizers without a learning rate).
    pub has_lr: bool,
    pub needs_hessian: bool,
}

impl OptimizerSpec {
    /// Parses `name[:key=value...]`, checking the name against the registry and every value by
    /// building the optimizer once.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            return Err(LabError::Usage(format!("--optimizers: empty optimizer name in `{text}`")));
        }
        let spec = registry::spec(name)?;
        // The study checks f, the gradient and the Hessian diagonal for non-finite values itself, before each
        // step, so the optimizer need not scan them again.
        let mut config = OptimConfig::new(name).threads(1).non_finite(NonFinite::Unchecked);
        let parts: Vec<&str> = parts.collect();
        if let Some(k) = repeated_key(parts.iter().copied()) {
            return Err(LabError::Usage(format!("--optimizers `{text}`: {k} given twice; give each key once")));
        }
        for kv in parts {
            config =
                config.set_assignment(kv.trim()).map_err(|e| LabError::Usage(format!("--optimizers `{text}`: {e}")))?;
        }
        let layout = Layout::single("x", 2);
        registry::build::<f64>(layout.clone(), &config)
            .map_err(|e| LabError::Usage(format!("--optimizers `{text}`: {e}")))?;
        let fixed_lr = config.set.contains_key("lr");
        let has_lr = fixed_lr || registry::build::<f64>(layout, &config.clone().set("lr", 1e-3)).is_ok();
        Ok(OptimizerSpec { label: text.to_string(), config, fixed_lr, has_lr, needs_hessian: spec.needs_hessian })
    }

    /// The configuration with `lr` set (when it has one and it is not fixed).
    pub fn with_lr(&self, lr: Option<f64>) -> OptimConfig {
        match lr {
            Some(lr) if self.has_lr && !self.fixed_lr => self.config.clone().set("lr", lr),
            _ => self.config.clone(),
        }
    }
}

/// One grid value of the learning-rate protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct LrTrial {
    pub lr: f64,
    pub median_score: f64,
    pub median_steps: f64,
    pub successes: usize,
    pub runs: usize,
    /// The registry refused this lr (out of the optimizer's range).
    pub invalid: bool,
}

/// How an optimizer's learning rate was set on a function.
#[derive(Clone, Debug, PartialEq)]
pub enum LrChoice {
    /// Chosen from the grid; `trials` has one entry per grid value.
    Tuned { lr: f64, trials: Vec<LrTrial> },
    /// Given in the optimizer's text.
    Fixed(f64),
    /// The optimizer has no learning rate.
    None,
}

impl LrChoice {
    pub fn lr(&self) -> Option<f64> {
        match self {
            LrChoice::Tuned { lr, .. } | LrChoice::Fixed(lr) => Some(*lr),
            LrChoice::None => None,
        }
    }
}

/// Picks the best trial: lowest median score, then lowest median steps, then smallest lr.
pub fn pick_lr(trials: &[LrTrial]) -> Option<f64> {
    trials
        .iter()
        .filter(|t| !t.invalid)
        .min_by(|a, b| {
            a.median_score
                .total_cmp(&b.median_score)
                .then(a.median_steps.total_cmp(&b.median_steps))
                .then(a.lr.total_cmp(&b.lr))
        })
        .map(|t| t.lr)
}

/// A start of the evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub x: Vec<f64>,
    /// One of the function's default starts (the rest are random).
    pub default: bool,
}

/// A function of the study with its starts.
pub struct StudyFunction {
    pub problem: Problem,
    pub starts: Vec<Start>,
    pub tune_starts: Vec<Vec<f64>>,
}

/// One evaluation run.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub optimizer: usize,
    pub function: usize,
    pub start: usize,
    pub result: RunResult,
    /// Iterates (`f, θ…` per iterate), kept for default starts.
    pub trace: Option<Vec<f64>>,
}

/// Wall time and work of a study.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    pub tune: Duration,
    pub eval: Duration,
    pub tune_runs: usize,
    pub eval_runs: usize,
    pub tune_steps: u64,
    pub eval_steps: u64,
    pub threads: usize,
}

impl Timing {
    pub fn total(&self) -> Duration {
        self.tune + self.eval
    }
    pub fn steps(&self) -> u64 {
        self.tune_steps + self.eval_steps
    }
    /// Wall nanoseconds per optimizer step (all runs, all threads).
    pub fn ns_per_step(&self) -> f64 {
        self.total().as_secs_f64() * 1e9 / self.steps().max(1) as f64
    }
}

/// A finished study.
pub struct Study {
    pub config: StudyConfig,
    pub optimizers: Vec<OptimizerSpec>,
    pub functions: Vec<StudyFunction>,
    /// `lr[o][f]`.
    pub lr: Vec<Vec<LrChoice>>,
    /// Ordered by optimizer, then function, then start.
    pub runs: Vec<RunRecord>,
    pub timing: Timing,
}

impl Study {
    /// The runs of optimizer `o` on function `f`, in start order.
    pub fn runs_of(&self, o: usize, f: usize) -> &[RunRecord] {
        let per_o: usize = self.functions.iter().map(|sf| sf.starts.len()).sum();
        let off: usize = self.functions[..f].iter().map(|sf| sf.starts.len()).sum();
        let a = o * per_o + off;
        &self.runs[a..a + self.functions[f].starts.len()]
    }

    pub fn limits(&self) -> Limits {
        limits(&self.config)
    }
}

fn limits(c: &StudyConfig) -> Limits {
    Limits { max_steps: c.steps, xtol: c.xtol, patience: c.patience, time_limit: c.time_limit }
}

fn split_list(s: &[String]) -> impl Iterator<Item = &str> {
    s.iter().flat_map(|t| t.split(',')).map(str::trim)
}

impl StudyConfig {
    /// Checks the configuration and resolves optimizers and functions; every error is one line
    /// naming the bad option.
    pub fn resolve(&self) -> Result<(Vec<OptimizerSpec>, Vec<Problem>)> {
        if self.steps == 0 {
            return Err(LabError::Usage("--steps must be at least 1".into()));
        }
        if !(self.ftol.is_finite() && self.ftol > 0.0) {
            return Err(LabError::Usage(format!("--tol must be a positive number, got {}", self.ftol)));
        }
        if !(self.xtol.is_finite() && self.xtol >= 0.0) {
            return Err(LabError::Usage(format!("--xtol must be a non-negative number, got {}", self.xtol)));
        }
        if self.tune_starts == 0 {
            return Err(LabError::Usage("--tune-starts must be at least 1".into()));
        }
        if self.lr_grid.is_empty() || self.lr_grid.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(LabError::Usage(format!(
                "the lr grid must be non-empty positive numbers, got {:?}",
                self.lr_grid
            )));
        }
        if self.threads == Some(0) {
            return Err(LabError::Usage("--threads must be at least 1".into()));
        }
        let mut opts: Vec<OptimizerSpec> = Vec::new();
        for t in split_list(&self.optimizers) {
            if t.is_empty() {
                return Err(LabError::Usage("--optimizers: empty name in the list".into()));
            }
            let o = OptimizerSpec::parse(t)?;
            if opts.iter().any(|p| p.label == o.label) {
                return Err(LabError::Usage(format!("--optimizers: `{t}` is listed twice")));
            }
            opts.push(o);
        }
        if opts.is_empty() {
            return Err(LabError::Usage("--optimizers: no optimizer given".into()));
        }
        let mut fns: Vec<Problem> = Vec::new();
        for t in split_list(&self.functions) {
            if t.is_empty() {
                return Err(LabError::Usage("--functions: empty name in the list".into()));
            }
            let p = Problem::new(t, self.ftol).map_err(|e| LabError::Usage(format!("--functions: {e}")))?;
            if fns.iter().any(|q| q.name() == p.name()) {
                return Err(LabError::Usage(format!("--functions: `{t}` is listed twice")));
            }
            fns.push(p);
        }
        if fns.is_empty() {
            return Err(LabError::Usage("--functions: no function given".into()));
        }
        Ok((opts, fns))
    }
}

/// Runs a study: the learning-rate protocol, then the evaluation runs.
pub fn run_study(cfg: &StudyConfig) -> Result<Study> {
    let (optimizers, problems) = cfg.resolve()?;
    match cfg.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| LabError::Usage(format!("--threads {n}: {e}")))?
            .install(|| run_resolved(cfg, optimizers, problems)),
        None => run_resolved(cfg, optimizers, problems),
    }
}

fn run_resolved(cfg: &StudyConfig, optimizers: Vec<OptimizerSpec>, problems: Vec<Problem>) -> Result<Study> {
    let lim = limits(cfg);
    let functions: Vec<StudyFunction> = problems
        .into_iter()
        .map(|problem| {
            let mut starts: Vec<Start> =
                problem.f.default_starts().into_iter().map(|x| Start { x, default: true }).collect();
            starts.extend(
                random_starts(&problem, cfg.seed, StartStream::Evaluation, cfg.random_starts)
                    .into_iter()
                    .map(|x| Start { x, default: false }),
            );
            let tune_starts = random_starts(&problem, cfg.seed, StartStream::Tuning, cfg.tune_starts);
            StudyFunction { problem, starts, tune_starts }
        })
        .collect();

    // 1. Learning-rate protocol.
    let t_tune = Instant::now();
    let valid: Vec<Vec<bool>> = optimizers
        .iter()
        .map(|o| {
            cfg.lr_grid
                .iter()
                .map(|&lr| registry::build::<f64>(Layout::single("x", 2), &o.with_lr(Some(lr))).is_ok())
                .collect()
        })
        .collect();
    let mut tasks: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (oi, o) in optimizers.iter().enumerate() {
        if !o.has_lr || o.fixed_lr {
            continue;
        }
        for (fi, sf) in functions.iter().enumerate() {
            for (li, _) in cfg.lr_grid.iter().enumerate().filter(|(li, _)| valid[oi][*li]) {
                for si in 0..sf.tune_starts.len() {
                    tasks.push((oi, fi, li, si));
                }
            }
        }
    }
    let tune_results: Vec<(f64, f64, u64)> = tasks
        .par_iter()
        .map(|&(oi, fi, li, si)| {
            let sf = &functions[fi];
            let cfg_o = optimizers[oi].with_lr(Some(cfg.lr_grid[li]));
            let r = run_one(&sf.problem, &cfg_o, &sf.tune_starts[si], &lim, None)?;
            Ok((r.score(&sf.problem), r.steps_to_success(), r.steps))
        })
        .collect::<Result<_>>()?;
    let mut lr = Vec::with_capacity(optimizers.len());
    let mut k = 0;
    for (oi, o) in optimizers.iter().enumerate() {
        let mut row = Vec::with_capacity(functions.len());
        for sf in &functions {
            if o.fixed_lr {
                let v: f64 = o.config.set["lr"].parse().unwrap_or(f64::NAN);
                row.push(LrChoice::Fixed(v));
                continue;
            }
            if !o.has_lr {
                row.push(LrChoice::None);
                continue;
            }
            let mut trials = Vec::with_capacity(cfg.lr_grid.len());
            for (li, &lrv) in cfg.lr_grid.iter().enumerate() {
                if !valid[oi][li] {
                    trials.push(LrTrial {
                        lr: lrv,
                        median_score: f64::INFINITY,
                        median_steps: f64::INFINITY,
                        successes: 0,
                        runs: 0,
                        invalid: true,
                    });
                    continue;
                }
                let m = sf.tune_starts.len();
                let chunk = &tune_results[k..k + m];
                k += m;
                let scores: Vec<f64> = chunk.iter().map(|c| c.0).collect();
                let steps: Vec<f64> = chunk.iter().map(|c| c.1).collect();
                trials.push(LrTrial {
                    lr: lrv,
                    median_score: median(scores),
                    median_steps: median(steps.iter().copied()),
                    successes: steps.iter().filter(|s| s.is_finite()).count(),
                    runs: m,
                    invalid: false,
                });
            }
            let best = pick_lr(&trials).ok_or_else(|| {
                LabError::Usage(format!("optimizer `{}`: no value of the lr grid is valid for it", o.label))
            })?;
            row.push(LrChoice::Tuned { lr: best, trials });
        }
        lr.push(row);
    }
    let tune = t_tune.elapsed();
    let tune_steps = tune_results.iter().map(|r| r.2).sum();

    // 2. Evaluation.
    let t_eval = Instant::now();
    let mut etasks: Vec<(usize, usize, usize)> = Vec::new();
    for oi in 0..optimizers.len() {
        for (fi, sf) in functions.iter().enumerate() {
            for si in 0..sf.starts.len() {
                etasks.push((oi, fi, si));
            }
        }
    }
    let runs: Vec<RunRecord> = etasks
        .par_iter()
        .map(|&(oi, fi, si)| {
            let sf = &functions[fi];
            let cfg_o = optimizers[oi].with_lr(lr[oi][fi].lr());
            let start = &sf.starts[si];
            let mut tr =
                start.default.then(|| Vec::with_capacity((cfg.steps.min(100_000) as usize + 1) * (1 + start.x.len())));
            let result = run_one(&sf.problem, &cfg_o, &start.x, &lim, tr.as_mut())?;
            Ok(RunRecord { optimizer: oi, function: fi, start: si, result, trace: tr })
        })
        .collect::<Result<_>>()?;
    let eval = t_eval.elapsed();
    let timing = Timing {
        tune,
        eval,
        tune_runs: tasks.len(),
        eval_runs: runs.len(),
        tune_steps,
        eval_steps: runs.iter().map(|r| r.result.steps).sum(),
        threads: rayon::current_num_threads(),
    };
    Ok(Study { config: cfg.clone(), optimizers, functions, lr, runs, timing })
}

/// The key given twice among `KEY=VALUE` texts, if any (`lr` for `lr=0.1` and `lr = 0.5`). Texts
/// without `=` are skipped: their parser reports them. (Also the CLI's check of `--set` keys.)
pub fn repeated_key<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::BTreeSet::new();
    texts.into_iter().filter_map(|t| t.split_once('=')).map(|(k, _)| k.trim()).find(|k| !seen.insert(*k))
}

/// [`study_json`] as pretty-printed text with a final newline (the study's `study.json`).
pub fn study_json_text(study: &Study) -> String {
    serde_json::to_string_pretty(&study_json(study)).expect("a JSON value prints") + "\n"
}

/// Configuration and timing as JSON (the one output that depends on the machine).
pub fn study_json(study: &Study) -> serde_json::Value {
    let c = &study.config;
    let t = &study.timing;
    serde_json::json!({
        "optimizers": study.optimizers.iter().map(|o| o.label.clone()).collect::<Vec<_>>(),
        "functions": study.functions.iter().map(|f| f.problem.name()).collect::<Vec<_>>(),
        "random_starts": c.random_starts,
        "tune_starts": c.tune_starts,
        "steps": c.steps,
        "ftol": c.ftol,
        "xtol": c.xtol,
        "patience": c.patience,
        "seed": c.seed,
        "lr_grid": c.lr_grid,
        "time_limit_s": c.time_limit.map(|d| d.as_secs_f64()),
        "timing": {
            "threads": t.threads,
            "tune_s": t.tune.as_secs_f64(),
            "eval_s": t.eval.as_secs_f64(),
            "tune_runs": t.tune_runs,
            "eval_runs": t.eval_runs,
            "tune_steps": t.tune_steps,
            "eval_steps": t.eval_steps,
            "ns_per_step": t.ns_per_step(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_grid_has_exact_ends_and_equal_ratios() {
        let g = log_grid(1e-4, 1.0, 13);
        assert_eq!(g.len(), 13);
        assert_eq!((g[0], g[12]), (1e-4, 1.0));
        for w in g.windows(2) {
            assert!((w[1] / w[0] - 10f64.powf(1.0 / 3.0)).abs() < 1e-12);
        }
        assert_eq!(log_grid(0.5, 0.5, 1), vec![0.5]);
    }

    #[test]
    fn optimizer_texts_parse() {
        let o = OptimizerSpec::parse("sgd:momentum=0.9:nesterov=true").unwrap();
        assert_eq!(o.label, "sgd:momentum=0.9:nesterov=true");
        assert!(o.has_lr && !o.fixed_lr);
        assert_eq!(o.with_lr(Some(0.1)).set["lr"], "0.1");
        let f = OptimizerSpec::parse("adam:lr=0.01").unwrap();
        assert!(f.fixed_lr);
        assert_eq!(f.with_lr(Some(0.1)).set["lr"], "0.01");
        assert!(OptimizerSpec::parse("adam:beta1=2").is_err());
        assert!(OptimizerSpec::parse("").is_err());
    }
}
