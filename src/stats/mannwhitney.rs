//! Mann–Whitney U test, as scipy's `mannwhitneyu`.

use std::str::FromStr;

use super::alternative::Alternative;
use super::error::{invalid, Result, StatsError};
use super::special::norm_sf;

/// How the p-value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MwuMethod {
    /// Exact when one sample has at most 8 values and there are no ties,
    /// asymptotic otherwise (scipy's rule for `method="auto"`), except that
    /// the asymptotic method is also used when the exact distribution would
    /// need more than 5e6 coefficients (a handful of values against millions).
    #[default]
    Auto,
    /// Exact null distribution of U (not corrected for ties).
    Exact,
    /// Normal approximation with tie correction.
    Asymptotic,
}

impl MwuMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MwuMethod::Auto => "auto",
            MwuMethod::Exact => "exact",
            MwuMethod::Asymptotic => "asymptotic",
        }
    }
}

impl FromStr for MwuMethod {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(MwuMethod::Auto),
            "exact" => Ok(MwuMethod::Exact),
            "asymptotic" => Ok(MwuMethod::Asymptotic),
            other => Err(invalid(format!(
                "method must be 'auto', 'exact' or 'asymptotic', got {other:?}"
            ))),
        }
    }
}

/// Result of [`mannwhitneyu`].
#[derive(Debug, Clone, PartialEq)]
pub struct MannWhitneyResult {
    /// U statistic of the first sample: the number of pairs (a, b) with
    /// a > b, ties counting one half.
    pub statistic: f64,
    pub pvalue: f64,
    /// The method actually used (`Exact` or `Asymptotic`, never `Auto`).
    pub method: MwuMethod,
    pub nobs1: usize,
    pub nobs2: usize,
}

/// Largest exact computation accepted: coefficients kept (40 MB) and
/// coefficients × passes of the generating-function recursion (~0.5 s).
const EXACT_MAX_DEGREE: f64 = 5e6;
const EXACT_WORK_LIMIT: f64 = 5e8;

/// Highest power of q the exact p-value needs, by the symmetry U ↔ mn − U.
fn exact_degree(u: f64, n1: usize, n2: usize) -> f64 {
    let kc = (n1 as f64) * (n2 as f64) - u;
    u.min(kc)
}

fn exact_is_feasible(u: f64, n1: usize, n2: usize) -> bool {
    let degree = exact_degree(u, n1, n2);
    degree <= EXACT_MAX_DEGREE && (degree + 1.0) * n1.min(n2) as f64 <= EXACT_WORK_LIMIT
}

/// Mann–Whitney U test of `a` against `b`.
///
/// Matches scipy ≥ 1.7: U of `a` from average ranks; `alternative="greater"`
/// means `a` tends to be larger. Errors on NaN values or an empty sample,
/// as scipy raises.
pub fn mannwhitneyu(
    a: &[f64],
    b: &[f64],
    alternative: Alternative,
    use_continuity: bool,
    method: MwuMethod,
) -> Result<MannWhitneyResult> {
    if a.is_empty() || b.is_empty() {
        return Err(invalid("mannwhitneyu: both samples must be non-empty"));
    }
    if a.iter().chain(b).any(|v| v.is_nan()) {
        return Err(invalid("mannwhitneyu: samples must not contain NaN"));
    }
    let (n1, n2) = (a.len(), b.len());
    let (rank_sum1, tie_term, has_ties) = rank_sum_first(a, b);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = rank_sum1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let (u, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let method = match method {
        // scipy's rule, except that a sample of a few values against millions
        // (beyond the exact limits) falls back to the normal approximation,
        // which is then accurate, instead of running for hours.
        MwuMethod::Auto if (n1 <= 8 || n2 <= 8) && !has_ties && exact_is_feasible(u, n1, n2) => {
            MwuMethod::Exact
        }
        MwuMethod::Auto => MwuMethod::Asymptotic,
        other => other,
    };
    let p = match method {
        MwuMethod::Exact => exact_sf(u, n1, n2)?,
        _ => {
            let n = n1f + n2f;
            let mu = n1f * n2f / 2.0;
            let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
            // P(U ≥ u) always uses the upper tail, so the correction is −½.
            let numerator = u - mu - if use_continuity { 0.5 } else { 0.0 };
            norm_sf(numerator / s)
        }
    };
    Ok(MannWhitneyResult {
        statistic: u1,
        pvalue: (p * factor).clamp(0.0, 1.0),
        method,
        nobs1: n1,
        nobs2: n2,
    })
}

/// Sum of the average ranks of `a` in the pooled sample, Σ(t³ − t) over tie
/// groups, and whether any tie exists.
fn rank_sum_first(a: &[f64], b: &[f64]) -> (f64, f64, bool) {
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum = 0.0;
    let mut tie_term = 0.0;
    let mut has_ties = false;
    let mut start = 0;
    while start < pooled.len() {
        let mut end = start + 1;
        // -0.0 and 0.0 are the same value for ranking.
        while end < pooled.len() && pooled[end].0 == pooled[start].0 {
            end += 1;
        }
        let t = (end - start) as f64;
        let average_rank = (start + end + 1) as f64 / 2.0;
        let in_first = pooled[start..end].iter().filter(|x| x.1).count() as f64;
        rank_sum += average_rank * in_first;
        if t > 1.0 {
            has_ties = true;
            tie_term += t * t * t - t;
        }
        start = end;
    }
    (rank_sum, tie_term, has_ties)
}

/// P(U ≥ u) under the null for samples of sizes `n1`, `n2` without ties,
/// following scipy's `_MWU.sf` (the smaller tail is summed, by symmetry).
fn exact_sf(u: f64, n1: usize, n2: usize) -> Result<f64> {
    let (m, n) = (n1.min(n2), n1.max(n2));
    let kc = (m as f64) * (n as f64) - u;
    let degree = exact_degree(u, n1, n2);
    if !exact_is_feasible(u, n1, n2) {
        return Err(invalid(format!(
            "mannwhitneyu: samples of {n1} and {n2} are too large for the exact method; use 'asymptotic'"
        )));
    }
    let counts = u_counts(m, n, degree as usize);
    let total = binomial(m + n, m);
    let cdf_at = |k: usize| counts[..=k].iter().sum::<f64>() / total;
    Ok(if u < kc {
        let k = u as usize;
        1.0 - cdf_at(k) + counts[k] / total
    } else {
        cdf_at(kc as usize)
    })
}

/// Number of orderings with U = k, for k = 0..=degree: the coefficients of the
/// Gaussian binomial [m+n choose m]_q = Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i).
///
/// Multiplying and dividing factor by factor keeps every intermediate a
/// Gaussian binomial [n+i choose i]_q with non-negative coefficients, so the
/// float arithmetic suffers no large cancellation.
fn u_counts(m: usize, n: usize, degree: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; degree + 1];
    c[0] = 1.0;
    for i in 1..=m {
        let shift = n + i;
        if shift <= degree {
            for j in (shift..=degree).rev() {
                c[j] -= c[j - shift];
            }
        }
        for j in i..=degree {
            c[j] += c[j - i];
        }
    }
    c
}

/// C(n, k) as a float.
fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (1..=k).fold(1.0, |acc, i| acc * (n - k + i) as f64 / i as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    #[test]
    fn counts_are_gaussian_binomial() {
        // [4 choose 2]_q = 1 + q + 2q² + q³ + q⁴.
        assert_eq!(u_counts(2, 2, 4), vec![1.0, 1.0, 2.0, 1.0, 1.0]);
        let all = u_counts(3, 5, 15);
        assert_eq!(all.iter().sum::<f64>(), 56.0);
    }

    // scipy.stats.mannwhitneyu(X, Y) (exact, no ties) and with ties (asymptotic).
    #[test]
    fn matches_scipy() {
        let x = [1.1, 3.4, 2.2, 5.0, 4.8];
        let y = [2.9, 6.1, 7.7, 5.5, 6.6, 8.0];
        let r = mannwhitneyu(&x, &y, Alternative::TwoSided, true, MwuMethod::Auto).unwrap();
        assert_eq!(r.method, MwuMethod::Exact);
        assert_eq!(r.statistic, SCIPY_EXACT.0);
        assert!(close(r.pvalue, SCIPY_EXACT.1, 1e-13));
        let r = mannwhitneyu(&x, &y, Alternative::Less, true, MwuMethod::Auto).unwrap();
        assert!(close(r.pvalue, SCIPY_EXACT.2, 1e-13));
        let x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 9.0, 9.0, 9.5];
        let y = [2.0, 3.0, 5.0, 5.0, 6.0, 7.0, 9.0, 9.0, 10.0];
        let r = mannwhitneyu(&x, &y, Alternative::Greater, true, MwuMethod::Auto).unwrap();
        assert_eq!(r.method, MwuMethod::Asymptotic);
        assert_eq!(r.statistic, SCIPY_TIES.0);
        assert!(close(r.pvalue, SCIPY_TIES.1, 1e-13));
    }

    #[test]
    fn auto_falls_back_when_exact_is_too_large() {
        let b: Vec<f64> = (0..3_000_000).map(|i| i as f64).collect();
        let a = [1_400_000.5, 1_450_000.5, 1_550_000.5, 1_600_000.5];
        let r = mannwhitneyu(&a, &b, Alternative::TwoSided, true, MwuMethod::Auto).unwrap();
        assert_eq!(r.method, MwuMethod::Asymptotic);
        assert!(mannwhitneyu(&a, &b, Alternative::TwoSided, true, MwuMethod::Exact).is_err());
    }

    // (U, two-sided p, 'less' p) and (U, 'greater' p) from scipy 1.17.
    const SCIPY_EXACT: (f64, f64, f64) = (3.0, 0.030303030303030304, 0.015151515151515152);
    const SCIPY_TIES: (f64, f64) = (29.5, 0.906742485836709);
}
