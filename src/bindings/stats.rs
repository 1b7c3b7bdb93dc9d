//! Python face of `crate::stats`: convert, release the GIL, map errors. Results travel as plain
//! dicts, tuples and numpy arrays; `shoplens.stats` wraps them in frozen dataclasses.
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bindings::errors::{run_detached, to_pyerr};
use crate::stats::{
    self, AdjustMethod, Alternative, ArmComparisons, ConfintMethod, LiftMethod, MwuMethod,
    PowerAlternative, ProportionsTest, RatioMetricStats, RelativeLift, StatsError, TTestResult,
};

/// (nobs, mean numerator, mean denominator, var numerator, var denominator, covariance)
type RatioStatsTuple = (f64, f64, f64, f64, f64, f64);

fn owned(array: &PyReadonlyArray1<'_, f64>) -> PyResult<Vec<f64>> {
    Ok(array.as_slice()?.to_vec())
}

fn parse<T: std::str::FromStr<Err = StatsError>>(text: &str) -> PyResult<T> {
    text.parse::<T>().map_err(to_pyerr)
}

fn proportions_dict<'py>(py: Python<'py>, r: &ProportionsTest) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("chi2_statistic", r.chi2_statistic)?;
    d.set_item("chi2_pvalue", r.chi2_pvalue)?;
    d.set_item("proportion1", r.proportion1)?;
    d.set_item("proportion2", r.proportion2)?;
    d.set_item("difference", r.difference)?;
    Ok(d)
}

fn ttest_dict<'py>(py: Python<'py>, r: &TTestResult) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("df", r.df)?;
    d.set_item("estimate", r.estimate)?;
    d.set_item("standard_error", r.standard_error)?;
    d.set_item("mean1", r.mean1)?;
    d.set_item("mean2", r.mean2)?;
    Ok(d)
}

fn lift_dict<'py>(py: Python<'py>, r: &RelativeLift) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("estimate", r.estimate)?;
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("standard_error", r.standard_error)?;
    d.set_item("first", r.first)?;
    d.set_item("second", r.second)?;
    d.set_item("variance_first", r.variance_first)?;
    d.set_item("variance_second", r.variance_second)?;
    d.set_item("covariance", r.covariance)?;
    Ok(d)
}

fn arms_dict<'py, T>(
    py: Python<'py>,
    r: &ArmComparisons<T>,
    test_dict: impl Fn(Python<'py>, &T) -> PyResult<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("arms", r.arms.clone())?;
    let tests = r
        .tests
        .iter()
        .map(|t| test_dict(py, t))
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("tests", tests)?;
    d.set_item("pvalues_adjusted", r.pvalues_adjusted.clone())?;
    Ok(d)
}

#[pyfunction]
fn stats_test_proportions_2indep<'py>(
    py: Python<'py>,
    count1: f64,
    nobs1: f64,
    count2: f64,
    nobs2: f64,
    alternative: &str,
    correction: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        stats::test_proportions_2indep(count1, nobs1, count2, nobs2, alternative, correction)
    })?;
    proportions_dict(py, &r)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_proportions_diff_confint(
    py: Python<'_>,
    count1: f64,
    nobs1: f64,
    count2: f64,
    nobs2: f64,
    confidence_level: f64,
    alternative: &str,
    correction: bool,
) -> PyResult<(f64, f64)> {
    let alternative: Alternative = parse(alternative)?;
    run_detached(py, move || {
        stats::proportions_diff_confint(
            count1,
            nobs1,
            count2,
            nobs2,
            confidence_level,
            alternative,
            correction,
        )
    })
}

#[pyfunction]
fn stats_proportion_confint(
    py: Python<'_>,
    count: f64,
    nobs: f64,
    confidence_level: f64,
    method: &str,
) -> PyResult<(f64, f64)> {
    let method: ConfintMethod = parse(method)?;
    run_detached(py, move || {
        stats::proportion_confint(count, nobs, confidence_level, method)
    })
}

#[pyfunction]
fn stats_ttest_ind<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    equal_var: bool,
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let (a, b) = (owned(&a)?, owned(&b)?);
    let r = run_detached(py, move || stats::ttest_ind(&a, &b, equal_var, alternative))?;
    ttest_dict(py, &r)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_ttest_ind_from_stats<'py>(
    py: Python<'py>,
    mean1: f64,
    std1: f64,
    nobs1: f64,
    mean2: f64,
    std2: f64,
    nobs2: f64,
    equal_var: bool,
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        stats::ttest_ind_from_stats(
            mean1,
            std1,
            nobs1,
            mean2,
            std2,
            nobs2,
            equal_var,
            alternative,
        )
    })?;
    ttest_dict(py, &r)
}

#[pyfunction]
fn stats_t_confint(
    py: Python<'_>,
    estimate: f64,
    standard_error: f64,
    df: f64,
    confidence_level: f64,
    alternative: &str,
) -> PyResult<(f64, f64)> {
    let alternative: Alternative = parse(alternative)?;
    run_detached(py, move || {
        stats::t_confint(estimate, standard_error, df, confidence_level, alternative)
    })
}

#[pyfunction]
fn stats_normal_confint(
    py: Python<'_>,
    estimate: f64,
    standard_error: f64,
    confidence_level: f64,
    alternative: &str,
) -> PyResult<(f64, f64)> {
    let alternative: Alternative = parse(alternative)?;
    run_detached(py, move || {
        stats::normal_confint(estimate, standard_error, confidence_level, alternative)
    })
}

#[pyfunction]
fn stats_mannwhitneyu<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    alternative: &str,
    use_continuity: bool,
    method: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let method: MwuMethod = parse(method)?;
    let (a, b) = (owned(&a)?, owned(&b)?);
    let r = run_detached(py, move || {
        stats::mannwhitneyu(&a, &b, alternative, use_continuity, method)
    })?;
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("method", r.method.as_str())?;
    Ok(d)
}

#[pyfunction]
fn stats_chi2_contingency<'py>(
    py: Python<'py>,
    table: PyReadonlyArray1<'py, f64>,
    nrows: usize,
    ncols: usize,
    correction: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let table = owned(&table)?;
    let r = run_detached(py, move || {
        stats::chi2_contingency(&table, nrows, ncols, correction)
    })?;
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("dof", r.dof)?;
    d.set_item("expected_freq", PyArray1::from_vec(py, r.expected_freq))?;
    Ok(d)
}

#[pyfunction]
fn stats_fisher_exact<'py>(
    py: Python<'py>,
    table: [[u64; 2]; 2],
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || stats::fisher_exact(table, alternative))?;
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    Ok(d)
}

#[pyfunction]
fn stats_fisher_confint(
    py: Python<'_>,
    table: [[u64; 2]; 2],
    confidence_level: f64,
    alternative: &str,
) -> PyResult<(f64, f64)> {
    let alternative: Alternative = parse(alternative)?;
    run_detached(py, move || {
        stats::fisher_exact_confint(table, confidence_level, alternative)
    })
}

#[pyfunction]
fn stats_srm_test<'py>(
    py: Python<'py>,
    observed: PyReadonlyArray1<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    threshold: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let (observed, weights) = (owned(&observed)?, owned(&weights)?);
    let r = run_detached(py, move || stats::srm_test(&observed, &weights, threshold))?;
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("dof", r.dof)?;
    d.set_item("expected", PyArray1::from_vec(py, r.expected))?;
    d.set_item("alarm", r.alarm)?;
    Ok(d)
}

#[pyfunction]
fn stats_adjust_pvalues<'py>(
    py: Python<'py>,
    pvalues: PyReadonlyArray1<'py, f64>,
    method: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let method: AdjustMethod = parse(method)?;
    let pvalues = owned(&pvalues)?;
    let adjusted = run_detached(py, move || stats::adjust_pvalues(&pvalues, method))?;
    Ok(PyArray1::from_vec(py, adjusted))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_relative_lift<'py>(
    py: Python<'py>,
    first: f64,
    variance_first: f64,
    second: f64,
    variance_second: f64,
    covariance: f64,
    method: &str,
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let method: LiftMethod = parse(method)?;
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        stats::relative_lift(
            first,
            variance_first,
            second,
            variance_second,
            covariance,
            method,
            alternative,
        )
    })?;
    lift_dict(py, &r)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_relative_lift_confint(
    py: Python<'_>,
    first: f64,
    variance_first: f64,
    second: f64,
    variance_second: f64,
    covariance: f64,
    method: &str,
    alternative: &str,
    confidence_level: f64,
) -> PyResult<(f64, f64)> {
    let method: LiftMethod = parse(method)?;
    let alternative: Alternative = parse(alternative)?;
    run_detached(py, move || {
        stats::relative_lift(
            first,
            variance_first,
            second,
            variance_second,
            covariance,
            method,
            alternative,
        )?
        .confidence_interval(confidence_level)
    })
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_relative_lift_proportions<'py>(
    py: Python<'py>,
    count1: f64,
    nobs1: f64,
    count2: f64,
    nobs2: f64,
    method: &str,
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let method: LiftMethod = parse(method)?;
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        stats::relative_lift_proportions(count1, nobs1, count2, nobs2, method, alternative)
    })?;
    lift_dict(py, &r)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_relative_lift_means<'py>(
    py: Python<'py>,
    mean1: f64,
    std1: f64,
    nobs1: f64,
    mean2: f64,
    std2: f64,
    nobs2: f64,
    method: &str,
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let method: LiftMethod = parse(method)?;
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        stats::relative_lift_means(mean1, std1, nobs1, mean2, std2, nobs2, method, alternative)
    })?;
    lift_dict(py, &r)
}

fn ratio_stats(t: RatioStatsTuple) -> RatioMetricStats {
    RatioMetricStats {
        nobs: t.0,
        mean_numerator: t.1,
        mean_denominator: t.2,
        var_numerator: t.3,
        var_denominator: t.4,
        covariance: t.5,
    }
}

#[pyfunction]
fn stats_ratio_metric_stats(
    py: Python<'_>,
    numerator: PyReadonlyArray1<'_, f64>,
    denominator: PyReadonlyArray1<'_, f64>,
) -> PyResult<RatioStatsTuple> {
    let (x, y) = (owned(&numerator)?, owned(&denominator)?);
    let s = run_detached(py, move || RatioMetricStats::from_samples(&x, &y))?;
    Ok((
        s.nobs,
        s.mean_numerator,
        s.mean_denominator,
        s.var_numerator,
        s.var_denominator,
        s.covariance,
    ))
}

#[pyfunction]
fn stats_ratio_metric_test<'py>(
    py: Python<'py>,
    first: RatioStatsTuple,
    second: RatioStatsTuple,
    alternative: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let r = run_detached(py, move || {
        stats::ratio_metric_test(&ratio_stats(first), &ratio_stats(second), alternative)
    })?;
    let d = PyDict::new(py);
    d.set_item("statistic", r.statistic)?;
    d.set_item("pvalue", r.pvalue)?;
    d.set_item("ratio1", r.ratio1)?;
    d.set_item("ratio2", r.ratio2)?;
    d.set_item("difference", r.difference)?;
    d.set_item("standard_error", r.standard_error)?;
    d.set_item("variance1", r.variance1)?;
    d.set_item("variance2", r.variance2)?;
    Ok(d)
}

#[pyfunction]
fn stats_compare_arms_proportions<'py>(
    py: Python<'py>,
    counts: PyReadonlyArray1<'py, f64>,
    nobs: PyReadonlyArray1<'py, f64>,
    control: usize,
    alternative: &str,
    correction: bool,
    method: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let method: AdjustMethod = parse(method)?;
    let (counts, nobs) = (owned(&counts)?, owned(&nobs)?);
    let r = run_detached(py, move || {
        stats::compare_arms_proportions(&counts, &nobs, control, alternative, correction, method)
    })?;
    arms_dict(py, &r, proportions_dict)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_compare_arms_means<'py>(
    py: Python<'py>,
    means: PyReadonlyArray1<'py, f64>,
    stds: PyReadonlyArray1<'py, f64>,
    nobs: PyReadonlyArray1<'py, f64>,
    control: usize,
    equal_var: bool,
    alternative: &str,
    method: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let method: AdjustMethod = parse(method)?;
    let (means, stds, nobs) = (owned(&means)?, owned(&stds)?, owned(&nobs)?);
    let r = run_detached(py, move || {
        stats::compare_arms_means(
            &means,
            &stds,
            &nobs,
            control,
            equal_var,
            alternative,
            method,
        )
    })?;
    arms_dict(py, &r, ttest_dict)
}

#[pyfunction]
fn stats_power_proportions_2indep(
    py: Python<'_>,
    p1: f64,
    p2: f64,
    nobs1: f64,
    alpha: f64,
    alternative: &str,
    strict: bool,
) -> PyResult<f64> {
    let alternative: PowerAlternative = parse(alternative)?;
    run_detached(py, move || {
        stats::power_proportions_2indep(p1, p2, nobs1, alpha, alternative, strict)
    })
}

#[pyfunction]
fn stats_samplesize_proportions_2indep(
    py: Python<'_>,
    p1: f64,
    p2: f64,
    power: f64,
    alpha: f64,
    alternative: &str,
    strict: bool,
) -> PyResult<f64> {
    let alternative: PowerAlternative = parse(alternative)?;
    run_detached(py, move || {
        stats::samplesize_proportions_2indep(p1, p2, power, alpha, alternative, strict)
    })
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stats_mde_proportions_2indep(
    py: Python<'_>,
    p1: f64,
    nobs1: f64,
    power: f64,
    alpha: f64,
    alternative: &str,
    strict: bool,
    increase: bool,
) -> PyResult<f64> {
    let alternative: PowerAlternative = parse(alternative)?;
    run_detached(py, move || {
        stats::mde_proportions_2indep(p1, nobs1, power, alpha, alternative, strict, increase)
    })
}

#[pyfunction]
fn stats_power_ttest_ind(
    py: Python<'_>,
    delta: f64,
    sd: f64,
    nobs1: f64,
    alpha: f64,
    alternative: &str,
    strict: bool,
) -> PyResult<f64> {
    let alternative: PowerAlternative = parse(alternative)?;
    run_detached(py, move || {
        stats::power_ttest_ind(delta, sd, nobs1, alpha, alternative, strict)
    })
}

#[pyfunction]
fn stats_samplesize_ttest_ind(
    py: Python<'_>,
    delta: f64,
    sd: f64,
    power: f64,
    alpha: f64,
    alternative: &str,
    strict: bool,
) -> PyResult<f64> {
    let alternative: PowerAlternative = parse(alternative)?;
    run_detached(py, move || {
        stats::samplesize_ttest_ind(delta, sd, power, alpha, alternative, strict)
    })
}

#[pyfunction]
fn stats_mde_ttest_ind(
    py: Python<'_>,
    sd: f64,
    nobs1: f64,
    power: f64,
    alpha: f64,
    alternative: &str,
    strict: bool,
) -> PyResult<f64> {
    let alternative: PowerAlternative = parse(alternative)?;
    run_detached(py, move || {
        stats::mde_ttest_ind(sd, nobs1, power, alpha, alternative, strict)
    })
}

#[pyfunction]
fn stats_duration_days(py: Python<'_>, total_nobs: f64, daily_traffic: f64) -> PyResult<u64> {
    run_detached(py, move || stats::duration_days(total_nobs, daily_traffic))
}

#[pyfunction]
fn stats_nct_cdf_sf(t: f64, df: f64, nc: f64) -> (f64, f64) {
    stats::nct_cdf_sf(t, df, nc)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stats_test_proportions_2indep, m)?)?;
    m.add_function(wrap_pyfunction!(stats_proportions_diff_confint, m)?)?;
    m.add_function(wrap_pyfunction!(stats_proportion_confint, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ttest_ind, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ttest_ind_from_stats, m)?)?;
    m.add_function(wrap_pyfunction!(stats_t_confint, m)?)?;
    m.add_function(wrap_pyfunction!(stats_normal_confint, m)?)?;
    m.add_function(wrap_pyfunction!(stats_mannwhitneyu, m)?)?;
    m.add_function(wrap_pyfunction!(stats_chi2_contingency, m)?)?;
    m.add_function(wrap_pyfunction!(stats_fisher_exact, m)?)?;
    m.add_function(wrap_pyfunction!(stats_fisher_confint, m)?)?;
    m.add_function(wrap_pyfunction!(stats_srm_test, m)?)?;
    m.add_function(wrap_pyfunction!(stats_adjust_pvalues, m)?)?;
    m.add_function(wrap_pyfunction!(stats_relative_lift, m)?)?;
    m.add_function(wrap_pyfunction!(stats_relative_lift_confint, m)?)?;
    m.add_function(wrap_pyfunction!(stats_relative_lift_proportions, m)?)?;
    m.add_function(wrap_pyfunction!(stats_relative_lift_means, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ratio_metric_stats, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ratio_metric_test, m)?)?;
    m.add_function(wrap_pyfunction!(stats_compare_arms_proportions, m)?)?;
    m.add_function(wrap_pyfunction!(stats_compare_arms_means, m)?)?;
    m.add_function(wrap_pyfunction!(stats_power_proportions_2indep, m)?)?;
    m.add_function(wrap_pyfunction!(stats_samplesize_proportions_2indep, m)?)?;
    m.add_function(wrap_pyfunction!(stats_mde_proportions_2indep, m)?)?;
    m.add_function(wrap_pyfunction!(stats_power_ttest_ind, m)?)?;
    m.add_function(wrap_pyfunction!(stats_samplesize_ttest_ind, m)?)?;
    m.add_function(wrap_pyfunction!(stats_mde_ttest_ind, m)?)?;
    m.add_function(wrap_pyfunction!(stats_duration_days, m)?)?;
    m.add_function(wrap_pyfunction!(stats_nct_cdf_sf, m)?)?;
    Ok(())
}
