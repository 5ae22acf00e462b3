//! AdaBelief (Zhuang et al. 2020, NeurIPS, "AdaBelief Optimizer: Adapting Stepsizes by the Belief
//! in Observed Gradients"), as the authors' package `adabelief-pytorch` 0.2.1.
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2, `weight_decouple=false`) or, with
//! `weight_decouple=true`, `p ← p·(1 − lr·weight_decay)` first (`fixed_decay=true`:
//! `p ← p·(1 − weight_decay)`):
//! - `m ← β1·m + (1 − β1)·g'`
//! - `s ← β2·s + (1 − β2)·(g' − m)² + eps` (the new `m`; eps is added to the stored state, every step)
//! - AMSGrad: `s_max ← max(s_max, s)` replaces `s` below
//! - `p ← p − lr/(1 − β1^t) · m / (sqrt(s)/sqrt(1 − β2^t) + eps)`
//!
//! This is the paper's Algorithm 2 (`ŝ = s/(1 − β2^t)`, `p ← p − α m̂/(sqrt(ŝ) + ε)`, with `+ε`
//! inside the recursion for `s`), which is also the package's update with `rectify=False`.
//!
//! With `rectify=true` (RAdam-style, as the package): `ρ∞ = 2/(1 − β2) − 1`,
//! `ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t)`; if `ρ_t ≥ 5`:
//! `r = sqrt((1 − β2^t)(ρ_t − 4)/(ρ∞ − 4)·(ρ_t − 2)/ρ_t·ρ∞/(ρ∞ − 2)) / (1 − β1^t)` and
//! `p ← p − lr·r · m/(sqrt(s) + eps)` (no bias correction inside the denominator); else, with
//! `degenerated_to_sgd=true`, `p ← p − lr/(1 − β1^t)·m`, and with `degenerated_to_sgd=false` the
//! parameter is not moved (the moments and the decoupled weight decay still are).
//!
//! Defaults: the paper's algorithm (no rectification), `eps = 1e-16` (the package's default since
//! 0.1.0, which its README recommends for Adam-like tasks; it recommends 1e-8 where SGD beats Adam),
//! `weight_decouple = true` (the package's default; with the default `weight_decay = 0` it has
//! no effect).
//!
//! Conventions and how the references differ:
//! - Package defaults: `adabelief-pytorch` 0.2.x has `eps=1e-16, weight_decouple=True,
//!   rectify=True, degenerated_to_sgd=True`; 0.0.5 (and `torch-optimizer` 0.3.0's `AdaBelief`,
//!   a port of 0.0.5) has `eps=1e-8, weight_decouple=False, rectify=False`. Our default turns
//!   rectification off (the paper's Algorithm 2; the authors' README says rectification was never
//!   used for the paper's results).
//! - eps appears twice, as in the paper and every reference: inside the recursion of `s` (so it
//!   accumulates: in steady state `s` holds about `eps/(1 − β2)` of it) and outside the square
//!   root. The authors' TensorFlow package `adabelief-tf` 0.2 uses the same formula with default
//!   eps 1e-14 (its README: eps "might need to be larger" in TensorFlow).
//! - AMSGrad: 0.2.x takes `max(s_max, s)` after adding eps to `s` (followed here); 0.0.5 and
//!   `torch-optimizer` take the max of `s` before eps and then add eps to the stored maximum
//!   in place, so `s_max` grows by eps every step; not offered. With `rectify=true` and `ρ_t ≥ 5`,
//!   0.2.x divides by `sqrt(s)` and ignores `s_max` (an oversight); here `s_max` is used whenever
//!   `amsgrad=true`, as `adabelief-tf` 0.2 does.
//! - Rectification threshold and fallback: 0.2.x rectifies when `ρ_t ≥ 5` and otherwise takes the
//!   bias-corrected SGD step `lr/(1 − β1^t)·m` (followed here); 0.0.5 and `torch-optimizer`
//!   rectify when `ρ_t > 4` (keeping `sqrt(1 − β2^t)` inside the denominator) and otherwise take
//!   `lr·m` without the bias correction; torch's RAdam uses `ρ_t > 5`. `adabelief-tf` 0.2
//!   rectifies when `ρ_t ≥ 5` too but keeps the bias correction inside the denominator,
//!   `r'·m̂/(sqrt(ŝ) + eps)` (differs from 0.2.x only in how eps is scaled); not offered.
//! - Weight decay: L2 is added to the gradient before both moments (`weight_decouple=false`);
//!   decoupled decay multiplies `p` before the update. 0.1.0 had a bug in coupled decay (fixed in
//!   0.2.0, followed here).
//! - `maximize` (not in the package) negates the gradient, as torch's optimizers do.
//! - `β^t` is a floating-point power, as Python's `beta ** step`; the moments use
//!   `m·β + (1 − β)·g` (the package's `mul_().add_()`), not torch's `lerp`.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct AdaBelief;


/// `ρ_t` from which the rectified (adaptive) step is taken, as `adabelief-pytorch` 0.2.x.
const RHO_MIN: f64 = 5.0;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdaBeliefHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-16,
            "added to s every step and to the denominator (adabelief-pytorch >= 0.1: 1e-16; 0.0.5 and torch-optimizer: 1e-8)";
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        weight_decouple: bool [] = true,
            "decoupled weight decay p <- p (1 - lr weight_decay) before the update (package default); false: L2 added to the gradient";
        fixed_decay: bool [] = false, "with weight_decouple: p <- p (1 - weight_decay), not scaled by lr";
        amsgrad: bool [] = false, "use the running maximum of s (after adding eps)";
        rectify: bool [] = false,
            "RAdam-style rectification as adabelief-pytorch 0.2 (its default is true; the paper's algorithm has none)";
        degenerated_to_sgd: bool [] = true,
            "with rectify, while rho_t < 5: take the SGD step lr m/(1 - beta1^t) (false: do not move p)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adabelief",
    summary: "AdaBelief: Adam with the EMA of (g - m)^2 as second moment, optional rectification",
    reference: "Zhuang et al. 2020 (NeurIPS), Algorithm 2; adabelief-pytorch 0.2.1",
    hypers: AdaBeliefHp::HYPERS,
    conventions: &[
        "the paper's Algorithm 2: s <- beta2 s + (1 - beta2)(g - m)^2 + eps, p <- p - lr m_hat/(sqrt(s_hat) + eps)",
        "eps twice: accumulated inside s every step and added outside the square root after bias correction",
        "eps default 1e-16 (adabelief-pytorch >= 0.1.0); 0.0.5 and torch-optimizer use 1e-8",
        "rectify default false (paper); adabelief-pytorch 0.2 defaults to rectify=True, weight_decouple=True",
        "rectify: adaptive step when rho_t >= 5 with denominator sqrt(s) + eps, else SGD step lr m/(1 - beta1^t) (0.2.x); torch-optimizer/0.0.5: rho_t > 4, else lr m",
        "amsgrad: max of s after eps is added (0.2.x); 0.0.5/torch-optimizer add eps to the stored max each step; the max is also used when rectified (0.2.x ignores it there)",
        "weight decay: decoupled p <- p (1 - lr wd) by default (fixed_decay: 1 - wd), or L2 added to the gradient",
        "moments as m beta + (1 - beta) g; beta^t as a float power (Python's beta ** step)",
    ],
    needs_hessian: false,
    parity: Parity::Reference("adabelief-pytorch"),
    variants: &[],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    b1: T,
    omb1: T,
    b2: T,
    omb2: T,
    eps: T,
    /// sqrt(1 − β2^t) for the plain step, 1 for the rectified one.
    bc2_sqrt: T,
    /// Multiplies `m/denom` (adaptive) or `m` (SGD fallback; 0 when not moving).
    neg_step: T,
    ams: bool,
    adaptive: bool,
}

#[inline(always)]
fn kernel<T: Float, const S: bool, const AMS: bool, const ADAPTIVE: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [m, s, smax, _] = ch.s;
    let (m, s) = (&mut m[..n], &mut s[..n]);
    let smax: &mut [T] = if AMS { &mut smax[..n] } else { smax };
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let mi = m[i] * k.b1 + k.omb1 * gi;
        m[i] = mi;
        let r = gi - mi;
        let mut si = (s[i] * k.b2 + k.omb2 * r * r) + k.eps;
        s[i] = si;
        if AMS {
            si = smax[i].max(si);
            smax[i] = si;
        }
        if ADAPTIVE {
            let denom = si.sqrt() / k.bc2_sqrt + k.eps;
            p[i] = p[i] * k.decay + k.neg_step * (mi / denom);
        } else {
            p[i] = p[i] * k.decay + k.neg_step * mi;
        }
    }
}

impl<T: Float> Algorithm<T> for AdaBelief {
    type Coef = Coef<T>;

    fn spec() -> &'static Spec {
        &SPEC
    }

    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdaBelief)
    }

    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        let hp = AdaBeliefHp::read(hp);
        let mut b = vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_var")];
        if hp.amsgrad {
            b.push(Buffer::zeros("max_exp_avg_var"));
        }
        b
    }

    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdaBeliefHp::read(hp);
        let (lr, b1, b2, wd) = (hp.lr, hp.beta1, hp.beta2, hp.weight_decay);
        let decouple = hp.weight_decouple;
        let decay = match (decouple, hp.fixed_decay) {
            (false, _) => 1.0,
            (true, false) => 1.0 - lr * wd,
            (true, true) => 1.0 - wd,
        };
        let bc1 = bias_correction(b1, ctx.step);
        // (adaptive, sqrt of the second bias correction, step multiplier)
        let (adaptive, bc2_sqrt, neg_step) = if !hp.rectify {
            (true, bias_correction(b2, ctx.step).sqrt(), -(lr / bc1))
        } else {
            let t = ctx.step as f64;
            let b2t = b2.powf(t);
            let rho_inf = 2.0 / (1.0 - b2) - 1.0;
            let rho = rho_inf - 2.0 * t * b2t / (1.0 - b2t);
            if rho >= RHO_MIN {
                let r = ((1.0 - b2t) * (rho - 4.0) / (rho_inf - 4.0) * (rho - 2.0) / rho * rho_inf / (rho_inf - 2.0))
                    .sqrt()
                    / bc1;
                (true, 1.0, -r * lr)
            } else if hp.degenerated_to_sgd {
                (false, 1.0, -(1.0 / bc1) * lr)
            } else {
                (false, 1.0, 0.0)
            }
        };
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, if decouple { 0.0 } else { wd }),
            decay: T::of(decay),
            b1: T::of(b1),
            omb1: T::of(1.0 - b1),
            b2: T::of(b2),
            omb2: T::of(1.0 - b2),
            eps: T::of(hp.eps),
            bc2_sqrt: T::of(bc2_sqrt),
            neg_step: T::of(neg_step),
            ams: hp.amsgrad,
            adaptive,
        })
    }

    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        match (k.ams, k.adaptive) {
            (false, true) => kernel::<T, S, false, true>(k, ch),
            (true, true) => kernel::<T, S, true, true>(k, ch),
            (false, false) => kernel::<T, S, false, false>(k, ch),
            (true, false) => kernel::<T, S, true, false>(k, ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, Optimizer};

    fn build<T: crate::registry::RegistryFloat>(n: usize, set: &[(&str, &str)]) -> Box<dyn Optimizer<T>> {
        registry::build_for_test("adabelief", Layout::single("w", n), set)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-14 * b.abs().max(1e-300)
    }

    /// Defaults (lr 1e-3, β 0.9/0.999, eps 1e-16), two steps by hand.
    #[test]
    fn first_and_second_step_by_hand() {
        let (lr, b1, b2, eps): (f64, f64, f64, f64) = (1e-3, 0.9, 0.999, 1e-16);
        let mut opt = build::<f64>(2, &[]);
        let mut p = vec![1.0, -2.0];
        let g1 = [0.5, -3.0];
        let g2 = [0.25, 1.0];
        let mut want = p.clone();
        let (mut m, mut s) = ([0.0f64; 2], [0.0f64; 2]);
        for (t, g) in [(1, g1), (2, g2)] {
            opt.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
            for i in 0..2 {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                s[i] = b2 * s[i] + (1.0 - b2) * (g[i] - m[i]).powi(2) + eps;
                let mhat = m[i] / (1.0 - b1.powi(t));
                let shat = s[i] / (1.0 - b2.powi(t));
                want[i] -= lr * mhat / (shat.sqrt() + eps);
            }
            for i in 0..2 {
                assert!(close(p[i], want[i]), "step {t}: {} vs {}", p[i], want[i]);
            }
        }
        let st = opt.state();
        assert_eq!(st.tensors[0].buffers[0].0, "exp_avg");
        assert_eq!(st.tensors[0].buffers[1].0, "exp_avg_var");
    }

    #[test]
    fn first_step_is_lr_over_beta1() {
        let mut opt = build::<f64>(3, &[]);
        let mut p = [0.0, 0.0, 0.0];
        opt.step(&mut [&mut p[..]], &[&[2.0, -5.0, 1e-3][..]], None).unwrap();
        // m̂ = g, ŝ = (0.001 (0.9 g)^2 + eps)/0.001: p ≈ -lr sign(g)/0.9.
        for (x, g) in p.iter().zip([2.0f64, -5.0, 1e-3]) {
            let want = -1e-3 * g / ((0.81 * g * g + 1e-16 / 1e-3).sqrt() + 1e-16);
            assert!((x - want).abs() <= 1e-14 * want.abs(), "{x} vs {want}");
            assert!((x + 1e-3 * g.signum() / 0.9).abs() < 1e-9, "{x}");
        }
    }

    #[test]
    fn zero_gradient_is_finite_and_does_not_move() {
        let mut opt = build::<f64>(2, &[("amsgrad", "true")]);
        let mut p = vec![1.0, -1.0];
        for _ in 0..3 {
            opt.step(&mut [&mut p[..]], &[&[0.0, 0.0][..]], None).unwrap();
        }
        assert_eq!(p, vec![1.0, -1.0]);
        let st = opt.state();
        // s holds the accumulated eps only.
        let s = &st.tensors[0].buffers[1].1;
        assert!(s.iter().all(|v| v.is_finite() && *v > 0.0));
    }

    #[test]
    fn decoupled_and_l2_weight_decay() {
        // Decoupled: p <- p(1 - lr wd) then the plain step; with g = 0 only the decay acts.
        let mut opt = build::<f64>(1, &[("weight_decay", "0.1"), ("lr", "0.5")]);
        let mut p = [2.0];
        opt.step(&mut [&mut p[..]], &[&[0.0][..]], None).unwrap();
        assert!(close(p[0], 2.0 * (1.0 - 0.05)));
        let mut opt = build::<f64>(1, &[("weight_decay", "0.1"), ("fixed_decay", "true")]);
        let mut p = [2.0];
        opt.step(&mut [&mut p[..]], &[&[0.0][..]], None).unwrap();
        assert!(close(p[0], 2.0 * 0.9));
        // L2: g' = wd p = 0.2, first step moves by lr/0.9 against it.
        let mut opt = build::<f64>(1, &[("weight_decay", "0.1"), ("weight_decouple", "false")]);
        let mut p = [2.0];
        opt.step(&mut [&mut p[..]], &[&[0.0][..]], None).unwrap();
        assert!((p[0] - (2.0 - 1e-3 / 0.9)).abs() < 1e-12);
    }

    #[test]
    fn rectified_early_steps_are_sgd() {
        // ρ_1 = 1 < 5: p <- p - lr/(1 - β1) m = p - lr g on the first step.
        let mut opt = build::<f64>(2, &[("rectify", "true"), ("lr", "0.1")]);
        let mut p = [1.0, 1.0];
        opt.step(&mut [&mut p[..]], &[&[3.0, -1.0][..]], None).unwrap();
        assert!((p[0] - 0.7).abs() < 1e-15);
        assert!((p[1] - 1.1).abs() < 1e-15);
        // Without the SGD fallback nothing moves while ρ_t < 5 (t <= 5 for β2 = 0.999).
        let mut opt = build::<f64>(1, &[("rectify", "true"), ("degenerated_to_sgd", "false")]);
        let mut p = [1.0];
        for _ in 0..5 {
            opt.step(&mut [&mut p[..]], &[&[3.0][..]], None).unwrap();
        }
        assert_eq!(p[0], 1.0);
        opt.step(&mut [&mut p[..]], &[&[3.0][..]], None).unwrap();
        assert!(p[0] < 1.0);
    }

    #[test]
    fn maximize_negates() {
        let mut a = build::<f64>(2, &[("maximize", "true")]);
        let mut b = build::<f64>(2, &[]);
        let (mut pa, mut pb) = (vec![0.3, -0.7], vec![0.3, -0.7]);
        for k in 0..4 {
            let g = [0.1 * k as f64 - 0.2, 1.5];
            let ng = [-g[0], -g[1]];
            a.step(&mut [&mut pa[..]], &[&g[..]], None).unwrap();
            b.step(&mut [&mut pb[..]], &[&ng[..]], None).unwrap();
        }
        assert_eq!(pa, pb);
    }

    #[test]
    fn f32_agrees_with_f64() {
        for set in [
            &[][..],
            &[("amsgrad", "true"), ("eps", "1e-8")][..],
            &[("rectify", "true"), ("weight_decouple", "false"), ("weight_decay", "0.01")][..],
        ] {
            let mut a = build::<f32>(3, set);
            let mut b = build::<f64>(3, set);
            let mut pa = [0.5f32, -1.0, 2.0];
            let mut pb = vec![0.5f64, -1.0, 2.0];
            for k in 0..10 {
                let gb: Vec<f64> = pb.iter().map(|x| 2.0 * x + 0.1 * k as f64).collect();
                let ga: Vec<f32> = gb.iter().map(|&x| x as f32).collect();
                a.step(&mut [&mut pa[..]], &[&ga[..]], None).unwrap();
                b.step(&mut [&mut pb[..]], &[&gb[..]], None).unwrap();
            }
            for (x, y) in pa.iter().zip(&pb) {
                assert!((*x as f64 - y).abs() < 1e-5 * y.abs().max(1.0), "{set:?}: {x} vs {y}");
            }
        }
    }
}
