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
//! * **An experiment.** The study is an experiment of one comparison (built by
//!   [`experiment_text`]: `start = "defaults"` with `starts` random starts, and a
//!   `[comparison.tune]` table, the equal-budget protocol of [`crate::tune`]), run by the runner
//!   into the store of the output folder, so running it again resumes (it re-runs nothing that
//!   is stored). [`run_study`] runs it; [`Study`] is the view of its stored runs the study's
//!   tables and plots read. Runs are independent; each is a pure function of its inputs, so
//!   results do not depend on the number of threads.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::function_task::{random_starts, Limits, Problem, RunResult, StartStream};
use crate::lab_tasks::LabTasks;
use crate::plan::{Start as PlanStart, TaskSettings};
use crate::record::RunRecord as StoredRun;
use crate::runner::{run_experiment, RunOptions, RunSummary};
use crate::spec::Experiment;
use crate::store::Store;
use crate::tune::{choose, pick_by, Tuned};
use optlab_optim::registry;
use optlab_optim::{Layout, NonFinite, OptimConfig};

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
    /// Runs at a time (None: one per core).
    pub threads: Option<usize>,
    /// Draw the runner's progress bar on stderr (when it is a terminal).
    pub progress: bool,
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
            progress: false,
        }
    }
}

pub use crate::spec::log_grid;

/// The study's log grid of `points` learning rates from `lo` to `hi` (`--lr-min`, `--lr-max`,
/// `--lr-points`), checked.
pub fn lr_grid(lo: f64, hi: f64, points: usize) -> Result<Vec<f64>> {
    if !(lo.is_finite() && lo > 0.0 && hi.is_finite() && hi >= lo) {
        return Err(LabError::Usage(format!("--lr-min/--lr-max must satisfy 0 < lr-min <= lr-max, got {lo} and {hi}")));
    }
    if points == 0 {
        return Err(LabError::Usage("--lr-points must be at least 1".into()));
    }
    Ok(log_grid(lo, hi, points))
}

/// The wall-time budget of each run (`--time-limit`, seconds), checked.
pub fn time_limit(seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| LabError::Usage(format!("--time-limit must be a non-negative number of seconds, got {seconds}")))
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

/// Picks the best trial: lowest median score, then lowest median steps, then smallest lr (the
/// rule `median_score` of [`crate::tune`]).
pub fn pick_lr(trials: &[LrTrial]) -> Option<f64> {
    pick_by(trials, |t| (!t.invalid).then_some((t.median_score, t.median_steps, t.lr))).map(|i| trials[i].lr)
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

/// Run time and work of a study: `tune` and `eval` are the run times of its stored runs added
/// up (over the runs, so over the threads too), whenever they were run.
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
    /// Run-time nanoseconds per optimizer step (of one thread).
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
    /// What this call ran and skipped (a second call into the same folder runs nothing).
    pub ran: RunSummary,
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

/// The items of comma-separated lists; a formula (an item holding `=`) is one item whatever
/// commas it holds.
fn split_list(s: &[String]) -> impl Iterator<Item = &str> {
    s.iter()
        .flat_map(|t| {
            let whole = optlab_functions::is_formula(t).then_some(t.as_str());
            whole.into_iter().chain(t.split(',').filter(move |_| whole.is_none()))
        })
        .map(str::trim)
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

/// Name of the study's experiment (in its store).
pub const EXPERIMENT: &str = "function-study";
/// Name of its one comparison.
pub const COMPARISON: &str = "study";

/// A string as a TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// The experiment file of a study (checked configuration): one comparison of every optimizer on
/// every function from each function's default starts and `random_starts` random ones, with the
/// equal-budget tuning of `lr` over the grid from `tune_starts` tuning starts (docs/study.md).
/// The runs from default starts keep their whole trajectory (`points` = steps + 1), which the
/// study's trajectory files and plots need; those from random starts keep their first and last
/// points (`random_points = 2`: their results).
pub fn experiment_text(cfg: &StudyConfig, optimizers: &[OptimizerSpec]) -> String {
    let mut s = format!(
        "[experiment]\nname = \"{EXPERIMENT}\"\ntitle = \"Optimizers on classic test functions\"\n\
         description = \"The test-function study (`optlab functions study`, docs/study.md).\"\n\n\
         [[comparison]]\nname = \"{COMPARISON}\"\ntasks = [{}]\nseeds = [{}]\nstart = \"defaults\"\n",
        split_list(&cfg.functions).map(toml_str).collect::<Vec<_>>().join(", "),
        cfg.seed
    );
    if cfg.random_starts > 0 {
        s.push_str(&format!("starts = {}\n", cfg.random_starts));
    }
    // Only the default starts' trajectories are drawn and written: a random start keeps its
    // first and last points (its result and final point).
    if cfg.random_starts > 0 {
        s.push_str("random_points = 2\n");
    }
    s.push_str(&format!(
        "steps = {}\nftol = {:?}\nxtol = {:?}\npatience = {}\npoints = {}\n",
        cfg.steps,
        cfg.ftol,
        cfg.xtol,
        cfg.patience,
        cfg.steps.saturating_add(1).min(1_000_000)
    ));
    if let Some(t) = cfg.time_limit {
        s.push_str(&format!("time_limit = {:?}\n", t.as_secs_f64()));
    }
    s.push_str("optimizers = [\n");
    for o in optimizers {
        let set: Vec<String> = o.config.set.iter().map(|(k, v)| format!("{} = {}", toml_str(k), toml_str(v))).collect();
        s.push_str(&format!(
            "    {{ name = {}, set = {{ {} }}, label = {} }},\n",
            toml_str(&o.config.name),
            set.join(", "),
            toml_str(&o.label)
        ));
    }
    s.push_str("]\n\n[comparison.tune]\nkey = \"lr\"\n");
    s.push_str(&format!(
        "values = [{}]\nstarts = {}\nseeds = [{}]\n",
        cfg.lr_grid.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
        cfg.tune_starts,
        cfg.seed
    ));
    s
}

/// The study's experiment, checked: first the configuration (one-line errors naming the
/// option), then the experiment file it makes.
pub fn experiment(cfg: &StudyConfig) -> Result<(Experiment, Vec<OptimizerSpec>, Vec<Problem>)> {
    let (optimizers, problems) = cfg.resolve()?;
    let text = experiment_text(cfg, &optimizers);
    let exp = crate::spec::parse(&text, "the study's experiment (optlab functions study)", EXPERIMENT)?;
    Ok((exp, optimizers, problems))
}

/// Runs a study as an experiment into the store of `out` (`out/results.sqlite`): the tuning
/// runs, then the evaluation runs with the chosen learning rates, each run stored as it
/// finishes. What is stored already is not run again, so a second call into the same folder
/// runs nothing (and an interrupted study resumes). Returns the view of the stored runs.
pub fn run_study(cfg: &StudyConfig, out: &Path) -> Result<Study> {
    let (exp, optimizers, problems) = experiment(cfg)?;
    let mut store = Store::open_dir(out)?;
    let opts = RunOptions {
        jobs: cfg.threads.unwrap_or_else(crate::runner::default_jobs),
        shard: None,
        progress: cfg.progress,
        retry_failed: true,
    };
    let done = run_experiment(&exp, &mut store, &LabTasks { threads: Some(1) }, &opts)?;
    if let Some(w) = done.waiting() {
        return Err(LabError::Store(format!("the study cannot be finished yet: {w}")));
    }
    let current: HashSet<&str> = done.plan.runs.iter().map(|r| r.hash.as_str()).collect();
    let records: Vec<StoredRun> = store.runs()?.into_iter().filter(|r| current.contains(r.hash.as_str())).collect();
    if records.len() < current.len() {
        return Err(LabError::Store(format!(
            "{} of the study's {} runs are not in `{}` (being run by another process?); run it again when that has finished",
            current.len() - records.len(),
            current.len(),
            store.path().display()
        )));
    }
    let mut study = Study::from_records(cfg, optimizers, problems, &exp, &records, opts.jobs)?;
    study.ran = done.summary();
    Ok(study)
}

/// The evaluation starts and tuning starts of a function of the study.
fn study_function(cfg: &StudyConfig, problem: Problem) -> StudyFunction {
    let mut starts: Vec<Start> = problem.f.default_starts().into_iter().map(|x| Start { x, default: true }).collect();
    starts.extend(
        random_starts(&problem, cfg.seed, StartStream::Evaluation, cfg.random_starts)
            .into_iter()
            .map(|x| Start { x, default: false }),
    );
    let tune_starts = random_starts(&problem, cfg.seed, StartStream::Tuning, cfg.tune_starts);
    StudyFunction { problem, starts, tune_starts }
}

impl Study {
    /// The study of `cfg` from its stored runs (those of its plan): the learning rates the
    /// protocol chose, the evaluation runs in (optimizer, function, start) order with the
    /// trajectories of the default starts.
    pub fn from_records(
        cfg: &StudyConfig,
        optimizers: Vec<OptimizerSpec>,
        problems: Vec<Problem>,
        exp: &Experiment,
        records: &[StoredRun],
        threads: usize,
    ) -> Result<Study> {
        let functions: Vec<StudyFunction> = problems.into_iter().map(|p| study_function(cfg, p)).collect();
        let tune = exp.comparisons[0].tune.as_ref().expect("the study's comparison has a protocol");
        let tuning: Vec<&StoredRun> = records.iter().filter(|r| r.tuning().is_some()).collect();
        let chosen: Vec<Tuned> = choose(&tune.info, &tuning);
        let mut lr = Vec::with_capacity(optimizers.len());
        for o in &optimizers {
            let mut row = Vec::with_capacity(functions.len());
            for sf in &functions {
                row.push(if o.fixed_lr {
                    LrChoice::Fixed(o.config.set["lr"].parse().unwrap_or(f64::NAN))
                } else if !o.has_lr {
                    LrChoice::None
                } else {
                    let t = chosen.iter().find(|t| t.task == sf.problem.name() && t.base == o.label);
                    let (Some(t), Some(v)) = (t, t.and_then(|t| t.chosen_value())) else {
                        return Err(LabError::Store(format!(
                            "no tuning result for `{}` on `{}` in the store",
                            o.label,
                            sf.problem.name()
                        )));
                    };
                    let trials = t
                        .trials
                        .iter()
                        .map(|t| LrTrial {
                            lr: t.value.parse().unwrap_or(f64::NAN),
                            median_score: t.median_score,
                            median_steps: t.median_steps,
                            successes: t.successes,
                            runs: t.runs,
                            invalid: t.invalid,
                        })
                        .collect();
                    LrChoice::Tuned { lr: v.parse().unwrap_or(f64::NAN), trials }
                });
            }
            lr.push(row);
        }
        let o_index: HashMap<&str, usize> = optimizers.iter().enumerate().map(|(i, o)| (o.label.as_str(), i)).collect();
        let f_index: HashMap<&str, usize> = functions.iter().enumerate().map(|(i, f)| (f.problem.name(), i)).collect();
        let mut runs = Vec::new();
        let mut timing = Timing { threads, ..Timing::default() };
        for r in records {
            if r.tuning().is_some() {
                timing.tune += Duration::from_secs_f64(r.wall_s.max(0.0));
                timing.tune_runs += 1;
                timing.tune_steps += r.summary.steps;
                continue;
            }
            timing.eval += Duration::from_secs_f64(r.wall_s.max(0.0));
            timing.eval_steps += r.summary.steps;
            let bad = |what: &str| LabError::Store(format!("run {} (`{}` on `{}`): {what}", r.hash, r.label, r.task));
            let (Some(&oi), Some(&fi)) = (o_index.get(r.label.as_str()), f_index.get(r.task.as_str())) else {
                return Err(bad("not an optimizer and function of the study"));
            };
            let settings =
                r.config.get("settings").and_then(|s| serde_json::from_value::<TaskSettings>(s.clone()).ok());
            let Some(TaskSettings::Function(f)) = settings else { return Err(bad("not a test-function run")) };
            let n_default = functions[fi].starts.iter().filter(|s| s.default).count();
            let start = match f.start {
                PlanStart::DefaultAt(i) => i as usize,
                PlanStart::Random { index, .. } => n_default + index as usize,
                _ => return Err(bad("a start the study does not make")),
            };
            let Some(result) = crate::tune::function_result(r) else {
                return Err(bad(&format!("failed: {}", r.error.as_deref().unwrap_or("no reason given"))));
            };
            let trace = functions[fi].starts[start].default.then(|| {
                r.series
                    .iter()
                    .flat_map(|p| std::iter::once(p.loss).chain(p.x.iter().flatten().copied()))
                    .collect::<Vec<f64>>()
            });
            runs.push(RunRecord { optimizer: oi, function: fi, start, result, trace });
        }
        runs.sort_by_key(|r| (r.optimizer, r.function, r.start));
        timing.eval_runs = runs.len();
        let want: usize = optimizers.len() * functions.iter().map(|f| f.starts.len()).sum::<usize>();
        if runs.len() != want {
            return Err(LabError::Store(format!(
                "the store holds {} of the study's {want} evaluation runs",
                runs.len()
            )));
        }
        Ok(Study { config: cfg.clone(), optimizers, functions, lr, runs, timing, ran: RunSummary::default() })
    }
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
