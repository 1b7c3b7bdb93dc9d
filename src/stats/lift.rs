//! Relative effects (first / second − 1) and ratio metrics (Σ numerator /
//! Σ denominator per user, e.g. average order value) by the delta method, with
//! Fieller's interval as an option.

use std::str::FromStr;

use super::alternative::Alternative;
use super::checks::{check_nobs, check_unit_open};
use super::error::{invalid, Result, StatsError};
use super::moments::{compensated_sum, mean_var};
use super::proportions::check_count;
use super::special::norm_isf;

/// How the interval of a ratio of two estimates is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiftMethod {
    /// First-order Taylor expansion: symmetric Wald interval for the ratio.
    #[default]
    Delta,
    /// Fieller's theorem: the exact set of ratios θ not rejected by the z
    /// test of first − θ·second = 0; asymmetric, and unbounded when the
    /// denominator is not itself significantly different from zero.
    Fieller,
}

impl LiftMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LiftMethod::Delta => "delta",
            LiftMethod::Fieller => "fieller",
        }
    }
}

impl FromStr for LiftMethod {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "delta" => Ok(LiftMethod::Delta),
            "fieller" => Ok(LiftMethod::Fieller),
            other => Err(invalid(format!(
                "method must be 'delta' or 'fieller', got {other:?}"
            ))),
        }
    }
}

/// Relative effect of a first estimate over a second: first/second − 1.
#[derive(Debug, Clone, PartialEq)]
pub struct RelativeLift {
    /// first / second − 1.
    pub estimate: f64,
    /// z statistic of the null "no relative effect": (ratio − 1)/se for the
    /// delta method, (first − second)/√(v₁ + v₂ − 2c) for Fieller (the test
    /// whose inversion gives Fieller's interval).
    pub statistic: f64,
    pub pvalue: f64,
    /// Delta-method standard error of the ratio.
    pub standard_error: f64,
    pub first: f64,
    pub second: f64,
    pub variance_first: f64,
    pub variance_second: f64,
    pub covariance: f64,
    pub method: LiftMethod,
    pub alternative: Alternative,
}

impl RelativeLift {
    /// Interval for first/second − 1 at `confidence_level`.
    ///
    /// Fieller's interval is (−inf, inf) when the denominator's own interval
    /// contains zero (the exact confidence set is then unbounded). With a
    /// zero denominator both ends are NaN.
    pub fn confidence_interval(&self, confidence_level: f64) -> Result<(f64, f64)> {
        check_unit_open(confidence_level, "confidence_level")?;
        if self.second == 0.0 || !self.estimate.is_finite() {
            return Ok((f64::NAN, f64::NAN));
        }
        match self.method {
            LiftMethod::Delta => self.alternative.normal_interval(
                self.estimate,
                self.standard_error,
                confidence_level,
            ),
            LiftMethod::Fieller => Ok(self.fieller_interval(confidence_level)),
        }
    }

    fn fieller_interval(&self, confidence_level: f64) -> (f64, f64) {
        let z = match self.alternative {
            Alternative::TwoSided => norm_isf((1.0 - confidence_level) / 2.0),
            _ => norm_isf(1.0 - confidence_level),
        };
        let (a, b) = (self.first, self.second);
        let (va, vb, c) = (self.variance_first, self.variance_second, self.covariance);
        let ratio = a / b;
        let g = z * z * vb / (b * b);
        if g >= 1.0 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let (center, disc) = if vb > 0.0 {
            (
                ratio - g * c / vb,
                va - 2.0 * ratio * c + ratio * ratio * vb - g * (va - c * c / vb),
            )
        } else {
            (ratio, va - 2.0 * ratio * c)
        };
        let half = z / b.abs() * disc.max(0.0).sqrt();
        let low = (center - half) / (1.0 - g) - 1.0;
        let high = (center + half) / (1.0 - g) - 1.0;
        match self.alternative {
            Alternative::TwoSided => (low, high),
            Alternative::Less => (f64::NEG_INFINITY, high),
            Alternative::Greater => (low, f64::INFINITY),
        }
    }
}

/// Relative effect first/second − 1 of two estimates with sampling variances
/// `variance_first`, `variance_second` and covariance `covariance` (0 for
/// independent groups).
pub fn relative_lift(
    first: f64,
    variance_first: f64,
    second: f64,
    variance_second: f64,
    covariance: f64,
    method: LiftMethod,
    alternative: Alternative,
) -> Result<RelativeLift> {
    for (name, v) in [
        ("first", first),
        ("second", second),
        ("covariance", covariance),
    ] {
        if !v.is_finite() {
            return Err(invalid(format!("{name} must be finite, got {v}")));
        }
    }
    for (name, v) in [
        ("variance_first", variance_first),
        ("variance_second", variance_second),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(format!(
                "{name} must be finite and non-negative, got {v}"
            )));
        }
    }
    let ratio = first / second;
    let b2 = second * second;
    let variance = variance_first / b2 - 2.0 * first * covariance / (b2 * second)
        + first * first * variance_second / (b2 * b2);
    let standard_error = variance.max(0.0).sqrt();
    let statistic = match method {
        LiftMethod::Delta => (ratio - 1.0) / standard_error,
        LiftMethod::Fieller => {
            (first - second)
                / (variance_first + variance_second - 2.0 * covariance)
                    .max(0.0)
                    .sqrt()
        }
    };
    let (estimate, statistic) = if second == 0.0 {
        (f64::NAN, f64::NAN)
    } else {
        (ratio - 1.0, statistic)
    };
    Ok(RelativeLift {
        estimate,
        statistic,
        pvalue: alternative.normal_pvalue(statistic),
        standard_error: if second == 0.0 {
            f64::NAN
        } else {
            standard_error
        },
        first,
        second,
        variance_first,
        variance_second,
        covariance,
        method,
        alternative,
    })
}

/// Relative lift p1/p2 − 1 of two independent proportions, with the
/// unpooled binomial variances p(1 − p)/n.
pub fn relative_lift_proportions(
    count1: f64,
    nobs1: f64,
    count2: f64,
    nobs2: f64,
    method: LiftMethod,
    alternative: Alternative,
) -> Result<RelativeLift> {
    check_count(count1, nobs1, "group 1")?;
    check_count(count2, nobs2, "group 2")?;
    let (p1, p2) = (count1 / nobs1, count2 / nobs2);
    relative_lift(
        p1,
        p1 * (1.0 - p1) / nobs1,
        p2,
        p2 * (1.0 - p2) / nobs2,
        0.0,
        method,
        alternative,
    )
}

/// Relative lift mean1/mean2 − 1 of two independent means from summary
/// statistics (ddof = 1 standard deviations).
#[allow(clippy::too_many_arguments)]
pub fn relative_lift_means(
    mean1: f64,
    std1: f64,
    nobs1: f64,
    mean2: f64,
    std2: f64,
    nobs2: f64,
    method: LiftMethod,
    alternative: Alternative,
) -> Result<RelativeLift> {
    check_nobs(&[("nobs1", nobs1), ("nobs2", nobs2)])?;
    relative_lift(
        mean1,
        std1 * std1 / nobs1,
        mean2,
        std2 * std2 / nobs2,
        0.0,
        method,
        alternative,
    )
}

/// Per-variant sufficient statistics of a ratio metric Σx/Σy over users:
/// number of users, means of numerator x and denominator y, their ddof = 1
/// variances and covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioMetricStats {
    pub nobs: f64,
    pub mean_numerator: f64,
    pub mean_denominator: f64,
    pub var_numerator: f64,
    pub var_denominator: f64,
    pub covariance: f64,
}

impl RatioMetricStats {
    /// Sufficient statistics of per-user numerators and denominators.
    pub fn from_samples(numerator: &[f64], denominator: &[f64]) -> Result<Self> {
        if numerator.len() != denominator.len() {
            return Err(invalid(format!(
                "numerator and denominator must have the same length, got {} and {}",
                numerator.len(),
                denominator.len()
            )));
        }
        if numerator.len() < 2 {
            return Err(invalid(
                "a ratio metric needs at least two users per variant",
            ));
        }
        if numerator.iter().chain(denominator).any(|v| !v.is_finite()) {
            return Err(invalid("ratio metric values must be finite"));
        }
        let n = numerator.len() as f64;
        let (mx, vx) = mean_var(numerator);
        let (my, vy) = mean_var(denominator);
        let cov = compensated_sum(
            numerator
                .iter()
                .zip(denominator)
                .map(|(x, y)| (x - mx) * (y - my)),
        ) / (n - 1.0);
        Ok(RatioMetricStats {
            nobs: n,
            mean_numerator: mx,
            mean_denominator: my,
            var_numerator: vx,
            var_denominator: vy,
            covariance: cov,
        })
    }

    fn validate(&self) -> Result<()> {
        if !(self.nobs.is_finite() && self.nobs >= 1.0) {
            return Err(invalid(format!(
                "nobs must be at least 1, got {}",
                self.nobs
            )));
        }
        if !(self.var_numerator >= 0.0 && self.var_denominator >= 0.0) {
            return Err(invalid("variances must be non-negative"));
        }
        if self.mean_denominator == 0.0 || !self.mean_denominator.is_finite() {
            return Err(invalid("the mean denominator must be finite and non-zero"));
        }
        if !(self.mean_numerator.is_finite() && self.covariance.is_finite()) {
            return Err(invalid("means and covariance must be finite"));
        }
        Ok(())
    }

    /// The ratio Σx/Σy = mean(x)/mean(y).
    pub fn ratio(&self) -> f64 {
        self.mean_numerator / self.mean_denominator
    }

    /// Delta-method variance of the ratio:
    /// (1/n)·(Vx/μy² − 2μx·Cxy/μy³ + μx²·Vy/μy⁴).
    pub fn ratio_variance(&self) -> f64 {
        let (mx, my) = (self.mean_numerator, self.mean_denominator);
        let my2 = my * my;
        let v = self.var_numerator / my2 - 2.0 * mx * self.covariance / (my2 * my)
            + mx * mx * self.var_denominator / (my2 * my2);
        v.max(0.0) / self.nobs
    }
}

/// Result of [`ratio_metric_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct RatioMetricTest {
    /// z statistic of ratio1 − ratio2.
    pub statistic: f64,
    pub pvalue: f64,
    pub ratio1: f64,
    pub ratio2: f64,
    /// ratio1 − ratio2.
    pub difference: f64,
    pub standard_error: f64,
    pub variance1: f64,
    pub variance2: f64,
    pub alternative: Alternative,
}

impl RatioMetricTest {
    /// Wald interval for ratio1 − ratio2.
    pub fn confidence_interval(&self, confidence_level: f64) -> Result<(f64, f64)> {
        self.alternative
            .normal_interval(self.difference, self.standard_error, confidence_level)
    }

    /// Relative effect ratio1/ratio2 − 1 of the two variants.
    pub fn relative_lift(&self, method: LiftMethod) -> Result<RelativeLift> {
        relative_lift(
            self.ratio1,
            self.variance1,
            self.ratio2,
            self.variance2,
            0.0,
            method,
            self.alternative,
        )
    }
}

/// Delta-method z test of ratio1 = ratio2 for two independent variants.
pub fn ratio_metric_test(
    first: &RatioMetricStats,
    second: &RatioMetricStats,
    alternative: Alternative,
) -> Result<RatioMetricTest> {
    first.validate()?;
    second.validate()?;
    let (variance1, variance2) = (first.ratio_variance(), second.ratio_variance());
    let difference = first.ratio() - second.ratio();
    let standard_error = (variance1 + variance2).sqrt();
    let statistic = difference / standard_error;
    Ok(RatioMetricTest {
        statistic,
        pvalue: alternative.normal_pvalue(statistic),
        ratio1: first.ratio(),
        ratio2: second.ratio(),
        difference,
        standard_error,
        variance1,
        variance2,
        alternative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    #[test]
    fn delta_interval_by_hand() {
        // p1 = 0.12, p2 = 0.10, n = 1000 each:
        // se² = v1/p2² + p1²·v2/p2⁴ = 1.056e-4/0.01 + 0.0144·9e-5/1e-4.
        let r = relative_lift_proportions(
            120.0,
            1000.0,
            100.0,
            1000.0,
            LiftMethod::Delta,
            Alternative::TwoSided,
        )
        .unwrap();
        assert!(close(r.estimate, 0.2, 1e-14));
        let se = (0.01056f64 + 0.01296).sqrt();
        assert!(close(r.standard_error, se, 1e-13));
        let (lo, hi) = r.confidence_interval(0.95).unwrap();
        let z = 1.959963984540054;
        assert!(close(lo, 0.2 - z * se, 1e-13) && close(hi, 0.2 + z * se, 1e-13));
    }

    #[test]
    fn fieller_solves_the_quadratic() {
        let r = relative_lift_proportions(
            120.0,
            1000.0,
            100.0,
            1000.0,
            LiftMethod::Fieller,
            Alternative::TwoSided,
        )
        .unwrap();
        let (lo, hi) = r.confidence_interval(0.95).unwrap();
        // Each end θ − 1 satisfies (a − θb)² = z²(va + θ²vb).
        let z = 1.959963984540054f64;
        for end in [lo, hi] {
            let theta = end + 1.0;
            let lhs = (r.first - theta * r.second).powi(2);
            let rhs = z * z * (r.variance_first + theta * theta * r.variance_second);
            assert!(close(lhs, rhs, 1e-10), "{lhs} {rhs}");
        }
        assert!(lo < r.estimate && r.estimate < hi);
    }

    #[test]
    fn ratio_metric_variance_by_hand() {
        let s = RatioMetricStats::from_samples(&[10.0, 0.0, 30.0, 20.0], &[1.0, 0.0, 2.0, 1.0])
            .unwrap();
        // means 15 and 1, deviations (−5, −15, 15, 5) and (0, −1, 1, 0).
        assert!(close(s.ratio(), 15.0, 1e-15));
        let (vx, vy, c) = (500.0 / 3.0, 2.0 / 3.0, 10.0);
        assert!(close(s.var_numerator, vx, 1e-14) && close(s.var_denominator, vy, 1e-14));
        assert!(close(s.covariance, c, 1e-14));
        let v = (vx - 2.0 * 15.0 * c + 225.0 * vy) / 4.0;
        assert!(close(s.ratio_variance(), v, 1e-13));
    }
}
