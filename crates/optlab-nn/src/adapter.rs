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
//! Each step takes the gradients out of [`GradientsParams`] without copying them (burn hands over
//! the only reference), copies each parameter once out of the module (the module shares its
//! tensors, so burn must copy), runs the optlab step on those copies in place, and moves them back
//! into the module as its new tensors: one copy of the parameters per step and none of the
//! gradients (measured in docs/speed.md, "What each change gained").
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
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
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

/// Every float tensor of `module` ([`state_tensors`] order) with its values.
pub fn named_values<M: Module>(module: &M) -> Vec<(String, Vec<f32>)> {
    let infos = state_tensors(module);
    let index: HashMap<ParamId, usize> = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut bufs: Vec<Vec<f32>> = infos.iter().map(|p| vec![0.0; p.shape.iter().product()]).collect();
    read_params(module, &index, &mut bufs);
    infos.into_iter().map(|p| p.name).zip(bufs).collect()
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
    replace_params(module, index, |i, shape| TensorData::new(bufs[i].clone(), shape))
}

/// Replaces the float parameters of `module` listed in `index` by `data` (moved in: no copy).
fn move_params<M: Module>(module: M, index: &HashMap<ParamId, usize>, data: &mut [Option<TensorData>]) -> M {
    // The data was read from these same parameters in this step, so its shape is theirs.
    replace_params(module, index, |i, _shape| {
        data[i].take().unwrap_or_else(|| panic!("parameter #{i} is visited twice: a bug of the adapter"))
    })
}

/// Replaces the float parameters of `module` listed in `index` by `make(index, shape)`, keeping
/// each parameter's id, device and gradient requirement.
fn replace_params<M: Module>(
    module: M,
    index: &HashMap<ParamId, usize>,
    make: impl FnMut(usize, burn::tensor::Shape) -> TensorData,
) -> M {
    struct Write<'a, F> {
        index: &'a HashMap<ParamId, usize>,
        make: F,
    }
    impl<F: FnMut(usize, burn::tensor::Shape) -> TensorData> ModuleMapper for Write<'_, F> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(&i) = self.index.get(&param.id) else { return param };
            let (id, tensor, mapper) = param.consume();
            let require_grad = tensor.is_require_grad();
            let strategy = tensor.gradient_checkpointing_strategy();
            let device = tensor.device();
            let shape = tensor.shape();
            drop(tensor);
            let mut t = Tensor::<D>::from_data((self.make)(i, shape), &device);
            if let Some(s) = strategy {
                t = t.with_gradient_checkpointing_strategy(s);
            }
            if require_grad {
                t = t.require_grad();
            }
            Param::from_mapped_value(id, t, mapper)
        }
    }
    module.map(&mut Write { index, make })
}

/// The float parameters of `module` listed in `index` as f32 tensor data (one copy each), in
/// `index` order.
fn take_params<M: Module>(module: &M, index: &HashMap<ParamId, usize>, out: &mut Vec<Option<TensorData>>) {
    struct Read<'a> {
        index: &'a HashMap<ParamId, usize>,
        out: &'a mut [Option<TensorData>],
    }
    impl ModuleVisitor for Read<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(&i) = self.index.get(&param.id) {
                self.out[i] = Some(as_f32(param.val().into_data()));
            }
        }
    }
    out.clear();
    out.resize_with(index.len(), || None);
    module.visit(&mut Read { index, out });
}

/// `data` with f32 elements (unchanged, so without a copy, when they are f32 already).
fn as_f32(data: TensorData) -> TensorData {
    if data.dtype() == burn::tensor::DType::F32 {
        data
    } else {
        data.convert::<f32>()
    }
}

/// The gradient of parameter `info` in `grads` as tensor data, by `GradientsParams::$method`
/// (`get` shares it, `remove` takes it out); the error names a parameter without a gradient.
macro_rules! grad_data {
    ($grads:expr, $info:expr, $method:ident) => {{
        let info: &ParamInfo = $info;
        let data = match info.shape.len() {
            1 => $grads.$method::<1>(info.id).map(|t| t.into_data()),
            2 => $grads.$method::<2>(info.id).map(|t| t.into_data()),
            3 => $grads.$method::<3>(info.id).map(|t| t.into_data()),
            4 => $grads.$method::<4>(info.id).map(|t| t.into_data()),
            5 => $grads.$method::<5>(info.id).map(|t| t.into_data()),
            r => {
                return Err(NnError::Param {
                    param: info.name.clone(),
                    what: format!("rank {r} is not supported (1-5)"),
                })
            }
        };
        data.ok_or_else(|| NnError::Param {
            param: info.name.clone(),
            what: "no gradient (is it used in the loss, and does it require gradients?)".into(),
        })
    }};
}

/// Takes the gradients of the parameters in `infos` out of `grads` (burn holds the only reference,
/// so no copy is made), in layout order; the error names a parameter without a gradient.
fn take_grads(grads: &mut GradientsParams, infos: &[ParamInfo], out: &mut Vec<TensorData>) -> Result<(), NnError> {
    out.clear();
    for info in infos {
        out.push(as_f32(grad_data!(grads, info, remove)?));
    }
    Ok(())
}

/// A parameter taken out of a module for an in-place step: its f32 storage on Flex and what
/// it needs to become a parameter tensor again.
struct Taken {
    tensor: FlexTensor,
    autodiff: bool,
    require_grad: bool,
    strategy: Option<burn::tensor::GradientCheckpointingStrategy>,
}

/// Whether every parameter in `index` is an f32 tensor on the Flex backend (with or without
/// autodiff), so that [`take_flex`] can move it out.
fn all_on_flex<M: Module>(module: &M, index: &HashMap<ParamId, usize>) -> bool {
    struct Check<'a> {
        index: &'a HashMap<ParamId, usize>,
        ok: bool,
    }
    impl ModuleVisitor for Check<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.index.contains_key(&param.id) {
                let t = param.val();
                self.ok &=
                    t.dtype() == burn::tensor::DType::F32 && t.without_autodiff().try_into_primitive::<Flex>().is_ok();
            }
        }
    }
    let mut c = Check { index, ok: true };
    module.visit(&mut c);
    c.ok
}

/// Moves the parameters in `index` out of `module` (leaving empty placeholders), each as a
/// uniquely owned contiguous Flex tensor (no copy when the module held the only reference, which
/// is the case after the backward pass).
fn take_flex<M: Module>(module: M, index: &HashMap<ParamId, usize>, out: &mut Vec<Option<Taken>>) -> M {
    struct Take<'a> {
        index: &'a HashMap<ParamId, usize>,
        out: &'a mut [Option<Taken>],
    }
    impl ModuleMapper for Take<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(&i) = self.index.get(&param.id) else { return param };
            let (id, tensor, mapper) = param.consume();
            let autodiff = tensor.is_autodiff();
            let require_grad = tensor.is_require_grad();
            let strategy = tensor.gradient_checkpointing_strategy();
            let device = tensor.device();
            let mut ft = tensor
                .without_autodiff()
                .try_into_primitive::<Flex>()
                .unwrap_or_else(|e| panic!("all_on_flex checked the backend: {e:?}"));
            let n = ft.layout().num_elements();
            if ft.layout().contiguous_offsets() != Some((0, n)) || ft.bytes().len() != 4 * n {
                ft = ft.to_contiguous();
            }
            self.out[i] = Some(Taken { tensor: ft, autodiff, require_grad, strategy });
            let placeholder = Tensor::<D>::empty([0; D], &device);
            Param::from_mapped_value(id, placeholder, mapper)
        }
    }
    out.clear();
    out.resize_with(index.len(), || None);
    module.map(&mut Take { index, out })
}

/// Puts the parameters taken by [`take_flex`] back into `module`.
fn put_flex<M: Module>(module: M, index: &HashMap<ParamId, usize>, taken: &mut [Option<Taken>]) -> M {
    struct Put<'a> {
        index: &'a HashMap<ParamId, usize>,
        taken: &'a mut [Option<Taken>],
    }
    impl ModuleMapper for Put<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(&i) = self.index.get(&param.id) else { return param };
            let (id, _placeholder, mapper) = param.consume();
            let t =
                self.taken[i].take().unwrap_or_else(|| panic!("parameter #{i} put back twice: a bug of the adapter"));
            let mut tensor = Tensor::<D>::from_primitive::<Flex>(t.tensor);
            if t.autodiff {
                tensor = tensor.autodiff();
                if let Some(s) = t.strategy {
                    tensor = tensor.with_gradient_checkpointing_strategy(s);
                }
            }
            if t.require_grad {
                tensor = tensor.require_grad();
            }
            Param::from_mapped_value(id, tensor, mapper)
        }
    }
    module.map(&mut Put { index, taken })
}

fn f32_slice(d: &TensorData) -> &[f32] {
    d.as_slice::<f32>().expect("as_f32 made the elements f32")
}

/// Copies the gradients of the parameters in `index` into `bufs`; the error names a parameter
/// without a gradient.
pub(crate) fn read_grads(grads: &GradientsParams, infos: &[ParamInfo], bufs: &mut [Vec<f32>]) -> Result<(), NnError> {
    for (info, buf) in infos.iter().zip(bufs.iter_mut()) {
        copy_into(&grad_data!(grads, info, get)?, buf);
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
    /// The parameters during a step (taken from the module, moved back into it).
    params: Vec<Option<TensorData>>,
    /// The gradients of the last step, in layout order.
    grads: Vec<TensorData>,
    /// The parameters during an in-place step on Flex.
    taken: Vec<Option<Taken>>,
}

/// An optlab optimizer training a burn module. See the [module documentation](self).
/// The trainer's refusal of an optimizer whose steps evaluate the loss (lbfgs).
pub(crate) fn refuse_evaluating(name: &str) -> NnError {
    NnError::setting(
        "optimizer",
        name,
        "re-evaluates the loss inside each step (L-BFGS iterations and line search), and the trainer \
         takes one mini-batch gradient per step: there is no closure over a network here (lbfgs on \
         mini-batches would mix batches inside its line search); use it on test functions \
         (optlab trace, run, study)",
    )
}

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
        // A 1x1 matrix: every optimizer takes it (Muon refuses vectors).
        let probe = || Layout::new().with("probe", &[1, 1]).expect("a valid layout");
        let mut base = cfg.clone();
        base.groups.clear();
        if registry::build::<f32>(probe(), &base)?.evaluates() {
            return Err(refuse_evaluating(&cfg.name));
        }
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
        self.built = Some(Built { opt, infos, index, params: Vec::new(), grads: Vec::new(), taken: Vec::new() });
        Ok(())
    }

    /// The module with its parameters replaced by the optimizer's evaluation weights, for
    /// optimizers that keep them apart from the training weights (Schedule-Free: `module` holds
    /// the training weights y, the result the evaluation weights x); `None` when the module's
    /// parameters are the evaluation weights (every other optimizer, or before the first step).
    /// Buffers that are not parameters (BatchNorm's running statistics) are copied unchanged.
    pub fn eval_module<M: Module + Clone>(&self, module: &M) -> Result<Option<M>, NnError> {
        let Some(b) = &self.built else { return Ok(None) };
        if !b.opt.has_eval_params() {
            return Ok(None);
        }
        let mut y: Vec<Vec<f32>> = b.infos.iter().map(|p| vec![0.0; p.shape.iter().product()]).collect();
        read_params(module, &b.index, &mut y);
        let mut x = y.clone();
        {
            let ys: Vec<&[f32]> = y.iter().map(|v| &v[..]).collect();
            let mut xs: Vec<&mut [f32]> = x.iter_mut().map(|v| &mut v[..]).collect();
            b.opt.eval_params(&ys, &mut xs)?;
        }
        Ok(Some(write_params(module.clone(), &b.index, &x)))
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
        let mut grads = grads;
        take_grads(&mut grads, &b.infos, &mut b.grads)?;
        drop(grads);
        let h: Option<Vec<&[f32]>> = hess.map(|h| h.iter().map(|v| v.as_slice()).collect());
        let g: Vec<&[f32]> = b.grads.iter().map(f32_slice).collect();
        if all_on_flex(&module, &b.index) {
            // In place: the parameters' own storage is stepped, and moved back whatever the
            // outcome (a refused step changes nothing).
            let module = take_flex(module, &b.index, &mut b.taken);
            let outcome = {
                let mut p: Vec<&mut [f32]> = Vec::with_capacity(b.taken.len());
                for t in b.taken.iter_mut() {
                    match t {
                        Some(t) => p.push(t.tensor.storage_mut::<f32>()),
                        None => break,
                    }
                }
                if p.len() == b.infos.len() {
                    b.opt.step(&mut p, &g, h.as_deref()).map_err(NnError::from)
                } else {
                    let missing = p.len();
                    Err(NnError::Param {
                        param: b.infos[missing].name.clone(),
                        what: "is not a float parameter of the module any more".into(),
                    })
                }
            };
            let module = put_flex(module, &b.index, &mut b.taken);
            outcome?;
            return Ok(module);
        }
        take_params(&module, &b.index, &mut b.params);
        let outcome = {
            let mut p = Vec::with_capacity(b.params.len());
            for (d, info) in b.params.iter_mut().zip(&b.infos) {
                let d = d.as_mut().ok_or_else(|| NnError::Param {
                    param: info.name.clone(),
                    what: "is not a float parameter of the module any more".into(),
                })?;
                p.push(d.as_mut_slice::<f32>().expect("as_f32 made the elements f32"));
            }
            b.opt.step(&mut p, &g, h.as_deref())?
        };
        Ok(match outcome {
            StepOutcome::Applied => move_params(module, &b.index, &mut b.params),
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
    pub fn last_grads(&self) -> Option<Vec<&[f32]>> {
        self.built.as_ref().map(|b| b.grads.iter().map(f32_slice).collect())
    }

    pub fn steps_taken(&self) -> u64 {
        self.built.as_ref().map(|b| b.opt.steps_taken()).unwrap_or(0)
    }

    /// The global L2 norm of the last step's gradients before clipping (the engine's
    /// `last_grad_norm`; None before the first step or when the engine computed none).
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.built.as_ref().and_then(|b| b.opt.last_grad_norm())
    }

    /// Tells the optimizer that an epoch's steps are over, with the module's parameters then
    /// (weight averaging per epoch takes its update here: see `optlab_optim::average`). Call it
    /// before validating the epoch, then [`end_epoch`](Self::end_epoch) as before.
    pub fn epoch_boundary<M: Module>(&mut self, module: &M) -> Result<(), NnError> {
        let Some(b) = &mut self.built else { return Ok(()) };
        let mut w: Vec<Vec<f32>> = b.infos.iter().map(|p| vec![0.0; p.shape.iter().product()]).collect();
        read_params(module, &b.index, &mut w);
        let ws: Vec<&[f32]> = w.iter().map(|v| &v[..]).collect();
        b.opt.epoch_boundary(&ws)?;
        Ok(())
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

    fn values(m: &Two) -> Vec<Vec<f32>> {
        let t = |p: &Param<Tensor<2>>| p.val().into_data().try_into_vec_as::<f32>().unwrap();
        let b = |p: &Param<Tensor<1>>| p.val().into_data().try_into_vec_as::<f32>().unwrap();
        vec![t(&m.a.weight), b(m.a.bias.as_ref().unwrap()), t(&m.b.weight), b(m.b.bias.as_ref().unwrap())]
    }

    fn loss_of(m: &Two, x: &[f32], device: &Device) -> Tensor<1> {
        let x = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [x.len() / 3, 3]), device);
        m.b.forward(m.a.forward(x)).powi_scalar(2).mean()
    }

    /// The in-place step on the module's own storage gives bit for bit what the same optimizer
    /// gives on plain copies of the parameters and gradients, step after step.
    #[test]
    fn in_place_steps_equal_steps_on_copies() {
        let device = Device::flex().autodiff();
        let mut m = model(&device);
        let cfg = OptimConfig::new("adam").set("lr", 0.05).set("weight_decay", 0.01);
        let mut opt = OptlabOptimizer::new(cfg.clone()).unwrap();
        let mut layout = Layout::new();
        for p in parameters(&m) {
            layout.push(&p.name, &p.shape).unwrap();
        }
        let mut reference = registry::build::<f32>(layout, &cfg).unwrap();
        let mut copies = values(&m);
        let x = [1.0f32, -2.0, 0.5, 0.25, 3.0, -1.0];
        for _ in 0..5 {
            let grads = GradientsParams::from_grads(loss_of(&m, &x, &device).backward(), &m);
            let g: Vec<Vec<f32>> = parameters(&m)
                .iter()
                .map(|p| match p.shape.len() {
                    1 => grads.get::<1>(p.id).unwrap().into_data().try_into_vec_as().unwrap(),
                    _ => grads.get::<2>(p.id).unwrap().into_data().try_into_vec_as().unwrap(),
                })
                .collect();
            m = opt.step(m, grads).unwrap();
            let mut p: Vec<&mut [f32]> = copies.iter_mut().map(|v| v.as_mut_slice()).collect();
            let gs: Vec<&[f32]> = g.iter().map(|v| v.as_slice()).collect();
            reference.step(&mut p, &gs, None).unwrap();
            assert_eq!(values(&m), copies);
            assert!(m.a.weight.val().is_require_grad() && m.b.bias.as_ref().unwrap().val().is_require_grad());
        }
    }

    /// A skipped step (non-finite gradients under `non_finite = skip`) hands the module back with
    /// its parameters as they were (not the placeholders of the in-place step), and training goes on.
    #[test]
    fn a_skipped_step_leaves_the_module_whole() {
        let device = Device::flex().autodiff();
        let m = model(&device);
        let before = values(&m);
        let mut cfg = OptimConfig::new("sgd").set("lr", 0.1);
        cfg.non_finite = optlab_optim::NonFinite::Skip;
        let mut opt = OptlabOptimizer::new(cfg).unwrap();
        let grads = GradientsParams::from_grads(loss_of(&m, &[f32::NAN, 1.0, 2.0], &device).backward(), &m);
        let m = opt.step(m, grads).unwrap();
        assert_eq!(values(&m), before);
        let grads = GradientsParams::from_grads(loss_of(&m, &[1.0, 1.0, 2.0], &device).backward(), &m);
        let m = opt.step(m, grads).unwrap();
        assert_ne!(values(&m), before);
        assert_eq!(m.a.weight.val().dims(), [3, 4]);
    }

    #[test]
    fn bad_config_fails_at_construction() {
        let err = OptlabOptimizer::new(OptimConfig::new("adam").set("lr", -1)).err().unwrap().to_string();
        assert!(err.contains("lr"), "{err}");
        let err = OptlabOptimizer::new(OptimConfig::new("nope")).err().unwrap().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
