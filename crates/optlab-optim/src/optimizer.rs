//! The optimizer interface every optimizer (and wrapper) presents, and its configuration.

use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{split_assignment, Hyper, Spec};
use crate::layout::Layout;
use crate::schedule::{Schedule, Scheduled};
use crate::state::OptimizerState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a step does with a non-finite (NaN or infinite) gradient element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonFinite {
    /// Refuse the step with an error naming the tensor and element; nothing is changed.
    #[default]
    Error,
    /// Skip the whole step (parameters, state and step count unchanged) and say so.
    Skip,
    /// Do not check (saves one read of the gradients per step).
    Unchecked,
}

impl std::str::FromStr for NonFinite {
    type Err = OptimError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(NonFinite::Error),
            "skip" => Ok(NonFinite::Skip),
            "unchecked" => Ok(NonFinite::Unchecked),
            _ => Err(OptimError::Malformed(format!("non-finite policy `{s}`: expected error, skip or unchecked"))),
        }
    }
}

/// What happened in a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    Applied,
    /// Skipped under [`NonFinite::Skip`]: the first non-finite gradient element found.
    Skipped {
        tensor: String,
        index: usize,
    },
}

/// Overrides for a group of tensors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Tensor names or patterns with `*` wildcards; a tensor joins the first group that matches.
    pub tensors: Vec<String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub schedules: Vec<Scheduled>,
}

/// Everything needed to build an optimizer by name: hyperparameters as text, schedules,
/// parameter groups, the non-finite policy and the thread count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub name: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub schedules: Vec<Scheduled>,
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    #[serde(default)]
    pub non_finite: NonFinite,
    /// Threads for the parallel pass (None: rayon's global pool; 1: the calling thread only).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Kernel instruction set (default: the widest the CPU supports; results are identical).
    #[serde(default)]
    pub simd: crate::simd::Simd,
    /// Gradient clipping by global norm (torch's `clip_grad_norm_(params, max_norm, 2)`): over
    /// all tensors of the step, `g *= min(1, max_norm / (‖g‖₂ + 1e-6))`. Must be finite and > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f64>,
    /// Gradient clipping by value (torch's `clip_grad_value_`): each element clamped to
    /// `[-v, v]`, applied before `clip_norm` when both are set. Must be finite and > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_value: Option<f64>,
    /// Weight averaging (SWA or EMA of the weights) around the optimizer: see [`crate::average`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average: Option<crate::average::AverageConfig>,
}

impl OptimConfig {
    pub fn new(name: &str) -> Self {
        OptimConfig { name: name.to_string(), ..Default::default() }
    }

    /// Sets a hyperparameter of the default group (validated when the optimizer is built).
    pub fn set(mut self, key: &str, value: impl ToString) -> Self {
        self.set.insert(key.to_string(), value.to_string());
        self
    }

    /// Parses `KEY=VALUE` and sets it.
    pub fn set_assignment(mut self, kv: &str) -> Result<Self> {
        let (k, v) = split_assignment(kv)?;
        self.set.insert(k.to_string(), v.to_string());
        Ok(self)
    }

    /// Makes `key` follow `schedule` (per step) in every group.
    pub fn schedule(mut self, key: &str, schedule: Schedule) -> Self {
        self.schedules.retain(|s| s.key != key);
        self.schedules.push(Scheduled { key: key.to_string(), schedule, per_epoch: false, index: 0 });
        self
    }

    /// Like [`OptimConfig::schedule`] with the epoch as time unit.
    pub fn schedule_per_epoch(mut self, key: &str, schedule: Schedule) -> Self {
        self.schedules.retain(|s| s.key != key);
        self.schedules.push(Scheduled { key: key.to_string(), schedule, per_epoch: true, index: 0 });
        self
    }

    /// Parses `KEY=SCHEDULE` (e.g. `lr=cosine(t_max=100)`, `beta1=exponential(gamma=0.99)@epoch`).
    pub fn schedule_assignment(self, text: &str) -> Result<Self> {
        let (k, v) = split_assignment(text)?;
        let (v, per_epoch) = match v.strip_suffix("@epoch") {
            Some(s) => (s, true),
            None => (v.strip_suffix("@step").unwrap_or(v), false),
        };
        let s = Schedule::parse(v).map_err(|e| OptimError::Schedule(format!("`{k}`: {e}")))?;
        Ok(if per_epoch { self.schedule_per_epoch(k, s) } else { self.schedule(k, s) })
    }

    pub fn group(mut self, g: GroupConfig) -> Self {
        self.groups.push(g);
        self
    }

    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    pub fn simd(mut self, s: crate::simd::Simd) -> Self {
        self.simd = s;
        self
    }

    pub fn non_finite(mut self, p: NonFinite) -> Self {
        self.non_finite = p;
        self
    }

    /// Clips gradients by global norm before every step (see [`OptimConfig::clip_norm`]).
    pub fn clip_norm(mut self, max_norm: f64) -> Self {
        self.clip_norm = Some(max_norm);
        self
    }

    /// Clamps gradient elements to `[-v, v]` before every step (see [`OptimConfig::clip_value`]).
    pub fn clip_value(mut self, v: f64) -> Self {
        self.clip_value = Some(v);
        self
    }

    /// Averages the weights as `a` says (see [`crate::average`]).
    pub fn average(mut self, a: crate::average::AverageConfig) -> Self {
        self.average = Some(a);
        self
    }

    /// Checks the clipping settings: each, when set, must be finite and > 0.
    pub fn check_clipping(&self) -> Result<()> {
        for (key, v) in [("clip_norm", self.clip_norm), ("clip_value", self.clip_value)] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(OptimError::Malformed(format!(
                        "optimizer `{}`: `{key}` = {v}: expected a finite number > 0",
                        self.name
                    )));
                }
            }
        }
        Ok(())
    }
}

/// An optimizer over a fixed [`Layout`] of named tensors, in element type `T`.
pub trait Optimizer<T: Float>: Send {
    /// The optimizer's static description.
    fn spec(&self) -> &'static Spec;

    /// The tensors it was built for; steps pass them in this order.
    fn layout(&self) -> &Layout;

    /// One step: updates `params` in place from `grads` (and the Hessian diagonals `hess`, for the
    /// optimizers that ask for it; the others ignore it). Tensors are in [`Optimizer::layout`] order.
    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]], hess: Option<&[&[T]]>) -> Result<StepOutcome>;

    /// Whether a step evaluates the objective itself (L-BFGS: its iterations and line search ask
    /// for f and ∇f at trial points). Run loops then call [`Optimizer::step_evaluating`], which
    /// can evaluate; [`Optimizer::step`] alone is refused where the step would need it.
    fn evaluates(&self) -> bool {
        false
    }

    /// One step that may evaluate f and ∇f as often as it needs: `eval(x, g)` returns f(x) and
    /// writes ∇f(x) into `g`, both flat (the tensors concatenated in [`Optimizer::layout`]
    /// order). `f` and `grads` are f and ∇f at `params`, which the caller has evaluated (the
    /// step's first evaluation). Optimizers that do not evaluate ([`Optimizer::evaluates`] is
    /// false) ignore `f` and `eval` and take [`Optimizer::step`].
    fn step_evaluating(
        &mut self,
        params: &mut [&mut [T]],
        _f: f64,
        grads: &[&[T]],
        hess: Option<&[&[T]]>,
        _eval: &mut dyn FnMut(&[T], &mut [T]) -> f64,
    ) -> Result<StepOutcome> {
        self.step(params, grads, hess)
    }

    /// Bytes of memory traffic per parameter per step of an ideal fused implementation (reads and
    /// writes of parameters, gradients and state), for the default group.
    fn bytes_per_param(&self) -> f64;

    /// Elements of per-element state held (all buffers of all tensors): the optimizer's memory.
    fn state_elements(&self) -> usize;

    /// The global L2 norm of the gradients (over all tensors) of the last step, before any
    /// clipping; `None` before the first step, or when nothing computed it (non-finite policy
    /// `unchecked` and no `clip_norm`, so that no pass over the gradients is added).
    fn last_grad_norm(&self) -> Option<f64> {
        None
    }

    /// Whether the optimizer keeps evaluation weights apart from the parameters it steps
    /// (Schedule-Free: the parameters are the training weights y, the evaluation weights are x).
    /// Whoever validates or reports a model should then use [`Optimizer::eval_params`].
    fn has_eval_params(&self) -> bool {
        false
    }

    /// Writes the evaluation weights for the training weights `params` (tensors in
    /// [`Optimizer::layout`] order) into `out` and returns `Ok(true)`; returns `Ok(false)` and
    /// leaves `out` untouched when the parameters are themselves the evaluation weights (every
    /// optimizer but the Schedule-Free ones). Before the first step the evaluation weights are the
    /// parameters.
    fn eval_params(&self, _params: &[&[T]], _out: &mut [&mut [T]]) -> Result<bool> {
        Ok(false)
    }

    /// Called by a training loop at the end of an epoch's steps, with the parameters then (before
    /// it validates, and before [`Optimizer::end_epoch`]): weight averaging per epoch
    /// ([`crate::average`]) takes its update here. Every other optimizer ignores it.
    fn epoch_boundary(&mut self, _params: &[&[T]]) -> Result<()> {
        Ok(())
    }

    /// Replaces the value of numeric hyperparameter `key` of `group` at the following steps
    /// (schedules on it are not applied while it is set), or ends the replacement (`None`): how
    /// SWALR drives the learning rate of the optimizer it wraps. Checked against the key's range;
    /// an optimizer without the key refuses it, naming it.
    fn override_hyper(&mut self, _group: usize, key: &str, _value: Option<f64>) -> Result<()> {
        Err(OptimError::Malformed(format!(
            "optimizer `{}` cannot have its hyperparameter `{key}` replaced",
            self.spec().name
        )))
    }

    /// Steps taken (skipped steps do not count).
    fn steps_taken(&self) -> u64;

    /// Epochs ended with [`Optimizer::end_epoch`].
    fn epochs_taken(&self) -> u64;

    /// Advances the epoch counter that drives per-epoch schedules.
    fn end_epoch(&mut self);

    /// Reports a metric to reduce-on-plateau schedules.
    fn report_metric(&mut self, metric: f64);

    /// Value of a hyperparameter of a group at the next step (schedules applied).
    fn current(&self, group: usize, key: &str) -> Option<f64>;

    /// Number of parameter groups (the default group is 0).
    fn groups(&self) -> usize;

    /// Configured (unscheduled) hyperparameters of a group.
    fn hyper(&self, group: usize) -> Option<&Hyper>;

    /// A copy of the full state, keyed by tensor name.
    fn state(&self) -> OptimizerState<T>;

    /// Restores state saved from an optimizer with the same name, tensors and groups; on a mismatch
    /// returns an error naming the tensor and changes nothing.
    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()>;

    /// Writes the state to a file (atomically: a temporary file renamed into place).
    fn save(&self, path: &Path) -> Result<()> {
        self.state().write(path)
    }

    /// Reads state from a file written by [`Optimizer::save`].
    fn load(&mut self, path: &Path) -> Result<()> {
        let st = OptimizerState::<T>::read(path)?;
        self.load_state(&st)
    }
}
