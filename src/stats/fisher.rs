//! Fisher's exact test on a 2×2 table, as scipy's `fisher_exact`.

use super::alternative::Alternative;
use super::checks::check_unit_open;
use super::error::Result;
use super::special::norm_isf;

/// Result of [`fisher_exact`].
#[derive(Debug, Clone, PartialEq)]
pub struct FisherExactResult {
    /// Sample odds ratio (a·d)/(b·c); inf when b or c is 0, NaN when a row or
    /// column is empty (scipy's conventions).
    pub statistic: f64,
    pub pvalue: f64,
    pub table: [[u64; 2]; 2],
    pub alternative: Alternative,
}

impl FisherExactResult {
    /// Woolf (logit) interval for the sample odds ratio; see [`fisher_exact_confint`].
    pub fn confidence_interval(&self, confidence_level: f64) -> Result<(f64, f64)> {
        fisher_exact_confint(self.table, confidence_level, self.alternative)
    }
}

/// Woolf (logit) interval for the sample odds ratio of `table`, equal to
/// scipy's `odds_ratio(table, kind="sample").confidence_interval(...)` when
/// every cell is positive. With a zero cell the log odds ratio has no finite
/// standard error and the interval is (0, inf), where scipy gives NaN ends.
pub fn fisher_exact_confint(
    table: [[u64; 2]; 2],
    confidence_level: f64,
    alternative: Alternative,
) -> Result<(f64, f64)> {
    check_unit_open(confidence_level, "confidence_level")?;
    let cells = [table[0][0], table[0][1], table[1][0], table[1][1]];
    if cells.contains(&0) {
        return Ok((0.0, f64::INFINITY));
    }
    let odds_ratio = (cells[0] as f64 * cells[3] as f64) / (cells[2] as f64 * cells[1] as f64);
    let log_or = odds_ratio.ln();
    let se = cells.iter().map(|&c| 1.0 / c as f64).sum::<f64>().sqrt();
    Ok(match alternative {
        Alternative::TwoSided => {
            let z = norm_isf((1.0 - confidence_level) / 2.0);
            ((log_or - z * se).exp(), (log_or + z * se).exp())
        }
        Alternative::Less => (0.0, (log_or + norm_isf(1.0 - confidence_level) * se).exp()),
        Alternative::Greater => (
            (log_or - norm_isf(1.0 - confidence_level) * se).exp(),
            f64::INFINITY,
        ),
    })
}

/// Hypergeometric law of the top-left cell given the margins: `draws` items
/// drawn from `total`, of which `successes` are marked. The pmf is built by
/// its term ratio outward from the mode and normalised, which keeps relative
/// accuracy even for margins in the billions where log-gamma differences
/// would lose digits; terms that underflow are dropped.
struct Hypergeometric {
    first: i64,
    probs: Vec<f64>,
}

impl Hypergeometric {
    fn new(total: u64, successes: u64, draws: u64) -> Self {
        let (nn, kk, n) = (total as f64, successes as f64, draws as f64);
        let lo = (draws + successes).saturating_sub(total) as i64;
        let hi = draws.min(successes) as i64;
        let mode = ((((n + 1.0) * (kk + 1.0)) / (nn + 2.0)).floor() as i64).clamp(lo, hi);
        // ratio(k) = pmf(k + 1) / pmf(k).
        let ratio = |k: f64| ((kk - k) * (n - k)) / ((k + 1.0) * (nn - kk - n + k + 1.0));
        let mut up = Vec::new();
        let mut u = 1.0f64;
        let mut k = mode;
        // Stop at the subnormal range: a term there adds nothing to any sum, and
        // rounding can pin it at the smallest subnormal for the rest of the support.
        while k < hi {
            u *= ratio(k as f64);
            if u < f64::MIN_POSITIVE {
                break;
            }
            up.push(u);
            k += 1;
        }
        let mut down = Vec::new();
        let mut u = 1.0f64;
        let mut k = mode;
        while k > lo {
            u /= ratio((k - 1) as f64);
            if u < f64::MIN_POSITIVE {
                break;
            }
            down.push(u);
            k -= 1;
        }
        let first = mode - down.len() as i64;
        let mut probs: Vec<f64> = down.into_iter().rev().collect();
        probs.push(1.0);
        probs.extend(up);
        let norm: f64 = probs.iter().sum();
        for p in &mut probs {
            *p /= norm;
        }
        Hypergeometric { first, probs }
    }

    fn pmf(&self, k: i64) -> f64 {
        if k < self.first {
            return 0.0;
        }
        self.probs
            .get((k - self.first) as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// P(X ≤ k), summed from the small end.
    fn cdf(&self, k: i64) -> f64 {
        if k < self.first {
            return 0.0;
        }
        let end = ((k - self.first + 1) as usize).min(self.probs.len());
        self.probs[..end].iter().sum()
    }

    /// P(X > k), summed from the small end.
    fn sf(&self, k: i64) -> f64 {
        let start = (k + 1 - self.first).max(0) as usize;
        if start >= self.probs.len() {
            return 0.0;
        }
        self.probs[start..].iter().rev().sum()
    }
}

/// scipy's `_binary_search_for_binom_tst`: the i in [lo, hi] with
/// a(i) ≤ d < a(i + 1) for an increasing `a`.
fn binary_search(a: impl Fn(i64) -> f64, d: f64, mut lo: i64, mut hi: i64) -> i64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let midval = a(mid);
        if midval < d {
            lo = mid + 1;
        } else if midval > d {
            hi = mid - 1;
        } else {
            return mid;
        }
    }
    if a(lo) <= d {
        lo
    } else {
        lo - 1
    }
}

/// Fisher's exact test of independence in `[[a, b], [c, d]]`.
///
/// The two-sided p-value sums the probabilities of all tables no more likely
/// than the observed one, with scipy's relative tolerance 1 + 1e-14 and its
/// search for the cut-off on the far side of the mode.
pub fn fisher_exact(table: [[u64; 2]; 2], alternative: Alternative) -> Result<FisherExactResult> {
    let [[a, b], [c, d]] = table;
    let done = |statistic: f64, pvalue: f64| FisherExactResult {
        statistic,
        pvalue,
        table,
        alternative,
    };
    if a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0 {
        return Ok(done(f64::NAN, 1.0));
    }
    let odds_ratio = if c > 0 && b > 0 {
        (a as f64 * d as f64) / (c as f64 * b as f64)
    } else {
        f64::INFINITY
    };
    let n1 = a + b;
    let n2 = c + d;
    let n = a + c;
    let dist = Hypergeometric::new(n1 + n2, n1, n);
    let x = a as i64;
    let pvalue = match alternative {
        Alternative::Less => dist.cdf(x),
        Alternative::Greater => dist.sf(x - 1),
        Alternative::TwoSided => {
            let mode = ((n as f64 + 1.0) * (n1 as f64 + 1.0) / (n1 as f64 + n2 as f64 + 2.0))
                .floor() as i64;
            let pexact = dist.pmf(x);
            let pmode = dist.pmf(mode);
            let epsilon = 1e-14;
            let gamma = 1.0 + epsilon;
            if (pexact - pmode).abs() / pexact.max(pmode) <= epsilon {
                return Ok(done(odds_ratio, 1.0));
            }
            let n = n as i64;
            if x < mode {
                let plower = dist.cdf(x);
                if dist.pmf(n) > pexact * gamma {
                    return Ok(done(odds_ratio, plower));
                }
                let guess = binary_search(|k| -dist.pmf(k), -pexact * gamma, mode, n);
                plower + dist.sf(guess)
            } else {
                let pupper = dist.sf(x - 1);
                if dist.pmf(0) > pexact * gamma {
                    return Ok(done(odds_ratio, pupper));
                }
                let guess = binary_search(|k| dist.pmf(k), pexact * gamma, 0, mode);
                pupper + dist.cdf(guess)
            }
        }
    };
    Ok(done(odds_ratio, pvalue.min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        ((a - b) / b).abs() < tol
    }

    // scipy.stats.fisher_exact([[8, 2], [1, 5]]) for each alternative, and
    // scipy.stats.contingency.odds_ratio(..., kind="sample").confidence_interval().
    #[test]
    fn matches_scipy() {
        let t = [[8, 2], [1, 5]];
        let r = fisher_exact(t, Alternative::TwoSided).unwrap();
        assert_eq!(r.statistic, 20.0);
        assert!(close(r.pvalue, SCIPY.0, 1e-13), "{}", r.pvalue);
        assert!(close(
            fisher_exact(t, Alternative::Less).unwrap().pvalue,
            SCIPY.1,
            1e-13
        ));
        assert!(close(
            fisher_exact(t, Alternative::Greater).unwrap().pvalue,
            SCIPY.2,
            1e-13
        ));
        let (lo, hi) = r.confidence_interval(0.95).unwrap();
        assert!(close(lo, SCIPY.3, 1e-13) && close(hi, SCIPY.4, 1e-13));
    }

    #[test]
    fn empty_margin_gives_nan_and_one() {
        let r = fisher_exact([[0, 0], [3, 4]], Alternative::TwoSided).unwrap();
        assert!(r.statistic.is_nan());
        assert_eq!(r.pvalue, 1.0);
    }

    #[test]
    fn huge_margins_stay_accurate() {
        // scipy.stats.fisher_exact([[500_000, 510_000], [520_000, 515_000]]).
        let r = fisher_exact(
            [[500_000, 510_000], [520_000, 515_000]],
            Alternative::TwoSided,
        )
        .unwrap();
        assert!(close(r.pvalue, SCIPY_HUGE, 1e-9), "{}", r.pvalue);
    }

    // (two-sided, less, greater, CI low, CI high) from scipy 1.17.
    // Margins of 1e9, against the pmf ratio recurrence in 45-digit decimals
    // (Python's decimal module); scipy is off by 1.2e-7 relative here.
    #[test]
    fn billion_margins_match_decimal_reference() {
        let t = [[500_000_000, 500_000_000], [500_030_000, 499_990_000]];
        let two_sided = fisher_exact(t, Alternative::TwoSided).unwrap().pvalue;
        assert!(close(two_sided, 0.37111968041903554, 1e-11), "{two_sided}");
        let less = fisher_exact(t, Alternative::Less).unwrap().pvalue;
        assert!(close(less, 0.18556223214719914, 1e-11), "{less}");
    }

    const SCIPY: (f64, f64, f64, f64, f64) = (
        0.034965034965034975,
        0.9991258741258742,
        0.024475524475524483,
        1.4161851393939529,
        282.44894602634895,
    );
    const SCIPY_HUGE: f64 = 6.146455735720264e-26;
}
