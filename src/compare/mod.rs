//! Batch two-arm comparisons from sufficient statistics: one row per metric × segment, columns of
//! n / Σx / Σx² per arm in, effects, intervals and tests out, rows computed in parallel.
//!
//! Arm `a` is the control and arm `b` the treatment: every effect is **treatment minus control**
//! (`mean_b − mean_a`) and the lift is `mean_b / mean_a − 1`. (The per-test functions of
//! [`crate::stats`] follow scipy's first-minus-second order; a row here equals those functions
//! called with the treatment first.)
//!
//! Rows whose statistics are undefined (an empty arm, fewer than two users for a variance, a zero
//! denominator) come out as NaN; sums no data can produce (negative counts, Σx² < (Σx)²/n, more
//! successes than trials) are errors naming the row.

mod batch;
mod columns;
mod rows;

pub use batch::{compare_from_sums, compare_ratio_from_sums};
pub use columns::{ArmSums, Comparisons, MetricKind, RatioArmSums, RowComparison};
pub use rows::{compare_means_row, compare_proportions_row, compare_ratio_row};
