//! YellowFin (Zhang & Mitliagkas 2017, "YellowFin and the Art of Momentum Tuning"): momentum SGD
//! whose learning rate and momentum are tuned every step from gradient statistics, as the
//! authors' PyTorch code (JianGoForIt/YellowFin_Pytorch, `tuner_utils/yellowfin.py`, class
//! `YFOptimizer`, last revision "adapt to pytorch 1.0", 2019).
//!
//! Step `k = 0, 1, …` (the code's `_iter`), with `β = beta`, `ε = eps` (the code's module constant
//! 1e-6), raw gradient `g' = ±g` of all tensors and `‖·‖` over all tensors:
//! 1. Loose clip protecting the statistics (`step`, when `adapt_clip` and `k > 1`): `g' ← c₁·g'`
//!    with `c₁ = min(1, (sqrt(stat_protect_fac·h_max) + ε)/(‖g'‖ + 1e-6))` (previous `h_max`;
//!    torch's `clip_grad_norm_`).
//! 2. `n = ‖g'‖²`; exploding gradient detected when `k ≥ 1` and `n ≥ h_max` (previous `h_max`)
//!    (`before_apply`); `n̄ ← β n̄ + (1 − β) n` (`grad_norm_squared_avg`, from 0).
//! 3. Curvature range (`curvature_range`): window `w[k mod W] = n` (`W = curv_win_width`), over its
//!    first `min(W, k + 1)` entries `h_min,avg ← β h_min,avg + (1 − β) min log(w + ε)`, likewise
//!    `h_max,avg` with max (from 0), and with `b = 1 − β^(k+1)` (zero debias):
//!    `h_min = exp(h_min,avg / b)`, `h_max = exp(h_max,avg / b)`. Without log smoothing the EMA is
//!    of `min w` (`max w`) and `h = h_avg / b`.
//! 4. Gradient variance (`grad_variance`): per element `ḡ ← β ḡ + (1 − β) g'` (`grad_avg`, from 0),
//!    `C = max(n̄/b − Σḡ²/b², ε)`.
//! 5. Distance to optimum (`dist_to_opt`): `‖g‖avg ← β ‖g‖avg + (1 − β)·sqrt(n)`,
//!    `D_avg ← β D_avg + (1 − β)·‖g‖avg/(n̄ + ε)`, `D = D_avg/b`.
//! 6. For `k > 0` (`get_mu`, `get_cubic_root`, `get_lr`):
//!    `p = (D + ε)²(h_min + ε)²/2/(C + ε)`, `w₃ = (−sqrt(p² + 4p³/27) − p)/2`,
//!    `w = sign(w₃)|w₃|^(1/3)`, `y = w − p/3/(w + ε)`, `x = y + 1`;
//!    `dr = max((h_max + ε)/(h_min + ε), 1 + ε)`, `μ_t = max(x², ((sqrt(dr) − 1)/(sqrt(dr) + 1))²)`;
//!    `α_t = (1 − sqrt(μ_t))²/(h_min + ε)`, slow start `α_t ← min(α_t, α_t (k + 1)/(10 W))`;
//!    smoothed `α ← β α + (1 − β) α_t`, `μ ← β μ + (1 − β) μ_t`. At `k = 0`, `α_t = lr`, `μ_t = mu`
//!    (the initial values).
//! 7. `update_hyper_param`: the step uses `lr = α_t·lr_factor` and momentum `μ_t·mu_factor` (the
//!    code uses the unsmoothed values; `smooth_lr_mu=true` uses `α`, `μ`), and with `adapt_clip`,
//!    if `lr·sqrt(n) ≥ catastrophic_move_thresh` then `lr = catastrophic_move_thresh/sqrt(n + ε)`.
//! 8. With `adapt_clip` and an exploding gradient: `g' ← c₂·g'`,
//!    `c₂ = min(1, (sqrt(h_max_prev) + ε)/(‖g'‖ + 1e-6))` (for the step only, after the statistics).
//! 9. torch.optim.SGD heavy ball: `d = g' + weight_decay·p`; `b ← d` on the first step with non-zero
//!    momentum (torch creates the buffer then), else `b ← μ b + d`; `p ← p − lr·b`.
//!
//! Implementation: the reduction pre-pass only reads (`Σg'²`, `Σḡ·g'`, `Σḡ²` of the old `ḡ`);
//! [`Algorithm::begin_step`] runs steps 1–8 on those sums (the new `Σḡ²` is
//! `β²Σḡ² + 2β(1 − β)c₁Σḡg' + (1 − β)²c₁²Σg'²`, since `c₁` is only known once all tensors are
//! summed); the fused kernel then updates `ḡ`, the momentum buffer and `p`. Tuner state (window,
//! averages, tuned values, `k`) is global state; per element `momentum_buffer` and `grad_avg`;
//! per tensor `momentum_started`. The EMA of `g²` is kept as the global `n̄` (`Σ` of per-element
//! averages of `g²` equals the average of `‖g‖²`), as in the code.
//!
//! Parameter groups: the tuner is global and uses the default group's hyperparameters (`beta`,
//! `curv_win_width`, `eps`, smoothing, debias and clipping options; `lr`, `mu` as initial values);
//! `lr_factor`, `mu_factor`, `weight_decay` and `maximize` apply per group (the catastrophic-move
//! clamp per group with its own `lr_factor`).
//!
//! Conventions and differences from the references:
//! - Unsmoothed `α_t`, `μ_t` drive SGD, as the PyTorch code (since Oct. 2017) and the TensorFlow
//!   code's default `use_unsmoothed_lr_mu=True`; the paper's Algorithm 1 smooths them
//!   (`smooth_lr_mu=true`).
//! - The code keeps the window in a `torch.FloatTensor` and accumulates `Σḡ²` in a numpy float32
//!   whatever the model's dtype; everything global here is f64 (the golden file was produced with
//!   those two promoted to float64 in a scratch copy of the code).
//! - `lr` (1e-4) and `mu` (0) are only the first step's values (the code's defaults; the paper
//!   uses lr 1.0).
//! - Weight decay is torch SGD's L2 term, applied after the statistics (the code's own
//!   "add weight decay" loop discards its result).
//! - The code's first step runs SGD with momentum 0, so torch creates no buffer; the buffer starts
//!   as the second step's `d` (`momentum_started` per tensor).
//! - Clipping: `adapt_clip` (the code's default) is implemented as above; the manual
//!   `clip_thresh`/`auto_clip_fac` clipping is omitted (clip outside the optimizer instead),
//!   as are `sparsity_debias` (default off), `force_non_inc_step` (default off) and the code's
//!   checkpoint-and-restore on a non-finite tuner result: here such a step is refused with an
//!   error and nothing changes.
//! - The authors' TensorFlow implementation (JianGoForIt/YellowFin) differs in details: the window
//!   holds `n + ε` (so `log(min w + ε)` adds ε twice), TF's zero-debiased moving averages, the
//!   statistics clip from the second step (here, as the PyTorch code, from the third),
//!   exploding-gradient detection `‖g‖ > sqrt(h_max)` (strict), no catastrophic-move clamp; it
//!   also defaults to the unsmoothed lr and momentum (`use_unsmoothed_lr_mu=True`).
//! - `lr_factor` is the code's `set_lr_factor` (schedulable here); `mu_factor` (a momentum
//!   multiplier in [0, 1]) and `maximize` are extensions.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, MAX_ACC};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};


/// torch's `clip_grad_norm_` adds this to the norm.
const CLIP_EPS: f64 = 1e-6;

crate::hypers! {
    /// The hyperparameters.
    pub struct YellowFinHp {
        lr: f64 [Kind::NONNEG] = 1e-4, "initial learning rate: used by the first step only, then tuned";
        mu: f64 [Kind::UNIT_OPEN] = 0.0, "initial momentum: used by the first step only, then tuned";
        beta: f64 [Kind::UNIT_OPEN] = 0.999, "decay of every moving average of the tuner (global)";
        curv_win_width: i64 [1, 1 << 20] = 20, "length of the sliding window of ||g||^2 (global)";
        zero_debias: bool [] = true, "divide the tuner's averages by 1 - beta^(k+1) (global)";
        h_max_log_smooth: bool [] = true, "average log(h_max) instead of h_max (global)";
        h_min_log_smooth: bool [] = true, "average log(h_min) instead of h_min (global)";
        adapt_clip: bool [] = true,
            "the code's adaptive clipping: statistics clip, exploding-gradient clip and catastrophic-move lr clamp (global)";
        stat_protect_fac: f64 [Kind::POS] = 100.0, "statistics clip at sqrt(fac h_max) (global)";
        catastrophic_move_thresh: f64 [Kind::POS] = 100.0, "lr is clamped so that lr ||g|| < this (global)";
        eps: f64 [Kind::POS] = 1e-6, "the code's eps protecting logs and fractions (global)";
        weight_decay: f64 [Kind::NONNEG] = 0.0,
            "L2 penalty added to the gradient of the SGD step (not to the statistics)";
        lr_factor: f64 [Kind::NONNEG] = 1.0, "multiplier of the tuned learning rate (the code's set_lr_factor)";
        mu_factor: f64 [Kind::UNIT] = 1.0, "multiplier of the tuned momentum";
        smooth_lr_mu: bool [] = false,
            "use the beta-averaged lr and momentum (paper's Algorithm 1) instead of the per-step values (code)";
        maximize: bool [] = false, "maximise the objective instead of minimising it";
    }
}

static SPEC: Spec = Spec {
    name: "yellowfin",
    summary: "YellowFin: momentum SGD with lr and momentum tuned from curvature range, variance and distance estimates",
    reference: "Zhang & Mitliagkas 2017; authors' PyTorch code JianGoForIt/YellowFin_Pytorch tuner_utils/yellowfin.py (2019)",
    hypers: YellowFinHp::HYPERS,
    conventions: &[
        "follows the authors' PyTorch code (tuner_utils/yellowfin.py, 2019): unsmoothed tuned lr and mu drive SGD (smooth_lr_mu=true: the paper's EMA)",
        "curvature window of ||g||^2 with log smoothing and zero debias of h_min, h_max; D from EMA(||g||)/EMA(||g||^2); C = EMA(||g||^2) - ||EMA(g)||^2 (debiased)",
        "slow start: lr_t <- min(lr_t, lr_t (k+1)/(10 W)); the first step uses the initial lr and mu",
        "adaptive clipping as the code (adapt_clip): statistics clip at sqrt(100 h_max), exploding-gradient clip at sqrt(h_max), lr clamp lr ||g|| < 100",
        "manual clip_thresh/auto_clip_fac, sparsity_debias, force_non_inc_step and checkpoint-restore of the code are omitted",
        "heavy ball as torch.optim.SGD: the buffer starts at the first gradient seen with non-zero momentum (the second step)",
        "weight decay is SGD's L2 term, after the statistics; the tuner's state is f64 (the code keeps the window in float32)",
        "parameter groups: the tuner is global (default group's hyperparameters); lr_factor, mu_factor, weight_decay, maximize per group",
    ],
    needs_hessian: false,
    parity: Parity::Reference("YellowFin_Pytorch"),
    variants: &[],
};

/// The tuner's persistent state (global state).
#[derive(Clone, Debug, PartialEq)]
struct Tuner {
    /// Steps taken (the code's `_iter`).
    iter: u64,
    lr_t: f64,
    mu_t: f64,
    lr_smooth: f64,
    mu_smooth: f64,
    grad_norm_squared_avg: f64,
    grad_norm_avg: f64,
    dist_to_opt_avg: f64,
    h_min_avg: f64,
    h_max_avg: f64,
    h_min: f64,
    h_max: f64,
    /// Last estimates (diagnostics; not read by later steps).
    grad_var: f64,
    dist_to_opt: f64,
    curv_win: Vec<f64>,
}

/// What `begin_step` hands to `prepare` for the current step.
#[derive(Clone, Copy, Debug, Default)]
struct Current {
    beta: f64,
    clip_stat: f64,
    clip_step: f64,
    grad_norm_squared: f64,
    lr: f64,
    mu: f64,
    eps: f64,
    adapt_clip: bool,
    catastrophic: f64,
}

pub struct YellowFin {
    t: Tuner,
    cur: Current,
}

#[derive(Clone, Copy)]
pub struct Coef<T> {
    sign: T,
    clip_stat: T,
    clip_step: T,
    beta: T,
    omb: T,
    wd: T,
    /// Momentum applied to the buffer (0 until the buffer exists).
    mom: T,
    neg_lr: T,
}

const SCALAR_NAMES: &[&str] = &[
    "iter",
    "lr_t",
    "mu_t",
    "lr_smooth",
    "mu_smooth",
    "grad_norm_squared_avg",
    "grad_norm_avg",
    "dist_to_opt_avg",
    "h_min_avg",
    "h_max_avg",
    "h_min",
    "h_max",
    "grad_var",
    "dist_to_opt",
];

impl Tuner {
    fn scalars(&self) -> [f64; 14] {
        [
            self.iter as f64,
            self.lr_t,
            self.mu_t,
            self.lr_smooth,
            self.mu_smooth,
            self.grad_norm_squared_avg,
            self.grad_norm_avg,
            self.dist_to_opt_avg,
            self.h_min_avg,
            self.h_max_avg,
            self.h_min,
            self.h_max,
            self.grad_var,
            self.dist_to_opt,
        ]
    }
}

/// torch's `clip_grad_norm_` factor: `min(1, max_norm/(norm + 1e-6))`.
fn clip_coef(max_norm: f64, norm: f64) -> f64 {
    (max_norm / (norm + CLIP_EPS)).min(1.0)
}

/// Python's `max(a, b)`: `a` unless `b > a` (so a NaN `a` is kept and caught by the finiteness check).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// The real root `x = sqrt(μ)` of `x²D² = (1 − x)⁴ C/h_min²` by Vieta's substitution, as the
/// code's `get_cubic_root`.
fn cubic_root(dist: f64, h_min: f64, var: f64, eps: f64) -> f64 {
    let p = (dist + eps).powi(2) * (h_min + eps).powi(2) / 2.0 / (var + eps);
    let w3 = (-(p * p + 4.0 / 27.0 * (p * p * p)).sqrt() - p) / 2.0;
    let w = 1f64.copysign(w3) * w3.abs().powf(1.0 / 3.0);
    let y = w - p / 3.0 / (w + eps);
    y + 1.0
}

/// Σg'², Σḡ·g', Σḡ² of a chunk in f64, each as eight partial sums (two 4-lane f64 vectors),
/// added up in a fixed order. `g' = sign·g` with
/// `sign = ±1`, so `Σg'² = Σg²` and `Σḡ·g' = sign·Σḡ·g` exactly. The elements are widened to
/// f64 a block at a time in a loop of their own: fused with the sums, the compiler did not
/// vectorise the widening well (two-lane shuffles, a third of the memory bandwidth).
#[inline(always)]
fn sums<T: Float>(sign: T, g: &[T], avg: &[T]) -> [f64; 3] {
    const L: usize = 8;
    const B: usize = 256;
    let n = g.len();
    let avg = &avg[..n];
    let (mut s0, mut s1, mut s2) = ([0.0f64; L], [0.0f64; L], [0.0f64; L]);
    let (mut gd, mut ad) = ([0.0f64; B], [0.0f64; B]);
    let body = n / L * L;
    let mut start = 0;
    while start < body {
        let end = (start + B).min(body);
        let (gd, ad) = (&mut gd[..end - start], &mut ad[..end - start]);
        for (d, x) in gd.iter_mut().zip(&g[start..end]) {
            *d = x.to_f64();
        }
        for (d, x) in ad.iter_mut().zip(&avg[start..end]) {
            *d = x.to_f64();
        }
        // One loop per sum: each is then a plain four-lane multiply-and-add.
        for gc in gd.chunks_exact(L) {
            for k in 0..L {
                s0[k] += gc[k] * gc[k];
            }
        }
        for (gc, ac) in gd.chunks_exact(L).zip(ad.chunks_exact(L)) {
            for k in 0..L {
                s1[k] += ac[k] * gc[k];
            }
        }
        for ac in ad.chunks_exact(L) {
            for k in 0..L {
                s2[k] += ac[k] * ac[k];
            }
        }
        start = end;
    }
    let mut s = [s0.iter().sum::<f64>(), s1.iter().sum::<f64>(), s2.iter().sum::<f64>()];
    for i in body..n {
        let gi = g[i].to_f64();
        let ai = avg[i].to_f64();
        s[0] += gi * gi;
        s[1] += ai * gi;
        s[2] += ai * ai;
    }
    s[1] *= sign.to_f64();
    s
}

impl<T: Float> Algorithm<T> for YellowFin {
    type Coef = Coef<T>;

    const REDUCE: usize = 3;

    fn spec() -> &'static Spec {
        &SPEC
    }

    fn new(hp: &Hyper) -> Result<Self> {
        let hp = YellowFinHp::read(hp);
        let (lr, mu) = (hp.lr, hp.mu);
        Ok(YellowFin {
            t: Tuner {
                iter: 0,
                lr_t: lr,
                mu_t: mu,
                lr_smooth: lr,
                mu_smooth: mu,
                grad_norm_squared_avg: 0.0,
                grad_norm_avg: 0.0,
                dist_to_opt_avg: 0.0,
                h_min_avg: 0.0,
                h_max_avg: 0.0,
                h_min: 0.0,
                h_max: 0.0,
                grad_var: 0.0,
                dist_to_opt: 0.0,
                curv_win: vec![0.0; hp.curv_win_width as usize],
            },
            cur: Current::default(),
        })
    }

    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("momentum_buffer"), Buffer::zeros("grad_avg")]
    }

    fn scalars(_hp: &Hyper) -> &'static [(&'static str, f64)] {
        &[("momentum_started", 0.0)]
    }

    /// Pre-pass reads `g` and `ḡ`; the update reads `p, g, ḡ, b` and writes `p, ḡ, b`.
    fn accesses_per_param(_hp: &Hyper) -> usize {
        9
    }

    #[inline(always)]
    fn reduce(&self, hp: &Hyper, _step: u64, chunk: Chunk<'_, T>, acc: &mut [f64; MAX_ACC]) {
        let hp = YellowFinHp::read(hp);
        let sign = T::of(if hp.maximize { -1.0 } else { 1.0 });
        let s = sums(sign, chunk.g, chunk.s[1]);
        for k in 0..3 {
            acc[k] += s[k];
        }
    }

    fn begin_step(&mut self, hp: &Hyper, step: u64, total: &[f64; MAX_ACC]) -> Result<()> {
        let hp = YellowFinHp::read(hp);
        let t = &self.t;
        let (b, eps) = (hp.beta, hp.eps);
        let width = t.curv_win.len();
        let k = t.iter;
        let adapt = hp.adapt_clip;
        let (gg_raw, ag, aa) = (total[0], total[1], total[2]);

        // 1. Loose clip protecting the statistics (previous h_max).
        let clip_stat =
            if adapt && k > 1 { clip_coef((hp.stat_protect_fac * t.h_max).sqrt() + eps, gg_raw.sqrt()) } else { 1.0 };
        // 2. ||g||^2, exploding-gradient detection, its average.
        let gns = clip_stat * clip_stat * gg_raw;
        let exploding = k >= 1 && gns >= t.h_max;
        let first = k == 0;
        let prev = |x: f64| if first { 0.0 } else { x };
        let gnsa = prev(t.grad_norm_squared_avg) * b + (1.0 - b) * gns;
        let debias = if hp.zero_debias { 1.0 - b.powf((k + 1) as f64) } else { 1.0 };

        // 3. Curvature range over the window (the new value is written on commit).
        let slot = (k % width as u64) as usize;
        let valid = width.min(k as usize + 1);
        let (hmin_log, hmax_log) = (hp.h_min_log_smooth, hp.h_max_log_smooth);
        let (mut lo, mut hi, mut lo_log, mut hi_log) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (i, &w) in t.curv_win[..valid].iter().enumerate() {
            let w = if i == slot { gns } else { w };
            let l = (w + eps).ln();
            lo = lo.min(w);
            hi = hi.max(w);
            lo_log = lo_log.min(l);
            hi_log = hi_log.max(l);
        }
        let h_min_avg = prev(t.h_min_avg) * b + (1.0 - b) * if hmin_log { lo_log } else { lo };
        let h_max_avg = prev(t.h_max_avg) * b + (1.0 - b) * if hmax_log { hi_log } else { hi };
        let h_min = if hmin_log { (h_min_avg / debias).exp() } else { h_min_avg / debias };
        let h_max = if hmax_log { (h_max_avg / debias).exp() } else { h_max_avg / debias };

        // 4. Variance: Σ of the new ḡ² from the pre-pass sums.
        let sum_avg_sq = b * b * aa
            + 2.0 * b * (1.0 - b) * clip_stat * ag
            + (1.0 - b) * (1.0 - b) * (clip_stat * clip_stat) * gg_raw;
        let grad_var = py_max(sum_avg_sq / -(debias * debias) + gnsa / debias, eps);

        // 5. Distance to the optimum.
        let gna = prev(t.grad_norm_avg) * b + (1.0 - b) * gns.sqrt();
        let dist_avg = prev(t.dist_to_opt_avg) * b + (1.0 - b) * gna / (gnsa + eps);
        let dist = if hp.zero_debias { dist_avg / debias } else { dist_avg };

        // 6. Tuned momentum and learning rate.
        let (mut lr_t, mut mu_t, mut lr_smooth, mut mu_smooth) = (t.lr_t, t.mu_t, t.lr_smooth, t.mu_smooth);
        if k > 0 {
            if !(dist.is_finite() && h_min.is_finite() && grad_var.is_finite()) {
                return Err(OptimError::Malformed(format!(
                    "yellowfin: non-finite input to the cubic solver at step {step} (distance {dist}, h_min {h_min}, variance {grad_var}); the step was not taken"
                )));
            }
            let x = cubic_root(dist, h_min, grad_var, eps);
            let dr = py_max((h_max + eps) / (h_min + eps), 1.0 + eps);
            let sdr = dr.sqrt();
            mu_t = py_max(x.powi(2), ((sdr - 1.0) / (sdr + 1.0)).powi(2));
            lr_t = (1.0 - mu_t.sqrt()).powi(2) / (h_min + eps);
            lr_t = lr_t.min(lr_t * (k + 1) as f64 / (10.0 * width as f64));
            lr_smooth = b * lr_smooth + (1.0 - b) * lr_t;
            mu_smooth = b * mu_smooth + (1.0 - b) * mu_t;
        }
        let (lr, mu) = if hp.smooth_lr_mu { (lr_smooth, mu_smooth) } else { (lr_t, mu_t) };

        // 8. Exploding-gradient clip of the step (previous h_max).
        let clip_step = if adapt && exploding { clip_coef(t.h_max.sqrt() + eps, gns.sqrt()) } else { 1.0 };

        let values = [
            gns, gnsa, h_min_avg, h_max_avg, h_min, h_max, grad_var, gna, dist_avg, dist, lr_t, mu_t, lr_smooth,
            mu_smooth, lr, mu,
        ];
        if values.iter().any(|v| !v.is_finite()) || !(clip_stat.is_finite() && clip_step.is_finite()) {
            return Err(OptimError::Malformed(format!(
                "yellowfin: the tuner's statistics became non-finite at step {step} (||g||^2 {gns}, h_min {h_min}, h_max {h_max}, variance {grad_var}, distance {dist}, lr {lr}, momentum {mu}); the step was not taken"
            )));
        }

        // Commit.
        let t = &mut self.t;
        t.curv_win[slot] = gns;
        t.iter = k + 1;
        t.grad_norm_squared_avg = gnsa;
        (t.h_min_avg, t.h_max_avg, t.h_min, t.h_max) = (h_min_avg, h_max_avg, h_min, h_max);
        (t.grad_var, t.grad_norm_avg, t.dist_to_opt_avg, t.dist_to_opt) = (grad_var, gna, dist_avg, dist);
        (t.lr_t, t.mu_t, t.lr_smooth, t.mu_smooth) = (lr_t, mu_t, lr_smooth, mu_smooth);
        self.cur = Current {
            beta: b,
            clip_stat,
            clip_step,
            grad_norm_squared: gns,
            lr,
            mu,
            eps,
            adapt_clip: adapt,
            catastrophic: hp.catastrophic_move_thresh,
        };
        Ok(())
    }

    fn global_state(&self) -> Vec<(String, Vec<f64>)> {
        let mut out: Vec<(String, Vec<f64>)> =
            SCALAR_NAMES.iter().zip(self.t.scalars()).map(|(n, v)| (n.to_string(), vec![v])).collect();
        out.push(("curv_win".to_string(), self.t.curv_win.clone()));
        out
    }

    fn load_global_state(&mut self, s: &[(String, Vec<f64>)]) -> Result<()> {
        let get = |name: &str| -> Result<&Vec<f64>> {
            s.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| OptimError::State(format!("yellowfin: global state `{name}` is missing")))
        };
        let mut v = [0.0; 14];
        for (i, name) in SCALAR_NAMES.iter().enumerate() {
            match get(name)?.as_slice() {
                [x] if x.is_finite() => v[i] = *x,
                other => {
                    return Err(OptimError::State(format!(
                        "yellowfin: global state `{name}` must be one finite number, got {other:?}"
                    )))
                }
            }
        }
        let win = get("curv_win")?;
        if win.len() != self.t.curv_win.len() {
            return Err(OptimError::State(format!(
                "yellowfin: the state's curvature window has {} entries, curv_win_width is {}",
                win.len(),
                self.t.curv_win.len()
            )));
        }
        if v[0] < 0.0 || v[0].fract() != 0.0 {
            return Err(OptimError::State(format!("yellowfin: global state `iter` = {} is not a step count", v[0])));
        }
        self.t = Tuner {
            iter: v[0] as u64,
            lr_t: v[1],
            mu_t: v[2],
            lr_smooth: v[3],
            mu_smooth: v[4],
            grad_norm_squared_avg: v[5],
            grad_norm_avg: v[6],
            dist_to_opt_avg: v[7],
            h_min_avg: v[8],
            h_max_avg: v[9],
            h_min: v[10],
            h_max: v[11],
            grad_var: v[12],
            dist_to_opt: v[13],
            curv_win: win.clone(),
        };
        Ok(())
    }

    fn prepare(&self, hp: &Hyper, _ctx: &StepCtx<'_>, s: &mut [f64]) -> Result<Coef<T>> {
        let hp = YellowFinHp::read(hp);
        let c = &self.cur;
        let mut lr = c.lr * hp.lr_factor;
        // Catastrophic-move clamp (per group, with its lr_factor).
        if c.adapt_clip && lr * c.grad_norm_squared.sqrt() >= c.catastrophic {
            lr = c.catastrophic / (c.grad_norm_squared + c.eps).sqrt();
        }
        let mu = c.mu * hp.mu_factor;
        let mom = if s[0] != 0.0 { mu } else { 0.0 };
        if mu != 0.0 {
            s[0] = 1.0;
        }
        Ok(Coef {
            sign: T::of(if hp.maximize { -1.0 } else { 1.0 }),
            clip_stat: T::of(c.clip_stat),
            clip_step: T::of(c.clip_step),
            beta: T::of(c.beta),
            omb: T::of(1.0 - c.beta),
            wd: T::of(hp.weight_decay),
            mom: T::of(mom),
            neg_lr: T::of(-lr),
        })
    }

    #[inline(always)]
    fn update<const S: bool>(k: &Coef<T>, ch: Chunk<'_, T>) {
        let n = ch.p.len();
        let (p, g) = (ch.p, &ch.g[..n]);
        let [buf, avg, ..] = ch.s;
        let (buf, avg) = (&mut buf[..n], &mut avg[..n]);
        for i in 0..n {
            let gs = (k.sign * g[i]) * k.clip_stat;
            avg[i] = avg[i] * k.beta + k.omb * gs;
            let d = gs * k.clip_step + k.wd * p[i];
            let bi = buf[i] * k.mom + d;
            buf[i] = bi;
            p[i] += k.neg_lr * bi;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, GroupConfig, Layout, OptimConfig, Optimizer};

    fn build<T: crate::registry::RegistryFloat>(layout: Layout, set: &[(&str, &str)]) -> Box<dyn Optimizer<T>> {
        registry::build_for_test("yellowfin", layout, set)
    }

    fn global(opt: &dyn Optimizer<f64>, name: &str) -> f64 {
        opt.state().global.iter().find(|(n, _)| n == name).unwrap().1[0]
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    /// The tuner written out directly from the authors' code (`before_apply`, `curvature_range`,
    /// `grad_variance`, `dist_to_opt`, `get_cubic_root`, `get_mu`, `get_lr`, `update_hyper_param`,
    /// torch SGD), default hyperparameters, no clipping triggered: per-element `ḡ` and `Σḡ²`
    /// computed directly (the optimizer uses the expanded sum).
    struct Hand {
        k: usize,
        win: Vec<f64>,
        gavg: Vec<f64>,
        buf: Option<Vec<f64>>,
        n_avg: f64,
        hmin_avg: f64,
        hmax_avg: f64,
        gn_avg: f64,
        d_avg: f64,
        lr_t: f64,
        mu_t: f64,
    }

    impl Hand {
        fn step(&mut self, p: &mut [f64], g: &[f64]) -> (f64, f64, f64) {
            let (beta, eps, w) = (0.999f64, 1e-6f64, 20usize);
            let n: f64 = g.iter().map(|x| x * x).sum();
            self.n_avg = self.n_avg * beta + (1.0 - beta) * n;
            self.win[self.k % w] = n;
            let valid = &self.win[..w.min(self.k + 1)];
            let lo = valid.iter().map(|x| (x + eps).ln()).fold(f64::INFINITY, f64::min);
            let hi = valid.iter().map(|x| (x + eps).ln()).fold(f64::NEG_INFINITY, f64::max);
            self.hmin_avg = self.hmin_avg * beta + (1.0 - beta) * lo;
            self.hmax_avg = self.hmax_avg * beta + (1.0 - beta) * hi;
            let debias = 1.0 - beta.powi(self.k as i32 + 1);
            let (hmin, hmax) = ((self.hmin_avg / debias).exp(), (self.hmax_avg / debias).exp());
            for (a, x) in self.gavg.iter_mut().zip(g) {
                *a = *a * beta + (1.0 - beta) * x;
            }
            let sq: f64 = self.gavg.iter().map(|a| a * a).sum();
            let var = (self.n_avg / debias - sq / (debias * debias)).max(eps);
            self.gn_avg = self.gn_avg * beta + (1.0 - beta) * n.sqrt();
            self.d_avg = self.d_avg * beta + (1.0 - beta) * self.gn_avg / (self.n_avg + eps);
            let dist = self.d_avg / debias;
            if self.k > 0 {
                // x = sqrt(mu) solves x^2 D^2 = (1 - x)^4 C / h_min^2 (with the code's eps).
                let pp = (dist + eps).powi(2) * (hmin + eps).powi(2) / 2.0 / (var + eps);
                let w3 = (-(pp * pp + 4.0 / 27.0 * pp.powi(3)).sqrt() - pp) / 2.0;
                let ww = w3.signum() * w3.abs().powf(1.0 / 3.0);
                let x = ww - pp / 3.0 / (ww + eps) + 1.0;
                let dr = ((hmax + eps) / (hmin + eps)).max(1.0 + eps);
                self.mu_t = (x * x).max(((dr.sqrt() - 1.0) / (dr.sqrt() + 1.0)).powi(2));
                let lr = (1.0 - self.mu_t.sqrt()).powi(2) / (hmin + eps);
                self.lr_t = lr.min(lr * (self.k + 1) as f64 / 200.0);
            }
            // torch SGD: no buffer while momentum is 0, then it starts at the gradient.
            let d: Vec<f64> = g.to_vec();
            let step: Vec<f64> = match (&mut self.buf, self.mu_t != 0.0) {
                (_, false) => d,
                (None, true) => {
                    self.buf = Some(d.clone());
                    d
                }
                (Some(b), true) => {
                    for (b, d) in b.iter_mut().zip(&d) {
                        *b = *b * self.mu_t + d;
                    }
                    b.clone()
                }
            };
            for (p, s) in p.iter_mut().zip(&step) {
                *p -= self.lr_t * s;
            }
            self.k += 1;
            (hmin, hmax, dist)
        }
    }

    /// Steps 1-3 on f = (x² + 10 y²)/2 against the tuner written out by hand.
    #[test]
    fn first_three_steps_by_hand() {
        let mut opt = build::<f64>(Layout::single("w", 2), &[]);
        let mut hand = Hand {
            k: 0,
            win: vec![0.0; 20],
            gavg: vec![0.0; 2],
            buf: None,
            n_avg: 0.0,
            hmin_avg: 0.0,
            hmax_avg: 0.0,
            gn_avg: 0.0,
            d_avg: 0.0,
            lr_t: 1e-4,
            mu_t: 0.0,
        };
        let mut p = vec![1.0, 1.0];
        let mut q = p.clone();
        for step in 1..=3 {
            let g = [p[0], 10.0 * p[1]];
            opt.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
            let gq = [q[0], 10.0 * q[1]];
            let (hmin, hmax, dist) = hand.step(&mut q, &gq);
            for i in 0..2 {
                assert!(close(p[i], q[i], 1e-13), "step {step}: {p:?} vs {q:?}");
            }
            let o = &*opt;
            assert!(close(global(o, "h_min"), hmin, 1e-13) && close(global(o, "h_max"), hmax, 1e-13), "step {step}");
            assert!(close(global(o, "dist_to_opt"), dist, 1e-13), "step {step}");
            assert!(
                close(global(o, "lr_t"), hand.lr_t, 1e-12) && close(global(o, "mu_t"), hand.mu_t, 1e-12),
                "step {step}"
            );
            assert_eq!(global(o, "iter"), step as f64);
        }
        // Step 1 is plain SGD with the initial lr; step 2's tuned lr is small (slow start: 2/200 of
        // (1 - sqrt(mu))^2/h_min) and the momentum is positive.
        assert!(hand.mu_t > 0.0 && hand.mu_t < 1.0);
        assert_eq!(opt.state().tensors[0].scalars, vec![("momentum_started".to_string(), 1.0)]);
    }

    #[test]
    fn first_step_is_sgd_with_the_initial_lr() {
        let mut opt = build::<f64>(Layout::single("w", 2), &[("lr", "0.01")]);
        let mut p = vec![1.0, -2.0];
        opt.step(&mut [&mut p[..]], &[&[3.0, 4.0][..]], None).unwrap();
        assert_eq!(p, vec![1.0 - 0.01 * 3.0, -2.0 - 0.01 * 4.0]);
        // No momentum yet: the buffer has not started.
        assert_eq!(opt.state().tensors[0].scalars[0].1, 0.0);
        // With an initial momentum the buffer starts on the first step (torch creates it then).
        let mut opt = build::<f64>(Layout::single("w", 1), &[("mu", "0.5")]);
        let mut p = [0.0];
        opt.step(&mut [&mut p[..]], &[&[1.0][..]], None).unwrap();
        assert_eq!(opt.state().tensors[0].scalars[0].1, 1.0);
    }

    /// An all-zero gradient history: as in the authors' code, the cubic degenerates (w + eps ≈ 0)
    /// and the tuned momentum exceeds 1 with a huge lr, but gradient and buffer are 0, so nothing
    /// moves and everything stays finite (the code's values: mu_t 16.76, 5469.8, 37.885 at steps
    /// 2-4).
    #[test]
    fn zero_gradient_is_finite_and_does_not_move() {
        let mut opt = build::<f64>(Layout::single("w", 2), &[]);
        let mut p = vec![1.0, -1.0];
        let mut mus = Vec::new();
        for _ in 0..4 {
            opt.step(&mut [&mut p[..]], &[&[0.0, 0.0][..]], None).unwrap();
            mus.push(global(&*opt, "mu_t"));
        }
        assert_eq!(p, vec![1.0, -1.0]);
        assert!(opt.state().global.iter().all(|(_, v)| v.iter().all(|x| x.is_finite())));
        assert!(close(mus[1], 16.76286239134662, 1e-6) && close(mus[2], 5469.815220148282, 1e-6), "{mus:?}");
        // A later non-zero gradient moves it, finitely.
        opt.step(&mut [&mut p[..]], &[&[1.0, 2.0][..]], None).unwrap();
        assert!(p.iter().all(|x| x.is_finite()) && p != vec![1.0, -1.0]);
    }

    #[test]
    fn non_finite_statistics_refuse_the_step() {
        let cfg = OptimConfig::new("yellowfin").non_finite(crate::NonFinite::Unchecked);
        let mut opt = registry::build::<f64>(Layout::single("w", 1), &cfg).unwrap();
        let mut p = vec![1.0];
        opt.step(&mut [&mut p[..]], &[&[1.0][..]], None).unwrap();
        let before = opt.state();
        let err = opt.step(&mut [&mut p[..]], &[&[f64::INFINITY][..]], None).unwrap_err();
        assert!(err.to_string().contains("yellowfin"), "{err}");
        assert_eq!(opt.state(), before);
        assert_eq!(p, vec![1.0 - 1e-4]);
    }

    #[test]
    fn save_and_load_resume_bit_for_bit() {
        let layout = Layout::new().with("a", &[3]).unwrap().with("b", &[2]).unwrap();
        let grad = |x: &[f64]| -> Vec<f64> { x.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v - 0.3).collect() };
        let run = |opt: &mut dyn Optimizer<f64>, a: &mut Vec<f64>, b: &mut Vec<f64>, n: usize| {
            for _ in 0..n {
                let (ga, gb) = (grad(a), grad(b));
                opt.step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..]], None).unwrap();
            }
        };
        let set = [("lr", "0.05"), ("curv_win_width", "4")];
        let mut a1 = vec![1.0, -2.0, 0.5];
        let mut b1 = vec![3.0, -1.0];
        let mut o1 = build::<f64>(layout.clone(), &set);
        run(&mut *o1, &mut a1, &mut b1, 7);
        let st = o1.state();
        let (mut a2, mut b2) = (a1.clone(), b1.clone());
        run(&mut *o1, &mut a1, &mut b1, 9);
        let mut o2 = build::<f64>(layout.clone(), &set);
        o2.load_state(&st).unwrap();
        run(&mut *o2, &mut a2, &mut b2, 9);
        assert_eq!((a1, b1), (a2, b2));
        assert_eq!(o1.state(), o2.state());
        // A window of another width is refused.
        let mut o3 = build::<f64>(layout, &[("curv_win_width", "5")]);
        assert!(o3.load_state(&st).unwrap_err().to_string().contains("curvature window"));
    }

    #[test]
    fn smoothed_lr_and_mu() {
        // The paper's smoothing: lr ← β lr + (1 − β) lr_t from the initial values, and the step uses it.
        let mut opt = build::<f64>(Layout::single("w", 1), &[("smooth_lr_mu", "true"), ("lr", "0.1")]);
        let mut p = [1.0];
        let mut prev = (0.1, 0.0);
        for step in 1..=3 {
            let g = [p[0]];
            let before = p[0];
            opt.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
            let o = &*opt;
            let (lr_t, mu_t, lr_s, mu_s) =
                (global(o, "lr_t"), global(o, "mu_t"), global(o, "lr_smooth"), global(o, "mu_smooth"));
            if step == 1 {
                assert_eq!((lr_s, mu_s), (0.1, 0.0));
                assert_eq!(p[0], before - 0.1 * g[0]);
            } else {
                assert_eq!(lr_s, 0.999 * prev.0 + (1.0 - 0.999) * lr_t);
                assert_eq!(mu_s, 0.999 * prev.1 + (1.0 - 0.999) * mu_t);
                assert!(lr_s > 0.099 && lr_t < 0.05 && mu_s > 0.0);
            }
            if step == 2 {
                // The buffer starts now (first non-zero momentum): p moves by lr_smooth·g.
                assert!(close(before - p[0], lr_s * g[0], 1e-15));
            }
            prev = (lr_s, mu_s);
        }
    }

    #[test]
    fn groups_scale_lr_and_momentum() {
        // lr_factor 0 and mu_factor 0 in a group: its tensor never moves while the other does.
        let cfg = OptimConfig::new("yellowfin").set("lr", "0.01").group(GroupConfig {
            tensors: vec!["frozen".into()],
            set: [("lr_factor".to_string(), "0".to_string()), ("mu_factor".to_string(), "0".to_string())].into(),
            schedules: vec![],
        });
        let layout = Layout::new().with("w", &[2]).unwrap().with("frozen", &[2]).unwrap();
        let mut opt = registry::build::<f64>(layout, &cfg).unwrap();
        let (mut w, mut f) = (vec![1.0, 2.0], vec![1.0, 2.0]);
        for _ in 0..5 {
            let (gw, gf) = (w.clone(), f.clone());
            opt.step(&mut [&mut w[..], &mut f[..]], &[&gw[..], &gf[..]], None).unwrap();
        }
        assert_eq!(f, vec![1.0, 2.0]);
        assert!(w[0] < 1.0);
        let st = opt.state();
        assert_eq!(st.tensors[1].scalars[0].1, 0.0);
    }

    #[test]
    fn maximize_negates() {
        let mut a = build::<f64>(Layout::single("w", 2), &[("maximize", "true"), ("lr", "0.01")]);
        let mut b = build::<f64>(Layout::single("w", 2), &[("lr", "0.01")]);
        let (mut pa, mut pb) = (vec![0.3, -0.7], vec![0.3, -0.7]);
        for _ in 0..6 {
            let g = [pb[0] * 2.0, pb[1] * 5.0];
            let ng = [-g[0], -g[1]];
            a.step(&mut [&mut pa[..]], &[&ng[..]], None).unwrap();
            b.step(&mut [&mut pb[..]], &[&g[..]], None).unwrap();
        }
        assert_eq!(pa, pb);
    }

    #[test]
    fn f32_agrees_with_f64() {
        for set in [&[("lr", "0.01")][..], &[("lr", "0.05"), ("weight_decay", "0.01"), ("curv_win_width", "3")][..]] {
            let mut a = build::<f32>(Layout::single("w", 3), set);
            let mut b = build::<f64>(Layout::single("w", 3), set);
            let mut pa = [0.5f32, -1.0, 2.0];
            let mut pb = vec![0.5f64, -1.0, 2.0];
            for k in 0..12 {
                let gb: Vec<f64> = pb.iter().enumerate().map(|(i, x)| (i + 1) as f64 * x + 0.01 * k as f64).collect();
                let ga: Vec<f32> = gb.iter().map(|&x| x as f32).collect();
                a.step(&mut [&mut pa[..]], &[&ga[..]], None).unwrap();
                b.step(&mut [&mut pb[..]], &[&gb[..]], None).unwrap();
            }
            for (x, y) in pa.iter().zip(&pb) {
                assert!((*x as f64 - y).abs() < 1e-5 * y.abs().max(1.0), "{set:?}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn chunks_and_threads_agree() {
        let n = crate::engine::CHUNK * 2 + 5;
        let layout = Layout::new().with("a", &[n]).unwrap().with("b", &[7]).unwrap();
        let ga: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5).collect();
        let gb = [0.25; 7];
        let mut out = Vec::new();
        for threads in [1, 4] {
            let cfg = OptimConfig::new("yellowfin").set("lr", "0.01").threads(threads);
            let mut opt = registry::build::<f64>(layout.clone(), &cfg).unwrap();
            let (mut a, mut b) = (vec![0.1; n], vec![0.2; 7]);
            for _ in 0..4 {
                opt.step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..]], None).unwrap();
            }
            out.push((a, b, opt.state().global));
        }
        assert_eq!(out[0], out[1]);
    }
}
