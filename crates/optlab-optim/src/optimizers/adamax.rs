//! Adamax (Kingma & Ba 2015, section 7.1), as torch.optim.Adamax.
//!
//! `g' = ±g + weight_decay·p`; `m ← lerp(m, g', 1 − β1)`; `u ← max(β2·u, |g'| + eps)`;
//! `p ← p − lr/(1 − β1^t) · m/u`.
//! Conventions: torch adds eps to `|g'|` inside the max (the paper has no eps).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct Adamax;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdamaxHp {
        lr: f64 [Kind::NONNEG] = 2e-3, "learning rate";
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adamax",
    summary: "Adamax: Adam with the infinity norm in place of the second moment",
    reference: "Kingma & Ba 2015 (section 7.1); torch.optim.Adamax",
    hypers: AdamaxHp::HYPERS,
    conventions: &[
        "u = max(beta2 u, |g| + eps): eps inside the max (torch; the paper has no eps)",
        "weight decay is L2",
    ],
    needs_hessian: false,
    parity: Parity::Torch("Adamax"),
    variants: &[],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    m: Lerp<T>,
    b2: T,
    eps: T,
    neg_clr: T,
}

impl<T: Float> Algorithm<T> for Adamax {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adamax)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_inf")]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdamaxHp::read(hp);
        let clr = hp.lr / bias_correction(hp.beta1, ctx.step);
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            m: Lerp::new(1.0 - hp.beta1),
            b2: T::of(hp.beta2),
            eps: T::of(hp.eps),
            neg_clr: T::of(-clr),
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
        let [m, u, ..] = ch.s;
        let (m, u) = (&mut m[..n], &mut u[..n]);
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let mi = k.m.get::<S>(m[i], gi);
            m[i] = mi;
            let ui = (u[i] * k.b2).max(gi.abs() + k.eps);
            u[i] = ui;
            p[i] += k.neg_clr * mi / ui;
        }
    }
}
