//! Rprop (Riedmiller & Braun 1993, resilient backpropagation), as torch.optim.Rprop.
//!
//! Per element, with `g' = ±g` (`maximize`) and the previous step's (possibly zeroed) gradient
//! `prev` (state, starts at 0) and step size `s` (state, starts at lr):
//! - `q = g'·prev`; `s ← clamp(s·η, step_size_min, step_size_max)` with `η = eta_plus` if `q > 0`,
//!   `eta_minus` if `q < 0`, else 1
//! - where `q < 0`, `g' ← 0` (no step, and no sign change remembered)
//! - `p ← p − sign(g')·s` (`sign(0) = 0`); `prev ← g'`
//!
//! Conventions (torch's): the sign test is on the product `g'·prev`, so a product that underflows
//! to 0 counts as no sign information (η = 1). `lr` only sets the initial step size, read at the
//! first step (with any schedule on lr applied there, as torch's state is created at the first
//! step with the group's current lr); later changes of lr do not change the step sizes. torch's
//! single-tensor, foreach and differentiable paths compute the same arithmetic.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Rprop;

crate::hypers! {
    /// Rprop's hyperparameters (torch's, with the tuples `etas` and `step_sizes` split).
    pub struct RpropHp {
        lr: f64 [Kind::NONNEG] = 1e-2, "initial step size of every element";
        eta_minus: f64 [Kind::Float { lo: 0.0, hi: 1.0, lo_open: true, hi_open: true }] = 0.5,
            "step-size factor after a sign change of the gradient";
        eta_plus: f64 [Kind::Float { lo: 1.0, hi: f64::INFINITY, lo_open: true, hi_open: true }] = 1.2,
            "step-size factor while the gradient keeps its sign";
        step_size_min: f64 [Kind::NONNEG] = 1e-6, "smallest step size";
        step_size_max: f64 [Kind::NONNEG] = 50.0, "largest step size";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "rprop",
    summary: "Rprop: per-element step sizes grown while the gradient keeps its sign, shrunk when it flips",
    reference: "Riedmiller & Braun 1993; torch.optim.Rprop",
    hypers: RpropHp::HYPERS,
    conventions: &[
        "sign test on the product g prev (torch): eta_plus if > 0, eta_minus if < 0, else 1; then clamp",
        "after a sign change the gradient is set to 0: no step, and prev = 0 (torch's Rprop-, iRprop- style)",
        "lr is the initial step size only, taken at the first step (schedules on lr act there only)",
    ],
    needs_hessian: false,
    parity: Parity::Torch("Rprop"),
    variants: &[Variant::tested("narrow", &[("eta_minus", "0.3"), ("eta_plus", "1.5"), ("step_size_max", "1")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    eta_minus: T,
    eta_plus: T,
    lo: T,
    hi: T,
    /// The first step's initial step size (lr), or None after the first step.
    init: Option<T>,
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

#[inline(always)]
fn kernel<T: Float, const S: bool, const FIRST: bool>(k: &Coef<T>, ch: Chunk<'_, T>, init: T) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [prev, ss, ..] = ch.s;
    let (prev, ss) = (&mut prev[..n], &mut ss[..n]);
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let q = gi * prev[i];
        let eta = if q > T::ZERO {
            k.eta_plus
        } else if q < T::ZERO {
            k.eta_minus
        } else {
            T::ONE
        };
        let s0 = if FIRST { init } else { ss[i] };
        // torch's clamp_(min, max): max(min(x... as min(max(x, lo), hi).
        let s = (s0 * eta).max(k.lo).min(k.hi);
        ss[i] = s;
        let gi = if q < T::ZERO { T::ZERO } else { gi };
        p[i] += -(sign(gi) * s);
        prev[i] = gi;
    }
}

impl<T: Float> Algorithm<T> for Rprop {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Rprop)
    }
    fn validate(hp: &Hyper) -> Result<()> {
        let hp = RpropHp::read(hp);
        check_bounds(&hp)
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("prev"), Buffer { name: "step_size", init: RpropHp::read(hp).lr }]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = RpropHp::read(hp);
        // Schedules may move the bounds: checked at every step.
        check_bounds(&hp)?;
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, 0.0),
            eta_minus: T::of(hp.eta_minus),
            eta_plus: T::of(hp.eta_plus),
            lo: T::of(hp.step_size_min),
            hi: T::of(hp.step_size_max),
            init: (ctx.step == 1).then(|| T::of(hp.lr)),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        match k.init {
            Some(init) => kernel::<T, S, true>(k, ch, init),
            None => kernel::<T, S, false>(k, ch, T::ZERO),
        }
    }
}

fn check_bounds(hp: &RpropHp) -> Result<()> {
    if hp.step_size_min > hp.step_size_max {
        return Err(OptimError::invalid(
            "rprop",
            "step_size_min",
            hp.step_size_min,
            format!("at most step_size_max = {}", crate::num::fmt_num(hp.step_size_max)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Schedule};

    fn build(cfg: &OptimConfig, n: usize) -> Box<dyn crate::Optimizer<f64>> {
        registry::build::<f64>(Layout::single("x", n), cfg).unwrap()
    }

    /// Three steps by hand over the three cases: same sign (grow), sign change (shrink, no step,
    /// prev = 0), and zero product (keep).
    #[test]
    fn three_steps_by_hand() {
        let mut o = build(&OptimConfig::new("rprop").set("lr", 0.1), 3);
        let mut x = vec![0.0, 0.0, 0.0];
        // Step 1: prev = 0, so eta = 1: s = 0.1 everywhere; p -= sign(g) s.
        o.step(&mut [&mut x[..]], &[&[2.0, -1.0, 0.0][..]], None).unwrap();
        assert_eq!(x, vec![-0.1, 0.1, 0.0]);
        // Step 2: same sign (grow to 0.12), flip (shrink to 0.05, no step), zero product (0.1, step).
        o.step(&mut [&mut x[..]], &[&[3.0, 1.0, 5.0][..]], None).unwrap();
        assert_eq!(x, vec![-0.1 - 0.1 * 1.2, 0.1, -0.1]);
        let st = o.state();
        let (prev, ss) = (&st.tensors[0].buffers[0].1, &st.tensors[0].buffers[1].1);
        assert_eq!(prev, &vec![3.0, 0.0, 5.0]);
        assert_eq!(ss, &vec![0.1 * 1.2, 0.1 * 0.5, 0.1]);
        // Step 3: after the flip prev = 0, so eta = 1 and the step is taken with 0.05.
        o.step(&mut [&mut x[..]], &[&[1.0, 1.0, 1.0][..]], None).unwrap();
        assert_eq!(x[1], 0.1 - 0.05);
    }

    #[test]
    fn step_sizes_are_clamped_and_the_bounds_checked() {
        let cfg = OptimConfig::new("rprop").set("lr", 1).set("step_size_max", 1.5).set("step_size_min", 0.4);
        let mut o = build(&cfg, 1);
        let mut x = [0.0];
        for _ in 0..4 {
            o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        }
        assert_eq!(o.state().tensors[0].buffers[1].1, vec![1.5]);
        for g in [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0] {
            o.step(&mut [&mut x[..]], &[&[g][..]], None).unwrap();
        }
        assert_eq!(o.state().tensors[0].buffers[1].1, vec![0.4]);
        let e = registry::build::<f64>(
            Layout::single("x", 1),
            &OptimConfig::new("rprop").set("step_size_min", 2).set("step_size_max", 1),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("`step_size_min`") && e.contains("step_size_max = 1"), "{e}");
        let e = registry::build::<f64>(Layout::single("x", 1), &OptimConfig::new("rprop").set("eta_plus", 1))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`eta_plus`") && e.contains("(1, inf)"), "{e}");
    }

    /// lr is read once, at the first step, with its schedule applied there (torch's state is
    /// created at the first step from the group's current lr).
    #[test]
    fn lr_sets_the_first_step_size_only() {
        let cfg = OptimConfig::new("rprop").set("lr", 0.1).schedule("lr", Schedule::parse("exponential(gamma=0.5)").unwrap());
        let mut o = build(&cfg, 1);
        let mut x = [0.0];
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        assert_eq!(x[0], -0.1 - 0.1 * 1.2);
    }
}
