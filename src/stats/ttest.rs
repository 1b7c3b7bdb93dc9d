//! Two-sample t tests (Welch and Student), as scipy's `ttest_ind`.

use super::alternative::Alternative;
use super::checks::{check_nobs, check_unit_open};
use super::error::{invalid, Result};
use super::moments::mean_var;
use super::special::{t_cdf, t_isf, t_sf};

/// Result of [`ttest_ind`] and [`ttest_ind_from_stats`].
#[derive(Debug, Clone, PartialEq)]
pub struct TTestResult {
    pub statistic: f64,
    pub pvalue: f64,
    /// Degrees of freedom (Welch–Satterthwaite unless `equal_var`).
    pub df: f64,
    /// mean1 − mean2.
    pub estimate: f64,
    /// Standard error of `estimate`.
    pub standard_error: f64,
    pub mean1: f64,
    pub mean2: f64,
    pub alternative: Alternative,
}

impl TTestResult {
    /// Interval for mean1 − mean2 (scipy's `TtestResult.confidence_interval`).
    pub fn confidence_interval(&self, confidence_level: f64) -> Result<(f64, f64)> {
        t_confint(
            self.estimate,
            self.standard_error,
            self.df,
            confidence_level,
            self.alternative,
        )
    }
}

/// `estimate + t·standard_error` with t the Student quantiles for the level;
/// one-sided alternatives leave the open end infinite.
pub fn t_confint(
    estimate: f64,
    standard_error: f64,
    df: f64,
    confidence_level: f64,
    alternative: Alternative,
) -> Result<(f64, f64)> {
    check_unit_open(confidence_level, "confidence_level")?;
    Ok(match alternative {
        Alternative::TwoSided => {
            let half = t_isf((1.0 - confidence_level) / 2.0, df)? * standard_error;
            (estimate - half, estimate + half)
        }
        Alternative::Less => (
            f64::NEG_INFINITY,
            estimate + t_isf(1.0 - confidence_level, df)? * standard_error,
        ),
        Alternative::Greater => (
            estimate - t_isf(1.0 - confidence_level, df)? * standard_error,
            f64::INFINITY,
        ),
    })
}

/// p-value of a t statistic, as scipy's `_get_pvalue`.
pub(crate) fn t_pvalue(statistic: f64, df: f64, alternative: Alternative) -> f64 {
    match alternative {
        Alternative::TwoSided => 2.0 * t_sf(statistic.abs(), df),
        Alternative::Less => t_cdf(statistic, df),
        Alternative::Greater => t_sf(statistic, df),
    }
}

/// Degrees of freedom and standard error of mean1 − mean2, as scipy's
/// `_equal_var_ttest_denom` / `_unequal_var_ttest_denom`.
fn t_denominator(var1: f64, nobs1: f64, var2: f64, nobs2: f64, equal_var: bool) -> (f64, f64) {
    if equal_var {
        // A sample of one contributes no squared deviations to the pooled
        // variance, so its undefined variance is taken as 0 (scipy does too).
        let v1 = if nobs1 == 1.0 { 0.0 } else { var1 };
        let v2 = if nobs2 == 1.0 { 0.0 } else { var2 };
        let df = nobs1 + nobs2 - 2.0;
        let pooled = ((nobs1 - 1.0) * v1 + (nobs2 - 1.0) * v2) / df;
        (df, (pooled * (1.0 / nobs1 + 1.0 / nobs2)).sqrt())
    } else {
        let vn1 = var1 / nobs1;
        let vn2 = var2 / nobs2;
        let df = (vn1 + vn2).powi(2) / (vn1 * vn1 / (nobs1 - 1.0) + vn2 * vn2 / (nobs2 - 1.0));
        // NaN df means both variances are zero; any df then gives the same
        // p-value, and scipy uses 1.
        let df = if df.is_nan() { 1.0 } else { df };
        (df, (vn1 + vn2).sqrt())
    }
}

/// t test from summary statistics; `std1`, `std2` are ddof = 1 standard deviations.
#[allow(clippy::too_many_arguments)]
pub fn ttest_ind_from_stats(
    mean1: f64,
    std1: f64,
    nobs1: f64,
    mean2: f64,
    std2: f64,
    nobs2: f64,
    equal_var: bool,
    alternative: Alternative,
) -> Result<TTestResult> {
    check_nobs(&[("nobs1", nobs1), ("nobs2", nobs2)])?;
    for (name, s) in [("std1", std1), ("std2", std2)] {
        if s < 0.0 {
            return Err(invalid(format!("{name} must be non-negative, got {s}")));
        }
    }
    let (df, standard_error) = t_denominator(std1 * std1, nobs1, std2 * std2, nobs2, equal_var);
    let estimate = mean1 - mean2;
    let statistic = estimate / standard_error;
    Ok(TTestResult {
        statistic,
        pvalue: t_pvalue(statistic, df, alternative),
        df,
        estimate,
        standard_error,
        mean1,
        mean2,
        alternative,
    })
}

/// Two-sample t test on raw samples. Welch's test unless `equal_var`.
///
/// As scipy: a sample of one gives NaN statistics under Welch (its variance
/// is undefined); two constant samples give ±inf (different means) or NaN
/// (equal means); empty samples give NaN. NaN values propagate.
pub fn ttest_ind(
    a: &[f64],
    b: &[f64],
    equal_var: bool,
    alternative: Alternative,
) -> Result<TTestResult> {
    let (mean1, var1) = mean_var(a);
    let (mean2, var2) = mean_var(b);
    let (nobs1, nobs2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return Ok(TTestResult {
            statistic: f64::NAN,
            pvalue: f64::NAN,
            df: f64::NAN,
            estimate: f64::NAN,
            standard_error: f64::NAN,
            mean1,
            mean2,
            alternative,
        });
    }
    let (df, standard_error) = t_denominator(var1, nobs1, var2, nobs2, equal_var);
    let estimate = mean1 - mean2;
    let statistic = estimate / standard_error;
    Ok(TTestResult {
        statistic,
        pvalue: t_pvalue(statistic, df, alternative),
        df,
        estimate,
        standard_error,
        mean1,
        mean2,
        alternative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    const A: [f64; 6] = [3.1, 4.7, 2.2, 5.9, 4.4, 3.8];
    const B: [f64; 5] = [5.5, 6.1, 4.9, 7.3, 6.0];
    // (statistic, pvalue, df, ci low, ci high) from scipy 1.17.
    const WELCH: (f64, f64, f64, f64, f64) = (
        -2.9435060717783204,
        0.016877242071722986,
        8.756425930979175,
        -3.4431898780614194,
        -0.4434767886052473,
    );
    // (statistic, pvalue, 90% upper bound) for equal_var=True, alternative='less'.
    const STUDENT: (f64, f64, f64) = (
        -2.8390799674529097,
        0.009716156238411364,
        -0.9966583967004672,
    );

    // scipy.stats.ttest_ind(A, B, equal_var=False) and its confidence_interval().
    #[test]
    fn welch_matches_scipy() {
        let r = ttest_ind(&A, &B, false, Alternative::TwoSided).unwrap();
        assert!(close(r.statistic, WELCH.0, 1e-13));
        assert!(close(r.pvalue, WELCH.1, 1e-12));
        assert!(close(r.df, WELCH.2, 1e-13));
        let (lo, hi) = r.confidence_interval(0.95).unwrap();
        assert!(close(lo, WELCH.3, 1e-12) && close(hi, WELCH.4, 1e-12));
    }

    #[test]
    fn student_matches_scipy() {
        let r = ttest_ind(&A, &B, true, Alternative::Less).unwrap();
        assert!(close(r.statistic, STUDENT.0, 1e-13));
        assert!(close(r.pvalue, STUDENT.1, 1e-12));
        assert_eq!(r.df, 9.0);
        let (lo, hi) = r.confidence_interval(0.9).unwrap();
        assert_eq!(lo, f64::NEG_INFINITY);
        assert!(close(hi, STUDENT.2, 1e-12));
    }

    #[test]
    fn degenerate_samples_follow_scipy() {
        let r = ttest_ind(&[1.0], &[2.0, 3.0, 4.0], false, Alternative::TwoSided).unwrap();
        assert!(r.statistic.is_nan() && r.pvalue.is_nan());
        assert_eq!(r.df, 1.0);
        let r = ttest_ind(&[1.0, 1.0], &[2.0, 2.0], false, Alternative::TwoSided).unwrap();
        assert_eq!(r.statistic, f64::NEG_INFINITY);
        assert_eq!(r.pvalue, 0.0);
        let r = ttest_ind(&[1.0], &[2.0, 3.0, 4.0], true, Alternative::TwoSided).unwrap();
        assert!(close(r.statistic, -1.7320508075688774, 1e-14));
    }
}
