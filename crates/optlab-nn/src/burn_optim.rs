//! burn's own optimizer trait, [`burn::optim::Optimizer`], implemented by an optlab optimizer.
//!
//! burn 0.22's trait is per parameter: burn's `ModuleOptimizer` walks the module and calls
//! `step(lr, tensor, grad, state)` for each parameter, keeps the returned state, and saves and
//! loads it in its burnpack records. [`OptlabBurnOptimizer`] does that step with an optlab
//! optimizer built for the one tensor, whose whole optlab state (moments, step count, schedule
//! positions) travels as the parameter's burn state, so burn's grouping (`with_group`), gradient
//! clipping and `save`/`load` work unchanged:
//!
//! ```
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::{GradientsParams, ModuleOptimizer};
//! use burn::tensor::{Device, Tensor, TensorData};
//! use optlab_nn::burn_optim::OptlabBurnOptimizer;
//! use optlab_optim::OptimConfig;
//!
//! #[derive(Module, Debug)]
//! struct Net {
//!     fc: Linear,
//! }
//!
//! let device = Device::flex().autodiff();
//! device.seed(0); // a fixed initialisation, so the example is the same run every time
//! let mut net = Net { fc: LinearConfig::new(2, 1).init(&device) };
//! // A burn ModuleOptimizer whose per-parameter rule is optlab's NAdam.
//! let mut optim: ModuleOptimizer = OptlabBurnOptimizer::new(OptimConfig::new("nadam")).unwrap().into();
//! let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, -1.0, 0.5], [2, 2]), &device);
//! let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0], [2, 1]), &device);
//! let loss = |net: &Net| (net.fc.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
//! let first: f32 = loss(&net).into_scalar();
//! for _ in 0..200 {
//!     let grads = GradientsParams::from_grads(loss(&net).backward(), &net);
//!     net = optim.step(0.05, net, grads); // burn's lr is optlab's `lr` for this step
//! }
//! let last: f32 = loss(&net).into_scalar();
//! assert!(last < 1e-3 * first);
//! ```
//!
//! Learning rate: burn's `lr` argument (a constant or a burn scheduler's value) replaces the
//! optlab `lr` of every step; an optlab schedule on `lr` then multiplies it as usual. Optimizers
//! without an `lr` hyperparameter ignore it.
//!
//! Limits of burn's per-parameter trait: the optlab optimizer sees one tensor at a time (named
//! `param`), so optimizers that couple tensors (YellowFin's global tuner, Lookahead's sync over
//! the whole model) act per tensor; per-epoch schedules and plateau metrics have no hook; the
//! trait cannot return errors, so a step that optlab refuses (a NaN gradient under the default
//! non-finite policy, a Hessian-needing optimizer) panics with optlab's message. Each step builds
//! the small optimizer and serialises its state (costly on many small tensors). For full optlab
//! semantics (names, groups by path, per-epoch schedules, errors as values) use
//! [`OptlabOptimizer`](crate::OptlabOptimizer).

use crate::error::NnError;
use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor, TensorData};
use optlab_optim::{registry, Layout, OptimConfig, OptimizerState};

/// An optlab optimizer behind burn's per-parameter [`Optimizer`] trait.
#[derive(Clone, Debug)]
pub struct OptlabBurnOptimizer {
    cfg: OptimConfig,
    has_lr: bool,
}

impl OptlabBurnOptimizer {
    /// Checks the configuration now (the trait's `step` has no error channel); refuses the
    /// optimizers that need a Hessian diagonal, which burn's trait cannot supply.
    pub fn new(cfg: OptimConfig) -> Result<Self, NnError> {
        let spec = registry::spec(&cfg.name)?;
        if spec.needs_hessian {
            return Err(NnError::setting(
                "optimizer",
                &cfg.name,
                "needs a Hessian diagonal, which burn's Optimizer trait cannot pass; use OptlabOptimizer",
            ));
        }
        if registry::fallback(&cfg.name)?.is_some() {
            return Err(NnError::setting(
                "optimizer",
                &cfg.name,
                "takes only some tensors (muon: matrices; biases need a use_muon=false group), and burn's Optimizer \
                 trait steps every tensor with one configuration; use OptlabOptimizer with parameter groups",
            ));
        }
        if registry::build::<f32>(Layout::single("param", 1), &cfg)?.evaluates() {
            return Err(crate::adapter::refuse_evaluating(&cfg.name));
        }
        Ok(OptlabBurnOptimizer { has_lr: spec.index("lr").is_some(), cfg })
    }
}

/// One parameter's optlab state, in optlab's state format (saved by burn as a byte tensor).
#[derive(Clone, Debug)]
pub struct OptlabParamState {
    bytes: Vec<u8>,
}

const STATE_KEY: &str = "optlab_state";

impl RecordState for OptlabParamState {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, STATE_KEY, TensorData::new(self.bytes.clone(), [self.bytes.len()]));
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, _device: &Device) -> Option<Self> {
        let data = src.take_tensor(prefix, STATE_KEY)?;
        let bytes = data.as_slice::<u8>().ok()?.to_vec();
        OptimizerState::<f32>::from_bytes(&bytes, prefix).ok()?;
        Some(OptlabParamState { bytes })
    }
}

impl Optimizer for OptlabBurnOptimizer {
    type State<const D: usize> = OptlabParamState;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let shape = tensor.shape();
        let device = tensor.device();
        let mut cfg = self.cfg.clone();
        if self.has_lr {
            cfg = cfg.set("lr", lr);
        }
        let fail = |e: optlab_optim::OptimError| -> ! { panic!("optlab optimizer `{}`: {e}", self.cfg.name) };
        let layout = Layout::new().with("param", &shape.dims::<D>()).unwrap_or_else(|e| fail(e));
        let mut opt = registry::build::<f32>(layout, &cfg).unwrap_or_else(|e| fail(e));
        if let Some(st) = state {
            let mut st =
                OptimizerState::<f32>::from_bytes(&st.bytes, "burn optimizer state").unwrap_or_else(|e| fail(e));
            if self.has_lr {
                for g in &mut st.groups {
                    for (k, v) in &mut g.hyper {
                        if k == "lr" {
                            *v = lr.to_string();
                        }
                    }
                }
            }
            opt.load_state(&st).unwrap_or_else(|e| fail(e));
        }
        let mut p: Vec<f32> = tensor.into_data().try_into_vec_as::<f32>().expect("f32 parameter");
        let g: Vec<f32> = grad.into_data().try_into_vec_as::<f32>().expect("f32 gradient");
        opt.step(&mut [&mut p[..]], &[&g[..]], None).unwrap_or_else(|e| fail(e));
        let out = Tensor::<D>::from_data(TensorData::new(p, shape), &device);
        (out, Some(OptlabParamState { bytes: opt.state().to_bytes() }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, _device: &Device) -> Self::State<D> {
        state // host memory
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::OptlabOptimizer;
    use burn::module::Module;
    use burn::nn::Linear;
    use burn::optim::{GradientsParams, ModuleOptimizer};

    #[derive(Module, Debug)]
    struct Net {
        a: Linear,
        b: Linear,
    }

    fn setup() -> (Net, Tensor<2>, Device) {
        let device = Device::flex().autodiff();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(4);
        let net = Net {
            a: crate::models::linear(3, 5, &mut rng, &device),
            b: crate::models::linear(5, 1, &mut rng, &device),
        };
        let x =
            Tensor::<2>::from_data(TensorData::new((0..12).map(|i| i as f32 * 0.1 - 0.5).collect(), [4, 3]), &device);
        (net, x, device)
    }

    fn loss(net: &Net, x: &Tensor<2>) -> Tensor<1> {
        net.b.forward(burn::tensor::activation::relu(net.a.forward(x.clone()))).powi_scalar(2).mean()
    }

    /// For an element-wise rule (Adam) the per-parameter trait and the whole-module adapter take
    /// identical steps; burn's records save and restore the optlab state.
    #[test]
    fn trait_matches_module_adapter_and_survives_a_record_round_trip() {
        let (net, x, _) = setup();
        let cfg = OptimConfig::new("adam").set("lr", 0.01);
        let mut ours = OptlabOptimizer::new(cfg.clone()).unwrap();
        let mut theirs: ModuleOptimizer = OptlabBurnOptimizer::new(cfg).unwrap().into();
        let (mut n1, mut n2) = (net.clone(), net);
        for _ in 0..5 {
            let g1 = GradientsParams::from_grads(loss(&n1, &x).backward(), &n1);
            let g2 = GradientsParams::from_grads(loss(&n2, &x).backward(), &n2);
            n1 = ours.step(n1, g1).unwrap();
            n2 = theirs.step(0.01, n2, g2);
        }
        let w = |n: &Net| n.a.weight.val().into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(w(&n1), w(&n2));
        let bytes = theirs.into_bytes().unwrap();
        let mut restored: ModuleOptimizer =
            OptlabBurnOptimizer::new(OptimConfig::new("adam").set("lr", 0.01)).unwrap().into();
        restored = restored.from_bytes(bytes).unwrap();
        let g1 = GradientsParams::from_grads(loss(&n1, &x).backward(), &n1);
        let g2 = GradientsParams::from_grads(loss(&n2, &x).backward(), &n2);
        let n1 = ours.step(n1, g1).unwrap();
        let n2 = restored.step(0.01, n2, g2);
        assert_eq!(w(&n1), w(&n2));
    }

    #[test]
    fn burn_lr_drives_the_step() {
        let (net, x, _) = setup();
        let before = net.a.weight.val().into_data().try_into_vec_as::<f32>().unwrap();
        let g = GradientsParams::from_grads(loss(&net, &x).backward(), &net);
        let gw: Vec<f32> = g.get::<2>(net.a.weight.id).unwrap().into_data().try_into_vec_as().unwrap();
        let mut optim: ModuleOptimizer =
            OptlabBurnOptimizer::new(OptimConfig::new("sgd").set("lr", 99)).unwrap().into();
        let net = optim.step(0.25, net, g);
        let after = net.a.weight.val().into_data().try_into_vec_as::<f32>().unwrap();
        for i in 0..after.len() {
            assert_eq!(after[i], before[i] - 0.25 * gw[i]);
        }
    }

    #[test]
    fn hessian_optimizers_and_bad_settings_are_refused() {
        let e = OptlabBurnOptimizer::new(OptimConfig::new("adam_curvature")).unwrap_err().to_string();
        assert!(e.contains("adam_curvature") && e.contains("Hessian"), "{e}");
        let e = OptlabBurnOptimizer::new(OptimConfig::new("adam").set("beta2", 3)).unwrap_err().to_string();
        assert!(e.contains("beta2"), "{e}");
    }

    /// lbfgs re-evaluates the loss inside a step: both trainer adapters refuse it, saying why.
    #[test]
    fn optimizers_that_evaluate_are_refused_by_the_trainer() {
        for e in [
            OptlabBurnOptimizer::new(OptimConfig::new("lbfgs")).err().map(|e| e.to_string()),
            crate::adapter::OptlabOptimizer::new(OptimConfig::new("lbfgs")).err().map(|e| e.to_string()),
        ] {
            let e = e.expect("lbfgs refused");
            assert!(e.contains("`optimizer` = `lbfgs`") && e.contains("re-evaluates the loss"), "{e}");
        }
    }
}
