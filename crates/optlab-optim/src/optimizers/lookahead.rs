//! Lookahead (Zhang, Lucas, Hinton & Ba 2019), wrapping any other optimizer.
//!
//! Slow weights `φ` start at the parameters before the first step. The inner optimizer takes its
//! steps on the fast weights `θ`; after every `k` inner steps `φ ← φ + α(θ − φ)` and `θ ← φ`
//! (Algorithm 1 of the paper). The inner optimizer's state is kept across synchronisations (the
//! paper's default).
//!
//! Conventions: `torch-optimizer`'s `Lookahead` initialises `φ` after the first inner step and
//! synchronises at steps 1, k+1, 2k+1, …; this file follows the paper (φ₀ = θ₀, sync at k, 2k, …).
//!
//! Configuration: `k`, `alpha` and `inner` (the wrapped optimizer's name) belong to Lookahead;
//! every other key, schedule and parameter group goes to the inner optimizer. A schedule on
//! `alpha` is applied by Lookahead itself. Saving and loading keeps the inner optimizer's state,
//! the slow weights and the step count.

use crate::engine::{build_groups, Group};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, OptimizerName, Parity, Spec};
use crate::layout::Layout;
use crate::optimizer::{OptimConfig, Optimizer, StepOutcome};
use crate::registry::{self, Entry, RegistryFloat};
use crate::state::{OptimizerState, TensorState};

crate::hypers! {
    /// Lookahead's own hyperparameters (every other key goes to the inner optimizer).
    pub struct LookaheadHp {
        k: i64 [1, i64::MAX] = 5, "inner steps between synchronisations";
        alpha: f64 [Kind::UNIT_POS] = 0.5, "slow-weight step size: phi <- phi + alpha (theta - phi)";
        inner: OptimizerName [registry::names] = OptimizerName("adam"),
            "the wrapped optimizer (its own keys are set alongside)";
    }
}

static SPEC: Spec = Spec {
    name: "lookahead",
    summary: "Lookahead: k fast steps of an inner optimizer, then interpolate towards slow weights",
    reference: "Zhang, Lucas, Hinton & Ba 2019, Algorithm 1",
    hypers: LookaheadHp::HYPERS,
    conventions: &[
        "slow weights start at the parameters before the first step; sync after k, 2k, ... steps (paper)",
        "the inner optimizer's state is kept across synchronisations",
        "keys other than k, alpha and inner configure the inner optimizer",
    ],
    needs_hessian: false,
    parity: Parity::Hand,
    variants: &[],
};

fn spec() -> &'static Spec {
    &SPEC
}

/// The registry entry.
pub const ENTRY: Entry = Entry::custom(
    spec,
    |l, c| Ok(Box::new(Lookahead::<f32>::new(l, c)?)),
    |l, c| Ok(Box::new(Lookahead::<f64>::new(l, c)?)),
);

/// Lookahead over an inner optimizer.
pub struct Lookahead<T: Float> {
    inner: Box<dyn Optimizer<T>>,
    group: Group,
    slow: Vec<Vec<T>>,
    step: u64,
    initialized: bool,
}

impl<T: RegistryFloat> Lookahead<T> {
    pub fn new(layout: Layout, cfg: &OptimConfig) -> Result<Self> {
        // Split the configuration: Lookahead's own keys here, the rest to the inner optimizer.
        let mut own = OptimConfig::new("lookahead");
        let mut inner_cfg = cfg.clone();
        inner_cfg.set.clear();
        inner_cfg.schedules.clear();
        for (k, v) in &cfg.set {
            if SPEC.index(k).is_some() {
                own.set.insert(k.clone(), v.clone());
            } else {
                inner_cfg.set.insert(k.clone(), v.clone());
            }
        }
        for s in &cfg.schedules {
            if SPEC.index(&s.key).is_some() {
                own.schedules.push(s.clone());
            } else {
                inner_cfg.schedules.push(s.clone());
            }
        }
        let (mut groups, _) = build_groups(&SPEC, &own, &layout)?;
        let group = groups.remove(0);
        let inner_name = LookaheadHp::read(&group.base).inner.0;
        if inner_name == "lookahead" {
            return Err(OptimError::invalid("lookahead", "inner", inner_name, "an optimizer other than lookahead"));
        }
        inner_cfg.name = inner_name.to_string();
        let slow = layout.tensors().iter().map(|t| vec![T::ZERO; t.len]).collect();
        let inner = registry::build::<T>(layout, &inner_cfg)?;
        if inner.evaluates() {
            return Err(OptimError::invalid(
                "lookahead",
                "inner",
                inner_name,
                "an optimizer whose steps do not evaluate the function (lookahead's fast steps take the given gradient)",
            ));
        }
        Ok(Lookahead { inner, group, slow, step: 0, initialized: false })
    }
}

impl<T: Float> Lookahead<T> {
    fn alpha(&self) -> f64 {
        let mut a = LookaheadHp::read(&self.group.base).alpha;
        for s in &self.group.scheduled {
            a = s.schedule.value(a, if s.per_epoch { self.inner.epochs_taken() } else { self.step });
        }
        a
    }
}

impl<T: Float> Optimizer<T> for Lookahead<T> {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }
    fn layout(&self) -> &Layout {
        self.inner.layout()
    }
    fn bytes_per_param(&self) -> f64 {
        // The sync pass reads and writes p and phi once every k steps.
        self.inner.bytes_per_param() + (4 * T::BYTES) as f64 / LookaheadHp::read(&self.group.base).k as f64
    }
    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]], hess: Option<&[&[T]]>) -> Result<StepOutcome> {
        let alpha = self.alpha();
        self.group.base.check_scheduled_key("alpha", alpha)?;
        if !self.initialized {
            if params.len() != self.slow.len() {
                // Let the inner optimizer report the mismatch.
                return self.inner.step(params, grads, hess);
            }
            for (s, p) in self.slow.iter_mut().zip(params.iter()) {
                if s.len() == p.len() {
                    s.copy_from_slice(p);
                }
            }
        }
        let out = self.inner.step(params, grads, hess)?;
        if out != StepOutcome::Applied {
            return Ok(out);
        }
        self.initialized = true;
        self.step += 1;
        if self.step.is_multiple_of(LookaheadHp::read(&self.group.base).k as u64) {
            let a = T::of(alpha);
            use rayon::prelude::*;
            let sync = |(p, s): (&mut &mut [T], &mut Vec<T>)| {
                for (p, s) in p.iter_mut().zip(s.iter_mut()) {
                    let v = *s + a * (*p - *s);
                    *s = v;
                    *p = v;
                }
            };
            if self.layout().total_len() >= crate::engine::PAR_MIN {
                params.par_iter_mut().zip(self.slow.par_iter_mut()).for_each(sync);
            } else {
                params.iter_mut().zip(self.slow.iter_mut()).for_each(sync);
            }
        }
        Ok(StepOutcome::Applied)
    }
    fn state_elements(&self) -> usize {
        self.inner.state_elements() + self.slow.iter().map(Vec::len).sum::<usize>()
    }
    fn last_grad_norm(&self) -> Option<f64> {
        self.inner.last_grad_norm()
    }
    /// The inner optimizer's evaluation weights of the (fast) parameters, when it has them.
    fn has_eval_params(&self) -> bool {
        self.inner.has_eval_params()
    }
    fn eval_params(&self, params: &[&[T]], out: &mut [&mut [T]]) -> Result<bool> {
        self.inner.eval_params(params, out)
    }
    fn epoch_boundary(&mut self, params: &[&[T]]) -> Result<()> {
        self.inner.epoch_boundary(params)
    }
    fn override_hyper(&mut self, group: usize, key: &str, value: Option<f64>) -> Result<()> {
        self.inner.override_hyper(group, key, value)
    }
    fn steps_taken(&self) -> u64 {
        self.step
    }
    fn epochs_taken(&self) -> u64 {
        self.inner.epochs_taken()
    }
    fn end_epoch(&mut self) {
        self.inner.end_epoch()
    }
    fn report_metric(&mut self, metric: f64) {
        let t = self.step;
        for s in &mut self.group.scheduled {
            s.schedule.observe(metric, t);
        }
        self.inner.report_metric(metric)
    }
    fn current(&self, group: usize, key: &str) -> Option<f64> {
        if key == "alpha" && group == 0 {
            return Some(self.alpha());
        }
        if key == "k" && group == 0 {
            return Some(LookaheadHp::read(&self.group.base).k as f64);
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
            optimizer: SPEC.name.to_string(),
            dtype: T::NAME.to_string(),
            step: self.step,
            epoch: self.inner.epochs_taken(),
            groups: vec![self.group.to_state()],
            global: vec![("initialized".to_string(), vec![self.initialized as u8 as f64])],
            tensors: self
                .layout()
                .tensors()
                .iter()
                .zip(&self.slow)
                .map(|(t, s)| TensorState {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    group: 0,
                    scalars: Vec::new(),
                    buffers: vec![("slow".to_string(), s.clone())],
                })
                .collect(),
            inner: Some(Box::new(self.inner.state())),
        }
    }
    fn load_state(&mut self, st: &OptimizerState<T>) -> Result<()> {
        st.check_header(SPEC.name, self.layout())?;
        let st = st.ordered(self.layout())?;
        let inner = st
            .inner
            .as_deref()
            .ok_or_else(|| OptimError::State("lookahead state without the inner optimizer's state".into()))?;
        let [g] = st.groups.as_slice() else {
            return Err(OptimError::State(format!("lookahead state has {} groups, expected 1", st.groups.len())));
        };
        let group = Group::from_state(g, &SPEC, &self.group)?;
        if group.base.get("inner") != self.group.base.get("inner") {
            return Err(OptimError::State(format!(
                "lookahead state wraps `{}`, this optimizer wraps `{}`",
                group.base.get_text("inner").unwrap_or_default(),
                self.group.base.get_text("inner").unwrap_or_default()
            )));
        }
        let initialized = match st.global.iter().find(|(n, _)| n == "initialized") {
            Some((_, v)) if v.len() == 1 => v[0] != 0.0,
            _ => return Err(OptimError::State("lookahead state lacks `initialized`".into())),
        };
        for t in &st.tensors {
            if t.buffers.len() != 1 || t.buffers[0].0 != "slow" {
                return Err(OptimError::State(format!("tensor `{}`: lookahead expects one buffer `slow`", t.name)));
            }
        }
        self.inner.load_state(inner)?;
        for (dst, t) in self.slow.iter_mut().zip(&st.tensors) {
            dst.copy_from_slice(&t.buffers[0].1);
        }
        self.group = group;
        self.step = st.step;
        self.initialized = initialized;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig};

    /// f(x) = x²/2 (g = x) with inner SGD lr 0.1, k = 2, alpha = 0.5, by hand:
    /// fast steps θ ← θ − 0.1θ; after steps 2 and 4, φ ← φ + α(θ − φ) and θ ← φ.
    #[test]
    fn hand_computed_steps_of_lookahead_over_sgd() {
        let cfg = OptimConfig::new("lookahead").set("inner", "sgd").set("lr", 0.1).set("k", 2).set("alpha", 0.5);
        let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        let mut x = [1.0f64];
        let sgd = |t: f64| t + -0.1 * t;
        let (mut theta, mut phi) = (1.0f64, 1.0f64);
        let mut want = Vec::new();
        for step in 1..=5 {
            theta = sgd(theta);
            if step % 2 == 0 {
                phi += 0.5 * (theta - phi);
                theta = phi;
            }
            want.push(theta);
        }
        assert_eq!(want[1], 1.0 + 0.5 * (0.81 - 1.0)); // 0.905 after the first sync
        for (i, w) in want.iter().enumerate() {
            let g = [x[0]];
            o.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
            assert_eq!(x[0], *w, "step {}", i + 1);
        }
        assert_eq!(o.current(0, "alpha"), Some(0.5));
        assert_eq!(o.current(0, "lr"), Some(0.1));
    }

    #[test]
    fn inner_keys_pass_through_and_alpha_can_be_scheduled() {
        let cfg = OptimConfig::new("lookahead")
            .set("inner", "adam")
            .set("beta1", 0.5)
            .schedule("alpha", crate::Schedule::parse("exponential(gamma=0.5)").unwrap());
        let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
        assert_eq!(o.hyper(0).unwrap().get_text("beta1").as_deref(), Some("0.5"));
        let mut x = [1.0];
        o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
        assert_eq!(o.current(0, "alpha"), Some(0.25));
        let e = registry::build::<f64>(Layout::single("x", 1), &OptimConfig::new("lookahead").set("betas", 1))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("betas") && e.contains("adam"), "{e}");
    }
}
