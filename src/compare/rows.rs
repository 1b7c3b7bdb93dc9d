//! One row of a batch: the tests of [`crate::stats`] applied to power sums, treatment first, with
//! undefined results turned into NaN instead of errors.

use crate::stats::{
    norm_isf, proportions_diff_confint, ratio_metric_test, relative_lift,
    relative_lift_proportions, t_isf, test_proportions_2indep, ttest_ind_from_stats, Alternative,
    LiftMethod, RatioMetricStats, StatsError,
};

use super::columns::RowComparison;

type Result<T> = std::result::Result<T, StatsError>;

/// Power sums of one arm in one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sums {
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// Power sums of one arm of a ratio metric Σx/Σy in one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioSums {
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
    pub sum_den: f64,
    pub sum_sq_den: f64,
    pub sum_num_den: f64,
}

fn bad_row(row: usize, arm: char, message: impl std::fmt::Display) -> StatsError {
    StatsError::InvalidArgument(format!("row {row}, arm {arm}: {message}"))
}

/// The count of an arm: finite, non-negative; `None` for an empty arm (nothing is defined).
fn count(n: f64, row: usize, arm: char) -> Result<Option<f64>> {
    if !(n.is_finite() && n >= 0.0) {
        return Err(bad_row(
            row,
            arm,
            format_args!("n must be finite and >= 0, got {n}"),
        ));
    }
    Ok((n > 0.0).then_some(n))
}

/// Σ(x − x̄)² from power sums. Cancellation may leave a tiny negative value, clamped to 0 (the
/// rule of `Moments::from_sums`); anything larger is not the sums of real data.
fn central_sum_sq(n: f64, sum: f64, sum_sq: f64, row: usize, arm: char) -> Result<f64> {
    if !(sum.is_finite() && sum_sq.is_finite() && sum_sq >= 0.0) {
        return Err(bad_row(
            row,
            arm,
            "sums must be finite and the sum of squares >= 0",
        ));
    }
    let m2 = sum_sq - sum * (sum / n);
    if m2 >= 0.0 {
        Ok(m2)
    } else if -m2 <= 1e-9 * sum_sq {
        Ok(0.0)
    } else {
        Err(bad_row(
            row,
            arm,
            "the sum of squares is smaller than (sum)^2 / n",
        ))
    }
}

/// Mean and ddof-1 variance (NaN for a single user).
fn mean_var(s: Sums, row: usize, arm: char) -> Result<Option<(f64, f64)>> {
    let Some(n) = count(s.n, row, arm)? else {
        if s.sum != 0.0 || s.sum_sq != 0.0 {
            return Err(bad_row(row, arm, "sums of an empty arm must be zero"));
        }
        return Ok(None);
    };
    let m2 = central_sum_sq(n, s.sum, s.sum_sq, row, arm)?;
    let var = if n >= 2.0 { m2 / (n - 1.0) } else { f64::NAN };
    Ok(Some((s.sum / n, var)))
}

/// Student t upper quantile t with P(T > t) = q. Welch df of large arms run into the thousands,
/// where the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5, four terms in 1/df) is exact to
/// rounding and costs a few multiplications instead of an iterative inversion of the incomplete
/// beta function; it is used only when its last term is below 1e-14 of the result, so the omitted
/// fifth term (smaller again by about z²/df) is negligible.
fn t_upper_quantile(q: f64, df: f64) -> Result<f64> {
    if df.is_finite() && df >= 1000.0 {
        let x = norm_isf(q);
        let x2 = x * x;
        let g1 = x * (x2 + 1.0) / 4.0;
        let g2 = x * ((5.0 * x2 + 16.0) * x2 + 3.0) / 96.0;
        let g3 = x * (((3.0 * x2 + 19.0) * x2 + 17.0) * x2 - 15.0) / 384.0;
        let g4 = x * ((((79.0 * x2 + 776.0) * x2 + 1482.0) * x2 - 1920.0) * x2 - 945.0) / 92160.0;
        let v = 1.0 / df;
        if (g4 * v.powi(4)).abs() <= 1e-14 * x.abs() {
            return Ok(x + v * (g1 + v * (g2 + v * (g3 + v * g4))));
        }
    }
    t_isf(q, df)
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
            let half = t_upper_quantile((1.0 - confidence_level) / 2.0, df)? * se;
            (estimate - half, estimate + half)
        }
        Alternative::Less => (
            f64::NEG_INFINITY,
            estimate + t_upper_quantile(1.0 - confidence_level, df)? * se,
        ),
        Alternative::Greater => (
            estimate - t_upper_quantile(1.0 - confidence_level, df)? * se,
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
    let (Some((mean_a, var_a)), Some((mean_b, var_b))) =
        (mean_var(a, row, 'a')?, mean_var(b, row, 'b')?)
    else {
        return Ok(RowComparison::NAN);
    };
    let t = ttest_ind_from_stats(
        mean_b,
        var_b.sqrt(),
        b.n,
        mean_a,
        var_a.sqrt(),
        a.n,
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
    let var_mean_b = var_b / b.n;
    let var_mean_a = var_a / a.n;
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
        if count(s.n, row, arm)?.is_some() && !(s.sum.is_finite() && (0.0..=s.n).contains(&s.sum)) {
            return Err(bad_row(
                row,
                arm,
                format_args!("successes must lie in [0, n] = [0, {}], got {}", s.n, s.sum),
            ));
        }
    }
    if a.n == 0.0 || b.n == 0.0 {
        return Ok(RowComparison::NAN);
    }
    let test = test_proportions_2indep(b.sum, b.n, a.sum, a.n, alternative, false)?;
    let (effect_low, effect_high) =
        proportions_diff_confint(b.sum, b.n, a.sum, a.n, confidence_level, alternative, false)?;
    let lift = relative_lift_proportions(b.sum, b.n, a.sum, a.n, LiftMethod::Delta, alternative)?;
    let (lift_low, lift_high) = lift.confidence_interval(confidence_level)?;
    let (p_a, p_b) = (test.proportion2, test.proportion1);
    Ok(RowComparison {
        mean_a: p_a,
        mean_b: p_b,
        effect: test.difference,
        effect_low,
        effect_high,
        se: (p_b * (1.0 - p_b) / b.n + p_a * (1.0 - p_a) / a.n).sqrt(),
        statistic: test.statistic,
        df: f64::INFINITY,
        pvalue: test.pvalue,
        lift: lift.estimate,
        lift_low,
        lift_high,
    })
}

/// Ratio-metric statistics of one arm; `None` when the ratio or its variance is undefined (fewer
/// than two users, a zero denominator).
fn ratio_stats(s: RatioSums, row: usize, arm: char) -> Result<Option<RatioMetricStats>> {
    let Some(n) = count(s.n, row, arm)? else {
        return Ok(None);
    };
    let m2_num = central_sum_sq(n, s.sum, s.sum_sq, row, arm)?;
    let m2_den = central_sum_sq(n, s.sum_den, s.sum_sq_den, row, arm)?;
    if !s.sum_num_den.is_finite() {
        return Err(bad_row(row, arm, "the cross sum must be finite"));
    }
    let c_xy = s.sum_num_den - s.sum * (s.sum_den / n);
    if c_xy * c_xy > m2_num * m2_den * (1.0 + 1e-9) + 1e-12 * s.sum_sq.max(s.sum_sq_den).powi(2) {
        return Err(bad_row(
            row,
            arm,
            "cross sum inconsistent with the sums of squares",
        ));
    }
    if n < 2.0 || s.sum_den == 0.0 {
        return Ok(None);
    }
    Ok(Some(RatioMetricStats {
        nobs: n,
        mean_numerator: s.sum / n,
        mean_denominator: s.sum_den / n,
        var_numerator: m2_num / (n - 1.0),
        var_denominator: m2_den / (n - 1.0),
        covariance: c_xy / (n - 1.0),
    }))
}

/// Delta-method z test of ratio_b − ratio_a for a ratio metric Σx/Σy per user (e.g. revenue per
/// order), normal interval, lift ratio_b / ratio_a − 1 by the delta method; `df` = +inf.
pub fn compare_ratio_row(
    a: RatioSums,
    b: RatioSums,
    row: usize,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<RowComparison> {
    let (Some(sa), Some(sb)) = (ratio_stats(a, row, 'a')?, ratio_stats(b, row, 'b')?) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_quantile_equals_the_exact_inversion() {
        for q in [0.2, 0.05, 0.025, 0.005, 0.0005, 1e-6] {
            for df in [1000.0, 1500.0, 4321.5, 1e4, 1e5, 1e6, 1e9] {
                let fast = t_upper_quantile(q, df).unwrap();
                let exact = t_isf(q, df).unwrap();
                assert!(
                    ((fast - exact) / exact).abs() < 5e-15,
                    "q={q} df={df}: {fast} vs {exact}"
                );
            }
        }
        assert!(t_upper_quantile(0.025, f64::NAN).unwrap().is_nan());
    }
}
