//! Sophia (Liu et al. 2023, "Sophia: A Scalable Stochastic Second-order Optimizer for Language
//! Model Pre-training") with a Hutchinson-style Hessian diagonal: pytorch_optimizer's `SophiaH`
//! (4.1.0, its single-tensor path) given the diagonal from outside (`step(hessian=...)`); the
//! run loop supplies it, exact on the test functions and the Hutchinson estimate of optlab-nn on
//! networks.
//!
//! Per element, at step t (1-based), with `g' = ±g` (`maximize`) and `h` the Hessian diagonal:
//! - decay: decoupled (`weight_decouple`, default) `p ← p·(1 − lr·wd)` (`fixed_decay`: `1 − wd`),
//!   else `g' ← g' + wd·p`
//! - `m ← lerp(m, g', 1 − β1)`
//! - on Hessian steps (`(t − 1) mod update_period = 0`, the paper's every k steps):
//!   `h̄ ← lerp(h̄, h, 1 − β2)`; on the others `h̄` is kept and `h` is not read
//! - `u = clamp(m / max(h̄, eps), −p, p)`; `p ← p − lr·u`
//!
//! Conventions: the authors' Sophia-G (github.com/Liuhong99/Sophia) writes the update as
//! `lr·sign(m)·min(|m| / (ρ·b·h̄ + 1e-15), 1)` with the Gauss–Newton–Bartlett estimate; with
//! `form = authors` this file computes that update with `ρ·b = rho` (the estimator is whatever
//! diagonal the run loop gives). The default `form = sophia_h` is pytorch_optimizer's.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Sophia;

crate::choice! {
    /// The update's form: pytorch_optimizer's SophiaH, or the authors' Sophia-G.
    pub enum Form { SophiaH = "sophia_h", Authors = "authors" }
}

crate::hypers! {
    /// Sophia's hyperparameters (pytorch_optimizer SophiaH's names and defaults, betas split).
    pub struct SophiaHp {
        lr: f64 [Kind::NONNEG] = 0.06, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.96, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.99, "decay of the average of the Hessian diagonal";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "weight decay: decoupled (default) or L2 added to the gradient";
        weight_decouple: bool [] = true, "decoupled decay p <- p (1 - lr wd); false: wd p added to the gradient";
        fixed_decay: bool [] = false, "decoupled decay not scaled by lr: p <- p (1 - wd)";
        p: f64 [Kind::NONNEG] = 0.01, "sophia_h: the update m / max(h, eps) is clamped to [-p, p]";
        rho: f64 [Kind::POS] = 0.04, "authors: the update is sign(m) min(|m| / (rho h + 1e-15), 1) (rho times the batch size)";
        update_period: i64 [1, i64::MAX] = 10, "steps between Hessian updates (the paper's k)";
        eps: f64 [Kind::NONNEG] = 1e-12, "sophia_h: the Hessian average is clamped to at least eps";
        form: Form [] = Form::SophiaH, "sophia_h (pytorch_optimizer SophiaH) or authors (Liu et al.'s Sophia-G update)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "sophia",
    summary: "Sophia: momentum divided by an averaged Hessian diagonal, clipped element-wise",
    reference: "Liu et al. 2023; pytorch_optimizer SophiaH (4.1.0); authors' code github.com/Liuhong99/Sophia",
    hypers: SophiaHp::HYPERS,
    conventions: &[
        "the Hessian diagonal is an input (exact on test functions, Hutchinson on networks); it is read on \
         steps 1, 1 + update_period, ... and the average kept on the others",
        "form=sophia_h: clamp(m / max(h, eps), -p, p), step lr (pytorch_optimizer); form=authors: \
         sign(m) min(|m| / (rho h + 1e-15), 1), step lr (Liu et al.'s SophiaG, rho = their rho * bs)",
        "decoupled weight decay p (1 - lr wd) by default (both references); weight_decouple=false: L2 on the gradient",
    ],
    needs_hessian: true,
    parity: Parity::Reference("pytorch_optimizer"),
    variants: &[
        Variant::tested("authors", &[("form", "authors"), ("weight_decay", "0.1")]),
        Variant::tested("l2", &[("weight_decay", "0.01"), ("weight_decouple", "false"), ("update_period", "1")]),
    ],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    lerp1: Lerp<T>,
    lerp2: Lerp<T>,
    hess: bool,
    authors: bool,
    eps: T,
    clip: T,
    rho: T,
    neg_lr: T,
}

impl<T: Float> Algorithm<T> for Sophia {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Sophia)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("momentum"), Buffer::zeros("hessian_moment")]
    }
    /// Reads `p`, `g`, the Hessian diagonal, `m`, `h̄`; writes `p`, `m`, `h̄`.
    fn accesses_per_param(_hp: &Hyper) -> usize {
        8
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = SophiaHp::read(hp);
        let wd = hp.weight_decay;
        let decay = if hp.weight_decouple && wd != 0.0 { 1.0 - wd * if hp.fixed_decay { 1.0 } else { hp.lr } } else { 1.0 };
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, if hp.weight_decouple { 0.0 } else { wd }),
            decay: T::of(decay),
            lerp1: Lerp::new(1.0 - hp.beta1),
            lerp2: Lerp::new(1.0 - hp.beta2),
            hess: (ctx.step - 1).is_multiple_of(hp.update_period as u64),
            authors: hp.form == Form::Authors,
            eps: T::of(hp.eps),
            clip: T::of(hp.p),
            rho: T::of(hp.rho),
            neg_lr: T::of(-hp.lr),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.lerp1.low() && k.lerp2.low() && k.decay == T::ONE && !k.authors
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g, h) = (ch.p, &ch.g[..n], &ch.h[..n]);
        let [m, hm, ..] = ch.s;
        let (m, hm) = (&mut m[..n], &mut hm[..n]);
        let authors = !S && k.authors;
        if k.hess {
            for i in 0..n {
                hm[i] = k.lerp2.get::<S>(hm[i], h[i]);
            }
        }
        for i in 0..n {
            let q = if S { p[i] } else { p[i] * k.decay };
            let gi = k.prep.get::<S>(g[i], q);
            let mi = k.lerp1.get::<S>(m[i], gi);
            m[i] = mi;
            let u = if authors {
                let r = mi.abs() / (k.rho * hm[i] + T::of(1e-15));
                mi.signum() * r.min(T::ONE)
            } else {
                (mi / hm[i].max(k.eps)).max(-k.clip).min(k.clip)
            };
            p[i] = q + k.neg_lr * u;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build(set: &[(&str, &str)]) -> Box<dyn Optimizer<f64>> {
        let cfg = set.iter().fold(OptimConfig::new("sophia"), |c, (k, v)| c.set(k, v));
        registry::build::<f64>(Layout::single("x", 3), &cfg).unwrap()
    }

    /// One step by hand: clamped, unclamped and a negative curvature (clamped to eps).
    #[test]
    fn first_step_by_hand() {
        let mut o = build(&[("lr", "0.5"), ("p", "1")]);
        let mut x = vec![0.0; 3];
        let (g, h) = ([1.0, 0.01, 0.5], [0.5, 2.0, -1.0]);
        o.step(&mut [&mut x[..]], &[&g[..]], Some(&[&h[..]])).unwrap();
        for i in 0..3 {
            let m = 0.04 * g[i];
            let hm = 0.01 * h[i];
            let u = (m / f64::max(hm, 1e-12)).clamp(-1.0, 1.0);
            assert!((x[i] + 0.5 * u).abs() < 1e-15, "{x:?}");
        }
        assert_eq!(x[2], -0.5, "negative curvature: clamped to eps, the update saturates at p");
    }

    /// Between Hessian steps the average is kept: a different h does not change the step.
    #[test]
    fn the_hessian_is_read_every_update_period_steps() {
        let run = |h2: f64| {
            let mut o = build(&[("update_period", "2")]);
            let mut x = vec![1.0; 3];
            o.step(&mut [&mut x[..]], &[&[1.0; 3][..]], Some(&[&[2.0; 3][..]])).unwrap();
            o.step(&mut [&mut x[..]], &[&[1.0; 3][..]], Some(&[&[h2; 3][..]])).unwrap();
            x
        };
        assert_eq!(run(5.0), run(-7.0));
    }

    /// The authors' form: sign(m) min(|m| / (rho h + 1e-15), 1).
    #[test]
    fn the_authors_form() {
        let mut o = build(&[("form", "authors"), ("lr", "0.1"), ("rho", "0.5")]);
        let mut x = vec![0.0; 3];
        let (g, h) = ([1.0, -0.001, 0.2], [0.1, 1.0, 100.0]);
        o.step(&mut [&mut x[..]], &[&g[..]], Some(&[&h[..]])).unwrap();
        for i in 0..3 {
            let (m, hm) = (0.04 * g[i], 0.01 * h[i]);
            let want = -0.1 * m.signum() * (m.abs() / (0.5 * hm + 1e-15)).min(1.0);
            assert!((x[i] - want).abs() < 1e-15, "{x:?}");
        }
    }
}
