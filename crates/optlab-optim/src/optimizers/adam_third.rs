//! Adam with the third raw moment in place of the second (experimental).
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2) and `spow(x, a) = sign(x)·|x|^a`:
//! - `s ← lerp(s, g', 1 − β1)`, `r ← β2·r + (1 − β2)·g'³`
//! - `ŝ = spow(s/(1 − β1^t), 3/4)`, `r̂ = spow(r/(1 − β2^t), 1/4)`
//! - `p ← p − lr · ŝ / (r̂ + eps)`
//!
//! Both powers bring the moments to the units of `|g|^(3/4)`, so `ŝ/r̂` is scale-free, like
//! Adam's `m̂/sqrt(v̂)`. Computed as `|x|^(1/4) = sqrt(sqrt(|x|))` and
//! `|x|^(3/4) = sqrt(|x|)·sqrt(sqrt(|x|))` (square roots are exact to rounding and cheap), with
//! the positive bias corrections taken out of the powers (`spow(s/c, a) = spow(s, a)/c^a`).
//!
//! # Fractional powers of negative numbers
//!
//! `s` and `r` can be negative, and a real `x^(3/4)` or `x^(1/4)` of a negative `x` does not
//! exist, so the power is taken sign-keeping on `|x|`, `sign(x)·|x|^a` (the choice that keeps
//! `ŝ` odd in `g`, as Adam's `m̂`). Consequences:
//! - The step `−lr·ŝ/(r̂ + eps)` has the sign of `−sign(ŝ)·sign(r̂)` (for `|r̂| > eps`). It is a
//!   descent direction (opposite to the averaged gradient `ŝ`) exactly when `r̂ > 0`, i.e. when the
//!   third moment is positive, **whatever the sign of `ŝ`**. With `r̂ < 0` every step goes uphill:
//!   both when the third moment's sign disagrees with the first moment's (`ŝ > 0 > r̂`), and when
//!   both are negative, which is the normal case for a negative gradient. In particular the first
//!   step is `−lr·sign(g')·|g'|^(3/4)/(sign(g')·|g'|^(3/4) + eps) ≈ −lr` for *either* sign of `g'`:
//!   downhill for `g' > 0`, uphill for `g' < 0`; a coordinate whose gradient stays negative (e.g.
//!   `f = x²/2` started at `x < 0`) moves away from the minimum by about `lr` per step. When the
//!   signs disagree with `ŝ < 0 < r̂` the step is downhill.
//! - `r̂ + eps` vanishes at `r̂ = −eps` (division by zero: ±inf or NaN), and is tiny whenever the
//!   third moment (nearly) cancels, e.g. zero-mean symmetric noise, or gradients of both signs
//!   (the step is then about `lr·|ŝ|/eps`); there is no bound such as Adam's `|step| ≲ lr`.
//! - A zero gradient moves nothing: `ŝ = 0` (`sign(0) = 0`) and `0/eps = 0`.
//! - `g'³` overflows f32 for `|g'| > 6.98e12` (f64: `5.6e102`); the parameter then becomes NaN.
//!
//! # The authors' code (`authors=true`)
//!
//! The study's code (github.com/Shubh-Goyal-07/DLProject, `experiments/optimizers/customAdam4.py`,
//! commit de8d89f) takes the powers with `torch.pow`, which is NaN for a negative base, and then
//! overwrites NaN with `1e-15`: `ŝ = (s/(1 − β1^t))^(3/4)` where `s ≥ 0`, else `1e-15`;
//! `r̂ = (r/(1 − β2^t))^(1/4)` where `r ≥ 0`, else `1e-15`; `p ← p − lr·ŝ/(r̂ + eps)`. So:
//! - where the averaged gradient is negative the step is `−lr·1e-15/(r̂ + eps)`: nothing moves;
//! - where it is positive the step is downhill, `−lr·ŝ/(r̂ + eps)`, and about `lr·ŝ/eps` where the
//!   third moment is negative;
//! - no step goes uphill (unlike the sign-keeping default), and each parameter only ever
//!   decreases (by at most about `lr·ŝ/eps`).
//!
//! `authors=true` computes exactly that. The code's defaults are `beta1=0.99, beta2=0.999,
//! eps=1e-3` (its `beta2` is the third moment's decay; set them, optlab's defaults stay Adam's).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct AdamThird;

crate::hypers! {
    /// The hyperparameters.
    pub struct AdamThirdHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
        authors: bool [] = false,
            "the authors' code (DLProject customAdam4.py): a negative s or r (torch's NaN of the fractional power) \
             counts as 1e-15, so only coordinates with a positive averaged gradient move, downhill";
    }
}

static SPEC: Spec = Spec {
    name: "adam_third",
    summary: "Adam with the third raw moment in place of the second: s^(3/4)/r^(1/4) (experimental)",
    reference: "experimental; Adam (Kingma & Ba 2015) with a third moment",
    hypers: AdamThirdHp::HYPERS,
    conventions: &[
        "fractional powers of negative numbers are sign-keeping: sign(x) |x|^a; the step is downhill only where \
         the third moment is positive (r_hat > 0), uphill where it is negative",
        "|x|^(1/4) = sqrt(sqrt(|x|)), |x|^(3/4) = sqrt(|x|) sqrt(sqrt(|x|)); bias corrections (1 - beta^t, float \
         powers) taken out of the powers",
        "lerp for s (as torch's Adam), L2 weight decay",
        "authors=true: the study's code, where torch's fractional power of a negative s or r is NaN and is \
         replaced by 1e-15 (its defaults: beta1=0.99, beta2=0.999, eps=1e-3)",
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
    /// `(1 − β2^t)^(1/4)`
    bc2_quarter: T,
    eps: T,
    /// `−lr/(1 − β1^t)^(3/4)`
    neg_step: T,
    /// `authors=true`: `(1/(1 − β1^t)^(3/4), −lr)`, the authors' `ŝ` taken whole.
    authors: Option<(T, T)>,
}

/// The value the authors' code puts in place of a NaN power (a negative moment).
const AUTHORS_NAN_VALUE: f64 = 1e-15;

impl<T: Float> Algorithm<T> for AdamThird {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdamThird)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_cube")]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdamThirdHp::read(hp);
        let (lr, b1, b2) = (hp.lr, hp.beta1, hp.beta2);
        let bc1 = bias_correction(b1, ctx.step);
        let bc2 = bias_correction(b2, ctx.step);
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            m: Lerp::new(1.0 - b1),
            b2: T::of(b2),
            omb2: T::of(1.0 - b2),
            bc2_quarter: T::of(bc2.sqrt().sqrt()),
            eps: T::of(hp.eps),
            neg_step: T::of(-(lr / (bc1.sqrt() * bc1.sqrt().sqrt()))),
            authors: hp.authors.then(|| (T::of(1.0 / (bc1.sqrt() * bc1.sqrt().sqrt())), T::of(-lr))),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.m.low()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        if let Some((inv_bc1, neg_lr)) = k.authors {
            return authors::<T, S>(k, inv_bc1, neg_lr, ch);
        }
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [s, r, ..] = ch.s;
        let (s, r) = (&mut s[..n], &mut r[..n]);
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let si = k.m.get::<S>(s[i], gi);
            s[i] = si;
            let ri = r[i] * k.b2 + k.omb2 * (gi * gi * gi);
            r[i] = ri;
            let (sa, ra) = (si.abs().sqrt(), ri.abs().sqrt().sqrt());
            let s_pow = si.signum() * (sa * sa.sqrt());
            let r_hat = ri.signum() * ra / k.bc2_quarter;
            p[i] += k.neg_step * s_pow / (r_hat + k.eps);
        }
    }
}

/// The authors' update: a negative moment's power is `1e-15` (see the module docs).
#[inline(always)]
fn authors<T: Float, const S: bool>(k: &Coef<T>, inv_bc1: T, neg_lr: T, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [s, r, ..] = ch.s;
    let (s, r) = (&mut s[..n], &mut r[..n]);
    let nan_value = T::of(AUTHORS_NAN_VALUE);
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let si = k.m.get::<S>(s[i], gi);
        s[i] = si;
        let ri = r[i] * k.b2 + k.omb2 * (gi * gi * gi);
        r[i] = ri;
        let s_hat = if si < T::ZERO {
            nan_value
        } else {
            let sa = si.sqrt();
            sa * sa.sqrt() * inv_bc1
        };
        let r_hat = if ri < T::ZERO { nan_value } else { ri.sqrt().sqrt() / k.bc2_quarter };
        p[i] += neg_lr * s_hat / (r_hat + k.eps);
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build<T: registry::RegistryFloat>(n: usize, set: &[(&str, &str)]) -> Box<dyn Optimizer<T>> {
        let cfg = set.iter().fold(OptimConfig::new("adam_third"), |c, (k, v)| c.set(k, v));
        registry::build::<T>(Layout::single("x", n), &cfg).unwrap()
    }

    fn close(a: f64, b: f64, rtol: f64) -> bool {
        (a - b).abs() <= rtol * b.abs().max(1e-300)
    }

    /// `sign(x)·|x|^a` with the library power (the kernel uses square roots).
    fn spow(x: f64, a: f64) -> f64 {
        x.signum() * x.abs().powf(a)
    }

    /// The first two steps with defaults, by hand (hand values use powf, the kernel square roots).
    fn two_steps(g1: [f64; 2], g2: [f64; 2]) -> ([f64; 2], [f64; 2]) {
        let (lr, b1, b2, eps): (f64, f64, f64, f64) = (1e-3, 0.9, 0.999, 1e-8);
        let mut opt = build::<f64>(2, &[]);
        let mut x = vec![0.0, 0.0];
        opt.step(&mut [&mut x[..]], &[&g1[..]], None).unwrap();
        let d1 = [x[0], x[1]];
        let mut want = [0.0; 2];
        for i in 0..2 {
            let (s, r) = ((1.0 - b1) * g1[i], (1.0 - b2) * g1[i] * g1[i] * g1[i]);
            want[i] = -lr * spow(s / (1.0 - b1), 0.75) / (spow(r / (1.0 - b2), 0.25) + eps);
            assert!(close(x[i], want[i], 1e-14), "step 1: {x:?} vs {want:?}");
        }
        opt.step(&mut [&mut x[..]], &[&g2[..]], None).unwrap();
        let mut d2 = [0.0; 2];
        for i in 0..2 {
            let s = b1 * (1.0 - b1) * g1[i] + (1.0 - b1) * g2[i];
            let r = b2 * (1.0 - b2) * g1[i].powi(3) + (1.0 - b2) * g2[i].powi(3);
            let step = -lr * spow(s / (1.0 - b1 * b1), 0.75) / (spow(r / (1.0 - b2 * b2), 0.25) + eps);
            want[i] += step;
            d2[i] = x[i] - d1[i];
            assert!(close(x[i], want[i], 1e-13), "step 2: {x:?} vs {want:?}");
            assert!(close(d2[i], step, 1e-12), "step 2: {d2:?} vs {step}");
        }
        (d1, d2)
    }

    #[test]
    fn first_two_steps_by_hand() {
        let (d1, _) = two_steps([0.5, 16.0], [2.0, 1.0]);
        // Positive gradients: the first step is -lr |g|^(3/4)/(|g|^(3/4) + eps) ≈ -lr.
        assert!(close(d1[0], -1e-3, 1e-7) && close(d1[1], -1e-3, 1e-7), "{d1:?}");
    }

    /// A negative gradient: ŝ < 0 and r̂ < 0 agree, and the step still goes uphill (-lr).
    #[test]
    fn negative_gradient_goes_uphill() {
        let (d1, d2) = two_steps([-1.0, -16.0], [-2.0, -1.0]);
        assert!(d1.iter().chain(&d2).all(|&d| d < 0.0), "{d1:?} {d2:?}");
        assert!(close(d1[0], -1e-3, 1e-7), "{d1:?}");
        // On f = x²/2 from x = -1 the parameter moves away from the minimum by ≈ lr per step;
        // from x = +1 it descends.
        for (x0, away) in [(-1.0, true), (1.0, false)] {
            let mut opt = build::<f64>(1, &[]);
            let mut x = vec![x0];
            for _ in 0..100 {
                let g = [x[0]];
                opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            }
            if away {
                assert!(x[0] < -1.09 && x[0] > -1.11, "{x:?}");
            } else {
                assert!(x[0] > 0.89 && x[0] < 0.91, "{x:?}");
            }
        }
    }

    /// Signs of ŝ and r̂ disagree at step 2: uphill when ŝ > 0 > r̂, downhill when ŝ < 0 < r̂.
    #[test]
    fn sign_disagreement() {
        // g = -2 then 1.9: averaged gradient 0.4737·(-2) + 0.5263·1.9 > 0, third moment
        // ≈ (-8 + 6.859)/2 < 0: the step is positive, uphill.
        let (_, d2) = two_steps([-2.0, 2.0], [1.9, -1.9]);
        assert!(d2[0] > 0.0, "ŝ > 0 > r̂ moves p up (uphill): {d2:?}");
        // Mirror image: ŝ < 0 < r̂ also moves p up, which is downhill there.
        assert!(d2[1] > 0.0, "ŝ < 0 < r̂ moves p up (downhill): {d2:?}");
        // Equal up to the eps in r̂ ± eps.
        assert!(close(d2[0], d2[1], 1e-6));
    }

    /// `authors=true`: a negative averaged gradient counts as 1e-15 (the authors' NaN
    /// replacement), so that weight stays put, where the default steps uphill by about lr.
    #[test]
    fn authors_negative_moments_do_not_step_uphill() {
        let (lr, eps) = (1e-3, 1e-8);
        let mut opt = build::<f64>(2, &[("authors", "true")]);
        let mut x = vec![0.0, 0.0];
        opt.step(&mut [&mut x[..]], &[&[-1.0, 16.0][..]], None).unwrap();
        // g = -1: ŝ = 1e-15, r̂ = 1e-15: step -lr 1e-15/(1e-15 + eps).
        assert!(close(x[0], -lr * 1e-15 / (1e-15 + eps), 1e-9), "{x:?}");
        // g = 16: ŝ = 16^(3/4) = 8, r̂ = 16^(3/4) = 8: step -lr 8/(8 + eps).
        assert!(close(x[1], -lr * 8.0 / (8.0 + eps), 1e-12), "{x:?}");
        // Then g = 3: both moments turn positive and the step is downhill, by hand.
        let (b1, b2): (f64, f64) = (0.9, 0.999);
        opt.step(&mut [&mut x[..]], &[&[3.0, 16.0][..]], None).unwrap();
        let s = (-(b1 * (1.0 - b1)) + (1.0 - b1) * 3.0) / (1.0 - b1 * b1);
        let r = -(b2 * (1.0 - b2)) + (1.0 - b2) * 27.0;
        assert!(s > 0.0 && r > 0.0);
        let want = -lr * 1e-15 / (1e-15 + eps) - lr * s.powf(0.75) / ((r / (1.0 - b2 * b2)).powf(0.25) + eps);
        assert!(close(x[0], want, 1e-12), "{x:?} vs {want}");
    }

    #[test]
    fn zero_gradient_does_not_move() {
        let mut opt = build::<f64>(2, &[]);
        let mut x = vec![1.0, -1.0];
        for _ in 0..2 {
            opt.step(&mut [&mut x[..]], &[&[0.0, 0.0][..]], None).unwrap();
        }
        assert_eq!(x, vec![1.0, -1.0]);
    }

    #[test]
    fn f32_agrees_with_f64() {
        let set = [("lr", "0.01")];
        let (mut a, mut b) = (build::<f64>(3, &set), build::<f32>(3, &set));
        let mut x = vec![1.0, -2.0, 0.5];
        let mut y: Vec<f32> = x.iter().map(|&z| z as f32).collect();
        for s in 0..8 {
            let g: Vec<f64> = x.iter().enumerate().map(|(i, xi)| xi + 0.3 * (i + s) as f64).collect();
            let gf: Vec<f32> = g.iter().map(|&z| z as f32).collect();
            a.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            b.step(&mut [&mut y[..]], &[&gf[..]], None).unwrap();
            for i in 0..3 {
                assert!((x[i] - y[i] as f64).abs() < 1e-5, "step {s}: {x:?} vs {y:?}");
            }
        }
    }

    #[test]
    fn resume_is_exact() {
        let run = |opt: &mut dyn Optimizer<f64>, x: &mut Vec<f64>, from: usize, n: usize| {
            for s in from..from + n {
                let g: Vec<f64> = x.iter().map(|xi| xi + 0.5 * (s as f64).sin()).collect();
                opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            }
        };
        let set = [("weight_decay", "0.01")];
        let mut a = build::<f64>(2, &set);
        let mut xa = vec![1.0, 0.5];
        run(a.as_mut(), &mut xa, 0, 30);
        let mut b = build::<f64>(2, &set);
        let mut xb = vec![1.0, 0.5];
        run(b.as_mut(), &mut xb, 0, 15);
        let mut c = build::<f64>(2, &set);
        c.load_state(&b.state()).unwrap();
        run(c.as_mut(), &mut xb, 15, 15);
        assert_eq!(xa, xb);
        assert_eq!(a.state(), c.state());
    }
}
