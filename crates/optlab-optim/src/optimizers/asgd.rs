//! ASGD (Polyak & Juditsky 1992; Bottou 2012's averaged SGD), as torch.optim.ASGD.
//!
//! Per tensor, with the step `t` (1-based) and two scalar states, `eta` (the step size, `lr` at
//! the first step) and `mu` (the averaging weight, starts at 1):
//! - per element, with `g' = ±g + weight_decay·p` (`maximize`, L2 decay):
//!   `p ← p·(1 − lambd·eta)`; `p ← p − eta·g'`
//! - `ax ← p` if `mu = 1`, else `ax ← ax + (p − ax)·mu` (`ax` is the averaged iterate, state)
//! - then `eta ← lr / (1 + lambd·lr·t)^alpha` and `mu ← 1 / max(1, t − t0)`, for the next step.
//!
//! Conventions (torch's): `eta` and `mu` are updated after the step, so step `t` uses the values
//! computed at step `t − 1` (with that step's lr, schedules included); the first step uses the
//! current lr and `mu = 1`. Averaging starts after `t0` steps; before it `ax` is a copy of `p`.
//! The averaged iterate `ax` is kept as state (saved and loaded by name) but not used as the
//! parameter, as in torch.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Asgd;

crate::hypers! {
    /// ASGD's hyperparameters (torch's names and defaults).
    pub struct AsgdHp {
        lr: f64 [Kind::NONNEG] = 1e-2, LR_DOC;
        lambd: f64 [Kind::NONNEG] = 1e-4, "decay term: p <- p (1 - lambd eta), and the decay rate of eta";
        alpha: f64 [Kind::NONNEG] = 0.75, "power of the step-size decay eta = lr / (1 + lambd lr t)^alpha";
        t0: f64 [Kind::NONNEG] = 1e6, "step after which averaging starts (mu = 1 / max(1, t - t0))";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "L2 weight decay: g <- g + weight_decay p";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "asgd",
    summary: "ASGD: SGD with a decaying step size and a running average of the iterates (ax)",
    reference: "Polyak & Juditsky 1992; torch.optim.ASGD",
    hypers: AsgdHp::HYPERS,
    conventions: &[
        "eta and mu are updated after each step (torch): step t uses eta = lr / (1 + lambd lr (t-1))^alpha and \
         mu = 1 / max(1, t - 1 - t0), with lr of step t-1; step 1 uses the current lr and mu = 1",
        "ax is copied from p while mu = 1, else ax <- ax + (p - ax) mu; ax is state only, not the parameter",
    ],
    needs_hessian: false,
    parity: Parity::Torch("ASGD"),
    variants: &[Variant::tested("averaging", &[("lambd", "0.01"), ("t0", "20"), ("alpha", "0.5")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    neg_eta: T,
    mu: T,
    /// `mu == 1`: `ax` is a copy of `p` (torch's branch), else the running average.
    copy: bool,
}

#[inline(always)]
fn kernel<T: Float, const S: bool, const COPY: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [ax, ..] = ch.s;
    let ax = &mut ax[..n];
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let q = p[i] * k.decay;
        let q = q + k.neg_eta * gi;
        p[i] = q;
        ax[i] = if COPY { q } else { ax[i] + (q - ax[i]) * k.mu };
    }
}

impl<T: Float> Algorithm<T> for Asgd {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Asgd)
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("ax")]
    }
    /// While `mu = 1` (the first `t0 + 1` steps) `ax` is only written: p, g read, p, ax written.
    /// Averaging reads `ax` too. `bench step` runs far fewer than 10⁴ steps, so with `t0 ≥ 10⁴`
    /// (the default is 10⁶) it measures the copy phase.
    fn accesses_per_param(hp: &Hyper) -> usize {
        if AsgdHp::read(hp).t0 >= 1e4 {
            4
        } else {
            5
        }
    }
    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        // eta's initial value is the lr of the first step, set there.
        &[("eta", 0.0), ("mu", 1.0)]
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AsgdHp::read(hp);
        let eta = if ctx.step == 1 { hp.lr } else { s[0] };
        let mu = if ctx.step == 1 { 1.0 } else { s[1] };
        let t = ctx.step as f64;
        s[0] = hp.lr / (1.0 + hp.lambd * hp.lr * t).powf(hp.alpha);
        s[1] = 1.0 / (t - hp.t0).max(1.0);
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            decay: T::of(1.0 - hp.lambd * eta),
            neg_eta: T::of(-eta),
            mu: T::of(mu),
            copy: mu == 1.0,
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        if k.copy {
            kernel::<T, S, true>(k, ch)
        } else {
            kernel::<T, S, false>(k, ch)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig, Schedule};

    fn build(cfg: &OptimConfig, n: usize) -> Box<dyn crate::Optimizer<f64>> {
        registry::build::<f64>(Layout::single("x", n), cfg).unwrap()
    }

    /// Three steps by hand with averaging from step 2 on (t0 = 0): eta and mu lag one step.
    #[test]
    fn three_steps_by_hand() {
        let (lr, lambd, alpha) = (0.1, 0.5, 0.75);
        let cfg = OptimConfig::new("asgd").set("lr", lr).set("lambd", lambd).set("t0", 0).set("alpha", alpha);
        let mut o = build(&cfg, 1);
        let mut x = [2.0];
        let mut p = 2.0_f64;
        // Step 1: eta = lr, mu = 1 (ax = p).
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        p = p * (1.0 - lambd * lr) + -lr * 1.0;
        assert_eq!(x[0], p);
        let ax1 = p;
        assert_eq!(o.state().tensors[0].buffers[0].1, vec![ax1]);
        // Step 2: eta = lr / (1 + lambd lr)^alpha, mu = 1 / max(1, 1 - 0) = 1: still a copy.
        let eta2 = lr / (1.0 + lambd * lr * 1.0).powf(alpha);
        o.step(&mut [&mut x[..]], &[&[-3.0][..]], None).unwrap();
        p = p * (1.0 - lambd * eta2) + -eta2 * -3.0;
        assert_eq!(x[0], p);
        assert_eq!(o.state().tensors[0].buffers[0].1, vec![p]);
        // Step 3: mu = 1 / max(1, 2 - 0) = 0.5: ax is the average.
        let eta3 = lr / (1.0 + lambd * lr * 2.0).powf(alpha);
        let ax2 = p;
        o.step(&mut [&mut x[..]], &[&[0.5][..]], None).unwrap();
        p = p * (1.0 - lambd * eta3) + -eta3 * 0.5;
        assert_eq!(x[0], p);
        assert_eq!(o.state().tensors[0].buffers[0].1, vec![ax2 + (p - ax2) * 0.5]);
        let st = o.state();
        let sc: Vec<(String, f64)> = st.tensors[0].scalars.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(sc, vec![("eta".into(), lr / (1.0 + lambd * lr * 3.0).powf(alpha)), ("mu".into(), 1.0 / 3.0)]);
    }

    /// A schedule on lr acts on the step after the one whose lr it sets (eta is computed after
    /// the step), except at the first step.
    #[test]
    fn eta_lags_the_lr_schedule_by_one_step() {
        let cfg = OptimConfig::new("asgd")
            .set("lr", 0.1)
            .set("lambd", 0)
            .schedule("lr", Schedule::parse("exponential(gamma=0.5)").unwrap());
        let mut o = build(&cfg, 1);
        let mut x = [0.0];
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        assert_eq!(x[0], -0.1);
        // lambd = 0: eta = lr of step 1 = 0.1 at step 2.
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        assert_eq!(x[0], -0.1 - 0.1);
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        assert_eq!(x[0], -0.1 - 0.1 - 0.05);
    }
}
