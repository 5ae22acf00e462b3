//! Adagrad (Duchi et al. 2011), as torch.optim.Adagrad.
//!
//! `g' = ±g + weight_decay·p`; `s ← s + g'²`; `p ← p − lr/(1 + (t − 1)·lr_decay) · g'/(sqrt(s) + eps)`.
//! Conventions: eps outside the square root (torch; some references use `sqrt(s + eps)`); the
//! accumulator starts at `initial_accumulator_value`; lr decays as `lr/(1 + (t-1) lr_decay)`.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct Adagrad;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdagradHp {
        lr: f64 [Kind::NONNEG] = 1e-2, "learning rate";
        lr_decay: f64 [Kind::NONNEG] = 0.0, "lr / (1 + (t-1) lr_decay)";
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        initial_accumulator_value: f64 [Kind::NONNEG] = 0.0, "starting value of the sum of squares";
        eps: f64 [Kind::POS] = 1e-10, "added to sqrt(sum) for stability";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adagrad",
    summary: "Adagrad: per-coordinate steps scaled by the root of the summed squared gradients",
    reference: "Duchi, Hazan & Singer 2011; torch.optim.Adagrad",
    hypers: AdagradHp::HYPERS,
    conventions: &["eps outside the square root: sqrt(sum) + eps", "weight decay is L2 (added to the gradient)"],
    needs_hessian: false,
    parity: Parity::Torch("Adagrad"),
    variants: &[],
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
        let hp = AdagradHp::read(hp);
        vec![Buffer { name: "sum", init: hp.initial_accumulator_value }]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdagradHp::read(hp);
        let clr = hp.lr / (1.0 + (ctx.step - 1) as f64 * hp.lr_decay);
        Ok(Coef { prep: GradPrep::new(hp.maximize, hp.weight_decay), eps: T::of(hp.eps), neg_clr: T::of(-clr) })
    }
    const SHORT_FORM: bool = true;
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
