//! Python face of `crate::compare`: numpy columns in, a dict of numpy columns out, the batch run
//! without the GIL.
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bindings::errors::{run_detached, to_pyerr};
use crate::compare::{self, ArmSums, Comparisons, MetricKind, RatioArmSums};
use crate::stats::{Alternative, StatsError};

type Column<'py> = PyReadonlyArray1<'py, f64>;
/// Σy, Σy², Σxy of a ratio metric's arm.
type DenominatorColumns<'py> = (Column<'py>, Column<'py>, Column<'py>);

fn owned(array: &Column<'_>) -> PyResult<Vec<f64>> {
    Ok(array.as_slice()?.to_vec())
}

fn parse<T: std::str::FromStr<Err = StatsError>>(text: &str) -> PyResult<T> {
    text.parse::<T>().map_err(to_pyerr)
}

fn to_dict(py: Python<'_>, result: Comparisons) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (name, column) in result.into_columns() {
        d.set_item(name, PyArray1::from_vec(py, column))?;
    }
    Ok(d)
}

/// One arm's columns copied out of numpy: n, Σx, Σx², then Σy, Σy², Σxy for ratio metrics.
fn arm_columns(
    sums: [&Column<'_>; 3],
    den: Option<&DenominatorColumns<'_>>,
) -> PyResult<Vec<Vec<f64>>> {
    let mut columns = sums
        .iter()
        .map(|c| owned(c))
        .collect::<PyResult<Vec<_>>>()?;
    if let Some((sum_den, sum_sq_den, sum_num_den)) = den {
        for c in [sum_den, sum_sq_den, sum_num_den] {
            columns.push(owned(c)?);
        }
    }
    Ok(columns)
}

fn arm_view(c: &[Vec<f64>]) -> ArmSums<'_> {
    ArmSums {
        n: &c[0],
        sum: &c[1],
        sum_sq: &c[2],
    }
}

fn ratio_view(c: &[Vec<f64>]) -> RatioArmSums<'_> {
    RatioArmSums {
        n: &c[0],
        sum: &c[1],
        sum_sq: &c[2],
        sum_den: &c[3],
        sum_sq_den: &c[4],
        sum_num_den: &c[5],
    }
}

/// `kind` is "mean", "proportion" or "ratio"; "ratio" needs `den_a` and `den_b`.
#[pyfunction]
#[pyo3(signature = (n_a, sum_a, sum_sq_a, n_b, sum_b, sum_sq_b, kind, alternative, confidence_level, den_a=None, den_b=None))]
#[allow(clippy::too_many_arguments)]
fn compare_from_sums<'py>(
    py: Python<'py>,
    n_a: Column<'py>,
    sum_a: Column<'py>,
    sum_sq_a: Column<'py>,
    n_b: Column<'py>,
    sum_b: Column<'py>,
    sum_sq_b: Column<'py>,
    kind: &str,
    alternative: &str,
    confidence_level: f64,
    den_a: Option<DenominatorColumns<'py>>,
    den_b: Option<DenominatorColumns<'py>>,
) -> PyResult<Bound<'py, PyDict>> {
    let alternative: Alternative = parse(alternative)?;
    let ratio = kind == "ratio";
    let metric_kind = if ratio {
        MetricKind::Mean
    } else {
        parse::<MetricKind>(kind)?
    };
    if ratio != (den_a.is_some() && den_b.is_some()) || den_a.is_some() != den_b.is_some() {
        return Err(to_pyerr(StatsError::InvalidArgument(
            "denominator sums are needed for, and only for, kind='ratio'".into(),
        )));
    }
    let a = arm_columns([&n_a, &sum_a, &sum_sq_a], den_a.as_ref())?;
    let b = arm_columns([&n_b, &sum_b, &sum_sq_b], den_b.as_ref())?;
    let result = run_detached(py, move || {
        if ratio {
            compare::compare_ratio_from_sums(
                ratio_view(&a),
                ratio_view(&b),
                alternative,
                confidence_level,
            )
        } else {
            compare::compare_from_sums(
                arm_view(&a),
                arm_view(&b),
                metric_kind,
                alternative,
                confidence_level,
            )
        }
    })?;
    to_dict(py, result)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(compare_from_sums, m)?)?;
    Ok(())
}
