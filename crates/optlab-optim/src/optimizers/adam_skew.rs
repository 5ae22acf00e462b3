//! Adam plus a third raw moment in the denominator (experimental).
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2):
//! - `s ← lerp(s, g', 1 − β1)`, `r ← β2·r + (1 − β2)·g'²`, `q ← β3·q + (1 − β3)·g'³`
//! - `ŝ = s/(1 − β1^t)`, `r̂ = sqrt(r)/sqrt(1 − β2^t)`, `q̂ = cbrt(q)/cbrt(1 − β3^t)` (the real,
//!   sign-keeping cube root: `cbrt(−8) = −2`, computed by the vectorisable
//!   [`crate::vmath::cbrt_f32`]/[`crate::vmath::cbrt_f64`], within 1–2 ulp of libm's); with
//!   `abs_third=true`, `|q̂|` replaces `q̂`
//! - `p ← p − lr · ŝ / (r̂ + q̂ + eps)`, computed as `p − c_s·s/(sqrt(r) + c_q·cbrt(q) + c_e)`
//!   with `c_s = lr·sqrt(1 − β2^t)/(1 − β1^t)`, `c_q = sqrt(1 − β2^t)/cbrt(1 − β3^t)` and
//!   `c_e = eps·sqrt(1 − β2^t)` (rounded once each per step): the same quantity with the
//!   denominator multiplied through by `sqrt(1 − β2^t)`, which saves two divisions per element.
//!   eps is thus added to the bias-corrected denominator, as in torch's Adam; only the rounding
//!   differs (by a few ulp) from evaluating the formula as written.
//!
//! `beta3` defaults to 0.999, the same as `beta2`: the two denominator terms then average the
//! same window of gradients with the same weights (and the same bias-correction regime), so they
//! are comparable in scale and noise; a shorter window would make `q̂`, the term that can change
//! sign, the noisier one. (With `β2 = β3` the bias-corrected weights are identical, which is also
//! the case the analysis below is exact for.)
//!
//! # The denominator can vanish or turn negative (`abs_third=false`)
//!
//! `r̂ + q̂ ≥ 0` does **not** hold. With `β2 = β3`, `r̂ = M2` and `|q̂| ≤ M3` for the power means
//! `Mk = (Σ w_i |g_i|^k)^(1/k)` under the same EMA weights `w_i` (summing to 1 after bias
//! correction); the power-mean inequality gives `M3 ≥ M2`, i.e. it bounds `|q̂|` from above by
//! something *larger* than `r̂`, not by `r̂`. It yields `|q̂| ≤ r̂` when `|g|` is the same at
//! every step (`M2 = M3`), the sum being then 0 exactly when all those gradients are negative;
//! in general nothing keeps `q̂ ≥ −r̂`. When all past gradients are ≥ 0, `q̂ ≥ 0` and the sum is
//! ≥ 0.
//! - First step (any betas): in exact arithmetic `r̂ = |g'|` and `q̂ = g'`, so
//!   `r̂ + q̂ = |g'| + g'`: twice Adam's denominator (a half-size step `−lr/2·sign(g')`) for
//!   `g' > 0`, and **0** for `g' < 0`. The same holds at every step for a gradient that has been
//!   the same negative constant throughout. Computed, the 0 is the rounding residual of the
//!   square root, cube root and bias corrections: a few ulps of `|g'|`, of either sign (exactly 0
//!   for `g' = −1` and `−0.5` with the default betas, which a test checks), and the denominator
//!   is `eps + residual`. While the residual is far below eps
//!   (f64: `|g'| ≲ 1e5`, within 0.3%) the step is `≈ +lr·|g'|/eps`, downhill but `1e5·|g'|` with
//!   the defaults (`+1e5` for `g' = −1`). Beyond that (f64 from `|g'| ≈ 1e8`; f32 already from
//!   `|g'| ≈ 0.1`, f32's ulp of 1 being 1.2e-7 > eps) the residual decides: the step is huge and
//!   of either sign (f32, `|g'|` from 1e-3 to 1e9: steps of 1e2 to 1e14, 0.5% of them uphill;
//!   f64: uphill from `|g'| ≈ 8.5e7`).
//! - Sign flip (β2 = β3 = 0.999, β1 = 0.9): gradients `−1` then `0`. At step 2
//!   `ŝ = −0.09/0.19 = −0.473684`, `r̂ = (0.000999/0.001999)^(1/2) = 0.706930`,
//!   `q̂ = −(0.000999/0.001999)^(1/3) = −0.793568`, `r̂ + q̂ = −0.086638`: the step is
//!   `−lr·ŝ/(r̂ + q̂ + eps) = −5.467e-3` (lr = 1e-3), i.e. 5.5 lr *uphill* (the averaged gradient is
//!   negative, descent would increase `p`). In general a weight `w` on one past gradient `−a` and
//!   zeros elsewhere gives `r̂ + q̂ = a(w^(1/2) − w^(1/3)) < 0` for every `0 < w < 1`, and
//!   `−q̂/r̂ = w^(−1/6)` is unbounded as `w → 0`.
//! - Between these, `r̂ + q̂` passes through `−eps`, where the denominator is 0: the step is then
//!   ±inf (or NaN for `ŝ = 0`), and huge near it.
//!
//! With `abs_third=true` the denominator is `r̂ + |q̂| + eps ≥ r̂ + eps > 0`: never a sign flip,
//! and every step is at most the Adam step with the same `ŝ` and `r̂` (first step
//! `−lr/2·sign(g')` for either sign).
//!
//! A zero gradient moves nothing (`ŝ = 0`, `0/eps = 0`). `g'³` overflows f32 for
//! `|g'| > 6.98e12` (f64: `5.6e102`), earlier than Adam's `g'²`; the parameter then becomes NaN.
//!
//! # The authors' code (`authors=true`)
//!
//! The study's code (github.com/Shubh-Goyal-07/DLProject, `experiments/optimizers/customAdam3.py`,
//! commit de8d89f) computes `q̂` as `(q/(1 − β3^t))**(1/3)` in torch, which is NaN for a negative
//! third moment, and then overwrites NaN with `1e-9`. Its third term is therefore
//! `cbrt(q̂)` where `q̂ ≥ 0` and `1e-9` where `q̂ < 0`: never negative, so the denominator is at
//! least `r̂ + eps` and the signed blow-up above cannot happen. `authors=true` computes that:
//! `t = q < 0 ? 1e-9 : cbrt(q)/cbrt(1 − β3^t)` (kernel: `t·sqrt(1 − β2^t)` as above). The code's
//! defaults are `beta1=0.99, beta2=0.999, beta3=0.9999, eps=1e-3` (set them; optlab's defaults
//! stay Adam's). `authors=true` with `abs_third=true` is refused (two different third terms).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct AdamSkew;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdamSkewHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        beta3: f64 [Kind::UNIT_OPEN] = 0.999, "decay of the third-moment average (default = beta2)";
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
        abs_third: bool [] = false,
            "use |q_hat| in the denominator (false: signed q_hat, which can make it vanish or negative)";
        authors: bool [] = false,
            "the authors' code (DLProject customAdam3.py): a negative q_hat counts as 1e-9 (torch's NaN of \
             q**(1/3), replaced), so the third term is never negative";
    }
}

static SPEC: Spec = Spec {
    name: "adam_skew",
    summary: "Adam with the cube root of a third raw moment added to the denominator (experimental)",
    reference: "experimental; Adam (Kingma & Ba 2015) with a third-moment term",
    hypers: AdamSkewHp::HYPERS,
    conventions: &[
        "denominator sqrt(r_hat) + cbrt(q_hat) + eps with the real, sign-keeping cube root; it can be 0 or \
         negative (e.g. exactly eps at the first step for a negative gradient) unless abs_third=true",
        "adam's arithmetic otherwise: lerp for s, bias corrections 1 - beta^t as float powers, L2 weight decay",
        "evaluated with the denominator multiplied through by sqrt(1 - beta2^t) (eps inside the bias correction, \
         as in adam; two divisions per element fewer)",
        "authors=true: the study's code, where a negative q_hat's torch cube root is NaN and is replaced by 1e-9 \
         (its defaults: beta1=0.99, beta2=0.999, beta3=0.9999, eps=1e-3)",
    ],
    needs_hessian: false,
    parity: Parity::Hand,
    variants: &[Variant::tested("authors", &[("authors", "true")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    m: Lerp<T>,
    b2: T,
    omb2: T,
    b3: T,
    omb3: T,
    /// `sqrt(1 − β2^t)/cbrt(1 − β3^t)`: the kernel works with the denominator multiplied by
    /// `sqrt(1 − β2^t)`, which leaves two divisions per element out.
    c23: T,
    /// `eps·sqrt(1 − β2^t)`
    eps: T,
    /// `−lr·sqrt(1 − β2^t)/(1 − β1^t)`
    neg_step: T,
    abs_third: bool,
    /// `Some(1e-9·sqrt(1 − β2^t))` with `authors=true`: the third term where `q < 0`.
    authors_floor: Option<T>,
}

const SIGNED: u8 = 0;
const ABS: u8 = 1;
const AUTHORS: u8 = 2;

/// The third term the authors' code uses where the third moment is negative (its NaN replacement).
const AUTHORS_NAN_VALUE: f64 = 1e-9;

fn refuse_both(hp: &AdamSkewHp) -> Result<()> {
    if hp.authors && hp.abs_third {
        return Err(OptimError::invalid(
            "adam_skew",
            "authors",
            "true",
            "false while abs_third=true: authors=true and abs_third=true are two different third terms; set one",
        ));
    }
    Ok(())
}

/// Elements per block of the kernel (f32: 1 KiB per stream, all in L1 between its loops).
const BLOCK: usize = 256;

/// Three short loops per block instead of one long one: the cube root and the division make a
/// dependency chain of about a hundred cycles per element, and one loop body that long leaves the
/// out-of-order window room for few vectors of elements at once. Split, the loops' bodies are
/// shorter and more elements overlap: 37 cycles per 8 f32 elements in L2 instead of 45 (before
/// the split and the division-free cube root: 55–64). The arithmetic per element is the same as in
/// a single loop.
#[inline(always)]
fn kernel<T: Float, const S: bool, const MODE: u8>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [s, r, q, _] = ch.s;
    let (s, r, q) = (&mut s[..n], &mut r[..n], &mut q[..n]);
    let mut t = [T::ZERO; BLOCK];
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let p = &mut p[start..end];
        let m = p.len();
        let (g, s, r, q, t) = (&g[start..end], &mut s[start..end], &mut r[start..end], &mut q[start..end], &mut t[..m]);
        for i in 0..m {
            let gi = k.prep.get::<S>(g[i], p[i]);
            s[i] = k.m.get::<S>(s[i], gi);
            let g2 = gi * gi;
            r[i] = r[i] * k.b2 + k.omb2 * g2;
            let qi = q[i] * k.b3 + k.omb3 * (g2 * gi);
            q[i] = qi;
        }
        for i in 0..m {
            let c = q[i].vcbrt();
            t[i] = match MODE {
                SIGNED => c * k.c23,
                ABS => c.abs() * k.c23,
                _ => {
                    let floor = k.authors_floor.unwrap_or(T::ZERO);
                    if q[i] < T::ZERO {
                        floor
                    } else {
                        c * k.c23
                    }
                }
            };
        }
        for i in 0..m {
            p[i] += k.neg_step * s[i] / (r[i].sqrt() + t[i] + k.eps);
        }
        start = end;
    }
}

impl<T: Float> Algorithm<T> for AdamSkew {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(hp: &Hyper) -> Result<Self> {
        refuse_both(&AdamSkewHp::read(hp))?;
        Ok(AdamSkew)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq"), Buffer::zeros("exp_avg_cube")]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdamSkewHp::read(hp);
        refuse_both(&hp)?;
        let (lr, b1, b2, b3) = (hp.lr, hp.beta1, hp.beta2, hp.beta3);
        let bc2_sqrt = bias_correction(b2, ctx.step).sqrt();
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            m: Lerp::new(1.0 - b1),
            b2: T::of(b2),
            omb2: T::of(1.0 - b2),
            b3: T::of(b3),
            omb3: T::of(1.0 - b3),
            c23: T::of(bc2_sqrt / bias_correction(b3, ctx.step).cbrt()),
            eps: T::of(hp.eps * bc2_sqrt),
            neg_step: T::of(-(lr * bc2_sqrt / bias_correction(b1, ctx.step))),
            abs_third: hp.abs_third,
            authors_floor: hp.authors.then(|| T::of(AUTHORS_NAN_VALUE * bc2_sqrt)),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.m.low()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        if k.authors_floor.is_some() {
            kernel::<T, S, AUTHORS>(k, ch)
        } else if k.abs_third {
            kernel::<T, S, ABS>(k, ch)
        } else {
            kernel::<T, S, SIGNED>(k, ch)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build<T: registry::RegistryFloat>(n: usize, set: &[(&str, &str)]) -> Box<dyn Optimizer<T>> {
        let cfg = set.iter().fold(OptimConfig::new("adam_skew"), |c, (k, v)| c.set(k, v));
        registry::build::<T>(Layout::single("x", n), &cfg).unwrap()
    }

    fn close(a: f64, b: f64, rtol: f64) -> bool {
        (a - b).abs() <= rtol * b.abs().max(1e-300)
    }

    fn step(opt: &mut dyn Optimizer<f64>, x: &mut [f64], g: &[f64]) {
        opt.step(&mut [x], &[g], None).unwrap();
    }

    /// Two steps of positive gradients (denominator r̂ + q̂ > 0) by hand, with β3 ≠ β2.
    #[test]
    fn first_two_steps_by_hand() {
        let (lr, b1, b2, b3, eps): (f64, f64, f64, f64, f64) = (0.01, 0.9, 0.99, 0.95, 1e-8);
        let mut opt = build::<f64>(2, &[("lr", "0.01"), ("beta2", "0.99"), ("beta3", "0.95")]);
        let mut x = vec![1.0, 2.0];
        let (g1, g2) = ([0.5, 3.0], [2.0, 1.0]);
        step(opt.as_mut(), &mut x, &g1);
        // Step 1: ŝ = g, r̂ = |g|, q̂ = g: x -= lr g/(2g + eps).
        let mut want = [1.0 - lr * 0.5 / (1.0 + eps), 2.0 - lr * 3.0 / (6.0 + eps)];
        assert!(close(x[0], want[0], 1e-15) && close(x[1], want[1], 1e-15), "{x:?} vs {want:?}");
        step(opt.as_mut(), &mut x, &g2);
        for i in 0..2 {
            let s = b1 * (1.0 - b1) * g1[i] + (1.0 - b1) * g2[i];
            let r = b2 * (1.0 - b2) * g1[i] * g1[i] + (1.0 - b2) * g2[i] * g2[i];
            let q = b3 * (1.0 - b3) * g1[i] * g1[i] * g1[i] + (1.0 - b3) * g2[i] * g2[i] * g2[i];
            let (sh, rh, qh) = (s / (1.0 - b1 * b1), (r / (1.0 - b2 * b2)).sqrt(), (q / (1.0 - b3 * b3)).cbrt());
            want[i] -= lr * sh / (rh + qh + eps);
        }
        assert!(close(x[0], want[0], 1e-14) && close(x[1], want[1], 1e-14), "{x:?} vs {want:?}");
    }

    /// First step with a negative gradient: r̂ + q̂ = |g| + g = 0 exactly, the denominator is eps.
    #[test]
    fn negative_first_gradient_divides_by_eps() {
        let mut opt = build::<f64>(2, &[]);
        let mut x = vec![0.0, 0.0];
        step(opt.as_mut(), &mut x, &[-1.0, -0.5]);
        // lr·|g|/eps: 1e-3·1/1e-8 = 1e5 and 5e4 (ŝ = g up to the rounding of 1 - 0.9).
        assert!(close(x[0], 1e5, 1e-12) && close(x[1], 5e4, 1e-12), "{x:?}");
        // abs_third: r̂ + |q̂| = 2|g|: half of Adam's first step, for either sign.
        let mut opt = build::<f64>(2, &[("abs_third", "true")]);
        let mut x = vec![0.0, 0.0];
        step(opt.as_mut(), &mut x, &[-1.0, 0.5]);
        assert!(close(x[0], 1e-3 / (2.0 + 1e-8), 1e-12) && close(x[1], -0.5e-3 / (1.0 + 1e-8), 1e-12), "{x:?}");
    }

    /// The documented counter-example: gradients -1 then 0 make q̂ < -r̂, so the second step
    /// goes uphill with the signed q̂, and downhill (smaller than Adam's) with |q̂|.
    #[test]
    fn negative_q_hat_flips_the_step() {
        let (lr, b1, b2, b3, eps): (f64, f64, f64, f64, f64) = (1e-3, 0.9, 0.999, 0.999, 1e-8);
        let s = -(b1 * (1.0 - b1)); // gradient -1, then 0
        let r = b2 * (1.0 - b2);
        let q = -(b3 * (1.0 - b3));
        let sh = s / (1.0 - b1 * b1);
        let rh = (r / (1.0 - b2 * b2)).sqrt();
        let qh = -(-q / (1.0 - b3 * b3)).cbrt();
        assert!(rh + qh < 0.0 && (rh + qh + 0.086638).abs() < 1e-6, "{rh} {qh}");
        for (abs, want) in [("false", -lr * sh / (rh + qh + eps)), ("true", -lr * sh / (rh - qh + eps))] {
            let mut opt = build::<f64>(1, &[("abs_third", abs)]);
            let mut x = vec![0.0];
            step(opt.as_mut(), &mut x, &[-1.0]);
            let x1 = x[0];
            step(opt.as_mut(), &mut x, &[0.0]);
            let dx = x[0] - x1;
            // dx is read off x ≈ 1e5 (the first step), so only to about 1e-11/5e-3 relative.
            assert!(close(dx, want, 1e-7), "abs_third={abs}: {dx} vs {want}");
            if abs == "false" {
                assert!(dx < 0.0 && (dx + 5.467e-3).abs() < 1e-6, "uphill, 5.5 lr: {dx}");
            } else {
                assert!(dx > 0.0 && dx < lr, "downhill, below Adam's: {dx}");
            }
        }
    }

    /// `authors=true`: a negative third moment counts as 1e-9 (the authors' NaN replacement), so
    /// the first step of a negative gradient is Adam-sized, not `lr·|g|/eps`; with `abs_third`
    /// it is refused, naming both keys.
    #[test]
    fn authors_third_term_is_never_negative() {
        let mut opt = build::<f64>(2, &[("authors", "true")]);
        let mut x = vec![0.0, 0.0];
        step(opt.as_mut(), &mut x, &[-1.0, 0.5]);
        // g = -1: denominator r̂ + 1e-9 + eps = 1 + 1e-9 + 1e-8; g = 0.5: r̂ + q̂ = 1.
        assert!(close(x[0], 1e-3 / (1.0 + 1e-9 + 1e-8), 1e-12), "{x:?}");
        assert!(close(x[1], -0.5e-3 / (1.0 + 1e-8), 1e-12), "{x:?}");
        let cfg = OptimConfig::new("adam_skew").set("authors", "true").set("abs_third", "true");
        let e = registry::build::<f64>(Layout::single("x", 1), &cfg).err().expect("refused").to_string();
        assert!(e.contains("authors") && e.contains("abs_third"), "{e}");
    }

    #[test]
    fn zero_gradient_does_not_move() {
        for abs in ["false", "true"] {
            let mut opt = build::<f64>(2, &[("abs_third", abs)]);
            let mut x = vec![1.0, -1.0];
            step(opt.as_mut(), &mut x, &[0.0, 0.0]);
            step(opt.as_mut(), &mut x, &[0.0, 0.0]);
            assert_eq!(x, vec![1.0, -1.0]);
        }
    }

    #[test]
    fn f32_agrees_with_f64() {
        for abs in ["false", "true"] {
            let set = [("abs_third", abs), ("lr", "0.01")];
            let (mut a, mut b) = (build::<f64>(3, &set), build::<f32>(3, &set));
            let mut x = vec![1.0, -2.0, 0.5];
            let mut y: Vec<f32> = x.iter().map(|&z| z as f32).collect();
            for s in 0..8 {
                // Positive gradients keep the signed denominator away from 0.
                let g: Vec<f64> = x.iter().enumerate().map(|(i, xi)| xi * xi + 0.1 * (i + s) as f64 + 0.05).collect();
                let gf: Vec<f32> = g.iter().map(|&z| z as f32).collect();
                a.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
                b.step(&mut [&mut y[..]], &[&gf[..]], None).unwrap();
                for i in 0..3 {
                    assert!((x[i] - y[i] as f64).abs() < 1e-5, "abs_third={abs} step {s}: {x:?} vs {y:?}");
                }
            }
        }
    }

    #[test]
    fn resume_is_exact() {
        let grad = |x: &[f64], s: usize| -> Vec<f64> { x.iter().map(|xi| xi + (s as f64).cos()).collect() };
        let run = |opt: &mut dyn Optimizer<f64>, x: &mut Vec<f64>, from: usize, n: usize| {
            for s in from..from + n {
                let g = grad(x, s);
                opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            }
        };
        let set = [("abs_third", "true"), ("weight_decay", "0.01")];
        let mut a = build::<f64>(2, &set);
        let mut xa = vec![1.0, -0.5];
        run(a.as_mut(), &mut xa, 0, 30);
        let mut b = build::<f64>(2, &set);
        let mut xb = vec![1.0, -0.5];
        run(b.as_mut(), &mut xb, 0, 15);
        let mut c = build::<f64>(2, &set);
        c.load_state(&b.state()).unwrap();
        run(c.as_mut(), &mut xb, 15, 15);
        assert_eq!(xa, xb);
        assert_eq!(a.state(), c.state());
    }
}
