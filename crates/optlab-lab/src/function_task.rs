//! The test-function task of the lab: a test function prepared as a [`Problem`] (its domain,
//! start box and tolerance), its random starts, and [`run_one`], one optimizer run from one start
//! with the stopping rules of `docs/study.md`:
//!
//! 1. *diverged* (a failure): `f`, `∇f`, `θ` (or the Hessian diagonal, for optimizers that use
//!    it) is not finite, or the optimizer refuses a non-finite gradient, or `θ` is *far* outside
//!    the domain: some coordinate lies more than [`FAR_WIDTHS`] domain widths beyond its edge;
//! 2. *escaped* (a success, only for functions without a minimum): `θ` left the domain;
//! 3. *reached* (a success): `|f(θ_t) − f*| <= ftol·max(1, |f*|)`;
//! 4. *stalled*: `‖θ_t − θ_{t−1}‖∞ <= xtol·max(1, ‖θ_t‖∞)` on `patience` consecutive steps;
//! 5. *max steps*: `t` reached the step budget;
//! 6. *time limit*: the run's wall time exceeded its budget (checked every 64 steps).
//!
//! [`run_function`] is the task a [`crate::task::TaskRunner`] runs for a test-function run of an
//! experiment.

use std::time::Duration;

use optlab_functions::{by_name, TestFunction};
use optlab_optim::executor::{Executor, Iterate, MaxSteps, Stalled, Target, Termination, TimeLimit};
use optlab_optim::registry;
use optlab_optim::{Layout, OptimConfig, OptimError};

use crate::error::{LabError, Result};
use crate::plan::{FunctionRun, RunSpec, Start};
use crate::record::{Point, Status, Summary};
use crate::run_loop::{FunctionProblem, Trajectory};
use crate::task::{thin, RunOutput};

/// Far outside the domain: more than this many domain widths beyond its edge.
pub const FAR_WIDTHS: f64 = 10.0;

/// The wall-time budget is checked every this many steps.
const TIME_CHECK_EVERY: u64 = 64;

/// Default of the most points kept of a test-function trajectory (the experiment's `points`).
pub const MAX_POINTS: usize = 2000;

/// One test function prepared for the study.
pub struct Problem {
    pub f: Box<dyn TestFunction>,
    pub fstar: Option<f64>,
    pub minima: Vec<Vec<f64>>,
    pub domain: Vec<(f64, f64)>,
    /// Beyond this box a run has diverged.
    pub far: Vec<(f64, f64)>,
    /// Random starts are drawn uniformly in this box (plot box ∩ domain).
    pub start_box: Vec<(f64, f64)>,
    /// Absolute tolerance on `f`: `ftol·max(1, |f*|)` (`ftol` when there is no `f*`).
    pub ftol_abs: f64,
    /// Lowest value of `f` over a 201×201 grid of the domain (for functions without `f*`: the
    /// score of an escape in the learning-rate protocol).
    pub f_floor: f64,
}

impl Problem {
    pub fn new(name: &str, ftol: f64) -> Result<Self> {
        Problem::with_dim(name, None, ftol)
    }

    /// Like [`Problem::new`] with the dimension of a d-dimensional function (None: its default).
    pub fn with_dim(name: &str, dim: Option<usize>, ftol: f64) -> Result<Self> {
        let f = by_name(name, dim)?;
        let n = f.dim();
        let domain = f.domain();
        let far = domain.iter().map(|&(lo, hi)| (lo - FAR_WIDTHS * (hi - lo), hi + FAR_WIDTHS * (hi - lo))).collect();
        let pb = f.plot_box();
        let start_box = f.start_box().unwrap_or_else(|| {
            (0..n)
                .map(|i| {
                    let (lo, hi) = domain[i];
                    if i < 2 && (n >= 2 || i == 0) {
                        let (plo, phi) = pb[i];
                        let (a, b) = (lo.max(plo), hi.min(phi));
                        if a < b {
                            return (a, b);
                        }
                    }
                    (lo, hi)
                })
                .collect()
        });
        let fstar = f.min_value();
        let ftol_abs = ftol * fstar.map_or(1.0, |v| v.abs().max(1.0));
        let f_floor = cached_grid_min(&*f, &domain);
        Ok(Problem { fstar, minima: f.minima(), domain, far, start_box, ftol_abs, f_floor, f })
    }

    pub fn name(&self) -> &'static str {
        self.f.name()
    }

    /// Euclidean distance to the nearest global minimiser (NaN when there is none).
    pub fn distance_to_minimum(&self, x: &[f64]) -> f64 {
        self.minima
            .iter()
            .map(|m| m.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt())
            .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
    }
}

/// [`grid_min`] computed once per function and dimension in a process (every test-function run
/// of an experiment prepares its problem, and the grid costs some 40,000 evaluations).
fn cached_grid_min(f: &dyn TestFunction, domain: &[(f64, f64)]) -> f64 {
    static CACHE: std::sync::Mutex<Vec<((&'static str, usize), f64)>> = std::sync::Mutex::new(Vec::new());
    let key = (f.name(), f.dim());
    if let Some(&(_, v)) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(k, _)| *k == key) {
        return v;
    }
    let v = grid_min(f, domain);
    CACHE.lock().unwrap_or_else(|e| e.into_inner()).push((key, v));
    v
}

/// Lowest value of `f` over a grid of the domain (201 points per coordinate in 1-D and 2-D; the
/// first two coordinates, others at the domain's centre, beyond).
fn grid_min(f: &dyn TestFunction, domain: &[(f64, f64)]) -> f64 {
    const K: usize = 200;
    let n = domain.len();
    let mut x: Vec<f64> = domain.iter().map(|(a, b)| 0.5 * (a + b)).collect();
    let mut best = f64::INFINITY;
    let ny = if n >= 2 { K } else { 0 };
    for i in 0..=K {
        x[0] = domain[0].0 + (domain[0].1 - domain[0].0) * i as f64 / K as f64;
        for j in 0..=ny {
            if n >= 2 {
                x[1] = domain[1].0 + (domain[1].1 - domain[1].0) * j as f64 / K as f64;
            }
            let v = f.value(&x);
            if v < best {
                best = v;
            }
        }
    }
    best
}

/// Small deterministic generator (SplitMix64) for the random starts.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Which random stream: evaluation or tuning starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartStream {
    Evaluation = 1,
    Tuning = 2,
}

/// `count` points drawn uniformly in `problem.start_box`, from the stream of (`seed`, function
/// name, `stream`).
pub fn random_starts(problem: &Problem, seed: u64, stream: StartStream, count: usize) -> Vec<Vec<f64>> {
    let mut rng = SplitMix64::new(
        seed ^ fnv1a(problem.name()).rotate_left(17) ^ (stream as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93),
    );
    rng.next_u64();
    (0..count).map(|_| problem.start_box.iter().map(|&(lo, hi)| lo + (hi - lo) * rng.uniform()).collect()).collect()
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `|f − f*|` within tolerance (success).
    Reached,
    /// Left the domain of a function that is unbounded below (success).
    Escaped,
    /// `θ` stopped changing.
    Stalled,
    /// Step budget used up.
    MaxSteps,
    /// Non-finite values or far outside the domain (failure).
    Diverged,
    /// Wall-time budget used up.
    TimeLimit,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Reached,
        Outcome::Escaped,
        Outcome::Stalled,
        Outcome::MaxSteps,
        Outcome::Diverged,
        Outcome::TimeLimit,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reached => "reached",
            Outcome::Escaped => "escaped",
            Outcome::Stalled => "stalled",
            Outcome::MaxSteps => "max_steps",
            Outcome::Diverged => "diverged",
            Outcome::TimeLimit => "time_limit",
        }
    }
    pub fn success(self) -> bool {
        matches!(self, Outcome::Reached | Outcome::Escaped)
    }
    /// The outcome named `s` (one of [`Outcome::as_str`]'s names).
    pub fn from_name(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Stopping rules of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub max_steps: u64,
    pub xtol: f64,
    pub patience: u32,
    pub time_limit: Option<Duration>,
}

/// Result of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub outcome: Outcome,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Evaluations of f and ∇f (the run loop's count: one per step plus the last iterate's, and
    /// the line-search evaluations of optimizers that evaluate, lbfgs). None when not known (a
    /// run read back from a store of an older optlab).
    pub evals: Option<u64>,
    /// `f` at the last iterate (may be non-finite when diverged).
    pub final_f: f64,
    pub final_x: Vec<f64>,
    /// Why the run diverged.
    pub note: Option<String>,
}

impl RunResult {
    /// `f − f*` at the last iterate (NaN without `f*`; +∞ when diverged).
    pub fn gap(&self, p: &Problem) -> f64 {
        match p.fstar {
            None => f64::NAN,
            Some(_) if self.outcome == Outcome::Diverged || !self.final_f.is_finite() => f64::INFINITY,
            Some(fs) => self.final_f - fs,
        }
    }
    /// Final `f` for statistics: +∞ when diverged.
    pub fn f_for_stats(&self) -> f64 {
        if self.outcome == Outcome::Diverged || !self.final_f.is_finite() {
            f64::INFINITY
        } else {
            self.final_f
        }
    }
    /// Distance to the nearest minimiser (NaN without minima; +∞ when diverged).
    pub fn distance(&self, p: &Problem) -> f64 {
        if p.minima.is_empty() {
            f64::NAN
        } else if self.outcome == Outcome::Diverged || self.final_x.iter().any(|v| !v.is_finite()) {
            f64::INFINITY
        } else {
            p.distance_to_minimum(&self.final_x)
        }
    }
    /// Score of the learning-rate protocol (lower is better), see the module documentation.
    pub fn score(&self, p: &Problem) -> f64 {
        if self.outcome == Outcome::Diverged || !self.final_f.is_finite() {
            return f64::INFINITY;
        }
        match p.fstar {
            Some(fs) => {
                if self.outcome == Outcome::Reached {
                    p.ftol_abs
                } else {
                    (self.final_f - fs).max(p.ftol_abs)
                }
            }
            None => {
                if self.outcome == Outcome::Escaped {
                    p.f_floor
                } else {
                    self.final_f.max(p.f_floor)
                }
            }
        }
    }
    /// Steps to success (+∞ for runs that did not succeed).
    pub fn steps_to_success(&self) -> f64 {
        if self.outcome.success() {
            self.steps as f64
        } else {
            f64::INFINITY
        }
    }
}

#[inline]
fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

#[inline]
fn outside(x: &[f64], bx: &[(f64, f64)]) -> bool {
    x.iter().zip(bx).any(|(v, (lo, hi))| v < lo || v > hi)
}

/// Runs one optimizer (configured with its learning rate) on one problem from `start`. With
/// `trace`, appends `f, θ_0, ..., θ_{d−1}` of every iterate (including the start and the last).
/// Divergence is an [`Outcome`], not an error; errors are only for configurations the registry
/// refuses.
pub fn run_one(
    p: &Problem,
    cfg: &OptimConfig,
    start: &[f64],
    lim: &Limits,
    trace: Option<&mut Vec<f64>>,
) -> Result<RunResult> {
    let n = p.f.dim();
    let mut opt = registry::build::<f64>(Layout::single("x", n), cfg)?;
    let fstar = p.fstar;
    let diverged = |it: &Iterate<'_, f64>| {
        (!it.f.is_finite() || !all_finite(it.x) || !all_finite(it.g)).then(|| Termination::Diverged {
            step: it.step,
            what: format!("non-finite f = {} or gradient at step {}", it.f, it.step),
        })
    };
    let escaped = |it: &Iterate<'_, f64>| {
        (fstar.is_none() && outside(it.x, &p.domain)).then_some(Termination::Escaped { step: it.step })
    };
    let far = |it: &Iterate<'_, f64>| {
        outside(it.x, &p.far).then(|| Termination::Diverged {
            step: it.step,
            what: format!("more than {FAR_WIDTHS} domain widths outside the domain at step {}", it.step),
        })
    };
    let hessian = |it: &Iterate<'_, f64>| {
        it.h.is_some_and(|h| !all_finite(h)).then(|| Termination::Diverged {
            step: it.step,
            what: format!("non-finite Hessian diagonal at step {}", it.step),
        })
    };
    // The stopping rules of docs/study.md, in their order.
    let mut run = Executor::<f64, _, OptimError>::new(FunctionProblem::new(&*p.f), &mut *opt, start.to_vec())?
        .stop_when(diverged)
        .stop_when(escaped)
        .stop_when(far);
    if let Some(fs) = fstar {
        run = run.stop_when(Target { value: fs, tol: p.ftol_abs });
    }
    run = run.stop_when(Stalled::new(lim.xtol, lim.patience)).stop_when(MaxSteps(lim.max_steps));
    if let Some(limit) = lim.time_limit {
        run = run.stop_when(TimeLimit { limit, every: TIME_CHECK_EVERY });
    }
    run = run.stop_when(hessian);
    let mut collect = trace.map(Trajectory::new);
    if let Some(c) = collect.as_mut() {
        run = run.observe(c);
    }
    let r = run.run()?;
    let (outcome, note) = match r.termination {
        Termination::Diverged { what, .. } => (Outcome::Diverged, Some(what)),
        Termination::NonFiniteInput { step, error } => (Outcome::Diverged, Some(format!("step {step}: {error}"))),
        Termination::Escaped { .. } => (Outcome::Escaped, None),
        Termination::TargetReached { .. } => (Outcome::Reached, None),
        Termination::Stalled { .. } => (Outcome::Stalled, None),
        Termination::MaxSteps { .. } => (Outcome::MaxSteps, None),
        Termination::TimeLimit { .. } => (Outcome::TimeLimit, None),
        Termination::Requested { reason } => {
            return Err(LabError::Usage(format!("test-function run stopped by a rule it does not set: {reason}")))
        }
    };
    // What is reported is the evaluation point (the iterate itself except for Schedule-Free).
    Ok(RunResult { outcome, steps: r.steps, evals: Some(r.evals), final_f: r.eval_f, final_x: r.eval_x, note })
}

/// The start point of a test-function run.
pub fn start_point(p: &Problem, start: &Start, seed: u64) -> Vec<f64> {
    match start {
        Start::Random { index, of } => {
            random_starts(p, seed, StartStream::Evaluation, *of as usize).swap_remove(*index as usize)
        }
        Start::Default => p.f.default_starts().swap_remove(0),
        Start::Point(x) => x.clone(),
        Start::DefaultAt(i) => p.f.default_starts().get(*i as usize).cloned().unwrap_or_default(),
        Start::Tuning { index, of } => {
            random_starts(p, seed, StartStream::Tuning, *of as usize).swap_remove(*index as usize)
        }
    }
}

/// One test-function run: the study's stopping rules, the trajectory thinned to at most
/// `points` points (default [`MAX_POINTS`]). A run of a test function is a few milliseconds of identical steps, so it
/// is not interrupted when cancelled, and each point's `time_s` is the run's wall time
/// apportioned by step.
pub fn run_function(spec: &RunSpec, f: &FunctionRun) -> RunOutput {
    let problem = match Problem::with_dim(&spec.task, f.dim, f.ftol) {
        Ok(p) => p,
        Err(e) => return RunOutput::failed(e.to_string()),
    };
    let n = problem.f.dim();
    let x0 = start_point(&problem, &f.start, spec.seed);
    if x0.len() != n {
        return RunOutput::failed(format!(
            "start point has {} coordinates, `{}` has dimension {n}",
            x0.len(),
            spec.task
        ));
    }
    let lim = Limits {
        max_steps: f.steps,
        xtol: f.xtol,
        patience: f.patience,
        time_limit: f.time_limit_s.map(Duration::from_secs_f64),
    };
    let mut cfg = spec.optimizer.clone();
    cfg.threads = Some(1);
    let mut trace = Vec::with_capacity((f.steps.min(100_000) as usize + 1) * (n + 1));
    let t0 = std::time::Instant::now();
    let res = match run_one(&problem, &cfg, &x0, &lim, Some(&mut trace)) {
        Ok(r) => r,
        Err(e) => return RunOutput::failed(e.to_string()),
    };
    let wall = t0.elapsed().as_secs_f64();
    let rows: Vec<&[f64]> = trace.chunks_exact(n + 1).collect();
    let min_loss = rows.iter().map(|r| r[0]).filter(|v| !v.is_nan()).fold(f64::NAN, f64::min);
    let per_step = if res.steps > 0 { wall / res.steps as f64 } else { 0.0 };
    let idx: Vec<usize> = (0..rows.len()).collect();
    let series = thin(&idx, f.points as usize)
        .into_iter()
        .map(|i| Point {
            step: i as u64,
            epoch: None,
            time_s: per_step * i as f64,
            loss: rows[i][0],
            val_loss: None,
            accuracy: None,
            x: Some(rows[i][1..].to_vec()),
        })
        .collect();
    let status = if res.outcome == Outcome::Diverged { Status::Diverged } else { Status::Ok };
    RunOutput {
        status,
        error: if status == Status::Diverged { res.note.clone() } else { None },
        summary: Summary {
            steps: res.steps,
            epochs: None,
            final_loss: res.final_f,
            min_loss,
            termination: Some(res.outcome.as_str().to_string()),
            evals: res.evals,
            ..Summary::default()
        },
        series,
        step_series: Vec::new(),
        histograms: Vec::new(),
        landscape: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_uniform_in_unit_interval() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let xs: Vec<f64> = (0..1000).map(|_| a.uniform()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().zip((0..1000).map(|_| b.uniform())).all(|(x, y)| *x == y));
        let mean = xs.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05);
    }

    #[test]
    fn far_box_is_ten_widths_beyond_the_domain() {
        let p = Problem::new("sphere", 1e-6).unwrap();
        assert_eq!(p.far[0], (-5.12 - 102.4, 5.12 + 102.4));
        assert!(p.distance_to_minimum(&[3.0, 4.0]) == 5.0);
        let h = Problem::new("himmelblau", 1e-6).unwrap();
        assert!(h.distance_to_minimum(&[3.0, 2.0]) == 0.0);
        assert!(Problem::new("saddle", 1e-6).unwrap().distance_to_minimum(&[0.0, 0.0]).is_nan());
    }

    /// A Schedule-Free run reports the evaluation weights x (and f there), not the training
    /// weights y it stepped; the trajectory's rows are (f(x), x) too.
    #[test]
    fn schedule_free_runs_report_the_evaluation_weights() {
        let p = Problem::new("rosenbrock", 1e-6).unwrap();
        let cfg = OptimConfig::new("schedule_free_sgd").set("lr", 1e-3).set("momentum", 0.8);
        let lim = Limits { max_steps: 5, xtol: 0.0, patience: u32::MAX, time_limit: None };
        let start = [-1.5, 2.0];
        let mut trace = Vec::new();
        let r = run_one(&p, &cfg, &start, &lim, Some(&mut trace)).unwrap();
        assert_eq!(r.steps, 5);
        // By hand: the same optimizer stepped on the gradients at y, x from eval_params.
        let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
        let mut y = start.to_vec();
        let mut g = vec![0.0; 2];
        let mut x = vec![0.0; 2];
        for step in 0..=5 {
            o.eval_params(&[&y[..]], &mut [&mut x[..]]).unwrap();
            let row = &trace[step * 3..step * 3 + 3];
            assert_eq!(row, &[p.f.value(&x), x[0], x[1]][..], "trajectory row {step}");
            if step == 5 {
                break;
            }
            p.f.value_and_gradient(&y, &mut g);
            o.step(&mut [&mut y[..]], &[&g[..]], None).unwrap();
        }
        assert_ne!(x, y, "x and y differ after 5 steps");
        assert_eq!(r.final_x, x);
        assert_eq!(r.final_f, p.f.value(&x));
    }
}
