//! Adadelta (Zeiler 2012), as torch.optim.Adadelta.
//!
//! `g' = ±g + weight_decay·p`; `a ← ρ a + (1 − ρ) g'²`; `d = sqrt(u + eps)/sqrt(a + eps) · g'`;
//! `u ← ρ u + (1 − ρ) d²`; `p ← p − lr·d`.
//! Conventions: eps inside both square roots (as the paper); torch adds an `lr` factor (default 1.0;
//! the paper has none, i.e. lr = 1).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct Adadelta;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdadeltaHp {
        lr: f64 [Kind::NONNEG] = 1.0, "scale of the update (the paper has none: 1)";
        rho: f64 [Kind::UNIT] = 0.9, "decay of the running averages";
        eps: f64 [Kind::POS] = 1e-6, "added inside both square roots";
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adadelta",
    summary: "Adadelta: steps scaled by the ratio of running RMS of updates and gradients",
    reference: "Zeiler 2012; torch.optim.Adadelta",
    hypers: AdadeltaHp::HYPERS,
    conventions: &["eps inside both square roots", "lr multiplies the update (torch; the paper has lr = 1)"],
    needs_hessian: false,
    parity: Parity::Torch("Adadelta"),
    variants: &[],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    rho: T,
    omr: T,
    eps: T,
    neg_lr: T,
}

impl<T: Float> Algorithm<T> for Adadelta {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adadelta)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("square_avg"), Buffer::zeros("acc_delta")]
    }
    fn prepare(&self, hp: &Hyper, _ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdadeltaHp::read(hp);
        let rho = hp.rho;
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            rho: T::of(rho),
            omr: T::of(1.0 - rho),
            eps: T::of(hp.eps),
            neg_lr: T::of(-hp.lr),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [a, u, ..] = ch.s;
        let (a, u) = (&mut a[..n], &mut u[..n]);
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let ai = a[i] * k.rho + k.omr * gi * gi;
            a[i] = ai;
            let std = (ai + k.eps).sqrt();
            let d = (u[i] + k.eps).sqrt() / std * gi;
            u[i] = u[i] * k.rho + k.omr * d * d;
            p[i] += k.neg_lr * d;
        }
    }
}
