//! The registry: every optimizer by name. Adding an optimizer is its own file plus one line in
//! [`REGISTRY`]; it then appears in the CLI, the parity checks, the benchmarks and the report.

use crate::algorithm::Algorithm;
use crate::engine::Engine;
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::Spec;
use crate::layout::Layout;
use crate::optimizer::{OptimConfig, Optimizer};
use crate::optimizers::*;

type Build<T> = fn(Layout, &OptimConfig) -> Result<Box<dyn Optimizer<T>>>;

/// One registered optimizer.
pub struct Entry {
    pub spec: fn() -> &'static Spec,
    build_f32: Build<f32>,
    build_f64: Build<f64>,
}

impl Entry {
    /// The entry of an [`Algorithm`] run by the [`Engine`].
    pub const fn of<A: Algorithm<f32> + Algorithm<f64>>() -> Entry {
        Entry {
            spec: <A as Algorithm<f64>>::spec,
            build_f32: |l, c| Ok(Box::new(Engine::<f32, A>::new(l, c)?)),
            build_f64: |l, c| Ok(Box::new(Engine::<f64, A>::new(l, c)?)),
        }
    }

    /// An entry with its own builders (wrappers such as Lookahead).
    pub const fn custom(spec: fn() -> &'static Spec, build_f32: Build<f32>, build_f64: Build<f64>) -> Entry {
        Entry { spec, build_f32, build_f64 }
    }
}

/// Every optimizer, in the order the CLI and the report list them.
pub static REGISTRY: &[Entry] = &[
    Entry::of::<sgd::Sgd>(),
    Entry::of::<adagrad::Adagrad>(),
    Entry::of::<adadelta::Adadelta>(),
    Entry::of::<rmsprop::Rmsprop>(),
    Entry::of::<adam::Adam>(),
    Entry::of::<adamw::AdamW>(),
    Entry::of::<adamax::Adamax>(),
    Entry::of::<nadam::Nadam>(),
    Entry::of::<radam::Radam>(),
    Entry::of::<adam_scheduled_betas::AdamScheduledBetas>(),
    Entry::of::<adam_skew::AdamSkew>(),
    Entry::of::<adam_third::AdamThird>(),
    Entry::of::<adam_curvature::AdamCurvature>(),
    Entry::of::<adabelief::AdaBelief>(),
    Entry::of::<novograd::NovoGrad>(),
    Entry::of::<yellowfin::YellowFin>(),
    lookahead::ENTRY,
];

static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

/// Names of all registered optimizers.
pub fn names() -> &'static [&'static str] {
    NAMES.get_or_init(|| REGISTRY.iter().map(|e| (e.spec)().name).collect())
}

/// The spec of an optimizer by name.
pub fn spec(name: &str) -> Result<&'static Spec> {
    find(name).map(|e| (e.spec)())
}

fn find(name: &str) -> Result<&'static Entry> {
    REGISTRY
        .iter()
        .find(|e| (e.spec)().name == name)
        .ok_or_else(|| OptimError::UnknownOptimizer { name: name.to_string(), known: names().join(", ") })
}

/// Element types the registry can build optimizers for.
pub trait RegistryFloat: Float {
    #[doc(hidden)]
    fn builder(e: &Entry) -> Build<Self>;
}
impl RegistryFloat for f32 {
    fn builder(e: &Entry) -> Build<f32> {
        e.build_f32
    }
}
impl RegistryFloat for f64 {
    fn builder(e: &Entry) -> Build<f64> {
        e.build_f64
    }
}

/// Builds the optimizer `cfg.name` for `layout`, validating every hyperparameter, schedule and group.
pub fn build<T: RegistryFloat>(layout: Layout, cfg: &OptimConfig) -> Result<Box<dyn Optimizer<T>>> {
    (T::builder(find(&cfg.name)?))(layout, cfg)
}

/// Builds `name` with `key=value` settings, panicking on error (for tests).
#[cfg(test)]
pub(crate) fn build_for_test<T: RegistryFloat>(
    name: &str,
    layout: Layout,
    set: &[(&str, &str)],
) -> Box<dyn Optimizer<T>> {
    let mut cfg = OptimConfig::new(name);
    for (k, v) in set {
        cfg = cfg.set(k, v);
    }
    build::<T>(layout, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"))
}
