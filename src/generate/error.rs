//! Errors of the synthetic data generator.
use std::path::PathBuf;

/// Why a data set could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Creating the output directory or writing one of its files failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration asks for something the generator cannot produce.
    #[error("invalid generator configuration: {0}")]
    InvalidConfig(String),
}

impl GenerateError {
    pub(super) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| GenerateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
