//! The one run loop: an optimizer stepping on a [`Problem`], with stopping rules and observers
//! (after argmin's `Executor`: the loop is owned here, termination reasons are values, and
//! everything that watches a run is an observer).
//!
//! Every iteration of [`Executor::run`] is, in this order:
//!
//! 1. **evaluate** f and ∇f at the iterate θ_t (and the Hessian diagonal, only when the
//!    optimizer's spec `needs_hessian`);
//! 2. **check termination**: the [`Rule`]s in the order they were added; the first that returns
//!    a [`Termination`] ends the run at this iterate;
//! 3. **notify observers** of the [`Iterate`] (step t, f, θ, ∇f, the evaluation counts, and the
//!    termination when this iterate is the last); an observer may ask to stop
//!    ([`Control::Stop`]), which ends the run at this iterate;
//! 4. **step** the optimizer (θ_{t+1} from θ_t and ∇f(θ_t)).
//!
//! When the run ends, every observer's [`Observer::finish`] gets the last iterate and the reason.
//!
//! Evaluations are counted apart from steps ([`Counted`]): a first-order optimizer's step takes
//! one evaluation (plus the one at the last iterate); an optimizer that evaluates
//! ([`Optimizer::evaluates`]: L-BFGS, whose iterations and line search need f and ∇f at trial
//! points) is stepped with [`Optimizer::step_evaluating`], given f at θ_t and a callback that
//! evaluates the problem through the same [`Counted`] wrapper as often as the step asks, so the
//! counts in [`Iterate`] and [`Report`] stay true. Step 4 is then one torch `step(closure)`,
//! whose first closure call is the evaluation of step 1 (f and ∇f at θ_t, made already).
//!
//! ```
//! use optlab_optim::executor::{Executor, MaxSteps, Problem, Target, Termination};
//! use optlab_optim::{registry, Layout, OptimConfig};
//!
//! /// f(x) = x0^2 + 10 x1^2.
//! struct Bowl;
//! impl Problem<f64> for Bowl {
//!     fn dim(&self) -> usize { 2 }
//!     fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
//!         g[0] = 2.0 * x[0];
//!         g[1] = 20.0 * x[1];
//!         x[0] * x[0] + 10.0 * x[1] * x[1]
//!     }
//! }
//!
//! let cfg = OptimConfig::new("adam").set("lr", 0.1);
//! let mut opt = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
//! let mut problem = Bowl;
//! let mut rows = 0;
//! let mut count = |_: &optlab_optim::executor::Iterate<f64>| -> optlab_optim::Result<_> {
//!     rows += 1;
//!     Ok(optlab_optim::executor::Control::Continue)
//! };
//! let report = Executor::new(&mut problem, &mut *opt, vec![1.0, -1.0])
//!     .unwrap()
//!     .stop_when(Target { value: 0.0, tol: 1e-6 })
//!     .stop_when(MaxSteps(1000))
//!     .observe(&mut count)
//!     .run()
//!     .unwrap();
//! assert!(matches!(report.termination, Termination::TargetReached { .. }));
//! assert_eq!(report.evals, report.steps + 1);
//! assert_eq!(rows as u64, report.steps + 1);
//! ```
//!
//! To add a stopping rule, implement [`Rule`] (or pass a closure
//! `FnMut(&Iterate<T>) -> Option<Termination>`) and add it with [`Executor::stop_when`] at its
//! place in the order. To add an observer, implement [`Observer`] (or pass a closure
//! `FnMut(&Iterate<T>) -> Result<Control, E>`) and add it with [`Executor::observe`].

use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::optimizer::{Optimizer, StepOutcome};
use std::time::{Duration, Instant};

/// What an optimizer minimises: f and its gradient at a point of `dim()` coordinates, and,
/// optionally, the diagonal of its Hessian.
pub trait Problem<T: Float> {
    /// Number of coordinates of x (the total of the optimizer's tensors).
    fn dim(&self) -> usize;

    /// f(x), with ∇f(x) written into `g` (`dim()` elements). Non-finite values are returned as
    /// they are: what they mean is for the stopping rules to decide.
    fn eval(&mut self, x: &[T], g: &mut [T]) -> f64;

    /// f(x) alone (at the evaluation weights of optimizers that have them, [`Iterate::eval_x`]).
    /// By default [`Problem::eval`] with a scratch gradient; problems that count or record their
    /// gradient evaluations (golden replays) override it.
    fn value(&mut self, x: &[T]) -> f64 {
        let mut g = vec![T::ZERO; x.len()];
        self.eval(x, &mut g)
    }

    /// Whether [`Problem::hessian_diag`] is available (asked once, before a run of an optimizer
    /// that needs it; such a run is refused when it is not).
    fn has_hessian_diag(&self) -> bool {
        false
    }

    /// Writes the diagonal of ∇²f(x) into `h`; returns false when it is not available (the
    /// default). Called only for optimizers whose spec `needs_hessian`.
    fn hessian_diag(&mut self, _x: &[T], _h: &mut [T]) -> bool {
        false
    }
}

impl<T: Float, P: Problem<T> + ?Sized> Problem<T> for &mut P {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn eval(&mut self, x: &[T], g: &mut [T]) -> f64 {
        (**self).eval(x, g)
    }
    fn value(&mut self, x: &[T]) -> f64 {
        (**self).value(x)
    }
    fn has_hessian_diag(&self) -> bool {
        (**self).has_hessian_diag()
    }
    fn hessian_diag(&mut self, x: &[T], h: &mut [T]) -> bool {
        (**self).hessian_diag(x, h)
    }
}

/// A problem with its evaluations counted: every call of f and ∇f, and of the Hessian diagonal.
/// The executor evaluates only through this wrapper, so the counts hold whoever asks (the loop,
/// or a line search inside a step).
#[derive(Debug)]
pub struct Counted<P> {
    problem: P,
    evals: u64,
    hessian_evals: u64,
}

impl<P> Counted<P> {
    pub fn new(problem: P) -> Self {
        Counted { problem, evals: 0, hessian_evals: 0 }
    }
    /// Evaluations of f and ∇f so far.
    pub fn evals(&self) -> u64 {
        self.evals
    }
    /// Evaluations of the Hessian diagonal so far.
    pub fn hessian_evals(&self) -> u64 {
        self.hessian_evals
    }
    pub fn inner(&self) -> &P {
        &self.problem
    }
    pub fn into_inner(self) -> P {
        self.problem
    }
    /// f(x) and ∇f(x) into `g`, counted.
    pub fn eval<T: Float>(&mut self, x: &[T], g: &mut [T]) -> f64
    where
        P: Problem<T>,
    {
        self.evals += 1;
        self.problem.eval(x, g)
    }
    /// f(x) alone, counted as an evaluation.
    pub fn value<T: Float>(&mut self, x: &[T]) -> f64
    where
        P: Problem<T>,
    {
        self.evals += 1;
        self.problem.value(x)
    }
    /// The Hessian diagonal into `h`, counted; false when the problem has none.
    pub fn hessian_diag<T: Float>(&mut self, x: &[T], h: &mut [T]) -> bool
    where
        P: Problem<T>,
    {
        self.hessian_evals += 1;
        self.problem.hessian_diag(x, h)
    }
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Termination {
    /// The step budget was used up ([`MaxSteps`]).
    MaxSteps { steps: u64 },
    /// |f − target| <= tol ([`Target`]).
    TargetReached { f: f64, target: f64 },
    /// θ left a region whose leaving counts as success (e.g. the domain of a function that is
    /// unbounded below).
    Escaped { step: u64 },
    /// A rule found non-finite or runaway values at iterate `step`; `what` says which.
    Diverged { step: u64, what: String },
    /// The optimizer refused step `step` (counted from 1) because of a non-finite gradient or
    /// Hessian element (its non-finite policy is `error`); `error` is its message.
    NonFiniteInput { step: u64, error: String },
    /// θ stopped changing for `steps` consecutive steps ([`Stalled`]).
    Stalled { steps: u32 },
    /// The wall time exceeded its budget ([`TimeLimit`]).
    TimeLimit { elapsed: Duration },
    /// An observer (or a caller's own rule) asked to stop, for `reason`.
    Requested { reason: String },
}

impl Termination {
    /// Diverged, or the optimizer refused a non-finite input.
    pub fn is_divergence(&self) -> bool {
        matches!(self, Termination::Diverged { .. } | Termination::NonFiniteInput { .. })
    }
}

/// One iterate θ_t, as rules and observers see it.
#[derive(Clone, Copy, Debug)]
pub struct Iterate<'a, T> {
    /// Steps taken before this iterate (0 at the start).
    pub step: u64,
    /// f(θ_t).
    pub f: f64,
    pub x: &'a [T],
    /// ∇f(θ_t).
    pub g: &'a [T],
    /// The Hessian diagonal at θ_t, for optimizers that need it.
    pub h: Option<&'a [T]>,
    /// Evaluations of f and ∇f so far (this iterate's included).
    pub evals: u64,
    /// Evaluations of the Hessian diagonal so far.
    pub hessian_evals: u64,
    /// When the run started.
    pub started: Instant,
    /// Set when the run ends at this iterate: the reason.
    pub terminating: Option<&'a Termination>,
    /// The evaluation weights at this iterate and f there: `x` and `f` themselves, except for
    /// optimizers that keep evaluation weights apart from the training weights
    /// ([`Optimizer::has_eval_params`], Schedule-Free), whose `f(eval_x)` costs one more
    /// (counted) evaluation per iterate. What a run reports (trajectories, targets, the final
    /// point) is this point; gradients are taken at `x`.
    pub eval_f: f64,
    pub eval_x: &'a [T],
}

/// A stopping rule, asked at every iterate (until an earlier rule ends the run).
pub trait Rule<T: Float> {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination>;
}

impl<T: Float, F: FnMut(&Iterate<'_, T>) -> Option<Termination>> Rule<T> for F {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination> {
        self(it)
    }
}

/// Stops at iterate `n`, after `n` steps.
#[derive(Clone, Copy, Debug)]
pub struct MaxSteps(pub u64);

impl<T: Float> Rule<T> for MaxSteps {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination> {
        (it.step >= self.0).then_some(Termination::MaxSteps { steps: it.step })
    }
}

/// Stops when |f − value| <= tol.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub value: f64,
    pub tol: f64,
}

impl<T: Float> Rule<T> for Target {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination> {
        ((it.eval_f - self.value).abs() <= self.tol)
            .then_some(Termination::TargetReached { f: it.eval_f, target: self.value })
    }
}

/// Stops when the loss is not finite: [`Termination::Diverged`] with `what` = "loss is {f}".
#[derive(Clone, Copy, Debug)]
pub struct NonFiniteLoss;

impl<T: Float> Rule<T> for NonFiniteLoss {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination> {
        (!it.f.is_finite()).then(|| Termination::Diverged { step: it.step, what: format!("loss is {}", it.f) })
    }
}

/// Stops when max_i |θ_t − θ_{t−1}|_i <= xtol·max(1, max_i |θ_t|_i) held on `patience`
/// consecutive steps. It must be asked at every iterate (rules before it only end the run).
#[derive(Clone, Debug)]
pub struct Stalled {
    pub xtol: f64,
    pub patience: u32,
    prev: Vec<f64>,
    calm: u32,
}

impl Stalled {
    pub fn new(xtol: f64, patience: u32) -> Self {
        Stalled { xtol, patience, prev: Vec::new(), calm: 0 }
    }
}

impl<T: Float> Rule<T> for Stalled {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination> {
        if it.step > 0 && self.prev.len() == it.x.len() {
            let scale = it.x.iter().fold(1.0f64, |m, v| m.max(v.to_f64().abs()));
            let dx = it.x.iter().zip(&self.prev).fold(0.0f64, |m, (a, b)| m.max((a.to_f64() - b).abs()));
            if dx <= self.xtol * scale {
                self.calm += 1;
            } else {
                self.calm = 0;
            }
        }
        self.prev.clear();
        self.prev.extend(it.x.iter().map(|v| v.to_f64()));
        (self.calm >= self.patience).then_some(Termination::Stalled { steps: self.calm })
    }
}

/// Stops when the run's wall time reaches `limit`, looked at every `every` steps (reading the
/// clock costs more than a small step).
#[derive(Clone, Copy, Debug)]
pub struct TimeLimit {
    pub limit: Duration,
    pub every: u64,
}

impl<T: Float> Rule<T> for TimeLimit {
    fn check(&mut self, it: &Iterate<'_, T>) -> Option<Termination> {
        if !it.step.is_multiple_of(self.every.max(1)) {
            return None;
        }
        let elapsed = it.started.elapsed();
        (elapsed >= self.limit).then_some(Termination::TimeLimit { elapsed })
    }
}

/// What an observer wants after seeing an iterate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// End the run at this iterate ([`Termination::Requested`]).
    Stop(String),
}

/// Watches a run. `E` is the caller's error type (an observer that writes a file fails with it).
pub trait Observer<T: Float, E = OptimError> {
    /// Called at every iterate, after the stopping rules (`it.terminating` is set when the run
    /// ends here).
    fn observe(&mut self, it: &Iterate<'_, T>) -> Result<Control, E>;

    /// Called once when the run ends, with the last iterate and the reason.
    fn finish(&mut self, _last: &Iterate<'_, T>, _why: &Termination) -> Result<(), E> {
        Ok(())
    }

    /// Called after each optimizer step (`step` counted from 1) with its outcome and, when the
    /// executor times steps ([`Executor::time_steps`]), its wall time.
    fn after_step(&mut self, _step: u64, _outcome: &StepOutcome, _elapsed: Option<Duration>) -> Result<(), E> {
        Ok(())
    }
}

impl<T: Float, E, F: FnMut(&Iterate<'_, T>) -> Result<Control, E>> Observer<T, E> for F {
    fn observe(&mut self, it: &Iterate<'_, T>) -> Result<Control, E> {
        self(it)
    }
}

/// Point thinning: passes on step 0, every `k`-th step and the last iterate of a run that used
/// its whole step budget (`optlab trace`'s rows); with [`Every::with_final`], the last iterate
/// whatever ended the run.
#[derive(Debug)]
pub struct Every<O> {
    pub inner: O,
    k: u64,
    any_final: bool,
    last_passed: Option<u64>,
}

impl<O> Every<O> {
    /// `k` >= 1 (0 is taken as 1).
    pub fn new(k: u64, inner: O) -> Self {
        Every { inner, k: k.max(1), any_final: false, last_passed: None }
    }
    /// Also pass on the last iterate of a run that ended before its budget.
    pub fn with_final(mut self) -> Self {
        self.any_final = true;
        self
    }
}

impl<T: Float, E, O: Observer<T, E>> Observer<T, E> for Every<O> {
    fn observe(&mut self, it: &Iterate<'_, T>) -> Result<Control, E> {
        let at_budget = matches!(it.terminating, Some(Termination::MaxSteps { .. }));
        if it.step.is_multiple_of(self.k) || at_budget || (self.any_final && it.terminating.is_some()) {
            self.last_passed = Some(it.step);
            return self.inner.observe(it);
        }
        Ok(Control::Continue)
    }
    fn finish(&mut self, last: &Iterate<'_, T>, why: &Termination) -> Result<(), E> {
        if self.any_final && self.last_passed != Some(last.step) {
            self.last_passed = Some(last.step);
            self.inner.observe(last)?;
        }
        self.inner.finish(last, why)
    }
    fn after_step(&mut self, step: u64, outcome: &StepOutcome, elapsed: Option<Duration>) -> Result<(), E> {
        self.inner.after_step(step, outcome, elapsed)
    }
}

/// How a run ended and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Report<T> {
    pub termination: Termination,
    /// Optimizer steps taken (applied or skipped).
    pub steps: u64,
    /// Steps skipped under the non-finite policy `skip`.
    pub skipped: u64,
    /// Evaluations of f and ∇f.
    pub evals: u64,
    /// Evaluations of the Hessian diagonal.
    pub hessian_evals: u64,
    /// f at the last iterate.
    pub f: f64,
    /// The last iterate.
    pub x: Vec<T>,
    /// f at the evaluation weights of the last iterate, and those weights (`f` and `x` except for
    /// optimizers with evaluation weights of their own: see [`Iterate::eval_x`]).
    pub eval_f: f64,
    pub eval_x: Vec<T>,
}

/// Runs an optimizer on a problem: see the [module documentation](self).
pub struct Executor<'a, T: Float, P: Problem<T>, E = OptimError> {
    problem: Counted<P>,
    opt: &'a mut dyn Optimizer<T>,
    x: Vec<T>,
    sizes: Vec<usize>,
    rules: Vec<Box<dyn Rule<T> + 'a>>,
    observers: Vec<&'a mut dyn Observer<T, E>>,
    time_steps: bool,
}

impl<'a, T: Float, P: Problem<T>, E: From<OptimError>> Executor<'a, T, P, E> {
    /// A run of `opt` on `problem` from `x0`. Refused (before anything is evaluated) when the
    /// sizes disagree, or when the optimizer needs the Hessian diagonal and the problem has none.
    pub fn new(problem: P, opt: &'a mut dyn Optimizer<T>, x0: Vec<T>) -> Result<Self> {
        let sizes: Vec<usize> = opt.layout().tensors().iter().map(|t| t.len).collect();
        let total: usize = sizes.iter().sum();
        let n = problem.dim();
        if total != n || x0.len() != n {
            return Err(OptimError::Malformed(format!(
                "the problem has {n} coordinates, the start point {} and optimizer `{}`'s tensors ({}) {total}",
                x0.len(),
                opt.spec().name,
                opt.layout().names().join(", ")
            )));
        }
        if opt.spec().needs_hessian && !problem.has_hessian_diag() {
            return Err(missing_hessian(&*opt));
        }
        Ok(Executor {
            problem: Counted::new(problem),
            opt,
            x: x0,
            sizes,
            rules: Vec::new(),
            observers: Vec::new(),
            time_steps: false,
        })
    }

    /// Adds a stopping rule after those already added (rules are asked in this order).
    pub fn stop_when(mut self, rule: impl Rule<T> + 'a) -> Self {
        self.rules.push(Box::new(rule));
        self
    }

    /// Adds an observer after those already added (notified in this order).
    pub fn observe(mut self, o: &'a mut dyn Observer<T, E>) -> Self {
        self.observers.push(o);
        self
    }

    /// Times each optimizer step (only the `step` call) and passes the time to
    /// [`Observer::after_step`].
    pub fn time_steps(mut self, on: bool) -> Self {
        self.time_steps = on;
        self
    }

    /// Runs until a rule or an observer stops it. Errors are the optimizer's (other than a
    /// refused non-finite input, which is [`Termination::NonFiniteInput`]) and the observers'.
    pub fn run(self) -> Result<Report<T>, E> {
        let Executor { mut problem, opt, mut x, sizes, mut rules, mut observers, time_steps } = self;
        let n = x.len();
        let needs_h = opt.spec().needs_hessian;
        let mut g = vec![T::ZERO; n];
        let mut h = if needs_h { vec![T::ZERO; n] } else { Vec::new() };
        let started = Instant::now();
        let (mut steps, mut skipped) = (0u64, 0u64);
        let with_eval = opt.has_eval_params();
        let evaluates = opt.evaluates();
        let mut ex = if with_eval { vec![T::ZERO; n] } else { Vec::new() };
        loop {
            let f = problem.eval(&x, &mut g);
            if needs_h && !problem.hessian_diag(&x, &mut h) {
                return Err(missing_hessian(opt).into());
            }
            let ef = if with_eval {
                eval_point(opt, &x, &mut ex, &sizes)?;
                problem.value(&ex)
            } else {
                f
            };
            let mut it = Iterate {
                step: steps,
                f,
                x: &x,
                g: &g,
                h: needs_h.then_some(&h[..]),
                evals: problem.evals(),
                hessian_evals: problem.hessian_evals(),
                started,
                terminating: None,
                eval_f: ef,
                eval_x: if with_eval { &ex } else { &x },
            };
            let mut end = rules.iter_mut().find_map(|r| r.check(&it));
            let mut requested = None;
            it.terminating = end.as_ref();
            for o in observers.iter_mut() {
                if let Control::Stop(reason) = o.observe(&it)? {
                    requested.get_or_insert(reason);
                }
            }
            if end.is_none() {
                end = requested.map(|reason| Termination::Requested { reason });
            }
            let why = match end {
                Some(why) => why,
                None => match step(
                    opt,
                    &mut x,
                    &g,
                    needs_h.then_some(&h[..]),
                    &sizes,
                    time_steps,
                    evaluates.then_some((f, &mut |xx: &[T], gg: &mut [T]| problem.eval(xx, gg))),
                ) {
                    (Ok(outcome), elapsed) => {
                        steps += 1;
                        if matches!(outcome, StepOutcome::Skipped { .. }) {
                            skipped += 1;
                        }
                        for o in observers.iter_mut() {
                            o.after_step(steps, &outcome, elapsed)?;
                        }
                        continue;
                    }
                    (Err(e @ OptimError::NonFinite { .. }), _) => {
                        Termination::NonFiniteInput { step: steps + 1, error: e.to_string() }
                    }
                    (Err(e), _) => return Err(e.into()),
                },
            };
            let last = Iterate {
                step: steps,
                f,
                x: &x,
                g: &g,
                h: needs_h.then_some(&h[..]),
                evals: problem.evals(),
                hessian_evals: problem.hessian_evals(),
                started,
                terminating: Some(&why),
                eval_f: ef,
                eval_x: if with_eval { &ex } else { &x },
            };
            for o in observers.iter_mut() {
                o.finish(&last, &why)?;
            }
            return Ok(Report {
                termination: why,
                steps,
                skipped,
                evals: problem.evals(),
                hessian_evals: problem.hessian_evals(),
                f,
                eval_f: ef,
                eval_x: if with_eval { ex } else { x.clone() },
                x,
            });
        }
    }
}

/// The optimizer's evaluation weights for the flat iterate `x` into `out` (split by tensor).
fn eval_point<T: Float>(opt: &dyn Optimizer<T>, x: &[T], out: &mut [T], sizes: &[usize]) -> Result<()> {
    let mut xs: Vec<&[T]> = Vec::with_capacity(sizes.len());
    let mut os: Vec<&mut [T]> = Vec::with_capacity(sizes.len());
    let (mut xr, mut or) = (x, out);
    for &len in sizes {
        let (a, b) = xr.split_at(len);
        xs.push(a);
        xr = b;
        let (a, b) = or.split_at_mut(len);
        os.push(a);
        or = b;
    }
    opt.eval_params(&xs, &mut os)?;
    Ok(())
}

fn missing_hessian<T: Float>(opt: &dyn Optimizer<T>) -> OptimError {
    OptimError::MissingHessian {
        optimizer: opt.spec().name.into(),
        tensor: opt.layout().tensors().first().map(|t| t.name.clone()).unwrap_or_default(),
    }
}

/// A step's evaluations for optimizers that evaluate ([`Optimizer::evaluates`]): f at the
/// iterate, and the (counted) evaluation of the problem at trial points.
type StepEval<'e, T> = Option<(f64, &'e mut dyn FnMut(&[T], &mut [T]) -> f64)>;

/// One optimizer step over the flat buffers split by tensor; timed when asked (the time includes
/// the evaluations inside the step of an optimizer that evaluates).
fn step<T: Float>(
    opt: &mut dyn Optimizer<T>,
    x: &mut [T],
    g: &[T],
    h: Option<&[T]>,
    sizes: &[usize],
    timed: bool,
    eval: StepEval<'_, T>,
) -> (Result<StepOutcome>, Option<Duration>) {
    if let [_] = sizes {
        let hh = h.map(|h| [h]);
        let t0 = timed.then(Instant::now);
        let r = match eval {
            Some((f, e)) => opt.step_evaluating(&mut [x], f, &[g], hh.as_ref().map(|a| &a[..]), e),
            None => opt.step(&mut [x], &[g], hh.as_ref().map(|a| &a[..])),
        };
        return (r, t0.map(|t| t.elapsed()));
    }
    let mut xs: Vec<&mut [T]> = Vec::with_capacity(sizes.len());
    let mut gs: Vec<&[T]> = Vec::with_capacity(sizes.len());
    let mut hs: Vec<&[T]> = Vec::with_capacity(if h.is_some() { sizes.len() } else { 0 });
    let (mut xr, mut gr, mut hr) = (x, g, h.unwrap_or(&[]));
    for &len in sizes {
        let (a, b) = xr.split_at_mut(len);
        xs.push(a);
        xr = b;
        let (a, b) = gr.split_at(len);
        gs.push(a);
        gr = b;
        if h.is_some() {
            let (a, b) = hr.split_at(len);
            hs.push(a);
            hr = b;
        }
    }
    let t0 = timed.then(Instant::now);
    let r = match eval {
        Some((f, e)) => opt.step_evaluating(&mut xs, f, &gs, h.map(|_| &hs[..]), e),
        None => opt.step(&mut xs, &gs, h.map(|_| &hs[..])),
    };
    (r, t0.map(|t| t.elapsed()))
}

#[cfg(test)]
mod tests;
