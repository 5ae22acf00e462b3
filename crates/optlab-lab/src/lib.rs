//! optlab experiments: experiment files, the plan of runs, the runner and the results store.
//!
//! [`record`] is the data model every other part shares: the runner produces [`record::RunRecord`]s,
//! the store keeps them, and the report crate renders them.
//!
//! * [`spec`]: experiment files (TOML), checked before anything runs; errors name file, line, key.
//! * [`plan`]: the ordered runs of an experiment, each with a stable SHA-256 of its configuration;
//!   `--shard I/N` slices.
//! * [`function_task`]: the test-function task: [`function_task::Problem`], random starts, the
//!   stopping rules and [`function_task::run_one`].
//! * [`tune`]: tuning protocols (`[comparison.tune]`): the two-phase plan's choice of a value per
//!   task and configuration from the tuning runs.
//! * [`prune`]: pruning of network tuning trials between epochs (median rule, ASHA).
//! * [`study`]: the test-function study (`optlab functions study`) and its learning-rate protocol;
//!   [`stats`]: the quantiles it and the report use.
//! * [`task`]: the [`task::TaskRunner`] trait, [`task::NetworkJob`]; [`lab_tasks`]: the task runner
//!   of `optlab run` (test functions, and network tasks through optlab-nn).
//! * [`store`]: the crash-safe SQLite store, resume and merge.
//! * [`runner`]: the bounded worker pool with a progress bar; runs are claimed in the store, so
//!   several processes on one store share the work.
//! * [`run_loop`]: test functions as problems of optlab-optim's executor, the trajectory collector.
//! * [`process`]: host name and process liveness (for claims and temporary files).

pub mod cluster;
pub mod error;
pub mod function_task;
pub mod lab_tasks;
pub mod plan;
pub mod process;
pub mod prune;
pub mod record;
pub mod run_loop;
pub mod runner;
pub mod search;
pub mod spec;
pub mod stats;
pub mod store;
pub mod study;
pub mod task;
pub mod tune;

pub use error::{LabError, Result};
pub use plan::{Plan, RunSpec, Shard};
pub use runner::{RunOptions, RunSummary};
pub use spec::Experiment;
pub use store::Store;
pub use task::{NetworkJob, RunOutput, TaskRunner};
