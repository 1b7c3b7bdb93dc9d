//! Distribution functions the tests need, accurate deep into the tails.
//!
//! statrs 0.19 was checked against scipy first: its normal tails and inverse
//! are accurate, but its Student t loses six digits at large degrees of freedom
//! (its log-gamma differences cancel: t.sf(5, 2e9) is off by 3e-6 relative) and
//! its beta quantile does not return for b = 1e9. So the incomplete beta and
//! gamma functions come from `cdflib` (a port of TOMS 708 / 654, which R and
//! scipy's references also rest on); each returns both tails computed
//! directly, which keeps small p-values accurate down to the underflow limit.
//! Quantiles are found by safeguarded Newton iteration on those functions.

use cdflib::special::internal::beta_rcomp;
use cdflib::special::{beta_log, cumnor, try_beta_inc, try_gamma_inc};

use super::error::{Result, StatsError};
use super::roots::{solve_increasing, Bisect};

const SQRT_2: f64 = std::f64::consts::SQRT_2;
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Standard normal cumulative distribution function P(Z ≤ x).
pub fn norm_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() {
        return if x > 0.0 { 1.0 } else { 0.0 };
    }
    cumnor(x).0
}

/// Standard normal survival function P(Z > x), accurate for large x.
pub fn norm_sf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() {
        return if x > 0.0 { 0.0 } else { 1.0 };
    }
    cumnor(x).1
}

/// Standard normal quantile: the x with P(Z ≤ x) = p.
pub fn norm_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p > 0.5 {
        return norm_isf(1.0 - p);
    }
    -norm_isf(p)
}

/// Inverse survival function: the x with P(Z > x) = q (precise for tiny q).
pub fn norm_isf(q: f64) -> f64 {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    if q == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return f64::NEG_INFINITY;
    }
    if q > 0.5 {
        return -norm_isf(1.0 - q);
    }
    let x = SQRT_2 * statrs::function::erf::erfc_inv(2.0 * q);
    // One Newton step against cdflib's tail makes the quantile and the tail
    // function agree to the last bits, whatever erfc_inv's own error.
    let density = (-0.5 * x * x - LN_SQRT_2PI).exp();
    if density > 0.0 && density.is_finite() {
        let step = (norm_sf(x) - q) / density;
        if step.is_finite() {
            return x + step;
        }
    }
    x
}

/// Standard normal density φ(x).
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x - LN_SQRT_2PI).exp()
}

/// ln B(a, b) for a, b > 0 (TOMS 708 `betaln`: the large terms of the three log-gammas cancel
/// analytically, so the relative accuracy holds for arguments in the millions).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() || a < 0.0 || b < 0.0 {
        return f64::NAN;
    }
    if a == 0.0 || b == 0.0 {
        return f64::INFINITY;
    }
    if a.is_infinite() || b.is_infinite() {
        return f64::NEG_INFINITY;
    }
    beta_log(a, b)
}

/// Beta(a, b) density at 0 < x < 1: x^(a−1) (1−x)^(b−1) / B(a, b), with the power terms formed
/// by TOMS 708 `brcomp` (no log-gamma differences, accurate for parameters in the millions).
pub fn beta_pdf(x: f64, a: f64, b: f64) -> f64 {
    let y = 1.0 - x;
    beta_rcomp(a, b, x, y) / (x * y)
}

/// `t²/ν` split into the beta arguments x = ν/(ν+t²) and y = t²/(ν+t²),
/// each computed without cancellation or overflow.
pub(crate) fn t_beta_args(t: f64, df: f64) -> (f64, f64) {
    let ratio = t.abs() / df.sqrt();
    let r = ratio * ratio;
    if r.is_infinite() {
        (0.0, 1.0)
    } else if r > 1.0 {
        let inv = 1.0 / r;
        (inv / (1.0 + inv), 1.0 / (1.0 + inv))
    } else {
        (1.0 / (1.0 + r), r / (1.0 + r))
    }
}

/// Student t lower and upper tail probabilities `(P(T ≤ t), P(T > t))`.
pub fn t_cdf_sf(t: f64, df: f64) -> (f64, f64) {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    if df.is_infinite() {
        return (norm_cdf(t), norm_sf(t));
    }
    let (x, y) = t_beta_args(t, df);
    match try_beta_inc(0.5 * df, 0.5, x, y) {
        Ok((w, w1)) => {
            let beyond = 0.5 * w;
            let within = 0.5 + 0.5 * w1;
            if t >= 0.0 {
                (within, beyond)
            } else {
                (beyond, within)
            }
        }
        Err(_) => (f64::NAN, f64::NAN),
    }
}

/// Student t cumulative distribution function.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    t_cdf_sf(t, df).0
}

/// Student t survival function.
pub fn t_sf(t: f64, df: f64) -> f64 {
    t_cdf_sf(t, df).1
}

/// ln of the Student t density.
fn t_ln_pdf(t: f64, df: f64) -> f64 {
    let r = (t / df.sqrt()).powi(2);
    -0.5 * (df + 1.0) * r.ln_1p() - 0.5 * df.ln() - beta_log(0.5 * df, 0.5)
}

/// Student t inverse survival function: the t with P(T > t) = q.
pub fn t_isf(q: f64, df: f64) -> Result<f64> {
    if q.is_nan() || df.is_nan() || df <= 0.0 || !(0.0..=1.0).contains(&q) {
        return Ok(f64::NAN);
    }
    if df.is_infinite() {
        return Ok(norm_isf(q));
    }
    if q == 0.0 {
        return Ok(f64::INFINITY);
    }
    if q == 1.0 {
        return Ok(f64::NEG_INFINITY);
    }
    if q == 0.5 {
        return Ok(0.0);
    }
    if q > 0.5 {
        return t_isf(1.0 - q, df).map(|t| -t);
    }
    if df == 1.0 {
        // Cauchy: exact closed form.
        return Ok(1.0 / (std::f64::consts::PI * q).tan());
    }
    if let Some(t) = t_isf_expansion(q, df) {
        return Ok(t);
    }
    t_isf_newton(q, df)
}

/// Large df (Welch df of big arms run into the thousands): the Cornish-Fisher expansion
/// (Abramowitz & Stegun 26.7.5, four terms in 1/df) is exact to rounding and costs a few
/// multiplications instead of an iterative inversion of the incomplete beta function. Used only when
/// its last term is below 1e-14 of the result, so the omitted fifth term (smaller again by about
/// z²/df) is negligible; `None` otherwise.
fn t_isf_expansion(q: f64, df: f64) -> Option<f64> {
    if df < 1000.0 {
        return None;
    }
    let x = norm_isf(q);
    let x2 = x * x;
    let g1 = x * (x2 + 1.0) / 4.0;
    let g2 = x * ((5.0 * x2 + 16.0) * x2 + 3.0) / 96.0;
    let g3 = x * (((3.0 * x2 + 19.0) * x2 + 17.0) * x2 - 15.0) / 384.0;
    let g4 = x * ((((79.0 * x2 + 776.0) * x2 + 1482.0) * x2 - 1920.0) * x2 - 945.0) / 92160.0;
    let v = 1.0 / df;
    ((g4 * v.powi(4)).abs() <= 1e-14 * x.abs())
        .then_some(x + v * (g1 + v * (g2 + v * (g3 + v * g4))))
}

/// `t_isf` for 0 < q < 0.5 and finite df > 1 by Newton on ln sf, safeguarded by bisection.
fn t_isf_newton(q: f64, df: f64) -> Result<f64> {
    let ln_q = q.ln();
    // Cornish-Fisher start (Abramowitz & Stegun 26.7.5); Newton corrects it.
    let z = norm_isf(q);
    let z3 = z * z * z;
    let guess =
        z + (z3 + z) / (4.0 * df) + (5.0 * z3 * z * z + 16.0 * z3 + 3.0 * z) / (96.0 * df * df);
    let mut hi = guess.max(1.0);
    let mut expansions = 0;
    while t_sf(hi, df) > q {
        hi *= 4.0;
        expansions += 1;
        if expansions > 600 {
            return Err(StatsError::NoConvergence(format!(
                "t quantile for q={q}, df={df}"
            )));
        }
    }
    // g(t) = ln q − ln sf(t) increases in t; g' = pdf/sf.
    let g = |t: f64| {
        let sf = t_sf(t, df);
        (ln_q - sf.ln(), (t_ln_pdf(t, df) - sf.ln()).exp())
    };
    solve_increasing(g, 0.0, hi, guess, Bisect::Geometric, 1e-15, 300)
        .map_err(|_| StatsError::NoConvergence(format!("t quantile for q={q}, df={df}")))
}

/// Student t quantile: the t with P(T ≤ t) = p.
pub fn t_ppf(p: f64, df: f64) -> Result<f64> {
    t_isf(p, df).map(|t| -t)
}

/// χ² survival function P(X > x) with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    match try_gamma_inc(0.5 * df, 0.5 * x) {
        Ok((_, q)) => q,
        Err(_) => f64::NAN,
    }
}

/// Regularized incomplete beta pair (I_x(a, b), 1 − I_x(a, b)), each side computed directly,
/// with y = 1 − x supplied by the caller, who may know it more precisely than `1.0 - x`.
pub fn beta_inc_xy(a: f64, b: f64, x: f64, y: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if y <= 0.0 {
        return (1.0, 0.0);
    }
    try_beta_inc(a, b, x, y).unwrap_or((f64::NAN, f64::NAN))
}

/// Beta distribution quantile. With `upper = false` returns the x with
/// I_x(a, b) = prob (scipy's `beta.ppf`); with `upper = true` the x with
/// 1 − I_x(a, b) = prob (scipy's `beta.isf`), precise for tiny `prob`.
pub fn beta_quantile(prob: f64, a: f64, b: f64, upper: bool) -> Result<f64> {
    if prob.is_nan() || a.is_nan() || b.is_nan() || a <= 0.0 || b <= 0.0 {
        return Ok(f64::NAN);
    }
    if !(0.0..=1.0).contains(&prob) {
        return Ok(f64::NAN);
    }
    let (lower_prob, upper_prob) = if upper {
        (1.0 - prob, prob)
    } else {
        (prob, 1.0 - prob)
    };
    if lower_prob <= 0.0 {
        return Ok(0.0);
    }
    if upper_prob <= 0.0 {
        return Ok(1.0);
    }
    // Work on the smaller tail, in logs, so tiny probabilities keep their digits.
    let use_lower = lower_prob <= upper_prob;
    let ln_target = if use_lower {
        lower_prob.ln()
    } else {
        upper_prob.ln()
    };
    let g = |x: f64| {
        let y = 1.0 - x;
        let (i, ic) = try_beta_inc(a, b, x, y).unwrap_or((f64::NAN, f64::NAN));
        let density = beta_rcomp(a, b, x, y) / (x * y);
        if use_lower {
            (i.ln() - ln_target, density / i)
        } else {
            (ln_target - ic.ln(), density / ic)
        }
    };
    let mean = a / (a + b);
    let sd = (a * b / ((a + b) * (a + b) * (a + b + 1.0))).sqrt();
    let z = norm_ppf(lower_prob);
    let mut guess = mean + z * sd;
    if !(guess > 0.0 && guess < 1.0) {
        guess = if z < 0.0 {
            0.5 * mean
        } else {
            0.5 * (1.0 + mean)
        };
    }
    solve_increasing(g, 0.0, 1.0, guess, Bisect::Logit, 1e-15, 400)
        .map_err(|_| StatsError::NoConvergence(format!("beta quantile for p={prob}, a={a}, b={b}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    // Reference values from scipy 1.17 (scipy.stats.norm / t / chi2 / beta).
    #[test]
    fn normal_tails_match_scipy() {
        assert!(rel(norm_sf(37.5), 4.605353009581954e-308) < 1e-12);
        assert!(rel(norm_sf(8.3), 5.2055697448902465e-17) < 1e-13);
        assert!(rel(norm_sf(0.3), 0.3820885778110474) < 1e-14);
        assert!(rel(norm_cdf(-8.3), 5.2055697448902465e-17) < 1e-13);
        assert_eq!(norm_sf(f64::INFINITY), 0.0);
        assert_eq!(norm_cdf(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn normal_quantiles_match_scipy() {
        assert!(rel(norm_ppf(1e-300), -37.0470962993612) < 1e-14);
        assert!(rel(norm_ppf(0.975), 1.959963984540054) < 1e-15);
        assert!(rel(norm_isf(0.025), 1.959963984540054) < 1e-15);
        assert_eq!(norm_ppf(0.5), 0.0);
    }

    #[test]
    fn student_t_tails_match_scipy() {
        assert!(rel(t_sf(5.0, 2e9), 2.866515960383865e-07) < 1e-12);
        assert!(rel(t_sf(40.0, 10.0), 1.1404288715428768e-12) < 1e-12);
        assert!(rel(t_sf(1e-5, 10.0), 0.4999961089161604) < 1e-14);
        assert!(rel(t_sf(300.0, 30.0), 5.009667503580099e-54) < 1e-12);
        assert!(rel(t_cdf(-300.0, 30.0), 5.009667503580099e-54) < 1e-12);
        assert_eq!(t_sf(f64::INFINITY, 3.0), 0.0);
    }

    #[test]
    fn student_t_quantiles_match_scipy() {
        assert!(rel(t_ppf(0.975, 2e9).unwrap(), 1.9599639857261895) < 1e-13);
        assert!(rel(t_ppf(0.975, 3.5).unwrap(), 2.9400886379827282) < 1e-13);
        assert!(rel(t_isf(1e-300, 2.0).unwrap(), t_isf_df2(1e-300)) < 1e-12);
    }

    // Closed form for two degrees of freedom: t = (1 − 2q)/sqrt(2q(1 − q)).
    fn t_isf_df2(q: f64) -> f64 {
        (1.0 - 2.0 * q) / (2.0 * q * (1.0 - q)).sqrt()
    }

    #[test]
    fn chi2_tails_match_scipy() {
        assert!(rel(chi2_sf(1400.0, 1.0), 2.1010145162644003e-306) < 1e-12);
        assert!(rel(chi2_sf(3.0, 2.0), 0.22313016014842982) < 1e-14);
        assert!(rel(chi2_sf(50.0, 7.0), 1.4444852779215397e-08) < 1e-13);
    }

    #[test]
    fn normal_density_matches_scipy() {
        // scipy.stats.norm.pdf(1.5), scipy.stats.norm.pdf(-7.25)
        assert!(rel(norm_pdf(1.5), 0.12951759566589174) < 1e-15);
        assert!(rel(norm_pdf(-7.25), 1.538537950561275e-12) < 1e-14);
    }

    #[test]
    fn ln_beta_matches_scipy() {
        // scipy.special.betaln(2.5e6, 3.7e6), betaln(0.5, 1e7), betaln(40, 55.5)
        assert!(rel(ln_beta(2.5e6, 3.7e6), -4180653.537179269) < 1e-15);
        assert!(rel(ln_beta(0.5, 1e7), -7.48668287005446) < 1e-14);
        assert!(rel(ln_beta(40.0, 55.5), -65.58353822111577) < 1e-14);
        // B(2, 3) = 1/12 exactly.
        assert!((ln_beta(2.0, 3.0) - (1.0f64 / 12.0).ln()).abs() < 1e-15);
        assert_eq!(ln_beta(0.0, 3.0), f64::INFINITY);
        assert!(ln_beta(-1.0, 3.0).is_nan());
    }

    #[test]
    fn incomplete_beta_and_density_match_scipy() {
        // scipy.special.betainc(3.5, 1e6, 2e-6): both tails from one call.
        let (low, up) = beta_inc_xy(3.5, 1e6, 2e-6, 1.0 - 2e-6);
        assert!(rel(low, 0.22022362815230268) < 1e-12);
        assert!(rel(up, 1.0 - 0.22022362815230268) < 1e-12);
        // scipy.stats.beta(51, 950).pdf(0.06)
        assert!(rel(beta_pdf(0.06, 51.0, 950.0), 22.883976394196544) < 1e-13);
        assert_eq!(beta_inc_xy(2.0, 3.0, 0.0, 1.0), (0.0, 1.0));
    }

    #[test]
    fn beta_quantiles_match_scipy() {
        assert!(
            rel(
                beta_quantile(0.025, 3.0, 1e9, false).unwrap(),
                6.186721220855516e-10
            ) < 1e-12
        );
        assert!(
            rel(
                beta_quantile(0.025, 3.0, 8.0, false).unwrap(),
                0.06673951117773447
            ) < 1e-13
        );
    }

    #[test]
    fn t_isf_expansion_equals_the_exact_inversion() {
        let mut applied = 0;
        for q in [0.2, 0.05, 0.025, 0.005, 0.0005, 1e-6] {
            for df in [1000.0, 1500.0, 4321.5, 1e4, 1e5, 1e6, 1e9] {
                // Far tails at the smallest df fail the expansion's own error bound: Newton then.
                let Some(fast) = t_isf_expansion(q, df) else {
                    assert!(df < 1e5, "q={q} df={df}: the expansion should apply");
                    continue;
                };
                applied += 1;
                let exact = t_isf_newton(q, df).unwrap();
                assert!(
                    ((fast - exact) / exact).abs() < 5e-15,
                    "q={q} df={df}: {fast} vs {exact}"
                );
            }
        }
        assert!(
            applied >= 27,
            "the expansion applied to only {applied} of 42 cases"
        );
        assert!(t_isf_expansion(0.025, 999.0).is_none());
        assert!(t_isf(0.025, f64::NAN).unwrap().is_nan());
    }
}
