//! Adamax (Kingma & Ba 2015, section 7.1), as torch.optim.Adamax.
//!
//! `g' = ±g + weight_decay·p`; `m ← lerp(m, g', 1 − β1)`; `u ← max(β2·u, |g'| + eps)`;
//! `p ← p − lr/(1 − β1^t) · m/u`.
//! Conventions: torch adds eps to `|g'|` inside the max (the paper has no eps).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, HyperSpec, Kind, Spec};

pub struct Adamax;

const LR: usize = 0;
const B1: usize = 1;
const B2: usize = 2;
const EPS: usize = 3;
const WD: usize = 4;
const MAXIMIZE_: usize = 5;

static SPEC: Spec = Spec {
    name: "adamax",
    summary: "Adamax: Adam with the infinity norm in place of the second moment",
    reference: "Kingma & Ba 2015 (section 7.1); torch.optim.Adamax",
    hypers: &[
        HyperSpec::float("lr", 2e-3, Kind::NONNEG, "learning rate"),
        BETA1,
        BETA2,
        EPS_1E8,
        WEIGHT_DECAY,
        MAXIMIZE,
    ],
    conventions: &[
        "u = max(beta2 u, |g| + eps): eps inside the max (torch; the paper has no eps)",
        "weight decay is L2",
    ],
    needs_hessian: false,
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
        let clr = hp.f(LR) / bias_correction(hp.f(B1), ctx.step);
        Ok(Coef {
            prep: GradPrep::new(hp.b(MAXIMIZE_), hp.f(WD)),
            m: Lerp::new(1.0 - hp.f(B1)),
            b2: T::of(hp.f(B2)),
            eps: T::of(hp.f(EPS)),
            neg_clr: T::of(-clr),
        })
    }
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
