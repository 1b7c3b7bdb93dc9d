//! Python face of `crate::experiments`: convert, release the GIL, map errors. Results travel as
//! plain dicts and numpy arrays; `shoplens.experiments` wraps them in frozen dataclasses.
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bindings::errors::{run, run_detached, to_pyerr};
use crate::compare::compare_ratio_row;
use crate::experiments::bayes::{bayes_means, bayes_proportions, ProbMethod};
use crate::experiments::bootstrap::{bootstrap_ci, bootstrap_interval, BootstrapOptions, Sample};
use crate::experiments::cuped::{cuped, cuped_from_stats, CupedResult};
use crate::experiments::sequential::{confidence_sequence, group_sequential_bounds};
use crate::experiments::simulate::{
    simulate, simulate_peeking, PeekingConfig, RejectionRate, SimConfig, SimMetric, SimTest,
};
use crate::experiments::welch::WelchComparison;
use crate::experiments::winsor::winsorize;
use crate::experiments::{ExperimentsError, Result as ExpResult};
use crate::stats::Alternative;
use crate::stats::{CoMoments, CoSums, Moments, Sums};

type MomentsTuple = (u64, f64, f64);
type CoMomentsTuple = (u64, f64, f64, f64, f64, f64);
/// Σy, Σy², Σxy columns of one arm of a ratio metric.
type DenColumns<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
);
/// (rejections, runs, rate, Wilson low, Wilson high)
type RateTuple = (u64, u64, f64, f64, f64);
/// (capped values, lower cap, upper cap, values raised, values lowered)
type WinsorTuple<'py> = (Bound<'py, PyArray1<f64>>, f64, f64, usize, usize);

/// Owned copy of a 1-D float64 array (the Python layer passes contiguous arrays).
fn owned(array: &PyReadonlyArray1<'_, f64>) -> PyResult<Vec<f64>> {
    Ok(array.as_slice()?.to_vec())
}

fn parse<T>(text: &str) -> PyResult<T>
where
    T: std::str::FromStr,
    T::Err: Into<crate::Error>,
{
    run(|| text.parse::<T>())
}

fn moments(t: MomentsTuple) -> Moments {
    Moments {
        n: t.0,
        mean: t.1,
        m2: t.2,
    }
}

fn moments_tuple(m: Moments) -> MomentsTuple {
    (m.n, m.mean, m.m2)
}

fn comoments(t: CoMomentsTuple) -> CoMoments {
    CoMoments {
        n: t.0,
        mean_x: t.1,
        mean_y: t.2,
        m2_x: t.3,
        m2_y: t.4,
        c_xy: t.5,
    }
}

fn comoments_tuple(c: CoMoments) -> CoMomentsTuple {
    (c.n, c.mean_x, c.mean_y, c.m2_x, c.m2_y, c.c_xy)
}

#[pyfunction]
fn exp_moments(py: Python<'_>, values: PyReadonlyArray1<'_, f64>) -> PyResult<MomentsTuple> {
    let values = owned(&values)?;
    run_detached(py, move || Moments::from_slice(&values)).map(moments_tuple)
}

#[pyfunction]
fn exp_comoments(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
) -> PyResult<CoMomentsTuple> {
    let (x, y) = (owned(&x)?, owned(&y)?);
    run_detached(py, move || CoMoments::from_slices(&x, &y)).map(comoments_tuple)
}

#[pyfunction]
fn exp_merge_moments(a: MomentsTuple, b: MomentsTuple) -> MomentsTuple {
    moments_tuple(moments(a).merge(&moments(b)))
}

#[pyfunction]
fn exp_merge_comoments(a: CoMomentsTuple, b: CoMomentsTuple) -> CoMomentsTuple {
    comoments_tuple(comoments(a).merge(&comoments(b)))
}

#[pyfunction]
fn exp_moments_to_sums(m: MomentsTuple) -> (u64, f64, f64) {
    let s = moments(m).to_sums();
    (s.n, s.sum, s.sum_sq)
}

#[pyfunction]
fn exp_moments_from_sums(n: u64, sum: f64, sum_sq: f64) -> PyResult<MomentsTuple> {
    run(|| Moments::from_sums(&Sums { n, sum, sum_sq })).map(moments_tuple)
}

#[pyfunction]
fn exp_moments_from_mean_var(n: u64, mean: f64, variance: f64) -> PyResult<MomentsTuple> {
    run(|| Moments::from_mean_var(n, mean, variance)).map(moments_tuple)
}

#[pyfunction]
fn exp_comoments_to_sums(c: CoMomentsTuple) -> (u64, f64, f64, f64, f64, f64) {
    let s = comoments(c).to_sums();
    (s.n, s.sum_x, s.sum_y, s.sum_xx, s.sum_yy, s.sum_xy)
}

#[pyfunction]
fn exp_comoments_from_sums(
    n: u64,
    sum_x: f64,
    sum_y: f64,
    sum_xx: f64,
    sum_yy: f64,
    sum_xy: f64,
) -> PyResult<CoMomentsTuple> {
    run(|| {
        CoMoments::from_sums(&CoSums {
            n,
            sum_x,
            sum_y,
            sum_xx,
            sum_yy,
            sum_xy,
        })
    })
    .map(comoments_tuple)
}

fn welch_dict<'py>(py: Python<'py>, w: &WelchComparison) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("difference", w.difference)?;
    d.set_item("std_error", w.std_error)?;
    d.set_item("df", w.df)?;
    d.set_item("statistic", w.statistic)?;
    d.set_item("pvalue", w.pvalue)?;
    d.set_item("ci_low", w.ci_low)?;
    d.set_item("ci_high", w.ci_high)?;
    Ok(d)
}

fn cuped_dict<'py>(py: Python<'py>, r: &CupedResult) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("theta", r.theta)?;
    d.set_item("pooled_mean_covariate", r.pooled_mean_covariate)?;
    let arms = r
        .arms
        .iter()
        .map(|a| {
            let e = PyDict::new(py);
            e.set_item("n", a.n)?;
            e.set_item("mean", a.mean)?;
            e.set_item("variance", a.variance)?;
            e.set_item("mean_covariate", a.mean_covariate)?;
            e.set_item("adjusted_mean", a.adjusted_mean)?;
            e.set_item("adjusted_variance", a.adjusted_variance)?;
            e.set_item("variance_reduction", a.variance_reduction)?;
            Ok(e)
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("arms", arms)?;
    let comparisons = r
        .comparisons
        .iter()
        .map(|c| {
            let e = PyDict::new(py);
            e.set_item("arm", c.arm)?;
            e.set_item("control", c.control)?;
            e.set_item("adjusted", welch_dict(py, &c.adjusted)?)?;
            e.set_item("unadjusted", welch_dict(py, &c.unadjusted)?)?;
            e.set_item("variance_reduction", c.variance_reduction)?;
            Ok(e)
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("comparisons", comparisons)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (y, x, arms, n_arms, control, alternative, confidence_level))]
#[allow(clippy::too_many_arguments)]
fn exp_cuped<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: PyReadonlyArray1<'py, f64>,
    arms: PyReadonlyArray1<'py, u32>,
    n_arms: usize,
    control: usize,
    alternative: &str,
    confidence_level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let (y, x) = (owned(&y)?, owned(&x)?);
    let arms = arms.as_slice()?.to_vec();
    let alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        cuped(
            &y,
            &x,
            &arms,
            n_arms,
            control,
            alternative,
            confidence_level,
        )
    })?;
    cuped_dict(py, &r)
}

#[pyfunction]
fn exp_cuped_from_stats<'py>(
    py: Python<'py>,
    arms: Vec<CoMomentsTuple>,
    control: usize,
    alternative: &str,
    confidence_level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let stats: Vec<CoMoments> = arms.into_iter().map(comoments).collect();
    let alternative = parse(alternative)?;
    let r = run(|| cuped_from_stats(&stats, control, alternative, confidence_level))?;
    cuped_dict(py, &r)
}

#[pyfunction]
fn exp_winsorize<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    lower: f64,
    upper: f64,
    nonzero_only: bool,
) -> PyResult<WinsorTuple<'py>> {
    let values = owned(&values)?;
    let w = run_detached(py, move || winsorize(&values, lower, upper, nonzero_only))?;
    Ok((
        PyArray1::from_vec(py, w.values),
        w.lower_cap,
        w.upper_cap,
        w.n_capped_low,
        w.n_capped_high,
    ))
}

/// One bootstrap sample from Python: values, or (numerator, denominator) for the ratio.
fn sample_arrays(
    values: &PyReadonlyArray1<'_, f64>,
    denominator: Option<&PyReadonlyArray1<'_, f64>>,
) -> PyResult<(Vec<f64>, Option<Vec<f64>>)> {
    Ok((owned(values)?, denominator.map(owned).transpose()?))
}

fn as_sample<'a>(values: &'a [f64], denominator: &'a Option<Vec<f64>>) -> Sample<'a> {
    match denominator {
        Some(den) => Sample::Paired { num: values, den },
        None => Sample::Values(values),
    }
}

#[pyfunction]
#[pyo3(signature = (a, b, a_den, b_den, statistic, n_resamples, confidence_level, method, alternative, seed))]
#[allow(clippy::too_many_arguments)]
fn exp_bootstrap_ci<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: Option<PyReadonlyArray1<'py, f64>>,
    a_den: Option<PyReadonlyArray1<'py, f64>>,
    b_den: Option<PyReadonlyArray1<'py, f64>>,
    statistic: &str,
    n_resamples: usize,
    confidence_level: f64,
    method: &str,
    alternative: &str,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = BootstrapOptions {
        statistic: parse(statistic)?,
        n_resamples,
        confidence_level,
        method: parse(method)?,
        alternative: parse(alternative)?,
        seed,
    };
    let (a_values, a_den) = sample_arrays(&a, a_den.as_ref())?;
    let b_owned = match &b {
        Some(values) => Some(sample_arrays(values, b_den.as_ref())?),
        None => None,
    };
    let r = run_detached(py, move || {
        let b_sample = b_owned.as_ref().map(|(v, d)| as_sample(v, d));
        bootstrap_ci(as_sample(&a_values, &a_den), b_sample, &opts)
    })?;
    let d = PyDict::new(py);
    d.set_item("estimate", r.estimate)?;
    d.set_item("ci_low", r.ci_low)?;
    d.set_item("ci_high", r.ci_high)?;
    d.set_item("standard_error", r.standard_error)?;
    d.set_item("bias_correction", r.bias_correction)?;
    d.set_item("acceleration", r.acceleration)?;
    d.set_item("distribution", PyArray1::from_vec(py, r.distribution))?;
    Ok(d)
}

#[pyfunction]
fn exp_bootstrap_interval(
    py: Python<'_>,
    distribution: PyReadonlyArray1<'_, f64>,
    bias_correction: f64,
    acceleration: f64,
    method: &str,
    alternative: &str,
    confidence_level: f64,
) -> PyResult<(f64, f64)> {
    let distribution = owned(&distribution)?;
    let (method, alternative) = (parse(method)?, parse(alternative)?);
    run_detached(py, move || {
        bootstrap_interval(
            &distribution,
            bias_correction,
            acceleration,
            method,
            alternative,
            confidence_level,
        )
    })
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn exp_bayes_proportions<'py>(
    py: Python<'py>,
    count_a: u64,
    n_a: u64,
    count_b: u64,
    n_b: u64,
    prior_alpha: f64,
    prior_beta: f64,
    credible_level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let r = run_detached(py, move || {
        bayes_proportions(
            (count_a, n_a),
            (count_b, n_b),
            (prior_alpha, prior_beta),
            credible_level,
        )
    })?;
    let d = PyDict::new(py);
    for (name, arm) in [("a", &r.a), ("b", &r.b)] {
        let e = PyDict::new(py);
        e.set_item("alpha", arm.alpha)?;
        e.set_item("beta", arm.beta)?;
        e.set_item("mean", arm.mean)?;
        e.set_item("ci_low", arm.ci_low)?;
        e.set_item("ci_high", arm.ci_high)?;
        d.set_item(name, e)?;
    }
    d.set_item("prob_b_beats_a", r.prob_b_beats_a)?;
    let method = match r.method {
        ProbMethod::ClosedForm => "closed-form",
        ProbMethod::Quadrature => "quadrature",
    };
    d.set_item("method", method)?;
    d.set_item("expected_loss_a", r.expected_loss_a)?;
    d.set_item("expected_loss_b", r.expected_loss_b)?;
    d.set_item("diff_mean", r.diff_mean)?;
    d.set_item("diff_ci_low", r.diff_ci_low)?;
    d.set_item("diff_ci_high", r.diff_ci_high)?;
    Ok(d)
}

#[pyfunction]
fn exp_bayes_means<'py>(
    py: Python<'py>,
    a: MomentsTuple,
    b: MomentsTuple,
    credible_level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let r = run(|| bayes_means(&moments(a), &moments(b), credible_level))?;
    let d = PyDict::new(py);
    for (name, arm) in [("a", &r.a), ("b", &r.b)] {
        let e = PyDict::new(py);
        e.set_item("mean", arm.mean)?;
        e.set_item("std_error", arm.std_error)?;
        e.set_item("ci_low", arm.ci_low)?;
        e.set_item("ci_high", arm.ci_high)?;
        d.set_item(name, e)?;
    }
    d.set_item("prob_b_beats_a", r.prob_b_beats_a)?;
    d.set_item("expected_loss_a", r.expected_loss_a)?;
    d.set_item("expected_loss_b", r.expected_loss_b)?;
    d.set_item("diff_mean", r.diff_mean)?;
    d.set_item("diff_std_error", r.diff_std_error)?;
    d.set_item("diff_ci_low", r.diff_ci_low)?;
    d.set_item("diff_ci_high", r.diff_ci_high)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (looks_a, looks_b, alpha, mixing_variance, null_difference))]
fn exp_confidence_sequence<'py>(
    py: Python<'py>,
    looks_a: Vec<MomentsTuple>,
    looks_b: Vec<MomentsTuple>,
    alpha: f64,
    mixing_variance: Option<f64>,
    null_difference: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let a: Vec<Moments> = looks_a.into_iter().map(moments).collect();
    let b: Vec<Moments> = looks_b.into_iter().map(moments).collect();
    let cs = run(|| confidence_sequence(&a, &b, alpha, mixing_variance, null_difference))?;
    let column = |f: fn(&crate::experiments::sequential::SequentialLook) -> f64| {
        PyArray1::from_vec(py, cs.looks.iter().map(f).collect())
    };
    let d = PyDict::new(py);
    d.set_item("mixing_variance", cs.mixing_variance)?;
    d.set_item("estimate", column(|l| l.estimate))?;
    d.set_item("std_error", column(|l| l.std_error))?;
    d.set_item("pvalue", column(|l| l.pvalue))?;
    d.set_item("ci_low", column(|l| l.ci_low))?;
    d.set_item("ci_high", column(|l| l.ci_high))?;
    Ok(d)
}

#[pyfunction]
fn exp_group_sequential_bounds<'py>(
    py: Python<'py>,
    info_fractions: Vec<f64>,
    alpha: f64,
    kind: &str,
    two_sided: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let kind = parse(kind)?;
    let b = run_detached(py, move || {
        group_sequential_bounds(&info_fractions, alpha, kind, two_sided)
    })?;
    let d = PyDict::new(py);
    d.set_item("info_fractions", PyArray1::from_vec(py, b.info_fractions))?;
    d.set_item("z", PyArray1::from_vec(py, b.z))?;
    d.set_item("nominal_alpha", PyArray1::from_vec(py, b.nominal_alpha))?;
    d.set_item(
        "cumulative_alpha",
        PyArray1::from_vec(py, b.cumulative_alpha),
    )?;
    Ok(d)
}

fn sim_metric(
    metric: &str,
    baseline: f64,
    sd: f64,
    purchase_rate: f64,
    sigma: f64,
) -> ExpResult<SimMetric> {
    match metric {
        "proportion" => Ok(SimMetric::Proportion { p: baseline }),
        "normal" => Ok(SimMetric::Normal { mean: baseline, sd }),
        "revenue" => Ok(SimMetric::Revenue {
            mean: baseline,
            purchase_rate,
            sigma,
        }),
        other => Err(ExperimentsError::InvalidArgument(format!(
            "metric must be 'proportion', 'normal' or 'revenue', got {other:?}"
        ))),
    }
}

fn sim_test(name: &str) -> ExpResult<SimTest> {
    match name {
        "z" => Ok(SimTest::ZTest),
        "chi2" => Ok(SimTest::ChiSquare),
        "welch_t" => Ok(SimTest::WelchT),
        "mann_whitney" => Ok(SimTest::MannWhitney),
        other => Err(ExperimentsError::InvalidArgument(format!(
            "test must be 'z', 'chi2', 'welch_t' or 'mann_whitney', got {other:?}"
        ))),
    }
}

fn rate_tuple(r: &RejectionRate) -> RateTuple {
    (r.rejections, r.runs, r.rate, r.ci_low, r.ci_high)
}

#[pyfunction]
#[pyo3(signature = (metric, baseline, sd, purchase_rate, sigma, relative_lift, n_a, n_b, runs, alpha, seed, tests, confidence_level))]
#[allow(clippy::too_many_arguments)]
fn exp_simulate(
    py: Python<'_>,
    metric: &str,
    baseline: f64,
    sd: f64,
    purchase_rate: f64,
    sigma: f64,
    relative_lift: f64,
    n_a: u64,
    n_b: u64,
    runs: u64,
    alpha: f64,
    seed: u64,
    tests: Vec<String>,
    confidence_level: f64,
) -> PyResult<Vec<(String, RateTuple)>> {
    let config = run(|| -> ExpResult<SimConfig> {
        Ok(SimConfig {
            metric: sim_metric(metric, baseline, sd, purchase_rate, sigma)?,
            relative_lift,
            n_a,
            n_b,
            runs,
            alpha,
            seed,
            tests: tests
                .iter()
                .map(|t| sim_test(t))
                .collect::<ExpResult<_>>()?,
            confidence_level,
        })
    })?;
    let result = run_detached(py, move || simulate(&config))?;
    Ok(result
        .iter()
        .map(|r| (r.test.name().to_string(), rate_tuple(&r.rate)))
        .collect())
}

#[pyfunction]
#[pyo3(signature = (metric, baseline, sd, purchase_rate, sigma, relative_lift, n_per_look_a, n_per_look_b, looks, runs, alpha, mixing_variance, seed, confidence_level))]
#[allow(clippy::too_many_arguments)]
fn exp_simulate_peeking<'py>(
    py: Python<'py>,
    metric: &str,
    baseline: f64,
    sd: f64,
    purchase_rate: f64,
    sigma: f64,
    relative_lift: f64,
    n_per_look_a: u64,
    n_per_look_b: u64,
    looks: usize,
    runs: u64,
    alpha: f64,
    mixing_variance: Option<f64>,
    seed: u64,
    confidence_level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let metric = run(|| sim_metric(metric, baseline, sd, purchase_rate, sigma))?;
    let config = PeekingConfig {
        metric,
        relative_lift,
        n_per_look_a,
        n_per_look_b,
        looks,
        runs,
        alpha,
        mixing_variance,
        seed,
        confidence_level,
    };
    let r = run_detached(py, move || simulate_peeking(&config))?;
    let d = PyDict::new(py);
    d.set_item("mixing_variance", r.mixing_variance)?;
    d.set_item("always_valid", rate_tuple(&r.always_valid))?;
    d.set_item("naive_peeking", rate_tuple(&r.naive_peeking))?;
    d.set_item("final_look", rate_tuple(&r.final_look))?;
    Ok(d)
}

/// A count carried as f64 in a sums column: a whole number >= 0.
fn whole(x: f64, row: usize, what: &str) -> ExpResult<u64> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= u64::MAX as f64 {
        Ok(x as u64)
    } else {
        Err(ExperimentsError::InvalidArgument(format!(
            "row {row}: {what} must be a whole number >= 0, got {x}"
        )))
    }
}

/// P(treatment b beats control a) for every row of a batch of sums, by the engine's Bayesian
/// comparisons: "proportion" rows (`sum` = successes) by `bayes_proportions` with the uniform
/// prior, "mean" rows by `bayes_means` (flat prior) on the moments of the sums, "ratio" rows
/// (`den_*` = Σy, Σy², Σxy) by the normal posterior of the delta-method ratio difference,
/// Φ(effect / se), which is the one-sided (`less`) p-value of `compare_ratio_row`. NaN where the
/// posterior is undefined (an empty arm, fewer than two users for a variance).
#[pyfunction]
#[pyo3(signature = (kind, n_a, sum_a, sum_sq_a, n_b, sum_b, sum_sq_b, den_a=None, den_b=None))]
#[allow(clippy::too_many_arguments)]
fn exp_prob_better<'py>(
    py: Python<'py>,
    kind: &str,
    n_a: PyReadonlyArray1<'py, f64>,
    sum_a: PyReadonlyArray1<'py, f64>,
    sum_sq_a: PyReadonlyArray1<'py, f64>,
    n_b: PyReadonlyArray1<'py, f64>,
    sum_b: PyReadonlyArray1<'py, f64>,
    sum_sq_b: PyReadonlyArray1<'py, f64>,
    den_a: Option<DenColumns<'py>>,
    den_b: Option<DenColumns<'py>>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let kind = kind.to_owned();
    let a = [owned(&n_a)?, owned(&sum_a)?, owned(&sum_sq_a)?];
    let b = [owned(&n_b)?, owned(&sum_b)?, owned(&sum_sq_b)?];
    let den = |d: Option<DenColumns<'py>>| -> PyResult<Option<[Vec<f64>; 3]>> {
        d.map(|(x, y, z)| -> PyResult<[Vec<f64>; 3]> { Ok([owned(&x)?, owned(&y)?, owned(&z)?]) })
            .transpose()
    };
    let (den_a, den_b) = (den(den_a)?, den(den_b)?);
    let rows = a[0].len();
    if [&a[1], &a[2], &b[0], &b[1], &b[2]]
        .iter()
        .any(|c| c.len() != rows)
    {
        return Err(to_pyerr(ExperimentsError::InvalidArgument(
            "the sums columns must all have the same length".into(),
        )));
    }
    let out = run_detached(py, move || -> ExpResult<Vec<f64>> {
        (0..rows)
            .map(|i| -> ExpResult<f64> {
                let moments_of = |c: &[Vec<f64>; 3], arm: &str| -> ExpResult<Moments> {
                    Ok(Moments::from_sums(&Sums {
                        n: whole(c[0][i], i, &format!("n_{arm}"))?,
                        sum: c[1][i],
                        sum_sq: c[2][i],
                    })?)
                };
                match kind.as_str() {
                    "proportion" => {
                        let (na, nb) = (whole(a[0][i], i, "n_a")?, whole(b[0][i], i, "n_b")?);
                        if na == 0 || nb == 0 {
                            return Ok(f64::NAN);
                        }
                        let (ca, cb) = (whole(a[1][i], i, "sum_a")?, whole(b[1][i], i, "sum_b")?);
                        Ok(bayes_proportions((ca, na), (cb, nb), (1.0, 1.0), 0.95)?.prob_b_beats_a)
                    }
                    "mean" => {
                        let (ma, mb) = (moments_of(&a, "a")?, moments_of(&b, "b")?);
                        if ma.n < 2 || mb.n < 2 {
                            return Ok(f64::NAN);
                        }
                        Ok(bayes_means(&ma, &mb, 0.95)?.prob_b_beats_a)
                    }
                    "ratio" => {
                        let (Some(da), Some(db)) = (&den_a, &den_b) else {
                            return Err(ExperimentsError::InvalidArgument(
                                "kind='ratio' needs the denominator sums of both arms".into(),
                            ));
                        };
                        // Numerator x, denominator y: (n, Σx, Σx²) and (Σy, Σy², Σxy) per arm.
                        let ratio = |c: &[Vec<f64>; 3], d: &[Vec<f64>; 3], arm: &str| {
                            Ok::<_, ExperimentsError>(CoSums {
                                n: whole(c[0][i], i, &format!("n_{arm}"))?,
                                sum_x: c[1][i],
                                sum_y: d[0][i],
                                sum_xx: c[2][i],
                                sum_yy: d[1][i],
                                sum_xy: d[2][i],
                            })
                        };
                        let row = compare_ratio_row(
                            ratio(&a, da, "a")?,
                            ratio(&b, db, "b")?,
                            i,
                            Alternative::Less,
                            0.95,
                        )?;
                        Ok(row.pvalue)
                    }
                    other => Err(ExperimentsError::InvalidArgument(format!(
                        "kind must be 'proportion', 'mean' or 'ratio', got {other:?}"
                    ))),
                }
            })
            .collect()
    })?;
    Ok(PyArray1::from_vec(py, out))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exp_prob_better, m)?)?;
    m.add_function(wrap_pyfunction!(exp_moments, m)?)?;
    m.add_function(wrap_pyfunction!(exp_comoments, m)?)?;
    m.add_function(wrap_pyfunction!(exp_merge_moments, m)?)?;
    m.add_function(wrap_pyfunction!(exp_merge_comoments, m)?)?;
    m.add_function(wrap_pyfunction!(exp_moments_to_sums, m)?)?;
    m.add_function(wrap_pyfunction!(exp_moments_from_sums, m)?)?;
    m.add_function(wrap_pyfunction!(exp_moments_from_mean_var, m)?)?;
    m.add_function(wrap_pyfunction!(exp_comoments_to_sums, m)?)?;
    m.add_function(wrap_pyfunction!(exp_comoments_from_sums, m)?)?;
    m.add_function(wrap_pyfunction!(exp_cuped, m)?)?;
    m.add_function(wrap_pyfunction!(exp_cuped_from_stats, m)?)?;
    m.add_function(wrap_pyfunction!(exp_winsorize, m)?)?;
    m.add_function(wrap_pyfunction!(exp_bootstrap_ci, m)?)?;
    m.add_function(wrap_pyfunction!(exp_bootstrap_interval, m)?)?;
    m.add_function(wrap_pyfunction!(exp_bayes_proportions, m)?)?;
    m.add_function(wrap_pyfunction!(exp_bayes_means, m)?)?;
    m.add_function(wrap_pyfunction!(exp_confidence_sequence, m)?)?;
    m.add_function(wrap_pyfunction!(exp_group_sequential_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(exp_simulate, m)?)?;
    m.add_function(wrap_pyfunction!(exp_simulate_peeking, m)?)?;
    Ok(())
}
