//! Errors. Every message names the optimizer, key, tensor or file it is about.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum OptimError {
    #[error("unknown optimizer `{name}`; known optimizers: {known}")]
    UnknownOptimizer { name: String, known: String },
    #[error("unknown hyperparameter `{key}` for optimizer `{optimizer}`; valid keys: {valid}")]
    UnknownKey { optimizer: String, key: String, valid: String },
    #[error("invalid value for `{key}` of optimizer `{optimizer}`: `{value}` (valid: {range})")]
    InvalidValue { optimizer: String, key: String, value: String, range: String },
    #[error("scheduled value of `{key}` of optimizer `{optimizer}` left its range: {value} (valid: {range})")]
    ScheduledOutOfRange { optimizer: String, key: String, value: f64, range: String },
    #[error("hyperparameter `{key}` of optimizer `{optimizer}` is not numeric and cannot follow a schedule")]
    NotSchedulable { optimizer: String, key: String },
    #[error("invalid schedule: {0}")]
    Schedule(String),
    #[error("{0}")]
    Malformed(String),
    #[error("non-finite {what} in tensor `{tensor}` (element {index}: {value})")]
    NonFinite { what: &'static str, tensor: String, index: usize, value: String },
    #[error("tensor `{tensor}`: {what}")]
    Tensor { tensor: String, what: String },
    #[error("parameter group: {0}")]
    Group(String),
    #[error(
        "optimizer `{optimizer}` needs the Hessian diagonal of tensor `{tensor}` as an extra input, and none was given"
    )]
    MissingHessian { optimizer: String, tensor: String },
    #[error("state: {0}")]
    State(String),
    #[error("state file `{path}`: {what}")]
    StateFile { path: String, what: String },
    #[error("I/O error on `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
}

pub type Result<T, E = OptimError> = std::result::Result<T, E>;

impl OptimError {
    /// An invalid value of `key` for `optimizer`; `valid` says what is allowed.
    pub fn invalid(optimizer: &str, key: &str, value: impl std::fmt::Display, valid: impl Into<String>) -> Self {
        OptimError::InvalidValue {
            optimizer: optimizer.into(),
            key: key.into(),
            value: value.to_string(),
            range: valid.into(),
        }
    }
}
