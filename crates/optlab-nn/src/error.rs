//! Errors of optlab-nn. Every message names the task, setting, tensor, file or value it is about.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NnError {
    #[error("unknown task `{name}`; known tasks: {known}")]
    UnknownTask { name: String, known: String },
    #[error("invalid setting `{key}` = `{value}`: {why}")]
    Setting { key: String, value: String, why: String },
    #[error("data: {0}")]
    Data(String),
    #[error("optimizer: {0}")]
    Optim(#[from] optlab_optim::OptimError),
    #[error("parameter `{param}`: {what}")]
    Param { param: String, what: String },
    #[error("checkpoint `{path}`: {what}")]
    Checkpoint { path: String, what: String },
    #[error("initial weights `{path}`: {what}")]
    Init { path: String, what: String },
    /// An expression-network description that does not compile (1-based line and column).
    #[error("line {line}, column {column}: {what}")]
    ExprNet { line: usize, column: usize, what: String },
    /// Training produced a non-finite loss or gradient.
    #[error("diverged: {0}")]
    Diverged(String),
    #[error("I/O error on `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
}

impl NnError {
    pub(crate) fn setting(key: &str, value: impl std::fmt::Display, why: impl Into<String>) -> Self {
        NnError::Setting { key: key.into(), value: value.to_string(), why: why.into() }
    }
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        NnError::Io { path: path.display().to_string(), source }
    }
}
