//! The one error type of the statistics module.

use thiserror::Error;

/// Why a statistics function could not produce a result.
///
/// Degenerate but well-defined inputs (zero variance, a sample of one) are not
/// errors: like scipy, the functions return NaN statistics for them. Errors are
/// reserved for inputs that have no meaning (negative counts, a probability
/// outside [0, 1], mismatched lengths) and for numerical failures.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// An argument is outside the domain of the function; the message names it.
    #[error("{0}")]
    InvalidArgument(String),
    /// A requested target (power, confidence level) cannot be reached with the
    /// given inputs, e.g. a power that needs a negative sample size.
    #[error("{0}")]
    Unattainable(String),
    /// An iterative computation did not converge; this is a defect, not bad input.
    #[error("numerical method did not converge: {0}")]
    NoConvergence(String),
}

pub type Result<T, E = StatsError> = std::result::Result<T, E>;

/// Shorthand for the common "invalid argument" error.
pub(crate) fn invalid(message: impl Into<String>) -> StatsError {
    StatsError::InvalidArgument(message.into())
}
