//! Sequential monitoring of an experiment.
//!
//! (a) Always-valid inference (Johari, Koomen, Pekelis & Walsh 2017/2022, "Always valid
//! inference"; Howard, Ramdas, McAuliffe & Sekhon 2021): the mixture SPRT with a normal mixing
//! distribution N(δ₀, τ²) over the difference δ = μ_a − μ_b. With δ̂ the difference of the
//! cumulative means and V = s²_a/n_a + s²_b/n_b its variance, the mixture likelihood ratio is
//! Λ = √(V/(V + τ²)) exp(τ² (δ̂ − δ₀)² / (2 V (V + τ²))). The always-valid p-value is the running
//! minimum of 1/Λ, and the confidence sequence is {δ₀ : Λ(δ₀) < 1/α}, i.e.
//! δ̂ ± √(V (V + τ²)/τ² · (2 ln(1/α) + ln((V + τ²)/V))), intersected over looks. Plugging in the
//! sample variances makes the guarantee asymptotic (valid as counts grow), as in both papers.
//!
//! (b) Group-sequential boundaries for K planned looks at information fractions t_1 < … < t_K:
//! Lan-DeMets spending functions (O'Brien-Fleming-type f(t) = 2 − 2Φ(z_{1−α₁/2}/√t) and
//! Pocock-type f(t) = α₁ ln(1 + (e − 1) t), α₁ the level per side) and the classical constant
//! boundaries of O'Brien & Fleming (c_k = C/√t_k) and Pocock (c_k = C). The exit probabilities
//! come from the Armitage–McPherson–Rowe recursion: the sub-density of the score B_k = Z_k √t_k
//! on the continuation region is propagated look to look by convolution with the N(0, t_k −
//! t_{k−1}) increment, integrated by Simpson's rule on a grid finer than the increment's sd.
//! For a two-sided test at level α each side spends α/2, as R `ldbounds` and `gsDesign`.

use serde::{Deserialize, Serialize};

use super::error::{invalid, ExperimentsError, Result};
use crate::stats::{brent, norm_cdf, norm_isf, norm_pdf, norm_sf, Moments};
use crate::stats::{check_same_len, check_unit_open};

/// One look of the always-valid analysis of `a − b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialLook {
    pub estimate: f64,
    pub std_error: f64,
    /// Always-valid p-value for δ = δ₀ (non-increasing over looks).
    pub pvalue: f64,
    /// Confidence sequence (running intersection, so bounds only tighten).
    pub ci_low: f64,
    pub ci_high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceSequence {
    /// τ² of the normal mixture, on the scale of the squared difference.
    pub mixing_variance: f64,
    pub looks: Vec<SequentialLook>,
}

/// r* minimising (1 + r)/r · (c + ln(1 + r)) with c = 2 ln(1/α): the mixing variance
/// τ² = r* V makes the sequence narrowest where the variance of the estimate is V. The optimum
/// solves r = c + ln(1 + r), a contraction.
pub fn optimal_mixing_ratio(alpha: f64) -> f64 {
    let c = 2.0 * (1.0 / alpha).ln();
    let mut r = c;
    for _ in 0..200 {
        let next = c + r.ln_1p();
        if (next - r).abs() <= 1e-15 * next {
            return next;
        }
        r = next;
    }
    r
}

/// Always-valid p-values and confidence sequence for `mean_a − mean_b` from the cumulative
/// statistics of each arm at each look. `mixing_variance` None tunes τ² to the last look.
pub fn confidence_sequence(
    looks_a: &[Moments],
    looks_b: &[Moments],
    alpha: f64,
    mixing_variance: Option<f64>,
    null_difference: f64,
) -> Result<ConfidenceSequence> {
    check_unit_open(alpha, "alpha")?;
    check_same_len("looks of arm a and arm b", looks_a.len(), looks_b.len())?;
    if looks_a.is_empty() {
        return Err(ExperimentsError::InsufficientData("no looks".into()));
    }
    if !null_difference.is_finite() {
        return Err(invalid("null_difference must be finite"));
    }
    let mut variances = Vec::with_capacity(looks_a.len());
    for (k, (a, b)) in looks_a.iter().zip(looks_b).enumerate() {
        if a.n < 2 || b.n < 2 {
            return Err(ExperimentsError::InsufficientData(format!(
                "look {k}: each arm needs at least two observations"
            )));
        }
        if k > 0 && (a.n < looks_a[k - 1].n || b.n < looks_b[k - 1].n) {
            return Err(invalid(format!(
                "look {k}: counts must be cumulative (non-decreasing)"
            )));
        }
        let v = a.variance() / a.n as f64 + b.variance() / b.n as f64;
        if !v.is_finite() {
            return Err(ExperimentsError::Degenerate(format!(
                "look {k}: the variance of the difference is not finite"
            )));
        }
        variances.push(v);
    }
    // A look where both arms are constant (say, nobody has converted yet) carries no information
    // about the difference: it leaves the p-value and the interval as they were. With no informative
    // look at all, the p-value is undefined (NaN) and the interval unbounded.
    let last_informative = variances.iter().rev().find(|&&v| v > 0.0).copied();
    let tau2 = match mixing_variance {
        Some(t) if t > 0.0 && t.is_finite() => t,
        Some(t) => return Err(invalid(format!("mixing_variance must be > 0, got {t}"))),
        None => match last_informative {
            Some(v) => optimal_mixing_ratio(alpha) * v,
            None => f64::NAN,
        },
    };
    let log_inv_alpha = (1.0 / alpha).ln();
    let mut running_p: f64 = 1.0;
    let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
    let looks = looks_a
        .iter()
        .zip(looks_b)
        .zip(&variances)
        .map(|((a, b), &v)| {
            let estimate = a.mean - b.mean;
            if last_informative.is_none() || v == 0.0 {
                return SequentialLook {
                    estimate,
                    std_error: 0.0,
                    pvalue: if last_informative.is_none() {
                        f64::NAN
                    } else {
                        running_p
                    },
                    ci_low: low,
                    ci_high: high,
                };
            }
            let dev = estimate - null_difference;
            let log_lambda =
                0.5 * (v / (v + tau2)).ln() + tau2 * dev * dev / (2.0 * v * (v + tau2));
            running_p = running_p.min((-log_lambda).exp().min(1.0));
            let half_width =
                (v * (v + tau2) / tau2 * (2.0 * log_inv_alpha + ((v + tau2) / v).ln())).sqrt();
            low = low.max(estimate - half_width);
            high = high.min(estimate + half_width);
            SequentialLook {
                estimate,
                std_error: v.sqrt(),
                pvalue: running_p,
                ci_low: low,
                ci_high: high,
            }
        })
        .collect();
    Ok(ConfidenceSequence {
        mixing_variance: tau2,
        looks,
    })
}

/// Shape of the group-sequential efficacy boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BoundaryKind {
    /// Lan-DeMets O'Brien-Fleming-type spending function.
    #[default]
    ObrienFlemingSpending,
    /// Lan-DeMets Pocock-type spending function.
    PocockSpending,
    /// Classical O'Brien & Fleming (1979): c_k = C / √t_k.
    ObrienFleming,
    /// Classical Pocock (1977): c_k = C.
    Pocock,
}

impl std::str::FromStr for BoundaryKind {
    type Err = ExperimentsError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "obf-spending" => Ok(BoundaryKind::ObrienFlemingSpending),
            "pocock-spending" => Ok(BoundaryKind::PocockSpending),
            "obf" => Ok(BoundaryKind::ObrienFleming),
            "pocock" => Ok(BoundaryKind::Pocock),
            other => Err(invalid(format!(
                "kind must be 'obf-spending', 'pocock-spending', 'obf' or 'pocock', got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSequentialBounds {
    pub info_fractions: Vec<f64>,
    /// Efficacy boundary on the z scale at each look (|Z_k| >= z_k rejects when two-sided).
    pub z: Vec<f64>,
    /// Nominal p-value threshold at each look (two-sided when the design is).
    pub nominal_alpha: Vec<f64>,
    /// Cumulative probability under H0 of crossing by each look, from the recursion.
    pub cumulative_alpha: Vec<f64>,
}

/// Sub-density of the score on the continuation region, as quadrature nodes and masses: the
/// integral of h against it is Σ mass_i h(node_i).
struct Mass {
    time: f64,
    nodes: Vec<f64>,
    masses: Vec<f64>,
}

/// Grid points per standard deviation of the smallest neighbouring increment.
const POINTS_PER_SD: f64 = 48.0;
/// The continuation region is clipped to ±`SCORE_CLIP` standard deviations of the score,
/// beyond which the N(0, t) score has no mass worth carrying (< 1e-30).
const SCORE_CLIP: f64 = 12.0;

impl Mass {
    fn start() -> Self {
        Mass {
            time: 0.0,
            nodes: vec![0.0],
            masses: vec![1.0],
        }
    }

    /// P(no earlier crossing, Z_k >= c) at time t.
    fn exit_upper(&self, t: f64, c: f64) -> f64 {
        let sd = (t - self.time).sqrt();
        let edge = c * t.sqrt();
        self.nodes
            .iter()
            .zip(&self.masses)
            .map(|(u, w)| w * norm_sf((edge - u) / sd))
            .sum()
    }

    /// P(no earlier crossing, Z_k <= −c) at time t.
    fn exit_lower(&self, t: f64, c: f64) -> f64 {
        let sd = (t - self.time).sqrt();
        let edge = -c * t.sqrt();
        self.nodes
            .iter()
            .zip(&self.masses)
            .map(|(u, w)| w * norm_cdf((edge - u) / sd))
            .sum()
    }

    /// Propagate to time t and restrict to the continuation region of boundary c. `next_gap`
    /// is the increment to the following look (sets the grid spacing).
    fn advance(&self, t: f64, c: f64, two_sided: bool, next_gap: f64) -> Mass {
        let sd = (t - self.time).sqrt();
        let clip = SCORE_CLIP * t.sqrt();
        let hi = (c * t.sqrt()).min(clip);
        let lo = if two_sided { -hi } else { -clip };
        let step = sd.min(next_gap.sqrt()) / POINTS_PER_SD;
        let mut intervals = (((hi - lo) / step).ceil() as usize).max(2);
        intervals += intervals % 2;
        let h = (hi - lo) / intervals as f64;
        let nodes: Vec<f64> = (0..=intervals).map(|j| lo + j as f64 * h).collect();
        let masses = nodes
            .iter()
            .enumerate()
            .map(|(j, &b)| {
                let simpson = if j == 0 || j == intervals {
                    1.0
                } else if j % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                let density: f64 = self
                    .nodes
                    .iter()
                    .zip(&self.masses)
                    .map(|(u, w)| w * norm_pdf((b - u) / sd) / sd)
                    .sum();
                simpson * h / 3.0 * density
            })
            .collect();
        Mass {
            time: t,
            nodes,
            masses,
        }
    }
}

fn check_fractions(info_fractions: &[f64]) -> Result<()> {
    if info_fractions.is_empty() {
        return Err(invalid("need at least one look"));
    }
    let mut prev = 0.0;
    for &t in info_fractions {
        if !(t > prev && t <= 1.0) {
            return Err(invalid(
                "information fractions must be strictly increasing in (0, 1]",
            ));
        }
        prev = t;
    }
    Ok(())
}

/// Walk the looks with a rule giving each look's boundary from the mass carried so far.
fn run_design(
    info_fractions: &[f64],
    two_sided: bool,
    mut boundary_at: impl FnMut(usize, &Mass, f64) -> Result<f64>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut mass = Mass::start();
    let mut z = Vec::with_capacity(info_fractions.len());
    let mut cumulative = Vec::with_capacity(info_fractions.len());
    let mut total = 0.0;
    for (k, &t) in info_fractions.iter().enumerate() {
        let c = boundary_at(k, &mass, t)?;
        let crossing = mass.exit_upper(t, c)
            + if two_sided {
                mass.exit_lower(t, c)
            } else {
                0.0
            };
        total += crossing;
        z.push(c);
        cumulative.push(total);
        if k + 1 < info_fractions.len() {
            let gap = info_fractions[k + 1] - t;
            mass = mass.advance(t, c, two_sided, gap);
        }
    }
    Ok((z, cumulative))
}

/// Efficacy boundaries for planned looks at `info_fractions` with overall level `alpha`.
pub fn group_sequential_bounds(
    info_fractions: &[f64],
    alpha: f64,
    kind: BoundaryKind,
    two_sided: bool,
) -> Result<GroupSequentialBounds> {
    check_unit_open(alpha, "alpha")?;
    check_fractions(info_fractions)?;
    let per_side = if two_sided { alpha / 2.0 } else { alpha };
    let (z, cumulative_alpha) = match kind {
        BoundaryKind::ObrienFlemingSpending | BoundaryKind::PocockSpending => {
            let spend = |t: f64| match kind {
                BoundaryKind::PocockSpending => {
                    per_side * (1.0 + (std::f64::consts::E - 1.0) * t).ln()
                }
                _ => 2.0 * norm_sf(norm_isf(per_side / 2.0) / t.sqrt()),
            };
            let mut spent = 0.0;
            run_design(info_fractions, two_sided, |_, mass, t| {
                let target = spend(t) - spent;
                spent = spend(t);
                if target <= 0.0 {
                    return Ok(f64::INFINITY);
                }
                if mass.nodes.len() == 1 {
                    // First look: the crossing probability is exactly Φ̄(c).
                    return Ok(norm_isf(target));
                }
                Ok(brent(
                    |c| (mass.exit_upper(t, c) - target) / target,
                    0.0,
                    40.0,
                    1e-12,
                    0.0,
                    200,
                )?)
            })?
        }
        BoundaryKind::ObrienFleming | BoundaryKind::Pocock => {
            let shape = |t: f64| {
                if kind == BoundaryKind::Pocock {
                    1.0
                } else {
                    1.0 / t.sqrt()
                }
            };
            let total_for = |constant: f64| -> f64 {
                run_design(info_fractions, two_sided, |_, _, t| Ok(constant * shape(t)))
                    .map_or(f64::NAN, |(_, cum)| cum[cum.len() - 1])
            };
            let constant = brent(|c| total_for(c) - alpha, 0.1, 40.0, 1e-12, 0.0, 200)?;
            run_design(info_fractions, two_sided, |_, _, t| Ok(constant * shape(t)))?
        }
    };
    let sides = if two_sided { 2.0 } else { 1.0 };
    let nominal_alpha = z.iter().map(|&c| (sides * norm_sf(c)).min(1.0)).collect();
    Ok(GroupSequentialBounds {
        info_fractions: info_fractions.to_vec(),
        z,
        nominal_alpha,
        cumulative_alpha,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equal(k: usize) -> Vec<f64> {
        (1..=k).map(|i| i as f64 / k as f64).collect()
    }

    #[test]
    fn lan_demets_obf_five_looks_matches_published() {
        // gsDesign / ldbounds: K = 5 equally spaced, two-sided alpha 0.05.
        let b = group_sequential_bounds(&equal(5), 0.05, BoundaryKind::ObrienFlemingSpending, true)
            .unwrap();
        let want = [4.877, 3.357, 2.680, 2.290, 2.031];
        for (got, w) in b.z.iter().zip(want) {
            assert!((got - w).abs() < 6e-4, "{:?}", b.z);
        }
        assert!(
            (b.cumulative_alpha[4] - 0.05).abs() < 1e-7,
            "{:?}",
            b.cumulative_alpha
        );
    }

    #[test]
    fn classical_constants_match_jennison_turnbull() {
        // Jennison & Turnbull (2000) Tables 2.1 and 2.3, K = 5, alpha = 0.05 two-sided:
        // Pocock C = 2.413, O'Brien-Fleming C = 2.040 (boundary C √(K/k)).
        let p = group_sequential_bounds(&equal(5), 0.05, BoundaryKind::Pocock, true).unwrap();
        assert!((p.z[0] - 2.413).abs() < 6e-4, "{:?}", p.z);
        let o =
            group_sequential_bounds(&equal(5), 0.05, BoundaryKind::ObrienFleming, true).unwrap();
        assert!((o.z[4] - 2.040).abs() < 6e-4, "{:?}", o.z);
        assert!((o.z[0] - 2.040 * 5f64.sqrt()).abs() < 2e-3);
    }

    #[test]
    fn single_look_is_the_fixed_design() {
        let b = group_sequential_bounds(&[1.0], 0.05, BoundaryKind::ObrienFlemingSpending, true)
            .unwrap();
        assert!((b.z[0] - 1.959_963_984_540_054).abs() < 1e-12);
        assert!(group_sequential_bounds(&[0.5, 0.5], 0.05, BoundaryKind::Pocock, true).is_err());
    }

    #[test]
    fn confidence_sequence_formula_and_monotonicity() {
        let a: Vec<Moments> = (1..=5)
            .map(|k| Moments::from_mean_var(100 * k, 1.0 + 0.1 / k as f64, 4.0).unwrap())
            .collect();
        let b: Vec<Moments> = (1..=5)
            .map(|k| Moments::from_mean_var(100 * k, 1.0, 4.0).unwrap())
            .collect();
        let cs = confidence_sequence(&a, &b, 0.05, Some(0.01), 0.0).unwrap();
        let v = 8.0 / 100.0;
        let tau2: f64 = 0.01;
        let half = (v * (v + tau2) / tau2 * (2.0 * 20f64.ln() + ((v + tau2) / v).ln())).sqrt();
        assert!((cs.looks[0].ci_high - (0.1 + half)).abs() < 1e-12);
        let lambda = (v / (v + tau2)).sqrt() * (tau2 * 0.01 / (2.0 * v * (v + tau2))).exp();
        assert!((cs.looks[0].pvalue - (1.0 / lambda).min(1.0)).abs() < 1e-12);
        for w in cs.looks.windows(2) {
            assert!(w[1].pvalue <= w[0].pvalue);
            assert!(w[1].ci_low >= w[0].ci_low && w[1].ci_high <= w[0].ci_high);
        }
        let r = optimal_mixing_ratio(0.05);
        assert!((r - (2.0 * 20f64.ln() + r.ln_1p())).abs() < 1e-12);
    }

    #[test]
    fn looks_without_variance_carry_no_information() {
        // Nobody has converted by the first two looks (both arms constant): those looks leave p = 1
        // and the interval unbounded; the later looks equal the sequence over the informative looks.
        let zero = |n| Moments::from_mean_var(n, 0.0, 0.0).unwrap();
        let a: Vec<Moments> = vec![zero(50), zero(80)]
            .into_iter()
            .chain((1..=3).map(|k| Moments::from_mean_var(100 * k, 0.3, 0.21).unwrap()))
            .collect();
        let b: Vec<Moments> = vec![zero(50), zero(80)]
            .into_iter()
            .chain((1..=3).map(|k| Moments::from_mean_var(100 * k, 0.2, 0.16).unwrap()))
            .collect();
        let all = confidence_sequence(&a, &b, 0.05, None, 0.0).unwrap();
        let informative = confidence_sequence(&a[2..], &b[2..], 0.05, None, 0.0).unwrap();
        for look in &all.looks[..2] {
            assert_eq!(look.pvalue, 1.0);
            assert!(look.ci_low.is_infinite() && look.ci_high.is_infinite());
        }
        assert_eq!(all.mixing_variance, informative.mixing_variance);
        for (x, y) in all.looks[2..].iter().zip(&informative.looks) {
            assert_eq!(
                (x.pvalue, x.ci_low, x.ci_high),
                (y.pvalue, y.ci_low, y.ci_high)
            );
        }
        // No informative look at all: the p-value is undefined, not an error.
        let none = confidence_sequence(&a[..2], &b[..2], 0.05, None, 0.0).unwrap();
        assert!(none.looks.iter().all(|l| l.pvalue.is_nan()));
    }
}
