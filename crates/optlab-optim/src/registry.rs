//! The registry: every optimizer by name. Adding an optimizer is its own file plus one line in
//! the list of [`crate::optimizers`] (which declares the module and its [`REGISTRY`] entry); it
//! then appears in the CLI, the generic tests, the parity checks, the benchmarks and the report.

use crate::algorithm::Algorithm;
use crate::engine::Engine;
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::Spec;
use crate::layout::Layout;
use crate::optimizer::{OptimConfig, Optimizer};
pub use crate::optimizers::REGISTRY;

type Build<T> = fn(Layout, &OptimConfig) -> Result<Box<dyn Optimizer<T>>>;

/// One step of the fused kernel in its short and general forms from the same inputs, with these
/// settings: `Ok(true)` when the short form applied and both agreed bit for bit, `Ok(false)` when
/// the settings rule the short form out, `Err` naming what differed.
pub type FormsCheck = fn(&[(&str, &str)]) -> std::result::Result<bool, String>;

/// One registered optimizer.
pub struct Entry {
    pub spec: fn() -> &'static Spec,
    build_f32: Build<f32>,
    build_f64: Build<f64>,
    /// The kernel-forms check in f32 and f64 (None for wrappers, which have no kernel of their own).
    pub forms: Option<[FormsCheck; 2]>,
    /// Whether the optimizer has a short form at all ([`Algorithm::simple`] can be true).
    pub has_short_form: bool,
    /// The setting under which a group takes tensors the optimizer otherwise refuses
    /// ([`Algorithm::FALLBACK`]: Muon takes only matrices, `use_muon=false` groups run AdamW).
    pub fallback: Option<(&'static str, &'static str)>,
}

impl Entry {
    /// The entry of an [`Algorithm`] run by the [`Engine`].
    pub const fn of<A: Algorithm<f32> + Algorithm<f64>>() -> Entry {
        Entry {
            spec: <A as Algorithm<f64>>::spec,
            build_f32: |l, c| Ok(Box::new(Engine::<f32, A>::new(l, c)?)),
            build_f64: |l, c| Ok(Box::new(Engine::<f64, A>::new(l, c)?)),
            // Whole-tensor algorithms have no element-wise kernel forms to compare.
            forms: if <A as Algorithm<f64>>::WHOLE_TENSOR {
                None
            } else {
                Some([
                    crate::optimizers::common::check_forms::<f32, A>,
                    crate::optimizers::common::check_forms::<f64, A>,
                ])
            },
            has_short_form: <A as Algorithm<f64>>::SHORT_FORM,
            fallback: <A as Algorithm<f64>>::FALLBACK,
        }
    }

    /// An entry with its own builders (wrappers such as Lookahead).
    pub const fn custom(spec: fn() -> &'static Spec, build_f32: Build<f32>, build_f64: Build<f64>) -> Entry {
        Entry { spec, build_f32, build_f64, forms: None, has_short_form: false, fallback: None }
    }
}

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
/// With `cfg.average` set, the optimizer is wrapped in weight averaging ([`crate::average`]).
pub fn build<T: RegistryFloat>(layout: Layout, cfg: &OptimConfig) -> Result<Box<dyn Optimizer<T>>> {
    let builder = T::builder(find(&cfg.name)?);
    match &cfg.average {
        None => builder(layout, cfg),
        Some(_) => {
            let mut plain = cfg.clone();
            plain.average = None;
            crate::average::wrap(builder(layout, &plain)?, cfg)
        }
    }
}

/// The setting under which a group of `name` takes every tensor (see [`Entry::fallback`]).
pub fn fallback(name: &str) -> Result<Option<(&'static str, &'static str)>> {
    find(name).map(|e| e.fallback)
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
