//! The Beta distribution, on the TOMS 708 functions of `special`: what the Bayesian comparisons
//! of `crate::experiments::bayes` integrate and invert.

use super::error::{invalid, Result};
use super::special::{beta_inc_xy, beta_pdf, beta_quantile, ln_beta};

/// A Beta(a, b) distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaDist {
    pub a: f64,
    pub b: f64,
}

impl BetaDist {
    pub fn new(a: f64, b: f64) -> Result<Self> {
        if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
            return Err(invalid(format!(
                "beta parameters must be finite and > 0, got ({a}, {b})"
            )));
        }
        Ok(BetaDist { a, b })
    }

    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }

    pub fn variance(&self) -> f64 {
        let s = self.a + self.b;
        self.a * self.b / (s * s * (s + 1.0))
    }

    /// Density; at 0 and 1 its limit (infinite for a parameter below one).
    pub fn pdf(&self, x: f64) -> f64 {
        if !(0.0..=1.0).contains(&x) {
            return 0.0;
        }
        if x == 0.0 || x == 1.0 {
            let edge = if x == 0.0 { self.a } else { self.b };
            return if edge < 1.0 {
                f64::INFINITY
            } else if edge == 1.0 {
                (-ln_beta(self.a, self.b)).exp()
            } else {
                0.0
            };
        }
        beta_pdf(x, self.a, self.b)
    }

    pub fn cdf(&self, x: f64) -> f64 {
        beta_inc_xy(self.a, self.b, x, 1.0 - x).0
    }

    pub fn sf(&self, x: f64) -> f64 {
        beta_inc_xy(self.a, self.b, x, 1.0 - x).1
    }

    /// Quantile (scipy's `beta.ppf`).
    pub fn ppf(&self, p: f64) -> Result<f64> {
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(format!("probability must be in [0, 1], got {p}")));
        }
        beta_quantile(p, self.a, self.b, false)
    }

    /// An interval holding all but a negligible (< 1e-16 or so) mass, used as the integration
    /// range: mean ± 40 sd, clipped to [0, 1].
    pub fn support_hint(&self) -> (f64, f64) {
        let m = self.mean();
        let s = self.variance().sqrt();
        ((m - 40.0 * s).max(0.0), (m + 40.0 * s).min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn closed_forms() {
        // Beta(1, b): F(x) = 1 − (1 − x)^b; Beta(a, 1): F(x) = x^a.
        let d = BetaDist::new(1.0, 7.0).unwrap();
        assert!((d.cdf(0.2) - (1.0 - 0.8f64.powi(7))).abs() < 1e-15);
        let d = BetaDist::new(3.5, 1.0).unwrap();
        assert!((d.cdf(0.6) - 0.6f64.powf(3.5)).abs() < 1e-15);
        // The median of Beta(a, a) is 1/2.
        let d = BetaDist::new(2.0e5, 2.0e5).unwrap();
        assert!((d.cdf(0.5) - 0.5).abs() < 1e-13);
        assert!((d.ppf(0.5).unwrap() - 0.5).abs() < 1e-13);
        // Beta(1, 1) is uniform; Beta(2, 1) has density 2x.
        assert_eq!(BetaDist::new(1.0, 1.0).unwrap().pdf(0.0), 1.0);
        assert!((BetaDist::new(2.0, 1.0).unwrap().pdf(1.0) - 2.0).abs() < 1e-15);
        assert!(BetaDist::new(0.5, 2.0).unwrap().pdf(0.0).is_infinite());
        assert!(BetaDist::new(0.0, 2.0).is_err());
        assert!(BetaDist::new(1.0, 2.0).unwrap().ppf(1.5).is_err());
    }

    // Reference values from scipy 1.17.1, scipy.stats.beta(a, b).{pdf, cdf, sf, ppf}(x).
    #[test]
    fn matches_scipy() {
        let d = BetaDist::new(51.0, 950.0).unwrap();
        // beta(51, 950).pdf(0.06)
        assert!(rel(d.pdf(0.06), 22.883976394196544) < 1e-13);
        // beta(51, 950).cdf(0.04)
        assert!(rel(d.cdf(0.04), 0.04906404536987243) < 1e-13);
        // beta(51, 950).sf(0.07)
        assert!(rel(d.sf(0.07), 0.00592963332051683) < 1e-12);
        // beta(51, 950).ppf(0.025), beta(51, 950).ppf(0.975)
        assert!(rel(d.ppf(0.025).unwrap(), 0.03820523677468616) < 1e-13);
        assert!(rel(d.ppf(0.975).unwrap(), 0.06539048791549364) < 1e-13);
        let d = BetaDist::new(12_001.0, 988_000.0).unwrap();
        // beta(12001, 988000).cdf(0.0118), beta(12001, 988000).pdf(0.0121)
        assert!(rel(d.cdf(0.0118), 0.03193521462665601) < 1e-12);
        assert!(rel(d.pdf(0.0121), 2408.9453854772682) < 1e-12);
    }
}
