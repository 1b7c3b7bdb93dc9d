//! One row of a batch: the tests of [`crate::stats`] applied to power sums, treatment first, with
//! undefined results turned into NaN instead of errors.

use crate::stats::{
    proportions_diff_confint, ratio_metric_test, relative_lift, relative_lift_proportions, t_isf,
    test_proportions_2indep, ttest_ind_from_stats, Alternative, CoMoments, CoSums, LiftMethod,
    Moments, RatioMetricStats, StatsError, Sums,
};

use super::columns::RowComparison;

type Result<T> = std::result::Result<T, StatsError>;

pub(super) fn bad_row(row: usize, arm: char, message: impl std::fmt::Display) -> StatsError {
    StatsError::InvalidArgument(format!("row {row}, arm {arm}: {message}"))
}

/// The moments of an arm from its power sums, validated by [`Moments::from_sums`] (the one rule
/// for sums no data can produce), errors naming the row and arm.
fn moments(s: &Sums, row: usize, arm: char) -> Result<Moments> {
    Moments::from_sums(s).map_err(|e| bad_row(row, arm, e))
}

/// `estimate ± t·se` as [`crate::stats::t_confint`], one-sided alternatives open on one side.
fn t_interval(
    estimate: f64,
    se: f64,
    df: f64,
    confidence_level: f64,
    alternative: Alternative,
) -> Result<(f64, f64)> {
    Ok(match alternative {
        Alternative::TwoSided => {
            let half = t_isf((1.0 - confidence_level) / 2.0, df)? * se;
            (estimate - half, estimate + half)
        }
        Alternative::Less => (
            f64::NEG_INFINITY,
            estimate + t_isf(1.0 - confidence_level, df)? * se,
        ),
        Alternative::Greater => (
            estimate - t_isf(1.0 - confidence_level, df)? * se,
            f64::INFINITY,
        ),
    })
}

/// Delta-method lift mean_b / mean_a − 1 with its interval; NaN where a variance is undefined.
fn lift_of(
    mean_b: f64,
    var_mean_b: f64,
    mean_a: f64,
    var_mean_a: f64,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<(f64, f64, f64)> {
    if !(var_mean_a.is_finite() && var_mean_b.is_finite()) {
        return Ok((f64::NAN, f64::NAN, f64::NAN));
    }
    let lift = relative_lift(
        mean_b,
        var_mean_b,
        mean_a,
        var_mean_a,
        0.0,
        LiftMethod::Delta,
        alternative,
    )?;
    let (low, high) = lift.confidence_interval(confidence_level)?;
    Ok((lift.estimate, low, high))
}

/// Welch t test of mean_b − mean_a from power sums (scipy's `ttest_ind_from_stats` with
/// `equal_var=False`, treatment first), t interval and delta-method lift.
///
/// As scipy, two zero variances give an infinite statistic when the means differ and NaN when
/// they are equal; a single user in an arm makes every variance-based column NaN.
pub fn compare_means_row(
    a: Sums,
    b: Sums,
    row: usize,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<RowComparison> {
    let (ma, mb) = (moments(&a, row, 'a')?, moments(&b, row, 'b')?);
    if ma.n == 0 || mb.n == 0 {
        return Ok(RowComparison::NAN);
    }
    let (mean_a, var_a, n_a) = (ma.mean, ma.variance(), ma.n as f64);
    let (mean_b, var_b, n_b) = (mb.mean, mb.variance(), mb.n as f64);
    let t = ttest_ind_from_stats(
        mean_b,
        var_b.sqrt(),
        n_b,
        mean_a,
        var_a.sqrt(),
        n_a,
        false,
        alternative,
    )?;
    let (effect_low, effect_high) = t_interval(
        t.estimate,
        t.standard_error,
        t.df,
        confidence_level,
        alternative,
    )?;
    let var_mean_b = var_b / n_b;
    let var_mean_a = var_a / n_a;
    let (lift, lift_low, lift_high) = lift_of(
        mean_b,
        var_mean_b,
        mean_a,
        var_mean_a,
        alternative,
        confidence_level,
    )?;
    Ok(RowComparison {
        mean_a,
        mean_b,
        effect: t.estimate,
        effect_low,
        effect_high,
        se: t.standard_error,
        statistic: t.statistic,
        df: t.df,
        pvalue: t.pvalue,
        lift,
        lift_low,
        lift_high,
    })
}

/// Two-proportion test of p_b − p_a from success counts (`sum`; `sum_sq` is not read): pooled z
/// statistic and unpooled Wald interval as R's `prop.test(correct = FALSE)`, `se` the unpooled
/// standard error, `df` = +inf.
pub fn compare_proportions_row(
    a: Sums,
    b: Sums,
    row: usize,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<RowComparison> {
    for (s, arm) in [(a, 'a'), (b, 'b')] {
        let n = s.n as f64;
        if !(s.sum.is_finite() && (0.0..=n).contains(&s.sum)) {
            return Err(bad_row(
                row,
                arm,
                format_args!("successes must lie in [0, n] = [0, {n}], got {}", s.sum),
            ));
        }
    }
    if a.n == 0 || b.n == 0 {
        return Ok(RowComparison::NAN);
    }
    let (n_a, n_b) = (a.n as f64, b.n as f64);
    let test = test_proportions_2indep(b.sum, n_b, a.sum, n_a, alternative, false)?;
    let (effect_low, effect_high) =
        proportions_diff_confint(b.sum, n_b, a.sum, n_a, confidence_level, alternative, false)?;
    let lift = relative_lift_proportions(b.sum, n_b, a.sum, n_a, LiftMethod::Delta, alternative)?;
    let (lift_low, lift_high) = lift.confidence_interval(confidence_level)?;
    let (p_a, p_b) = (test.proportion2, test.proportion1);
    Ok(RowComparison {
        mean_a: p_a,
        mean_b: p_b,
        effect: test.difference,
        effect_low,
        effect_high,
        se: (p_b * (1.0 - p_b) / n_b + p_a * (1.0 - p_a) / n_a).sqrt(),
        statistic: test.statistic,
        df: f64::INFINITY,
        pvalue: test.pvalue,
        lift: lift.estimate,
        lift_low,
        lift_high,
    })
}

/// Ratio-metric statistics of one arm from its power sums (x the numerator, y the denominator),
/// validated by [`CoMoments::from_sums`]; `None` when the ratio or its variance is undefined
/// (fewer than two users, a zero denominator).
fn ratio_stats(s: &CoSums, row: usize, arm: char) -> Result<Option<RatioMetricStats>> {
    let m = CoMoments::from_sums(s).map_err(|e| bad_row(row, arm, e))?;
    if m.n < 2 || s.sum_y == 0.0 {
        return Ok(None);
    }
    Ok(Some(RatioMetricStats {
        nobs: m.n as f64,
        mean_numerator: m.mean_x,
        mean_denominator: m.mean_y,
        var_numerator: m.x().variance(),
        var_denominator: m.y().variance(),
        covariance: m.covariance(),
    }))
}

/// Delta-method z test of ratio_b − ratio_a for a ratio metric Σx/Σy per user (e.g. revenue per
/// order), normal interval, lift ratio_b / ratio_a − 1 by the delta method; `df` = +inf.
pub fn compare_ratio_row(
    a: CoSums,
    b: CoSums,
    row: usize,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<RowComparison> {
    let (Some(sa), Some(sb)) = (ratio_stats(&a, row, 'a')?, ratio_stats(&b, row, 'b')?) else {
        return Ok(RowComparison::NAN);
    };
    let test = ratio_metric_test(&sb, &sa, alternative)?;
    let (effect_low, effect_high) = test.confidence_interval(confidence_level)?;
    let (lift, lift_low, lift_high) = lift_of(
        test.ratio1,
        test.variance1,
        test.ratio2,
        test.variance2,
        alternative,
        confidence_level,
    )?;
    Ok(RowComparison {
        mean_a: test.ratio2,
        mean_b: test.ratio1,
        effect: test.difference,
        effect_low,
        effect_high,
        se: test.standard_error,
        statistic: test.statistic,
        df: f64::INFINITY,
        pvalue: test.pvalue,
        lift,
        lift_low,
        lift_high,
    })
}
