//! # optlab-nn
//!
//! optlab's optimizers training [burn](https://burn.dev) 0.22 networks on burn's `flex` CPU
//! backend: an [adapter](adapter) that lets any optlab optimizer update any burn module, the
//! [models] of the study (one neuron, two layers, MLP, MNIST CNN, CIFAR-10 CNN), a [training
//! loop](train) with validation, early stopping, checkpoints and a time budget, and
//! [Hutchinson's](hutchinson) estimate of the Hessian diagonal for optimizers that need it; [throughput]
//! measures training samples per second for `optlab bench train`.

pub mod adapter;
pub mod burn_optim;
pub mod error;
pub mod exprnet;
pub mod histogram;
pub mod hutchinson;
pub mod init;
pub mod kernels;
pub mod landscape;
pub mod models;
pub mod settings;
pub mod throughput;

pub use adapter::OptlabOptimizer;
pub use error::NnError;
pub use histogram::StepHistogram;
pub use hutchinson::{Hutchinson, HutchinsonConfig};
/// The dataset crate, re-exported for the crates above (`optlab ema` reads CSV columns with it).
pub use optlab_data;
pub use settings::{EarlyStopOn, NetworkSettings, DEFAULT_LOG_POINTS};
pub mod train;

pub use train::{
    evaluate_weights, tasks, train, train_controlled, train_until, train_with, EpochReport, StepReport, StopReason,
    TrainConfig, TrainReport, TASKS,
};
