//! AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, as torch.optim.AdamW —
//! `p ← p·(1 − lr·weight_decay)` before the Adam update (the decay is tied to lr, as in torch;
//! the paper's schedule multiplier η_t scales both). Default weight_decay 0.01 (torch).
//! Shares Adam's kernel and conventions; see [`super::adam`].

use super::adam::{self, AMSGRAD_SPEC, AMS_VARIANT_SPEC, BIAS_CORRECTION_SPEC, CONVENTIONS, EPS_INSIDE_SPEC};
use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, HyperSpec, Kind, Spec};

pub struct AdamW;

static SPEC: Spec = Spec {
    name: "adamw",
    summary: "Adam with decoupled weight decay",
    reference: "Loshchilov & Hutter 2019; torch.optim.AdamW",
    hypers: &[
        LR_1E3,
        BETA1,
        BETA2,
        EPS_1E8,
        HyperSpec::float("weight_decay", 0.01, Kind::NONNEG, "decoupled weight decay coefficient"),
        AMSGRAD_SPEC,
        MAXIMIZE,
        HyperSpec::boolean("decoupled_weight_decay", true, "decoupled (true, AdamW) or L2 (false, plain Adam)"),
        BIAS_CORRECTION_SPEC,
        EPS_INSIDE_SPEC,
        AMS_VARIANT_SPEC,
    ],
    conventions: CONVENTIONS,
    needs_hessian: false,
};

impl<T: Float> Algorithm<T> for AdamW {
    type Coef = adam::Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdamW)
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        adam::buffers(hp)
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<adam::Coef<T>> {
        Ok(adam::coef(hp, ctx.step))
    }
    fn simple(k: &adam::Coef<T>) -> bool {
        adam::simple(k)
    }
    #[inline(always)]
    fn update<const S: bool>(k: &adam::Coef<T>, ch: Chunk<'_, T>) {
        adam::update::<T, S>(k, ch)
    }
}
