//! Gauss hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1 by its power series.
//!
//! Only the BG/NBD expectation needs it, and there it is called after Euler's transformation
//! (`clv/bgnbd.rs`), which leaves small parameters whose series has bounded terms and converges like
//! n^(c-a-b-1) z^n: a plain series is then both exact enough and fast. The series is summed until the
//! terms are below 1e-17 of the sum and shrinking, with a hard cap on the number of terms.
use super::error::{Result, StatsError};

const MAX_TERMS: usize = 2_000_000;

pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    if !(0.0..1.0).contains(&z) || !a.is_finite() || !b.is_finite() || !c.is_finite() {
        return Err(StatsError::InvalidArgument(format!(
            "hyp2f1({a}, {b}; {c}; {z}): needs finite parameters and 0 <= z < 1"
        )));
    }
    if c <= 0.0 && c == c.floor() {
        return Err(StatsError::InvalidArgument(format!(
            "hyp2f1({a}, {b}; {c}; {z}): c is a pole (non-positive integer)"
        )));
    }
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    for n in 0..MAX_TERMS {
        let nf = n as f64;
        let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
        term *= ratio;
        sum += term;
        if term == 0.0 || (ratio.abs() < 1.0 && term.abs() <= 1e-17 * sum.abs()) {
            return Ok(sum);
        }
        if !sum.is_finite() {
            break;
        }
    }
    Err(StatsError::NoConvergence(format!(
        "hyp2f1({a}, {b}; {c}; {z}): series did not converge"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1e-300), "{a} vs {b}");
    }

    #[test]
    fn closed_forms() {
        for z in [0.0, 1e-6, 0.1, 0.5, 0.9, 0.99] {
            // 2F1(1, 1; 2; z) = -ln(1 - z) / z
            if z > 0.0 {
                close(hyp2f1(1.0, 1.0, 2.0, z).unwrap(), -(-z).ln_1p() / z, 1e-13);
            }
            // 2F1(a, b; b; z) = (1 - z)^-a
            close(
                hyp2f1(0.37, 2.5, 2.5, z).unwrap(),
                (1.0 - z).powf(-0.37),
                1e-13,
            );
            // 2F1(1/2, 1/2; 3/2; s^2) = arcsin(s) / s
            let s = z.sqrt();
            if s > 0.0 {
                close(hyp2f1(0.5, 0.5, 1.5, z).unwrap(), s.asin() / s, 1e-13);
            }
            // 2F1(-3, b; c; z) is a cubic: 1 - 3bz/c + 3b(b+1)z^2/(c(c+1)) - b(b+1)(b+2)z^3/(c(c+1)(c+2))
            let (b, c) = (1.3, 2.2);
            let poly = 1.0 - 3.0 * b * z / c + 3.0 * b * (b + 1.0) * z * z / (c * (c + 1.0))
                - b * (b + 1.0) * (b + 2.0) * z.powi(3) / (c * (c + 1.0) * (c + 2.0));
            close(hyp2f1(-3.0, b, c, z).unwrap(), poly, 1e-13);
        }
    }

    #[test]
    fn rejects_outside_domain() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).is_err());
    }
}
