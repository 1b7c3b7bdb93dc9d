//! Winsorization: values below the lower cap are raised to it, values above the upper cap
//! lowered to it. Caps are quantiles with numpy's default definition (`method="linear"`,
//! Hyndman & Fan type 7): with the n values sorted, q sits at h = (n − 1) q and interpolates
//! x[⌊h⌋] and x[⌊h⌋ + 1], using numpy's two-sided lerp so results agree bit for bit.
//!
//! With `nonzero_only`, the caps are quantiles of the non-zero values (most users buy nothing,
//! so the 99th percentile of all users is often 0), and exact zeros are left at zero: a lower
//! cap taken from buyers would otherwise turn every non-buyer into a buyer.

use serde::{Deserialize, Serialize};

use super::error::{invalid, ExperimentsError, Result};
use crate::stats::check_finite;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Winsorized {
    pub values: Vec<f64>,
    /// NaN when `nonzero_only` and every value is zero (nothing is capped then).
    pub lower_cap: f64,
    pub upper_cap: f64,
    pub n_capped_low: usize,
    pub n_capped_high: usize,
}

/// numpy's `_lerp`: exact at both ends and monotone in t.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Quantile of `scratch` (reordered in place) with numpy's linear definition, in O(n).
pub fn quantile_linear(scratch: &mut [f64], q: f64) -> Result<f64> {
    if scratch.is_empty() {
        return Err(ExperimentsError::InsufficientData(
            "quantile of no values".into(),
        ));
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(invalid(format!("quantile must be in [0, 1], got {q}")));
    }
    let n = scratch.len();
    let h = (n - 1) as f64 * q;
    let lo = (h.floor() as usize).min(n - 1);
    let gamma = h - lo as f64;
    let (_, &mut below, rest) = scratch.select_nth_unstable_by(lo, f64::total_cmp);
    if gamma == 0.0 || rest.is_empty() {
        return Ok(below);
    }
    let above = rest.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(lerp(below, above, gamma))
}

/// The (lower, upper) caps for quantile levels `lower <= upper` in [0, 1].
pub fn winsor_caps(
    values: &[f64],
    lower: f64,
    upper: f64,
    nonzero_only: bool,
) -> Result<(f64, f64)> {
    check_finite(values, "values")?;
    if !(0.0..=1.0).contains(&lower) || !(0.0..=1.0).contains(&upper) || lower > upper {
        return Err(invalid(format!(
            "need 0 <= lower <= upper <= 1, got lower={lower}, upper={upper}"
        )));
    }
    if values.is_empty() {
        return Err(ExperimentsError::InsufficientData(
            "winsorize needs values".into(),
        ));
    }
    let mut scratch: Vec<f64> = if nonzero_only {
        values.iter().copied().filter(|&v| v != 0.0).collect()
    } else {
        values.to_vec()
    };
    if scratch.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    let lo = quantile_linear(&mut scratch, lower)?;
    let hi = quantile_linear(&mut scratch, upper)?;
    Ok((lo, hi))
}

/// Winsorize `values` at the `lower` and `upper` quantile levels (e.g. 0.0 and 0.99).
pub fn winsorize(values: &[f64], lower: f64, upper: f64, nonzero_only: bool) -> Result<Winsorized> {
    let (lower_cap, upper_cap) = winsor_caps(values, lower, upper, nonzero_only)?;
    let mut n_capped_low = 0;
    let mut n_capped_high = 0;
    let capped = values
        .iter()
        .map(|&v| {
            if (nonzero_only && v == 0.0) || lower_cap.is_nan() {
                v
            } else if v < lower_cap {
                n_capped_low += 1;
                lower_cap
            } else if v > upper_cap {
                n_capped_high += 1;
                upper_cap
            } else {
                v
            }
        })
        .collect();
    Ok(Winsorized {
        values: capped,
        lower_cap,
        upper_cap,
        n_capped_low,
        n_capped_high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_definition() {
        // np.quantile([1, 2, 3, 4, 10], [0, 0.5, 0.9, 0.99, 1]) = [1, 3, 7.6, 9.76, 10].
        let data = [4.0, 1.0, 10.0, 3.0, 2.0];
        for (q, want) in [
            (0.0, 1.0),
            (0.5, 3.0),
            (0.9, 7.6),
            (0.99, 9.76),
            (1.0, 10.0),
        ] {
            let mut s = data.to_vec();
            let got = quantile_linear(&mut s, q).unwrap();
            assert!((got - want).abs() < 1e-12, "{q}: {got}");
        }
    }

    #[test]
    fn caps_on_nonzero_values_keep_zeros() {
        let mut v = vec![0.0; 90];
        v.extend((1..=10).map(|i| i as f64 * 10.0));
        let all = winsorize(&v, 0.0, 0.95, false).unwrap();
        // 95th percentile of 100 values: h = 94.05 → 50 + 0.05 * 10.
        assert!((all.upper_cap - 50.5).abs() < 1e-12);
        let nz = winsorize(&v, 0.1, 0.9, true).unwrap();
        // Non-zero values 10..100: h = 0.9 → 19; h = 8.1 → 91.
        assert!((nz.lower_cap - 19.0).abs() < 1e-12);
        assert!((nz.upper_cap - 91.0).abs() < 1e-12);
        assert!(nz.values[..90].iter().all(|&x| x == 0.0));
        assert_eq!(nz.values[90], 19.0);
        assert_eq!(nz.values[99], 91.0);
        assert_eq!((nz.n_capped_low, nz.n_capped_high), (1, 1));
        let zeros = winsorize(&[0.0, 0.0], 0.0, 0.99, true).unwrap();
        assert!(zeros.upper_cap.is_nan());
        assert_eq!(zeros.values, vec![0.0, 0.0]);
    }

    #[test]
    fn rejects_bad_levels() {
        assert!(winsorize(&[1.0], 0.5, 0.4, false).is_err());
        assert!(winsorize(&[1.0], 0.0, 1.5, false).is_err());
        assert!(winsorize(&[], 0.0, 0.9, false).is_err());
    }
}
