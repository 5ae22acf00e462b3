//! SGD with heavy-ball or EMA momentum and Nesterov.
//!
//! torch (`torch.optim.SGD`, heavy-ball form, the default), per element with
//! `g' = ±g + weight_decay·p`:
//! - first step: `b = g'`; later `b = momentum·b + (1 − dampening)·g'`
//! - `d = g' + momentum·b` (Nesterov) or `d = b`;  `p ← p − lr·d`.
//!
//! EMA form (`momentum_form=ema`, as in many course notes and Andrew Ng's lectures):
//! `v = β v + (1 − β) g'` from `v = 0` (no first-step special case), `d = β v + (1 − β) g'` (Nesterov)
//! or `d = v`; `p ← p − lr·d`. With the same lr the EMA form takes steps `1 − β` times smaller
//! than heavy ball in steady state: the two differ by a rescaling of lr.
//!
//! Conventions: torch initialises the heavy-ball buffer to the first gradient (Sutskever et al.
//! 2013 start from zero); Nesterov needs momentum > 0 and dampening = 0 (as torch).

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Sgd;

crate::choice! {
    /// The momentum buffer's update.
    pub enum MomentumForm { HeavyBall = "heavy_ball", Ema = "ema" }
}

crate::hypers! {
    /// SGD's hyperparameters.
    pub struct SgdHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        momentum: f64 [Kind::UNIT_OPEN] = 0.0, "momentum factor";
        dampening: f64 [Kind::UNIT] = 0.0, "dampening of the gradient in the heavy-ball buffer";
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        nesterov: bool [] = false, "Nesterov momentum";
        maximize: bool [] = false, MAXIMIZE_DOC;
        momentum_form: MomentumForm [] = MomentumForm::HeavyBall,
            "heavy_ball: b = m b + (1-dampening) g (torch); ema: v = m v + (1-m) g";
    }
}

static SPEC: Spec = Spec {
    name: "sgd",
    summary: "stochastic gradient descent with heavy-ball or EMA momentum and Nesterov",
    reference: "torch.optim.SGD (Sutskever et al. 2013 for Nesterov momentum)",
    hypers: SgdHp::HYPERS,
    conventions: &[
        "heavy_ball (torch): buffer starts at the first gradient; b = momentum b + (1 - dampening) g",
        "ema: v starts at 0; v = momentum v + (1 - momentum) g (dampening must be 0)",
        "nesterov: d = g + momentum b (heavy_ball) or momentum v + (1 - momentum) g (ema)",
        "weight decay is L2 (added to the gradient before momentum)",
    ],
    needs_hessian: false,
    parity: Parity::Torch("SGD"),
    variants: &[
        Variant::new("momentum", &[("momentum", "0.9")]),
        Variant::new("nesterov", &[("momentum", "0.9"), ("nesterov", "true")]),
    ],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    /// b = a b + c g'
    a: T,
    c: T,
    /// d = dg g' + db b
    dg: T,
    db: T,
    neg_lr: T,
}

/// The momentum pass; `NEST`: the direction mixes gradient and buffer (`dg·g + db·buf`, Nesterov),
/// else it is the buffer itself.
#[inline(always)]
fn momentum<T: Float, const S: bool, const NEST: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [b, ..] = ch.s;
    let b = &mut b[..n];
    for ((p, &g), b) in p.iter_mut().zip(g).zip(b.iter_mut()) {
        let g = k.prep.get::<S>(g, *p);
        let nb = *b * k.a + k.c * g;
        *b = nb;
        let d = if NEST { k.dg * g + k.db * nb } else { nb };
        *p += k.neg_lr * d;
    }
}

impl<T: Float> Algorithm<T> for Sgd {
    type Coef = Coef<T>;

    fn spec() -> &'static Spec {
        &SPEC
    }

    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Sgd)
    }

    fn validate(hp: &Hyper) -> Result<()> {
        let hp = SgdHp::read(hp);
        if hp.nesterov && (hp.momentum <= 0.0 || hp.dampening != 0.0) {
            return Err(OptimError::invalid(
                "sgd",
                "nesterov",
                format!("true (with momentum={}, dampening={})", hp.momentum, hp.dampening),
                "nesterov needs momentum > 0 and dampening = 0",
            ));
        }
        if hp.momentum_form == MomentumForm::Ema && hp.dampening != 0.0 {
            return Err(OptimError::invalid("sgd", "dampening", hp.dampening, "0 with momentum_form=ema"));
        }
        Ok(())
    }

    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        if SgdHp::read(hp).momentum > 0.0 {
            vec![Buffer::zeros("momentum_buffer")]
        } else {
            Vec::new()
        }
    }

    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = SgdHp::read(hp);
        let mom = hp.momentum;
        let ema = hp.momentum_form == MomentumForm::Ema;
        let nesterov = hp.nesterov;
        let (a, c) = if ema {
            (mom, 1.0 - mom)
        } else if ctx.step == 1 {
            (0.0, 1.0)
        } else {
            (mom, 1.0 - hp.dampening)
        };
        let (dg, db) = match (nesterov, ema) {
            (false, _) => (0.0, 1.0),
            (true, false) => (1.0, mom),
            (true, true) => (1.0 - mom, mom),
        };
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            a: T::of(a),
            c: T::of(c),
            dg: T::of(dg),
            db: T::of(db),
            neg_lr: T::of(-hp.lr),
        })
    }

    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        // The buffer exists when the configured momentum is > 0.
        if ch.s[0].is_empty() {
            let n = ch.p.len();
            let (p, g) = (ch.p, &ch.g[..n]);
            for (p, &g) in p.iter_mut().zip(g) {
                let g = k.prep.get::<S>(g, *p);
                *p += k.neg_lr * g;
            }
            return;
        }
        if k.dg == T::ZERO && k.db == T::ONE {
            momentum::<T, S, false>(k, ch)
        } else {
            momentum::<T, S, true>(k, ch)
        }
    }
}
