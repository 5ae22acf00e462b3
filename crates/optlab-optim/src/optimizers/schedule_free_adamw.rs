//! Schedule-Free AdamW (Defazio et al. 2024, "The Road Less Scheduled"), as facebookresearch's
//! `schedulefree.AdamWScheduleFree` (1.4.1, its single-tensor path, train mode).
//!
//! Schedule-Free keeps three sequences: `z` (the SGD-like base sequence), `x` (the weighted average
//! of the `z`s: the **evaluation** weights) and `y = (1 − β1)·z + β1·x` (the **training** weights,
//! where gradients are taken). As the reference, optlab keeps `y` in the parameters and `z` as
//! state, and recovers `x = lerp(y, z, 1 − 1/β1)` when asked
//! ([`Optimizer::eval_params`](crate::Optimizer::eval_params)); unlike the reference's
//! `.eval()`/`.train()`, which overwrite the parameters in place (a round trip rounds `y`), the
//! parameters are never switched: the evaluation weights are written to a separate buffer.
//!
//! Per step `t` (per tensor, from the group's settings): `k = t − 1`; warmup
//! `s = (k + 1)/warmup_steps` while `k < warmup_steps`, else 1; `lr_t = lr·s`;
//! `lr_max ← max(lr_max, lr_t)` (from −1); `w = (k + 1)^r · lr_max^weight_lr_power`;
//! `W ← W + w`; `c = w/W` (0 when `W = 0`). Per element, with `g' = ±g` and `z = y` at step 1:
//! - `v ← β2·v + (1 − β2)·g'²`; `ĝ = g'/(√(v/(1 − β2^t)) + eps) + wd·y`
//! - `y ← lerp(y, z, c)`; `y ← y + lr_t·(β1·(1 − c) − 1)·ĝ`; `z ← z − lr_t·ĝ`

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

use super::common::*;

pub struct ScheduleFreeAdamW;

/// `(0, 1)`: β1 = 0 has no evaluation weights (`1 − 1/β1`), β1 = 1 never moves `y` off `x`.
pub(crate) const BETA_OPEN: Kind = Kind::Float { lo: 0.0, hi: 1.0, lo_open: true, hi_open: true };

crate::hypers! {
    /// Schedule-Free AdamW's hyperparameters (schedulefree's names, betas split).
    pub struct SfAdamWHp {
        lr: f64 [Kind::NONNEG] = 0.0025, LR_DOC;
        beta1: f64 [BETA_OPEN] = 0.9, "interpolation y = (1 - beta1) z + beta1 x (the momentum of Schedule-Free)";
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, "added to the bias-corrected root of v";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "weight decay wd y added to the normalised gradient (taken at y)";
        warmup_steps: i64 [0, i64::MAX] = 0, "linear warmup of lr over this many steps (lr (k+1)/warmup_steps)";
        r: f64 [Kind::REAL] = 0.0, "the average's weights grow as (k+1)^r";
        weight_lr_power: f64 [Kind::NONNEG] = 2.0, "the average's weights grow as lr_max^weight_lr_power";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "schedule_free_adamw",
    summary: "Schedule-Free AdamW: Adam-normalised steps on z, evaluation weights x the weighted average of z",
    reference: "Defazio et al. 2024; facebookresearch schedule_free AdamWScheduleFree",
    hypers: SfAdamWHp::HYPERS,
    conventions: SF_CONVENTIONS,
    needs_hessian: false,
    parity: Parity::Reference("schedulefree"),
    variants: &[Variant::tested("warmup", &[("warmup_steps", "10"), ("weight_decay", "0.01")])],
};

pub(crate) const SF_CONVENTIONS: &[&str] = &[
    "the parameters hold the training weights y (where gradients are taken), the state holds z; the evaluation \
     weights x = lerp(y, z, 1 - 1/beta1) (beta1 is momentum in schedule_free_sgd) are computed on request \
     (eval params: network validation, the reported weights and the function runs' f use them), never swapped \
     into the parameters",
    "the average's weight (k+1)^r lr_max^weight_lr_power with lr_max the largest warmed-up lr so far; c = w / sum w \
     (0 when the sum is 0)",
    "lr warms up linearly over warmup_steps (built in, as the reference); an optlab schedule on lr multiplies the \
     same lr the reference's group['lr'] is",
    "weight decay at y, added after the normalisation (the reference's); maximize is optlab's (negated gradient)",
    "the weighting scalars (sum of weights, lr_max) are per-tensor scalar state, equal across a group",
];

/// The per-step scalars shared by both Schedule-Free optimizers: `(lr_t, c)`, updating
/// `s = [weight_sum, lr_max]`.
pub(crate) fn weights(lr: f64, warmup: i64, r: f64, power: f64, step: u64, s: &mut [f64]) -> (f64, f64) {
    let k = step - 1;
    let sched = if (k as i64) < warmup { (k + 1) as f64 / warmup as f64 } else { 1.0 };
    let lr = lr * sched;
    s[1] = lr.max(s[1]);
    let w = ((k + 1) as f64).powf(r) * s[1].powf(power);
    s[0] += w;
    let c = if s[0] == 0.0 { 0.0 } else { w / s[0] };
    (lr, c)
}

pub(crate) static SF_SCALARS: &[(&str, f64)] = &[("weight_sum", 0.0), ("lr_max", -1.0)];

/// `x = lerp(y, z, 1 − 1/β1)` into `out` (y and z of one tensor).
pub(crate) fn eval_weights<T: Float>(beta1: f64, y: &[T], z: &[T], out: &mut [T]) {
    let l = Lerp::<T>::new(1.0 - 1.0 / beta1);
    for ((o, &y), &z) in out.iter_mut().zip(y).zip(z) {
        *o = l.apply(y, z);
    }
}

#[derive(Clone, Copy)]
pub struct Coef<T> {
    sign: T,
    b2: T,
    omb2: T,
    bc2: T,
    eps: T,
    wd: T,
    avg: Lerp<T>,
    /// `lr_t·(β1·(1 − c) − 1)`
    cy: T,
    neg_lr: T,
    first: bool,
}

#[inline(always)]
fn kernel<T: Float, const FIRST: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (y, g) = (ch.p, &ch.g[..n]);
    let [z, v, ..] = ch.s;
    let (z, v) = (&mut z[..n], &mut v[..n]);
    for i in 0..n {
        if FIRST {
            z[i] = y[i];
        }
        let gi = k.sign * g[i];
        let vi = v[i] * k.b2 + k.omb2 * gi * gi;
        v[i] = vi;
        let den = (vi / k.bc2).sqrt() + k.eps;
        let gn = gi / den + k.wd * y[i];
        let yi = k.avg.apply(y[i], z[i]);
        y[i] = yi + k.cy * gn;
        z[i] += k.neg_lr * gn;
    }
}

impl<T: Float> Algorithm<T> for ScheduleFreeAdamW {
    type Coef = Coef<T>;
    const EVAL_PARAMS: bool = true;

    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(ScheduleFreeAdamW)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("z"), Buffer::zeros("exp_avg_sq")]
    }
    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        SF_SCALARS
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = SfAdamWHp::read(hp);
        let (lr, c) = weights(hp.lr, hp.warmup_steps, hp.r, hp.weight_lr_power, ctx.step, s);
        Ok(Coef {
            sign: T::of(if hp.maximize { -1.0 } else { 1.0 }),
            b2: T::of(hp.beta2),
            omb2: T::of(1.0 - hp.beta2),
            bc2: T::of(bias_correction(hp.beta2, ctx.step)),
            eps: T::of(hp.eps),
            wd: T::of(hp.weight_decay),
            avg: Lerp::new(c),
            cy: T::of(lr * (hp.beta1 * (1.0 - c) - 1.0)),
            neg_lr: T::of(-lr),
            first: ctx.step == 1,
        })
    }
    fn eval_params(hp: &Hyper, y: &[T], s: &[&[T]], out: &mut [T]) {
        eval_weights(SfAdamWHp::read(hp).beta1, y, s[0], out)
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
    use crate::{registry, Layout, OptimConfig, Optimizer};

    /// Two steps by hand: step 1 moves y to z - ... (c = 1); the evaluation weights are
    /// lerp(y, z, 1 - 1/beta1), and equal the parameters before the first step.
    #[test]
    fn two_steps_and_the_evaluation_weights_by_hand() {
        let (lr, b1, b2, eps): (f64, f64, f64, f64) = (0.1, 0.8, 0.9, 1e-8);
        let cfg = OptimConfig::new("schedule_free_adamw").set("lr", lr).set("beta1", b1).set("beta2", b2);
        let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let mut y = [1.0];
        let mut x = [f64::NAN];
        assert!(o.eval_params(&[&y[..]], &mut [&mut x[..]]).unwrap());
        assert_eq!(x, y, "before the first step x = y");
        o.step(&mut [&mut y[..]], &[&[2.0][..]], None).unwrap();
        // c = 1: y = z = 1; v = (1 - b2) 4, den = sqrt(v/(1 - b2)) + eps; g^ = 2/den.
        let v = (1.0 - b2) * 2.0 * 2.0;
        let gn = 2.0 / ((v / (1.0 - b2)).sqrt() + eps);
        let z1 = 1.0 + -lr * gn;
        // y = lerp(1, z, 1) = z = 1, then y + lr (b1 (1 - c) - 1) g^ with c = 1.
        let y1 = 1.0 + -lr * gn;
        assert_eq!(y[0], y1);
        assert_eq!(o.state().tensors[0].buffers[0].1, vec![z1]);
        // x after step 1 is z1 (x_1 = z_1 for c = 1), up to rounding.
        o.eval_params(&[&y[..]], &mut [&mut x[..]]).unwrap();
        assert!((x[0] - z1).abs() < 1e-15, "{} vs {z1}", x[0]);
    }

    #[test]
    fn beta1_zero_is_refused_with_the_reason() {
        let cfg = OptimConfig::new("schedule_free_adamw").set("beta1", 0.0);
        let e = registry::build::<f64>(Layout::single("x", 1), &cfg).err().expect("refused").to_string();
        assert!(e.contains("beta1"), "{e}");
    }

    /// An ordinary optimizer has no evaluation weights.
    #[test]
    fn ordinary_optimizers_have_no_evaluation_weights() {
        let o = registry::build::<f64>(Layout::single("x", 1), &OptimConfig::new("adam")).unwrap();
        let mut out = [0.0];
        assert!(!o.has_eval_params());
        assert!(!o.eval_params(&[&[1.0][..]], &mut [&mut out[..]]).unwrap());
    }

    fn _object_safe(_: &dyn Optimizer<f64>) {}
}
