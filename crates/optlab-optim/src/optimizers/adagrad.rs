//! Adagrad (Duchi et al. 2011), as torch.optim.Adagrad.
//!
//! `g' = ±g + weight_decay·p`; `s ← s + g'²`; `p ← p − lr/(1 + (t − 1)·lr_decay) · g'/(sqrt(s) + eps)`.
//! Conventions: eps outside the square root (torch; some references use `sqrt(s + eps)`); the
//! accumulator starts at `initial_accumulator_value`; lr decays as `lr/(1 + (t-1) lr_decay)`.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, HyperSpec, Kind, Spec};

pub struct Adagrad;

const LR: usize = 0;
const LR_DECAY: usize = 1;
const WD: usize = 2;
const INIT: usize = 3;
const EPS: usize = 4;
const MAXIMIZE_: usize = 5;

static SPEC: Spec = Spec {
    name: "adagrad",
    summary: "Adagrad: per-coordinate steps scaled by the root of the summed squared gradients",
    reference: "Duchi, Hazan & Singer 2011; torch.optim.Adagrad",
    hypers: &[
        HyperSpec::float("lr", 1e-2, Kind::NONNEG, "learning rate"),
        HyperSpec::float("lr_decay", 0.0, Kind::NONNEG, "lr / (1 + (t-1) lr_decay)"),
        WEIGHT_DECAY,
        HyperSpec::float("initial_accumulator_value", 0.0, Kind::NONNEG, "starting value of the sum of squares"),
        HyperSpec::float("eps", 1e-10, Kind::POS, "added to sqrt(sum) for stability"),
        MAXIMIZE,
    ],
    conventions: &["eps outside the square root: sqrt(sum) + eps", "weight decay is L2 (added to the gradient)"],
    needs_hessian: false,
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    eps: T,
    neg_clr: T,
}

impl<T: Float> Algorithm<T> for Adagrad {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adagrad)
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer { name: "sum", init: hp.f(INIT) }]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let clr = hp.f(LR) / (1.0 + (ctx.step - 1) as f64 * hp.f(LR_DECAY));
        Ok(Coef { prep: GradPrep::new(hp.b(MAXIMIZE_), hp.f(WD)), eps: T::of(hp.f(EPS)), neg_clr: T::of(-clr) })
    }
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [s, ..] = ch.s;
        let s = &mut s[..n];
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let si = s[i] + gi * gi;
            s[i] = si;
            p[i] += k.neg_clr * gi / (si.sqrt() + k.eps);
        }
    }
}
