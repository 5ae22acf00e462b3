//! Schedule-Free SGD (Defazio et al. 2024, "The Road Less Scheduled"), as facebookresearch's
//! `schedulefree.SGDScheduleFree` (1.4.1, its single-tensor path, train mode).
//!
//! The same three sequences and weighting as [`schedule_free_adamw`](super::schedule_free_adamw)
//! (parameters hold `y`, state `z`, evaluation weights `x = lerp(y, z, 1 − 1/momentum)`), with the
//! plain gradient: per element, with `g' = ±g + wd·y` and `z = y` at step 1,
//! - `y ← lerp(y, z, c)`; `y ← y + lr_t·(momentum·(1 − c) − 1)·g'`; `z ← z − lr_t·g'`.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

use super::common::*;
use super::schedule_free_adamw::{eval_weights, weights, BETA_OPEN, SF_CONVENTIONS, SF_SCALARS};

pub struct ScheduleFreeSgd;

crate::hypers! {
    /// Schedule-Free SGD's hyperparameters (schedulefree's names).
    pub struct SfSgdHp {
        lr: f64 [Kind::NONNEG] = 1.0, LR_DOC;
        momentum: f64 [BETA_OPEN] = 0.9, "interpolation y = (1 - momentum) z + momentum x";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "L2 weight decay wd y added to the gradient (taken at y)";
        warmup_steps: i64 [0, i64::MAX] = 0, "linear warmup of lr over this many steps (lr (k+1)/warmup_steps)";
        r: f64 [Kind::REAL] = 0.0, "the average's weights grow as (k+1)^r";
        weight_lr_power: f64 [Kind::NONNEG] = 2.0, "the average's weights grow as lr_max^weight_lr_power";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "schedule_free_sgd",
    summary: "Schedule-Free SGD: SGD steps on z, evaluation weights x the weighted average of z",
    reference: "Defazio et al. 2024; facebookresearch schedule_free SGDScheduleFree",
    hypers: SfSgdHp::HYPERS,
    conventions: SF_CONVENTIONS,
    needs_hessian: false,
    parity: Parity::Reference("schedulefree"),
    variants: &[Variant::tested("warmup", &[("warmup_steps", "10"), ("weight_decay", "0.01")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    avg: Lerp<T>,
    cy: T,
    neg_lr: T,
    first: bool,
}

#[inline(always)]
fn kernel<T: Float, const FIRST: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (y, g) = (ch.p, &ch.g[..n]);
    let [z, ..] = ch.s;
    let z = &mut z[..n];
    for i in 0..n {
        if FIRST {
            z[i] = y[i];
        }
        let gi = k.prep.apply(g[i], y[i]);
        let yi = k.avg.apply(y[i], z[i]);
        y[i] = yi + k.cy * gi;
        z[i] += k.neg_lr * gi;
    }
}

impl<T: Float> Algorithm<T> for ScheduleFreeSgd {
    type Coef = Coef<T>;
    const EVAL_PARAMS: bool = true;

    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(ScheduleFreeSgd)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("z")]
    }
    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        SF_SCALARS
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = SfSgdHp::read(hp);
        let (lr, c) = weights(hp.lr, hp.warmup_steps, hp.r, hp.weight_lr_power, ctx.step, s);
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            avg: Lerp::new(c),
            cy: T::of(lr * (hp.momentum * (1.0 - c) - 1.0)),
            neg_lr: T::of(-lr),
            first: ctx.step == 1,
        })
    }
    fn eval_params(hp: &Hyper, y: &[T], s: &[&[T]], out: &mut [T]) {
        eval_weights(SfSgdHp::read(hp).momentum, y, s[0], out)
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        if k.first {
            kernel::<T, true>(k, ch)
        } else {
            kernel::<T, false>(k, ch)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig};

    /// With warmup the first steps use lr (k+1)/warmup_steps; c = 1 at step 1 and 1/2 at step 2
    /// when the weights are equal (r = 0, weight_lr_power = 0).
    #[test]
    fn two_steps_by_hand() {
        let (lr, mom) = (0.2, 0.8);
        let cfg = OptimConfig::new("schedule_free_sgd")
            .set("lr", lr)
            .set("momentum", mom)
            .set("warmup_steps", 2)
            .set("weight_lr_power", 0.0);
        let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let mut y = [1.0];
        o.step(&mut [&mut y[..]], &[&[1.0][..]], None).unwrap();
        let l1 = lr * 0.5;
        let (y1, z1) = (1.0 + -l1, 1.0 + -l1);
        assert_eq!(y[0], y1);
        o.step(&mut [&mut y[..]], &[&[3.0][..]], None).unwrap();
        // c = 1/2, lr_t = lr: y = lerp(y1, z1, 1/2) + lr (mom/2 - 1) 3.
        let y2 = (z1 - (z1 - y1) * (1.0 - 0.5)) + lr * (mom * 0.5 - 1.0) * 3.0;
        assert_eq!(y[0], y2);
        let z2 = z1 + -lr * 3.0;
        assert_eq!(o.state().tensors[0].buffers[0].1, vec![z2]);
        let mut x = [0.0];
        o.eval_params(&[&y[..]], &mut [&mut x[..]]).unwrap();
        let w = 1.0 - 1.0 / mom;
        assert_eq!(x[0], y2 + w * (z2 - y2));
    }
}
