//! Errors of report rendering: each names the file, comparison, task or run at fault.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("I/O error on `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("could not draw `{path}`: {message}")]
    Plot { path: PathBuf, message: String },
    /// `run` describes the run: hash, task, optimizer and seed.
    #[error("{run} belongs to comparison `{comparison}`, which experiment `{experiment}` does not declare")]
    UnknownComparison { experiment: String, comparison: String, run: String },
    #[error("experiment `{experiment}` declares comparison `{name}` more than once")]
    DuplicateComparison { experiment: String, name: String },
    #[error("comparisons `{a}` and `{b}` would share the file name `{slug}`; rename one of them")]
    NameClash { a: String, b: String, slug: String },
    #[error("comparison `{comparison}`: the target for task `{task}` is {value}, not a finite number")]
    BadTarget { comparison: String, task: String, value: f64 },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io { path: path.into(), source }
    }
}
