//! optlab: compare first-order optimizers on test functions and on networks (through optlab-nn), with
//! tables, plots and reports. The binary's commands live in [`cli`]; each command's work is a
//! library function so tests and other tools can call it directly.

pub mod alloc;
pub mod average_args;
pub mod bench;
pub mod bench_muon;
pub mod bench_train;
pub mod cli;
pub mod describe;
pub mod ema;
pub mod error;
pub mod exprnet;
pub mod lab_cli;
pub mod landscape;
pub mod slurm_cli;
pub mod study;
pub mod trace;
pub mod train;

pub use error::{Error, Result};
