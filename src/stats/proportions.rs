//! Two-sample test of proportions (R's `prop.test` for two groups) and
//! confidence intervals for one proportion (statsmodels' `proportion_confint`).

use std::str::FromStr;

use super::alternative::Alternative;
use super::checks::check_unit_open;
use super::error::{invalid, Result, StatsError};
use super::special::{beta_quantile, norm_isf};

/// Checks that `count` successes out of `nobs` trials make sense.
pub(crate) fn check_count(count: f64, nobs: f64, what: &str) -> Result<()> {
    if !(nobs.is_finite() && nobs > 0.0) {
        return Err(invalid(format!(
            "{what}: nobs must be positive and finite, got {nobs}"
        )));
    }
    if !(count.is_finite() && count >= 0.0 && count <= nobs) {
        return Err(invalid(format!(
            "{what}: count must lie in [0, nobs] = [0, {nobs}], got {count}"
        )));
    }
    Ok(())
}

/// Result of [`test_proportions_2indep`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProportionsTest {
    /// Pooled z statistic (continuity-corrected as R's `prop.test` when asked).
    pub statistic: f64,
    /// p-value of `statistic` under the alternative.
    pub pvalue: f64,
    /// The same test as a 2×2 χ² statistic, z² (R's `X-squared`).
    pub chi2_statistic: f64,
    /// Two-sided p-value of `chi2_statistic` with one degree of freedom.
    pub chi2_pvalue: f64,
    pub proportion1: f64,
    pub proportion2: f64,
    /// proportion1 − proportion2.
    pub difference: f64,
    pub count1: f64,
    pub nobs1: f64,
    pub count2: f64,
    pub nobs2: f64,
    pub alternative: Alternative,
    pub correction: bool,
}

impl ProportionsTest {
    /// Wald interval for p1 − p2 at `confidence_level`, as R's `prop.test`.
    pub fn confidence_interval(&self, confidence_level: f64) -> Result<(f64, f64)> {
        proportions_diff_confint(
            self.count1,
            self.nobs1,
            self.count2,
            self.nobs2,
            confidence_level,
            self.alternative,
            self.correction,
        )
    }
}

/// Two-sample z test of p1 = p2 with the pooled variance under the null.
///
/// Without `correction` this is statsmodels' `proportions_ztest` and scipy's
/// uncorrected `chi2_contingency` on the 2×2 table. With `correction` the
/// statistic is R's `prop.test(correct = TRUE)`: Yates' ½, shrunk to
/// min(½, |x₁ − n₁p̂|) so it never overshoots, z = sign(p1 − p2)·√χ².
/// When both groups have no successes (or only successes) the statistic is
/// 0/0 and returned as NaN, as R does.
pub fn test_proportions_2indep(
    count1: f64,
    nobs1: f64,
    count2: f64,
    nobs2: f64,
    alternative: Alternative,
    correction: bool,
) -> Result<ProportionsTest> {
    check_count(count1, nobs1, "group 1")?;
    check_count(count2, nobs2, "group 2")?;
    let p1 = count1 / nobs1;
    let p2 = count2 / nobs2;
    let difference = p1 - p2;
    let total = nobs1 + nobs2;
    let successes = count1 + count2;
    let pooled = successes / total;
    let inv_sum = 1.0 / nobs1 + 1.0 / nobs2;
    // p̂(1 − p̂) from the failure count itself: 1 − p̂ cancels when p̂ ≈ 1.
    let pooled_var = pooled * ((total - successes) / total);
    let cross = cross_difference(count1, nobs1, count2, nobs2);
    let statistic = if correction {
        // |x₁ − E₁| = |c1·n2 − c2·n1|/N is the same in all four cells of the
        // 2×2 table; Yates' ½ is shrunk to it so it never overshoots.
        let shrunk_deviation = match cross {
            Some(num) => {
                let (num, total) = (num.abs(), nobs1 as i128 + nobs2 as i128);
                // (|num|/N − ½) = (2|num| − N)/(2N), exact up to the last rounding:
                // near the cut-off the float difference would lose most digits.
                if 2 * num <= total {
                    0.0
                } else {
                    (2 * num - total) as f64 / (2.0 * total as f64)
                }
            }
            None => {
                let deviation = (count1 - nobs1 * pooled).abs();
                deviation - deviation.min(0.5)
            }
        };
        let chi2 = shrunk_deviation.powi(2) * inv_sum / pooled_var;
        let direction = cross.map_or(sign(difference), |num| sign(num as f64));
        direction * chi2.sqrt()
    } else {
        let exact_difference = cross.map_or(difference, |num| num as f64 / (nobs1 * nobs2));
        exact_difference / (pooled_var * inv_sum).sqrt()
    };
    let chi2_statistic = statistic * statistic;
    Ok(ProportionsTest {
        statistic,
        pvalue: alternative.normal_pvalue(statistic),
        chi2_statistic,
        chi2_pvalue: Alternative::TwoSided.normal_pvalue(statistic),
        proportion1: p1,
        proportion2: p2,
        difference,
        count1,
        nobs1,
        count2,
        nobs2,
        alternative,
        correction,
    })
}

/// c1·n2 − c2·n1 in exact integer arithmetic when all four are integers below
/// 2⁵³ (the usual case): p1 − p2 and |x₁ − E₁| are this over n1·n2 and N.
fn cross_difference(count1: f64, nobs1: f64, count2: f64, nobs2: f64) -> Option<i128> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let integral = [count1, nobs1, count2, nobs2]
        .iter()
        .all(|v| v.fract() == 0.0 && *v <= EXACT);
    integral.then(|| count1 as i128 * nobs2 as i128 - count2 as i128 * nobs1 as i128)
}

/// R's `sign`: 0 for 0, so a zero difference gives a zero statistic.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// Wald interval for p1 − p2 as R's `prop.test`: unpooled standard error,
/// widened by min(½, |p1 − p2|/(1/n1 + 1/n2))·(1/n1 + 1/n2) when `correction`,
/// clipped to [−1, 1]; one-sided alternatives give one-sided intervals whose
/// open end is −1 or 1.
pub fn proportions_diff_confint(
    count1: f64,
    nobs1: f64,
    count2: f64,
    nobs2: f64,
    confidence_level: f64,
    alternative: Alternative,
    correction: bool,
) -> Result<(f64, f64)> {
    check_count(count1, nobs1, "group 1")?;
    check_count(count2, nobs2, "group 2")?;
    check_unit_open(confidence_level, "confidence_level")?;
    let p1 = count1 / nobs1;
    let p2 = count2 / nobs2;
    let difference = p1 - p2;
    let inv_sum = 1.0 / nobs1 + 1.0 / nobs2;
    let yates = if correction {
        (difference.abs() / inv_sum).min(0.5)
    } else {
        0.0
    };
    let tail = match alternative {
        Alternative::TwoSided => (1.0 - confidence_level) / 2.0,
        _ => 1.0 - confidence_level,
    };
    let se = (p1 * (1.0 - p1) / nobs1 + p2 * (1.0 - p2) / nobs2).sqrt();
    let width = yates * inv_sum + norm_isf(tail) * se;
    let low = (difference - width).max(-1.0);
    let high = (difference + width).min(1.0);
    Ok(match alternative {
        Alternative::TwoSided => (low, high),
        Alternative::Less => (-1.0, high),
        Alternative::Greater => (low, 1.0),
    })
}

/// Interval method for one proportion, named as in statsmodels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfintMethod {
    /// Wilson score interval.
    #[default]
    Wilson,
    /// Wald interval p ± z·√(p(1−p)/n).
    Normal,
    /// Agresti–Coull: Wald interval around (x + z²/2)/(n + z²).
    AgrestiCoull,
    /// Clopper–Pearson exact interval from beta quantiles.
    Beta,
    /// Jeffreys interval: equal-tailed Beta(x + ½, n − x + ½) posterior interval.
    Jeffreys,
}

impl FromStr for ConfintMethod {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "wilson" => Ok(ConfintMethod::Wilson),
            "normal" => Ok(ConfintMethod::Normal),
            "agresti_coull" => Ok(ConfintMethod::AgrestiCoull),
            "beta" => Ok(ConfintMethod::Beta),
            "jeffreys" => Ok(ConfintMethod::Jeffreys),
            other => Err(invalid(format!(
                "method must be one of 'wilson', 'normal', 'agresti_coull', 'beta', 'jeffreys', got {other:?}"
            ))),
        }
    }
}

/// Two-sided confidence interval for a binomial proportion, equal to
/// statsmodels' `proportion_confint(count, nobs, alpha=1-confidence_level, method)`.
///
/// statsmodels' edge conventions are kept: Wald, Agresti–Coull and Wilson are
/// clipped to [0, 1]; Clopper–Pearson is exactly 0 below when count = 0 and 1
/// above when count = nobs; Jeffreys is not adjusted at the boundaries.
pub fn proportion_confint(
    count: f64,
    nobs: f64,
    confidence_level: f64,
    method: ConfintMethod,
) -> Result<(f64, f64)> {
    check_count(count, nobs, "proportion")?;
    check_unit_open(confidence_level, "confidence_level")?;
    let tail = (1.0 - confidence_level) / 2.0;
    let q = count / nobs;
    let (low, high) = match method {
        ConfintMethod::Normal => {
            let dist = norm_isf(tail) * (q * (1.0 - q) / nobs).sqrt();
            (q - dist, q + dist)
        }
        ConfintMethod::AgrestiCoull => {
            let crit = norm_isf(tail);
            let nobs_c = nobs + crit * crit;
            let q_c = (count + crit * crit / 2.0) / nobs_c;
            let dist = crit * (q_c * (1.0 - q_c) / nobs_c).sqrt();
            (q_c - dist, q_c + dist)
        }
        ConfintMethod::Wilson => {
            let crit = norm_isf(tail);
            let crit2 = crit * crit;
            let denom = 1.0 + crit2 / nobs;
            let center = (q + crit2 / (2.0 * nobs)) / denom;
            let dist = crit * (q * (1.0 - q) / nobs + crit2 / (4.0 * nobs * nobs)).sqrt() / denom;
            // At count = 0 (nobs) the lower (upper) end is exactly 0 (1); the
            // formula would leave rounding dust of ~1e-18 on either side.
            let low = if count == 0.0 { 0.0 } else { center - dist };
            let high = if count == nobs { 1.0 } else { center + dist };
            (low, high)
        }
        ConfintMethod::Beta => {
            let low = if q == 0.0 {
                0.0
            } else {
                beta_quantile(tail, count, nobs - count + 1.0, false)?
            };
            let high = if q == 1.0 {
                1.0
            } else {
                beta_quantile(tail, count + 1.0, nobs - count, true)?
            };
            (low, high)
        }
        ConfintMethod::Jeffreys => (
            beta_quantile(tail, count + 0.5, nobs - count + 0.5, false)?,
            beta_quantile(tail, count + 0.5, nobs - count + 0.5, true)?,
        ),
    };
    Ok(match method {
        ConfintMethod::Beta | ConfintMethod::Jeffreys => (low, high),
        _ => (low.clamp(0.0, 1.0), high.clamp(0.0, 1.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    // statsmodels.stats.proportion.proportions_ztest([30, 45], [200, 210]).
    #[test]
    fn uncorrected_z_matches_statsmodels() {
        let r = test_proportions_2indep(30.0, 200.0, 45.0, 210.0, Alternative::TwoSided, false)
            .unwrap();
        assert!(close(r.statistic, -1.6829763461389204, 1e-13));
        assert!(close(r.pvalue, 0.09237967055994593, 1e-12));
    }

    // scipy.stats.chi2_contingency([[30, 170], [45, 165]], correction=True); the
    // interval is R's prop.test formula evaluated independently in numpy.
    #[test]
    fn corrected_matches_scipy_and_r() {
        let r =
            test_proportions_2indep(30.0, 200.0, 45.0, 210.0, Alternative::TwoSided, true).unwrap();
        assert!(
            close(r.chi2_statistic, 2.4186308931532827, 1e-12),
            "{}",
            r.chi2_statistic
        );
        assert!(
            close(r.chi2_pvalue, 0.11989968029880294, 1e-12),
            "{}",
            r.chi2_pvalue
        );
        let (lo, hi) = r.confidence_interval(0.95).unwrap();
        assert!(
            close(lo, -0.1435226805982036, 1e-13) && close(hi, 0.014951252026775053, 1e-12),
            "{lo} {hi}"
        );
    }

    // statsmodels proportion_confint(7, 50, alpha=0.05, method=...).
    #[test]
    fn confint_methods_match_statsmodels() {
        let cases = [
            (
                ConfintMethod::Wilson,
                0.06950833427016288,
                0.26186193710585537,
            ),
            (
                ConfintMethod::Normal,
                0.04382186922053717,
                0.23617813077946287,
            ),
            (
                ConfintMethod::AgrestiCoull,
                0.06637434349421775,
                0.2649959278818006,
            ),
            (ConfintMethod::Beta, 0.05819170034037209, 0.2673960024970084),
            (
                ConfintMethod::Jeffreys,
                0.0648717011505185,
                0.25532502815639163,
            ),
        ];
        for (method, lo, hi) in cases {
            let (l, h) = proportion_confint(7.0, 50.0, 0.95, method).unwrap();
            assert!(
                close(l, lo, 1e-10) && close(h, hi, 1e-10),
                "{method:?}: {l} {h}"
            );
        }
    }

    #[test]
    fn rejects_impossible_counts() {
        assert!(test_proportions_2indep(5.0, 4.0, 1.0, 3.0, Alternative::TwoSided, false).is_err());
        assert!(proportion_confint(1.0, 0.0, 0.95, ConfintMethod::Wilson).is_err());
        assert!(proportion_confint(1.0, 3.0, 1.0, ConfintMethod::Wilson).is_err());
    }
}
