//! Weight averaging around any optimizer: SWA (the running mean of the iterates) and EMA of
//! weights, with torch.optim.swa_utils' semantics (`AveragedModel`, `get_ema_multi_avg_fn`,
//! `SWALR`).
//!
//! The wrapped optimizer steps the parameters as it would alone; after each averaging *unit*
//! (a step, or an epoch: [`AverageUnit`]) the wrapper updates its averaged copy of the weights.
//! Units are counted from 1: after unit `c` the average is updated when `c > swa_start` and
//! `(c − swa_start − 1)` is a multiple of `swa_freq` — torch's usage
//! `if epoch >= swa_start: swa_model.update_parameters(model)` with a 0-based `epoch` after that
//! epoch's training (and every `swa_freq`-th such unit).
//!
//! * The first update copies the weights (torch's `n_averaged == 0` convention, for both methods).
//! * **SWA**, update `n + 1`: `avg ← avg + (w − avg)/(n + 1)` (torch's `get_swa_avg_fn`, which
//!   `AveragedModel` uses on the CPU).
//! * **EMA**: `avg ← lerp(avg, w, 1 − decay)` with torch's `lerp` (`a + t(b − a)` for |t| < 0.5,
//!   else `b − (b − a)(1 − t)`), as `get_ema_multi_avg_fn(decay)` does.
//! * **SWALR** (`swa_lr` set): from unit `swa_start + 1` on, after every unit the learning rate of
//!   every parameter group moves towards `swa_lr` exactly as torch's `SWALR(optimizer, swa_lr,
//!   anneal_epochs, anneal_strategy)` does when it is created at the first averaged unit and
//!   stepped after every unit from then on; the lr it starts from is the group's lr in the first
//!   averaged unit (schedules included). While it is active it replaces the lr of the wrapped
//!   optimizer (schedules on `lr` are then no longer applied, as torch's other scheduler is no
//!   longer stepped); other schedules continue.
//!
//! The averaged weights are the optimizer's **evaluation weights** ([`Optimizer::eval_params`]):
//! function runs report them, network training validates and reports them. Before the first
//! update the evaluation weights are the wrapped optimizer's own.
//!
//! The state (averaged weights, update count, SWALR's lr, and the settings) is saved and loaded
//! by tensor name with the wrapped optimizer's state, so a resumed run continues bit for bit.

use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Spec};
use crate::layout::Layout;
use crate::optimizer::{OptimConfig, Optimizer, StepOutcome};
use crate::state::{OptimizerState, TensorState};
use serde::{Deserialize, Serialize};

/// How the weights are averaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AverageMethod {
    /// Stochastic weight averaging: the equal-weight running mean.
    Swa,
    /// Exponential moving average with `ema_decay`.
    Ema,
}

/// What `swa_start`, `swa_freq` and `anneal_epochs` count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AverageUnit {
    /// Optimizer steps (applied ones; skipped steps do not count).
    #[default]
    Step,
    /// Epochs (network training; the average is taken at the end of each epoch's steps).
    Epoch,
}

/// SWALR's annealing curve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    /// `(1 − cos(πt))/2`.
    #[default]
    Cos,
    /// `t`.
    Linear,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn one() -> u64 {
    1
}

fn is_one(v: &u64) -> bool {
    *v == 1
}

/// Weight averaging settings (`average = { method = "swa", ... }` in an experiment's optimizer
/// entry; `--average` and friends on the command line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AverageConfig {
    pub method: AverageMethod,
    #[serde(default, skip_serializing_if = "is_default")]
    pub unit: AverageUnit,
    /// Units before the first averaging update (which comes after unit `swa_start + 1`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub swa_start: u64,
    /// Units between averaging updates (>= 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub swa_freq: u64,
    /// SWALR's target learning rate (None: no SWALR; the lr follows the optimizer's schedules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swa_lr: Option<f64>,
    /// SWALR's annealing length in units (torch's default 10); only with `swa_lr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anneal_epochs: Option<u64>,
    /// SWALR's curve (torch's default `cos`); only with `swa_lr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anneal_strategy: Option<Anneal>,
    /// EMA's decay in [0, 1] (torch's default 0.999); only with `method = "ema"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
}

impl AverageConfig {
    pub fn swa() -> Self {
        AverageConfig {
            method: AverageMethod::Swa,
            unit: AverageUnit::Step,
            swa_start: 0,
            swa_freq: 1,
            swa_lr: None,
            anneal_epochs: None,
            anneal_strategy: None,
            ema_decay: None,
        }
    }

    pub fn ema(decay: f64) -> Self {
        AverageConfig { method: AverageMethod::Ema, ema_decay: Some(decay), ..Self::swa() }
    }

    /// Checks the settings: each error names the setting and the value.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, v: String, want: &str| {
            Err(OptimError::Malformed(format!("weight averaging: `{key}` = {v}: {want}")))
        };
        if self.swa_freq == 0 {
            return bad("swa_freq", "0".into(), "expected an integer >= 1");
        }
        if let Some(lr) = self.swa_lr {
            if !(lr.is_finite() && lr >= 0.0) {
                return bad("swa_lr", format!("{lr}"), "expected a finite number >= 0");
            }
        } else {
            if let Some(a) = self.anneal_epochs {
                return bad("anneal_epochs", a.to_string(), "SWALR's setting: it needs `swa_lr`");
            }
            if let Some(a) = self.anneal_strategy {
                return bad("anneal_strategy", format!("{a:?}").to_lowercase(), "SWALR's setting: it needs `swa_lr`");
            }
        }
        match (self.method, self.ema_decay) {
            (AverageMethod::Swa, Some(d)) => bad("ema_decay", format!("{d}"), "set for `method = swa`; it is EMA's"),
            (AverageMethod::Ema, Some(d)) if !(0.0..=1.0).contains(&d) => {
                bad("ema_decay", format!("{d}"), "expected a number in [0, 1]")
            }
            _ => Ok(()),
        }
    }

    fn decay(&self) -> f64 {
        self.ema_decay.unwrap_or(0.999)
    }

    /// Whether the average is updated after unit `c` (counted from 1).
    pub fn updates_after(&self, c: u64) -> bool {
        c > self.swa_start && (c - self.swa_start - 1).is_multiple_of(self.swa_freq)
    }

    /// A short description for labels (`swa(start=10,lr=0.05)`).
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if self.unit == AverageUnit::Epoch {
            parts.push("unit=epoch".to_string());
        }
        if self.swa_start != 0 {
            parts.push(format!("start={}", self.swa_start));
        }
        if self.swa_freq != 1 {
            parts.push(format!("freq={}", self.swa_freq));
        }
        if let Some(lr) = self.swa_lr {
            parts.push(format!("swa_lr={}", crate::fmt_num(lr)));
        }
        if let Some(a) = self.anneal_epochs {
            parts.push(format!("anneal_epochs={a}"));
        }
        if let Some(a) = self.anneal_strategy {
            parts.push(format!("anneal={}", format!("{a:?}").to_lowercase()));
        }
        if let Some(d) = self.ema_decay {
            parts.push(format!("decay={}", crate::fmt_num(d)));
        }
        let m = match self.method {
            AverageMethod::Swa => "swa",
            AverageMethod::Ema => "ema",
        };
        if parts.is_empty() {
            m.to_string()
        } else {
            format!("{m}({})", parts.join(","))
        }
    }

    /// The settings as numbers, saved with the state and compared on loading (-1: not set; every
    /// setting is >= 0, and the state header holds finite numbers only).
    fn fingerprint(&self) -> Vec<f64> {
        vec![
            self.method as u8 as f64,
            self.unit as u8 as f64,
            self.swa_start as f64,
            self.swa_freq as f64,
            self.swa_lr.unwrap_or(-1.0),
            self.anneal_epochs.map_or(-1.0, |a| a as f64),
            self.anneal_strategy.map_or(-1.0, |a| a as u8 as f64),
            self.ema_decay.unwrap_or(-1.0),
        ]
    }
}

/// The name of the averaging wrapper's state (its `optimizer` field).
pub const STATE_NAME: &str = "average";

/// An optimizer with an averaged copy of its weights (see the module documentation).
pub struct Averaged<T: Float> {
    inner: Box<dyn Optimizer<T>>,
    cfg: AverageConfig,
    avg: Vec<Vec<T>>,
    n_averaged: u64,
    /// SWALR: whether the start lr has been taken, and each group's current lr.
    lr_taken: bool,
    lr: Vec<f64>,
    /// Each group's lr in the last step (before SWALR takes over).
    last_lr: Vec<f64>,
    /// Unit-epoch bookkeeping: the epoch (from 1) whose end was processed by
    /// [`Optimizer::epoch_boundary`], and an averaging update owed by an epoch that ended without it.
    boundary_done: u64,
    pending: bool,
}

impl<T: Float> Averaged<T> {
    /// Wraps `inner`; `cfg` is checked, and `swa_lr` needs an `lr` the inner optimizer has.
    pub fn new(inner: Box<dyn Optimizer<T>>, cfg: AverageConfig) -> Result<Self> {
        cfg.check()?;
        let groups = inner.groups();
        if cfg.swa_lr.is_some() && inner.current(0, "lr").is_none() {
            return Err(OptimError::Malformed(format!(
                "weight averaging: `swa_lr` sets the learning rate, and optimizer `{}` has no `lr`",
                inner.spec().name
            )));
        }
        let avg = inner.layout().tensors().iter().map(|t| vec![T::ZERO; t.len]).collect();
        Ok(Averaged {
            inner,
            cfg,
            avg,
            n_averaged: 0,
            lr_taken: false,
            lr: vec![0.0; groups],
            last_lr: vec![0.0; groups],
            boundary_done: 0,
            pending: false,
        })
    }

    pub fn config(&self) -> &AverageConfig {
        &self.cfg
    }

    /// Averaging updates so far (torch's `n_averaged`).
    pub fn n_averaged(&self) -> u64 {
        self.n_averaged
    }

    fn check_params(&self, params: &[&[T]]) -> Result<()> {
        let layout = self.inner.layout();
        if params.len() != layout.len() {
            return Err(OptimError::Malformed(format!(
                "weight averaging got {} tensors, the optimizer was built for {} ({})",
                params.len(),
                layout.len(),
                layout.names().join(", ")
            )));
        }
        for (t, p) in layout.tensors().iter().zip(params) {
            if p.len() != t.len {
                return Err(OptimError::Tensor {
                    tensor: t.name.clone(),
                    what: format!("has {} elements, expected {} (shape {:?})", p.len(), t.len, t.shape),
                });
            }
        }
        Ok(())
    }

    /// One averaging update of `avg` (with `n` updates before it) towards `w`, into `out`
    /// (`out` may be `avg` itself: see [`Averaged::update_in_place`]).
    #[inline]
    fn averaged_value(method: AverageMethod, n: u64, weight: T, a: T, w: T) -> T {
        if n == 0 {
            return w;
        }
        match method {
            // torch's get_swa_avg_fn: avg + (w - avg) / (n + 1).
            AverageMethod::Swa => a + (w - a) / weight,
            // torch's lerp(avg, w, t), t = 1 - decay.
            AverageMethod::Ema => {
                let d = w - a;
                if weight.to_f64().abs() < 0.5 {
                    a + weight * d
                } else {
                    w - d * (T::ONE - weight)
                }
            }
        }
    }

    fn weight(&self) -> T {
        match self.cfg.method {
            AverageMethod::Swa => T::of((self.n_averaged + 1) as f64),
            AverageMethod::Ema => T::of(1.0 - self.cfg.decay()),
        }
    }

    fn update_in_place(&mut self, params: &[&[T]]) {
        let (method, n, w) = (self.cfg.method, self.n_averaged, self.weight());
        for (a, p) in self.avg.iter_mut().zip(params) {
            for (a, &p) in a.iter_mut().zip(p.iter()) {
                *a = Self::averaged_value(method, n, w, *a, p);
            }
        }
        self.n_averaged += 1;
    }

    /// SWALR's step after unit `c`, and the start lr in the first averaged unit.
    fn swalr_after(&mut self, c: u64) {
        let Some(swa_lr) = self.cfg.swa_lr else { return };
        if c <= self.cfg.swa_start {
            return;
        }
        if !self.lr_taken {
            self.lr.clone_from(&self.last_lr);
            self.lr_taken = true;
        }
        let ae = self.cfg.anneal_epochs.unwrap_or(10);
        let f = |t: f64| match self.cfg.anneal_strategy.unwrap_or_default() {
            Anneal::Cos => (1.0 - (std::f64::consts::PI * t).cos()) / 2.0,
            Anneal::Linear => t,
        };
        // torch's SWALR.get_lr with `step` = the number of steps since its creation.
        let step = (c - self.cfg.swa_start) as f64;
        let denom = ae.max(1) as f64;
        let prev_alpha = f(((step - 1.0) / denom).clamp(0.0, 1.0));
        let alpha = f((step / denom).clamp(0.0, 1.0));
        for lr in &mut self.lr {
            let prev = if prev_alpha == 1.0 { swa_lr } else { (*lr - prev_alpha * swa_lr) / (1.0 - prev_alpha) };
            *lr = swa_lr * alpha + prev * (1.0 - alpha);
        }
    }

    /// Everything that follows unit `c`: SWALR, and the averaging update (now with `params`, or
    /// owed to the next step when `params` is None).
    fn after_unit(&mut self, c: u64, params: Option<&[&[T]]>) {
        self.swalr_after(c);
        if self.cfg.updates_after(c) {
            match params {
                Some(p) => self.update_in_place(p),
                None => self.pending = true,
            }
        }
    }
}

impl<T: Float> Optimizer<T> for Averaged<T> {
    fn spec(&self) -> &'static Spec {
        self.inner.spec()
    }
    fn layout(&self) -> &Layout {
        self.inner.layout()
    }
    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]], hess: Option<&[&[T]]>) -> Result<StepOutcome> {
        if self.pending {
            let ro: Vec<&[T]> = params.iter().map(|p| &p[..]).collect();
            self.check_params(&ro)?;
            self.update_in_place(&ro);
            self.pending = false;
        }
        if self.cfg.swa_lr.is_some() {
            if self.lr_taken {
                for g in 0..self.lr.len() {
                    self.inner.override_hyper(g, "lr", Some(self.lr[g]))?;
                }
            } else {
                for g in 0..self.last_lr.len() {
                    // Every group has `lr` (checked when built).
                    self.last_lr[g] = self.inner.current(g, "lr").unwrap_or(0.0);
                }
            }
        }
        let out = self.inner.step(params, grads, hess)?;
        if out == StepOutcome::Applied && self.cfg.unit == AverageUnit::Step {
            let c = self.inner.steps_taken();
            let ro: Vec<&[T]> = params.iter().map(|p| &p[..]).collect();
            self.after_unit(c, Some(&ro));
        }
        Ok(out)
    }
    fn bytes_per_param(&self) -> f64 {
        // Reads the parameters and reads and writes the average once per update.
        let per_update = (3 * T::BYTES) as f64;
        let every = match self.cfg.unit {
            AverageUnit::Step => self.cfg.swa_freq as f64,
            AverageUnit::Epoch => f64::INFINITY,
        };
        self.inner.bytes_per_param() + per_update / every
    }
    fn state_elements(&self) -> usize {
        self.inner.state_elements() + self.avg.iter().map(Vec::len).sum::<usize>()
    }
    fn last_grad_norm(&self) -> Option<f64> {
        self.inner.last_grad_norm()
    }
    fn has_eval_params(&self) -> bool {
        true
    }
    /// The averaged weights; before the first update, the wrapped optimizer's evaluation weights.
    fn eval_params(&self, params: &[&[T]], out: &mut [&mut [T]]) -> Result<bool> {
        self.check_params(params)?;
        let ro: Vec<&[T]> = out.iter().map(|o| &o[..]).collect();
        self.check_params(&ro)?;
        if self.n_averaged == 0 && !self.pending {
            if !self.inner.eval_params(params, out)? {
                for (o, p) in out.iter_mut().zip(params) {
                    o.copy_from_slice(p);
                }
            }
            return Ok(true);
        }
        if self.pending {
            let (method, n, w) = (self.cfg.method, self.n_averaged, self.weight());
            for ((o, a), p) in out.iter_mut().zip(&self.avg).zip(params) {
                for ((o, &a), &p) in o.iter_mut().zip(a.iter()).zip(p.iter()) {
                    *o = Self::averaged_value(method, n, w, a, p);
                }
            }
        } else {
            for (o, a) in out.iter_mut().zip(&self.avg) {
                o.copy_from_slice(a);
            }
        }
        Ok(true)
    }
    fn epoch_boundary(&mut self, params: &[&[T]]) -> Result<()> {
        self.inner.epoch_boundary(params)?;
        if self.cfg.unit != AverageUnit::Epoch {
            return Ok(());
        }
        self.check_params(params)?;
        let c = self.inner.epochs_taken() + 1;
        if self.boundary_done != c {
            if self.pending {
                self.update_in_place(params);
                self.pending = false;
            }
            self.after_unit(c, Some(params));
            self.boundary_done = c;
        }
        Ok(())
    }
    fn override_hyper(&mut self, group: usize, key: &str, value: Option<f64>) -> Result<()> {
        self.inner.override_hyper(group, key, value)
    }
    fn steps_taken(&self) -> u64 {
        self.inner.steps_taken()
    }
    fn epochs_taken(&self) -> u64 {
        self.inner.epochs_taken()
    }
    fn end_epoch(&mut self) {
        if self.cfg.unit == AverageUnit::Epoch {
            let c = self.inner.epochs_taken() + 1;
            if self.boundary_done != c {
                // Nobody called `epoch_boundary` with the weights: the update is taken at the next
                // step (or computed on the fly by `eval_params`), from the same weights.
                self.after_unit(c, None);
            }
        }
        self.inner.end_epoch()
    }
    fn report_metric(&mut self, metric: f64) {
        self.inner.report_metric(metric)
    }
    /// SWALR's lr once it is active (what the next step uses), else the wrapped optimizer's.
    fn current(&self, group: usize, key: &str) -> Option<f64> {
        if key == "lr" && self.lr_taken && self.cfg.swa_lr.is_some() {
            if let Some(&lr) = self.lr.get(group) {
                return Some(lr);
            }
        }
        self.inner.current(group, key)
    }
    fn groups(&self) -> usize {
        self.inner.groups()
    }
    fn hyper(&self, group: usize) -> Option<&Hyper> {
        self.inner.hyper(group)
    }
    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            optimizer: STATE_NAME.to_string(),
            dtype: T::NAME.to_string(),
            step: self.inner.steps_taken(),
            epoch: self.inner.epochs_taken(),
            groups: Vec::new(),
            global: vec![
                ("settings".to_string(), self.cfg.fingerprint()),
                ("n_averaged".to_string(), vec![self.n_averaged as f64]),
                ("lr_taken".to_string(), vec![self.lr_taken as u8 as f64]),
                ("lr".to_string(), self.lr.clone()),
                ("last_lr".to_string(), self.last_lr.clone()),
                ("boundary_done".to_string(), vec![self.boundary_done as f64]),
                ("pending".to_string(), vec![self.pending as u8 as f64]),
            ],
            tensors: self
                .layout()
                .tensors()
                .iter()
                .zip(&self.avg)
                .map(|(t, a)| TensorState {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    group: 0,
                    scalars: Vec::new(),
                    buffers: vec![("averaged".to_string(), a.clone())],
                })
                .collect(),
            inner: Some(Box::new(self.inner.state())),
        }
    }
    fn load_state(&mut self, st: &OptimizerState<T>) -> Result<()> {
        if st.optimizer != STATE_NAME {
            return Err(OptimError::State(format!(
                "the state was saved without weight averaging (optimizer `{}`); this optimizer averages ({})",
                st.optimizer,
                self.cfg.label()
            )));
        }
        st.check_header(STATE_NAME, self.layout())?;
        let st = st.ordered(self.layout())?;
        let inner = st
            .inner
            .as_deref()
            .ok_or_else(|| OptimError::State("averaging state without the optimizer's state".into()))?;
        let get = |name: &str, len: Option<usize>| -> Result<Vec<f64>> {
            match st.global.iter().find(|(n, _)| n == name) {
                Some((_, v)) if len.is_none_or(|l| v.len() == l) => Ok(v.clone()),
                _ => Err(OptimError::State(format!("averaging state lacks `{name}` (or it has the wrong length)"))),
            }
        };
        let settings = get("settings", None)?;
        let same =
            |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        if !same(&settings, &self.cfg.fingerprint()) {
            return Err(OptimError::State(format!(
                "the state was saved with other weight-averaging settings than these ({})",
                self.cfg.label()
            )));
        }
        let groups = self.lr.len();
        let n_averaged = get("n_averaged", Some(1))?[0];
        let lr_taken = get("lr_taken", Some(1))?[0] != 0.0;
        let lr = get("lr", Some(groups))?;
        let last_lr = get("last_lr", Some(groups))?;
        let boundary_done = get("boundary_done", Some(1))?[0];
        let pending = get("pending", Some(1))?[0] != 0.0;
        for t in &st.tensors {
            if t.buffers.len() != 1 || t.buffers[0].0 != "averaged" {
                return Err(OptimError::State(format!(
                    "tensor `{}`: weight averaging expects one buffer `averaged`",
                    t.name
                )));
            }
        }
        self.inner.load_state(inner)?;
        for (dst, t) in self.avg.iter_mut().zip(&st.tensors) {
            dst.copy_from_slice(&t.buffers[0].1);
        }
        self.n_averaged = n_averaged as u64;
        self.lr_taken = lr_taken;
        self.lr = lr;
        self.last_lr = last_lr;
        self.boundary_done = boundary_done as u64;
        self.pending = pending;
        if self.cfg.swa_lr.is_some() && !self.lr_taken {
            for g in 0..groups {
                self.inner.override_hyper(g, "lr", None)?;
            }
        }
        Ok(())
    }
}

/// Wraps `inner` when `cfg.average` is set (the registry's [`crate::registry::build`] does this).
pub fn wrap<T: Float>(inner: Box<dyn Optimizer<T>>, cfg: &OptimConfig) -> Result<Box<dyn Optimizer<T>>> {
    match &cfg.average {
        None => Ok(inner),
        Some(a) => Ok(Box::new(Averaged::new(inner, a.clone())?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{registry, Layout};

    /// Per-epoch SWA over SGD on f = x²/2: the caller that reports the epoch's end with the
    /// weights (`epoch_boundary`) and the one that only calls `end_epoch` get the same averages.
    #[test]
    fn epoch_averaging_with_or_without_the_boundary_call_agrees() {
        let cfg = OptimConfig::new("sgd").set("lr", 0.1).average(AverageConfig {
            unit: AverageUnit::Epoch,
            swa_start: 1,
            ..AverageConfig::swa()
        });
        let mut a = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let mut b = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let (mut xa, mut xb) = ([1.0f64], [1.0f64]);
        let mut ends = Vec::new();
        for _epoch in 0..4 {
            for _ in 0..3 {
                let g = [xa[0]];
                a.step(&mut [&mut xa[..]], &[&g[..]], None).unwrap();
                let g = [xb[0]];
                b.step(&mut [&mut xb[..]], &[&g[..]], None).unwrap();
            }
            ends.push(xa[0]);
            a.epoch_boundary(&[&xa[..]]).unwrap();
            a.end_epoch();
            b.end_epoch();
            let (mut ea, mut eb) = ([0.0], [0.0]);
            a.eval_params(&[&xa[..]], &mut [&mut ea[..]]).unwrap();
            b.eval_params(&[&xb[..]], &mut [&mut eb[..]]).unwrap();
            assert_eq!(ea, eb, "after epoch {}", ends.len());
        }
        // swa_start = 1: the average of the weights at the end of epochs 2, 3 and 4.
        let (mut e, want) = ([0.0], (ends[1] + ends[2] + ends[3]) / 3.0);
        a.eval_params(&[&xa[..]], &mut [&mut e[..]]).unwrap();
        assert!((e[0] - want).abs() <= 1e-15 * want.abs(), "{} vs {want}", e[0]);
        // Before averaging starts the evaluation weights are the parameters.
        let mut c = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let mut x = [1.0];
        c.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        let mut e = [0.0];
        c.eval_params(&[&x[..]], &mut [&mut e[..]]).unwrap();
        assert_eq!(e, x);
    }
}
