//! Errors of the lab: each names the file, line, key, store or shard it is about.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LabError {
    /// A mistake in an experiment file, already formatted as `FILE:LINE: key `K`...: what`.
    #[error("{0}")]
    Spec(String),
    /// A results store that cannot be used as asked (wrong schema version, another experiment).
    #[error("{0}")]
    Store(String),
    #[error("SQLite error on `{path}`: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("I/O error on `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
    /// Bad command-line input (`--shard`, `--jobs`).
    #[error("{0}")]
    Usage(String),
    /// An optimizer configuration the registry refuses.
    #[error(transparent)]
    Optim(#[from] optlab_optim::OptimError),
    /// An unknown test function or a dimension it does not have.
    #[error("{0}")]
    Function(String),
}

impl From<optlab_functions::FunctionError> for LabError {
    fn from(e: optlab_functions::FunctionError) -> Self {
        LabError::Function(e.to_string())
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;
