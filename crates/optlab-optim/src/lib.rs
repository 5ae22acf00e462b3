//! # optlab-optim
//!
//! First-order optimizers of deep learning with their exact published update rules, checked
//! against torch.optim, with schedules for any hyperparameter, parameter groups, and state saved
//! and loaded by tensor name. Small and usable alone: depends on serde, serde_json, thiserror and
//! rayon only.
//!
//! ```
//! use optlab_optim::{registry, Layout, OptimConfig, Schedule};
//!
//! // Minimise f(x) = x0^2 + 10 x1^2 with Adam, lr following a step schedule.
//! let layout = Layout::new().with("x", &[2]).unwrap();
//! let cfg = OptimConfig::new("adam").set("lr", 0.1).schedule("lr", Schedule::Constant { factor: 1.0, total_iters: 0 });
//! let mut opt = registry::build::<f64>(layout, &cfg).unwrap();
//! let mut x = vec![1.0, -1.0];
//! for _ in 0..500 {
//!     let g = [2.0 * x[0], 20.0 * x[1]];
//!     opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
//! }
//! assert!(x[0].abs() < 1e-2 && x[1].abs() < 1e-2);
//! ```
//!
//! Architecture: each optimizer is one file under [`optimizers`] declaring its hyperparameters
//! once ([`hypers!`]) and implementing [`Algorithm`] (per-tensor coefficients plus a fused
//! per-element kernel), and one line in the registry list of [`optimizers`], which makes its
//! [`registry::REGISTRY`] entry. The [`Engine`] runs any algorithm: parameter groups, schedules,
//! non-finite checks, the chunked parallel pass, and state.

pub mod algorithm;
pub mod average;
pub mod engine;
pub mod error;
pub mod executor;
pub mod float;
pub mod hyper;
pub mod layout;
pub mod measure;
pub mod num;
pub mod optimizer;
pub mod optimizers;
pub mod registry;
pub mod schedule;
pub mod simd;
pub mod state;
pub mod vmath;

pub use algorithm::{Algorithm, Buffer, Chunk, StepCtx, TensorStep};
pub use average::{AverageConfig, AverageMethod, AverageUnit};
pub use engine::Engine;
pub use error::{OptimError, Result};
pub use float::Float;
pub use hyper::{Hyper, HyperSpec, HyperValue, Kind, OptimizerName, Parity, Spec, Value, Variant};
pub use layout::{Layout, TensorDef};
pub use num::fmt_num;
pub use optimizer::{GroupConfig, NonFinite, OptimConfig, Optimizer, StepOutcome};
pub use schedule::{Schedule, Scheduled};
pub use simd::Simd;
pub use state::{OptimizerState, TensorState};
