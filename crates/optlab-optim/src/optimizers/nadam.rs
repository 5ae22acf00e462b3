//! NAdam (Dozat 2016), as torch.optim.NAdam.
//!
//! Momentum schedule `μ_t = β1 (1 − 0.5·0.96^(t·momentum_decay))`, `Π_t = Π_{t−1}·μ_t` (per-tensor
//! scalar state `mu_product`, starting at 1). With `g' = ±g + weight_decay·p` (or decoupled decay
//! `p ← p(1 − lr·wd)` first): `m ← lerp(m, g', 1 − β1)`, `v ← β2 v + (1 − β2) g'²`,
//! `den = sqrt(v/(1 − β2^t)) + eps`,
//! `p ← p − lr(1 − μ_t)/(1 − Π_t) · g'/den − lr·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/den`.
//! Conventions: torch's μ schedule with `momentum_decay = 4e-3` (Dozat's 0.96^(t/250)); optax's
//! nadam instead uses constant β1 (no schedule) — not offered here.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct Nadam;

crate::hypers! {
    /// The hyperparameters.
    pub struct NadamHp {
        lr: f64 [Kind::NONNEG] = 2e-3, "learning rate";
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        momentum_decay: f64 [Kind::NONNEG] = 4e-3, "psi of the momentum schedule mu_t = beta1 (1 - 0.5 0.96^(t psi))";
        decoupled_weight_decay: bool [] = false, DECOUPLED_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "nadam",
    summary: "NAdam: Adam with Nesterov momentum and Dozat's momentum schedule",
    reference: "Dozat 2016; torch.optim.NAdam",
    hypers: NadamHp::HYPERS,
    conventions: &[
        "momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay)) (torch, Dozat)",
        "eps outside the square root, after bias correction of v",
        "weight decay: L2, or decoupled (p <- p (1 - lr wd)) with decoupled_weight_decay",
    ],
    needs_hessian: false,
    parity: Parity::Torch("NAdam"),
    variants: &[],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    m: Lerp<T>,
    b2: T,
    omb2: T,
    bc2: T,
    eps: T,
    cg: T,
    cm: T,
}

impl<T: Float> Algorithm<T> for Nadam {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Nadam)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")]
    }
    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        &[("mu_product", 1.0)]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = NadamHp::read(hp);
        let (lr, b1, b2, wd, md) = (hp.lr, hp.beta1, hp.beta2, hp.weight_decay, hp.momentum_decay);
        let t = ctx.step as f64;
        let decoupled = hp.decoupled_weight_decay;
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * md));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * md));
        s[0] *= mu;
        let mu_product = s[0];
        let mu_product_next = mu_product * mu_next;
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, if decoupled { 0.0 } else { wd }),
            decay: T::of(if decoupled { 1.0 - lr * wd } else { 1.0 }),
            m: Lerp::new(1.0 - b1),
            b2: T::of(b2),
            omb2: T::of(1.0 - b2),
            bc2: T::of(bias_correction(b2, ctx.step)),
            eps: T::of(hp.eps),
            cg: T::of(-lr * (1.0 - mu) / (1.0 - mu_product)),
            cm: T::of((-lr * mu_next) / (1.0 - mu_product_next)),
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
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let mi = k.m.get::<S>(m[i], gi);
            m[i] = mi;
            let vi = v[i] * k.b2 + k.omb2 * gi * gi;
            v[i] = vi;
            let den = (vi / k.bc2).sqrt() + k.eps;
            let pi = p[i] * k.decay + k.cg * gi / den;
            p[i] = pi + k.cm * mi / den;
        }
    }
}
