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
    /// Two inputs that must be aligned have different lengths.
    #[error("length mismatch: {what} ({left} vs {right})")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// Too few observations for the requested quantity (e.g. a variance from one value).
    #[error("insufficient data: {0}")]
    InsufficientData(String),
    /// A NaN or an infinity in data that must be finite.
    #[error("non-finite value in {what} at index {index}")]
    NonFinite { what: &'static str, index: usize },
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

pub(crate) fn check_finite(values: &[f64], what: &'static str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ExperimentsError::NonFinite { what, index }),
        None => Ok(()),
    }
}

pub(crate) fn check_same_len(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(ExperimentsError::LengthMismatch { what, left, right })
    }
}

/// Levels such as alpha and confidence must lie strictly inside (0, 1).
pub(crate) fn check_unit_open(value: f64, name: &str) -> Result<()> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(invalid(format!("{name} must be in (0, 1), got {value}")))
    }
}
