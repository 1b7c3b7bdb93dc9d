//! Experiment-analysis math: mergeable sufficient statistics, CUPED, winsorization, bootstrap
//! CIs, Bayesian A/B comparisons, sequential monitoring and Monte Carlo A/A and power
//! simulation. Pure functions on slices; no I/O and no Python.

pub mod bayes;
pub mod bootstrap;
pub mod cuped;
pub mod error;
pub mod quadrature;
pub mod sequential;
pub mod simulate;
pub mod welch;
pub mod winsor;

pub use error::{ExperimentsError, Result};
pub use welch::Alternative;
