//! Schedules for any numeric hyperparameter (lr, beta1, beta2, momentum, weight_decay, ...).
//!
//! A [`Schedule`] gives the value of a hyperparameter at scheduler time `t`, given the value the
//! hyperparameter was configured with (its *base* value). `t` is the number of scheduler ticks so
//! far: `t = 0` at the first optimizer step. This is exactly torch's `last_epoch` in the loop
//!
//! ```text
//! for t in 0..T { lr = value(base, t); opt.step(); sched.step() }
//! ```
//!
//! All schedules are evaluated in closed form (no recursion over `t`), so `value` is pure and
//! resuming at any `t` is exact. The closed forms are mathematically equal to torch's recursive
//! ("chainable") forms and agree with torch 2.15's float64 values to ~1e-15 relative (checked
//! against golden curves from the real torch by `tests/schedule_parity.rs`).
//!
//! The only stateful schedule is `plateau` (torch's `ReduceLROnPlateau`); its state (best
//! metric, counters, number of reductions) lives inside the variant, so serde round-trips it
//! exactly. See [`Schedule::observe`] for the exact calling convention.
//!
//! # Text form
//!
//! `name(key=value, ...)`, keys in any order, lists as `[a, b, c]`, numbers may be written as
//! fractions `a/b` (e.g. `start_factor=1/3`), booleans `true`/`false`; composite schedules take
//! nested schedules as positional arguments; a schedule whose keys all have defaults may be
//! written without parentheses (`constant`, `linear`). [`Schedule::help`] lists every schedule
//! with its defaults; [`Schedule::to_text`] writes the canonical form (every key explicit).
//!
//! # Conventions that differ from torch
//!
//! * `constant`: defaults are `factor=1, total_iters=0` (torch: 1/3 and 5), so plain `constant`
//!   means "no schedule". With `total_iters=0` and `factor != 1`, torch's chained `step()` keeps
//!   `base*factor` forever (its `t == 0` rule fires before the `t == total_iters` undo), while
//!   torch's own closed form (and SequentialLR, which uses it at milestones) gives `base`; we
//!   always give `base*factor` for `t < total_iters`, then `base`. `factor=0` is allowed and
//!   well-defined here (torch divides by zero when it undoes the factor).
//! * `linear`, `polynomial`: `total_iters >= 1` (torch accepts 0 and then divides by zero or
//!   keeps `start_factor` forever). `polynomial` needs `power >= 0`.
//! * `cosine`: torch's recursive form keeps going periodically past `t_max` (back up to base
//!   at `2*t_max`, ...); the closed form is the same periodic curve, so they agree for all `t`
//!   (checked up to `3*t_max`; past `t_max` the agreement is ~`t_max*1e-16` relative, because
//!   torch restarts its recursion from a different rounding at `t_max+1`).
//! * `cyclic`: only the lr curve of CyclicLR (torch's `cycle_momentum=False`). Torch's inverse
//!   momentum cycle between `base_momentum` and `max_momentum` is `cyclic(base=<max_momentum>,
//!   max=<base_momentum>, ...)`, i.e. `max < base` is allowed and cycles downwards.
//! * `one_cycle`: only the lr curve (`cycle_momentum=False`). For `t >= total_steps - 1` the value
//!   stays at the final (minimum) value; torch extrapolates the last phase at
//!   `t == total_steps` and raises for `t > total_steps`. Configurations for which torch divides
//!   by zero (`pct_start*total_steps == 1`) are rejected.
//! * `plateau`: torch only supports learning rates; here it reduces any hyperparameter.
//!   `min` is torch's `min_lr` (a single value).
//! * `multistep`: repeated milestones are allowed (as in torch: gamma is applied once per copy).
//! * `chained` and `sequential` may contain `plateau` (torch refuses); see [`Schedule::observe`].
//! * `chained`: defined as the product of the members' factors (see [`Schedule::value`]); equal
//!   to torch's ChainedScheduler whenever the members are multiplicative (constant, step,
//!   multistep, exponential, polynomial, linear, cosine with `eta_min=0` up to `t_max`); torch's
//!   recursion gives order-dependent, mostly meaningless values for additive members (cosine
//!   with `eta_min != 0`, cyclic, one_cycle, cosine_restarts) which we do not reproduce.
//! * `inverse_sqrt` and `warmup` have no torch equivalent (`warmup(steps=N, start_factor=s)` with
//!   `s > 0` equals torch's `LinearLR(start_factor=s, end_factor=1, total_iters=N)`).

mod text;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A hyperparameter that follows a schedule in one parameter group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scheduled {
    pub key: String,
    pub schedule: Schedule,
    /// Time unit: epochs (advanced by `end_epoch`) instead of steps.
    #[serde(default)]
    pub per_epoch: bool,
    /// Position of `key` in the optimizer's spec (looked up by name when the group is built).
    #[serde(skip)]
    pub(crate) index: usize,
}

/// Amplitude scaling of a `cyclic` schedule (torch CyclicLR's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CyclicMode {
    /// Constant amplitude.
    Triangular,
    /// Amplitude halved every cycle: scale `1/2^(cycle-1)` (cycle counted from 1).
    Triangular2,
    /// Amplitude scaled by `gamma^t` (t = iterations, torch's scale_mode "iterations").
    ExpRange,
}

/// Annealing shape of a `one_cycle` schedule (torch OneCycleLR's `anneal_strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    /// Half-cosine between the phase's end points.
    Cos,
    /// Straight line between the phase's end points.
    Linear,
}

/// Whether a `plateau` schedule watches a metric to be minimised or maximised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauMode {
    /// Lower is better (e.g. a loss).
    Min,
    /// Higher is better (e.g. an accuracy).
    Max,
}

/// How a `plateau` schedule's threshold is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// Better means beyond `best * (1 -/+ threshold)`.
    Rel,
    /// Better means beyond `best -/+ threshold`.
    Abs,
}

/// A schedule: the value of a hyperparameter at scheduler time `t` (0 at the first step),
/// given the hyperparameter's configured (base) value.
///
/// Every variant documents its text form with defaults; `<required>` marks keys without one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `constant(factor=1, total_iters=0)`: torch ConstantLR: `base*factor` for
    /// `t < total_iters`, then `base`. `factor` in `[0, 1]`. (torch's defaults are 1/3 and 5;
    /// ours make plain `constant` mean "no schedule".)
    Constant { factor: f64, total_iters: u64 },
    /// `step(step_size=<required>, gamma=0.1)`: torch StepLR: `base*gamma^floor(t/step_size)`.
    Step { step_size: u64, gamma: f64 },
    /// `multistep(milestones=<required>, gamma=0.1)`: torch MultiStepLR:
    /// `base*gamma^(number of milestones <= t)`; milestones non-decreasing.
    Multistep { milestones: Vec<u64>, gamma: f64 },
    /// `exponential(gamma=<required>)`: torch ExponentialLR: `base*gamma^t`.
    Exponential { gamma: f64 },
    /// `polynomial(total_iters=5, power=1)`: torch PolynomialLR:
    /// `base*(1 - min(t, total_iters)/total_iters)^power`.
    Polynomial { total_iters: u64, power: f64 },
    /// `linear(start_factor=1/3, end_factor=1, total_iters=5)`: torch LinearLR:
    /// `base*(start + (end - start)*min(t, total_iters)/total_iters)`.
    Linear { start_factor: f64, end_factor: f64, total_iters: u64 },
    /// `cosine(t_max=<required>, eta_min=0)`: torch CosineAnnealingLR:
    /// `eta_min + (base - eta_min)*(1 + cos(pi*t/t_max))/2` (periodic past `t_max`, as torch).
    Cosine { t_max: u64, eta_min: f64 },
    /// `cosine_restarts(t_0=<required>, t_mult=1, eta_min=0)`: torch CosineAnnealingWarmRestarts:
    /// the cosine restarts at base after `t_0`, then every `t_0*t_mult^k` ticks.
    CosineRestarts { t_0: u64, t_mult: u64, eta_min: f64 },
    /// `inverse_sqrt(warmup=<required>)` (no torch equivalent): the "Noam" schedule normalised to
    /// peak at base: with `s = t + 1`, `base*min(s/warmup, sqrt(warmup/s))` — linear warm-up to
    /// `base` at `t = warmup - 1`, then `base*sqrt(warmup/(t+1))`. `warmup=1` is pure
    /// `base/sqrt(t+1)`.
    InverseSqrt { warmup: u64 },
    /// `cyclic(max=<required>, step_size_up=2000, step_size_down=<step_size_up>,
    /// mode=triangular, gamma=1, base=<configured value>)`: torch CyclicLR's lr curve between
    /// `base` (lower bound; the configured value when absent) and `max`.
    Cyclic {
        max: f64,
        step_size_up: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_size_down: Option<u64>,
        mode: CyclicMode,
        gamma: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<f64>,
    },
    /// `one_cycle(max=<configured value>, total_steps=<required>, pct_start=0.3, anneal=cos,
    /// div_factor=25, final_div_factor=1e4, three_phase=false)`: torch OneCycleLR's lr curve
    /// from `max/div_factor` up to `max` and down to `max/div_factor/final_div_factor`.
    OneCycle {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        total_steps: u64,
        pct_start: f64,
        anneal: Anneal,
        div_factor: f64,
        final_div_factor: f64,
        three_phase: bool,
    },
    /// `warmup(steps=<required>, start_factor=0)`: linear warm-up
    /// `base*(start_factor + (1 - start_factor)*min(t, steps)/steps)`, then base.
    Warmup { steps: u64, start_factor: f64 },
    /// `plateau(mode=min, factor=0.1, patience=10, threshold=1e-4, threshold_mode=rel,
    /// cooldown=0, min=0, eps=1e-8)`: torch ReduceLROnPlateau, driven by
    /// [`Schedule::observe`]. The remaining fields are its state (text keys `best`,
    /// `num_bad_epochs`, `cooldown_counter`, `num_reductions`, written by `to_text` only
    /// when not fresh): `best` is `None` before the first improvement (torch's `mode_worse`,
    /// i.e. +inf for min and -inf for max); `num_reductions` counts torch's `_reduce_lr` calls.
    Plateau {
        mode: PlateauMode,
        factor: f64,
        patience: u64,
        threshold: f64,
        threshold_mode: ThresholdMode,
        cooldown: u64,
        min: f64,
        eps: f64,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_f64_nonfinite")]
        best: Option<f64>,
        #[serde(default)]
        num_bad_epochs: u64,
        #[serde(default)]
        cooldown_counter: u64,
        #[serde(default)]
        num_reductions: u64,
    },
    /// `chained(s1, s2, ...)`: torch ChainedScheduler: the product of the members' factors
    /// (see [`Schedule::value`]).
    Chained { schedules: Vec<Schedule> },
    /// `sequential(s1, s2, ..., milestones=[m1, ...])`: torch SequentialLR: `s1` for `t < m1`,
    /// then `s2` with local time `t - m1` for `m1 <= t < m2`, ... (a schedule starts at local
    /// time 0 exactly at its milestone). Milestones strictly increasing, one fewer than schedules.
    Sequential { schedules: Vec<Schedule>, milestones: Vec<u64> },
}

/// Deepest nesting of schedules accepted (by [`Schedule::parse`] and [`Schedule::validate`]): a
/// schedule that is not `chained`/`sequential` has depth 1, `chained(s1, s2)` has 1 + the
/// deepest of its members. It keeps the recursive parser and evaluator far from the end of the
/// stack, and every accepted schedule within serde_json's nesting limit (so it can be stored).
pub const MAX_DEPTH: usize = 32;

/// Names of all schedules, in the order of [`Schedule::help`].
const NAMES: &[&str] = &[
    "constant",
    "step",
    "multistep",
    "exponential",
    "polynomial",
    "linear",
    "cosine",
    "cosine_restarts",
    "inverse_sqrt",
    "cyclic",
    "one_cycle",
    "warmup",
    "plateau",
    "chained",
    "sequential",
];

const HELP: &str = "\
constant(factor=1, total_iters=0)            base*factor while t < total_iters, then base (torch ConstantLR; torch defaults 1/3, 5)
step(step_size=N, gamma=0.1)                 base*gamma^floor(t/step_size) (torch StepLR)
multistep(milestones=[m1,...], gamma=0.1)    base*gamma^(number of milestones <= t) (torch MultiStepLR)
exponential(gamma=G)                         base*gamma^t (torch ExponentialLR)
polynomial(total_iters=5, power=1)           base*(1 - min(t,total_iters)/total_iters)^power (torch PolynomialLR)
linear(start_factor=1/3, end_factor=1, total_iters=5)  base*factor moving linearly from start to end (torch LinearLR)
cosine(t_max=N, eta_min=0)                   eta_min + (base-eta_min)*(1+cos(pi*t/t_max))/2 (torch CosineAnnealingLR)
cosine_restarts(t_0=N, t_mult=1, eta_min=0)  cosine restarting after t_0, t_0*t_mult, ... ticks (torch CosineAnnealingWarmRestarts)
inverse_sqrt(warmup=N)                       base*min((t+1)/warmup, sqrt(warmup/(t+1))): linear warm-up, then inverse square root
cyclic(max=M, step_size_up=2000, step_size_down=<step_size_up>, mode=triangular|triangular2|exp_range, gamma=1, base=<configured>)  between base and max (torch CyclicLR)
one_cycle(max=<configured>, total_steps=N, pct_start=0.3, anneal=cos|linear, div_factor=25, final_div_factor=1e4, three_phase=false)  max/div_factor up to max, down to max/div_factor/final_div_factor (torch OneCycleLR)
warmup(steps=N, start_factor=0)              base*(start_factor + (1-start_factor)*min(t,steps)/steps)
plateau(mode=min|max, factor=0.1, patience=10, threshold=1e-4, threshold_mode=rel|abs, cooldown=0, min=0, eps=1e-8)  reduce when the reported metric stalls (torch ReduceLROnPlateau)
chained(s1, s2, ...)                         product of the schedules' factors (torch ChainedScheduler)
sequential(s1, s2, ..., milestones=[m1,...]) s1 until m1, then s2 from local time 0, ... (torch SequentialLR)";

impl Schedule {
    /// Value at time `t` (number of scheduler ticks so far; 0 at the first step) for a
    /// hyperparameter configured with `base`. Pure: depends only on `self`, `base` and `t`.
    /// (For a schedule that fails [`Schedule::validate`] the value is unspecified, but this
    /// never panics or loops.)
    ///
    /// `chained(s1, ..., sn)` is the product of the members' factors,
    /// `base * Π s_i.value(base, t)/base`, computed without dividing by `base`: a
    /// multiplicative member ([`Schedule::is_multiplicative`]) contributes `s_i.value(1, t)`;
    /// the first non-multiplicative member contributes its value at the real base (it "absorbs"
    /// the base), and every further non-multiplicative member contributes
    /// `s_i.value(base, t)/base`. For `base != 0` this is exactly the product formula; for
    /// `base == 0` the first non-multiplicative member's value at 0 times the multiplicative
    /// factors is the limit of the product formula as base -> 0, and further
    /// non-multiplicative members (whose ratio has no limit) are ignored (factor 1).
    pub fn value(&self, base: f64, t: u64) -> f64 {
        match self {
            Schedule::Constant { factor, total_iters } => {
                if t < *total_iters {
                    base * factor
                } else {
                    base
                }
            }
            Schedule::Step { step_size, gamma } => base * gamma.powf((t / step_size.max(&1)) as f64),
            Schedule::Multistep { milestones, gamma } => {
                let n = milestones.partition_point(|&m| m <= t);
                base * gamma.powf(n as f64)
            }
            Schedule::Exponential { gamma } => base * gamma.powf(t as f64),
            Schedule::Polynomial { total_iters, power } => {
                base * (1.0 - t.min(*total_iters) as f64 / *total_iters as f64).powf(*power)
            }
            Schedule::Linear { start_factor, end_factor, total_iters } => {
                base * (start_factor + (end_factor - start_factor) * t.min(*total_iters) as f64 / *total_iters as f64)
            }
            Schedule::Cosine { t_max, eta_min } => cosine(base, *eta_min, t, *t_max),
            Schedule::CosineRestarts { t_0, t_mult, eta_min } => {
                let (t_cur, t_i) = restart_position(t, (*t_0).max(1), (*t_mult).max(1));
                cosine(base, *eta_min, t_cur, t_i)
            }
            Schedule::InverseSqrt { warmup } => {
                let s = t.saturating_add(1);
                if s < *warmup {
                    base * s as f64 / *warmup as f64
                } else {
                    base * (*warmup as f64 / s as f64).sqrt()
                }
            }
            Schedule::Cyclic { max, step_size_up, step_size_down, mode, gamma, base: lower } => {
                let lo = lower.unwrap_or(base);
                let up = *step_size_up as f64;
                let total = up + step_size_down.unwrap_or(*step_size_up) as f64;
                let ratio = up / total;
                let tf = t as f64;
                let cycle = (1.0 + tf / total).floor();
                let x = 1.0 + tf / total - cycle;
                let scale_factor = if x <= ratio { x / ratio } else { (x - 1.0) / (ratio - 1.0) };
                let scale = match mode {
                    CyclicMode::Triangular => 1.0,
                    CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
                    CyclicMode::ExpRange => gamma.powf(tf),
                };
                lo + (max - lo) * scale_factor * scale
            }
            Schedule::OneCycle { max, total_steps, pct_start, anneal, div_factor, final_div_factor, three_phase } => {
                let peak = max.unwrap_or(base);
                let initial = peak / div_factor;
                let min_value = initial / final_div_factor;
                let n = *total_steps as f64;
                // (end_step, start value, end value) of each phase, as torch builds them.
                let two = [(pct_start * n - 1.0, initial, peak), (n - 1.0, peak, min_value)];
                let three = [
                    (pct_start * n - 1.0, initial, peak),
                    (2.0 * pct_start * n - 2.0, peak, initial),
                    (n - 1.0, initial, min_value),
                ];
                let phases: &[(f64, f64, f64)] = if *three_phase { &three } else { &two };
                let step = t.min(total_steps.saturating_sub(1)) as f64;
                let mut start_step = 0.0;
                for (i, &(end_step, from, to)) in phases.iter().enumerate() {
                    if step <= end_step || i == phases.len() - 1 {
                        let pct = (step - start_step) / (end_step - start_step);
                        return match anneal {
                            Anneal::Cos => to + (from - to) / 2.0 * ((PI * pct).cos() + 1.0),
                            Anneal::Linear => (to - from) * pct + from,
                        };
                    }
                    start_step = end_step;
                }
                unreachable!("the last phase always matches")
            }
            Schedule::Warmup { steps, start_factor } => {
                base * (start_factor + (1.0 - start_factor) * t.min(*steps) as f64 / *steps as f64)
            }
            Schedule::Plateau { factor, min, eps, num_reductions, .. } => {
                // Replays torch's `_reduce_lr` `num_reductions` times from the base value: the
                // decisions to reduce depend only on the metrics, the value only on base.
                let mut v = base;
                for _ in 0..*num_reductions {
                    let new = (v * factor).max(*min);
                    if v - new > *eps {
                        v = new;
                    } else {
                        // Not applied: every further reduction would compute the same thing.
                        break;
                    }
                }
                v
            }
            Schedule::Chained { schedules } => {
                let mut absorbed: Option<f64> = None;
                let mut product = 1.0;
                for s in schedules {
                    if s.is_multiplicative() {
                        product *= s.value(1.0, t);
                    } else if absorbed.is_none() {
                        absorbed = Some(s.value(base, t));
                    } else if base != 0.0 {
                        product *= s.value(base, t) / base;
                    }
                }
                absorbed.unwrap_or(base) * product
            }
            Schedule::Sequential { schedules, milestones } => {
                let (i, local) = sequential_position(milestones, t);
                schedules.get(i).map_or(base, |s| s.value(base, local))
            }
        }
    }

    /// Whether the schedule only multiplies the base by a factor depending on `t`
    /// (`value(base, t) == base * value(1, t)` for every base): constant, step, multistep,
    /// exponential, polynomial, linear, warmup, inverse_sqrt, cosine and cosine_restarts with
    /// `eta_min=0`, one_cycle without `max`, and chained/sequential of such schedules.
    /// cyclic (absolute `max`), one_cycle with `max`, and plateau (absolute `min` and `eps`)
    /// are not.
    pub fn is_multiplicative(&self) -> bool {
        match self {
            Schedule::Constant { .. }
            | Schedule::Step { .. }
            | Schedule::Multistep { .. }
            | Schedule::Exponential { .. }
            | Schedule::Polynomial { .. }
            | Schedule::Linear { .. }
            | Schedule::InverseSqrt { .. }
            | Schedule::Warmup { .. } => true,
            Schedule::Cosine { eta_min, .. } | Schedule::CosineRestarts { eta_min, .. } => *eta_min == 0.0,
            Schedule::OneCycle { max, .. } => max.is_none(),
            Schedule::Cyclic { .. } | Schedule::Plateau { .. } => false,
            Schedule::Chained { schedules } | Schedule::Sequential { schedules, .. } => {
                schedules.iter().all(Schedule::is_multiplicative)
            }
        }
    }

    /// Reports a metric to reduce-on-plateau schedules (and composites containing them); other
    /// schedules ignore it.
    ///
    /// Calling convention (matches torch's `opt.step(); sched.step(metric)` loop exactly): `t` is
    /// the number of ticks taken when the metric is reported, i.e. after the step that used
    /// `value(base, t - 1)` and before `value(base, t)` is read. The metric first affects
    /// `value(base, t)`:
    ///
    /// ```text
    /// for t in 0..T { lr = s.value(base, t); opt.step(lr); s.observe(metric(t), t + 1) }
    /// ```
    ///
    /// `plateau` ignores `t` (as torch: only the order of the metrics matters). `chained`
    /// forwards the metric to all its members; `sequential` to the member active at time `t`
    /// (with its local time), i.e. the one whose values the metric can still affect.
    pub fn observe(&mut self, metric: f64, t: u64) {
        match self {
            Schedule::Plateau {
                mode,
                threshold,
                threshold_mode,
                patience,
                cooldown,
                best,
                num_bad_epochs,
                cooldown_counter,
                num_reductions,
                ..
            } => {
                let current = best.unwrap_or(match mode {
                    PlateauMode::Min => f64::INFINITY,
                    PlateauMode::Max => f64::NEG_INFINITY,
                });
                let better = match (mode, threshold_mode) {
                    (PlateauMode::Min, ThresholdMode::Rel) => metric < current * (1.0 - *threshold),
                    (PlateauMode::Min, ThresholdMode::Abs) => metric < current - *threshold,
                    (PlateauMode::Max, ThresholdMode::Rel) => metric > current * (*threshold + 1.0),
                    (PlateauMode::Max, ThresholdMode::Abs) => metric > current + *threshold,
                };
                if better {
                    *best = Some(metric);
                    *num_bad_epochs = 0;
                } else {
                    *num_bad_epochs = num_bad_epochs.saturating_add(1);
                }
                if *cooldown_counter > 0 {
                    *cooldown_counter -= 1;
                    *num_bad_epochs = 0; // bad epochs in cooldown are ignored
                }
                if *num_bad_epochs > *patience {
                    *num_reductions = num_reductions.saturating_add(1);
                    *cooldown_counter = *cooldown;
                    *num_bad_epochs = 0;
                }
            }
            Schedule::Chained { schedules } => {
                for s in schedules {
                    s.observe(metric, t);
                }
            }
            Schedule::Sequential { schedules, milestones } => {
                let (i, local) = sequential_position(milestones, t);
                if let Some(s) = schedules.get_mut(i) {
                    s.observe(metric, local);
                }
            }
            _ => {}
        }
    }

    /// Parses the text form, e.g. `cosine(t_max=100, eta_min=0)`, and validates it.
    ///
    /// Errors name the schedule and, as applicable, the key, the bad value and the valid range,
    /// the valid keys (unknown key) or the known schedules (unknown name).
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let s = text::parse(text)?;
        s.validate()?;
        Ok(s)
    }

    /// The canonical text form (every key explicit); `Schedule::parse(&s.to_text()) == Ok(s)`
    /// for every valid schedule, including a plateau's state.
    pub fn to_text(&self) -> String {
        text::to_text(self)
    }

    /// The schedule's name in the text form (and its serde `kind`).
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::Constant { .. } => "constant",
            Schedule::Step { .. } => "step",
            Schedule::Multistep { .. } => "multistep",
            Schedule::Exponential { .. } => "exponential",
            Schedule::Polynomial { .. } => "polynomial",
            Schedule::Linear { .. } => "linear",
            Schedule::Cosine { .. } => "cosine",
            Schedule::CosineRestarts { .. } => "cosine_restarts",
            Schedule::InverseSqrt { .. } => "inverse_sqrt",
            Schedule::Cyclic { .. } => "cyclic",
            Schedule::OneCycle { .. } => "one_cycle",
            Schedule::Warmup { .. } => "warmup",
            Schedule::Plateau { .. } => "plateau",
            Schedule::Chained { .. } => "chained",
            Schedule::Sequential { .. } => "sequential",
        }
    }

    /// Names of all schedules.
    pub fn names() -> &'static [&'static str] {
        NAMES
    }

    /// One line per schedule: its syntax with defaults (`N`, `G`, `M` mark required keys).
    pub fn help() -> &'static str {
        HELP
    }

    /// Nesting depth: 1, or 1 + the deepest member for `chained`/`sequential` (computed without
    /// recursion, so it is safe on any value).
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut todo = vec![(self, 1)];
        while let Some((s, d)) = todo.pop() {
            deepest = deepest.max(d);
            if let Schedule::Chained { schedules } | Schedule::Sequential { schedules, .. } = s {
                todo.extend(schedules.iter().map(|m| (m, d + 1)));
            }
        }
        deepest
    }

    /// Checks the nesting depth (at most [`MAX_DEPTH`]) and every parameter's range (called by
    /// [`Schedule::parse`]; call it after serde deserialisation too). Range errors have the form
    /// `<schedule>: bad value <key>=<value>: expected <range>`.
    pub fn validate(&self) -> Result<(), String> {
        let depth = self.depth();
        if depth > MAX_DEPTH {
            return Err(format!(
                "{}: schedules nested {depth} deep (at most {MAX_DEPTH} levels of chained/sequential are allowed)",
                self.name()
            ));
        }
        self.validate_ranges()
    }

    /// [`Schedule::validate`] without the depth check.
    fn validate_ranges(&self) -> Result<(), String> {
        let name = self.name();
        let bad = |key: &str, value: String, expected: &str| -> Result<(), String> {
            Err(format!("{name}: bad value {key}={value}: expected {expected}"))
        };
        let f = text::fmt_num;
        match self {
            Schedule::Constant { factor, .. } => {
                if !(0.0..=1.0).contains(factor) {
                    return bad("factor", f(*factor), "0 <= factor <= 1");
                }
            }
            Schedule::Step { step_size, gamma } => {
                if *step_size < 1 {
                    return bad("step_size", step_size.to_string(), "an integer >= 1");
                }
                check_gamma(name, *gamma)?;
            }
            Schedule::Multistep { milestones, gamma } => {
                if milestones.windows(2).any(|w| w[0] > w[1]) {
                    return bad("milestones", text::fmt_list(milestones), "non-decreasing integers");
                }
                check_gamma(name, *gamma)?;
            }
            Schedule::Exponential { gamma } => check_gamma(name, *gamma)?,
            Schedule::Polynomial { total_iters, power } => {
                if *total_iters < 1 {
                    return bad("total_iters", total_iters.to_string(), "an integer >= 1");
                }
                if !(power.is_finite() && *power >= 0.0) {
                    return bad("power", f(*power), "a finite number >= 0");
                }
            }
            Schedule::Linear { start_factor, end_factor, total_iters } => {
                if !(*start_factor > 0.0 && *start_factor <= 1.0) {
                    return bad("start_factor", f(*start_factor), "0 < start_factor <= 1");
                }
                if !(0.0..=1.0).contains(end_factor) {
                    return bad("end_factor", f(*end_factor), "0 <= end_factor <= 1");
                }
                if *total_iters < 1 {
                    return bad("total_iters", total_iters.to_string(), "an integer >= 1");
                }
            }
            Schedule::Cosine { t_max, eta_min } => {
                if *t_max < 1 {
                    return bad("t_max", t_max.to_string(), "an integer >= 1");
                }
                if !eta_min.is_finite() {
                    return bad("eta_min", f(*eta_min), "a finite number");
                }
            }
            Schedule::CosineRestarts { t_0, t_mult, eta_min } => {
                if *t_0 < 1 {
                    return bad("t_0", t_0.to_string(), "an integer >= 1");
                }
                if *t_mult < 1 {
                    return bad("t_mult", t_mult.to_string(), "an integer >= 1");
                }
                if !eta_min.is_finite() {
                    return bad("eta_min", f(*eta_min), "a finite number");
                }
            }
            Schedule::InverseSqrt { warmup } => {
                if *warmup < 1 {
                    return bad("warmup", warmup.to_string(), "an integer >= 1");
                }
            }
            Schedule::Cyclic { max, step_size_up, step_size_down, gamma, base, .. } => {
                if !max.is_finite() {
                    return bad("max", f(*max), "a finite number");
                }
                if *step_size_up < 1 {
                    return bad("step_size_up", step_size_up.to_string(), "an integer >= 1");
                }
                if let Some(d) = step_size_down {
                    if *d < 1 {
                        return bad("step_size_down", d.to_string(), "an integer >= 1");
                    }
                }
                check_gamma(name, *gamma)?;
                if let Some(b) = base {
                    if !b.is_finite() {
                        return bad("base", f(*b), "a finite number");
                    }
                }
            }
            Schedule::OneCycle { max, total_steps, pct_start, div_factor, final_div_factor, .. } => {
                if let Some(m) = max {
                    if !m.is_finite() {
                        return bad("max", f(*m), "a finite number");
                    }
                }
                if *total_steps < 1 {
                    return bad("total_steps", total_steps.to_string(), "an integer >= 1");
                }
                if !(*pct_start > 0.0 && *pct_start < 1.0) {
                    return bad("pct_start", f(*pct_start), "0 < pct_start < 1");
                }
                if pct_start * *total_steps as f64 == 1.0 {
                    return bad(
                        "pct_start",
                        f(*pct_start),
                        "pct_start*total_steps != 1 (the warm-up phase would have zero length; torch divides by zero)",
                    );
                }
                if !(div_factor.is_finite() && *div_factor > 0.0) {
                    return bad("div_factor", f(*div_factor), "a finite number > 0");
                }
                if !(final_div_factor.is_finite() && *final_div_factor > 0.0) {
                    return bad("final_div_factor", f(*final_div_factor), "a finite number > 0");
                }
            }
            Schedule::Warmup { steps, start_factor } => {
                if *steps < 1 {
                    return bad("steps", steps.to_string(), "an integer >= 1");
                }
                if !(0.0..=1.0).contains(start_factor) {
                    return bad("start_factor", f(*start_factor), "0 <= start_factor <= 1");
                }
            }
            Schedule::Plateau { factor, threshold, min, eps, best, .. } => {
                if !(*factor >= 0.0 && *factor < 1.0) {
                    return bad("factor", f(*factor), "0 <= factor < 1");
                }
                if !(threshold.is_finite() && *threshold >= 0.0) {
                    return bad("threshold", f(*threshold), "a finite number >= 0");
                }
                if !(min.is_finite() && *min >= 0.0) {
                    return bad("min", f(*min), "a finite number >= 0");
                }
                if !(eps.is_finite() && *eps >= 0.0) {
                    return bad("eps", f(*eps), "a finite number >= 0");
                }
                if let Some(b) = best {
                    if b.is_nan() {
                        return bad("best", f(*b), "a number (not NaN)");
                    }
                }
            }
            Schedule::Chained { schedules } => {
                if schedules.is_empty() {
                    return Err(
                        "chained: expected at least one schedule, e.g. chained(warmup(steps=100), cosine(t_max=1000))"
                            .to_string(),
                    );
                }
                for s in schedules {
                    s.validate_ranges()?;
                }
            }
            Schedule::Sequential { schedules, milestones } => {
                if schedules.is_empty() {
                    return Err(
                        "sequential: expected at least one schedule, e.g. sequential(warmup(steps=100), cosine(t_max=900), milestones=[100])"
                            .to_string(),
                    );
                }
                if milestones.len() + 1 != schedules.len() {
                    return bad(
                        "milestones",
                        text::fmt_list(milestones),
                        &format!(
                            "{} milestone(s), one fewer than the {} schedule(s)",
                            schedules.len() - 1,
                            schedules.len()
                        ),
                    );
                }
                if milestones.windows(2).any(|w| w[0] >= w[1]) {
                    return bad("milestones", text::fmt_list(milestones), "strictly increasing integers");
                }
                for s in schedules {
                    s.validate_ranges()?;
                }
            }
        }
        Ok(())
    }
}

fn check_gamma(name: &str, gamma: f64) -> Result<(), String> {
    if gamma.is_finite() && gamma > 0.0 {
        Ok(())
    } else {
        Err(format!("{name}: bad value gamma={}: expected a finite number > 0", text::fmt_num(gamma)))
    }
}

/// Cosine annealing from `base` at `t = 0` to `eta_min` at `t = period` (torch's expression order).
fn cosine(base: f64, eta_min: f64, t: u64, period: u64) -> f64 {
    eta_min + (base - eta_min) * (1.0 + (PI * t as f64 / period as f64).cos()) / 2.0
}

/// Position `(t_cur, t_i)` of time `t` in a warm-restarts schedule: cycle lengths
/// `t_0, t_0*t_mult, t_0*t_mult^2, ...`.
fn restart_position(t: u64, t_0: u64, t_mult: u64) -> (u64, u64) {
    if t_mult == 1 {
        return (t % t_0, t_0);
    }
    let (mut start, mut len) = (0u64, t_0);
    while t - start >= len {
        start += len;
        len = len.saturating_mul(t_mult);
    }
    (t - start, len)
}

/// Index of the active member of a sequential schedule at time `t` and its local time.
fn sequential_position(milestones: &[u64], t: u64) -> (usize, u64) {
    let i = milestones.partition_point(|&m| m <= t);
    (i, if i == 0 { t } else { t - milestones[i - 1] })
}

/// Serde for `Option<f64>` that also round-trips infinities and NaN through JSON (as the
/// strings "inf", "-inf", "NaN"); `None` is JSON null.
mod opt_f64_nonfinite {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(x) if x.is_finite() => s.serialize_some(x),
            Some(x) => s.serialize_some(&super::text::fmt_num(*x)),
        }
    }

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, \"inf\", \"-inf\", \"NaN\" or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.parse::<f64>().map(Some).map_err(|_| E::custom(format!("expected a number, got \"{v}\"")))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_option(V)
    }
}
