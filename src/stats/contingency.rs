//! χ² tests on counts: independence in a contingency table (scipy's
//! `chi2_contingency`) and goodness of fit to planned weights (sample-ratio
//! mismatch).

use super::error::{invalid, Result};
use super::special::chi2_sf;

/// Result of [`chi2_contingency`].
#[derive(Debug, Clone, PartialEq)]
pub struct Chi2ContingencyResult {
    pub statistic: f64,
    pub pvalue: f64,
    /// Degrees of freedom, (rows − 1)(columns − 1).
    pub dof: usize,
    /// Expected counts under independence, row-major `nrows × ncols`.
    pub expected_freq: Vec<f64>,
    pub nrows: usize,
    pub ncols: usize,
}

fn check_counts(values: &[f64], what: &str) -> Result<()> {
    if values.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(invalid(format!("{what} must be finite and non-negative")));
    }
    Ok(())
}

/// Pearson χ² test of independence on a row-major `nrows × ncols` table.
///
/// As scipy: Yates' correction (each cell moved min(½, |E − O|) towards its
/// expectation) only when `correction` and dof = 1; dof = 0 gives statistic
/// 0 and p-value 1. A zero expected count is an error, as scipy raises.
pub fn chi2_contingency(
    table: &[f64],
    nrows: usize,
    ncols: usize,
    correction: bool,
) -> Result<Chi2ContingencyResult> {
    if nrows == 0 || ncols == 0 || table.len() != nrows * ncols {
        return Err(invalid(format!(
            "table must hold nrows × ncols = {nrows} × {ncols} values, got {}",
            table.len()
        )));
    }
    check_counts(table, "table entries")?;
    let row_sums: Vec<f64> = table.chunks(ncols).map(|r| r.iter().sum()).collect();
    let col_sums: Vec<f64> = (0..ncols)
        .map(|j| (0..nrows).map(|i| table[i * ncols + j]).sum())
        .collect();
    let total: f64 = row_sums.iter().sum();
    let mut expected = Vec::with_capacity(table.len());
    for (i, r) in row_sums.iter().enumerate() {
        for (j, c) in col_sums.iter().enumerate() {
            let e = r * c / total;
            if e == 0.0 || e.is_nan() {
                return Err(invalid(format!(
                    "the table of expected frequencies has a zero element at ({i}, {j})"
                )));
            }
            expected.push(e);
        }
    }
    let dof = (nrows - 1) * (ncols - 1);
    let (statistic, pvalue) = if dof == 0 {
        (0.0, 1.0)
    } else {
        let yates = dof == 1 && correction;
        let statistic: f64 = table
            .iter()
            .zip(&expected)
            .map(|(&o, &e)| {
                let o = if yates {
                    let diff = e - o;
                    o + diff.signum() * diff.abs().min(0.5)
                } else {
                    o
                };
                (o - e) * (o - e) / e
            })
            .sum();
        (statistic, chi2_sf(statistic, dof as f64))
    };
    Ok(Chi2ContingencyResult {
        statistic,
        pvalue,
        dof,
        expected_freq: expected,
        nrows,
        ncols,
    })
}

/// Result of [`srm_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct SrmResult {
    pub statistic: f64,
    pub pvalue: f64,
    /// Number of variants − 1.
    pub dof: usize,
    /// Counts expected from the planned weights.
    pub expected: Vec<f64>,
    /// True when `pvalue` is below the alarm threshold.
    pub alarm: bool,
    pub threshold: f64,
}

/// Default p-value below which a sample-ratio mismatch raises the alarm.
pub const SRM_DEFAULT_THRESHOLD: f64 = 0.001;

/// Sample-ratio mismatch check: Pearson χ² goodness of fit of the observed
/// counts per variant to the planned `weights` (normalised to sum to 1),
/// as scipy's `chisquare(observed, f_exp=total·w/Σw)`.
pub fn srm_test(observed: &[f64], weights: &[f64], threshold: f64) -> Result<SrmResult> {
    if observed.len() < 2 || observed.len() != weights.len() {
        return Err(invalid(format!(
            "srm_test needs at least two variants and one weight per variant, got {} counts and {} weights",
            observed.len(),
            weights.len()
        )));
    }
    check_counts(observed, "observed counts")?;
    if weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
        return Err(invalid("weights must be finite and positive"));
    }
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(invalid(format!(
            "threshold must lie in (0, 1), got {threshold}"
        )));
    }
    let total: f64 = observed.iter().sum();
    if total <= 0.0 {
        return Err(invalid("observed counts must not all be zero"));
    }
    let weight_sum: f64 = weights.iter().sum();
    let expected: Vec<f64> = weights.iter().map(|w| total * w / weight_sum).collect();
    let statistic: f64 = observed
        .iter()
        .zip(&expected)
        .map(|(&o, &e)| (o - e) * (o - e) / e)
        .sum();
    let dof = observed.len() - 1;
    let pvalue = chi2_sf(statistic, dof as f64);
    Ok(SrmResult {
        statistic,
        pvalue,
        dof,
        expected,
        alarm: pvalue < threshold,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    // scipy.stats.chi2_contingency(T) for a 2×3 and a corrected 2×2 table.
    #[test]
    fn contingency_matches_scipy() {
        let r = chi2_contingency(&[10.0, 10.0, 20.0, 20.0, 20.0, 20.0], 2, 3, true).unwrap();
        assert_eq!(r.dof, 2);
        assert_eq!(r.expected_freq, vec![12.0, 12.0, 16.0, 18.0, 18.0, 24.0]);
        assert!(close(r.statistic, SCIPY_2X3.0, 1e-13) && close(r.pvalue, SCIPY_2X3.1, 1e-13));
        let r = chi2_contingency(&[12.0, 5.0, 7.0, 9.0], 2, 2, true).unwrap();
        assert!(close(r.statistic, SCIPY_2X2.0, 1e-13) && close(r.pvalue, SCIPY_2X2.1, 1e-13));
    }

    #[test]
    fn zero_expected_is_an_error() {
        assert!(chi2_contingency(&[0.0, 0.0, 3.0, 4.0], 2, 2, true).is_err());
    }

    // scipy.stats.chisquare([5050, 4950, 10100], f_exp=...) for weights 1:1:2.
    #[test]
    fn srm_matches_scipy() {
        let r = srm_test(
            &[5050.0, 4950.0, 10100.0],
            &[1.0, 1.0, 2.0],
            SRM_DEFAULT_THRESHOLD,
        )
        .unwrap();
        assert!(close(r.statistic, SCIPY_SRM.0, 1e-13) && close(r.pvalue, SCIPY_SRM.1, 1e-13));
        assert!(!r.alarm);
    }

    // (statistic, pvalue) from scipy 1.17.
    const SCIPY_2X3: (f64, f64) = (2.7777777777777777, 0.24935220877729622);
    const SCIPY_2X2: (f64, f64) = (1.455996378814684, 0.22756821457580642);
    const SCIPY_SRM: (f64, f64) = (1.4925373134328357, 0.4741324069602937);
}
