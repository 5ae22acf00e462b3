//! Adam with exponentially decaying betas (experimental): `β1` and `β2` are multiplied by
//! `e^(−λt)`.
//!
//! Per element, with `g' = ±g + weight_decay·p` (L2) and the betas of this step
//! `β1,t = β1·γ^t`, `β2,t = β2·γ^t`, `γ = e^(−lambda)` (`t` = steps, or epochs with
//! `time_unit=epochs`, taken before this step: 0 at the first step):
//! - `m ← lerp(m, g', 1 − β1,t)`, `v ← β2,t·v + (1 − β2,t)·g'²` (exactly adam's arithmetic)
//! - `p ← p − lr/(1 − P1) · m / (sqrt(v)/sqrt(1 − P2) + eps)`, where `Pk = Π_{i≤n} βk,i` is the
//!   product of the betas of every step taken so far, this one included (`n` = 1-based step).
//!
//! The decay is not special code: [`Algorithm::implied_schedules`] returns the schedules
//! `beta1=exponential(gamma=e^(−lambda))` and `beta2=exponential(gamma=e^(−lambda))`, per epoch
//! when `time_unit=epochs`, and the engine applies them like any user schedule (so the value at
//! time `t` is `β·γ^t` with `γ` rounded to f64 once: relative difference from `β·e^(−λt)` at most
//! about `t·2^-53`). A user schedule on `beta1` or `beta2` replaces the implied one for that key
//! (the other keeps decaying), and any schedule works: the kernel only sees this step's betas.
//! `lambda=0` implies no schedule at all: the optimizer is then `adam` (L2 weight decay, no
//! AMSGrad), bit for bit. `lambda` is read when the optimizer is built (it defines the implied
//! schedules); scheduling `lambda` itself has no effect. `lambda ≤ 700` keeps `γ` a positive
//! normal float (an `exponential` schedule needs `gamma > 0`; `e^(−745)` is already 0); any
//! `lambda` above about 40 makes the betas negligible (< 1e-17) from the second step (or epoch) on.
//!
//! Default `lambda = 1e-3` per step: the betas halve every `ln 2/λ ≈ 693` steps
//! (`β1 = 0.9·e^(−1) ≈ 0.33` after 1000 steps, `≈ 0.006` after 5000), so over a typical short
//! run the method moves from Adam towards a normalised-gradient (sign-like) method, which is the
//! point of the experiment. Kingma & Ba's convergence analysis (and early versions of their
//! Algorithm 1) decay only `β1`, by `λ_KB = 1 − 1e-8` per step, which is `lambda ≈ 1e-8` here
//! (applied to both betas).
//!
//! Bias correction (`bias_correction=product`, the default): the exact correction of a
//! time-varying EMA. Unrolling `m_n = β_n m_(n−1) + (1 − β_n) g_n` from `m_0 = 0`, the weights of
//! `g_1..g_n` sum to `1 − Π_{i≤n} β_i`, so dividing by that makes `m̂` an average (weights summing
//! to 1) whatever the betas did. The product is per-tensor scalar state, so resuming from a saved
//! state is exact. It is kept as runs of equal betas: `prefix·β^k` with `prefix` the product
//! over the steps before the current run, `β` the run's value and `k` its length, `β^k` a float
//! power as Python's `beta ** step`. With constant betas this is `1·β^n`, exactly adam's
//! `1 − β^n` (hence `lambda=0` is adam bit for bit); with betas changing every step it is the
//! plain running product; piecewise-constant schedules (`time_unit=epochs`, `step`,
//! `multistep`) take one power per run.
//!
//! `bias_correction=torch` uses `1 − β_n^n` with this step's beta, which is what torch.optim.Adam
//! computes when its betas are changed between steps (e.g. CyclicLR's `cycle_momentum=True`
//! writes `betas[0]` every step, and Adam then uses `1 − beta1**step`). For decaying betas
//! `β_n ≤ β_i` (i ≤ n), so `β_n^n ≤ Π β_i`: torch divides by a larger `1 − β_n^n` and
//! under-corrects. Example, `β1 = 0.9`, `λ = 0.1`, step 2: `β1,2 = 0.9·e^(−0.1) = 0.814354`,
//! product `0.9·0.814354 = 0.732918` → `1 − P1 = 0.267082`; torch `1 − 0.814354² = 0.336828`
//! (26% larger, so its `m̂` is 21% smaller). For increasing betas torch over-corrects. Both agree
//! with constant betas, and (for decaying betas) once both products are negligible.
//! `bias_correction=torch` with `lambda > 0` is adam with explicit `exponential` schedules on
//! beta1 and beta2, bit for bit.

use super::common::*;
use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};
use crate::schedule::Schedule;

pub struct AdamScheduledBetas;


crate::choice! {
    /// What `t` counts in `e^(-lambda t)`.
    pub enum TimeUnit { Steps = "steps", Epochs = "epochs" }
}

crate::choice! {
    /// The bias correction of the moments.
    pub enum BiasCorrection { Product = "product", Torch = "torch" }
}

crate::hypers! {
    /// The hyperparameters.
    pub struct AdamScheduledBetasHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        beta1: f64 [Kind::UNIT_OPEN] = 0.9, BETA1_DOC;
        beta2: f64 [Kind::UNIT_OPEN] = 0.999, BETA2_DOC;
        eps: f64 [Kind::POS] = 1e-8, EPS_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.0, WEIGHT_DECAY_DOC;
        maximize: bool [] = false, MAXIMIZE_DOC;
        lambda: f64 [Kind::Float { lo: 0.0, hi: 700.0, lo_open: false, hi_open: false }] = 1e-3,
            "decay rate of the betas: beta <- beta e^(-lambda t) (read at build time; 0: plain adam)";
        time_unit: TimeUnit [] = TimeUnit::Steps, "what t counts in e^(-lambda t): optimizer steps or ended epochs";
        bias_correction: BiasCorrection [] = BiasCorrection::Product,
            "product: 1 - prod of the betas so far (exact for varying betas); torch: 1 - beta_t^t";
    }
}

static SPEC: Spec = Spec {
    name: "adam_scheduled_betas",
    summary: "Adam whose beta1 and beta2 decay as e^(-lambda t) (experimental)",
    reference: "experimental; Kingma & Ba 2015 (Adam; beta1 decay in its convergence analysis)",
    hypers: AdamScheduledBetasHp::HYPERS,
    conventions: &[
        "the decay is an implied schedule beta=exponential(gamma=e^(-lambda)) (per epoch with time_unit=epochs); \
         a user schedule on beta1 or beta2 replaces it for that key",
        "bias correction 1 - prod_i beta_i over the steps taken (exact for time-varying betas, scalar state); \
         torch.optim.Adam with changing betas uses 1 - beta_t^t (bias_correction=torch)",
        "otherwise adam's arithmetic: lerp for m, eps outside the square root after bias correction, L2 weight decay",
    ],
    needs_hessian: false,
    parity: Parity::Hand,
    variants: &[],
};

/// Per-tensor scalar state: for each beta, the product over the steps before the current run of
/// equal values, the run's value, and its length.
const SCALARS: &[(&str, f64)] = &[
    ("beta1_prefix", 1.0),
    ("beta1_run_value", 0.0),
    ("beta1_run_length", 0.0),
    ("beta2_prefix", 1.0),
    ("beta2_run_value", 0.0),
    ("beta2_run_length", 0.0),
];

/// Appends `beta` to the product kept as `[prefix, run value, run length]` and returns
/// `Π β_i` over all steps so far, `prefix·value^length`.
fn push_beta(s: &mut [f64], beta: f64) -> f64 {
    if beta != s[1] {
        s[0] *= s[1].powf(s[2]);
        s[1] = beta;
        s[2] = 0.0;
    }
    s[2] += 1.0;
    s[0] * s[1].powf(s[2])
}

#[derive(Clone, Copy)]
pub struct Coef<T> {
    prep: GradPrep<T>,
    m: Lerp<T>,
    b2: T,
    omb2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step: T,
}

impl<T: Float> Algorithm<T> for AdamScheduledBetas {
    type Coef = Coef<T>;
    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(AdamScheduledBetas)
    }
    fn implied_schedules(hp: &Hyper) -> Vec<(&'static str, Schedule, bool)> {
        let hp = AdamScheduledBetasHp::read(hp);
        let lambda = hp.lambda;
        if lambda == 0.0 {
            return Vec::new();
        }
        let decay = Schedule::Exponential { gamma: (-lambda).exp() };
        let per_epoch = hp.time_unit == TimeUnit::Epochs;
        vec![("beta1", decay.clone(), per_epoch), ("beta2", decay, per_epoch)]
    }
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")]
    }
    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        SCALARS
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = AdamScheduledBetasHp::read(hp);
        let (lr, b1, b2) = (hp.lr, hp.beta1, hp.beta2);
        let (p1, p2) = (push_beta(&mut s[0..3], b1), push_beta(&mut s[3..6], b2));
        let (bc1, bc2) = if hp.bias_correction == BiasCorrection::Torch {
            (bias_correction(b1, ctx.step), bias_correction(b2, ctx.step))
        } else {
            (1.0 - p1, 1.0 - p2)
        };
        Ok(Coef {
            prep: GradPrep::new(hp.maximize, hp.weight_decay),
            m: Lerp::new(1.0 - b1),
            b2: T::of(b2),
            omb2: T::of(1.0 - b2),
            bc2_sqrt: T::of(bc2.sqrt()),
            eps: T::of(hp.eps),
            neg_step: T::of(-(lr / bc1)),
        })
    }
    const SHORT_FORM: bool = true;
    fn simple(k: &Coef<T>) -> bool {
        k.prep.plain() && k.m.low()
    }
    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [m, v, ..] = ch.s;
        let (m, v) = (&mut m[..n], &mut v[..n]);
        for i in 0..n {
            let gi = k.prep.get::<S>(g[i], p[i]);
            let mi = k.m.get::<S>(m[i], gi);
            m[i] = mi;
            let vi = v[i] * k.b2 + k.omb2 * gi * gi;
            v[i] = vi;
            p[i] += k.neg_step * mi / (vi.sqrt() / k.bc2_sqrt + k.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{registry, Layout, OptimConfig, Optimizer};

    fn build<T: registry::RegistryFloat>(n: usize, cfg: &OptimConfig) -> Box<dyn Optimizer<T>> {
        registry::build::<T>(Layout::single("x", n), cfg).unwrap()
    }

    fn cfg(set: &[(&str, &str)]) -> OptimConfig {
        set.iter().fold(OptimConfig::new("adam_scheduled_betas"), |c, (k, v)| c.set(k, v))
    }

    fn close(a: f64, b: f64, rtol: f64) -> bool {
        (a - b).abs() <= rtol * b.abs().max(1e-300)
    }

    /// A deterministic, step-dependent gradient with both signs and varied magnitudes.
    fn grad(x: &[f64], step: usize) -> Vec<f64> {
        x.iter().enumerate().map(|(i, &xi)| (i as f64 + 0.5) * xi + ((step * 7 + i * 3) as f64).sin()).collect()
    }

    /// Two steps with lambda = 0.1 computed by hand: beta_{k,2} = beta_k e^(-0.1), bias
    /// corrections 1 - beta_k and 1 - beta_k * beta_k e^(-0.1).
    #[test]
    fn first_two_steps_by_hand() {
        let mut opt = build::<f64>(2, &cfg(&[("lambda", "0.1"), ("lr", "0.01")]));
        let (lr, eps) = (0.01, 1e-8);
        let mut x = vec![1.0, -2.0];
        let (g1, g2) = ([0.5, -3.0], [-1.0, 2.0]);
        opt.step(&mut [&mut x[..]], &[&g1[..]], None).unwrap();
        // Step 1: beta1 = 0.9, beta2 = 0.999, m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g².
        let mut want = [1.0 - lr * 0.5 / (0.5 + eps), -2.0 + lr * 3.0 / (3.0 + eps)];
        assert!(close(x[0], want[0], 1e-15) && close(x[1], want[1], 1e-15), "{x:?} vs {want:?}");
        assert_eq!(opt.current(0, "beta1"), Some(0.9 * (-0.1f64).exp()));
        opt.step(&mut [&mut x[..]], &[&g2[..]], None).unwrap();
        let (b1, b2) = (0.9 * (-0.1f64).exp(), 0.999 * (-0.1f64).exp());
        let bc1 = 1.0 - 0.9 * b1;
        let bc2 = 1.0 - 0.999 * b2;
        for i in 0..2 {
            let m = b1 * (0.1 * g1[i]) + (1.0 - b1) * g2[i];
            let v = b2 * (0.001 * g1[i] * g1[i]) + (1.0 - b2) * g2[i] * g2[i];
            want[i] -= lr * (m / bc1) / ((v / bc2).sqrt() + eps);
        }
        assert!(close(x[0], want[0], 1e-14) && close(x[1], want[1], 1e-14), "{x:?} vs {want:?}");
        // The documented example: 1 - P1 at step 2 is 0.267082, torch's would be 0.336828.
        assert!((bc1 - 0.267082).abs() < 1e-6 && (1.0 - b1 * b1 - 0.336828).abs() < 1e-6);
    }

    /// The run-length product against a plain running product, over constant, changing and
    /// zero betas; constant runs from the start give exactly `beta.powf(n)` (adam's form).
    #[test]
    fn product_of_betas_is_exact_and_equals_the_power_when_constant() {
        let mut s = [1.0, 0.0, 0.0];
        for n in 1..=60 {
            assert_eq!(push_beta(&mut s, 0.999), 0.999f64.powf(n as f64));
        }
        let betas = [0.9, 0.9, 0.9, 0.5, 0.8, 0.8, 0.95, 0.95, 0.95, 0.95, 0.0, 0.7, 0.7];
        let (mut s, mut running) = ([1.0, 0.0, 0.0], 1.0);
        for b in betas {
            running *= b;
            let p = push_beta(&mut s, b);
            assert!(close(p, running, 1e-15) || p == running, "{p} vs {running}");
        }
        assert_eq!(push_beta(&mut s, 0.7), 0.0, "a zero beta resets the product for good");
        // A zero beta at the very first step.
        assert_eq!(push_beta(&mut [1.0, 0.0, 0.0], 0.0), 0.0);
    }

    /// lambda = 0 is plain adam, bit for bit, over 50 steps (also with L2 decay and maximize).
    #[test]
    fn lambda_zero_is_adam_bit_for_bit() {
        for extra in [&[][..], &[("weight_decay", "0.1"), ("maximize", "true")][..]] {
            let mut a = build::<f64>(5, &extra.iter().fold(OptimConfig::new("adam"), |c, (k, v)| c.set(k, v)));
            let mut ours = cfg(&[("lambda", "0")]);
            for (k, v) in extra {
                ours = ours.set(k, v);
            }
            let mut b = build::<f64>(5, &ours);
            let (mut xa, mut xb) = (vec![1.0, -2.0, 0.5, 3.0, -0.25], vec![1.0, -2.0, 0.5, 3.0, -0.25]);
            for s in 0..50 {
                let (ga, gb) = (grad(&xa, s), grad(&xb, s));
                a.step(&mut [&mut xa[..]], &[&ga[..]], None).unwrap();
                b.step(&mut [&mut xb[..]], &[&gb[..]], None).unwrap();
                assert_eq!(xa, xb, "step {s}");
            }
            assert_eq!(a.state().tensors[0].buffers, b.state().tensors[0].buffers);
        }
    }

    /// lambda > 0 against a hand loop with the product correction, 50 steps.
    #[test]
    fn product_correction_against_a_hand_loop() {
        let lambda = 0.02;
        let mut opt = build::<f64>(3, &cfg(&[("lambda", "0.02")]));
        let mut x = vec![0.3, -1.0, 2.0];
        let mut y = x.clone();
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        let (mut p1, mut p2) = (1.0, 1.0);
        for s in 0..50 {
            let g = grad(&x, s);
            opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            let gy = grad(&y, s);
            let (b1, b2) = (0.9 * (-lambda * s as f64).exp(), 0.999 * (-lambda * s as f64).exp());
            p1 *= b1;
            p2 *= b2;
            for i in 0..3 {
                m[i] = b1 * m[i] + (1.0 - b1) * gy[i];
                v[i] = b2 * v[i] + (1.0 - b2) * gy[i] * gy[i];
                y[i] -= 1e-3 * (m[i] / (1.0 - p1)) / ((v[i] / (1.0 - p2)).sqrt() + 1e-8);
            }
            for i in 0..3 {
                assert!(close(x[i], y[i], 1e-12), "step {s}: {x:?} vs {y:?}");
            }
        }
        // ... and it is not torch's correction: adam with the same explicit schedules differs.
        let sched = Schedule::parse(&format!("exponential(gamma={})", (-lambda).exp())).unwrap();
        let mut a =
            build::<f64>(3, &OptimConfig::new("adam").schedule("beta1", sched.clone()).schedule("beta2", sched));
        let mut z = vec![0.3, -1.0, 2.0];
        for s in 0..50 {
            let g = grad(&z, s);
            a.step(&mut [&mut z[..]], &[&g[..]], None).unwrap();
        }
        assert!(z.iter().zip(&x).any(|(a, b)| (a - b).abs() > 1e-6), "{z:?} vs {x:?}");
    }

    /// bias_correction=torch with lambda > 0 is adam with explicit exponential schedules, bit for bit.
    #[test]
    fn torch_correction_is_adam_with_explicit_schedules() {
        let sched = Schedule::parse(&format!("exponential(gamma={})", (-0.05f64).exp())).unwrap();
        let mut a =
            build::<f64>(4, &OptimConfig::new("adam").schedule("beta1", sched.clone()).schedule("beta2", sched));
        let mut b = build::<f64>(4, &cfg(&[("lambda", "0.05"), ("bias_correction", "torch")]));
        let (mut xa, mut xb) = (vec![1.0, -1.0, 0.1, 5.0], vec![1.0, -1.0, 0.1, 5.0]);
        for s in 0..50 {
            assert_eq!(a.current(0, "beta1"), b.current(0, "beta1"));
            assert_eq!(a.current(0, "beta2"), b.current(0, "beta2"));
            let (ga, gb) = (grad(&xa, s), grad(&xb, s));
            a.step(&mut [&mut xa[..]], &[&ga[..]], None).unwrap();
            b.step(&mut [&mut xb[..]], &[&gb[..]], None).unwrap();
            assert_eq!(xa, xb, "step {s}");
        }
    }

    /// A user schedule on beta1 replaces the implied one; beta2 keeps decaying.
    #[test]
    fn user_schedule_overrides_the_implied_one() {
        let c = cfg(&[("lambda", "0.1")]).schedule("beta1", Schedule::parse("constant").unwrap());
        let mut opt = build::<f64>(1, &c);
        let mut x = [1.0];
        for _ in 0..3 {
            opt.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        }
        assert_eq!(opt.current(0, "beta1"), Some(0.9));
        assert_eq!(opt.current(0, "beta2"), Some(0.999 * (-0.1f64).exp().powf(3.0)));
        // Run-length state: beta1 constant for 3 steps, beta2 a new value each step.
        let sc = &opt.state().tensors[0].scalars;
        assert_eq!((sc[0].1, sc[1].1, sc[2].1), (1.0, 0.9, 3.0));
        assert_eq!(sc[5].1, 1.0);
    }

    /// time_unit=epochs: the betas change only at epoch ends; the correction multiplies runs.
    #[test]
    fn epochs_as_time_unit() {
        let mut opt = build::<f64>(2, &cfg(&[("lambda", "0.5"), ("time_unit", "epochs")]));
        let mut x = vec![1.0, -1.0];
        let mut y = x.clone();
        let (mut m, mut v, mut p1, mut p2) = ([0.0; 2], [0.0; 2], 1.0, 1.0);
        for s in 0..9 {
            let e = (s / 3) as f64;
            let (b1, b2) = (0.9 * (-0.5f64).exp().powf(e), 0.999 * (-0.5f64).exp().powf(e));
            assert_eq!(opt.current(0, "beta1"), Some(b1));
            let g = grad(&x, s);
            opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            p1 *= b1;
            p2 *= b2;
            for i in 0..2 {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                y[i] -= 1e-3 * (m[i] / (1.0 - p1)) / ((v[i] / (1.0 - p2)).sqrt() + 1e-8);
            }
            assert!(close(x[0], y[0], 1e-12) && close(x[1], y[1], 1e-12), "step {s}: {x:?} vs {y:?}");
            if s % 3 == 2 {
                opt.end_epoch();
            }
        }
    }

    /// lambda is capped at 700 so that e^(-lambda) stays a valid exponential gamma (> 0).
    #[test]
    fn largest_lambda() {
        let e = registry::build::<f64>(Layout::single("x", 1), &cfg(&[("lambda", "700.5")])).err().unwrap().to_string();
        assert!(e.contains("`lambda`") && e.contains("[0, 700]"), "{e}");
        let mut opt = build::<f64>(1, &cfg(&[("lambda", "700")]));
        let mut x = vec![1.0];
        for _ in 0..4 {
            opt.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        }
        // Betas 0.9, ~9e-305, 0, 0: from step 3 on m = g, v = g², no correction: x -= lr·g/(|g| + eps).
        assert_eq!(opt.current(0, "beta1"), Some(0.0));
        assert!(close(x[0], 1.0 - 4e-3, 1e-9), "{x:?}");
    }

    #[test]
    fn zero_gradient_does_not_move() {
        let mut opt = build::<f64>(2, &cfg(&[]));
        let mut x = vec![1.0, -1.0];
        for _ in 0..3 {
            opt.step(&mut [&mut x[..]], &[&[0.0, 0.0][..]], None).unwrap();
        }
        assert_eq!(x, vec![1.0, -1.0]);
        assert!(opt.state().tensors[0].buffers.iter().all(|(_, b)| b.iter().all(|&z| z == 0.0)));
    }

    #[test]
    fn f32_agrees_with_f64() {
        let c = cfg(&[("lambda", "0.05"), ("lr", "0.01")]);
        let (mut a, mut b) = (build::<f64>(3, &c), build::<f32>(3, &c));
        let mut x = vec![1.0, -2.0, 0.5];
        let mut y: Vec<f32> = x.iter().map(|&z| z as f32).collect();
        for s in 0..10 {
            let g = grad(&x, s);
            let gf: Vec<f32> = g.iter().map(|&z| z as f32).collect();
            a.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            b.step(&mut [&mut y[..]], &[&gf[..]], None).unwrap();
            for i in 0..3 {
                assert!((x[i] - y[i] as f64).abs() < 1e-5, "step {s}: {x:?} vs {y:?}");
            }
        }
    }

    /// Save after 20 steps (mid-epoch), load into a fresh optimizer, 20 more: equal to 40 straight.
    #[test]
    fn resume_is_exact() {
        for unit in ["steps", "epochs"] {
            let c = cfg(&[("lambda", "0.03"), ("time_unit", unit)]);
            let run = |opt: &mut dyn Optimizer<f64>, x: &mut Vec<f64>, from: usize, n: usize| {
                for s in from..from + n {
                    let g = grad(x, s);
                    opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
                    if s % 7 == 6 {
                        opt.end_epoch();
                    }
                }
            };
            let mut a = build::<f64>(3, &c);
            let mut xa = vec![1.0, 2.0, -3.0];
            run(a.as_mut(), &mut xa, 0, 40);
            let mut b = build::<f64>(3, &c);
            let mut xb = vec![1.0, 2.0, -3.0];
            run(b.as_mut(), &mut xb, 0, 20);
            let st = b.state();
            let mut fresh = build::<f64>(3, &c);
            fresh.load_state(&st).unwrap();
            run(fresh.as_mut(), &mut xb, 20, 20);
            assert_eq!(xa, xb, "{unit}");
            assert_eq!(a.state(), fresh.state(), "{unit}");
        }
    }
}
