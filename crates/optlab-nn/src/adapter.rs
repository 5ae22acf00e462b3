//! The adapter: any optlab optimizer (with its schedules, parameter groups and state save/load)
//! updating the parameters of any burn [`Module`].
//!
//! [`OptlabOptimizer::step`] has the shape of burn's own `ModuleOptimizer::step` (module and
//! [`GradientsParams`] in, updated module out), so it drops into a hand-written burn training loop.
//! The optlab optimizer is built lazily at the first step from the module's float parameters:
//! tensor names are the module's parameter paths (`fc1.weight`, `conv2.bias`, ...), so optlab
//! parameter groups (`tensors = ["*.bias"]`) and name-matched state files work on burn models.
//!
//! Learning rate: optlab's `lr` (set in the [`OptimConfig`], possibly following a schedule) is the
//! one used; the adapter takes no burn `LearningRate` argument, because optlab schedules already
//! drive it per step or per epoch. Use [`OptlabOptimizer::end_epoch`] and
//! [`OptlabOptimizer::report_metric`] to drive per-epoch and plateau schedules.
//!
//! Each step copies parameters and gradients into contiguous f32 buffers that are allocated once
//! and reused, runs the optlab step, and writes the parameters back as new burn tensors (the only
//! per-step allocations are the ones burn forces: reading tensor data and creating tensors).
//!
//! ```
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor, TensorData};
//! use optlab_nn::adapter::OptlabOptimizer;
//! use optlab_optim::OptimConfig;
//!
//! #[derive(Module, Debug)]
//! struct Net {
//!     fc: Linear,
//! }
//!
//! let device = Device::flex().autodiff();
//! let mut net = Net { fc: LinearConfig::new(2, 1).init(&device) };
//! let mut opt = OptlabOptimizer::new(OptimConfig::new("adam").set("lr", 0.05)).unwrap();
//! let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, -1.0, 0.5], [2, 2]), &device);
//! let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0], [2, 1]), &device);
//! let mut first = None;
//! for _ in 0..200 {
//!     let loss = (net.fc.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
//!     let value: f32 = loss.clone().into_scalar();
//!     first.get_or_insert(value);
//!     let grads = GradientsParams::from_grads(loss.backward(), &net);
//!     net = opt.step(net, grads).unwrap();
//! }
//! assert_eq!(opt.layout().unwrap().names(), ["fc.weight", "fc.bias"]);
//! let loss: f32 = (net.fc.forward(x) - y).powi_scalar(2).mean().into_scalar();
//! assert!(loss < 1e-3 * first.unwrap());
//! ```

use crate::error::NnError;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use optlab_optim::{registry, Layout, OptimConfig, Optimizer, OptimizerState, StepOutcome};
use std::collections::HashMap;
use std::path::Path;

/// One float parameter of a module: its path, id and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub id: ParamId,
    pub shape: Vec<usize>,
}

/// Names of a module's running statistics (BatchNorm's `running_mean` and `running_var`): float
/// tensors that burn visits like parameters but that no optimizer updates. They are left out of
/// [`parameters`] and kept by [`state_tensors`] (checkpoints, best weights, reported weights).
pub fn is_buffer(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last == "running_mean" || last == "running_var"
}

/// The trainable float parameters of a module in visiting order, named by their paths (the
/// running statistics of [`is_buffer`] left out).
pub fn parameters<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut all = state_tensors(module);
    all.retain(|p| !is_buffer(&p.name));
    all
}

/// Every float tensor of a module: the trainable parameters in visiting order, then the running
/// statistics ([`is_buffer`]). A model's complete state, as checkpoints store it.
pub fn state_tensors<M: Module>(module: &M) -> Vec<ParamInfo> {
    struct Collect {
        path: Vec<String>,
        out: Vec<ParamInfo>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let name = self.path.join(".");
            self.out.push(ParamInfo { name, id: param.id, shape: param.lazy_shape().dims::<D>().to_vec() });
        }
    }
    let mut c = Collect { path: Vec::new(), out: Vec::new() };
    module.visit(&mut c);
    let (mut params, buffers): (Vec<ParamInfo>, Vec<ParamInfo>) = c.out.into_iter().partition(|p| !is_buffer(&p.name));
    params.extend(buffers);
    params
}

/// Copies the float parameters of `module` (in `index` order) into `bufs`.
pub(crate) fn read_params<M: Module>(module: &M, index: &HashMap<ParamId, usize>, bufs: &mut [Vec<f32>]) {
    struct Read<'a> {
        index: &'a HashMap<ParamId, usize>,
        bufs: &'a mut [Vec<f32>],
    }
    impl ModuleVisitor for Read<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(&i) = self.index.get(&param.id) {
                copy_into(&param.val().into_data(), &mut self.bufs[i]);
            }
        }
    }
    module.visit(&mut Read { index, bufs });
}

/// Replaces the float parameters of `module` listed in `index` by the values in `bufs`, keeping
/// each parameter's id, device and gradient requirement.
pub(crate) fn write_params<M: Module>(module: M, index: &HashMap<ParamId, usize>, bufs: &[Vec<f32>]) -> M {
    struct Write<'a> {
        index: &'a HashMap<ParamId, usize>,
        bufs: &'a [Vec<f32>],
    }
    impl ModuleMapper for Write<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(&i) = self.index.get(&param.id) else { return param };
            let (id, tensor, mapper) = param.consume();
            let require_grad = tensor.is_require_grad();
            let strategy = tensor.gradient_checkpointing_strategy();
            let device = tensor.device();
            let shape = tensor.shape();
            drop(tensor);
            let mut t = Tensor::<D>::from_data(TensorData::new(self.bufs[i].clone(), shape), &device);
            if let Some(s) = strategy {
                t = t.with_gradient_checkpointing_strategy(s);
            }
            if require_grad {
                t = t.require_grad();
            }
            Param::from_mapped_value(id, t, mapper)
        }
    }
    module.map(&mut Write { index, bufs })
}

/// Copies the gradients of the parameters in `index` into `bufs`; the error names a parameter
/// without a gradient.
pub(crate) fn read_grads(grads: &GradientsParams, infos: &[ParamInfo], bufs: &mut [Vec<f32>]) -> Result<(), NnError> {
    for (info, buf) in infos.iter().zip(bufs.iter_mut()) {
        let data = match info.shape.len() {
            1 => grads.get::<1>(info.id).map(|t| t.into_data()),
            2 => grads.get::<2>(info.id).map(|t| t.into_data()),
            3 => grads.get::<3>(info.id).map(|t| t.into_data()),
            4 => grads.get::<4>(info.id).map(|t| t.into_data()),
            5 => grads.get::<5>(info.id).map(|t| t.into_data()),
            r => {
                return Err(NnError::Param {
                    param: info.name.clone(),
                    what: format!("rank {r} is not supported (1-5)"),
                })
            }
        };
        let data = data.ok_or_else(|| NnError::Param {
            param: info.name.clone(),
            what: "no gradient (is it used in the loss, and does it require gradients?)".into(),
        })?;
        copy_into(&data, buf);
    }
    Ok(())
}

fn copy_into(data: &TensorData, buf: &mut Vec<f32>) {
    match data.as_slice::<f32>() {
        Ok(s) => {
            buf.clear();
            buf.extend_from_slice(s);
        }
        Err(_) => {
            let v = data.try_to_vec_as::<f32>().expect("float parameters convert to f32");
            buf.clear();
            buf.extend_from_slice(&v);
        }
    }
}

struct Built {
    opt: Box<dyn Optimizer<f32>>,
    infos: Vec<ParamInfo>,
    index: HashMap<ParamId, usize>,
    params: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
}

/// An optlab optimizer training a burn module. See the [module documentation](self).
pub struct OptlabOptimizer {
    cfg: OptimConfig,
    built: Option<Built>,
    /// State loaded before the first step; applied when the optimizer is built.
    pending: Option<OptimizerState<f32>>,
    /// Epochs ended before the first step (applied at build).
    pending_epochs: u64,
}

impl OptlabOptimizer {
    /// Checks the configuration (name, hyperparameters, schedules) now; the optimizer itself is
    /// built at the first step, when the module's parameters are known.
    pub fn new(cfg: OptimConfig) -> Result<Self, NnError> {
        // Parameter groups name the module's tensors, known at the first step (which reports a
        // group that matches none): here the settings without groups, then each group's own
        // settings and schedules, are checked on a probe tensor.
        let probe = || Layout::single("probe", 1);
        let mut base = cfg.clone();
        base.groups.clear();
        registry::build::<f32>(probe(), &base)?;
        for (i, g) in cfg.groups.iter().enumerate() {
            let one = OptimConfig {
                groups: vec![optlab_optim::GroupConfig { tensors: vec!["*".into()], ..g.clone() }],
                ..base.clone()
            };
            registry::build::<f32>(probe(), &one).map_err(|e| {
                NnError::setting("parameter group", format!("{} ({})", i + 1, g.tensors.join(", ")), e.to_string())
            })?;
        }
        Ok(OptlabOptimizer { cfg, built: None, pending: None, pending_epochs: 0 })
    }

    pub fn config(&self) -> &OptimConfig {
        &self.cfg
    }

    /// Whether the optimizer needs a Hessian diagonal each step (e.g. `adam_curvature`).
    pub fn needs_hessian(&self) -> bool {
        registry::spec(&self.cfg.name).map(|s| s.needs_hessian).unwrap_or(false)
    }

    /// Builds the optlab optimizer for `module` if not built yet (the first step does this).
    pub fn prepare<M: Module>(&mut self, module: &M) -> Result<(), NnError> {
        if self.built.is_some() {
            return Ok(());
        }
        let infos = parameters(module);
        let mut layout = Layout::new();
        for p in &infos {
            layout.push(&p.name, &p.shape)?;
        }
        let mut opt = registry::build::<f32>(layout, &self.cfg)?;
        if let Some(st) = self.pending.take() {
            opt.load_state(&st)?;
        } else {
            for _ in 0..self.pending_epochs {
                opt.end_epoch();
            }
        }
        let index = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let params = infos.iter().map(|p| Vec::with_capacity(p.shape.iter().product())).collect();
        let grads = infos.iter().map(|p| Vec::with_capacity(p.shape.iter().product())).collect();
        self.built = Some(Built { opt, infos, index, params, grads });
        Ok(())
    }

    /// One optimizer step: reads the module's parameters and their gradients, updates them with
    /// the optlab optimizer and returns the updated module.
    pub fn step<M: Module>(&mut self, module: M, grads: GradientsParams) -> Result<M, NnError> {
        self.step_with_hessian(module, grads, None)
    }

    /// Like [`step`](Self::step), with the Hessian diagonal per parameter (layout order) for the
    /// optimizers that need it.
    pub fn step_with_hessian<M: Module>(
        &mut self,
        module: M,
        grads: GradientsParams,
        hess: Option<&[Vec<f32>]>,
    ) -> Result<M, NnError> {
        self.prepare(&module)?;
        let b = self.built.as_mut().expect("prepared");
        read_grads(&grads, &b.infos, &mut b.grads)?;
        drop(grads);
        read_params(&module, &b.index, &mut b.params);
        let outcome = {
            let mut p: Vec<&mut [f32]> = b.params.iter_mut().map(|v| v.as_mut_slice()).collect();
            let g: Vec<&[f32]> = b.grads.iter().map(|v| v.as_slice()).collect();
            let h: Option<Vec<&[f32]>> = hess.map(|h| h.iter().map(|v| v.as_slice()).collect());
            b.opt.step(&mut p, &g, h.as_deref())?
        };
        Ok(match outcome {
            StepOutcome::Applied => write_params(module, &b.index, &b.params),
            StepOutcome::Skipped { .. } => module,
        })
    }

    /// The parameter layout (names = module paths), once built.
    pub fn layout(&self) -> Option<&Layout> {
        self.built.as_ref().map(|b| b.opt.layout())
    }

    /// The parameters the optimizer updates, in layout order, once built.
    pub fn params(&self) -> Option<&[ParamInfo]> {
        self.built.as_ref().map(|b| b.infos.as_slice())
    }

    /// The gradients read at the last step (layout order).
    pub fn last_grads(&self) -> Option<&[Vec<f32>]> {
        self.built.as_ref().map(|b| b.grads.as_slice())
    }

    pub fn steps_taken(&self) -> u64 {
        self.built.as_ref().map(|b| b.opt.steps_taken()).unwrap_or(0)
    }

    /// Advances per-epoch schedules.
    pub fn end_epoch(&mut self) {
        match &mut self.built {
            Some(b) => b.opt.end_epoch(),
            None => self.pending_epochs += 1,
        }
    }

    /// Feeds a metric (e.g. the validation loss) to reduce-on-plateau schedules.
    pub fn report_metric(&mut self, metric: f64) {
        if let Some(b) = &mut self.built {
            b.opt.report_metric(metric);
        }
    }

    /// Current value of a hyperparameter of the default group (schedules applied).
    pub fn current(&self, key: &str) -> Option<f64> {
        self.built.as_ref().and_then(|b| b.opt.current(0, key))
    }

    /// The optimizer state keyed by parameter path (None before the first step).
    pub fn state(&self) -> Option<OptimizerState<f32>> {
        self.built.as_ref().map(|b| b.opt.state())
    }

    /// Restores a state saved by [`state`](Self::state) or [`save`](Self::save); before the first
    /// step it is kept and applied when the optimizer is built.
    pub fn load_state(&mut self, state: OptimizerState<f32>) -> Result<(), NnError> {
        match &mut self.built {
            Some(b) => b.opt.load_state(&state)?,
            None => self.pending = Some(state),
        }
        Ok(())
    }

    /// Writes the state atomically (optlab's state file format). Errors before the first step.
    pub fn save(&self, path: &Path) -> Result<(), NnError> {
        let b = self.built.as_ref().ok_or_else(|| NnError::Checkpoint {
            path: path.display().to_string(),
            what: "the optimizer has no state before its first step".into(),
        })?;
        Ok(b.opt.save(path)?)
    }

    /// Reads a state file written by [`save`](Self::save).
    pub fn load(&mut self, path: &Path) -> Result<(), NnError> {
        let st = OptimizerState::<f32>::read(path)?;
        self.load_state(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    #[derive(Module, Debug)]
    struct Two {
        a: Linear,
        b: Linear,
    }

    fn model(device: &Device) -> Two {
        Two { a: LinearConfig::new(3, 4).init(device), b: LinearConfig::new(4, 2).init(device) }
    }

    #[test]
    fn names_are_module_paths() {
        let m = model(&Device::flex().autodiff());
        let p = parameters(&m);
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a.weight", "a.bias", "b.weight", "b.bias"]);
        assert_eq!(p[0].shape, [3, 4]);
        assert_eq!(p[3].shape, [2]);
    }

    #[test]
    fn sgd_step_is_p_minus_lr_g() {
        let device = Device::flex().autodiff();
        let m = model(&device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5], [1, 3]), &device);
        let loss = m.b.forward(m.a.forward(x)).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let before: Vec<f32> = m.a.weight.val().into_data().try_into_vec_as().unwrap();
        let g: Vec<f32> = grads.get::<2>(m.a.weight.id).unwrap().into_data().try_into_vec_as().unwrap();
        let mut opt = OptlabOptimizer::new(OptimConfig::new("sgd").set("lr", 0.5)).unwrap();
        let m = opt.step(m, grads).unwrap();
        let after: Vec<f32> = m.a.weight.val().into_data().try_into_vec_as().unwrap();
        for i in 0..before.len() {
            assert_eq!(after[i], before[i] - 0.5 * g[i]);
        }
        assert!(m.a.weight.val().is_require_grad());
        assert_eq!(opt.steps_taken(), 1);
    }

    #[test]
    fn missing_gradient_is_an_error_naming_the_parameter() {
        let device = Device::flex().autodiff();
        let m = model(&device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5], [1, 3]), &device);
        let loss = m.a.forward(x).sum(); // b unused
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let mut opt = OptlabOptimizer::new(OptimConfig::new("adam")).unwrap();
        let err = opt.step(m, grads).unwrap_err().to_string();
        assert!(err.contains("b.weight") && err.contains("no gradient"), "{err}");
    }

    #[test]
    fn bad_config_fails_at_construction() {
        let err = OptlabOptimizer::new(OptimConfig::new("adam").set("lr", -1)).err().unwrap().to_string();
        assert!(err.contains("lr"), "{err}");
        let err = OptlabOptimizer::new(OptimConfig::new("nope")).err().unwrap().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
