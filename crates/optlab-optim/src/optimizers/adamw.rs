//! AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, as torch.optim.AdamW —
//! `p ← p·(1 − lr·weight_decay)` before the Adam update (the decay is tied to lr, as in torch;
//! the paper's schedule multiplier η_t scales both). Default weight_decay 0.01 (torch).
//! Shares Adam's kernel and conventions; see [`super::adam`].

use super::adam::{self, AdamHp, CONVENTIONS};
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{with_doc, Hyper, HyperSpec, Parity, Spec, Variant};

pub struct AdamW;

/// Adam's hyperparameters, by name and type, with AdamW's defaults (torch): decoupled decay 0.01.
const DEFAULTS: AdamHp = AdamHp { weight_decay: 0.01, decoupled_weight_decay: true, ..AdamHp::DEFAULT };
const HYPERS: [HyperSpec; AdamHp::LEN] = with_doc(
    with_doc(AdamHp::specs(DEFAULTS), "weight_decay", "decoupled weight decay coefficient"),
    "decoupled_weight_decay",
    "decoupled (true, AdamW) or L2 (false, plain Adam)",
);

static SPEC: Spec = Spec {
    name: "adamw",
    summary: "Adam with decoupled weight decay",
    reference: "Loshchilov & Hutter 2019; torch.optim.AdamW",
    hypers: &HYPERS,
    conventions: CONVENTIONS,
    needs_hessian: false,
    parity: Parity::Torch("AdamW"),
    variants: &[Variant::new("bf16_state", &[("state_dtype", "bf16")])],
};

impl<T: Float> Algorithm<T> for AdamW {
    type Coef = adam::Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdamW)
    }
    fn validate(hp: &Hyper) -> Result<()> {
        adam::validate("adamw", &AdamHp::read(hp))
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        adam::buffers(&AdamHp::read(hp))
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<adam::Coef<T>> {
        Ok(adam::coef(&AdamHp::read(hp), ctx.step))
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &adam::Coef<T>) -> bool {
        adam::simple(k)
    }
    #[inline(always)]
    fn update<const S: bool>(k: &adam::Coef<T>, ch: Chunk<'_, T>) {
        adam::update::<T, S>(k, ch)
    }
}
