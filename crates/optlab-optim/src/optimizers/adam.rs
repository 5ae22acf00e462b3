//! Adam (Kingma & Ba 2015) and AMSGrad (Reddi et al. 2018), as torch.optim.Adam.
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2) or, with `decoupled_weight_decay`,
//! `p ← p·(1 − lr·weight_decay)` first (AdamW, Loshchilov & Hutter 2019):
//! - `m ← lerp(m, g', 1 − β1)`, `v ← β2·v + (1 − β2)·g'²`
//! - AMSGrad: `v_max ← max(v_max, v)` and `v_max` replaces `v` below
//! - `p ← p − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps)`
//!
//! Conventions (torch's is the default of each option):
//! - eps placement: torch adds eps outside the square root, after bias correction
//!   (`sqrt(v̂) + eps`); `eps_inside=true` uses `sqrt(v̂ + eps)` instead. (The paper's Algorithm 1
//!   is torch's; TensorFlow/Keras use `epŝ` added to `sqrt(v)` before bias correction, which equals
//!   torch's form with `eps = epŝ·sqrt(1 − β2^t)`.)
//! - `bias_correction=false` drops both corrections (`1 − β^t` factors).
//! - AMSGrad variant: `torch` keeps the running max of the raw `v` and bias-corrects it with
//!   `1 − β2^t`; `paper` (Reddi et al. 2018, Algorithm 2) uses the max of the raw `v` with no bias
//!   correction of either moment. (optax's `amsgrad` takes the max of the bias-corrected `v̂`; not offered.)
//! - `β^t` is computed as a floating-point power, as Python's `beta ** step`.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, HyperSpec, Spec};

pub struct Adam;

pub(crate) const LR: usize = 0;
pub(crate) const BETA1_: usize = 1;
pub(crate) const BETA2_: usize = 2;
pub(crate) const EPS: usize = 3;
pub(crate) const WD: usize = 4;
pub(crate) const AMSGRAD: usize = 5;
pub(crate) const MAXIMIZE_: usize = 6;
pub(crate) const DECOUPLED_: usize = 7;
pub(crate) const BIAS_CORRECTION: usize = 8;
pub(crate) const EPS_INSIDE: usize = 9;
pub(crate) const AMS_VARIANT: usize = 10;

pub(crate) const AMSGRAD_SPEC: HyperSpec =
    HyperSpec::boolean("amsgrad", false, "AMSGrad: use the running maximum of v");
pub(crate) const BIAS_CORRECTION_SPEC: HyperSpec =
    HyperSpec::boolean("bias_correction", true, "divide the moments by 1 - beta^t");
pub(crate) const EPS_INSIDE_SPEC: HyperSpec =
    HyperSpec::boolean("eps_inside", false, "eps inside the square root: sqrt(v_hat + eps) (torch: sqrt(v_hat) + eps)");
pub(crate) const AMS_VARIANT_SPEC: HyperSpec = HyperSpec::choice(
    "amsgrad_variant",
    &["torch", "paper"],
    0,
    "torch: max of raw v, bias-corrected; paper (Reddi et al. 2018): max of raw v, no bias correction",
);

pub(crate) const CONVENTIONS: &[&str] = &[
    "eps outside the square root after bias correction: sqrt(v_hat) + eps (eps_inside=true: sqrt(v_hat + eps))",
    "amsgrad_variant=torch: max of the raw v, then bias-corrected; =paper: no bias correction at all",
    "weight decay: L2 added to the gradient; decoupled_weight_decay=true: p <- p (1 - lr wd) first (AdamW)",
    "beta^t computed as a float power, like Python's beta ** step",
];

static SPEC: Spec = Spec {
    name: "adam",
    summary: "Adam with optional AMSGrad, L2 or decoupled weight decay",
    reference: "Kingma & Ba 2015; Reddi et al. 2018 (AMSGrad); torch.optim.Adam",
    hypers: &[
        LR_1E3,
        BETA1,
        BETA2,
        EPS_1E8,
        WEIGHT_DECAY,
        AMSGRAD_SPEC,
        MAXIMIZE,
        DECOUPLED,
        BIAS_CORRECTION_SPEC,
        EPS_INSIDE_SPEC,
        AMS_VARIANT_SPEC,
    ],
    conventions: CONVENTIONS,
    needs_hessian: false,
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    m: Lerp<T>,
    b2: T,
    omb2: T,
    bc2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step: T,
    ams: bool,
    eps_inside: bool,
}

/// Coefficients of one Adam step for hyperparameters laid out as [`Adam`]'s spec (AdamW shares it).
pub(crate) fn coef<T: Float>(hp: &Hyper, step: u64) -> Coef<T> {
    let lr = hp.f(LR);
    let (b1, b2) = (hp.f(BETA1_), hp.f(BETA2_));
    let wd = hp.f(WD);
    let decoupled = hp.b(DECOUPLED_);
    let ams = hp.b(AMSGRAD);
    let corrected = hp.b(BIAS_CORRECTION) && !(ams && hp.c(AMS_VARIANT) == 1);
    let (bc1, bc2) = if corrected { (bias_correction(b1, step), bias_correction(b2, step)) } else { (1.0, 1.0) };
    Coef {
        prep: GradPrep::new(hp.b(MAXIMIZE_), if decoupled { 0.0 } else { wd }),
        decay: T::of(if decoupled { 1.0 - lr * wd } else { 1.0 }),
        m: Lerp::new(1.0 - b1),
        b2: T::of(b2),
        omb2: T::of(1.0 - b2),
        bc2: T::of(bc2),
        bc2_sqrt: T::of(bc2.sqrt()),
        eps: T::of(hp.f(EPS)),
        neg_step: T::of(-(lr / bc1)),
        ams,
        eps_inside: hp.b(EPS_INSIDE),
    }
}

pub(crate) fn buffers(hp: &Hyper) -> Vec<Buffer> {
    let mut b = vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")];
    if hp.b(AMSGRAD) {
        b.push(Buffer::zeros("max_exp_avg_sq"));
    }
    b
}

#[inline(always)]
fn kernel<T: Float, const S: bool, const AMS: bool, const EPS_IN: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [m, v, vmax, _] = ch.s;
    let (m, v) = (&mut m[..n], &mut v[..n]);
    let vmax: &mut [T] = if AMS { &mut vmax[..n] } else { vmax };
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let mi = k.m.get::<S>(m[i], gi);
        m[i] = mi;
        let mut vi = v[i] * k.b2 + k.omb2 * gi * gi;
        v[i] = vi;
        if AMS {
            vi = vmax[i].max(vi);
            vmax[i] = vi;
        }
        let denom = if EPS_IN { (vi / k.bc2 + k.eps).sqrt() } else { vi.sqrt() / k.bc2_sqrt + k.eps };
        p[i] = p[i] * k.decay + k.neg_step * mi / denom;
    }
}

/// Whether the short forms apply (shared with AdamW; see [`Algorithm::simple`]).
pub(crate) fn simple<T: Float>(k: &Coef<T>) -> bool {
    k.prep.plain() && k.m.low()
}

/// The fused Adam pass (shared with AdamW).
#[inline(always)]
pub(crate) fn update<T: Float, const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    match (k.ams, k.eps_inside) {
        (false, false) => kernel::<T, S, false, false>(k, ch),
        (false, true) => kernel::<T, S, false, true>(k, ch),
        (true, false) => kernel::<T, S, true, false>(k, ch),
        (true, true) => kernel::<T, S, true, true>(k, ch),
    }
}

impl<T: Float> Algorithm<T> for Adam {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adam)
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        buffers(hp)
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        Ok(coef(hp, ctx.step))
    }
    fn simple(k: &Coef<T>) -> bool {
        simple(k)
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        update::<T, S>(k, ch)
    }
}
