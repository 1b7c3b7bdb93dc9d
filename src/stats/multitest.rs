//! Multiple-testing adjustment of p-values, as statsmodels' `multipletests`
//! (and R's `p.adjust`).

use std::str::FromStr;

use super::error::{invalid, Result, StatsError};

/// Family-wise (Bonferroni, Holm) or false-discovery-rate (Benjamini–Hochberg) control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdjustMethod {
    Bonferroni,
    /// Holm's step-down procedure: uniformly more powerful than Bonferroni.
    #[default]
    Holm,
    /// Benjamini–Hochberg step-up procedure for the false discovery rate.
    BenjaminiHochberg,
}

impl AdjustMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustMethod::Bonferroni => "bonferroni",
            AdjustMethod::Holm => "holm",
            AdjustMethod::BenjaminiHochberg => "bh",
        }
    }
}

impl FromStr for AdjustMethod {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bonferroni" => Ok(AdjustMethod::Bonferroni),
            "holm" => Ok(AdjustMethod::Holm),
            "bh" => Ok(AdjustMethod::BenjaminiHochberg),
            other => Err(invalid(format!(
                "method must be 'bonferroni', 'holm' or 'bh', got {other:?}"
            ))),
        }
    }
}

/// Adjusted p-values in the input order, capped at 1.
///
/// Equal to `statsmodels.stats.multitest.multipletests(p, method=...)[1]`
/// with methods "bonferroni", "holm" and "fdr_bh". p-values must lie in [0, 1].
pub fn adjust_pvalues(pvalues: &[f64], method: AdjustMethod) -> Result<Vec<f64>> {
    if let Some(bad) = pvalues.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(invalid(format!("p-values must lie in [0, 1], got {bad}")));
    }
    let m = pvalues.len();
    let mf = m as f64;
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| pvalues[i].total_cmp(&pvalues[j]));
    let mut adjusted = vec![0.0; m];
    match method {
        AdjustMethod::Bonferroni => {
            for (out, &p) in adjusted.iter_mut().zip(pvalues) {
                *out = (p * mf).min(1.0);
            }
        }
        AdjustMethod::Holm => {
            let mut running_max = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                running_max = running_max.max(pvalues[i] * (m - rank) as f64);
                adjusted[i] = running_max.min(1.0);
            }
        }
        AdjustMethod::BenjaminiHochberg => {
            let mut running_min = f64::INFINITY;
            for (rank, &i) in order.iter().enumerate().rev() {
                // statsmodels divides by the ecdf factor rank/m rather than
                // multiplying by m/rank; the same here keeps results bit-equal.
                running_min = running_min.min(pvalues[i] / ((rank + 1) as f64 / mf));
                adjusted[i] = running_min.min(1.0);
            }
        }
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [f64; 6] = [0.01, 0.04, 0.03, 0.005, 0.5, 0.04];

    // statsmodels multipletests(P, method=...)[1].
    #[test]
    fn matches_statsmodels() {
        let holm = adjust_pvalues(&P, AdjustMethod::Holm).unwrap();
        assert_eq!(holm, vec![0.05, 0.12, 0.12, 0.03, 0.5, 0.12]);
        let bh = adjust_pvalues(&P, AdjustMethod::BenjaminiHochberg).unwrap();
        let expected = [0.03, 0.048, 0.048, 0.03, 0.5, 0.048];
        for (a, b) in bh.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        let bonf = adjust_pvalues(&P, AdjustMethod::Bonferroni).unwrap();
        assert_eq!(bonf[4], 1.0);
    }

    #[test]
    fn rejects_out_of_range() {
        assert!(adjust_pvalues(&[0.2, f64::NAN], AdjustMethod::Holm).is_err());
        assert!(adjust_pvalues(&[1.2], AdjustMethod::Holm).is_err());
        assert!(adjust_pvalues(&[], AdjustMethod::Holm).unwrap().is_empty());
    }
}
