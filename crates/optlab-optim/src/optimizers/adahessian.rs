//! AdaHessian (Yao et al. 2021, "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine
//! Learning"), as pytorch_optimizer's `AdaHessian` (4.1.0, its single-tensor path) given the
//! Hessian diagonal from outside (`step(hessian=...)`): the run loop supplies it, exact on the
//! test functions and the Hutchinson estimate of optlab-nn on networks (the curvature input every
//! optimizer with `needs_hessian` gets).
//!
//! Per element, at step t (1-based), with `g' = ±g` (`maximize`) and `h` the Hessian diagonal:
//! - decay: decoupled (`weight_decouple`, default) `p ← p·(1 − lr·wd)` (`fixed_decay`: `1 − wd`),
//!   else `g' ← g' + wd·p`
//! - `m ← lerp(m, g', 1 − β1)`
//! - on Hessian steps (`(t − 1) mod update_period = 0`): `v ← β2·v + (1 − β2)·h²`; on the others
//!   `v` is kept and `h` is not read (pytorch_optimizer: no Hessian is computed there)
//! - `p ← p − s·m / ((v / (1 − β2^t))^(hessian_power/2) + eps)`, with `s = lr/(1 − β1^t)`
//!   (`adam_debias`: `s = lr`)
//!
//! Conventions: the authors' code averages `|h|` over the spatial dimensions of 4-D convolution
//! kernels (its block size); pytorch_optimizer does not, and neither does optlab (the Hessian
//! diagonal is used per element as given). The authors also take the Hutchinson product as
//! `|z ⊙ Hz|`; pytorch_optimizer keeps its sign: AdaHessian squares it, so both agree here.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct AdaHessian;

crate::hypers! {
    /// AdaHessian's hyperparameters (pytorch_optimizer's names and defaults, betas split).
    pub struct AdaHessianHp {
        lr: f64 [Kind::NONNEG] = 0.1, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, "decay of the average of the squared Hessian diagonal";
        eps: f64 [Kind::NONNEG] = 1e-16, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, "weight decay: decoupled (default) or L2 added to the gradient";
        weight_decouple: bool [] = true, "decoupled decay p <- p (1 - lr wd); false: wd p added to the gradient";
        fixed_decay: bool [] = false, "decoupled decay not scaled by lr: p <- p (1 - wd)";
        hessian_power: f64 [Kind::UNIT_POS] = 1.0, "exponent k of the denominator (v^)^(k/2)";
        update_period: i64 [1, i64::MAX] = 1, "steps between Hessian updates (the authors' update_each)";
        adam_debias: bool [] = false, "step size lr instead of lr / (1 - beta1^t)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adahessian",
    summary: "AdaHessian: Adam's form with the squared Hessian diagonal in the denominator",
    reference: "Yao et al. 2021; pytorch_optimizer AdaHessian (4.1.0)",
    hypers: AdaHessianHp::HYPERS,
    conventions: &[
        "the Hessian diagonal is an input (exact on test functions, Hutchinson on networks); it is read on \
         steps 1, 1 + update_period, ... and v is kept on the others (pytorch_optimizer)",
        "no spatial averaging over convolution kernels (the authors' block size): the diagonal per element",
        "step size lr / (1 - beta1^t), v bias-corrected by 1 - beta2^t; adam_debias drops the first",
    ],
    needs_hessian: true,
    parity: Parity::Reference("pytorch_optimizer"),
    variants: &[
        Variant::tested("l2", &[("weight_decay", "0.01"), ("weight_decouple", "false")]),
        Variant::tested("period", &[("update_period", "3"), ("hessian_power", "0.5")]),
    ],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    lerp: Lerp<T>,
    b2: T,
    omb2: T,
    /// Whether this step reads the Hessian.
    hess: bool,
    bc2: T,
    half_power: f64,
    sqrt: bool,
    eps: T,
    neg_step: T,
}

impl<T: Float> Algorithm<T> for AdaHessian {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdaHessian)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_hessian_diag_sq")]
    }
    /// Reads `p`, `g`, the Hessian diagonal, `m`, `v`; writes `p`, `m`, `v`.
    fn accesses_per_param(_hp: &Hyper) -> usize {
        8
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdaHessianHp::read(hp);
        let wd = hp.weight_decay;
        let decay = if hp.weight_decouple && wd != 0.0 { 1.0 - wd * if hp.fixed_decay { 1.0 } else { hp.lr } } else { 1.0 };
        let l2 = if hp.weight_decouple { 0.0 } else { wd };
        let bc1 = bias_correction(hp.beta1, ctx.step);
        let bc2 = bias_correction(hp.beta2, ctx.step);
        let step = if hp.adam_debias { hp.lr } else { hp.lr / bc1 };
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, l2),
            decay: T::of(decay),
            lerp: Lerp::new(1.0 - hp.beta1),
            b2: T::of(hp.beta2),
            omb2: T::of(1.0 - hp.beta2),
            hess: (ctx.step - 1).is_multiple_of(hp.update_period as u64),
            bc2: T::of(bc2),
            half_power: hp.hessian_power / 2.0,
            sqrt: hp.hessian_power == 1.0,
            eps: T::of(hp.eps),
            neg_step: T::of(-step),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.lerp.low() && k.decay == T::ONE && k.hess && k.sqrt
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g, h) = (ch.p, &ch.g[..n], &ch.h[..n]);
        let [m, v, ..] = ch.s;
        let (m, v) = (&mut m[..n], &mut v[..n]);
        let (hess, sqrt) = (S || k.hess, S || k.sqrt);
        for i in 0..n {
            let q = if S { p[i] } else { p[i] * k.decay };
            let gi = k.prep.get::<S>(g[i], q);
            let mi = k.lerp.get::<S>(m[i], gi);
            m[i] = mi;
            let vi = if hess { v[i] * k.b2 + k.omb2 * h[i] * h[i] } else { v[i] };
            v[i] = vi;
            let r = vi / k.bc2;
            // hessian_power = 1 (the default): the square root, as torch's pow(0.5) computes it;
            // other powers through f64 (not vectorised).
            let den = if sqrt { r.sqrt() } else { T::of(r.to_f64().powf(k.half_power)) } + k.eps;
            p[i] = q + k.neg_step * mi / den;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build(set: &[(&str, &str)]) -> Box<dyn Optimizer<f64>> {
        let cfg = set.iter().fold(OptimConfig::new("adahessian"), |c, (k, v)| c.set(k, v));
        registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap()
    }

    /// Two steps by hand; with update_period = 2 the second step keeps v and ignores h.
    #[test]
    fn two_steps_by_hand_and_the_update_period() {
        for period in [1, 2] {
            let mut o = build(&[("update_period", &period.to_string()), ("lr", "0.1")]);
            let mut x = vec![1.0, -2.0];
            let (g1, h1) = ([0.5, -1.0], [2.0, -3.0]);
            let (g2, h2) = ([0.25, 2.0], [1.0, 4.0]);
            o.step(&mut [&mut x[..]], &[&g1[..]], Some(&[&h1[..]])).unwrap();
            o.step(&mut [&mut x[..]], &[&g2[..]], Some(&[&h2[..]])).unwrap();
            let mut want = [1.0, -2.0];
            for i in 0..2 {
                let mut m = 0.1 * g1[i];
                let mut v = 0.001 * h1[i] * h1[i];
                want[i] -= 0.1 / 0.1 * m / ((v / (1.0 - 0.999f64)).sqrt() + 1e-16);
                m = m + 0.1 * (g2[i] - m);
                if period == 1 {
                    v = 0.999 * v + 0.001 * h2[i] * h2[i];
                }
                let bc1 = 1.0 - 0.9f64 * 0.9;
                let bc2 = 1.0 - 0.999f64 * 0.999;
                want[i] -= 0.1 / bc1 * m / ((v / bc2).sqrt() + 1e-16);
            }
            for i in 0..2 {
                assert!((x[i] - want[i]).abs() <= 1e-12 * want[i].abs(), "period {period}: {x:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn a_missing_hessian_is_refused() {
        let mut o = build(&[]);
        let mut x = vec![1.0, 2.0];
        let e = o.step(&mut [&mut x[..]], &[&[1.0, 1.0][..]], None).unwrap_err().to_string();
        assert!(e.contains("`adahessian`") && e.contains("Hessian diagonal"), "{e}");
        assert_eq!(x, vec![1.0, 2.0]);
    }
}
