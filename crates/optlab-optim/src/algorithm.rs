//! What one optimizer file implements: the per-tensor coefficients of a step and the fused
//! per-element kernel. The [`Engine`](crate::engine::Engine) does everything else (groups,
//! schedules, checks, chunking, threads, state files) once for all optimizers.

use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Spec};
use crate::schedule::Schedule;

/// The most per-element state buffers an optimizer may declare.
pub const MAX_BUFFERS: usize = 4;
/// Accumulators a reduction pre-pass may fill per tensor.
pub const MAX_ACC: usize = 4;

/// A contiguous piece of one tensor: the kernel updates `p` and `s` in place from `g` (and `h`).
/// All slices have the same length; unused buffers are empty, and `h` is empty unless the
/// optimizer declared [`Spec::needs_hessian`].
pub struct Chunk<'a, T> {
    pub p: &'a mut [T],
    pub g: &'a [T],
    /// Hessian diagonal (empty unless requested).
    pub h: &'a [T],
    /// State buffers in the order of [`Algorithm::buffers`].
    pub s: [&'a mut [T]; MAX_BUFFERS],
}

/// One whole tensor, for algorithms that update a tensor at once ([`Algorithm::WHOLE_TENSOR`]):
/// matrix methods (Muon's Newton–Schulz) and factored state (Adafactor's row and column moments).
/// Buffers have the lengths [`Algorithm::tensor_buffers`] gave them (not necessarily the
/// tensor's); unused buffers are empty.
pub struct TensorStep<'a, T> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub p: &'a mut [T],
    pub g: &'a [T],
    pub s: [&'a mut [T]; MAX_BUFFERS],
    /// Whether the algorithm may split its work over the current rayon pool (false with one
    /// thread). Results must not depend on it.
    pub parallel: bool,
    /// The kernel instruction set chosen for the optimizer (results must not depend on it).
    pub simd: crate::simd::Simd,
}

/// A per-element state buffer: its name (the key in state files) and initial value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Buffer {
    pub name: &'static str,
    pub init: f64,
}

impl Buffer {
    pub const fn zeros(name: &'static str) -> Self {
        Buffer { name, init: 0.0 }
    }
}

/// Facts about the tensor and step given to [`Algorithm::prepare`].
#[derive(Clone, Copy, Debug)]
pub struct StepCtx<'a> {
    /// 1-based number of this step (torch's `state["step"]` after its increment).
    pub step: u64,
    /// Number of elements of the tensor.
    pub len: usize,
    /// Name of the tensor.
    pub tensor: &'a str,
    /// Per-tensor sums from the reduction pre-pass (zeros when there is none).
    pub acc: [f64; MAX_ACC],
}

/// One optimizer's update rule.
///
/// Contract: `update` is a single pass over the chunk with no allocation and no branch on
/// hyperparameters inside the loop (branch outside it, or on fields of `Coef` the compiler
/// hoists); its result for an element depends only on that element and `Coef`, so the engine
/// may split tensors into chunks and run them on any thread with bit-identical results.
pub trait Algorithm<T: Float>: Send + Sync + Sized + 'static {
    /// Per-tensor, per-step coefficients (bias corrections, step sizes), in `T` or `f64`.
    type Coef: Copy + Send + Sync;

    /// The static description: name, hyperparameters, conventions.
    fn spec() -> &'static Spec;

    /// Builds the algorithm's global part from the default group's hyperparameters.
    fn new(hp: &Hyper) -> Result<Self>;

    /// Checks relations between hyperparameters of one group (ranges are checked already).
    fn validate(_hp: &Hyper) -> Result<()> {
        Ok(())
    }

    /// Schedules implied by hyperparameters (e.g. exponentially decayed betas), as
    /// `(key, schedule, per_epoch)`. Explicit user schedules for the same key take precedence.
    fn implied_schedules(_hp: &Hyper) -> Vec<(&'static str, Schedule, bool)> {
        Vec::new()
    }

    /// Per-element state buffers of a tensor in a group with these hyperparameters.
    fn buffers(hp: &Hyper) -> Vec<Buffer>;

    /// The state buffers of one tensor of shape `shape` and their lengths. By default
    /// [`Algorithm::buffers`], each as long as the tensor; factored state (Adafactor) differs.
    fn tensor_buffers(hp: &Hyper, shape: &[usize]) -> Vec<(Buffer, usize)> {
        let n = shape.iter().product();
        Self::buffers(hp).into_iter().map(|b| (b, n)).collect()
    }

    /// Checks that a tensor suits the algorithm in a group with these hyperparameters (Muon
    /// takes only matrices); the error names the tensor and says why.
    fn check_tensor(_hp: &Hyper, _name: &str, _shape: &[usize]) -> Result<()> {
        Ok(())
    }

    /// Whether the algorithm updates whole tensors ([`Algorithm::update_tensor`]) instead of
    /// element-wise chunks ([`Algorithm::update`], then unused).
    const WHOLE_TENSOR: bool = false;

    /// A setting under which a group accepts every tensor, for algorithms whose
    /// [`Algorithm::check_tensor`] refuses some (Muon: `use_muon=false`, AdamW for vectors); the
    /// generic tests put such tensors in a group with it.
    const FALLBACK: Option<(&'static str, &'static str)> = None;

    /// The update of one whole tensor (when [`Algorithm::WHOLE_TENSOR`]): deterministic, with
    /// results that do not depend on `t.parallel` or `t.simd`.
    fn update_tensor(&self, _c: &Self::Coef, _t: TensorStep<'_, T>) {}

    /// Per-tensor scalar state: names and initial values.
    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        &[]
    }

    /// Element reads and writes per parameter per step of an ideal fused implementation (what the
    /// bandwidth benchmark divides by): by default one pass reading `p`, `g` and every buffer and
    /// writing `p` and every buffer.
    fn accesses_per_param(hp: &Hyper) -> usize {
        3 + 2 * Self::buffers(hp).len()
    }

    /// [`Algorithm::accesses_per_param`] for a tensor of this shape, for algorithms whose traffic
    /// depends on it (Adafactor: factored matrices, full vectors); by default the same for all.
    fn tensor_accesses(hp: &Hyper, _shape: &[usize]) -> usize {
        Self::accesses_per_param(hp)
    }

    /// Number of accumulators the reduction pre-pass fills (0: no pre-pass).
    const REDUCE: usize = 0;

    /// Reduction pre-pass over a chunk of step `step` (1-based, as [`StepCtx::step`]; may update
    /// state, e.g. running averages): adds into `acc`.
    fn reduce(&self, _hp: &Hyper, _step: u64, _chunk: Chunk<'_, T>, _acc: &mut [f64; MAX_ACC]) {}

    /// Global stage after the pre-pass, with the sums over all tensors (YellowFin's tuner).
    fn begin_step(&mut self, _hp: &Hyper, _step: u64, _total: &[f64; MAX_ACC]) -> Result<()> {
        Ok(())
    }

    /// Global scalar state to save (name, values).
    fn global_state(&self) -> Vec<(String, Vec<f64>)> {
        Vec::new()
    }

    /// Restores global scalar state saved by [`Algorithm::global_state`].
    fn load_global_state(&mut self, _s: &[(String, Vec<f64>)]) -> Result<()> {
        Ok(())
    }

    /// Per-tensor coefficients of this step; may update the tensor's scalar state.
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, scalars: &mut [f64]) -> Result<Self::Coef>;

    /// Whether this step's coefficients allow the short forms of the shared pieces
    /// ([`crate::optimizers::common`]: `g' = g` with no maximize or L2 decay, `lerp` on its
    /// `w < 0.5` side). The engine then runs `update::<true>`, else `update::<false>`: the
    /// choice is made once per chunk, never inside the loop.
    fn simple(_c: &Self::Coef) -> bool {
        false
    }

    /// Whether [`Algorithm::simple`] can be true at all (the generic tests then require the short
    /// form to apply to the defaults and to agree bit for bit with the general one).
    const SHORT_FORM: bool = false;

    /// Whether the parameters are not the weights to evaluate: the optimizer keeps evaluation
    /// weights apart from the training weights it steps (Schedule-Free), and
    /// [`Algorithm::eval_params`] computes them.
    const EVAL_PARAMS: bool = false;

    /// The evaluation weights of one tensor into `out`, from its training weights `p` and its
    /// state buffers `s` (in the order of [`Algorithm::buffers`]), with the hyperparameters of the
    /// last step. Called only when [`Algorithm::EVAL_PARAMS`] and after the first step (before
    /// it, the evaluation weights are the parameters).
    fn eval_params(_hp: &Hyper, _p: &[T], _s: &[&[T]], _out: &mut [T]) {}

    /// The fused per-element update of one chunk. `S` is [`Algorithm::simple`]'s answer; with
    /// `S = true` the kernel may use the short forms. Both must give the same results for finite
    /// values.
    fn update<const S: bool>(c: &Self::Coef, chunk: Chunk<'_, T>);
}
