//! Root finders: safeguarded Newton for quantiles, Brent for power curves.

use super::error::{Result, StatsError};

/// How to split a bracket when a Newton step is rejected.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bisect {
    /// Geometric midpoint once the bracket spans orders of magnitude (x ≥ 0).
    Geometric,
    /// Midpoint in logit space, for roots inside (0, 1) near either end.
    Logit,
}

impl Bisect {
    fn midpoint(self, lo: f64, hi: f64) -> f64 {
        let arithmetic = 0.5 * (lo + hi);
        match self {
            Bisect::Geometric => {
                if lo > 0.0 && hi / lo > 4.0 {
                    (lo.ln() * 0.5 + hi.ln() * 0.5).exp()
                } else if lo == 0.0 && hi > 1.0 {
                    // Head for small roots fast without losing the large ones.
                    hi.sqrt().min(arithmetic)
                } else {
                    arithmetic
                }
            }
            Bisect::Logit => {
                let lo_c = if lo <= 0.0 { f64::MIN_POSITIVE } else { lo };
                let hi_c = if hi >= 1.0 {
                    1.0 - f64::EPSILON / 2.0
                } else {
                    hi
                };
                let logit = |x: f64| x.ln() - (-x).ln_1p();
                let m = 0.5 * (logit(lo_c) + logit(hi_c));
                let x = 1.0 / (1.0 + (-m).exp());
                if x > lo && x < hi {
                    x
                } else {
                    arithmetic
                }
            }
        }
    }
}

/// Root of an increasing function on `[lo, hi]` given value and derivative.
///
/// Newton steps are taken while they stay inside the shrinking bracket and
/// halve the residual; otherwise the bracket is bisected. Stops when the step
/// is below `rel_tol` relative to the iterate.
pub(crate) fn solve_increasing<F>(
    f: F,
    mut lo: f64,
    mut hi: f64,
    x0: f64,
    bisect: Bisect,
    rel_tol: f64,
    max_iter: usize,
) -> Result<f64>
where
    F: Fn(f64) -> (f64, f64),
{
    let mut x = if x0 > lo && x0 < hi {
        x0
    } else {
        bisect.midpoint(lo, hi)
    };
    let mut previous_residual = f64::INFINITY;
    for _ in 0..max_iter {
        let (fx, dfx) = f(x);
        if fx.is_nan() {
            return Err(StatsError::NoConvergence("objective is NaN".into()));
        }
        if fx == 0.0 {
            return Ok(x);
        }
        if fx < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let newton = x - fx / dfx;
        let newton_ok = newton.is_finite() && newton > lo && newton < hi;
        // Accept Newton only while it converges; a stalled residual means the
        // iterate is oscillating and bisection is the safer step.
        let next = if newton_ok && fx.abs() <= 0.5 * previous_residual {
            newton
        } else {
            bisect.midpoint(lo, hi)
        };
        previous_residual = fx.abs();
        let scale = x.abs().max(next.abs());
        if (next - x).abs() <= rel_tol * scale || hi - lo <= rel_tol * hi.abs().max(lo.abs()) {
            return Ok(next);
        }
        if next == x {
            return Ok(x);
        }
        x = next;
    }
    Err(StatsError::NoConvergence(
        "safeguarded Newton exceeded its iterations".into(),
    ))
}

/// Brent's method (zeroin) for a root of `f` in `[a, b]`; `f(a)` and `f(b)`
/// must differ in sign. Converges to `xtol + rtol·|x|`.
pub(crate) fn brent<F>(f: F, a: f64, b: f64, xtol: f64, rtol: f64, max_iter: usize) -> Result<f64>
where
    F: Fn(f64) -> f64,
{
    let (mut a, mut b) = (a, b);
    let (mut fa, mut fb) = (f(a), f(b));
    if fa.is_nan() || fb.is_nan() {
        return Err(StatsError::NoConvergence(
            "objective is NaN at the bracket".into(),
        ));
    }
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    if fa.signum() == fb.signum() {
        return Err(StatsError::NoConvergence("root is not bracketed".into()));
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..max_iter {
        if fb.signum() == fc.signum() {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * (xtol + rtol * b.abs());
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return Ok(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                let qa = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * m * qa * (qa - r) - (b - a) * (r - 1.0));
                q = (qa - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if fb.is_nan() {
            return Err(StatsError::NoConvergence("objective is NaN".into()));
        }
    }
    Err(StatsError::NoConvergence(
        "Brent's method exceeded its iterations".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brent_finds_cube_root() {
        let r = brent(|x| x * x * x - 2.0, 0.0, 2.0, 1e-15, 1e-15, 200).unwrap();
        assert!((r - 2f64.cbrt()).abs() < 1e-14);
        // The Dottie number, cos x = x (OEIS A003957).
        let r = brent(|x| x.cos() - x, 0.0, 1.0, 1e-15, 0.0, 200).unwrap();
        assert!((r - 0.739_085_133_215_160_6).abs() < 1e-14);
        assert!(brent(|x| x * x + 1.0, -1.0, 1.0, 1e-12, 0.0, 200).is_err());
    }

    #[test]
    fn newton_finds_log_root() {
        let r = solve_increasing(
            |x| (x.ln() - 1e-3, 1.0 / x),
            0.0,
            10.0,
            5.0,
            Bisect::Geometric,
            1e-15,
            200,
        )
        .unwrap();
        assert!((r - 1e-3f64.exp()).abs() < 1e-14);
    }
}
