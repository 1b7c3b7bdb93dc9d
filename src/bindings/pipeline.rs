//! Bindings of the cleaning pipeline and the warehouse builder.
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_polars::PyDataFrame;

use super::errors::run_detached;
use crate::build::{self, Cleaned};
use crate::clean::CleanConfig;
use crate::ingest::generic::{EventMapping, GenericInput};

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
        build::clean_retailrocket(&raw_dir, &cfg, &build::no_progress)
    })?;
    to_python(py, cleaned)
}

fn mapping(mapping_json: &str) -> PyResult<EventMapping> {
    EventMapping::from_json(mapping_json).map_err(super::errors::to_pyerr)
}

fn generic_input(
    source: &Bound<'_, PyAny>,
    name: Option<String>,
    index: Option<Vec<u64>>,
) -> PyResult<GenericInput> {
    if let Ok(path) = source.extract::<PathBuf>() {
        return Ok(GenericInput::File(path));
    }
    let frame: PyDataFrame = source.extract()?;
    Ok(GenericInput::Frame {
        name: name.unwrap_or_else(|| "frame".to_string()),
        frame: frame.0,
        index,
    })
}

/// Cleans a user's own event table (a CSV/Parquet path or a polars DataFrame) read through a column
/// mapping (JSON); returns ({table: DataFrame}, report JSON).
#[pyfunction]
#[pyo3(signature = (source, mapping_json, config_json=None, name=None, index=None))]
fn clean_events<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    mapping_json: &str,
    config_json: Option<&str>,
    name: Option<String>,
    index: Option<Vec<u64>>,
) -> PyResult<(Bound<'py, PyDict>, String)> {
    let cfg = config(config_json)?;
    let mapping = mapping(mapping_json)?;
    let input = generic_input(source, name, index)?;
    let cleaned = run_detached(py, move || {
        build::clean_generic(input, mapping, &cfg, &build::no_progress)
    })?;
    to_python(py, cleaned)
}

/// Cleans a user's own event table and writes the warehouse; returns the report JSON.
#[pyfunction]
#[pyo3(signature = (source, out_dir, mapping_json, config_json=None, name=None, index=None, progress=false))]
#[allow(clippy::too_many_arguments)]
fn build_events(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    out_dir: PathBuf,
    mapping_json: &str,
    config_json: Option<&str>,
    name: Option<String>,
    index: Option<Vec<u64>>,
    progress: bool,
) -> PyResult<String> {
    let cfg = config(config_json)?;
    let mapping = mapping(mapping_json)?;
    let input = generic_input(source, name, index)?;
    let bar = progress_bar(progress);
    let report = run_detached(py, || {
        let step = |name: &str, done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(name.to_string());
        };
        build::build_generic(input, mapping, &out_dir, &cfg, &step)
    });
    bar.finish_and_clear();
    serde_json::to_string(&report?).map_err(|e| super::errors::to_pyerr(crate::Error::from(e)))
}

/// `shoplens build`: cleans a RetailRocket folder into a Parquet warehouse; returns the report JSON.
/// With `memory_limit` (bytes) the build is partitioned when the input would not fit
/// (`partitions` forces a number of visitor partitions).
#[pyfunction]
#[pyo3(signature = (raw_dir, out_dir, config_json=None, progress=false, memory_limit=None, partitions=None))]
fn build_warehouse(
    py: Python<'_>,
    raw_dir: PathBuf,
    out_dir: PathBuf,
    config_json: Option<&str>,
    progress: bool,
    memory_limit: Option<u64>,
    partitions: Option<usize>,
) -> PyResult<String> {
    let cfg = config(config_json)?;
    let bar = progress_bar(progress);
    let report = run_detached(py, || {
        let step = |name: &str, done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(name.to_string());
        };
        build::partitioned::build_warehouse_limited(
            &raw_dir,
            &out_dir,
            &cfg,
            memory_limit,
            partitions,
            &step,
        )
    });
    bar.finish_and_clear();
    serde_json::to_string(&report?).map_err(|e| super::errors::to_pyerr(crate::Error::from(e)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clean_retailrocket, m)?)?;
    m.add_function(wrap_pyfunction!(clean_events, m)?)?;
    m.add_function(wrap_pyfunction!(build_events, m)?)?;
    m.add_function(wrap_pyfunction!(build_warehouse, m)?)?;
    Ok(())
}
