//! Welch's unequal-variance comparison of two summarised means, used for the CUPED-adjusted
//! means (the adjustment changes means and variances, not the raw data). The test itself is
//! the product's `crate::stats::ttest_ind_from_stats`; this adds the interval and the checks
//! that make a zero-variance comparison an error here rather than a NaN.

use serde::{Deserialize, Serialize};

pub use crate::stats::Alternative;
use crate::stats::{t_confint, ttest_ind_from_stats};

use super::error::{invalid, ExperimentsError, Result};
use crate::stats::check_unit_open;

/// Welch comparison of `first − second`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchComparison {
    pub difference: f64,
    pub std_error: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    pub statistic: f64,
    pub pvalue: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Welch's t test and CI from means, sample variances (ddof 1) and counts.
pub fn welch_from_stats(
    (mean1, var1, n1): (f64, f64, f64),
    (mean2, var2, n2): (f64, f64, f64),
    alternative: Alternative,
    confidence_level: f64,
) -> Result<WelchComparison> {
    check_unit_open(confidence_level, "confidence_level")?;
    if n1 < 2.0 || n2 < 2.0 {
        return Err(ExperimentsError::InsufficientData(
            "Welch's test needs at least two observations per group".into(),
        ));
    }
    let all = [mean1, var1, mean2, var2];
    if all.iter().any(|v| !v.is_finite()) || var1 < 0.0 || var2 < 0.0 {
        return Err(invalid(
            "means and variances must be finite, variances >= 0",
        ));
    }
    if var1 / n1 + var2 / n2 <= 0.0 {
        return Err(ExperimentsError::Degenerate(
            "both groups have zero variance".into(),
        ));
    }
    let t = ttest_ind_from_stats(
        mean1,
        var1.sqrt(),
        n1,
        mean2,
        var2.sqrt(),
        n2,
        false,
        alternative,
    )?;
    let (ci_low, ci_high) = t_confint(
        t.estimate,
        t.standard_error,
        t.df,
        confidence_level,
        alternative,
    )?;
    Ok(WelchComparison {
        difference: t.estimate,
        std_error: t.standard_error,
        df: t.df,
        statistic: t.statistic,
        pvalue: t.pvalue,
        ci_low,
        ci_high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computation() {
        // Means 10 and 8, variances 4 and 9, n 20 and 30: se² = 0.2 + 0.3 = 0.5,
        // df = 0.25 / (0.04/19 + 0.09/29).
        let r = welch_from_stats(
            (10.0, 4.0, 20.0),
            (8.0, 9.0, 30.0),
            Alternative::TwoSided,
            0.95,
        )
        .unwrap();
        assert!((r.std_error - 0.5f64.sqrt()).abs() < 1e-15);
        let df = 0.25 / (0.04 / 19.0 + 0.09 / 29.0);
        assert!((r.df - df).abs() < 1e-12);
        assert!((r.statistic - 2.0 / 0.5f64.sqrt()).abs() < 1e-14);
        assert!((r.ci_low + r.ci_high - 4.0).abs() < 1e-12);
        assert!(matches!(
            welch_from_stats(
                (1.0, 0.0, 5.0),
                (1.0, 0.0, 5.0),
                Alternative::TwoSided,
                0.95
            ),
            Err(ExperimentsError::Degenerate(_))
        ));
    }
}
