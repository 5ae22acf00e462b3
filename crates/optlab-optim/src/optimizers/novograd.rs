//! NovoGrad (Ginsburg et al. 2019, "Stochastic Gradient Methods with Layer-wise Adaptive Moments
//! for Training of Deep Networks"), as `torch-optimizer`'s `NovoGrad` (NVIDIA NeMo's `Novograd`
//! has the same update, computing `‖g‖²` as `grad.norm().pow(2)`, plus an optional `luc` update
//! clipping not offered here).
//!
//! The second moment is one scalar per tensor ("layer"), kept as per-tensor scalar state
//! `exp_avg_sq`; `‖g‖²` is summed by a reduction pre-pass. Per tensor, with `n = ‖g‖²` (of the raw
//! gradient):
//! - `v ← n` if `v = 0` (the first step, the paper's initialisation `v₁ = ‖g₁‖²`), else
//!   `v ← β2·v + (1 − β2)·n`
//! - AMSGrad: `v_max ← max(v_max, v)` replaces `v` below
//! - `d = sqrt(v) + eps` (`eps_inside=true`: `d = sqrt(v + eps)`)
//!
//! and per element, with `g' = ±g`:
//! - `m ← β1·m + a·(g'/d + weight_decay·p)`, `a = 1` (paper) or `1 − β1` (`grad_averaging=true`)
//! - `p ← p − lr·m`
//!
//! `m` starts at 0, so the first step gives the paper's `m₁ = g₁/sqrt(v₁) + d·w₁` (up to eps;
//! times `1 − β1` with grad averaging).
//!
//! Options beyond torch-optimizer: `bias_correction=true` is apex's `reg_inside_moment=True` mode:
//! `d = sqrt(v)/sqrt(1 − β2^t) + eps` and `p ← p − lr/(1 − β1^t)·m`; `maximize` negates the gradient.
//!
//! Zero gradient: with `‖g‖ = 0` on the first step `v` stays 0, `d = eps`, so `g'/d = 0` (no NaN:
//! eps must be > 0) and only weight decay moves `p`; the first non-zero gradient then initialises
//! `v = ‖g‖²` (the `v = 0` test of torch-optimizer, NeMo and OpenSeq2Seq).
//!
//! Conventions and how the references differ:
//! - First-step initialisation: the paper sets `v₁ = ‖g₁‖²`, `m₁ = g₁/sqrt(v₁) + d·w₁` and then
//!   updates `w` with it. torch-optimizer, NeMo and OpenSeq2Seq set `v ← ‖g‖²` whenever the stored
//!   `v` is exactly 0 (followed here; equal to the paper's unless the first gradients are 0), and
//!   their `m` starts at 0 so `m₁` is the paper's. apex's `FusedNovoGrad` with `init_zero=False`
//!   (default) starts from `v₁ = ‖g₁‖²`; with `init_zero=True` from 0, so `v₁ = (1 − β2)‖g₁‖²`
//!   (not offered).
//! - eps placement: outside the square root, `sqrt(v) + eps` (torch-optimizer, NeMo, apex); the
//!   authors' TensorFlow `NovoGrad2` in OpenSeq2Seq uses `sqrt(v + eps)` (`eps_inside=true`).
//! - Gradient averaging: off by default (paper, torch-optimizer, NeMo, OpenSeq2Seq); apex defaults
//!   to `grad_averaging=True`. It multiplies the whole normalised term, weight decay included, by
//!   `1 − β1`.
//! - Bias correction: none in the paper, torch-optimizer, NeMo and OpenSeq2Seq; apex defaults to
//!   `bias_correction=True` (see above; with its first-norm initialisation the first step's
//!   denominator is `‖g₁‖/sqrt(1 − β2)`).
//! - Weight decay: the paper's, inside the momentum after normalisation (`g/d + wd·w`). apex's
//!   default `reg_inside_moment=False` is a different algorithm (momentum of the raw gradient,
//!   `p ← p − lr(m̂/d + wd·p)`, decoupled decay) and is not offered.
//! - Defaults: β1 = 0.95, β2 = 0.98 (paper, NeMo, OpenSeq2Seq); torch-optimizer's default is
//!   `betas=(0.95, 0)` (v = ‖g‖² of the current step), apex's `(0.9, 0.999)`. lr 1e-3 and eps 1e-8
//!   as torch-optimizer and NeMo.
//! - AMSGrad (torch-optimizer, NeMo): the running maximum of the per-tensor `v`; apex refuses it.
//! - apex also offers the infinity norm (`norm_type=0`); only the 2-norm is offered.
//! - The per-tensor `v` is kept in f64 for every element type (torch keeps it in the default dtype).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, MAX_ACC};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct NovoGrad;

crate::hypers! {
    /// The hyperparameters.
    pub struct NovoGradHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.95, "momentum factor";
        beta2: f64 [Kind::UNIT_OPEN] = 0.98, "decay of the per-tensor average of the squared gradient norm";
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0,
            "weight decay added to the normalised gradient inside the momentum (g/d + wd p)";
        grad_averaging: bool [] = false, "multiply the normalised gradient (and decay) by 1 - beta1 (apex default)";
        amsgrad: bool [] = false, "use the running maximum of the per-tensor second moment";
        eps_inside: bool [] = false, "d = sqrt(v + eps) (OpenSeq2Seq) instead of sqrt(v) + eps";
        bias_correction: bool [] = false,
            "apex's bias corrections: d = sqrt(v/(1 - beta2^t)) + eps, p <- p - lr m/(1 - beta1^t)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "novograd",
    summary: "NovoGrad: momentum SGD on gradients normalised by a per-tensor (layer-wise) second moment",
    reference: "Ginsburg et al. 2019, Algorithm 1; torch-optimizer 0.3.0 NovoGrad (= NVIDIA NeMo Novograd)",
    hypers: NovoGradHp::HYPERS,
    conventions: &[
        "v (one scalar per tensor) is set to ||g||^2 when it is 0 (first step: the paper's v1 = ||g1||^2), else beta2 v + (1 - beta2)||g||^2",
        "m starts at 0: m1 = g1/d + wd w1 (paper's initialisation); apex init_zero=True (v1 = (1 - beta2)||g1||^2) not offered",
        "eps outside the square root (torch-optimizer, NeMo, apex); OpenSeq2Seq's NovoGrad2: sqrt(v + eps) (eps_inside)",
        "grad_averaging off (paper, torch-optimizer, NeMo); apex default on: multiplies g/d + wd w by 1 - beta1",
        "no bias correction (paper, torch-optimizer, NeMo); apex default bias_correction=True (reg_inside_moment=True mode)",
        "weight decay inside the momentum after normalisation; apex's reg_inside_moment=False (decoupled) is not offered",
        "defaults beta1 0.95, beta2 0.98 (paper, NeMo); torch-optimizer defaults to betas (0.95, 0), apex to (0.9, 0.999)",
    ],
    needs_hessian: false,
    parity: Parity::Reference("torch-optimizer"),
    variants: &[],
};

static SCALARS: &[(&str, f64)] = &[("exp_avg_sq", 0.0)];
static SCALARS_AMS: &[(&str, f64)] = &[("exp_avg_sq", 0.0), ("max_exp_avg_sq", 0.0)];

#[derive(Clone, Copy)]
pub struct Coef<T> {
    sign: T,
    denom: T,
    wd: T,
    /// 1, or 1 − β1 with grad averaging.
    avg: T,
    b1: T,
    neg_lr: T,
}

/// `Σ g²` of a slice in f64, with four partial sums so the loop vectorises.
#[inline(always)]
pub(crate) fn sum_sq<T: Float>(g: &[T]) -> f64 {
    // 16 independent accumulators (four 4-lane vectors): the adds overlap instead of waiting on
    // one another. The order is fixed, so the sum does not depend on the thread count.
    const L: usize = 16;
    let mut acc = [0.0f64; L];
    let mut it = g.chunks_exact(L);
    for c in &mut it {
        for k in 0..L {
            let x = c[k].to_f64();
            acc[k] += x * x;
        }
    }
    let mut s = acc.iter().sum::<f64>();
    for x in it.remainder() {
        let x = x.to_f64();
        s += x * x;
    }
    s
}

impl<T: Float> Algorithm<T> for NovoGrad {
    type Coef = Coef<T>;

    const REDUCE: usize = 1;

    fn spec() -> &'static Spec {
        &SPEC
    }

    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(NovoGrad)
    }

    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg")]
    }

    fn scalars(hp: &Hyper) -> &'static [(&'static str, f64)] {
        let hp = NovoGradHp::read(hp);
        if hp.amsgrad {
            SCALARS_AMS
        } else {
            SCALARS
        }
    }

    /// The norm pass reads the gradient once more.
    fn accesses_per_param(hp: &Hyper) -> usize {
        3 + 2 * <Self as Algorithm<T>>::buffers(hp).len() + 1
    }

    #[inline(always)]
    fn reduce(&self, _hp: &Hyper, _step: u64, chunk: Chunk<'_, T>, acc: &mut [f64; MAX_ACC]) {
        acc[0] += sum_sq(chunk.g);
    }

    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = NovoGradHp::read(hp);
        let (lr, b1, b2, eps) = (hp.lr, hp.beta1, hp.beta2, hp.eps);
        let n2 = ctx.acc[0];
        s[0] = if s[0] == 0.0 { n2 } else { s[0] * b2 + (1.0 - b2) * n2 };
        let v = if hp.amsgrad {
            s[1] = s[1].max(s[0]);
            s[1]
        } else {
            s[0]
        };
        let (bc1, bc2) = if hp.bias_correction {
            (bias_correction(b1, ctx.step), bias_correction(b2, ctx.step))
        } else {
            (1.0, 1.0)
        };
        let denom = if hp.eps_inside { (v / bc2 + eps).sqrt() } else { v.sqrt() / bc2.sqrt() + eps };
        Ok(Coef {
            sign: T::of(if hp.maximize { -1.0 } else { 1.0 }),
            denom: T::of(denom),
            wd: T::of(hp.weight_decay),
            avg: T::of(if hp.grad_averaging { 1.0 - b1 } else { 1.0 }),
            b1: T::of(b1),
            neg_lr: T::of(-(lr / bc1)),
        })
    }

    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [m, ..] = ch.s;
        let m = &mut m[..n];
        for i in 0..n {
            let u = ((k.sign * g[i]) / k.denom + k.wd * p[i]) * k.avg;
            let mi = m[i] * k.b1 + u;
            m[i] = mi;
            p[i] += k.neg_lr * mi;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build<T: crate::registry::RegistryFloat>(layout: Layout, set: &[(&str, &str)]) -> Box<dyn Optimizer<T>> {
        registry::build_for_test("novograd", layout, set)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-14 * b.abs().max(1e-300)
    }

    /// Defaults (lr 1e-3, β1 0.95, β2 0.98, eps 1e-8), two steps by hand, two tensors.
    #[test]
    fn first_and_second_step_by_hand() {
        let layout = Layout::new().with("a", &[2]).unwrap().with("b", &[1]).unwrap();
        let mut opt = build::<f64>(layout, &[]);
        let (lr, b1, b2, eps) = (1e-3, 0.95, 0.98, 1e-8);
        let mut a = vec![1.0, -2.0];
        let mut b = vec![0.5];
        // ‖g_a‖ = 5, ‖g_b‖ = 2 on step 1.
        let (ga1, gb1) = ([3.0, 4.0], [-2.0]);
        opt.step(&mut [&mut a[..], &mut b[..]], &[&ga1[..], &gb1[..]], None).unwrap();
        let (ma, mb) = ([3.0 / (5.0 + eps), 4.0 / (5.0 + eps)], [-2.0 / (2.0 + eps)]);
        let mut wa = [1.0 - lr * ma[0], -2.0 - lr * ma[1]];
        let mut wb = [0.5 - lr * mb[0]];
        assert!(close(a[0], wa[0]) && close(a[1], wa[1]) && close(b[0], wb[0]), "{a:?} {b:?}");
        let st = opt.state();
        assert_eq!(st.tensors[0].scalars, vec![("exp_avg_sq".to_string(), 25.0)]);
        assert_eq!(st.tensors[1].scalars, vec![("exp_avg_sq".to_string(), 4.0)]);
        // Step 2: ‖g_a‖² = 1, ‖g_b‖² = 9.
        let (ga2, gb2) = ([0.0, 1.0], [3.0]);
        opt.step(&mut [&mut a[..], &mut b[..]], &[&ga2[..], &gb2[..]], None).unwrap();
        let (va, vb): (f64, f64) = (b2 * 25.0 + (1.0 - b2) * 1.0, b2 * 4.0 + (1.0 - b2) * 9.0);
        let (da, db) = (va.sqrt() + eps, vb.sqrt() + eps);
        let ma2 = [b1 * ma[0] + 0.0 / da, b1 * ma[1] + 1.0 / da];
        let mb2 = [b1 * mb[0] + 3.0 / db];
        for i in 0..2 {
            wa[i] -= lr * ma2[i];
        }
        wb[0] -= lr * mb2[0];
        assert!(close(a[0], wa[0]) && close(a[1], wa[1]) && close(b[0], wb[0]), "{a:?} {b:?} vs {wa:?} {wb:?}");
        let st = opt.state();
        assert!(close(st.tensors[0].scalars[0].1, va) && close(st.tensors[1].scalars[0].1, vb));
    }

    #[test]
    fn zero_gradient_first_step_is_finite() {
        let mut opt = build::<f64>(Layout::single("w", 2), &[("weight_decay", "0.1")]);
        let mut p = vec![1.0, -1.0];
        opt.step(&mut [&mut p[..]], &[&[0.0, 0.0][..]], None).unwrap();
        // v stays 0, g/eps = 0: only weight decay moves p (m = wd p).
        assert!(close(p[0], 1.0 - 1e-3 * 0.1) && close(p[1], -1.0 + 1e-3 * 0.1), "{p:?}");
        assert_eq!(opt.state().tensors[0].scalars[0].1, 0.0);
        // The first non-zero gradient initialises v = ‖g‖².
        opt.step(&mut [&mut p[..]], &[&[0.0, 2.0][..]], None).unwrap();
        assert_eq!(opt.state().tensors[0].scalars[0].1, 4.0);
        assert!(p.iter().all(|x| x.is_finite()));
        // Without weight decay a zero gradient does not move anything.
        let mut opt = build::<f64>(Layout::single("w", 2), &[]);
        let mut p = vec![1.0, -1.0];
        opt.step(&mut [&mut p[..]], &[&[0.0, 0.0][..]], None).unwrap();
        assert_eq!(p, vec![1.0, -1.0]);
    }

    #[test]
    fn options() {
        let g = [3.0, 4.0];
        let run = |set: &[(&str, &str)]| {
            let mut opt = build::<f64>(Layout::single("w", 2), set);
            let mut p = vec![1.0, 1.0];
            opt.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
            p
        };
        // grad averaging: the first step is scaled by 1 - β1.
        let p = run(&[("grad_averaging", "true"), ("lr", "1")]);
        assert!(close(1.0 - p[0], 0.05 * 3.0 / (5.0 + 1e-8)));
        // eps inside the square root.
        let p = run(&[("eps_inside", "true"), ("eps", "11"), ("lr", "1")]);
        assert!(close(1.0 - p[1], 4.0 / 6.0));
        // apex bias correction: d = 5/sqrt(1 - β2) + eps, lr/(1 - β1).
        let p = run(&[("bias_correction", "true"), ("lr", "0.01")]);
        let want = 0.01 / 0.05 * 3.0 / (5.0 / 0.02f64.sqrt() + 1e-8);
        assert!((1.0 - p[0] - want).abs() < 1e-15, "{p:?}");
        // maximize moves uphill.
        let p = run(&[("maximize", "true")]);
        assert!(p[0] > 1.0 && p[1] > 1.0);
    }

    #[test]
    fn amsgrad_keeps_the_max() {
        let mut opt = build::<f64>(Layout::single("w", 1), &[("amsgrad", "true"), ("beta2", "0.5")]);
        let mut p = [0.0];
        opt.step(&mut [&mut p[..]], &[&[4.0][..]], None).unwrap();
        opt.step(&mut [&mut p[..]], &[&[0.0][..]], None).unwrap();
        let st = opt.state();
        assert_eq!(st.tensors[0].scalars, vec![("exp_avg_sq".into(), 8.0), ("max_exp_avg_sq".into(), 16.0)]);
    }

    #[test]
    fn f32_agrees_with_f64() {
        for set in [&[][..], &[("grad_averaging", "true"), ("weight_decay", "0.01"), ("amsgrad", "true")][..]] {
            let mut a = build::<f32>(Layout::single("w", 3), set);
            let mut b = build::<f64>(Layout::single("w", 3), set);
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

    #[test]
    fn chunks_and_threads_agree() {
        // Longer than one chunk: the per-tensor norm is summed over chunks in a fixed order.
        let n = crate::engine::CHUNK * 3 + 17;
        let g: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5).collect();
        let mut out = Vec::new();
        for threads in [1, 4] {
            let cfg = OptimConfig::new("novograd").threads(threads);
            let mut opt = registry::build::<f64>(Layout::single("w", n), &cfg).unwrap();
            let mut p = vec![0.1; n];
            for _ in 0..3 {
                opt.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
            }
            out.push(p);
        }
        assert_eq!(out[0], out[1]);
    }
}
