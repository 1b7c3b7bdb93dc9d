//! Special functions needed here with more care than statrs offers: a log-beta that keeps full
//! precision for the large arguments of A/B tests (lgamma differences lose ~1e-9 relative at
//! millions of users), and the normal distribution from libm's erfc (statrs' erfc is off by up
//! to ~1e-10 relative around |x| ~ 1–3).

use statrs::function::erf;

pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Standard normal CDF Φ(x).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal survival function 1 − Φ(x), accurate in the upper tail.
pub fn norm_sf(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// Standard normal density φ(x).
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x - LN_SQRT_2PI).exp()
}

/// Standard normal quantile Φ⁻¹(p); ±∞ at 0 and 1.
pub fn norm_ppf(p: f64) -> f64 {
    if p > 0.5 {
        return norm_isf(1.0 - p);
    }
    -norm_isf(p)
}

/// Quantile from the upper tail: Φ⁻¹(1 − q) without forming 1 − q. statrs' Boost-derived
/// inverse is polished with one Newton step on the accurate survival function.
pub fn norm_isf(q: f64) -> f64 {
    if !(q > 0.0 && q < 1.0) {
        return if q == 0.0 {
            f64::INFINITY
        } else if q == 1.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
    }
    let x = std::f64::consts::SQRT_2 * erf::erfc_inv(2.0 * q);
    let density = norm_pdf(x);
    if density > 0.0 {
        x + (norm_sf(x) - q) / density
    } else {
        x
    }
}

/// `ln Γ(x) − ((x − ½) ln x − x + ½ ln 2π)` for x ≥ 10 by the Stirling series; the truncation
/// error is below 1e-17 there (next term 43867/(244188 x¹⁷)).
pub(crate) fn lgamma_correction(x: f64) -> f64 {
    debug_assert!(x >= 10.0);
    // Coefficients B_2k / (2k (2k − 1)) for k = 1..8.
    const C: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let mut acc = 0.0;
    for &c in C.iter().rev() {
        acc = acc * inv2 + c;
    }
    acc * inv
}

/// ln B(a, b) for a, b > 0, after R's `lbeta` (nmath): the large terms of the three log-gammas
/// are cancelled analytically so the relative accuracy holds for arguments in the millions.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let p = a.min(b);
    let q = a.max(b);
    if p.is_nan() || q.is_nan() || p < 0.0 {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::INFINITY;
    }
    if q.is_infinite() {
        return f64::NEG_INFINITY;
    }
    if p >= 10.0 {
        let corr = lgamma_correction(p) + lgamma_correction(q) - lgamma_correction(p + q);
        q.ln() * -0.5
            + LN_SQRT_2PI
            + corr
            + (p - 0.5) * (p / (p + q)).ln()
            + q * (-p / (p + q)).ln_1p()
    } else if q >= 10.0 {
        let corr = lgamma_correction(q) - lgamma_correction(p + q);
        libm::lgamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-p / (p + q)).ln_1p()
    } else {
        // p <= q < 10: the gamma values themselves are small enough to divide exactly.
        (libm::tgamma(p) * (libm::tgamma(q) / libm::tgamma(p + q))).ln()
    }
}

/// ln(1 + d) − d without cancellation for small d.
pub fn log1pmx(d: f64) -> f64 {
    if d.abs() >= 0.5 {
        return d.ln_1p() - d;
    }
    // ln(1 + d) = 2 atanh(y) with y = d / (2 + d), |y| <= 1/3, and 2y − d = −d²/(2 + d).
    let y = d / (2.0 + d);
    let y2 = y * y;
    let mut term = y * y2;
    let mut series = 0.0f64;
    let mut k = 3.0;
    while term.abs() > 1e-18 * series.abs().max(f64::MIN_POSITIVE) {
        series += term / k;
        term *= y2;
        k += 2.0;
        if k > 99.0 {
            break;
        }
    }
    -d * d / (2.0 + d) + 2.0 * series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_beta_small_and_large() {
        // B(2, 3) = 1/12; B(0.5, 0.5) = π.
        assert!((ln_beta(2.0, 3.0) - (1.0f64 / 12.0).ln()).abs() < 1e-15);
        assert!((ln_beta(0.5, 0.5) - std::f64::consts::PI.ln()).abs() < 1e-15);
        // B(a, 1) = 1/a, exact for any a.
        for a in [10.0, 123.5, 1e4, 3e6] {
            let got = ln_beta(a, 1.0);
            assert!(
                (got + f64::ln(a)).abs() <= 1e-14 * f64::ln(a).abs(),
                "{a}: {got}"
            );
        }
        // B(a, 2) = 1/(a(a+1)).
        for a in [10.0f64, 1e5, 2.5e7] {
            let want = -(a * (a + 1.0)).ln();
            assert!((ln_beta(a, 2.0) - want).abs() <= 1e-14 * want.abs());
        }
        // Symmetric large case against the lgamma difference where that is still exact enough.
        let a = 40.0;
        let b = 55.5;
        let want = libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b);
        assert!((ln_beta(a, b) - want).abs() < 1e-12);
    }

    #[test]
    fn log1pmx_small_and_large() {
        for d in [1e-9, -3e-4, 0.1, -0.3, 0.49, 0.7, -0.9, 5.0] {
            let want = f64::ln_1p(d) - d;
            let got = log1pmx(d);
            // Away from zero the direct form is accurate; near zero compare with the series.
            if d.abs() > 0.05 {
                assert!(
                    (got - want).abs() <= 1e-15 * want.abs().max(1e-300) * 4.0,
                    "{d}"
                );
            }
        }
        let d = 1e-6f64;
        let series = -d * d / 2.0 + d * d * d / 3.0 - d.powi(4) / 4.0;
        assert!((log1pmx(d) - series).abs() <= 1e-15 * series.abs());
    }

    #[test]
    fn normal_tails() {
        assert!((norm_cdf(1.959963984540054) - 0.975).abs() < 1e-15);
        assert!((norm_ppf(0.975) - 1.959963984540054).abs() < 1e-14);
        assert!((norm_isf(1e-10) - 6.361340902404056).abs() < 1e-12);
        assert!((norm_sf(8.0) / 6.22096057427174e-16 - 1.0).abs() < 1e-12);
    }
}
