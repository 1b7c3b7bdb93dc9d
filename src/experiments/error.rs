//! The one error type of the experiment-analysis math.

use thiserror::Error;

/// Everything that can go wrong in `crate::experiments`.
///
/// All variants except [`ExperimentsError::Numerical`] describe bad input; the Python binding maps
/// them to `shoplens.InvalidArgumentError` (a `ValueError`).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExperimentsError {
    /// An option is outside its domain (a level outside (0, 1), a negative count, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Too few observations for the requested quantity (e.g. a variance from one value).
    #[error("insufficient data: {0}")]
    InsufficientData(String),
    /// The data make the quantity undefined (zero variance, a ratio with a zero denominator, ...).
    #[error("degenerate data: {0}")]
    Degenerate(String),
    /// A numerical routine did not reach its tolerance.
    #[error("numerical failure: {0}")]
    Numerical(String),
}

pub type Result<T, E = ExperimentsError> = std::result::Result<T, E>;

/// The classic tests of `crate::stats` used here (Welch, the simulator's tests) report input
/// problems and convergence failures; keep that distinction.
impl From<crate::stats::StatsError> for ExperimentsError {
    fn from(e: crate::stats::StatsError) -> Self {
        use crate::stats::StatsError;
        match e {
            StatsError::InvalidArgument(m) | StatsError::Unattainable(m) => {
                ExperimentsError::InvalidArgument(m)
            }
            StatsError::NoConvergence(m) => ExperimentsError::Numerical(m),
        }
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> ExperimentsError {
    ExperimentsError::InvalidArgument(msg.into())
}
