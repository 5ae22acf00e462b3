//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as lucidrains'
//! lion-pytorch.
//!
//! Per element, with `g' = ±g` (`maximize`):
//! - `p ← p·(1 − lr·weight_decay)` (decoupled weight decay, tied to lr)
//! - `p ← p − lr·sign(β1·m + (1 − β1)·g')`, with `sign(0) = 0`
//! - `m ← β2·m + (1 − β2)·g'`
//!
//! Conventions: lion-pytorch's defaults (lr 1e-4, β1 0.9, β2 0.99, no weight decay). Its
//! `decoupled_weight_decay=True` (weight decay divided by the initial lr) is not offered; the paper
//! and the default of lion-pytorch tie the decay to the current lr as here. lion-pytorch has no
//! `maximize`; optlab's negates the gradient, as for every other optimizer.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Lion;

crate::hypers! {
    /// Lion's hyperparameters (lion-pytorch's names, betas split).
    pub struct LionHp {
        lr: f64 [Kind::NONNEG] = 1e-4, LR_DOC;
        beta1: f64 [Kind::UNIT] = 0.9, "interpolation of momentum and gradient whose sign is the update";
        beta2: f64 [Kind::UNIT] = 0.99, "decay of the momentum average";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "decoupled weight decay: p <- p (1 - lr weight_decay)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "lion",
    summary: "Lion: the sign of an interpolation of momentum and gradient, with decoupled decay",
    reference: "Chen et al. 2023; lucidrains/lion-pytorch",
    hypers: LionHp::HYPERS,
    conventions: &[
        "update sign(beta1 m + (1 - beta1) g) with sign(0) = 0; then m <- beta2 m + (1 - beta2) g",
        "weight decay decoupled and tied to lr: p <- p (1 - lr weight_decay) before the update (lion-pytorch's \
         decoupled_weight_decay=True, which divides by the initial lr, is not offered)",
    ],
    needs_hessian: false,
    parity: Parity::Reference("lion-pytorch"),
    variants: &[Variant::tested("weight_decay", &[("weight_decay", "0.1")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    b1: T,
    omb1: T,
    b2: T,
    omb2: T,
    neg_lr: T,
}

/// torch's `sign`: 1, -1, or 0 for ±0.
#[inline(always)]
fn sign<T: Float>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

impl<T: Float> Algorithm<T> for Lion {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Lion)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg")]
    }
    fn prepare(&self, hp: &Hyper, _ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = LionHp::read(hp);
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, 0.0),
            decay: T::of(1.0 - hp.lr * hp.weight_decay),
            b1: T::of(hp.beta1),
            omb1: T::of(1.0 - hp.beta1),
            b2: T::of(hp.beta2),
            omb2: T::of(1.0 - hp.beta2),
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
        let [m, ..] = ch.s;
        let m = &mut m[..n];
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let u = sign(m[i] * k.b1 + k.omb1 * gi);
            p[i] = p[i] * k.decay + k.neg_lr * u;
            m[i] = m[i] * k.b2 + k.omb2 * gi;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig};

    /// Two steps by hand: the first moves every coordinate by exactly lr against the gradient's
    /// sign (m = 0); a zero interpolation does not move; decay multiplies first.
    #[test]
    fn two_steps_by_hand() {
        let cfg = OptimConfig::new("lion").set("lr", 0.1).set("weight_decay", 0.5);
        let mut o = registry::build::<f64>(Layout::single("x", 3), &cfg).unwrap();
        let mut x = vec![1.0, -2.0, 3.0];
        o.step(&mut [&mut x[..]], &[&[0.5, -4.0, 0.0][..]], None).unwrap();
        let d = 1.0 - 0.1 * 0.5;
        assert_eq!(x, vec![1.0 * d - 0.1, -2.0 * d + 0.1, 3.0 * d]);
        // m = (1 - beta2) g1 = [0.005, -0.04, 0] (rounded as the kernel does); the interpolation with
        // g2 = [-0.045, 0.2, 0] is [about 0, -0.016, 0].
        let before = x.clone();
        o.step(&mut [&mut x[..]], &[&[-0.045, 0.2, 0.0][..]], None).unwrap();
        let (omb1, omb2) = (1.0 - 0.9, 1.0 - 0.99);
        let m1 = [0.0 * 0.99 + omb2 * 0.5, 0.0 * 0.99 + omb2 * -4.0];
        let c0 = m1[0] * 0.9 + omb1 * -0.045;
        let s0 = if c0 > 0.0 { 1.0 } else if c0 < 0.0 { -1.0 } else { 0.0 };
        assert_eq!(x[0], before[0] * d - 0.1 * s0);
        assert_eq!(x[1], before[1] * d + 0.1);
        assert_eq!(x[2], before[2] * d);
        let m = &o.state().tensors[0].buffers[0].1;
        assert_eq!(m[2], 0.0);
        assert_eq!(m[1], m1[1] * 0.99 + omb2 * 0.2);
    }

    #[test]
    fn defaults_are_lion_pytorchs() {
        let s = registry::spec("lion").unwrap();
        let d: Vec<String> = s.hypers.iter().map(|h| format!("{}={}", h.name, h.default_text())).collect();
        assert_eq!(d, ["lr=1e-4", "beta1=0.9", "beta2=0.99", "weight_decay=0", "maximize=false"]);
    }
}
