//! Bindings of partitioned builds: the pieces a cluster runs (line keys and one partition on the
//! executors, the merge on the driver). Partials cross as bytes (a binary Arrow column in Spark).
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_polars::PyDataFrame;

use super::errors::run_detached;
use crate::build::partial_codec;
use crate::build::partitioned::{self, Shared};
use crate::clean::CleanConfig;
use crate::ingest::generic::{EventMapping, GenericTable};
use crate::Error;

fn config(config_json: Option<&str>) -> crate::Result<CleanConfig> {
    match config_json {
        Some(text) => CleanConfig::from_json(text),
        None => Ok(CleanConfig::default()),
    }
}

/// The reference data of the last folder a task used: a worker process that runs several tasks of
/// one build reads the item properties once.
static SHARED: Mutex<Option<(String, Arc<Shared>)>> = Mutex::new(None);

fn shared(raw_dir: &std::path::Path, config_json: Option<&str>) -> crate::Result<Arc<Shared>> {
    let key = format!("{}\u{0}{}", raw_dir.display(), config_json.unwrap_or(""));
    let mut slot = SHARED
        .lock()
        .map_err(|_| Error::Internal("reference cache poisoned".into()))?;
    if let Some((k, s)) = slot.as_ref() {
        if *k == key {
            return Ok(s.clone());
        }
    }
    let s = Arc::new(Shared::read(raw_dir, &config(config_json)?)?);
    *slot = Some((key, s.clone()));
    Ok(s)
}

/// Partition keys (signed 64-bit) of `events.csv` lines (column `text`): rows with one key belong to
/// one visitor (or are identical invalid lines).
#[pyfunction]
#[pyo3(signature = (frame, config_json=None))]
fn partition_line_keys(
    py: Python<'_>,
    frame: PyDataFrame,
    config_json: Option<&str>,
) -> PyResult<PyDataFrame> {
    let cfg = config(config_json).map_err(super::errors::to_pyerr)?;
    run_detached(py, move || -> crate::Result<PyDataFrame> {
        let vcfg = crate::ingest::retailrocket::events_validate_config(&cfg);
        line_keys(&frame.0, |line| partitioned::line_key(line, &vcfg))
    })
}

/// The frame of keys (column `key`, signed 64-bit) of the lines in `frame`'s column `text` (without
/// a trailing `\r`), one `key(line)` per row, computed in parallel.
fn line_keys(
    frame: &polars::prelude::DataFrame,
    key: impl Fn(&[u8]) -> u64 + Sync,
) -> crate::Result<PyDataFrame> {
    use polars::prelude::*;
    use rayon::prelude::*;
    let text = partitioned::text_column(frame)?;
    let values: Vec<Option<&str>> = text.iter().collect();
    let keys: Vec<i64> = values
        .par_iter()
        .map(|t| {
            let b = t.unwrap_or("").as_bytes();
            key(b.strip_suffix(b"\r").unwrap_or(b)) as i64
        })
        .collect();
    Ok(PyDataFrame(DataFrame::new(
        keys.len(),
        vec![Column::new("key".into(), keys)],
    )?))
}

/// Cleans and derives one partition (a frame of `line`, `text`) of the RetailRocket folder `raw_dir`,
/// writes its clean tables to `part_dir`; returns its partial as bytes.
#[pyfunction]
#[pyo3(signature = (partition, frame, raw_dir, part_dir, config_json=None))]
fn build_partition<'py>(
    py: Python<'py>,
    partition: usize,
    frame: PyDataFrame,
    raw_dir: PathBuf,
    part_dir: PathBuf,
    config_json: Option<&str>,
) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = run_detached(py, move || -> crate::Result<Vec<u8>> {
        let shared = shared(&raw_dir, config_json)?;
        let part = partitioned::build_frame_partition(partition, &frame.0, &shared, &part_dir)?;
        partial_codec::encode(&part)
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Merges partition partials (bytes) of the RetailRocket folder `raw_dir` into the warehouse at
/// `out_dir`; returns the report JSON.
#[pyfunction]
#[pyo3(signature = (partials, raw_dir, out_dir, config_json=None))]
fn merge_partitions(
    py: Python<'_>,
    partials: Vec<Vec<u8>>,
    raw_dir: PathBuf,
    out_dir: PathBuf,
    config_json: Option<&str>,
) -> PyResult<String> {
    let report = run_detached(py, move || -> crate::Result<_> {
        let cfg = config(config_json)?;
        let shared = Shared::read(&raw_dir, &cfg)?;
        let parts = partials
            .iter()
            .map(|b| partial_codec::decode(b))
            .collect::<crate::Result<Vec<_>>>()?;
        drop(partials);
        partitioned::merge_into(parts, &shared, &out_dir, &crate::build::no_progress)
    })?;
    serde_json::to_string(&report).map_err(|e| super::errors::to_pyerr(Error::from(e)))
}

fn mapping(mapping_json: &str) -> crate::Result<EventMapping> {
    EventMapping::from_json(mapping_json)
}

/// Checks a generic event file (CSV with a header) and its mapping as the driver of a build does
/// before any task runs: the mapped columns are in the header.
#[pyfunction]
#[pyo3(signature = (events_path, mapping_json, config_json=None))]
fn check_event_file(
    py: Python<'_>,
    events_path: PathBuf,
    mapping_json: &str,
    config_json: Option<&str>,
) -> PyResult<()> {
    let mapping_json = mapping_json.to_string();
    let config_json = config_json.map(str::to_string);
    run_detached(py, move || -> crate::Result<()> {
        Shared::generic(
            &events_path,
            mapping(&mapping_json)?,
            &config(config_json.as_deref())?,
        )?;
        Ok(())
    })
}

/// Partition keys (signed 64-bit) of data lines (column `text`) of the generic CSV event file
/// `events_path` read through the mapping: rows with one key belong to one visitor (or are identical
/// lines).
#[pyfunction]
#[pyo3(signature = (frame, events_path, mapping_json))]
fn partition_event_keys(
    py: Python<'_>,
    frame: PyDataFrame,
    events_path: PathBuf,
    mapping_json: &str,
) -> PyResult<PyDataFrame> {
    let mapping = mapping(mapping_json).map_err(super::errors::to_pyerr)?;
    run_detached(py, move || -> crate::Result<PyDataFrame> {
        let table = GenericTable::csv_lines(&events_path, mapping, Vec::new(), Vec::new())?;
        line_keys(&frame.0, |line| table.line_key(line))
    })
}

/// Cleans and derives one partition (a frame of `line`, `text`) of the generic CSV event file
/// `events_path` read through the mapping, writes its clean tables to `part_dir`; returns its partial
/// as bytes.
#[pyfunction]
#[pyo3(signature = (partition, frame, events_path, mapping_json, part_dir, config_json=None))]
fn build_event_partition<'py>(
    py: Python<'py>,
    partition: usize,
    frame: PyDataFrame,
    events_path: PathBuf,
    mapping_json: &str,
    part_dir: PathBuf,
    config_json: Option<&str>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mapping_json = mapping_json.to_string();
    let config_json = config_json.map(str::to_string);
    let bytes = run_detached(py, move || -> crate::Result<Vec<u8>> {
        let shared = Shared::generic(
            &events_path,
            mapping(&mapping_json)?,
            &config(config_json.as_deref())?,
        )?;
        let part = partitioned::build_frame_partition(partition, &frame.0, &shared, &part_dir)?;
        partial_codec::encode(&part)
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Merges partition partials (bytes) of the generic CSV event file `events_path` into the warehouse at
/// `out_dir`; returns the report JSON.
#[pyfunction]
#[pyo3(signature = (partials, events_path, mapping_json, out_dir, config_json=None))]
fn merge_event_partitions(
    py: Python<'_>,
    partials: Vec<Vec<u8>>,
    events_path: PathBuf,
    mapping_json: &str,
    out_dir: PathBuf,
    config_json: Option<&str>,
) -> PyResult<String> {
    let mapping_json = mapping_json.to_string();
    let config_json = config_json.map(str::to_string);
    let report = run_detached(py, move || -> crate::Result<_> {
        let shared = Shared::generic(
            &events_path,
            mapping(&mapping_json)?,
            &config(config_json.as_deref())?,
        )?;
        let parts = partials
            .iter()
            .map(|b| partial_codec::decode(b))
            .collect::<crate::Result<Vec<_>>>()?;
        drop(partials);
        partitioned::merge_into(parts, &shared, &out_dir, &crate::build::no_progress)
    })?;
    serde_json::to_string(&report).map_err(|e| super::errors::to_pyerr(Error::from(e)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_event_file, m)?)?;
    m.add_function(wrap_pyfunction!(partition_event_keys, m)?)?;
    m.add_function(wrap_pyfunction!(build_event_partition, m)?)?;
    m.add_function(wrap_pyfunction!(merge_event_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(partition_line_keys, m)?)?;
    m.add_function(wrap_pyfunction!(build_partition, m)?)?;
    m.add_function(wrap_pyfunction!(merge_partitions, m)?)?;
    Ok(())
}
