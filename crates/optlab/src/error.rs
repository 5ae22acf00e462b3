//! Errors of the optlab application: each names the input (option, key, file) that is wrong.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Optim(#[from] optlab_optim::OptimError),
    #[error(transparent)]
    Lab(#[from] optlab_lab::LabError),
    #[error(transparent)]
    Report(#[from] optlab_report::ReportError),
    #[error("{0}")]
    Function(String),
    #[error(transparent)]
    Nn(#[from] optlab_nn::NnError),
    #[error("{0}")]
    Usage(String),
    #[error("diverged at step {step}: {what}")]
    Diverged { step: u64, what: String },
    #[error("I/O error on `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
}

impl From<optlab_functions::FunctionError> for Error {
    fn from(e: optlab_functions::FunctionError) -> Self {
        Error::Function(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
