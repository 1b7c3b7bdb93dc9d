//! Power, sample size, minimum detectable effect and duration, defined as R's
//! `power.prop.test` (normal approximation) and `power.t.test` (two-sample,
//! noncentral t). Sample sizes are per group and not rounded.
//!
//! R solves for n with `uniroot` at tolerance ε^¼ ≈ 1.2e-4; here the same
//! equations are solved to ~1e-12 (and in closed form where one exists), so
//! results agree with R's printed digits, not with its solver's slack. R's
//! `pnt` also switches to a normal approximation above noncentrality 37.62;
//! the noncentral t here is exact everywhere (see `nct`).

use std::str::FromStr;

use super::checks::check_unit_open;
use super::error::{invalid, Result, StatsError};
use super::nct::{nct_cdf, nct_sf};
use super::roots::brent;
use super::special::{norm_cdf, norm_isf, norm_ppf, norm_sf, t_isf};

/// Sidedness of the planned test, in R's terms: a one-sided test is taken
/// in the direction of the effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PowerAlternative {
    #[default]
    TwoSided,
    OneSided,
}

impl PowerAlternative {
    fn tails(self) -> f64 {
        match self {
            PowerAlternative::TwoSided => 2.0,
            PowerAlternative::OneSided => 1.0,
        }
    }
}

impl FromStr for PowerAlternative {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "two-sided" => Ok(PowerAlternative::TwoSided),
            "one-sided" => Ok(PowerAlternative::OneSided),
            other => Err(invalid(format!(
                "alternative must be 'two-sided' or 'one-sided', got {other:?}"
            ))),
        }
    }
}

fn check_probability(name: &str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(format!("{name} must lie in [0, 1], got {v}")))
    }
}

fn check_positive(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} must be positive and finite, got {v}"
        )))
    }
}

const ROOT_XTOL: f64 = 0.0;
const ROOT_RTOL: f64 = 1e-13;

/// Null and alternative standard deviations of √n·(p̂1 − p̂2) in R's formula.
fn prop_sds(p1: f64, p2: f64) -> Result<(f64, f64)> {
    check_probability("p1", p1)?;
    check_probability("p2", p2)?;
    let s0 = ((p1 + p2) * (1.0 - (p1 + p2) / 2.0)).sqrt();
    let s1 = (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    if s1 == 0.0 || s0 == 0.0 {
        return Err(invalid("p1 and p2 must not both be 0 or both be 1"));
    }
    Ok((s0, s1))
}

fn prop_power_unchecked(
    p1: f64,
    p2: f64,
    nobs1: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    let (s0, s1) = prop_sds(p1, p2)?;
    let qu = norm_isf(alpha / alternative.tails());
    let d = (p1 - p2).abs();
    let power = norm_cdf((nobs1.sqrt() * d - qu * s0) / s1);
    Ok(if strict && alternative == PowerAlternative::TwoSided {
        // Rejections in the wrong tail count too.
        power + norm_sf((nobs1.sqrt() * d + qu * s0) / s1)
    } else {
        power
    })
}

/// Power of the two-sample test of proportions with `nobs1` per group, as R's
/// `power.prop.test(n, p1, p2, sig.level = alpha, strict = strict)`.
pub fn power_proportions_2indep(
    p1: f64,
    p2: f64,
    nobs1: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    check_positive("nobs1", nobs1)?;
    check_unit_open(alpha, "alpha")?;
    prop_power_unchecked(p1, p2, nobs1, alpha, alternative, strict)
}

/// Per-group sample size for the test of proportions to reach `power`, as
/// R's `power.prop.test(p1, p2, power, sig.level = alpha)`; not rounded.
///
/// Without `strict` R's power equation inverts in closed form:
/// n = ((z_{1−α/k}·s₀ + z_power·s₁)/|p1 − p2|)².
pub fn samplesize_proportions_2indep(
    p1: f64,
    p2: f64,
    power: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    check_unit_open(power, "power")?;
    check_unit_open(alpha, "alpha")?;
    let (s0, s1) = prop_sds(p1, p2)?;
    let d = (p1 - p2).abs();
    if d == 0.0 {
        return Err(StatsError::Unattainable(
            "p1 == p2: no sample size has power above alpha".into(),
        ));
    }
    let root_n = (norm_isf(alpha / alternative.tails()) * s0 + norm_ppf(power) * s1) / d;
    if root_n <= 0.0 {
        return Err(StatsError::Unattainable(format!(
            "power {power} is below what any sample size gives at alpha {alpha}"
        )));
    }
    let n_closed = root_n * root_n;
    if !(strict && alternative == PowerAlternative::TwoSided) {
        return Ok(n_closed);
    }
    // The strict power is larger, so its root lies below the closed form.
    let f = |n: f64| {
        prop_power_unchecked(p1, p2, n, alpha, alternative, true).unwrap_or(f64::NAN) - power
    };
    // Rounding can leave the strict power a hair below target at the closed
    // form itself; step just above it.
    let mut hi = n_closed;
    let mut step = 1e-12;
    while f(hi) < 0.0 {
        hi = n_closed * (1.0 + step);
        step *= 10.0;
        if step > 1.0 {
            return Err(StatsError::NoConvergence(
                "strict sample size bracket".into(),
            ));
        }
    }
    let mut lo = n_closed / 2.0;
    let mut halvings = 0;
    while f(lo) >= 0.0 {
        lo /= 2.0;
        halvings += 1;
        if halvings > 200 {
            return Err(StatsError::Unattainable(
                "power reached at every sample size".into(),
            ));
        }
    }
    brent(f, lo, hi, ROOT_XTOL, ROOT_RTOL, 200)
}

/// Minimum detectable p2 for baseline `p1` with `nobs1` per group: the p2 at
/// which the test reaches `power` (as R's `power.prop.test(n, p1, power)` with
/// p2 missing). `increase` searches above p1, otherwise below.
pub fn mde_proportions_2indep(
    p1: f64,
    nobs1: f64,
    power: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
    increase: bool,
) -> Result<f64> {
    check_unit_open(p1, "p1")?;
    check_positive("nobs1", nobs1)?;
    check_unit_open(power, "power")?;
    check_unit_open(alpha, "alpha")?;
    let f = |p2: f64| {
        prop_power_unchecked(p1, p2, nobs1, alpha, alternative, strict).unwrap_or(f64::NAN) - power
    };
    let far = if increase { 1.0 } else { 0.0 };
    if f(far) < 0.0 {
        return Err(StatsError::Unattainable(format!(
            "even p2 = {far} does not reach power {power} with {nobs1} per group"
        )));
    }
    if f(p1) >= 0.0 {
        return Err(StatsError::Unattainable(format!(
            "power {power} does not exceed the level of the test"
        )));
    }
    brent(f, p1, far, 1e-15, ROOT_RTOL, 200)
}

fn t_power_unchecked(
    delta: f64,
    sd: f64,
    nobs1: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    let df = 2.0 * (nobs1 - 1.0);
    let delta = if alternative == PowerAlternative::TwoSided {
        delta.abs()
    } else {
        delta
    };
    let ncp = (nobs1 / 2.0).sqrt() * delta / sd;
    let qu = t_isf(alpha / alternative.tails(), df)?;
    let power = nct_sf(qu, df, ncp);
    Ok(if strict && alternative == PowerAlternative::TwoSided {
        power + nct_cdf(-qu, df, ncp)
    } else {
        power
    })
}

/// Power of the two-sample t test with `nobs1` per group, as R's
/// `power.t.test(n, delta, sd, sig.level = alpha, strict = strict)`:
/// P(T' > t_{1−α/k, ν}) with ν = 2(n − 1) and noncentrality √(n/2)·δ/sd.
pub fn power_ttest_ind(
    delta: f64,
    sd: f64,
    nobs1: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    if !(nobs1.is_finite() && nobs1 > 1.0) {
        return Err(invalid(format!(
            "nobs1 must be greater than 1, got {nobs1}"
        )));
    }
    if !delta.is_finite() {
        return Err(invalid(format!("delta must be finite, got {delta}")));
    }
    check_positive("sd", sd)?;
    check_unit_open(alpha, "alpha")?;
    t_power_unchecked(delta, sd, nobs1, alpha, alternative, strict)
}

/// Upper end of a bracket for an increasing power curve: doubles from `start`
/// until the target power is reached.
fn expand_upper(f: &impl Fn(f64) -> f64, start: f64, limit: f64) -> Result<f64> {
    let mut hi = start;
    while f(hi) < 0.0 {
        hi *= 2.0;
        if hi > limit {
            return Err(StatsError::Unattainable(format!(
                "the power is not reached below {limit}"
            )));
        }
    }
    Ok(hi)
}

/// Per-group sample size for the two-sample t test, as R's
/// `power.t.test(delta, sd, power, sig.level = alpha)`; not rounded.
pub fn samplesize_ttest_ind(
    delta: f64,
    sd: f64,
    power: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    check_positive("sd", sd)?;
    check_unit_open(power, "power")?;
    check_unit_open(alpha, "alpha")?;
    if !delta.is_finite()
        || delta == 0.0
        || (alternative == PowerAlternative::OneSided && delta < 0.0)
    {
        return Err(StatsError::Unattainable(format!(
            "delta = {delta}: no sample size reaches power {power}"
        )));
    }
    let f = |n: f64| {
        t_power_unchecked(delta, sd, n, alpha, alternative, strict).unwrap_or(f64::NAN) - power
    };
    // Normal-theory size as the first guess for the bracket.
    let z = norm_isf(alpha / alternative.tails()) + norm_ppf(power);
    let guess = (2.0 * (z * sd / delta).powi(2)).max(2.0);
    let (lo, hi) = if f(2.0) < 0.0 {
        (2.0, expand_upper(&f, guess.max(4.0), 1e16)?)
    } else {
        // Large effects: the root lies between 1 and 2. As n → 1 the degrees of
        // freedom vanish and the power is no longer monotone (it climbs back
        // towards 1 for n within ~1e-3 of 1), so step down from 2 and keep the
        // first sign change, i.e. the largest root.
        let mut upper = 2.0;
        let mut found = None;
        for k in 1..=30 {
            let candidate = 1.0 + 0.5f64.powi(k);
            if f(candidate) < 0.0 {
                found = Some((candidate, upper));
                break;
            }
            upper = candidate;
        }
        found
            .ok_or_else(|| StatsError::Unattainable("power reached with any sample size".into()))?
    };
    brent(f, lo, hi, ROOT_XTOL, ROOT_RTOL, 300)
}

/// Minimum detectable difference in means for the two-sample t test with
/// `nobs1` per group (R's `power.t.test(n, sd, power)` with delta missing).
pub fn mde_ttest_ind(
    sd: f64,
    nobs1: f64,
    power: f64,
    alpha: f64,
    alternative: PowerAlternative,
    strict: bool,
) -> Result<f64> {
    check_positive("sd", sd)?;
    if !(nobs1.is_finite() && nobs1 > 1.0) {
        return Err(invalid(format!(
            "nobs1 must be greater than 1, got {nobs1}"
        )));
    }
    check_unit_open(power, "power")?;
    check_unit_open(alpha, "alpha")?;
    let f = |delta: f64| {
        t_power_unchecked(delta, sd, nobs1, alpha, alternative, strict).unwrap_or(f64::NAN) - power
    };
    if f(0.0) >= 0.0 {
        return Err(StatsError::Unattainable(format!(
            "power {power} does not exceed the level of the test"
        )));
    }
    let z = norm_isf(alpha / alternative.tails()) + norm_ppf(power);
    let guess = (z * sd * (2.0 / nobs1).sqrt()).max(f64::MIN_POSITIVE);
    let hi = expand_upper(&f, guess, 1e300)?;
    brent(f, 0.0, hi, 0.0, ROOT_RTOL, 300)
}

/// Days needed to enrol `total_nobs` users at `daily_traffic` users per day:
/// ceil(total_nobs / daily_traffic).
pub fn duration_days(total_nobs: f64, daily_traffic: f64) -> Result<u64> {
    check_positive("total_nobs", total_nobs)?;
    check_positive("daily_traffic", daily_traffic)?;
    let days = (total_nobs / daily_traffic).ceil();
    if days > u64::MAX as f64 {
        return Err(invalid("duration does not fit in 64 bits"));
    }
    Ok(days as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    const TWO: PowerAlternative = PowerAlternative::TwoSided;

    // Published R outputs (stats::power.prop.test / power.t.test examples).
    #[test]
    fn matches_published_r_outputs() {
        let p = power_proportions_2indep(0.5, 0.75, 50.0, 0.05, TWO, false).unwrap();
        assert!(close(p, 0.7401659, 1e-7), "{p}");
        let n = samplesize_proportions_2indep(0.5, 0.75, 0.9, 0.05, TWO, false).unwrap();
        assert!((n - 76.7).abs() < 0.05, "{n}");
        let p = power_ttest_ind(1.0, 1.0, 20.0, 0.05, TWO, false).unwrap();
        assert!(close(p, 0.8689528, 1e-7), "{p}");
        let n = samplesize_ttest_ind(1.0, 1.0, 0.9, 0.05, TWO, false).unwrap();
        assert!(close(n, 22.02110, 1e-6), "{n}");
    }

    // Exact roots computed with scipy (norm / nct and brentq at xtol 1e-14).
    #[test]
    fn matches_scipy_roots() {
        let n = samplesize_proportions_2indep(0.5, 0.75, 0.9, 0.05, TWO, false).unwrap();
        assert!(close(n, 76.70692845177749, 1e-12), "{n}");
        let p = power_ttest_ind(1.0, 1.0, 20.0, 0.05, TWO, false).unwrap();
        assert!(close(p, 0.8689528016921271, 1e-11), "{p}");
        let n = samplesize_ttest_ind(1.0, 1.0, 0.9, 0.05, TWO, false).unwrap();
        assert!(close(n, 22.021095570096936, 1e-10), "{n}");
    }

    #[test]
    fn mde_inverts_power() {
        let p2 = mde_proportions_2indep(0.1, 5000.0, 0.8, 0.05, TWO, false, true).unwrap();
        let back = power_proportions_2indep(0.1, p2, 5000.0, 0.05, TWO, false).unwrap();
        assert!(close(back, 0.8, 1e-10));
        let d = mde_ttest_ind(2.0, 50.0, 0.8, 0.05, TWO, false).unwrap();
        let back = power_ttest_ind(d, 2.0, 50.0, 0.05, TWO, false).unwrap();
        assert!(close(back, 0.8, 1e-10));
    }

    #[test]
    fn strict_adds_the_other_tail() {
        let loose = power_ttest_ind(0.2, 1.0, 10.0, 0.05, TWO, false).unwrap();
        let strict = power_ttest_ind(0.2, 1.0, 10.0, 0.05, TWO, true).unwrap();
        assert!(strict > loose);
        let n = samplesize_proportions_2indep(0.5, 0.75, 0.9, 0.05, TWO, true).unwrap();
        let back = power_proportions_2indep(0.5, 0.75, n, 0.05, TWO, true).unwrap();
        assert!(close(back, 0.9, 1e-11));
    }

    #[test]
    fn duration_is_a_ceiling() {
        assert_eq!(duration_days(2000.0, 100.0).unwrap(), 20);
        assert_eq!(duration_days(2001.0, 100.0).unwrap(), 21);
        assert!(duration_days(0.0, 100.0).is_err());
    }
}
