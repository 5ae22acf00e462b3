//! RMSprop (Hinton, Coursera lecture 6e, 2012), as torch.optim.RMSprop.
//!
//! `g' = ±g + weight_decay·p`; `a ← α a + (1 − α) g'²`; centered: `ḡ ← lerp(ḡ, g', 1 − α)` and
//! `den = sqrt(a − ḡ²) + eps`, else `den = sqrt(a) + eps`; with momentum `b ← μ b + g'/den`,
//! `p ← p − lr·b`, else `p ← p − lr·g'/den`.
//! Conventions: eps outside the square root (torch); `eps_inside=true` gives `sqrt(a + eps)` (as
//! TensorFlow's RMSprop and Hinton's slides). Momentum buffer starts at zero and accumulates
//! `g'/den` (lr applied afterwards), as torch.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Rmsprop;

crate::hypers! {
    /// The hyperparameters.
    pub struct RmspropHp {
        lr: f64 [Kind::NONNEG] = 1e-2, "learning rate";
        alpha: f64 [Kind::UNIT] = 0.99, "decay of the squared-gradient average";
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        momentum: f64 [Kind::UNIT_OPEN] = 0.0, "momentum factor";
        centered: bool [] = false, "normalise by the estimated variance instead of the raw second moment";
        maximize: bool [] = false, MAXIMIZE_DOC;
        eps_inside: bool [] = false, "eps inside the square root: sqrt(avg + eps) (torch: sqrt(avg) + eps)";
    }
}

static SPEC: Spec = Spec {
    name: "rmsprop",
    summary: "RMSprop, optionally centered and with momentum",
    reference: "Hinton 2012 (lecture 6e); Graves 2013 (centered); torch.optim.RMSprop",
    hypers: RmspropHp::HYPERS,
    conventions: &[
        "eps outside the square root (torch); eps_inside=true: sqrt(avg + eps) (TensorFlow)",
        "momentum buffer starts at zero and accumulates g / denominator",
        "weight decay is L2 (added to the gradient)",
    ],
    needs_hessian: false,
    parity: Parity::Torch("RMSprop"),
    variants: &[Variant::tested("centered_momentum", &[("centered", "true"), ("momentum", "0.9")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    alpha: T,
    oma: T,
    avg: Lerp<T>,
    eps: T,
    mom: T,
    neg_lr: T,
    centered: bool,
    eps_inside: bool,
}

#[inline(always)]
fn kernel<T: Float, const S: bool, const C: bool, const M: bool, const EI: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [a, s1, s2, _] = ch.s;
    let a = &mut a[..n];
    // Buffer order: square_avg, [momentum_buffer], [grad_avg].
    let (b, ga): (&mut [T], &mut [T]) = match (M, C) {
        (true, true) => (&mut s1[..n], &mut s2[..n]),
        (true, false) => (&mut s1[..n], s2),
        (false, true) => (s2, &mut s1[..n]),
        (false, false) => (s1, s2),
    };
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let ai = a[i] * k.alpha + k.oma * gi * gi;
        a[i] = ai;
        let var = if C {
            let m = k.avg.get::<S>(ga[i], gi);
            ga[i] = m;
            ai + -m * m
        } else {
            ai
        };
        let den = if EI { (var + k.eps).sqrt() } else { var.sqrt() + k.eps };
        if M {
            let bi = b[i] * k.mom + gi / den;
            b[i] = bi;
            p[i] += k.neg_lr * bi;
        } else {
            p[i] += k.neg_lr * gi / den;
        }
    }
}

impl<T: Float> Algorithm<T> for Rmsprop {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Rmsprop)
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        let hp = RmspropHp::read(hp);
        let mut b = vec![Buffer::zeros("square_avg")];
        if hp.momentum > 0.0 {
            b.push(Buffer::zeros("momentum_buffer"));
        }
        if hp.centered {
            b.push(Buffer::zeros("grad_avg"));
        }
        b
    }
    fn prepare(&self, hp: &Hyper, _ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        let hp = RmspropHp::read(hp);
        let alpha = hp.alpha;
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            alpha: T::of(alpha),
            oma: T::of(1.0 - alpha),
            avg: Lerp::new(1.0 - alpha),
            eps: T::of(hp.eps),
            mom: T::of(hp.momentum),
            neg_lr: T::of(-hp.lr),
            centered: hp.centered,
            eps_inside: hp.eps_inside,
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.avg.low()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        // The momentum buffer exists when the configured momentum is > 0 (a schedule may take the
        // effective value to 0, which the momentum kernel handles exactly).
        let momentum = ch.s.iter().filter(|s| !s.is_empty()).count() == 2 + k.centered as usize;
        match (k.centered, momentum, k.eps_inside) {
            (false, false, false) => kernel::<T, S, false, false, false>(k, ch),
            (false, false, true) => kernel::<T, S, false, false, true>(k, ch),
            (false, true, false) => kernel::<T, S, false, true, false>(k, ch),
            (false, true, true) => kernel::<T, S, false, true, true>(k, ch),
            (true, false, false) => kernel::<T, S, true, false, false>(k, ch),
            (true, false, true) => kernel::<T, S, true, false, true>(k, ch),
            (true, true, false) => kernel::<T, S, true, true, false>(k, ch),
            (true, true, true) => kernel::<T, S, true, true, true>(k, ch),
        }
    }
}
