//! The Beta distribution, accurate for the large parameters of A/B tests.
//!
//! statrs' regularized incomplete beta stops its continued fraction after 140 terms and forms
//! its prefactor from differences of log-gammas; both lose accuracy once counts reach the tens
//! of thousands, so this module evaluates the same continued fraction (modified Lentz) to
//! convergence with the prefactor built on the cancellation-free [`ln_beta`].

use super::error::{invalid, Result};
use super::quadrature::brent;
use super::special::{lgamma_correction, ln_beta, log1pmx, LN_SQRT_2PI};

const CF_EPS: f64 = 1e-16;
const CF_TINY: f64 = 1e-300;
const CF_MAX_TERMS: usize = 1_000_000;

/// Continued fraction of I_x(a, b) (Numerical Recipes' betacf), for x < (a + 1)/(a + b + 2),
/// with y = 1 − x. The first denominator 1 − (a + b) x / (a + 1) is formed as
/// (1 − b + (a + b) y) / (a + 1): for huge a and x near 1 (Student t with many degrees of
/// freedom) the textbook form cancels away most of its digits.
fn beta_cf(a: f64, b: f64, x: f64, y: f64) -> f64 {
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = if x > 0.5 {
        qab.mul_add(y, 1.0 - b) / qap
    } else {
        1.0 - qab * x / qap
    };
    if d.abs() < CF_TINY {
        d = CF_TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=CF_MAX_TERMS {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < CF_TINY {
                d = CF_TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < CF_TINY {
                c = CF_TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() <= CF_EPS {
            break;
        }
    }
    h
}

/// ln(x^a y^b / B(a, b)) with y = 1 − x supplied by the caller (so that ln x and ln y are both
/// accurate). For a, b >= 10 the Stirling terms are cancelled analytically (as in Boost's
/// `ibeta_power_terms`): with s = a + b and t = x s − a = b − y s,
/// ln(...) = a log1pmx(t/a) + b log1pmx(−t/b) + ½ ln(ab/s) − ln √(2π) − (c(a) + c(b) − c(s)),
/// which keeps full relative precision for parameters in the millions.
fn ln_power_terms(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if a >= 10.0 && b >= 10.0 {
        let s = a + b;
        let t = if x <= 0.5 {
            x.mul_add(s, -a)
        } else {
            (-y).mul_add(s, b)
        };
        let corr = lgamma_correction(a) + lgamma_correction(b) - lgamma_correction(s);
        a * log1pmx(t / a) + b * log1pmx(-t / b) + 0.5 * (a * b / s).ln() - LN_SQRT_2PI - corr
    } else {
        let ln_x = if x <= 0.5 { x.ln() } else { (-y).ln_1p() };
        let ln_y = if y <= 0.5 { y.ln() } else { (-x).ln_1p() };
        a * ln_x + b * ln_y - ln_beta(a, b)
    }
}

/// Regularized incomplete beta (lower, upper) = (I_x(a, b), 1 − I_x(a, b)) with y = 1 − x given
/// accurately, each side computed without subtracting from one where it is the small side.
pub fn beta_reg_pair(a: f64, b: f64, x: f64, y: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if y <= 0.0 {
        return (1.0, 0.0);
    }
    if x < (a + 1.0) / (a + b + 2.0) {
        let low = ((ln_power_terms(a, b, x, y) - a.ln()).exp() * beta_cf(a, b, x, y)).min(1.0);
        (low, 1.0 - low)
    } else {
        let up = ((ln_power_terms(b, a, y, x) - b.ln()).exp() * beta_cf(b, a, y, x)).min(1.0);
        (1.0 - up, up)
    }
}

/// A Beta(a, b) distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaDist {
    pub a: f64,
    pub b: f64,
    ln_norm: f64,
}

impl BetaDist {
    pub fn new(a: f64, b: f64) -> Result<Self> {
        if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
            return Err(invalid(format!(
                "beta parameters must be finite and > 0, got ({a}, {b})"
            )));
        }
        Ok(BetaDist {
            a,
            b,
            ln_norm: ln_beta(a, b),
        })
    }

    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }

    pub fn variance(&self) -> f64 {
        let s = self.a + self.b;
        self.a * self.b / (s * s * (s + 1.0))
    }

    pub fn pdf(&self, x: f64) -> f64 {
        if !(0.0..=1.0).contains(&x) {
            return 0.0;
        }
        if x == 0.0 || x == 1.0 {
            let edge = if x == 0.0 { self.a } else { self.b };
            return if edge < 1.0 {
                f64::INFINITY
            } else if edge == 1.0 {
                (-self.ln_norm).exp()
            } else {
                0.0
            };
        }
        let y = 1.0 - x;
        ln_power_terms(self.a, self.b, x, y).exp() / (x * y)
    }

    pub fn cdf(&self, x: f64) -> f64 {
        beta_reg_pair(self.a, self.b, x, 1.0 - x).0
    }

    pub fn sf(&self, x: f64) -> f64 {
        beta_reg_pair(self.a, self.b, x, 1.0 - x).1
    }

    /// Quantile by Brent's method on the CDF (or the survival function above the median, where
    /// it is the accurate side).
    pub fn ppf(&self, p: f64) -> Result<f64> {
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(format!("probability must be in [0, 1], got {p}")));
        }
        if p == 0.0 || p == 1.0 {
            return Ok(p);
        }
        if p <= 0.5 {
            brent(|x| self.cdf(x) - p, 0.0, 1.0, 1e-17)
        } else {
            let q = 1.0 - p;
            brent(|x| q - self.sf(x), 0.0, 1.0, 1e-17)
        }
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

    #[test]
    fn beta_cdf_closed_forms() {
        // Beta(1, b): F(x) = 1 − (1 − x)^b; Beta(a, 1): F(x) = x^a.
        let d = BetaDist::new(1.0, 7.0).unwrap();
        assert!((d.cdf(0.2) - (1.0 - 0.8f64.powi(7))).abs() < 1e-15);
        let d = BetaDist::new(3.5, 1.0).unwrap();
        assert!((d.cdf(0.6) - 0.6f64.powf(3.5)).abs() < 1e-15);
        // Large symmetric case: the median of Beta(a, a) is 1/2.
        let d = BetaDist::new(2.0e5, 2.0e5).unwrap();
        assert!((d.cdf(0.5) - 0.5).abs() < 1e-13);
        assert!((d.ppf(0.5).unwrap() - 0.5).abs() < 1e-13);
    }

    #[test]
    fn beta_ppf_inverts_cdf() {
        let d = BetaDist::new(51.0, 950.0).unwrap();
        for p in [1e-6, 0.025, 0.5, 0.975, 1.0 - 1e-6] {
            let x = d.ppf(p).unwrap();
            let back = if p < 0.5 { d.cdf(x) } else { 1.0 - d.sf(x) };
            assert!((back - p).abs() < 1e-13 * p.max(1e-3), "{p}: {back}");
        }
    }
}
