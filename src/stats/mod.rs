//! Frequentist statistics for experiments: tests, intervals, multiplicity,
//! relative effects and planning.
//!
//! Every function is pure, takes plain numbers or slices and returns
//! `Result<_, StatsError>`. Conventions follow scipy (and R where the product
//! specification names R): effects are first argument minus second argument,
//! relative effects first / second − 1, alternatives "two-sided" | "less" |
//! "greater". Degenerate but meaningful inputs give NaN statistics as scipy
//! does; meaningless inputs are errors.
//!
//! NaN, as scipy or R: a two-proportion test where neither group (or both
//! entirely) converted; Welch's t with a sample of one; t tests on empty
//! samples; constant samples (±inf or NaN); a relative lift over a zero
//! baseline; Fisher's odds ratio with an empty row or column (p-value 1).
//!
//! Errors (`StatsError::InvalidArgument`), where scipy also raises: NaN or
//! empty samples in Mann–Whitney, a zero expected count in a contingency
//! table, negative counts; and, where scipy would return NaN but the input
//! cannot be meant: a contingency table without any count, counts above the
//! number of trials, probabilities or confidence levels outside their range,
//! unknown method names. Planning targets that no sample size reaches are
//! `StatsError::Unattainable`.

mod alternative;
mod beta;
mod checks;
mod contingency;
mod error;
mod fisher;
mod hyp2f1;
mod lift;
mod mannwhitney;
mod moments;
mod multiarm;
mod multitest;
mod nct;
mod power;
mod proportions;
mod roots;
mod special;
mod ttest;

pub use alternative::{normal_confint, Alternative};
pub use beta::BetaDist;
pub(crate) use checks::{check_finite, check_same_len, check_unit_open};
pub use contingency::{
    chi2_contingency, srm_test, Chi2ContingencyResult, SrmResult, SRM_DEFAULT_THRESHOLD,
};
pub use error::{Result, StatsError};
pub use fisher::{fisher_exact, fisher_exact_confint, FisherExactResult};
pub use hyp2f1::hyp2f1;
pub use lift::{
    ratio_metric_test, relative_lift, relative_lift_means, relative_lift_proportions, LiftMethod,
    RatioMetricStats, RatioMetricTest, RelativeLift,
};
pub use mannwhitney::{mannwhitneyu, MannWhitneyResult, MwuMethod};
pub use moments::{CoMoments, CoSums, Moments, Sums};
pub use multiarm::{compare_arms_means, compare_arms_proportions, ArmComparisons};
pub use multitest::{adjust_pvalues, AdjustMethod};
pub use nct::{nct_cdf, nct_cdf_sf, nct_sf};
pub use power::{
    duration_days, mde_proportions_2indep, mde_ttest_ind, power_proportions_2indep,
    power_ttest_ind, samplesize_proportions_2indep, samplesize_ttest_ind, PowerAlternative,
};
pub use proportions::{
    proportion_confint, proportions_diff_confint, test_proportions_2indep, ConfintMethod,
    ProportionsTest,
};
pub(crate) use roots::brent;
pub use special::{
    beta_inc_xy, beta_pdf, beta_quantile, chi2_sf, ln_beta, norm_cdf, norm_isf, norm_pdf, norm_ppf,
    norm_sf, t_cdf, t_isf, t_ppf, t_sf,
};
pub use ttest::{t_confint, ttest_ind, ttest_ind_from_stats, TTestResult};
