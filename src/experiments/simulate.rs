//! Monte Carlo A/A and power simulation of the frequentist tests, and of peeking.
//!
//! Each run draws both arms afresh from its own generator `crate::rng::stream(seed,
//! Domain::Simulation, run)`, so results are reproducible and independent of the thread count. The
//! p-values come from the product's own tests in `crate::stats` (pooled two-proportion z, Pearson
//! χ² without Yates' correction, Welch's t, Mann-Whitney U with `method="asymptotic"`), so an A/A
//! simulation checks the very code users run; only the large-sample z test on means is computed
//! here. A test whose statistic is undefined in a run (both arms all zeros, say) gives a NaN
//! p-value and counts as not rejecting.

use rand::Rng;
use rand_distr::{Binomial, ChiSquared, Distribution, LogNormal, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{invalid, ExperimentsError, Result};
use super::sequential::optimal_mixing_ratio;
use crate::rng::{stream, Domain};
use crate::stats::check_unit_open;
use crate::stats::{
    chi2_contingency, mannwhitneyu, norm_isf, norm_sf, test_proportions_2indep,
    ttest_ind_from_stats, Alternative as StatsAlternative, Moments, MwuMethod, StatsError,
};

/// Data-generating model of arm A; arm B is the same with its mean scaled by 1 + lift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SimMetric {
    /// Conversion with probability `p`.
    Proportion { p: f64 },
    /// Normal values.
    Normal { mean: f64, sd: f64 },
    /// Revenue-like values: zero with probability 1 − `purchase_rate`, else log-normal with
    /// log-scale sd `sigma`, scaled so the mean over all users is `mean`.
    Revenue {
        mean: f64,
        purchase_rate: f64,
        sigma: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SimTest {
    /// Proportions: pooled two-proportion z; means: large-sample z on the difference.
    ZTest,
    /// Pearson χ² on the 2×2 table, no continuity correction (proportions only).
    ChiSquare,
    WelchT,
    MannWhitney,
}

impl SimTest {
    pub fn name(&self) -> &'static str {
        match self {
            SimTest::ZTest => "z",
            SimTest::ChiSquare => "chi2",
            SimTest::WelchT => "welch_t",
            SimTest::MannWhitney => "mann_whitney",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    pub metric: SimMetric,
    pub relative_lift: f64,
    pub n_a: u64,
    pub n_b: u64,
    pub runs: u64,
    pub alpha: f64,
    pub seed: u64,
    pub tests: Vec<SimTest>,
    /// Level of the Wilson interval reported around each rejection rate.
    pub confidence_level: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RejectionRate {
    pub rejections: u64,
    pub runs: u64,
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestRejection {
    pub test: SimTest,
    pub rate: RejectionRate,
}

/// Wilson score interval of `k` successes in `n` trials.
pub fn wilson_interval(k: u64, n: u64, confidence_level: f64) -> (f64, f64) {
    let z = norm_isf((1.0 - confidence_level) / 2.0);
    let nf = n as f64;
    let p = k as f64 / nf;
    let z2n = z * z / nf;
    let center = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z / (1.0 + z2n) * (p * (1.0 - p) / nf + z2n / (4.0 * nf)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

fn rejection_rate(k: u64, n: u64, confidence_level: f64) -> RejectionRate {
    let (ci_low, ci_high) = wilson_interval(k, n, confidence_level);
    RejectionRate {
        rejections: k,
        runs: n,
        rate: k as f64 / n as f64,
        ci_low,
        ci_high,
    }
}

fn two_sided_normal_p(z: f64) -> f64 {
    if z.is_finite() {
        (2.0 * norm_sf(z.abs())).min(1.0)
    } else {
        f64::NAN
    }
}

fn stats_err(test: SimTest) -> impl Fn(StatsError) -> ExperimentsError {
    move |e| {
        ExperimentsError::Numerical(format!(
            "{} test failed in a simulated run: {e}",
            test.name()
        ))
    }
}

/// p-value of `test` on simulated conversions; `scratch` holds the 0/1 values Mann-Whitney
/// ranks.
fn proportions_pvalue(
    test: SimTest,
    (xa, na): (u64, u64),
    (xb, nb): (u64, u64),
    scratch: &mut Vec<f64>,
) -> Result<f64> {
    let (xaf, naf, xbf, nbf) = (xa as f64, na as f64, xb as f64, nb as f64);
    let p = match test {
        SimTest::ZTest => {
            test_proportions_2indep(xaf, naf, xbf, nbf, StatsAlternative::TwoSided, false)
                .map(|r| r.pvalue)
        }
        SimTest::ChiSquare => {
            let table = [xaf, naf - xaf, xbf, nbf - xbf];
            chi2_contingency(&table, 2, 2, false).map(|r| r.pvalue)
        }
        SimTest::WelchT => {
            let (a, b) = (binary_moments(xa, na), binary_moments(xb, nb));
            welch_pvalue(&a, &b)
        }
        SimTest::MannWhitney => {
            scratch.clear();
            scratch.extend((0..na).map(|i| f64::from(u8::from(i < xa))));
            scratch.extend((0..nb).map(|i| f64::from(u8::from(i < xb))));
            let (a, b) = scratch.split_at(na as usize);
            mannwhitneyu(
                a,
                b,
                StatsAlternative::TwoSided,
                true,
                MwuMethod::Asymptotic,
            )
            .map(|r| r.pvalue)
        }
    };
    p.map_err(stats_err(test))
}

fn welch_pvalue(a: &Moments, b: &Moments) -> std::result::Result<f64, StatsError> {
    let (na, nb) = (a.n as f64, b.n as f64);
    ttest_ind_from_stats(
        a.mean,
        a.std(),
        na,
        b.mean,
        b.std(),
        nb,
        false,
        StatsAlternative::TwoSided,
    )
    .map(|r| r.pvalue)
}

/// Large-sample z test of the difference of two means (unpooled variances).
fn z_means(a: &Moments, b: &Moments) -> f64 {
    let se = (a.variance() / a.n as f64 + b.variance() / b.n as f64).sqrt();
    two_sided_normal_p((a.mean - b.mean) / se)
}

/// p-value of `test` on simulated values.
fn values_pvalue(test: SimTest, a: &[f64], b: &[f64]) -> Result<f64> {
    let (ma, mb) = (moments_of(a), moments_of(b));
    match test {
        SimTest::ZTest => Ok(z_means(&ma, &mb)),
        SimTest::WelchT => welch_pvalue(&ma, &mb).map_err(stats_err(test)),
        SimTest::MannWhitney => mannwhitneyu(
            a,
            b,
            StatsAlternative::TwoSided,
            true,
            MwuMethod::Asymptotic,
        )
        .map(|r| r.pvalue)
        .map_err(stats_err(test)),
        SimTest::ChiSquare => Err(invalid("the chi-square test applies to proportions only")),
    }
}

/// A sampler of per-user values of one arm.
#[derive(Clone, Copy)]
enum ValueSampler {
    Normal(Normal<f64>),
    Revenue {
        purchase_rate: f64,
        spend: LogNormal<f64>,
    },
}

impl ValueSampler {
    fn sample(&self, rng: &mut impl Rng) -> f64 {
        match self {
            ValueSampler::Normal(d) => d.sample(rng),
            ValueSampler::Revenue {
                purchase_rate,
                spend,
            } => {
                if rng.random::<f64>() < *purchase_rate {
                    spend.sample(rng)
                } else {
                    0.0
                }
            }
        }
    }
}

fn value_sampler(metric: &SimMetric, scale: f64) -> Result<ValueSampler> {
    match *metric {
        SimMetric::Normal { mean, sd } => Normal::new(mean * scale, sd)
            .map(ValueSampler::Normal)
            .map_err(|e| invalid(format!("normal model: {e}"))),
        SimMetric::Revenue {
            mean,
            purchase_rate,
            sigma,
        } => {
            let mu = (mean * scale / purchase_rate).ln() - sigma * sigma / 2.0;
            LogNormal::new(mu, sigma)
                .map(|spend| ValueSampler::Revenue {
                    purchase_rate,
                    spend,
                })
                .map_err(|e| invalid(format!("revenue model: {e}")))
        }
        SimMetric::Proportion { .. } => Err(invalid("proportions are not value-sampled")),
    }
}

fn check_metric(metric: &SimMetric, lift: f64) -> Result<()> {
    let ok = match *metric {
        SimMetric::Proportion { p } => p > 0.0 && p < 1.0 && p * (1.0 + lift) <= 1.0,
        SimMetric::Normal { mean, sd } => mean.is_finite() && sd > 0.0 && sd.is_finite(),
        SimMetric::Revenue {
            mean,
            purchase_rate,
            sigma,
        } => {
            mean > 0.0
                && purchase_rate > 0.0
                && purchase_rate <= 1.0
                && sigma > 0.0
                && sigma.is_finite()
        }
    };
    if !(ok && lift > -1.0 && lift.is_finite()) {
        return Err(invalid(format!(
            "invalid simulation model {metric:?} with relative lift {lift}"
        )));
    }
    Ok(())
}

/// Rejection rate of each requested test over `runs` simulated experiments.
pub fn simulate(config: &SimConfig) -> Result<Vec<TestRejection>> {
    check_unit_open(config.alpha, "alpha")?;
    check_unit_open(config.confidence_level, "confidence_level")?;
    check_metric(&config.metric, config.relative_lift)?;
    if config.runs == 0 {
        return Err(invalid("runs must be positive"));
    }
    if config.n_a < 2 || config.n_b < 2 {
        return Err(ExperimentsError::InsufficientData(
            "each arm needs at least two users".into(),
        ));
    }
    if config.tests.is_empty() {
        return Err(invalid("no test requested"));
    }
    let proportions = matches!(config.metric, SimMetric::Proportion { .. });
    if !proportions && config.tests.contains(&SimTest::ChiSquare) {
        return Err(invalid("the chi-square test applies to proportions only"));
    }
    let scale_b = 1.0 + config.relative_lift;
    let tests = &config.tests;
    let counts: Vec<u64> = match config.metric {
        SimMetric::Proportion { p } => {
            let da = Binomial::new(config.n_a, p).map_err(|e| invalid(e.to_string()))?;
            let db = Binomial::new(config.n_b, p * scale_b).map_err(|e| invalid(e.to_string()))?;
            count_rejections(config, |rng, scratch| {
                let (xa, xb) = (da.sample(rng), db.sample(rng));
                tests
                    .iter()
                    .map(|&t| proportions_pvalue(t, (xa, config.n_a), (xb, config.n_b), scratch))
                    .collect()
            })?
        }
        _ => {
            let sa = value_sampler(&config.metric, 1.0)?;
            let sb = value_sampler(&config.metric, scale_b)?;
            count_rejections(config, |rng, _| {
                let a: Vec<f64> = (0..config.n_a).map(|_| sa.sample(rng)).collect();
                let b: Vec<f64> = (0..config.n_b).map(|_| sb.sample(rng)).collect();
                tests.iter().map(|&t| values_pvalue(t, &a, &b)).collect()
            })?
        }
    };
    Ok(tests
        .iter()
        .zip(counts)
        .map(|(&test, k)| TestRejection {
            test,
            rate: rejection_rate(k, config.runs, config.confidence_level),
        })
        .collect())
}

fn binary_moments(x: u64, n: u64) -> Moments {
    let (xf, nf) = (x as f64, n as f64);
    Moments {
        n,
        mean: xf / nf,
        m2: xf * (nf - xf) / nf,
    }
}

fn moments_of(values: &[f64]) -> Moments {
    let mut m = Moments::EMPTY;
    for &v in values {
        m.push(v);
    }
    m
}

/// Runs `one_run` (returning one p-value per test) in parallel and counts p <= alpha.
fn count_rejections<F>(config: &SimConfig, one_run: F) -> Result<Vec<u64>>
where
    F: Fn(&mut rand_pcg::Pcg64, &mut Vec<f64>) -> Result<Vec<f64>> + Sync,
{
    let k = config.tests.len();
    (0..config.runs)
        .into_par_iter()
        .map_init(Vec::new, |scratch, run| {
            let mut rng = stream(config.seed, Domain::Simulation, run);
            let pvalues = one_run(&mut rng, scratch)?;
            Ok(pvalues
                .into_iter()
                .map(|p| u64::from(p <= config.alpha))
                .collect::<Vec<u64>>())
        })
        .try_reduce(
            || vec![0; k],
            |mut acc, x| {
                acc.iter_mut().zip(x).for_each(|(a, b)| *a += b);
                Ok(acc)
            },
        )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeekingConfig {
    pub metric: SimMetric,
    pub relative_lift: f64,
    /// Users added to each arm between looks.
    pub n_per_look_a: u64,
    pub n_per_look_b: u64,
    pub looks: usize,
    pub runs: u64,
    pub alpha: f64,
    /// τ² of the always-valid test; None tunes it to the planned final look with the true
    /// variance of the model (fixed before the data, as validity requires).
    pub mixing_variance: Option<f64>,
    pub seed: u64,
    pub confidence_level: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeekingResult {
    pub mixing_variance: f64,
    /// Always-valid p-value at or below alpha at some look.
    pub always_valid: RejectionRate,
    /// Fixed-horizon z test at or below alpha at some look (the peeking error).
    pub naive_peeking: RejectionRate,
    /// Fixed-horizon z test at the final look only.
    pub final_look: RejectionRate,
}

/// Variance of one user's value under the model.
fn model_variance(metric: &SimMetric, scale: f64) -> f64 {
    match *metric {
        SimMetric::Proportion { p } => p * scale * (1.0 - p * scale),
        SimMetric::Normal { sd, .. } => sd * sd,
        SimMetric::Revenue {
            mean,
            purchase_rate,
            sigma,
        } => {
            let m = mean * scale;
            // E[X²] = q E[S²] with E[S²] = E[S]² e^{σ²} and E[S] = m / q.
            let spend_mean = m / purchase_rate;
            purchase_rate * spend_mean * spend_mean * (sigma * sigma).exp() - m * m
        }
    }
}

/// Moments of one look's batch of `n` users.
fn draw_batch(
    metric: &SimMetric,
    sampler: Option<&ValueSampler>,
    scale: f64,
    n: u64,
    rng: &mut rand_pcg::Pcg64,
) -> Moments {
    match (*metric, sampler) {
        (SimMetric::Proportion { p }, _) => {
            let x = Binomial::new(n, p * scale).map_or(0, |d| d.sample(rng));
            binary_moments(x, n)
        }
        // The batch mean and M2 of normal data are independent N(μ, σ²/n) and σ² χ²_{n−1}.
        (SimMetric::Normal { mean, sd }, _) => {
            let nf = n as f64;
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            let chi = ChiSquared::new(nf - 1.0).map_or(nf - 1.0, |d| d.sample(rng));
            Moments {
                n,
                mean: mean * scale + sd / nf.sqrt() * z,
                m2: sd * sd * chi,
            }
        }
        (_, Some(s)) => {
            let mut m = Moments::EMPTY;
            for _ in 0..n {
                m.push(s.sample(rng));
            }
            m
        }
        _ => Moments::EMPTY,
    }
}

/// Simulates monitoring after every look: the false-positive (or detection) rate of the
/// always-valid test against naive repeated z tests.
pub fn simulate_peeking(config: &PeekingConfig) -> Result<PeekingResult> {
    check_unit_open(config.alpha, "alpha")?;
    check_unit_open(config.confidence_level, "confidence_level")?;
    check_metric(&config.metric, config.relative_lift)?;
    if config.runs == 0 || config.looks == 0 {
        return Err(invalid("runs and looks must be positive"));
    }
    if config.n_per_look_a < 2 || config.n_per_look_b < 2 {
        return Err(ExperimentsError::InsufficientData(
            "each look needs at least two users per arm".into(),
        ));
    }
    let scale_b = 1.0 + config.relative_lift;
    let tau2 = match config.mixing_variance {
        Some(t) if t > 0.0 && t.is_finite() => t,
        Some(t) => return Err(invalid(format!("mixing_variance must be > 0, got {t}"))),
        None => {
            let k = config.looks as f64;
            let v = model_variance(&config.metric, 1.0) / (k * config.n_per_look_a as f64)
                + model_variance(&config.metric, scale_b) / (k * config.n_per_look_b as f64);
            optimal_mixing_ratio(config.alpha) * v
        }
    };
    let samplers = match config.metric {
        SimMetric::Revenue { .. } => Some((
            value_sampler(&config.metric, 1.0)?,
            value_sampler(&config.metric, scale_b)?,
        )),
        _ => None,
    };
    let log_inv_alpha = (1.0 / config.alpha).ln();
    let counts = (0..config.runs)
        .into_par_iter()
        .map(|run| {
            let mut rng = stream(config.seed, Domain::Simulation, run);
            let (mut a, mut b) = (Moments::EMPTY, Moments::EMPTY);
            let (mut valid, mut naive, mut last) = (false, false, false);
            for look in 0..config.looks {
                a = a.merge(&draw_batch(
                    &config.metric,
                    samplers.as_ref().map(|s| &s.0),
                    1.0,
                    config.n_per_look_a,
                    &mut rng,
                ));
                b = b.merge(&draw_batch(
                    &config.metric,
                    samplers.as_ref().map(|s| &s.1),
                    scale_b,
                    config.n_per_look_b,
                    &mut rng,
                ));
                let v = a.variance() / a.n as f64 + b.variance() / b.n as f64;
                if v.is_nan() || v <= 0.0 {
                    continue;
                }
                let d = a.mean - b.mean;
                let log_lambda =
                    0.5 * (v / (v + tau2)).ln() + tau2 * d * d / (2.0 * v * (v + tau2));
                valid |= log_lambda >= log_inv_alpha;
                let p = two_sided_normal_p(d / v.sqrt());
                naive |= p <= config.alpha;
                if look + 1 == config.looks {
                    last = p <= config.alpha;
                }
            }
            [u64::from(valid), u64::from(naive), u64::from(last)]
        })
        .reduce(|| [0; 3], |x, y| [x[0] + y[0], x[1] + y[1], x[2] + y[2]]);
    let rate = |k| rejection_rate(k, config.runs, config.confidence_level);
    Ok(PeekingResult {
        mixing_variance: tau2,
        always_valid: rate(counts[0]),
        naive_peeking: rate(counts[1]),
        final_look: rate(counts[2]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_hand_value() {
        // 10 of 100 at 95 %: (0.0552, 0.1744) (Wilson 1927; statsmodels proportion_confint).
        let (lo, hi) = wilson_interval(10, 100, 0.95);
        assert!(
            (lo - 0.055_229_6).abs() < 1e-6 && (hi - 0.174_366_5).abs() < 1e-6,
            "{lo} {hi}"
        );
    }

    #[test]
    fn p_values_match_scipy() {
        // scipy.stats.mannwhitneyu(method="asymptotic"), ttest_ind(equal_var=False) and
        // chi2_contingency(correction=False) on the same data.
        let a = [1.2, 3.4, 0.5, 2.2, 5.0, 3.4, 0.0, 0.0];
        let b = [0.1, 2.2, 0.7, 1.1, 0.0, 0.0, 0.3];
        let p = values_pvalue(SimTest::MannWhitney, &a, &b).unwrap();
        assert!((p - 0.198_141_296_310_424_43).abs() < 1e-13, "{p}");
        let p = values_pvalue(SimTest::WelchT, &a, &b).unwrap();
        assert!((p - 0.094_038_095_030_322_27).abs() < 1e-12, "{p}");
        let mut scratch = Vec::new();
        let p = proportions_pvalue(SimTest::ChiSquare, (90, 1000), (118, 1000), &mut scratch);
        assert!((p.unwrap() - 0.040_263_866_063_635_74).abs() < 1e-13);
        let p = proportions_pvalue(SimTest::MannWhitney, (90, 1000), (118, 1000), &mut scratch);
        assert!((p.unwrap() - 0.040_320_969_119_522_765).abs() < 1e-13);
        // Pearson χ² without correction on a 2×2 table is the pooled z test squared.
        let z = proportions_pvalue(SimTest::ZTest, (90, 1000), (118, 1000), &mut scratch);
        assert!((z.unwrap() - 0.040_263_866_063_635_74).abs() < 1e-13);
    }

    #[test]
    fn aa_rates_are_near_alpha_and_power_grows() {
        let base = SimConfig {
            metric: SimMetric::Proportion { p: 0.1 },
            relative_lift: 0.0,
            n_a: 2000,
            n_b: 2000,
            runs: 4000,
            alpha: 0.05,
            seed: 11,
            tests: vec![
                SimTest::ZTest,
                SimTest::ChiSquare,
                SimTest::WelchT,
                SimTest::MannWhitney,
            ],
            confidence_level: 0.99,
        };
        for r in simulate(&base).unwrap() {
            assert!(r.rate.ci_low < 0.05 && 0.05 < r.rate.ci_high, "{r:?}");
        }
        let power = simulate(&SimConfig {
            relative_lift: 0.2,
            ..base.clone()
        })
        .unwrap();
        assert!(power[0].rate.rate > 0.5);
        let means = SimConfig {
            metric: SimMetric::Revenue {
                mean: 2.0,
                purchase_rate: 0.3,
                sigma: 0.8,
            },
            tests: vec![SimTest::ZTest, SimTest::WelchT, SimTest::MannWhitney],
            runs: 1000,
            n_a: 300,
            n_b: 300,
            ..base
        };
        let r = simulate(&means).unwrap();
        assert_eq!(r.len(), 3);
        let again = simulate(&means).unwrap();
        assert_eq!(r, again);
    }

    #[test]
    fn peeking_inflates_naive_but_not_always_valid() {
        let cfg = PeekingConfig {
            metric: SimMetric::Normal { mean: 0.0, sd: 1.0 },
            relative_lift: 0.0,
            n_per_look_a: 100,
            n_per_look_b: 100,
            looks: 20,
            runs: 3000,
            alpha: 0.05,
            mixing_variance: None,
            seed: 5,
            confidence_level: 0.99,
        };
        let r = simulate_peeking(&cfg).unwrap();
        assert!(r.always_valid.rate <= 0.05, "{r:?}");
        assert!(r.naive_peeking.ci_low > 0.1, "{r:?}");
    }

    /// Seeded results are pinned: a change of the random streams is a decision, not an accident.
    #[test]
    fn seeded_results_are_pinned() {
        let r = simulate(&SimConfig {
            metric: SimMetric::Proportion { p: 0.1 },
            relative_lift: 0.1,
            n_a: 500,
            n_b: 500,
            runs: 200,
            alpha: 0.05,
            seed: 42,
            tests: vec![SimTest::ZTest, SimTest::WelchT],
            confidence_level: 0.95,
        })
        .unwrap();
        let got: Vec<u64> = r.iter().map(|t| t.rate.rejections).collect();
        // Since the streams moved to `crate::rng::stream(seed, Domain::Simulation, run)`; with the
        // former `task_rng(seed, run)` these were [12, 11].
        assert_eq!(got, [6, 6], "{got:?}");
    }
}
