//! LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"), as
//! pytorch_optimizer's `LARS` (4.1.0, its single-tensor path `_step_per_param`).
//!
//! Per tensor, from a pre-pass over `p` and `g`: `‖p‖`, `‖g‖` (sums of squares by fused
//! multiply-adds, as torch's `linalg.norm`), `d = ‖g‖ + wd·‖p‖` and the trust
//! ratio `τ = trust_coefficient·‖p‖/d` (1 when `‖p‖ = 0` or `d = 0`). Per element, with `g' = ±g`:
//! - adapted tensors (`adapt=true`, default): `g' ← (g' + wd·p)·τ`; excluded ones keep `g'` (no
//!   decay, no scaling)
//! - momentum > 0: `b ← μ·b + (1 − dampening)·g'` (from `b = 0`); `d = g' + μ·b` (Nesterov) or
//!   `b`; momentum 0: `d = g'` (the buffer is not touched)
//! - `p ← p − lr·d`
//!
//! Which tensors are adapted is a parameter-group matter in optlab: pytorch_optimizer adapts every
//! parameter with more than one dimension and leaves scalars and vectors (biases, norm scales) to
//! plain momentum SGD without weight decay; optlab's `adapt=false` in a group is that exclusion
//! (e.g. a group `*.bias` with `adapt=false`), so the choice is explicit and not tied to shapes.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, MAX_ACC};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

use super::common::*;

pub struct Lars;

crate::hypers! {
    /// LARS's hyperparameters (pytorch_optimizer's names; `adapt` is optlab's group switch).
    pub struct LarsHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, "weight decay added to the gradient of adapted tensors, inside the trust ratio's denominator";
        momentum: f64 [Kind::UNIT_OPEN] = 0.9, "momentum factor (0: no momentum)";
        dampening: f64 [Kind::UNIT] = 0.0, "dampening of the gradient in the momentum buffer";
        trust_coefficient: f64 [Kind::NONNEG] = 1e-3, "eta of the trust ratio eta ||p|| / (||g|| + wd ||p||)";
        nesterov: bool [] = false, "Nesterov momentum d = g + momentum b";
        adapt: bool [] = true, "scale by the trust ratio and decay (false: plain momentum SGD, pytorch_optimizer's treatment of 1-D parameters)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "lars",
    summary: "LARS: momentum SGD with the gradient scaled per tensor by the trust ratio eta ||p|| / ||g||",
    reference: "You et al. 2017; pytorch_optimizer LARS",
    hypers: LarsHp::HYPERS,
    conventions: &[
        "trust ratio trust_coefficient ||p|| / (||g|| + wd ||p||), 1 when ||p|| = 0 or the denominator is 0; \
         it scales g + wd p, before momentum (pytorch_optimizer; the paper's local lr times the global lr)",
        "excluded tensors are a group matter: adapt=false (no trust ratio, no weight decay) is pytorch_optimizer's \
         treatment of every parameter with ndim <= 1; optlab does not decide by shape",
        "momentum buffer from 0: b = momentum b + (1 - dampening) g (torch's SGD starts it at the first gradient); \
         momentum 0 steps with g directly",
    ],
    needs_hessian: false,
    parity: Parity::Reference("pytorch_optimizer"),
    variants: &[
        Variant::tested("nesterov", &[("nesterov", "true"), ("weight_decay", "0.01")]),
        Variant::tested("excluded", &[("adapt", "false")]),
    ],
};

/// `Σ x²` in f64 with fused multiply-adds, as torch's `linalg.norm` accumulates (for a short
/// tensor its exact sequence `fma(x1, x1, x0²)`; the same result on every instruction set), in 8
/// fixed lanes ([`add_sq`]: for f32 elements a plain multiply and add, the same bits).
#[inline(always)]
pub(crate) fn sum_sq_fma<T: Float>(x: &[T]) -> f64 {
    const L: usize = 8;
    let mut acc = [0.0f64; L];
    let mut it = x.chunks_exact(L);
    for c in &mut it {
        for k in 0..L {
            acc[k] = add_sq(c[k], acc[k]);
        }
    }
    for &v in it.remainder() {
        acc[0] = add_sq(v, acc[0]);
    }
    acc.iter().sum()
}

#[derive(Clone, Copy)]
pub struct Coef<T> {
    sign: T,
    wd: T,
    trust: T,
    mom: T,
    damp: T,
    neg_lr: T,
    use_buf: bool,
    nesterov: bool,
}

#[inline(always)]
fn kernel<T: Float, const BUF: bool, const NEST: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [b, ..] = ch.s;
    let b = &mut b[..n];
    for i in 0..n {
        let gi = (k.sign * g[i] + k.wd * p[i]) * k.trust;
        let d = if BUF {
            let bi = b[i] * k.mom + k.damp * gi;
            b[i] = bi;
            if NEST {
                gi + k.mom * bi
            } else {
                bi
            }
        } else {
            gi
        };
        p[i] += k.neg_lr * d;
    }
}

impl<T: Float> Algorithm<T> for Lars {
    type Coef = Coef<T>;
    const REDUCE: usize = 2;

    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Lars)
    }
    /// Always one buffer, so that a momentum scheduled from 0 has one to use.
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("momentum_buffer")]
    }
    /// The norm pass reads `p` and `g` once more.
    fn accesses_per_param(_hp: &Hyper) -> usize {
        3 + 2 + 2
    }
    #[inline(always)]
    fn reduce(&self, hp: &Hyper, _step: u64, ch: Chunk<'_, T>, acc: &mut [f64; MAX_ACC]) {
        if LarsHp::read(hp).adapt {
            acc[0] += sum_sq_fma(ch.p);
            acc[1] += sum_sq_fma(ch.g);
        }
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = LarsHp::read(hp);
        let (wd, trust) = if hp.adapt {
            let (pn, gn) = (ctx.acc[0].sqrt(), ctx.acc[1].sqrt());
            let den = gn + hp.weight_decay * pn;
            let t = if pn > 0.0 && den > 0.0 { hp.trust_coefficient * pn / den } else { 1.0 };
            (hp.weight_decay, t)
        } else {
            (0.0, 1.0)
        };
        Ok(Coef {
            sign: T::of(if hp.maximize { -1.0 } else { 1.0 }),
            wd: T::of(wd),
            trust: T::of(trust),
            mom: T::of(hp.momentum),
            damp: T::of(1.0 - hp.dampening),
            neg_lr: T::of(-hp.lr),
            use_buf: hp.momentum > 0.0,
            nesterov: hp.nesterov,
        })
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        match (k.use_buf, k.nesterov) {
            (false, _) => kernel::<T, false, false>(k, ch),
            (true, false) => kernel::<T, true, false>(k, ch),
            (true, true) => kernel::<T, true, true>(k, ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, GroupConfig, Layout, OptimConfig};

    /// One step by hand: the adapted tensor is scaled by its trust ratio; the tensor in the
    /// `adapt=false` group takes a plain momentum step without decay.
    #[test]
    fn adapted_and_excluded_tensors_by_hand() {
        let layout = Layout::new().with("w", &[2]).unwrap().with("bias", &[1]).unwrap();
        let (lr, wd, tc, mom) = (0.5, 0.1, 0.02, 0.9);
        let cfg = OptimConfig::new("lars")
            .set("lr", lr)
            .set("weight_decay", wd)
            .set("trust_coefficient", tc)
            .set("momentum", mom)
            .group(GroupConfig {
                tensors: vec!["bias".into()],
                set: [("adapt".to_string(), "false".to_string())].into(),
                schedules: vec![],
            });
        let mut o = registry::build::<f64>(layout, &cfg).unwrap();
        let (mut w, mut b) = (vec![3.0, 4.0], vec![2.0]);
        let (gw, gb) = ([0.6, 0.8], [-1.0]);
        o.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]], None).unwrap();
        // ||w|| = 5, ||g|| = 1: trust = tc 5 / (1 + wd 5).
        let t = tc * 5.0 / (1.0 + wd * 5.0);
        for i in 0..2 {
            let g = (gw[i] + wd * [3.0, 4.0][i]) * t;
            // The buffer from 0: b = 0 mom + (1 - 0) g = g.
            assert_eq!(w[i], [3.0, 4.0][i] + -lr * g);
        }
        assert_eq!(b[0], 2.0 + -lr * -1.0);
    }

    #[test]
    fn zero_parameters_get_trust_one() {
        let cfg = OptimConfig::new("lars").set("lr", 0.1).set("momentum", 0.0);
        let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
        let mut x = vec![0.0, 0.0];
        o.step(&mut [&mut x[..]], &[&[1.0, -2.0][..]], None).unwrap();
        assert_eq!(x, vec![-0.1, 0.2]);
    }
}
