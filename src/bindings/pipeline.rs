//! Bindings of the cleaning pipeline and the warehouse builder.
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_polars::PyDataFrame;

use super::errors::run_detached;
use crate::clean::CleanConfig;
use crate::warehouse::{self, Cleaned};

/// A step bar on stderr; indicatif draws nothing when stderr is not a terminal.
pub(crate) fn progress_bar(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn config(config_json: Option<&str>) -> PyResult<CleanConfig> {
    match config_json {
        Some(text) => CleanConfig::from_json(text).map_err(super::errors::to_pyerr),
        None => Ok(CleanConfig::default()),
    }
}

fn to_python<'py>(py: Python<'py>, cleaned: Cleaned) -> PyResult<(Bound<'py, PyDict>, String)> {
    let report = serde_json::to_string(&cleaned.report)
        .map_err(|e| super::errors::to_pyerr(crate::Error::from(e)))?;
    let tables = PyDict::new(py);
    for (name, df) in cleaned.tables {
        tables.set_item(name, PyDataFrame(df))?;
    }
    Ok((tables, report))
}

/// Cleans a RetailRocket folder; returns ({table: DataFrame}, report JSON).
#[pyfunction]
#[pyo3(signature = (raw_dir, config_json=None))]
fn clean_retailrocket<'py>(
    py: Python<'py>,
    raw_dir: PathBuf,
    config_json: Option<&str>,
) -> PyResult<(Bound<'py, PyDict>, String)> {
    let cfg = config(config_json)?;
    let cleaned = run_detached(py, || {
        warehouse::clean_retailrocket(&raw_dir, &cfg, &warehouse::no_progress)
    })?;
    to_python(py, cleaned)
}

/// Cleans a mapped generic table (text columns, `__line`, `__duplicate_of`).
#[pyfunction]
#[pyo3(signature = (name, frame, config_json=None))]
fn clean_frame<'py>(
    py: Python<'py>,
    name: &str,
    frame: PyDataFrame,
    config_json: Option<&str>,
) -> PyResult<(Bound<'py, PyDict>, String)> {
    let cfg = config(config_json)?;
    let df = frame.0;
    let cleaned = run_detached(py, || warehouse::clean_frame(name, &df, &cfg))?;
    to_python(py, cleaned)
}

/// Writes cleaned tables (as returned by the clean functions) and the report to a warehouse folder.
#[pyfunction]
fn write_tables(
    py: Python<'_>,
    out_dir: PathBuf,
    tables: Vec<(String, PyDataFrame)>,
    report_json: &str,
) -> PyResult<()> {
    let report: serde_json::Value = serde_json::from_str(report_json)
        .map_err(|e| super::errors::to_pyerr(crate::Error::from(e)))?;
    let frames: Vec<(String, polars::prelude::DataFrame)> =
        tables.into_iter().map(|(n, df)| (n, df.0)).collect();
    run_detached(py, move || {
        warehouse::write_frames(&out_dir, frames, &report)
    })
}

/// `shoplens build`: cleans a RetailRocket folder into a Parquet warehouse; returns the report JSON.
#[pyfunction]
#[pyo3(signature = (raw_dir, out_dir, config_json=None, progress=false))]
fn build_warehouse(
    py: Python<'_>,
    raw_dir: PathBuf,
    out_dir: PathBuf,
    config_json: Option<&str>,
    progress: bool,
) -> PyResult<String> {
    let cfg = config(config_json)?;
    let bar = progress_bar(progress);
    let report = run_detached(py, || {
        let step = |name: &str, done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(name.to_string());
        };
        warehouse::build_warehouse(&raw_dir, &out_dir, &cfg, &step)
    });
    bar.finish_and_clear();
    serde_json::to_string(&report?).map_err(|e| super::errors::to_pyerr(crate::Error::from(e)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clean_retailrocket, m)?)?;
    m.add_function(wrap_pyfunction!(clean_frame, m)?)?;
    m.add_function(wrap_pyfunction!(write_tables, m)?)?;
    m.add_function(wrap_pyfunction!(build_warehouse, m)?)?;
    Ok(())
}
