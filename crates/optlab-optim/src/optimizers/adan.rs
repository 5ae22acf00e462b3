//! Adan (Xie et al. 2022, "Adan: Adaptive Nesterov Momentum Algorithm"), as pytorch_optimizer's
//! `Adan` (single-tensor path; the authors' sail-sg/Adan computes the same rule).
//!
//! Per element, with `g' = ±g` (`maximize`), the previous step's `g'` (state `prev`) and
//! `δ = g' − prev` (0 at the first step):
//! - `m ← lerp(m, g', 1 − β1)`; `n ← lerp(n, δ, 1 − β2)` (torch's two-sided lerp)
//! - `u = β2·δ + g'`; `v ← β3·v + (1 − β3)·u²`
//! - `den = √v / √(1 − β3^t) + eps`
//! - `weight_decouple`: `p ← p·(1 − lr·wd)` first; then
//!   `p ← p − lr/(1 − β1^t)·m/den − lr·β2/(1 − β2^t)·n/den`
//! - otherwise (the paper's proximal step, default): the same update, then `p ← p / (1 + lr·wd)`
//!
//! Conventions: pytorch_optimizer's defaults (lr 1e-3, betas (0.98, 0.92, 0.99), eps 1e-8).
//! `weight_decouple=true` is the authors' `no_prox=True`. Its `max_grad_norm` (global clipping)
//! is not offered here (optlab's gradient clipping applies to every optimizer). With `maximize`,
//! pytorch_optimizer stores the un-negated first gradient, so its first `δ` is `−2g`; optlab's is 0,
//! as without `maximize` (the first step then climbs exactly as the minimizing one descends).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Adan;

crate::hypers! {
    /// Adan's hyperparameters (pytorch_optimizer's names, betas split).
    pub struct AdanHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.98, "decay of the gradient average m";
        beta2: f64 [Kind::UNIT_OPEN] = 0.92, "decay of the gradient-difference average n";
        beta3: f64 [Kind::UNIT_OPEN] = 0.99, "decay of the squared Nesterov gradient average v";
        eps: f64 [Kind::NONNEG] = 1e-8, "added to the bias-corrected root of v";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "weight decay: proximal p / (1 + lr wd) after the update, or decoupled";
        weight_decouple: bool [] = false, "decay p <- p (1 - lr wd) before the update (the authors' no_prox=True)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adan",
    summary: "Adan: Nesterov momentum from averages of gradients and their differences, Adam-style scaling",
    reference: "Xie et al. 2022; pytorch_optimizer Adan (sail-sg/Adan)",
    hypers: AdanHp::HYPERS,
    conventions: &[
        "proximal weight decay p / (1 + lr wd) after the update by default; weight_decouple=true multiplies \
         p (1 - lr wd) before it (the authors' no_prox=True)",
        "the first gradient difference is 0; pytorch_optimizer's is -2g with maximize (it stores the un-negated \
         gradient), optlab's is 0 with or without maximize",
        "pytorch_optimizer's max_grad_norm (global clipping) is not offered: optlab's clipping applies instead",
    ],
    needs_hessian: false,
    parity: Parity::Reference("pytorch_optimizer"),
    variants: &[Variant::tested("decoupled", &[("weight_decay", "0.02"), ("weight_decouple", "true")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    m: Lerp<T>,
    n: Lerp<T>,
    b2: T,
    b3: T,
    omb3: T,
    bc3_sqrt: T,
    eps: T,
    decay: T,
    neg_s1: T,
    neg_s2: T,
    /// `1 + lr·wd` (the proximal division; 1 when decoupled or without decay).
    prox: T,
    first: bool,
}

#[inline(always)]
fn kernel<T: Float, const S: bool, const FIRST: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [m, v, d, prev] = ch.s;
    let (m, v, d, prev) = (&mut m[..n], &mut v[..n], &mut d[..n], &mut prev[..n]);
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let delta = if FIRST { T::ZERO } else { gi - prev[i] };
        let mi = k.m.get::<S>(m[i], gi);
        m[i] = mi;
        let di = k.n.get::<S>(d[i], delta);
        d[i] = di;
        let u = delta * k.b2 + gi;
        let vi = v[i] * k.b3 + k.omb3 * u * u;
        v[i] = vi;
        let den = vi.sqrt() / k.bc3_sqrt + k.eps;
        let q = p[i] * k.decay;
        let q = q + k.neg_s1 * mi / den;
        let q = q + k.neg_s2 * di / den;
        p[i] = if S { q } else { q / k.prox };
        prev[i] = gi;
    }
}

impl<T: Float> Algorithm<T> for Adan {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adan)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![
            Buffer::zeros("exp_avg"),
            Buffer::zeros("exp_avg_sq"),
            Buffer::zeros("exp_avg_diff"),
            Buffer::zeros("previous_grad"),
        ]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdanHp::read(hp);
        let t = ctx.step as f64;
        let (bc1, bc2) = (1.0 - hp.beta1.powf(t), 1.0 - hp.beta2.powf(t));
        let bc3_sqrt = (1.0 - hp.beta3.powf(t)).sqrt();
        let wd = hp.weight_decay;
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, 0.0),
            m: Lerp::new(1.0 - hp.beta1),
            n: Lerp::new(1.0 - hp.beta2),
            b2: T::of(hp.beta2),
            b3: T::of(hp.beta3),
            omb3: T::of(1.0 - hp.beta3),
            bc3_sqrt: T::of(bc3_sqrt),
            eps: T::of(hp.eps),
            decay: T::of(if hp.weight_decouple { 1.0 - hp.lr * wd } else { 1.0 }),
            neg_s1: T::of(-hp.lr / bc1),
            neg_s2: T::of(-hp.lr * hp.beta2 / bc2),
            prox: T::of(if hp.weight_decouple { 1.0 } else { 1.0 + hp.lr * wd }),
            first: ctx.step == 1,
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.m.low() && k.n.low() && k.prox == T::ONE
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        if k.first {
            kernel::<T, S, true>(k, ch)
        } else {
            kernel::<T, S, false>(k, ch)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig};

    /// Two steps by hand (one element): the first difference is 0; the second is g2 - g1.
    #[test]
    fn two_steps_by_hand() {
        let (lr, b1, b2, b3, eps, wd) = (0.1, 0.9, 0.8, 0.7, 1e-8, 0.5);
        let cfg = OptimConfig::new("adan")
            .set("lr", lr)
            .set("beta1", b1)
            .set("beta2", b2)
            .set("beta3", b3)
            .set("weight_decay", wd);
        let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let mut x = [1.0];
        let (g1, g2) = (2.0, -1.0);
        o.step(&mut [&mut x[..]], &[&[g1][..]], None).unwrap();
        // From zero state: m = 0 + w (g - 0) = w g and v = 0 b3 + (1 - b3) g^2 exactly; delta = 0.
        let m1 = (1.0 - b1) * g1;
        let v1 = (1.0 - b3) * g1 * g1;
        let den1 = v1.sqrt() / (1.0 - b3).sqrt() + eps;
        let p1 = (1.0 + -lr / (1.0 - b1) * m1 / den1) / (1.0 + lr * wd);
        assert_eq!(x[0], p1);
        o.step(&mut [&mut x[..]], &[&[g2][..]], None).unwrap();
        let delta = g2 - g1;
        let m2 = m1 + (1.0 - b1) * (g2 - m1);
        let n2 = (1.0 - b2) * delta;
        let u = delta * b2 + g2;
        let v2 = v1 * b3 + (1.0 - b3) * u * u;
        let den2 = v2.sqrt() / (1.0 - b3.powf(2.0)).sqrt() + eps;
        let q = p1 + -lr / (1.0 - b1.powf(2.0)) * m2 / den2;
        let q = q + -lr * b2 / (1.0 - b2.powf(2.0)) * n2 / den2;
        assert_eq!(x[0], q / (1.0 + lr * wd));
        let st = o.state();
        assert_eq!(st.tensors[0].buffers[3].1, vec![g2]);
        assert_eq!(st.tensors[0].buffers[2].1, vec![n2]);
    }

    /// With maximize the first step is the mirror image of the minimizing one.
    #[test]
    fn maximize_mirrors_the_first_steps() {
        let run = |maximize: bool| {
            let cfg = OptimConfig::new("adan").set("lr", 0.1).set("maximize", maximize);
            let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
            let mut x = [0.0, 0.0];
            let s = if maximize { -1.0 } else { 1.0 };
            for g in [[1.0, -2.0], [0.5, 3.0]] {
                o.step(&mut [&mut x[..]], &[&[s * g[0], s * g[1]][..]], None).unwrap();
            }
            x
        };
        assert_eq!(run(false), run(true));
    }
}
