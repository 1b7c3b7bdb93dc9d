//! The one error type of the engine. The Python binding maps each variant to a specific exception
//! (`src/bindings/errors.rs`); nothing else in the engine knows about Python.
use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The operating system refused a file operation.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file cannot be used at all (missing, empty, wrong header, bad encoding), or in strict mode
    /// the first row that breaks a validation rule. `line` is 1-based, the header being line 1.
    #[error("{}:{line}: {rule}: {message}", file.display())]
    DataFile {
        file: PathBuf,
        line: u64,
        rule: String,
        message: String,
    },
    /// A column mapping that does not fit the table it is applied to.
    #[error("schema: {0}")]
    Schema(String),
    /// An argument outside its domain (negative counts, probabilities outside [0, 1], ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// A numerical procedure that did not converge or lost all precision.
    #[error("numerical: {0}")]
    Numerical(String),
    /// Reading or writing a Parquet table failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The PostgreSQL store refused or failed (connection, authentication, SQL, migration). Messages
    /// never contain the URL's password.
    #[error("database: {0}")]
    Database(String),
    /// A broken invariant inside the engine: a bug, never the user's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn data_file(
        file: impl Into<PathBuf>,
        line: u64,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::DataFile {
            file: file.into(),
            line,
            rule: rule.into(),
            message: message.into(),
        }
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

impl From<crate::generate::GenerateError> for Error {
    fn from(e: crate::generate::GenerateError) -> Self {
        use crate::generate::GenerateError as G;
        match e {
            G::Io { path, source } => Error::Io { path, source },
            G::InvalidConfig(m) => Error::InvalidArgument(m),
        }
    }
}

impl From<crate::stats::StatsError> for Error {
    fn from(e: crate::stats::StatsError) -> Self {
        use crate::stats::StatsError as S;
        match e {
            S::InvalidArgument(m) | S::Unattainable(m) => Error::InvalidArgument(m),
            S::NoConvergence(m) => Error::Numerical(m),
        }
    }
}

impl From<crate::experiments::ExperimentsError> for Error {
    fn from(e: crate::experiments::ExperimentsError) -> Self {
        use crate::experiments::ExperimentsError as X;
        match e {
            X::Numerical(m) => Error::Numerical(m),
            other => Error::InvalidArgument(other.to_string()),
        }
    }
}
