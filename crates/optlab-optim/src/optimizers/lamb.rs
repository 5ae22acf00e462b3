//! LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning: Training BERT in 76
//! minutes"), as pytorch_optimizer's `Lamb` (4.1.0, its single-tensor path `update`).
//!
//! Per element, with `g' = ±g` (`maximize`), `a = 1 − β1` (`grad_averaging`, default) or 1:
//! - `m ← β1·m + a·g'`; `v ← β2·v + (1 − β2)·g'²`
//! - decoupled decay (`weight_decouple`, default): `p ← p·(1 − lr·wd)` (`fixed_decay`: `1 − wd`)
//! - `u = m/(√v + eps)`, plus `wd·p` when the decay is not decoupled (L2 on the update, not in the
//!   moments, as pytorch_optimizer)
//!
//! and per tensor, from a pre-pass over the (decayed) parameters and `u`:
//! - `w = min(‖p‖, clamp)`, `r = ‖u‖`; trust ratio `τ = w/(r + eps)`, or 1 when `w = 0` or `r = 0`
//!   (or always 1 with `adam=true`)
//! - `p ← p − s·τ·u` with `s = lr/(1 − β1^t)` (pytorch_optimizer), `s = lr` with `adam_debias`
//!
//! `bias_correction=true` is the paper's Algorithm 2 instead: `u = m̂/(√v̂ + eps)` with
//! `m̂ = m/(1 − β1^t)`, `v̂ = v/(1 − β2^t)` and `s = lr`.
//!
//! The pre-pass updates `m` and `v` and sums `‖p‖²` and `‖u‖²` (with fused multiply-adds, as
//! torch's `linalg.norm`, in 8 fixed lanes; for f32 a multiply and an add, the same bits, so that
//! it vectorises); the update pass recomputes `u`
//! from them (the same operations, so the same values) and moves `p`.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, MAX_ACC};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

use super::common::*;

pub struct Lamb;

crate::hypers! {
    /// LAMB's hyperparameters (pytorch_optimizer's names, betas split; `clamp` is its class attribute).
    pub struct LambHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-6, "added to the root of v and to the update norm of the trust ratio";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "weight decay: decoupled (default) or L2 on the update";
        weight_decouple: bool [] = true, "decoupled decay p <- p (1 - lr wd) (AdamW style); false: wd p added to the update (Adam style L2)";
        fixed_decay: bool [] = false, "decoupled decay not scaled by lr: p <- p (1 - wd)";
        grad_averaging: bool [] = true, "m <- beta1 m + (1 - beta1) g; false: m <- beta1 m + g";
        adam: bool [] = false, "trust ratio 1 (Adam with LAMB's other conventions)";
        adam_debias: bool [] = false, "step size lr instead of lr / (1 - beta1^t)";
        bias_correction: bool [] = false, "the paper's update m^/(sqrt(v^) + eps) with both moments bias-corrected, step size lr";
        clamp: f64 [Kind::POS] = 10.0, "the parameter norm of the trust ratio is clamped to at most this (the paper's phi)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "lamb",
    summary: "LAMB: Adam's update scaled per tensor by the trust ratio ||p|| / ||update||",
    reference: "You et al. 2020 (Algorithm 2); pytorch_optimizer Lamb",
    hypers: LambHp::HYPERS,
    conventions: &[
        "trust ratio min(||p||, clamp) / (||u|| + eps), 1 when either norm is 0 (pytorch_optimizer, clamp 10); \
         the paper's phi is a clamp of ||p|| without eps in the ratio",
        "bias correction: pytorch_optimizer divides the step size by 1 - beta1^t and leaves v uncorrected (default); \
         adam_debias=true drops the division; bias_correction=true is the paper's m^/(sqrt(v^) + eps)",
        "weight decay decoupled p (1 - lr wd) before the trust ratio (default, AdamW style; fixed_decay: 1 - wd); \
         weight_decouple=false adds wd p to the update (the paper's), never to the moments",
        "grad_averaging (default): m <- beta1 m + (1 - beta1) g; off: m <- beta1 m + g",
        "pytorch_optimizer's rectify, degenerated_to_sgd, n_sma_threshold and adanorm are not offered; its \
         pre_norm/max_grad_norm is optlab's clip_norm (the same min(1, max / (||g|| + 1e-6)) at eps 1e-6)",
        "the update divides m by sqrt(v) + eps (pytorch_optimizer's single-tensor path; its foreach path \
         multiplies by the reciprocal, one rounding apart)",
    ],
    needs_hessian: false,
    parity: Parity::Reference("pytorch_optimizer"),
    variants: &[
        Variant::tested("l2", &[("weight_decay", "0.01"), ("weight_decouple", "false")]),
        Variant::tested("paper", &[("bias_correction", "true"), ("grad_averaging", "true")]),
    ],
};

/// Per-element coefficients shared by the pre-pass and the update.
#[derive(Clone, Copy)]
pub struct Elem<T> {
    sign: T,
    b1: T,
    avg: T,
    b2: T,
    omb2: T,
    /// Decoupled decay factor (1 without).
    decay: T,
    /// L2 coefficient on the update (0 when decoupled).
    l2: T,
    /// `√(1 − β2^t)` and `1 − β1^t` with `bias_correction`, else 1.
    bc2_sqrt: T,
    bc1: T,
    eps: T,
}

impl<T: Float> Elem<T> {
    fn new(hp: &LambHp, step: u64) -> Self {
        let wd = hp.weight_decay;
        let decay = if !hp.weight_decouple || wd == 0.0 {
            1.0
        } else {
            1.0 - wd * if hp.fixed_decay { 1.0 } else { hp.lr }
        };
        let (bc1, bc2) = if hp.bias_correction {
            (bias_correction(hp.beta1, step), bias_correction(hp.beta2, step))
        } else {
            (1.0, 1.0)
        };
        Elem {
            sign: T::of(if hp.maximize { -1.0 } else { 1.0 }),
            b1: T::of(hp.beta1),
            avg: T::of(if hp.grad_averaging { 1.0 - hp.beta1 } else { 1.0 }),
            b2: T::of(hp.beta2),
            omb2: T::of(1.0 - hp.beta2),
            decay: T::of(decay),
            l2: T::of(if hp.weight_decouple { 0.0 } else { wd }),
            bc2_sqrt: T::of(bc2.sqrt()),
            bc1: T::of(bc1),
            eps: T::of(hp.eps),
        }
    }

    /// The update direction from the (decayed) parameter and the new moments. `BC` is
    /// `bias_correction`: without it the divisions by `1 − β1^t` and `√(1 − β2^t)` are by 1,
    /// which is exact, so they are left out (the same bits, two divisions fewer per element).
    #[inline(always)]
    fn dir<const BC: bool>(&self, q: T, m: T, v: T) -> T {
        if BC {
            (m / self.bc1) / (v.sqrt() / self.bc2_sqrt + self.eps) + self.l2 * q
        } else {
            m / (v.sqrt() + self.eps) + self.l2 * q
        }
    }
}

#[derive(Clone, Copy)]
pub struct Coef<T> {
    e: Elem<T>,
    /// `−s·τ`
    alpha: T,
    /// `bias_correction`.
    bc: bool,
}

/// Lanes of the pre-pass sums (fixed, so the sums do not depend on the instruction set).
const L: usize = 8;

/// The pre-pass over one chunk: the new moments, and `(Σ q², Σ u²)` of the decayed parameter
/// `q` and the update direction `u`. Element `i` goes to lane `i mod L` (counted within pieces
/// of 256 elements, which chunks are multiples of) and the lanes are summed in order, so the
/// sums do not depend on the instruction set.
#[inline(always)]
fn pre_pass<T: Float, const BC: bool>(e: &Elem<T>, ch: Chunk<'_, T>) -> (f64, f64) {
    let n = ch.p.len();
    let (p, g) = (&ch.p[..n], &ch.g[..n]);
    let [m, v, ..] = ch.s;
    let (m, v) = (&mut m[..n], &mut v[..n]);
    let (mut wp, mut wu) = ([0.0f64; L], [0.0f64; L]);
    let lane = |p: T, g: T, m: &mut T, v: &mut T| -> (T, T) {
        let gi = e.sign * g;
        let mi = *m * e.b1 + e.avg * gi;
        *m = mi;
        let vi = *v * e.b2 + e.omb2 * gi * gi;
        *v = vi;
        let q = p * e.decay;
        (q, e.dir::<BC>(q, mi, vi))
    };
    // Pieces of SUB elements: the element work of a piece as one element-wise loop (into `q`
    // and `u`), then their squares into the f64 lanes (element `i` to lane `i mod L`), so that
    // both loops vectorise.
    const SUB: usize = 256;
    let (mut qs, mut us) = ([T::ZERO; SUB], [T::ZERO; SUB]);
    let mut at = 0;
    while at < n {
        let len = SUB.min(n - at);
        let (q, u) = (&mut qs[..len], &mut us[..len]);
        let it = p[at..at + len].iter().zip(&g[at..at + len]).zip(m[at..at + len].iter_mut()).zip(v[at..at + len].iter_mut());
        for ((((&pi, &gi), mi), vi), (qi, ui)) in it.zip(q.iter_mut().zip(u.iter_mut())) {
            (*qi, *ui) = lane(pi, gi, mi, vi);
        }
        add_lanes(q, &mut wp);
        add_lanes(u, &mut wu);
        at += len;
    }
    (wp.iter().sum::<f64>(), wu.iter().sum::<f64>())
}

/// Adds the squares of `xs` (by [`add_sq`]) to the lanes: element `i` to lane `i mod L`.
#[inline(always)]
fn add_lanes<T: Float>(xs: &[T], acc: &mut [f64; L]) {
    let mut it = xs.chunks_exact(L);
    for c in &mut it {
        let c: &[T; L] = c.try_into().unwrap();
        for k in 0..L {
            acc[k] = add_sq(c[k], acc[k]);
        }
    }
    for (k, &x) in it.remainder().iter().enumerate() {
        acc[k] = add_sq(x, acc[k]);
    }
}

#[inline(always)]
fn update_pass<T: Float, const BC: bool>(k: &Coef<T>, p: &mut [T], m: &[T], v: &[T]) {
    let n = p.len();
    let (m, v) = (&m[..n], &v[..n]);
    for i in 0..n {
        let q = p[i] * k.e.decay;
        p[i] = q + k.alpha * k.e.dir::<BC>(q, m[i], v[i]);
    }
}

impl<T: Float> Algorithm<T> for Lamb {
    type Coef = Coef<T>;
    const REDUCE: usize = 2;

    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Lamb)
    }
    fn validate(hp: &Hyper) -> Result<()> {
        let hp = LambHp::read(hp);
        if hp.bias_correction && hp.adam_debias {
            return Err(OptimError::invalid(
                "lamb",
                "adam_debias",
                "true (with bias_correction=true)",
                "bias_correction=true already uses step size lr; set one of the two",
            ));
        }
        Ok(())
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")]
    }
    /// Pre-pass reads `p, g, m, v` and writes `m, v`; the update reads `p, m, v` and writes `p`.
    fn accesses_per_param(_hp: &Hyper) -> usize {
        10
    }
    #[inline(always)]
    fn reduce(&self, hp: &Hyper, step: u64, ch: Chunk<'_, T>, acc: &mut [f64; MAX_ACC]) {
        let hp = LambHp::read(hp);
        let e = Elem::<T>::new(&hp, step);
        let (wp, wu) = if hp.bias_correction { pre_pass::<T, true>(&e, ch) } else { pre_pass::<T, false>(&e, ch) };
        acc[0] += wp;
        acc[1] += wu;
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = LambHp::read(hp);
        let w = ctx.acc[0].sqrt().min(hp.clamp);
        let r = ctx.acc[1].sqrt();
        let trust = if hp.adam || w == 0.0 || r == 0.0 { 1.0 } else { w / (r + hp.eps) };
        let s = if hp.bias_correction || hp.adam_debias { hp.lr } else { hp.lr / bias_correction(hp.beta1, ctx.step) };
        Ok(Coef { e: Elem::new(&hp, ctx.step), alpha: T::of(-s * trust), bc: hp.bias_correction })
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let p = ch.p;
        let [m, v, ..] = ch.s;
        let (m, v) = (&m[..n], &v[..n]);
        if k.bc {
            update_pass::<T, true>(k, p, m, v)
        } else {
            update_pass::<T, false>(k, p, m, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig};

    /// One step by hand on two tensors: each gets its own trust ratio; the clamp caps the
    /// parameter norm; a zero tensor gets trust 1.
    #[test]
    fn one_step_by_hand_with_per_tensor_trust_ratios() {
        let layout = Layout::new().with("a", &[2]).unwrap().with("b", &[1]).unwrap().with("z", &[1]).unwrap();
        let (lr, b1, b2, eps, wd) = (0.1, 0.9, 0.99, 1e-6, 0.5);
        let cfg = OptimConfig::new("lamb")
            .set("lr", lr)
            .set("beta1", b1)
            .set("beta2", b2)
            .set("weight_decay", wd)
            .set("clamp", 2.0);
        let mut o = registry::build::<f64>(layout, &cfg).unwrap();
        let (mut a, mut b, mut z) = (vec![3.0, 4.0], vec![-1.0], vec![0.0]);
        let (ga, gb, gz) = ([1.0, -2.0], [0.5], [3.0]);
        o.step(&mut [&mut a[..], &mut b[..], &mut z[..]], &[&ga[..], &gb[..], &gz[..]], None).unwrap();
        let d = 1.0 - lr * wd;
        let s = lr / (1.0 - b1);
        let step = |p: &[f64], g: &[f64]| -> Vec<f64> {
            let q: Vec<f64> = p.iter().map(|x| x * d).collect();
            let u: Vec<f64> = g
                .iter()
                .map(|g| {
                    let (m, v) = ((1.0 - b1) * g, (1.0 - b2) * g * g);
                    m / (v.sqrt() + eps)
                })
                .collect();
            let w = q.iter().map(|x| x * x).sum::<f64>().sqrt().min(2.0);
            let r = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            let t = if w == 0.0 || r == 0.0 { 1.0 } else { w / (r + eps) };
            q.iter().zip(&u).map(|(q, u)| q + -s * t * u).collect()
        };
        let (wa, wb, wz) = (step(&[3.0, 4.0], &ga), step(&[-1.0], &gb), step(&[0.0], &gz));
        for (x, y) in a.iter().chain(&b).chain(&z).zip(wa.iter().chain(&wb).chain(&wz)) {
            assert!((x - y).abs() <= 1e-15 * y.abs().max(1.0), "{x} vs {y}");
        }
        // The zero tensor moved by the plain (trust 1) step: -s u = -s (1 - b1) g / (sqrt(1 - b2) |g| + eps).
        assert!((z[0] - (-s * 0.1 * 3.0 / ((0.01f64 * 9.0).sqrt() + eps))).abs() < 1e-12);
        // The clamp applied to `a` (|p| = 5 d > 2).
        assert!(5.0 * d > 2.0);
    }

    #[test]
    fn bias_correction_and_adam_debias_together_are_refused() {
        let cfg = OptimConfig::new("lamb").set("bias_correction", true).set("adam_debias", true);
        let e = registry::build::<f64>(Layout::single("x", 2), &cfg).err().expect("refused").to_string();
        assert!(e.contains("adam_debias") && e.contains("bias_correction"), "{e}");
    }

    /// The paper's form (both moments corrected, step lr): the first step is lr times the trust
    /// ratio times sign(g) up to eps, for any beta.
    #[test]
    fn paper_form_first_step() {
        let cfg = OptimConfig::new("lamb").set("lr", 0.1).set("bias_correction", true).set("beta1", 0.5);
        let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
        let mut x = vec![3.0, 4.0];
        o.step(&mut [&mut x[..]], &[&[2.0, -0.5][..]], None).unwrap();
        // u = (1, -1) up to eps, ||u|| = sqrt 2, ||p|| = 5: p - 0.1 * 5/sqrt2 * u.
        let t = 5.0 / 2f64.sqrt();
        assert!((x[0] - (3.0 - 0.1 * t)).abs() < 1e-6, "{x:?}");
        assert!((x[1] - (4.0 + 0.1 * t)).abs() < 1e-6, "{x:?}");
    }
}
