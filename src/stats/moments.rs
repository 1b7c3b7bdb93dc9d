//! Sample mean and variance with compensated sums.

/// Neumaier-compensated sum: the error stays O(ε) instead of O(n·ε), so means
/// of millions of values agree with numpy's pairwise sums to ~1e-15.
pub(crate) fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut sum = 0.0f64;
    let mut compensation = 0.0f64;
    for v in values {
        let t = sum + v;
        if sum.abs() >= v.abs() {
            compensation += (sum - t) + v;
        } else {
            compensation += (v - t) + sum;
        }
        sum = t;
    }
    sum + compensation
}

/// Mean and unbiased (ddof = 1) variance by two passes; the variance of a
/// single value is NaN, of an empty sample both are NaN (as numpy).
pub(crate) fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = compensated_sum(values.iter().copied()) / n;
    let ss = compensated_sum(values.iter().map(|&v| (v - mean) * (v - mean)));
    (mean, ss / (n - 1.0))
}
