//! Several treatment arms against one control, with adjusted p-values.

use super::alternative::Alternative;
use super::error::{invalid, Result};
use super::multitest::{adjust_pvalues, AdjustMethod};
use super::proportions::{test_proportions_2indep, ProportionsTest};
use super::ttest::{ttest_ind_from_stats, TTestResult};

/// Each non-control arm tested against the control; effects are arm − control.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmComparisons<T> {
    pub control: usize,
    /// Index of the arm behind each entry of `tests`.
    pub arms: Vec<usize>,
    pub tests: Vec<T>,
    /// The tests' p-values adjusted together by `method`.
    pub pvalues_adjusted: Vec<f64>,
    pub method: AdjustMethod,
}

fn check_arms(lengths: &[usize], control: usize) -> Result<usize> {
    let k = lengths[0];
    if lengths.iter().any(|&l| l != k) {
        return Err(invalid(format!(
            "every per-arm input must have the same length, got {lengths:?}"
        )));
    }
    if k < 2 {
        return Err(invalid("need a control and at least one other arm"));
    }
    if control >= k {
        return Err(invalid(format!(
            "control index {control} is out of range for {k} arms"
        )));
    }
    Ok(k)
}

/// Two-proportion z tests of every arm against `control`.
pub fn compare_arms_proportions(
    counts: &[f64],
    nobs: &[f64],
    control: usize,
    alternative: Alternative,
    correction: bool,
    method: AdjustMethod,
) -> Result<ArmComparisons<ProportionsTest>> {
    let k = check_arms(&[counts.len(), nobs.len()], control)?;
    let arms: Vec<usize> = (0..k).filter(|&i| i != control).collect();
    let tests = arms
        .iter()
        .map(|&i| {
            test_proportions_2indep(
                counts[i],
                nobs[i],
                counts[control],
                nobs[control],
                alternative,
                correction,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    finish(control, arms, tests, method, |t| t.pvalue)
}

/// t tests (Welch unless `equal_var`) of every arm against `control`, from
/// per-arm means, ddof = 1 standard deviations and sizes.
pub fn compare_arms_means(
    means: &[f64],
    stds: &[f64],
    nobs: &[f64],
    control: usize,
    equal_var: bool,
    alternative: Alternative,
    method: AdjustMethod,
) -> Result<ArmComparisons<TTestResult>> {
    let k = check_arms(&[means.len(), stds.len(), nobs.len()], control)?;
    let arms: Vec<usize> = (0..k).filter(|&i| i != control).collect();
    let tests = arms
        .iter()
        .map(|&i| {
            ttest_ind_from_stats(
                means[i],
                stds[i],
                nobs[i],
                means[control],
                stds[control],
                nobs[control],
                equal_var,
                alternative,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    finish(control, arms, tests, method, |t| t.pvalue)
}

fn finish<T>(
    control: usize,
    arms: Vec<usize>,
    tests: Vec<T>,
    method: AdjustMethod,
    pvalue: impl Fn(&T) -> f64,
) -> Result<ArmComparisons<T>> {
    let raw: Vec<f64> = tests.iter().map(pvalue).collect();
    // A NaN p-value (degenerate arm) stays NaN rather than poisoning the rest.
    let valid: Vec<usize> = (0..raw.len()).filter(|&i| !raw[i].is_nan()).collect();
    let adjusted_valid =
        adjust_pvalues(&valid.iter().map(|&i| raw[i]).collect::<Vec<_>>(), method)?;
    let mut pvalues_adjusted = vec![f64::NAN; raw.len()];
    for (&i, p) in valid.iter().zip(adjusted_valid) {
        pvalues_adjusted[i] = p;
    }
    Ok(ArmComparisons {
        control,
        arms,
        tests,
        pvalues_adjusted,
        method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_each_arm_with_control() {
        let counts = [100.0, 120.0, 90.0];
        let nobs = [1000.0, 1000.0, 1000.0];
        let r = compare_arms_proportions(
            &counts,
            &nobs,
            0,
            Alternative::TwoSided,
            false,
            AdjustMethod::Holm,
        )
        .unwrap();
        assert_eq!(r.arms, vec![1, 2]);
        let t1 =
            test_proportions_2indep(120.0, 1000.0, 100.0, 1000.0, Alternative::TwoSided, false)
                .unwrap();
        assert_eq!(r.tests[0], t1);
        let holm =
            adjust_pvalues(&[r.tests[0].pvalue, r.tests[1].pvalue], AdjustMethod::Holm).unwrap();
        assert_eq!(r.pvalues_adjusted, holm);
        assert!(compare_arms_proportions(
            &counts,
            &nobs,
            3,
            Alternative::TwoSided,
            false,
            AdjustMethod::Holm
        )
        .is_err());
    }
}
