//! Bindings of the PostgreSQL store (`src/db`): every call releases the GIL while it waits on the server.
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_polars::PyDataFrame;

use super::errors::{run, run_detached};
use super::kpis::KpiIndex;
use crate::db;

fn url(url: Option<String>) -> PyResult<String> {
    run(|| db::resolve_url(url.as_deref()))
}

/// Applies pending migrations; returns the versions applied.
#[pyfunction]
#[pyo3(signature = (url=None))]
fn db_migrate(py: Python<'_>, url: Option<String>) -> PyResult<Vec<i64>> {
    let url = self::url(url)?;
    run_detached(py, || db::migrate_up(&url))
}

/// Reverts migrations down to `target` (0: all); returns the versions reverted.
#[pyfunction]
#[pyo3(signature = (url=None, *, target=0))]
fn db_migrate_down(py: Python<'_>, url: Option<String>, target: i64) -> PyResult<Vec<i64>> {
    let url = self::url(url)?;
    run_detached(py, || db::migrate_down(&url, target))
}

/// Migrations, last load and row counts as a dict.
#[pyfunction]
#[pyo3(signature = (url=None))]
fn db_status<'py>(py: Python<'py>, url: Option<String>) -> PyResult<Bound<'py, PyDict>> {
    let url = self::url(url)?;
    let st = run_detached(py, || db::status(&url))?;
    let out = PyDict::new(py);
    let migrations: Vec<(i64, String, bool)> = st
        .migrations
        .into_iter()
        .map(|m| (m.version, m.description, m.applied))
        .collect();
    out.set_item("migrations", migrations)?;
    out.set_item("last_load", st.last_load)?;
    out.set_item("tables", st.tables)?;
    out.set_item("url", db::redact(&url))?;
    Ok(out)
}

/// Loads a warehouse folder in one transaction; returns {"tables": [(name, rows)], "seconds": s}.
#[pyfunction]
#[pyo3(signature = (warehouse, url=None))]
fn db_load<'py>(
    py: Python<'py>,
    warehouse: PathBuf,
    url: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let url = self::url(url)?;
    let summary = run_detached(py, || db::load_warehouse(&url, &warehouse))?;
    let out = PyDict::new(py);
    out.set_item("tables", summary.tables)?;
    out.set_item("seconds", summary.seconds)?;
    Ok(out)
}

/// Reads tables (names from the store's fixed list) with their warehouse types, from one snapshot.
#[pyfunction]
#[pyo3(signature = (names, url=None))]
fn db_read_tables(
    py: Python<'_>,
    names: Vec<String>,
    url: Option<String>,
) -> PyResult<Vec<PyDataFrame>> {
    let url = self::url(url)?;
    let frames = run_detached(py, || db::read_tables(&url, &names))?;
    Ok(frames.into_iter().map(PyDataFrame).collect())
}

/// Whether the last load had this table.
#[pyfunction]
#[pyo3(signature = (name, url=None))]
fn db_has_table(py: Python<'_>, name: String, url: Option<String>) -> PyResult<bool> {
    let url = self::url(url)?;
    run_detached(py, || db::has_table(&url, &name))
}

/// The build report (JSON text) of the last load.
#[pyfunction]
#[pyo3(signature = (url=None))]
fn db_last_report(py: Python<'_>, url: Option<String>) -> PyResult<String> {
    let url = self::url(url)?;
    run_detached(py, || db::last_report(&url))
}

/// The URL with its password hidden (for messages).
#[pyfunction]
fn db_redact(url: &str) -> String {
    db::redact(url)
}

/// The table names the store holds, in load order.
#[pyfunction]
fn db_tables() -> Vec<&'static str> {
    db::tables()
}

/// A KPI index of event, category and item frames already in memory (e.g. read from PostgreSQL).
#[pyfunction]
#[pyo3(signature = (events, categories=None, items=None))]
fn kpi_index_from_frames(
    py: Python<'_>,
    events: PyDataFrame,
    categories: Option<PyDataFrame>,
    items: Option<PyDataFrame>,
) -> PyResult<KpiIndex> {
    let (events, categories, items) = (events.0, categories.map(|c| c.0), items.map(|i| i.0));
    let index = run_detached(py, || {
        crate::kpis::EventIndex::new(&events, categories.as_ref(), items.as_ref())
    })?;
    Ok(KpiIndex::from_index(index))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(db_migrate, m)?)?;
    m.add_function(wrap_pyfunction!(db_migrate_down, m)?)?;
    m.add_function(wrap_pyfunction!(db_status, m)?)?;
    m.add_function(wrap_pyfunction!(db_load, m)?)?;
    m.add_function(wrap_pyfunction!(db_read_tables, m)?)?;
    m.add_function(wrap_pyfunction!(db_has_table, m)?)?;
    m.add_function(wrap_pyfunction!(db_last_report, m)?)?;
    m.add_function(wrap_pyfunction!(db_redact, m)?)?;
    m.add_function(wrap_pyfunction!(db_tables, m)?)?;
    m.add_function(wrap_pyfunction!(kpi_index_from_frames, m)?)?;
    m.add("DB_URL_ENV", db::URL_ENV)?;
    Ok(())
}
