//! CUPED (Deng, Xu, Kohavi & Walker 2013): variance reduction with a pre-experiment covariate.
//!
//! θ = cov(Y, X) / var(X) is pooled over all arms — from the merged co-moments of every user,
//! not per arm — so every arm is adjusted by the same linear function of X and the adjusted
//! difference stays unbiased under randomisation. Each arm's adjusted mean is
//! Ȳ_i − θ (X̄_i − X̄), its variance that of Y − θX within the arm; arms are compared with
//! Welch's test on the adjusted statistics (θ is treated as known, as is usual).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{invalid, ExperimentsError, Result};
use super::welch::{welch_from_stats, Alternative, WelchComparison};
use crate::stats::CoMoments;
use crate::stats::{check_finite, check_same_len};

/// One arm after adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CupedArm {
    pub n: u64,
    /// Unadjusted mean and sample variance of the metric.
    pub mean: f64,
    pub variance: f64,
    /// Mean of the covariate in this arm.
    pub mean_covariate: f64,
    pub adjusted_mean: f64,
    pub adjusted_variance: f64,
    /// 1 − adjusted variance / variance.
    pub variance_reduction: f64,
}

/// One arm against the control: `arm − control`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CupedComparison {
    pub arm: usize,
    pub control: usize,
    pub adjusted: WelchComparison,
    pub unadjusted: WelchComparison,
    /// 1 − (adjusted standard error / unadjusted standard error)² of the difference.
    pub variance_reduction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CupedResult {
    pub theta: f64,
    pub pooled_mean_covariate: f64,
    pub arms: Vec<CupedArm>,
    /// Every arm except the control, in arm order.
    pub comparisons: Vec<CupedComparison>,
}

/// CUPED from per-arm co-moments, with x the covariate and y the metric.
pub fn cuped_from_stats(
    arms: &[CoMoments],
    control: usize,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<CupedResult> {
    if arms.len() < 2 {
        return Err(invalid("CUPED needs at least two arms"));
    }
    if control >= arms.len() {
        return Err(invalid(format!(
            "control arm {control} out of range for {} arms",
            arms.len()
        )));
    }
    if let Some(i) = arms.iter().position(|a| a.n < 2) {
        return Err(ExperimentsError::InsufficientData(format!(
            "arm {i} has fewer than two users"
        )));
    }
    let pooled = arms.iter().fold(CoMoments::EMPTY, |acc, a| acc.merge(a));
    if pooled.m2_x <= 0.0 {
        return Err(ExperimentsError::Degenerate(
            "the covariate is constant, so theta is undefined".into(),
        ));
    }
    let theta = pooled.c_xy / pooled.m2_x;
    let adjusted: Vec<CupedArm> = arms
        .iter()
        .map(|a| {
            let dof = (a.n - 1) as f64;
            let variance = a.m2_y / dof;
            let adjusted_variance =
                ((a.m2_y - 2.0 * theta * a.c_xy + theta * theta * a.m2_x) / dof).max(0.0);
            CupedArm {
                n: a.n,
                mean: a.mean_y,
                variance,
                mean_covariate: a.mean_x,
                adjusted_mean: a.mean_y - theta * (a.mean_x - pooled.mean_x),
                adjusted_variance,
                variance_reduction: 1.0 - adjusted_variance / variance,
            }
        })
        .collect();
    let c = adjusted[control];
    let comparisons = adjusted
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != control)
        .map(|(i, t)| {
            let adj = welch_from_stats(
                (t.adjusted_mean, t.adjusted_variance, t.n as f64),
                (c.adjusted_mean, c.adjusted_variance, c.n as f64),
                alternative,
                confidence_level,
            )?;
            let raw = welch_from_stats(
                (t.mean, t.variance, t.n as f64),
                (c.mean, c.variance, c.n as f64),
                alternative,
                confidence_level,
            )?;
            Ok(CupedComparison {
                arm: i,
                control,
                adjusted: adj,
                unadjusted: raw,
                variance_reduction: 1.0 - (adj.std_error / raw.std_error).powi(2),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CupedResult {
        theta,
        pooled_mean_covariate: pooled.mean_x,
        arms: adjusted,
        comparisons,
    })
}

const MAX_ARMS: usize = 1000;

/// Per-arm co-moments (x = covariate, y = metric) from user-level rows; `arms[i]` is the arm
/// index of row i, in `0..n_arms`.
pub fn comoments_by_arm(
    y: &[f64],
    x: &[f64],
    arms: &[u32],
    n_arms: usize,
) -> Result<Vec<CoMoments>> {
    check_same_len("y and x", y.len(), x.len())?;
    check_same_len("y and arms", y.len(), arms.len())?;
    check_finite(y, "y")?;
    check_finite(x, "x")?;
    // Each parallel chunk keeps one accumulator per arm; thousands of "arms" mean user ids
    // were passed as arm labels.
    if n_arms > MAX_ARMS {
        return Err(invalid(format!(
            "{n_arms} arms (at most {MAX_ARMS}); are the labels arms?"
        )));
    }
    if let Some(i) = arms.iter().position(|&a| a as usize >= n_arms) {
        return Err(invalid(format!(
            "arm index {} at row {i} >= {n_arms}",
            arms[i]
        )));
    }
    const CHUNK: usize = 1 << 15;
    let parts: Vec<Vec<CoMoments>> = y
        .par_chunks(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .zip(arms.par_chunks(CHUNK))
        .map(|((cy, cx), ca)| {
            let mut acc = vec![CoMoments::EMPTY; n_arms];
            for ((&yv, &xv), &a) in cy.iter().zip(cx).zip(ca) {
                acc[a as usize].push(xv, yv);
            }
            acc
        })
        .collect();
    let mut total = vec![CoMoments::EMPTY; n_arms];
    for part in &parts {
        for (t, p) in total.iter_mut().zip(part) {
            *t = t.merge(p);
        }
    }
    Ok(total)
}

/// CUPED from user-level rows: metric `y`, pre-period covariate `x`, arm index per row.
pub fn cuped(
    y: &[f64],
    x: &[f64],
    arms: &[u32],
    n_arms: usize,
    control: usize,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<CupedResult> {
    let stats = comoments_by_arm(y, x, arms, n_arms)?;
    cuped_from_stats(&stats, control, alternative, confidence_level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theta_is_pooled_ols_slope_and_adjusts_means() {
        // y = 2x + arm effect + small noise; pooled slope by hand from the same rows.
        let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let arms: Vec<u32> = (0..200).map(|i| (i % 2) as u32).collect();
        let y: Vec<f64> = x
            .iter()
            .zip(&arms)
            .enumerate()
            .map(|(i, (xv, &a))| 2.0 * xv + a as f64 + ((i * 13) % 7) as f64 * 0.1)
            .collect();
        let n = x.len() as f64;
        let mx = x.iter().sum::<f64>() / n;
        let my = y.iter().sum::<f64>() / n;
        let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let r = cuped(&y, &x, &arms, 2, 0, Alternative::TwoSided, 0.95).unwrap();
        assert!((r.theta - sxy / sxx).abs() < 1e-12);
        for (k, arm) in r.arms.iter().enumerate() {
            let idx: Vec<usize> = (0..200).filter(|&i| arms[i] as usize == k).collect();
            let m = idx.len() as f64;
            let ybar = idx.iter().map(|&i| y[i]).sum::<f64>() / m;
            let xbar = idx.iter().map(|&i| x[i]).sum::<f64>() / m;
            assert!((arm.adjusted_mean - (ybar - r.theta * (xbar - mx))).abs() < 1e-12);
            let resid: Vec<f64> = idx.iter().map(|&i| y[i] - r.theta * x[i]).collect();
            let rm = resid.iter().sum::<f64>() / m;
            let rv = resid.iter().map(|v| (v - rm).powi(2)).sum::<f64>() / (m - 1.0);
            assert!((arm.adjusted_variance - rv).abs() < 1e-10 * rv.max(1.0));
            assert!(arm.variance_reduction > 0.9);
        }
        let c = r.comparisons[0];
        assert!(
            (c.adjusted.difference - (r.arms[1].adjusted_mean - r.arms[0].adjusted_mean)).abs()
                < 1e-12
        );
        assert!(c.adjusted.std_error < c.unadjusted.std_error);
    }

    #[test]
    fn constant_covariate_is_degenerate() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let x = [1.0; 4];
        let arms = [0, 1, 0, 1];
        assert!(matches!(
            cuped(&y, &x, &arms, 2, 0, Alternative::TwoSided, 0.95),
            Err(ExperimentsError::Degenerate(_))
        ));
        assert!(cuped(&y, &x, &arms, 2, 2, Alternative::TwoSided, 0.95).is_err());
    }
}
