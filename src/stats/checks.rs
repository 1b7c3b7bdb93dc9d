//! Argument checks shared by every numeric module of the engine (`stats`, `compare`, `experiments`):
//! one wording for each rule. Modules with their own error type convert with `?` (`From<StatsError>`).

use super::error::{invalid, Result};

/// Every value must be finite; the error names the input and the index of the first that is not.
pub(crate) fn check_finite(values: &[f64], what: &str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(invalid(format!(
            "non-finite value in {what} at index {index}"
        ))),
        None => Ok(()),
    }
}

/// Two inputs that must be aligned have the same length.
pub(crate) fn check_same_len(what: &str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(invalid(format!(
            "length mismatch: {what} ({left} vs {right})"
        )))
    }
}

/// Sample sizes given as numbers (summary statistics) are positive and finite.
pub(crate) fn check_nobs(named: &[(&str, f64)]) -> Result<()> {
    for &(name, n) in named {
        if !(n.is_finite() && n > 0.0) {
            return Err(invalid(format!(
                "{name} must be positive and finite, got {n}"
            )));
        }
    }
    Ok(())
}

/// Levels (alpha, power, confidence and credible levels) lie strictly inside (0, 1).
pub(crate) fn check_unit_open(value: f64, name: &str) -> Result<()> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} must lie strictly between 0 and 1, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_accepts_and_rejects_at_its_boundary() {
        assert!(check_finite(&[0.0, -1e308, 1e308], "x").is_ok());
        let e = check_finite(&[1.0, f64::NAN], "x").unwrap_err().to_string();
        assert_eq!(e, "non-finite value in x at index 1");
        assert!(check_finite(&[f64::INFINITY], "x").is_err());
        assert!(check_same_len("a and b", 3, 3).is_ok());
        assert_eq!(
            check_same_len("a and b", 3, 4).unwrap_err().to_string(),
            "length mismatch: a and b (3 vs 4)"
        );
        assert!(check_nobs(&[("nobs1", 1e-9), ("nobs2", 3.0)]).is_ok());
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            let e = check_nobs(&[("nobs1", 2.0), ("nobs2", bad)]).unwrap_err();
            assert!(e
                .to_string()
                .starts_with("nobs2 must be positive and finite"));
        }
        assert!(check_unit_open(f64::MIN_POSITIVE, "alpha").is_ok());
        assert!(check_unit_open(1.0 - f64::EPSILON, "alpha").is_ok());
        for bad in [0.0, 1.0, -0.5, 95.0, f64::NAN] {
            assert!(check_unit_open(bad, "alpha").is_err(), "{bad}");
        }
    }
}
