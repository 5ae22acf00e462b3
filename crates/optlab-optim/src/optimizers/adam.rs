//! Adam (Kingma & Ba 2015) and AMSGrad (Reddi et al. 2018), as torch.optim.Adam.
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2) or, with `decoupled_weight_decay`,
//! `p ← p·(1 − lr·weight_decay)` first (AdamW, Loshchilov & Hutter 2019):
//! - `m ← lerp(m, g', 1 − β1)`, `v ← β2·v + (1 − β2)·g'²`
//! - AMSGrad: `v_max ← max(v_max, v)` and `v_max` replaces `v` below
//! - `p ← p − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps)`
//!
//! Conventions (torch's is the default of each option):
//! - eps placement: torch adds eps outside the square root, after bias correction
//!   (`sqrt(v̂) + eps`); `eps_inside=true` uses `sqrt(v̂ + eps)` instead. (The paper's Algorithm 1
//!   is torch's; TensorFlow/Keras use `epŝ` added to `sqrt(v)` before bias correction, which equals
//!   torch's form with `eps = epŝ·sqrt(1 − β2^t)`.)
//! - `bias_correction=false` drops both corrections (`1 − β^t` factors).
//! - AMSGrad variant: `torch` keeps the running max of the raw `v` and bias-corrects it with
//!   `1 − β2^t`; `paper` (Reddi et al. 2018, Algorithm 2) uses the max of the raw `v` with no bias
//!   correction of either moment. (optax's `amsgrad` takes the max of the bias-corrected `v̂`; not offered.)
//! - `β^t` is computed as a floating-point power, as Python's `beta ** step`.
//!
//! `freeze_steps = k` (default 0) is the "Adam-2k" control of Liu et al. 2020 (RAdam, §3): for the
//! first `k` steps only the second moment is updated (`v`, and `v_max` with AMSGrad); the first
//! moment and the parameters stay fixed (no weight decay either). From step `t = k + 1` on, Adam
//! runs as usual: `v` has had `t` updates and keeps the correction `1 − β2^t`, `m` has had `t − k`
//! and is corrected by `1 − β1^(t−k)`. AdamW shares this (it is the same update).
//! Lower-precision state (`state_dtype=bf16`, not in torch): `m` and `v` are kept as bfloat16,
//! packed into one 32-bit word per element (`moments_bf16`: `m` in the high half), so a step moves
//! 20 bytes per f32 parameter instead of 28. The step itself runs in the element type; the new
//! `m` and `v` are then rounded to f32 and stochastically to bfloat16: the 16 bits dropped are
//! added to a 16-bit random number before truncation, which rounds up with probability equal to
//! the dropped fraction (unbiased). The random numbers are a hash of `state_seed`, the step count
//! and the element's parameter and gradient bits, so a run is reproducible and bit-identical for
//! any thread count and instruction set (no element position enters). AMSGrad is not offered with
//! it.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

pub struct Adam;

crate::choice! {
    /// Which AMSGrad: torch's (max of the raw `v`, bias-corrected) or the paper's (no correction).
    pub enum AmsVariant { Torch = "torch", Paper = "paper" }
}

crate::choice! {
    /// How the moments are stored: in the element type, or as bfloat16 with stochastic rounding.
    pub enum StateDtype { Same = "same", Bf16 = "bf16" }
}

crate::hypers! {
    /// Adam's hyperparameters (AdamW's too, with its own defaults).
    pub struct AdamHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        amsgrad: bool [] = false, "AMSGrad: use the running maximum of v";
        maximize: bool [] = false, MAXIMIZE_DOC;
        decoupled_weight_decay: bool [] = false, DECOUPLED_DOC;
        bias_correction: bool [] = true, "divide the moments by 1 - beta^t";
        eps_inside: bool [] = false, "eps inside the square root: sqrt(v_hat + eps) (torch: sqrt(v_hat) + eps)";
        amsgrad_variant: AmsVariant [] = AmsVariant::Torch,
            "torch: max of raw v, bias-corrected; paper (Reddi et al. 2018): max of raw v, no bias correction";
        freeze_steps: i64 [0, i64::MAX] = 0,
            "Adam-2k: for the first k steps update only v; m and the parameters stay fixed (0: off)";
        state_dtype: StateDtype [] = StateDtype::Same,
            "same: m and v in the parameters' type; bf16: both as bfloat16 with stochastic rounding, packed in one 32-bit word per element (not in torch)";
        state_seed: i64 [0, i64::MAX] = 0, "seed of the stochastic rounding of bf16 state";
    }
}

pub(crate) const CONVENTIONS: &[&str] = &[
    "eps outside the square root after bias correction: sqrt(v_hat) + eps (eps_inside=true: sqrt(v_hat + eps))",
    "amsgrad_variant=torch: max of the raw v, then bias-corrected; =paper: no bias correction at all",
    "weight decay: L2 added to the gradient; decoupled_weight_decay=true: p <- p (1 - lr wd) first (AdamW)",
    "beta^t computed as a float power, like Python's beta ** step",
    "state_dtype=bf16 (optlab's, not torch's): m and v stored as bfloat16 with stochastic rounding seeded by \
     state_seed, the step and the element's parameter and gradient bits; not with amsgrad",
];

static SPEC: Spec = Spec {
    name: "adam",
    summary: "Adam with optional AMSGrad, L2 or decoupled weight decay",
    reference: "Kingma & Ba 2015; Reddi et al. 2018 (AMSGrad); torch.optim.Adam",
    hypers: AdamHp::HYPERS,
    conventions: CONVENTIONS,
    needs_hessian: false,
    parity: Parity::Torch("Adam"),
    variants: &[Variant::new("amsgrad", &[("amsgrad", "true")]), Variant::new("bf16_state", &[("state_dtype", "bf16")])],
};

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    decay: T,
    m: Lerp<T>,
    b2: T,
    omb2: T,
    bc2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step: T,
    ams: bool,
    eps_inside: bool,
    /// A `freeze_steps` step: only `v` (and `v_max`) move.
    frozen: bool,
    /// bf16 state, and the step's key of the stochastic rounding.
    bf16: bool,
    key: u32,
}

/// Coefficients of one Adam step (shared with AdamW, which has the same hyperparameters).
pub(crate) fn coef<T: Float>(hp: &AdamHp, step: u64) -> Coef<T> {
    let (lr, b1, b2, wd) = (hp.lr, hp.beta1, hp.beta2, hp.weight_decay);
    let decoupled = hp.decoupled_weight_decay;
    let ams = hp.amsgrad;
    let corrected = hp.bias_correction && !(ams && hp.amsgrad_variant == AmsVariant::Paper);
    // `m` starts to move after the frozen steps: it has had `step - freeze` updates.
    let freeze = hp.freeze_steps.max(0) as u64;
    let frozen = step <= freeze;
    let m_step = step.saturating_sub(freeze).max(1);
    let (bc1, bc2) = if corrected { (bias_correction(b1, m_step), bias_correction(b2, step)) } else { (1.0, 1.0) };
    Coef {
        prep: GradPrep::new(hp.maximize, if decoupled { 0.0 } else { wd }),
        decay: T::of(if decoupled { 1.0 - lr * wd } else { 1.0 }),
        m: Lerp::new(1.0 - b1),
        b2: T::of(b2),
        omb2: T::of(1.0 - b2),
        bc2: T::of(bc2),
        bc2_sqrt: T::of(bc2.sqrt()),
        eps: T::of(hp.eps),
        neg_step: T::of(-(lr / bc1)),
        ams,
        eps_inside: hp.eps_inside,
        frozen,
        bf16: hp.state_dtype == StateDtype::Bf16,
        key: step_key(hp.state_seed as u64, step),
    }
}

/// The 32-bit key of one step's stochastic rounding (splitmix64 of seed and step).
fn step_key(seed: u64, step: u64) -> u32 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u32
}

/// Refuses settings bf16 state does not support (shared with AdamW).
pub(crate) fn validate(name: &str, hp: &AdamHp) -> Result<()> {
    if hp.state_dtype == StateDtype::Bf16 && hp.amsgrad {
        return Err(crate::error::OptimError::invalid(
            name,
            "state_dtype",
            "bf16 (with amsgrad=true)",
            "same with amsgrad (bf16 state keeps only m and v); or set amsgrad=false",
        ));
    }
    if hp.state_dtype == StateDtype::Bf16 && hp.freeze_steps > 0 {
        return Err(crate::error::OptimError::invalid(
            name,
            "state_dtype",
            "bf16 (with freeze_steps > 0)",
            "same with freeze_steps (the frozen steps keep m and v apart); or set freeze_steps=0",
        ));
    }
    Ok(())
}

/// A 32-bit hash of the step key and two words (vectorisable: 32-bit multiplies and shifts).
#[inline(always)]
fn mix(key: u32, a: u32, b: u32) -> u32 {
    let mut h = (a ^ key).wrapping_mul(0x9E37_79B1);
    h = (h ^ b ^ (h >> 16)).wrapping_mul(0x85EB_CA77);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// f32 bits stochastically rounded to bfloat16 with the random 16 bits `r` (in the low half):
/// up with probability (dropped bits)/2^16. Overflow past the largest bfloat16 gives infinity.
#[inline(always)]
fn round_bf16(bits: u32, r: u32) -> u32 {
    bits.wrapping_add(r & 0xffff) >> 16
}

pub(crate) fn buffers(hp: &AdamHp) -> Vec<Buffer> {
    if hp.state_dtype == StateDtype::Bf16 {
        return vec![Buffer::zeros("moments_bf16")];
    }
    let mut b = vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")];
    if hp.amsgrad {
        b.push(Buffer::zeros("max_exp_avg_sq"));
    }
    b
}

#[inline(always)]
fn kernel<T: Float, const S: bool, const AMS: bool, const EPS_IN: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [m, v, vmax, _] = ch.s;
    let (m, v) = (&mut m[..n], &mut v[..n]);
    let vmax: &mut [T] = if AMS { &mut vmax[..n] } else { vmax };
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let mi = k.m.get::<S>(m[i], gi);
        m[i] = mi;
        let mut vi = v[i] * k.b2 + k.omb2 * gi * gi;
        v[i] = vi;
        if AMS {
            vi = vmax[i].max(vi);
            vmax[i] = vi;
        }
        let denom = if EPS_IN { (vi / k.bc2 + k.eps).sqrt() } else { vi.sqrt() / k.bc2_sqrt + k.eps };
        p[i] = p[i] * k.decay + k.neg_step * mi / denom;
    }
}

/// A frozen step (`freeze_steps`): the second moment only.
#[inline(always)]
fn frozen_kernel<T: Float, const S: bool, const AMS: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (&ch.p[..n], &ch.g[..n]);
    let [_, v, vmax, _] = ch.s;
    let v = &mut v[..n];
    let vmax: &mut [T] = if AMS { &mut vmax[..n] } else { vmax };
    for i in 0..n {
        let gi = k.prep.get::<S>(g[i], p[i]);
        let vi = v[i] * k.b2 + k.omb2 * gi * gi;
        v[i] = vi;
        if AMS {
            vmax[i] = vmax[i].max(vi);
        }
    }
}

/// Adam with bf16 moments packed in one word per element (see the module documentation).
#[inline(always)]
fn kernel_bf16<T: Float, const S: bool, const EPS_IN: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    let n = ch.p.len();
    let (p, g) = (ch.p, &ch.g[..n]);
    let [w, ..] = ch.s;
    let w = &mut w[..n];
    for i in 0..n {
        let word = w[i].load_u32();
        let (m0, v0) = (T::from_f32_bits(word & 0xffff_0000), T::from_f32_bits(word << 16));
        let (pi, gr) = (p[i], g[i]);
        let gi = k.prep.get::<S>(gr, pi);
        let mi = k.m.get::<S>(m0, gi);
        let vi = v0 * k.b2 + k.omb2 * gi * gi;
        let denom = if EPS_IN { (vi / k.bc2 + k.eps).sqrt() } else { vi.sqrt() / k.bc2_sqrt + k.eps };
        p[i] = pi * k.decay + k.neg_step * mi / denom;
        let h = mix(k.key, pi.f32_bits(), gr.f32_bits());
        w[i] = T::store_u32((round_bf16(mi.f32_bits(), h) << 16) | round_bf16(vi.f32_bits(), h >> 16));
    }
}

/// Whether the short forms apply (shared with AdamW; see [`Algorithm::simple`]).
pub(crate) fn simple<T: Float>(k: &Coef<T>) -> bool {
    k.prep.plain() && k.m.low()
}

/// The fused Adam pass (shared with AdamW).
#[inline(always)]
pub(crate) fn update<T: Float, const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
    if k.frozen {
        return if k.ams { frozen_kernel::<T, S, true>(k, ch) } else { frozen_kernel::<T, S, false>(k, ch) };
    }
    if k.bf16 {
        return if k.eps_inside { kernel_bf16::<T, S, true>(k, ch) } else { kernel_bf16::<T, S, false>(k, ch) };
    }
    match (k.ams, k.eps_inside) {
        (false, false) => kernel::<T, S, false, false>(k, ch),
        (false, true) => kernel::<T, S, false, true>(k, ch),
        (true, false) => kernel::<T, S, true, false>(k, ch),
        (true, true) => kernel::<T, S, true, true>(k, ch),
    }
}

impl<T: Float> Algorithm<T> for Adam {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adam)
    }
    fn validate(hp: &Hyper) -> Result<()> {
        validate("adam", &AdamHp::read(hp))
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        buffers(&AdamHp::read(hp))
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef<T>> {
        Ok(coef(&AdamHp::read(hp), ctx.step))
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        simple(k)
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        update::<T, S>(k, ch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{registry, Layout, OptimConfig};

    /// Adam-2k by hand: k = 2 frozen steps move only v; step 3 is Adam's first step of m, with
    /// m corrected by 1 - b1^1 and v (three updates) by 1 - b2^3; step 4 by 1 - b1^2, 1 - b2^4.
    /// AdamW (decoupled decay) does not decay during the frozen steps.
    #[test]
    fn freeze_steps_updates_only_the_second_moment_by_hand() {
        let (lr, b1, b2, eps) = (0.1, 0.8, 0.9, 1e-8);
        let gs = [[1.0, -2.0], [0.5, 4.0], [-1.0, 1.0], [2.0, 0.25]];
        for (name, wd) in [("adam", 0.0), ("adamw", 0.1)] {
            let cfg = OptimConfig::new(name)
                .set("lr", lr)
                .set("beta1", b1)
                .set("beta2", b2)
                .set("eps", eps)
                .set("weight_decay", wd)
                .set("freeze_steps", 2);
            let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
            let mut p = vec![0.5, -1.5];
            let mut want = p.clone();
            let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
            for (t, g) in gs.iter().enumerate() {
                let t = t as i32 + 1;
                o.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
                for i in 0..2 {
                    v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                    if t > 2 {
                        want[i] *= 1.0 - lr * wd;
                        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                        let mhat = m[i] / (1.0 - b1.powi(t - 2));
                        let vhat = v[i] / (1.0 - b2.powi(t));
                        want[i] -= lr * mhat / (vhat.sqrt() + eps);
                    }
                }
                for i in 0..2 {
                    assert!((p[i] - want[i]).abs() <= 1e-14, "{name} step {t}: {:?} vs {:?}", p, want);
                }
                if t <= 2 {
                    assert_eq!(p, vec![0.5, -1.5], "{name}: frozen step {t} moved the parameters");
                }
                let st = o.state();
                let find = |key: &str| st.tensors[0].buffers.iter().find(|(n, _)| n == key).unwrap().1.clone();
                // (The kernel's m is a lerp, m + (1 − b1)(g − m): equal within rounding.)
                let ms = find("exp_avg");
                assert!(ms.iter().zip(&m).all(|(a, b)| (a - b).abs() <= 1e-15), "{name} step {t}: m {ms:?} vs {m:?}");
                if t <= 2 {
                    assert_eq!(ms, vec![0.0; 2], "{name}: frozen step {t} moved m");
                }
                let vs = find("exp_avg_sq");
                assert!(vs.iter().zip(&v).all(|(a, b)| (a - b).abs() <= 1e-15), "{name} step {t}: v {vs:?} vs {v:?}");
            }
        }
    }

    /// freeze_steps = 0 is plain Adam, bit for bit.
    #[test]
    fn freeze_steps_zero_is_adam() {
        let run = |cfg: &OptimConfig| {
            let mut o = registry::build::<f64>(Layout::single("x", 3), cfg).unwrap();
            let mut p = vec![1.0, -2.0, 0.5];
            for t in 0..5 {
                let g: Vec<f64> = p.iter().map(|x| x * 2.0 + t as f64).collect();
                o.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
            }
            p
        };
        assert_eq!(run(&OptimConfig::new("adam")), run(&OptimConfig::new("adam").set("freeze_steps", 0)));
        let e = registry::build::<f64>(Layout::single("x", 1), &OptimConfig::new("adam").set("freeze_steps", -1));
        assert!(e.err().unwrap().to_string().contains("freeze_steps"));
        let e = registry::build::<f32>(
            Layout::single("x", 1),
            &OptimConfig::new("adam").set("freeze_steps", 2).set("state_dtype", "bf16"),
        );
        let e = e.err().unwrap().to_string();
        assert!(e.contains("state_dtype") && e.contains("freeze_steps"), "{e}");
    }

    /// Stochastic rounding to bf16 is unbiased: halfway between two bf16 neighbours, half the
    /// random numbers round up; exact bf16 values never move.
    #[test]
    fn stochastic_rounding_is_unbiased_and_exact_on_bf16_values() {
        // bf16 keeps 7 mantissa bits: 1 + 3/128 is one, x is a quarter of the way to the next.
        let x = 1.0f32 + 3.0 / 128.0 + 0.25 / 128.0;
        let up = (0..1u32 << 16).filter(|r| round_bf16(x.to_bits(), *r) != x.to_bits() >> 16).count();
        assert_eq!(up, 1 << 14, "a quarter of the 2^16 draws round up");
        let exact = (1.0f32 + 3.0 / 128.0).to_bits();
        assert!((0..1u32 << 16).all(|r| round_bf16(exact, r) == exact >> 16));
    }

    /// bf16 state gives the same bits for any thread count and instruction set (a tensor of
    /// several chunks, run in parallel).
    #[test]
    fn bf16_state_does_not_depend_on_threads_or_instruction_set() {
        let n = 2 * crate::engine::CHUNK + 777;
        let l = Layout::new().with("w", &[n]).unwrap().with("b", &[9]).unwrap();
        let mut out = Vec::new();
        for (threads, simd) in [(1, crate::Simd::Base), (3, crate::Simd::Auto), (2, crate::Simd::Avx2)] {
            let cfg = OptimConfig::new("adamw").set("state_dtype", "bf16").set("state_seed", 3).threads(threads).simd(simd);
            let mut o = registry::build::<f32>(l.clone(), &cfg).unwrap();
            let mut w: Vec<f32> = (0..n).map(|i| ((i * 7919 % 2003) as f32 - 1001.0) * 1e-3).collect();
            let mut b = vec![0.25f32; 9];
            for s in 0..3 {
                let gw: Vec<f32> = w.iter().enumerate().map(|(i, x)| x * 0.5 + ((i + s) % 13) as f32 * 1e-3).collect();
                let gb = [0.1f32 * (s as f32 + 1.0); 9];
                o.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]], None).unwrap();
            }
            let bits: Vec<u32> = w.iter().chain(&b).map(|x| x.to_bits()).collect();
            let st: Vec<u32> = o.state().tensors[0].buffers[0].1.iter().map(|x| x.to_bits()).collect();
            out.push((bits, st));
        }
        assert!(out.windows(2).all(|p| p[0] == p[1]), "bf16 state depends on threads or instruction set");
    }

    /// bf16 state follows f32 state closely, is reproducible, depends on the seed, and is one
    /// 32-bit word per element; amsgrad is refused with it.
    #[test]
    fn bf16_state_tracks_f32_state_and_is_seeded() {
        let l = Layout::single("x", 1000);
        let run = |set: &[(&str, &str)]| {
            let cfg = set.iter().fold(OptimConfig::new("adam").set("lr", 1e-2), |c, (k, v)| c.set(k, v));
            let mut o = registry::build::<f32>(l.clone(), &cfg).unwrap();
            let mut x: Vec<f32> = (0..1000).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            for _ in 0..50 {
                let g: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
                o.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            }
            (x, o.state_elements())
        };
        let (full, n_full) = run(&[]);
        let (half, n_half) = run(&[("state_dtype", "bf16")]);
        let (again, _) = run(&[("state_dtype", "bf16")]);
        let (other, _) = run(&[("state_dtype", "bf16"), ("state_seed", "7")]);
        assert_eq!((n_full, n_half), (2000, 1000));
        assert_eq!(half, again);
        assert_ne!(half, other);
        let worst = full.iter().zip(&half).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 0.02, "bf16 state drifted {worst} from f32 state");
        let e = registry::build::<f32>(l, &OptimConfig::new("adam").set("state_dtype", "bf16").set("amsgrad", true))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("state_dtype") && e.contains("amsgrad"), "{e}");
    }
}
