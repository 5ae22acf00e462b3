//! RAdam (Liu et al. 2020), as torch.optim.RAdam.
//!
//! With `g' = ±g + weight_decay·p` (or decoupled decay first): `m ← lerp(m, g', 1 − β1)`,
//! `v ← β2 v + (1 − β2) g'²`, `ρ∞ = 2/(1 − β2) − 1`, `ρ_t = ρ∞ − 2t β2^t/(1 − β2^t)`.
//! If `ρ_t > rho_threshold`: `r = sqrt((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))` and
//! `p ← p − lr · m/(1 − β1^t) · sqrt(1 − β2^t)/(sqrt(v) + eps) · r`; else `p ← p − lr · m/(1 − β1^t)`.
//! Conventions: the rectification threshold is 5 in torch (and the authors' code), 4 in the
//! paper's Algorithm 2 (`rho_threshold=4`); eps is added to sqrt(v) before bias correction.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct Radam;

crate::hypers! {
    /// The hyperparameters.
    pub struct RadamHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        decoupled_weight_decay: bool [] = false, DECOUPLED_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
        rho_threshold: f64 [Kind::Float { lo: 4.0, hi: f64::INFINITY, lo_open: false, hi_open: true }] = 5.0,
            "rectify when rho_t exceeds this (torch 5; paper 4)";
    }
}

static SPEC: Spec = Spec {
    name: "radam",
    summary: "RAdam: Adam with the variance of the adaptive lr rectified",
    reference: "Liu et al. 2020; torch.optim.RAdam",
    hypers: RadamHp::HYPERS,
    conventions: &[
        "rectification when rho_t > 5 (torch, authors' code); the paper's Algorithm 2 uses 4",
        "eps added to sqrt(v) before the bias correction sqrt(1 - beta2^t) multiplies",
        "weight decay: L2, or decoupled (p <- p (1 - lr wd)) with decoupled_weight_decay",
    ],
    needs_hessian: false,
    parity: Parity::Torch("RAdam"),
    variants: &[],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    m: Lerp<T>,
    b2: T,
    omb2: T,
    bc1: T,
    lr: T,
    bc2_sqrt: T,
    eps: T,
    rect: T,
    rectify: bool,
}

impl<T: Float> Algorithm<T> for Radam {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Radam)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = RadamHp::read(hp);
        let (lr, b1, b2, wd) = (hp.lr, hp.beta1, hp.beta2, hp.weight_decay);
        let t = ctx.step as f64;
        let decoupled = hp.decoupled_weight_decay;
        let bc1 = bias_correction(b1, ctx.step);
        let bc2 = bias_correction(b2, ctx.step);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let rectify = rho_t > hp.rho_threshold;
        let rect = if rectify {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt()
        } else {
            0.0
        };
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, if decoupled { 0.0 } else { wd }),
            decay: T::of(if decoupled { 1.0 - lr * wd } else { 1.0 }),
            m: Lerp::new(1.0 - b1),
            b2: T::of(b2),
            omb2: T::of(1.0 - b2),
            bc1: T::of(bc1),
            lr: T::of(lr),
            bc2_sqrt: T::of(bc2.sqrt()),
            eps: T::of(hp.eps),
            rect: T::of(rect),
            rectify,
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.m.low()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [m, v, ..] = ch.s;
        let (m, v) = (&mut m[..n], &mut v[..n]);
        if k.rectify {
            for i in 0..n {
                let gi = k.prep.get::<S>(g[i], p[i]);
                let mi = k.m.get::<S>(m[i], gi);
                m[i] = mi;
                let vi = v[i] * k.b2 + k.omb2 * gi * gi;
                v[i] = vi;
                let adaptive = k.bc2_sqrt / (vi.sqrt() + k.eps);
                p[i] = p[i] * k.decay - mi / k.bc1 * k.lr * adaptive * k.rect;
            }
        } else {
            for i in 0..n {
                let gi = k.prep.get::<S>(g[i], p[i]);
                let mi = k.m.get::<S>(m[i], gi);
                m[i] = mi;
                v[i] = v[i] * k.b2 + k.omb2 * gi * gi;
                p[i] = p[i] * k.decay - mi / k.bc1 * k.lr;
            }
        }
    }
}
