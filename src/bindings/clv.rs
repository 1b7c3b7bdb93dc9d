//! Python face of `crate::cohorts` and `crate::clv`: convert, release the GIL, map errors. Fits travel
//! as dicts; `shoplens.clv` wraps them in frozen dataclasses.
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_polars::PyDataFrame;

use crate::bindings::errors::{run_detached, to_pyerr};
use crate::clv::{self, BgNbd, GammaGamma, Unit};
use crate::cohorts::{self, CohortBy, Period};

fn owned(array: &PyReadonlyArray1<'_, f64>) -> PyResult<Vec<f64>> {
    Ok(array.as_slice()?.to_vec())
}

fn parse<T: std::str::FromStr<Err = crate::Error>>(text: &str) -> PyResult<T> {
    text.parse::<T>().map_err(to_pyerr)
}

/// Retention table of one cohort definition and period from an events table.
#[pyfunction]
fn cohort_retention(
    py: Python<'_>,
    events: PyDataFrame,
    by: &str,
    period: &str,
    include_bots: bool,
) -> PyResult<PyDataFrame> {
    let (by, period): (CohortBy, Period) = (parse(by)?, parse(period)?);
    let df = events.0;
    let out = run_detached(py, move || {
        cohorts::retention(&df, by, period, include_bots)
    })?;
    Ok(PyDataFrame(out))
}

/// The warehouse's derived tables (`cohort_retention`, `customers`) from an events table.
#[pyfunction]
fn derived_tables(py: Python<'_>, events: PyDataFrame) -> PyResult<Vec<(String, PyDataFrame)>> {
    let df = events.0;
    let tables = run_detached(py, move || clv::tables(&df))?;
    Ok(tables
        .into_iter()
        .map(|(n, t)| (n.to_string(), PyDataFrame(t)))
        .collect())
}

/// The `customers` table (RFM in days + predictions) from an events table.
#[pyfunction]
fn clv_customers(py: Python<'_>, events: PyDataFrame) -> PyResult<PyDataFrame> {
    let df = events.0;
    Ok(PyDataFrame(run_detached(py, move || {
        clv::customers_table(&df)
    })?))
}

/// RFM summary of the non-bot purchases of an events table.
#[pyfunction]
#[pyo3(signature = (events, observation_end, unit))]
fn clv_summary_events(
    py: Python<'_>,
    events: PyDataFrame,
    observation_end: Option<i32>,
    unit: &str,
) -> PyResult<PyDataFrame> {
    let unit: Unit = parse(unit)?;
    let df = events.0;
    let out = run_detached(py, move || {
        clv::rfm_from_events(&df, observation_end, unit.days())
    })?;
    Ok(PyDataFrame(out))
}

/// RFM summary of a transactions table (columns named by the caller).
#[pyfunction]
#[pyo3(signature = (transactions, customer_id_col, datetime_col, monetary_value_col, observation_end, unit))]
fn clv_summary(
    py: Python<'_>,
    transactions: PyDataFrame,
    customer_id_col: &str,
    datetime_col: &str,
    monetary_value_col: Option<&str>,
    observation_end: Option<i32>,
    unit: &str,
) -> PyResult<PyDataFrame> {
    let unit: Unit = parse(unit)?;
    let df = transactions.0;
    let (id, dt, mv) = (
        customer_id_col.to_string(),
        datetime_col.to_string(),
        monetary_value_col.map(str::to_string),
    );
    let out = run_detached(py, move || {
        let col = |name: &str| {
            df.column(name)
                .map_err(|_| crate::Error::Schema(format!("transactions: no column '{name}'")))
        };
        let money = match &mv {
            Some(name) => Some(col(name)?),
            None => None,
        };
        clv::rfm_summary(
            col(&id)?,
            col(&dt)?,
            money,
            observation_end,
            unit.days(),
            &id,
        )
    })?;
    Ok(PyDataFrame(out))
}

fn bgnbd_dict<'py>(py: Python<'py>, f: &BgNbd) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("r", f.r)?;
    d.set_item("alpha", f.alpha)?;
    d.set_item("a", f.a)?;
    d.set_item("b", f.b)?;
    d.set_item("log_likelihood", f.log_likelihood)?;
    d.set_item("n_customers", f.n_customers)?;
    d.set_item("iterations", f.iterations)?;
    Ok(d)
}

#[pyfunction]
fn fit_bgnbd<'py>(
    py: Python<'py>,
    frequency: PyReadonlyArray1<'py, f64>,
    recency: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, tx, tt) = (owned(&frequency)?, owned(&recency)?, owned(&t)?);
    let fit = run_detached(py, move || clv::fit_bgnbd(&x, &tx, &tt))?;
    bgnbd_dict(py, &fit)
}

#[pyfunction]
fn bgnbd_log_likelihood<'py>(
    py: Python<'py>,
    params: (f64, f64, f64, f64),
    frequency: PyReadonlyArray1<'py, f64>,
    recency: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
) -> PyResult<f64> {
    let (x, tx, tt) = (owned(&frequency)?, owned(&recency)?, owned(&t)?);
    run_detached(py, move || clv::bgnbd_log_likelihood(params, &x, &tx, &tt))
}

/// `what` is "p_alive" or "expected_purchases" (over `horizon`).
#[pyfunction]
fn bgnbd_predict<'py>(
    py: Python<'py>,
    params: (f64, f64, f64, f64),
    what: &str,
    horizon: f64,
    frequency: PyReadonlyArray1<'py, f64>,
    recency: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (x, tx, tt) = (owned(&frequency)?, owned(&recency)?, owned(&t)?);
    let what = what.to_string();
    let out = run_detached(py, move || {
        let (r, alpha, a, b) = params;
        let model = BgNbd::from_params(r, alpha, a, b)?;
        match what.as_str() {
            "p_alive" => model.p_alive(&x, &tx, &tt),
            "expected_purchases" => model.expected_purchases(horizon, &x, &tx, &tt),
            other => Err(crate::Error::InvalidArgument(format!(
                "unknown prediction '{other}'"
            ))),
        }
    })?;
    Ok(PyArray1::from_vec(py, out))
}

#[pyfunction]
fn bgnbd_expected_purchases_new(params: (f64, f64, f64, f64), horizon: f64) -> PyResult<f64> {
    crate::bindings::errors::run(|| {
        let (r, alpha, a, b) = params;
        BgNbd::from_params(r, alpha, a, b)?.expected_purchases_new(horizon)
    })
}

#[pyfunction]
fn fit_gamma_gamma<'py>(
    py: Python<'py>,
    frequency: PyReadonlyArray1<'py, f64>,
    monetary_value: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, m) = (owned(&frequency)?, owned(&monetary_value)?);
    let fit: GammaGamma = run_detached(py, move || clv::fit_gamma_gamma(&x, &m))?;
    let d = PyDict::new(py);
    d.set_item("p", fit.p)?;
    d.set_item("q", fit.q)?;
    d.set_item("v", fit.v)?;
    d.set_item("log_likelihood", fit.log_likelihood)?;
    d.set_item("n_customers", fit.n_customers)?;
    d.set_item("iterations", fit.iterations)?;
    Ok(d)
}

#[pyfunction]
fn gamma_gamma_log_likelihood<'py>(
    py: Python<'py>,
    params: (f64, f64, f64),
    frequency: PyReadonlyArray1<'py, f64>,
    monetary_value: PyReadonlyArray1<'py, f64>,
) -> PyResult<f64> {
    let (x, m) = (owned(&frequency)?, owned(&monetary_value)?);
    run_detached(py, move || clv::gamma_gamma_log_likelihood(params, &x, &m))
}

#[pyfunction]
fn gamma_gamma_expected_spend<'py>(
    py: Python<'py>,
    params: (f64, f64, f64),
    frequency: PyReadonlyArray1<'py, f64>,
    monetary_value: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (x, m) = (owned(&frequency)?, owned(&monetary_value)?);
    let out = run_detached(py, move || {
        GammaGamma::from_params(params.0, params.1, params.2)?.expected_spend(&x, &m)
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// Discounted CLV per customer; `unit` is the time unit of recency and T ("D" or "W").
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn customer_lifetime_value<'py>(
    py: Python<'py>,
    bgnbd: (f64, f64, f64, f64),
    gamma_gamma: (f64, f64, f64),
    frequency: PyReadonlyArray1<'py, f64>,
    recency: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    monetary_value: PyReadonlyArray1<'py, f64>,
    months: u32,
    discount_rate: f64,
    unit: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let unit: Unit = parse(unit)?;
    let (x, tx, tt, m) = (
        owned(&frequency)?,
        owned(&recency)?,
        owned(&t)?,
        owned(&monetary_value)?,
    );
    let out = run_detached(py, move || {
        let bg = BgNbd::from_params(bgnbd.0, bgnbd.1, bgnbd.2, bgnbd.3)?;
        let gg = GammaGamma::from_params(gamma_gamma.0, gamma_gamma.1, gamma_gamma.2)?;
        clv::customer_lifetime_value(
            &bg,
            &gg,
            &x,
            &tx,
            &tt,
            &m,
            months,
            discount_rate,
            unit.month_length(),
        )
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// Seeded BG/NBD simulation: (frequency, recency, T) arrays.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn simulate_bgnbd<'py>(
    py: Python<'py>,
    n: usize,
    params: (f64, f64, f64, f64),
    t_range: (f64, f64),
    seed: u64,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
)> {
    let (x, tx, t) = run_detached(py, move || {
        clv::simulate::simulate_bgnbd(n, params, t_range, seed)
    })?;
    Ok((
        PyArray1::from_vec(py, x),
        PyArray1::from_vec(py, tx),
        PyArray1::from_vec(py, t),
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cohort_retention, m)?)?;
    m.add_function(wrap_pyfunction!(derived_tables, m)?)?;
    m.add_function(wrap_pyfunction!(clv_customers, m)?)?;
    m.add_function(wrap_pyfunction!(clv_summary, m)?)?;
    m.add_function(wrap_pyfunction!(clv_summary_events, m)?)?;
    m.add_function(wrap_pyfunction!(fit_bgnbd, m)?)?;
    m.add_function(wrap_pyfunction!(bgnbd_log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(bgnbd_predict, m)?)?;
    m.add_function(wrap_pyfunction!(bgnbd_expected_purchases_new, m)?)?;
    m.add_function(wrap_pyfunction!(fit_gamma_gamma, m)?)?;
    m.add_function(wrap_pyfunction!(gamma_gamma_log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(gamma_gamma_expected_spend, m)?)?;
    m.add_function(wrap_pyfunction!(customer_lifetime_value, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_bgnbd, m)?)?;
    Ok(())
}
