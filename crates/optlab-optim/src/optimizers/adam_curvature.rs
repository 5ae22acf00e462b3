//! Adam whose betas follow the curvature (experimental): per element, the Hessian diagonal entry
//! `g''` sets the decay of both moving averages. Needs the Hessian diagonal as an extra input.
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2), `g''` the Hessian diagonal entry as given
//! (the L2 term's curvature `weight_decay` is not added; `maximize` does not change it: only
//! `|g''|` is used) and `ε_T` the machine epsilon of the element type (`T::EPSILON`: 2^-52 for
//! f64, 2^-23 for f32):
//! - `βk' = βk` if `ε_T < |g''| < 1`, else `βk' = βk^|g''|` (k = 1, 2; a float power)
//! - `m ← β1'·m + (1 − β1')·g'`, `v ← β2'·v + (1 − β2')·g'²`
//! - `p ← p − lr · m / (sqrt(v) + eps)`, with **no bias correction**
//!
//! Edge cases:
//! - `g'' = 0`, and more generally `|g''| ≤ ε_T`: `β' = β^|g''|`, which is `β^0 = 1` for
//!   `g'' = 0` and rounds to 1 for `0 < |g''| ≤ ε_T` whenever `β > e^(−1/4) ≈ 0.78` (the defaults
//!   0.9 and 0.999 included; for smaller `β` it is `1 − O(ε_T)`; `β = 0` gives `0^0 = 1` at
//!   `g'' = 0` but `0` for `g'' ≠ 0`). With `β' = 1` the averages freeze: `m ← 1·m + 0·g'` keeps
//!   `m` and `v` bit for bit whatever the gradient, and the parameter keeps moving by the same
//!   `−lr·m/(sqrt(v) + eps)` as long as the curvature stays that small, ignoring the current
//!   gradient. At the **first** step (`m = v = 0`) that is `0/eps = 0`: a parameter whose first
//!   Hessian entries are 0 does not move at all, and keeps not moving until its `|g''|` exceeds
//!   `ε_T`. β jumps from ≈1 to `β` at `|g''| = ε_T` (discontinuous there) and is continuous at
//!   `|g''| = 1`.
//! - `ε_T` depends on the element type: for `2^-52 < |g''| ≤ 2^-23` (e.g. `1e-10`) f64 uses `β`
//!   while f32 freezes, so f32 and f64 runs differ qualitatively there.
//! - Large `|g''|`: `β' = β^|g''| → 0` (underflowing to exactly 0 in f64 beyond
//!   `|g''| ≈ 745/|ln β|`: about 7.1e3 for 0.9 and 7.4e5 for 0.999; f32: 980 and 1.0e5). Then
//!   `m = g'`, `v = g'²` and the step is `−lr·g'/(|g'| + eps) ≈ −lr·sign(g')`: normalised-gradient
//!   (sign) descent with no memory.
//! - In between (`ε_T < |g''| < 1`, plain Adam's betas without bias correction), the first step is
//!   `−lr·(1 − β1)·g'/(sqrt(1 − β2)·|g'| + eps)`, `≈ −3.16·lr·sign(g')` with the defaults
//!   (Adam's is `−lr·sign(g')`), and the steps approach Adam's as `β^t → 0`.
//! - A zero gradient with `m = v = 0` moves nothing.
//! - A missing Hessian, one of the wrong length, and NaN or infinite entries (unless the
//!   non-finite policy is `unchecked`) are refused by the engine before anything changes.
//!
//! The kernel works in blocks of 256 elements. Where every `|g''|` of a block lies in the middle
//! range, the block runs as Adam without bias correction and no power is computed; otherwise
//! both powers are computed for every element of the block (in loops of their own, which the
//! compiler vectorises and the processor overlaps better than one long loop) and a select keeps
//! `β' = β` exactly in the middle range. Either way each element's arithmetic is the same (a
//! test checks it bit for bit); only the speed depends on the Hessian: a step whose blocks all
//! need the powers costs about three times as much computation. The power is `exp(|g''| ln β)` by the
//! vectorisable [`crate::vmath::pow_ln_f32`]/[`crate::vmath::pow_ln_f64`] (f32: within 2 ulp of
//! the correctly rounded power; f64: within `(|g''| |ln β| + 4)·2^-52` relative of libm's `powf`),
//! not a libm call per element, which kept the loop from vectorising.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};

pub struct AdamCurvature;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdamCurvatureHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adam_curvature",
    summary: "Adam whose per-element betas follow the Hessian diagonal: beta^|h| outside (eps_T, 1) (experimental)",
    reference: "experimental; Adam (Kingma & Ba 2015) with curvature-dependent betas, no bias correction",
    hypers: AdamCurvatureHp::HYPERS,
    conventions: &[
        "beta' = beta if eps_T < |h| < 1 (eps_T: machine epsilon of the element type), else beta^|h|: \
         |h| <= eps_T freezes the averages (beta' = 1), large |h| forgets (beta' -> 0)",
        "no bias correction; m and v as beta m + (1 - beta) g (exact freeze at beta' = 1)",
        "h is the Hessian diagonal as given (weight decay's curvature not added); L2 weight decay",
    ],
    needs_hessian: true,
    parity: Parity::Hand,
    variants: &[],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    b1: T,
    b2: T,
    /// ln of the betas as rounded to `T`, for `β^|g''| = exp(|g''| ln β)`.
    ln_b1: f64,
    ln_b2: f64,
    eps: T,
    neg_lr: T,
}

impl<T: Float> Algorithm<T> for AdamCurvature {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdamCurvature)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")]
    }
    /// Reads `p`, `g`, the Hessian diagonal, `m`, `v`; writes `p`, `m`, `v`.
    fn accesses_per_param(_hp: &Hyper) -> usize {
        8
    }
    fn prepare(&self, hp: &Hyper, _ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdamCurvatureHp::read(hp);
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            b1: T::of(hp.beta1),
            b2: T::of(hp.beta2),
            ln_b1: T::of(hp.beta1).to_f64().ln(),
            ln_b2: T::of(hp.beta2).to_f64().ln(),
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
        let (p, g, h) = (ch.p, &ch.g[..n], &ch.h[..n]);
        let [m, v, ..] = ch.s;
        let (m, v) = (&mut m[..n], &mut v[..n]);
        let (mut t1, mut t2) = ([T::ZERO; BLOCK], [T::ZERO; BLOCK]);
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let p = &mut p[start..end];
            let len = p.len();
            let (g, h, m, v) = (&g[start..end], &h[start..end], &mut m[start..end], &mut v[start..end]);
            // How many |g''| of the block lie outside (ε_T, 1) (a count, so that it vectorises).
            let outside = h.iter().fold(0u32, |c, &x| c + (!mid(x) as u32));
            if outside == 0 {
                for i in 0..len {
                    step_one::<T, S>(k, k.b1, k.b2, &mut p[i], g[i], &mut m[i], &mut v[i]);
                }
            } else {
                // The powers in loops of their own (see the module documentation).
                let (t1, t2) = (&mut t1[..len], &mut t2[..len]);
                for i in 0..len {
                    t1[i] = if mid(h[i]) { k.b1 } else { h[i].abs().vpow_ln(k.ln_b1) };
                }
                for i in 0..len {
                    t2[i] = if mid(h[i]) { k.b2 } else { h[i].abs().vpow_ln(k.ln_b2) };
                }
                for i in 0..len {
                    step_one::<T, S>(k, t1[i], t2[i], &mut p[i], g[i], &mut m[i], &mut v[i]);
                }
            }
            start = end;
        }
    }
}

/// Elements per block of the kernel (f32: 1 KiB per stream).
const BLOCK: usize = 256;

/// Whether `ε_T < |h| < 1`, where the betas are the given ones.
#[inline(always)]
fn mid<T: Float>(h: T) -> bool {
    let a = h.abs();
    (a > T::EPSILON) & (a < T::ONE)
}

/// One element's update with its betas `b1`, `b2`.
#[inline(always)]
fn step_one<T: Float, const S: bool>(k: &Coef<T>, b1: T, b2: T, p: &mut T, g: T, m: &mut T, v: &mut T) {
    let gi = k.prep.get::<S>(g, *p);
    let mi = b1 * *m + (T::ONE - b1) * gi;
    *m = mi;
    let vi = b2 * *v + (T::ONE - b2) * gi * gi;
    *v = vi;
    *p += k.neg_lr * mi / (vi.sqrt() + k.eps);
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build<T: registry::RegistryFloat>(n: usize, set: &[(&str, &str)]) -> Box<dyn Optimizer<T>> {
        let cfg = set.iter().fold(OptimConfig::new("adam_curvature"), |c, (k, v)| c.set(k, v));
        registry::build::<T>(Layout::single("x", n), &cfg).unwrap()
    }

    fn close(a: f64, b: f64, rtol: f64) -> bool {
        (a - b).abs() <= rtol * b.abs().max(1e-300)
    }

    fn step<T: crate::Float>(opt: &mut dyn Optimizer<T>, x: &mut [T], g: &[T], h: &[T]) {
        opt.step(&mut [x], &[g], Some(&[h])).unwrap();
    }

    fn buffers(opt: &dyn Optimizer<f64>) -> (Vec<f64>, Vec<f64>) {
        let st = opt.state();
        (st.tensors[0].buffers[0].1.clone(), st.tensors[0].buffers[1].1.clone())
    }

    /// The kernel skips the powers in blocks where every |h| lies in (ε_T, 1) and computes them
    /// in blocks where one does not: every element must come out as it does alone, bit for bit,
    /// whichever path its block took (f32 and f64; 700 elements: three blocks, two of them mixed).
    #[test]
    fn blocks_with_and_without_powers_agree_element_by_element() {
        fn check<T: registry::RegistryFloat>() {
            let n = 700;
            let h: Vec<T> = (0..n)
                .map(|i| match i {
                    300 => T::of(2.5),
                    310 => T::of(1e-30),
                    650 => T::of(-7.0),
                    _ => T::of(0.2 + (i % 7) as f64 * 0.1),
                })
                .collect();
            let g: Vec<T> = (0..n).map(|i| T::of(((i % 13) as f64 - 6.0) * 0.1)).collect();
            let mut all = build::<T>(n, &[("weight_decay", "0.01")]);
            let mut x: Vec<T> = (0..n).map(|i| T::of(i as f64 * 1e-3)).collect();
            for _ in 0..3 {
                step(all.as_mut(), &mut x, &g, &h);
            }
            for i in [0, 299, 300, 305, 310, 511, 512, 649, 650, 699] {
                let mut one = build::<T>(1, &[("weight_decay", "0.01")]);
                let mut xi = vec![T::of(i as f64 * 1e-3)];
                for _ in 0..3 {
                    step(one.as_mut(), &mut xi, &g[i..i + 1], &h[i..i + 1]);
                }
                assert!(
                    xi[0] == x[i],
                    "{} element {i}: {:?} alone, {:?} in the block",
                    T::NAME,
                    xi[0].to_f64(),
                    x[i].to_f64()
                );
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// Two steps by hand: |h| in the middle range (β), h = 2 (β²), h = -3 (β³), h = 1 (β).
    #[test]
    fn first_two_steps_by_hand() {
        let (lr, eps): (f64, f64) = (1e-3, 1e-8);
        let mut opt = build::<f64>(4, &[]);
        let mut x = vec![0.0; 4];
        let h = [0.5, 2.0, -3.0, 1.0];
        let b1 = [0.9, 0.81, 0.9 * 0.9 * 0.9, 0.9];
        let b2 = [0.999, 0.999 * 0.999, 0.999 * 0.999 * 0.999, 0.999];
        let (g1, g2) = ([1.0, -2.0, 0.5, 4.0], [-1.0, 1.0, 0.25, 3.0]);
        step(opt.as_mut(), &mut x, &g1, &h);
        let (mut m, mut v, mut want) = ([0.0; 4], [0.0; 4], [0.0; 4]);
        for i in 0..4 {
            m[i] = (1.0 - b1[i]) * g1[i];
            v[i] = (1.0 - b2[i]) * g1[i] * g1[i];
            want[i] -= lr * m[i] / (v[i].sqrt() + eps);
        }
        for i in 0..4 {
            assert!(close(x[i], want[i], 1e-13), "step 1: {x:?} vs {want:?}");
        }
        // Middle range, first step: -lr (1 - β1)/sqrt(1 - β2) sign(g) ≈ -3.16 lr.
        assert!(close(x[0], -1e-3 * 0.1 / (0.001f64.sqrt() + 1e-8), 1e-12), "{x:?}");
        step(opt.as_mut(), &mut x, &g2, &h);
        for i in 0..4 {
            m[i] = b1[i] * m[i] + (1.0 - b1[i]) * g2[i];
            v[i] = b2[i] * v[i] + (1.0 - b2[i]) * g2[i] * g2[i];
            want[i] -= lr * m[i] / (v[i].sqrt() + eps);
        }
        for i in 0..4 {
            assert!(close(x[i], want[i], 1e-12), "step 2: {x:?} vs {want:?}");
        }
    }

    /// g'' = 0: nothing moves at the first step; later the averages freeze and the parameter
    /// coasts by the same amount whatever the gradient.
    #[test]
    fn zero_curvature_freezes_the_averages() {
        let mut opt = build::<f64>(2, &[]);
        let mut x = vec![1.0, -1.0];
        step(opt.as_mut(), &mut x, &[3.0, -2.0], &[0.0, 0.0]);
        assert_eq!(x, vec![1.0, -1.0], "first step with g'' = 0 does not move");
        assert_eq!(buffers(opt.as_ref()), (vec![0.0, 0.0], vec![0.0, 0.0]));
        step(opt.as_mut(), &mut x, &[3.0, -2.0], &[0.5, 0.5]);
        let (m, v) = buffers(opt.as_ref());
        let coast = [-1e-3 * m[0] / (v[0].sqrt() + 1e-8), -1e-3 * m[1] / (v[1].sqrt() + 1e-8)];
        for (s, g) in [(0, [-5.0, 7.0]), (1, [0.0, 0.0]), (2, [1e3, 1e-3])] {
            let before = x.clone();
            step(opt.as_mut(), &mut x, &g, &[0.0, -0.0]);
            assert_eq!(buffers(opt.as_ref()), (m.clone(), v.clone()), "step {s}: frozen");
            for i in 0..2 {
                assert!(close(x[i] - before[i], coast[i], 1e-10), "step {s}: same move {x:?} {before:?} {coast:?}");
            }
        }
    }

    /// |g''| ≤ ε_T rounds β^|g''| to 1 (frozen); just above ε_T the base betas are used.
    #[test]
    fn tiny_curvature() {
        let e = f64::EPSILON;
        for h in [e, e / 2.0, -e, 1e-300, f64::MIN_POSITIVE] {
            let mut opt = build::<f64>(1, &[]);
            let mut x = vec![1.0];
            step(opt.as_mut(), &mut x, &[1.0], &[0.5]);
            let frozen = buffers(opt.as_ref());
            let x1 = x[0];
            step(opt.as_mut(), &mut x, &[-4.0], &[h]);
            assert_eq!(buffers(opt.as_ref()), frozen, "h = {h:e}");
            assert!(close(x[0] - x1, x1 - 1.0, 1e-10), "h = {h:e}: moves as the step before");
        }
        // 2ε: middle range, β itself.
        let mut a = build::<f64>(1, &[]);
        let mut b = build::<f64>(1, &[]);
        let (mut xa, mut xb) = (vec![1.0], vec![1.0]);
        step(a.as_mut(), &mut xa, &[1.0], &[2.0 * e]);
        step(b.as_mut(), &mut xb, &[1.0], &[0.5]);
        assert_eq!(xa, xb);
        // f32: the threshold is f32's epsilon; 1e-10 freezes in f32, not in f64.
        let mut a = build::<f32>(1, &[]);
        let mut xa = vec![1.0f32];
        a.step(&mut [&mut xa[..]], &[&[1.0f32][..]], Some(&[&[1e-10f32][..]])).unwrap();
        assert_eq!(xa, vec![1.0f32], "f32: 1e-10 <= 2^-23 freezes");
        let mut b = build::<f64>(1, &[]);
        let mut xb = vec![1.0];
        step(b.as_mut(), &mut xb, &[1.0], &[1e-10]);
        assert!(close(xb[0], 1.0 - 1e-3 * 0.1 / (0.001f64.sqrt() + 1e-8), 1e-12), "f64: 1e-10 uses beta: {xb:?}");
    }

    /// Huge |g''|: β' underflows to 0, m = g, v = g², the step is -lr g/(|g| + eps).
    #[test]
    fn huge_curvature_is_sign_descent() {
        let mut opt = build::<f64>(2, &[]);
        let mut x = vec![0.0, 0.0];
        step(opt.as_mut(), &mut x, &[10.0, -0.5], &[1e6, -1e7]);
        let x1 = x.clone();
        assert!(close(x1[0], -1e-3 * 10.0 / (10.0 + 1e-8), 1e-15) && close(x1[1], 1e-3 * 0.5 / (0.5 + 1e-8), 1e-15));
        step(opt.as_mut(), &mut x, &[3.0, 0.25], &[1e6, -1e7]);
        assert_eq!(buffers(opt.as_ref()), (vec![3.0, 0.25], vec![9.0, 0.0625]), "no memory");
        let d = [x[0] - x1[0], x[1] - x1[1]];
        assert!(
            close(d[0], -1e-3 * 3.0 / (3.0 + 1e-8), 1e-12) && close(d[1], -1e-3 * 0.25 / (0.25 + 1e-8), 1e-12),
            "{d:?}"
        );
    }

    #[test]
    fn missing_or_bad_hessian_is_refused() {
        let mut opt = build::<f64>(3, &[]);
        let mut x = vec![1.0, 2.0, 3.0];
        let g = [1.0, 1.0, 1.0];
        let e = opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap_err().to_string();
        assert!(e.contains("`adam_curvature`") && e.contains("Hessian diagonal") && e.contains("`x`"), "{e}");
        let e = opt.step(&mut [&mut x[..]], &[&g[..]], Some(&[&[1.0, 1.0][..]])).unwrap_err().to_string();
        assert!(e.contains("`x`") && e.contains("Hessian diagonal has 2 elements, expected 3"), "{e}");
        let e = opt.step(&mut [&mut x[..]], &[&g[..]], Some(&[&[1.0, f64::NAN, 1.0][..]])).unwrap_err().to_string();
        assert!(e.contains("Hessian") && e.contains("NaN") && e.contains("element 1"), "{e}");
        assert_eq!(x, vec![1.0, 2.0, 3.0]);
        assert_eq!(opt.steps_taken(), 0);
        assert_eq!(buffers(opt.as_ref()), (vec![0.0; 3], vec![0.0; 3]));
    }

    #[test]
    fn zero_gradient_does_not_move() {
        let mut opt = build::<f64>(3, &[]);
        let mut x = vec![1.0, 2.0, 3.0];
        step(opt.as_mut(), &mut x, &[0.0; 3], &[0.5, 2.0, 0.0]);
        assert_eq!(x, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn f32_agrees_with_f64() {
        let set = [("lr", "0.01")];
        let (mut a, mut b) = (build::<f64>(4, &set), build::<f32>(4, &set));
        let mut x = vec![1.0, -2.0, 0.5, 3.0];
        let mut y: Vec<f32> = x.iter().map(|&z| z as f32).collect();
        let h = [0.5, 3.0, 0.0, -20.0];
        let hf = h.map(|z| z as f32);
        for s in 0..8 {
            let g: Vec<f64> = x.iter().enumerate().map(|(i, xi)| xi + 0.3 * (i + s) as f64).collect();
            let gf: Vec<f32> = g.iter().map(|&z| z as f32).collect();
            a.step(&mut [&mut x[..]], &[&g[..]], Some(&[&h[..]])).unwrap();
            b.step(&mut [&mut y[..]], &[&gf[..]], Some(&[&hf[..]])).unwrap();
            for i in 0..4 {
                assert!((x[i] - y[i] as f64).abs() < 1e-5, "step {s}: {x:?} vs {y:?}");
            }
        }
    }

    #[test]
    fn resume_is_exact() {
        let run = |opt: &mut dyn Optimizer<f64>, x: &mut Vec<f64>, from: usize, n: usize| {
            for s in from..from + n {
                let g: Vec<f64> = x.iter().map(|xi| 2.0 * xi + 0.5 * (s as f64).sin()).collect();
                let h: Vec<f64> = (0..x.len()).map(|i| [0.5, 2.0, 0.0, 1e-20][(i + s) % 4]).collect();
                opt.step(&mut [&mut x[..]], &[&g[..]], Some(&[&h[..]])).unwrap();
            }
        };
        let set = [("weight_decay", "0.01")];
        let mut a = build::<f64>(3, &set);
        let mut xa = vec![1.0, 0.5, -2.0];
        run(a.as_mut(), &mut xa, 0, 30);
        let mut b = build::<f64>(3, &set);
        let mut xb = vec![1.0, 0.5, -2.0];
        run(b.as_mut(), &mut xb, 0, 15);
        let mut c = build::<f64>(3, &set);
        c.load_state(&b.state()).unwrap();
        run(c.as_mut(), &mut xb, 15, 15);
        assert_eq!(xa, xb);
        assert_eq!(a.state(), c.state());
    }
}
