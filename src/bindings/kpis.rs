//! Bindings of the KPI engine: an open index of a warehouse's events (kept by Python per warehouse,
//! so interactive queries do not re-read Parquet) and the KPI tables of a filter.
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_polars::PyDataFrame;

use super::errors::run_detached;
use crate::kpis::{self, DaySet, EventIndex, Filter};
use crate::Error;

/// The events of one warehouse in the engine's compact KPI form.
#[pyclass(frozen, module = "shoplens._native")]
pub struct KpiIndex {
    inner: Arc<EventIndex>,
}

#[allow(clippy::too_many_arguments)]
fn filter(
    start: Option<i32>,
    end: Option<i32>,
    days: &str,
    root_category: Option<i64>,
    segment: Option<&str>,
    include_bots: bool,
) -> PyResult<Filter> {
    let days = match days {
        "all" => DaySet::All,
        "weekdays" => DaySet::Weekdays,
        "weekends" => DaySet::Weekends,
        other => {
            return Err(super::errors::to_pyerr(Error::InvalidArgument(format!(
                "days={other:?}; expected 'all', 'weekdays' or 'weekends'"
            ))))
        }
    };
    let segment = match segment {
        None => None,
        Some(s) => Some(
            kpis::index::LIFECYCLE
                .iter()
                .position(|l| *l == s)
                .ok_or_else(|| {
                    super::errors::to_pyerr(Error::InvalidArgument(format!(
                        "segment={s:?}; expected one of {:?}",
                        kpis::index::LIFECYCLE
                    )))
                })? as u8,
        ),
    };
    Ok(Filter {
        start,
        end,
        days,
        root_category,
        segment,
        include_bots,
    })
}

#[pymethods]
impl KpiIndex {
    /// Reads `events` (and `categories`, `items` when present) of the warehouse folder.
    #[new]
    fn new(py: Python<'_>, warehouse: PathBuf) -> PyResult<Self> {
        let index = run_detached(py, || kpis::open_index(&warehouse))?;
        Ok(KpiIndex {
            inner: Arc::new(index),
        })
    }

    /// Number of events, visitors and items in the index.
    #[getter]
    fn shape(&self) -> (usize, usize, usize) {
        let i = &self.inner;
        (i.ts.len(), i.n_visitors(), i.n_items())
    }

    /// First and last UTC day of the data as day numbers since 1970-01-01.
    #[getter]
    fn day_range(&self) -> (i32, i32) {
        let i = &self.inner;
        (i.first_day, i.first_day + i.n_days as i32 - 1)
    }

    /// Every tested hourly anomaly window of a filter (flagged or not).
    #[pyo3(signature = (*, start=None, end=None, days="all", root_category=None, segment=None, include_bots=false))]
    #[allow(clippy::too_many_arguments)]
    fn hourly_anomaly_windows(
        &self,
        py: Python<'_>,
        start: Option<i32>,
        end: Option<i32>,
        days: &str,
        root_category: Option<i64>,
        segment: Option<&str>,
        include_bots: bool,
    ) -> PyResult<PyDataFrame> {
        let f = filter(start, end, days, root_category, segment, include_bots)?;
        let index = &self.inner;
        Ok(PyDataFrame(run_detached(py, || {
            kpis::hourly_anomaly_windows(index, &f)
        })?))
    }

    /// Headline KPIs (one row) of a filter: from the index's pre-aggregated cube (built on the first
    /// call), or with `scan=True` by scanning the events (the reference path).
    #[pyo3(signature = (*, start=None, end=None, days="all", root_category=None, segment=None, include_bots=false, scan=false))]
    #[allow(clippy::too_many_arguments)]
    fn headline(
        &self,
        py: Python<'_>,
        start: Option<i32>,
        end: Option<i32>,
        days: &str,
        root_category: Option<i64>,
        segment: Option<&str>,
        include_bots: bool,
        scan: bool,
    ) -> PyResult<PyDataFrame> {
        let f = filter(start, end, days, root_category, segment, include_bots)?;
        let index = &self.inner;
        Ok(PyDataFrame(run_detached(py, || {
            if scan {
                kpis::headline_scan(index, &f)
            } else {
                kpis::headline(index, &f)
            }
        })?))
    }

    /// KPI tables of a filter: {name: DataFrame} for `names` (every table when empty), computed
    /// from `partitions` visitor hash partitions (0: contiguous visitor chunks; the same results).
    #[pyo3(signature = (names, *, start=None, end=None, days="all", root_category=None, segment=None, include_bots=false, partitions=0))]
    #[allow(clippy::too_many_arguments)]
    fn tables<'py>(
        &self,
        py: Python<'py>,
        names: Vec<String>,
        start: Option<i32>,
        end: Option<i32>,
        days: &str,
        root_category: Option<i64>,
        segment: Option<&str>,
        include_bots: bool,
        partitions: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let f = filter(start, end, days, root_category, segment, include_bots)?;
        let index = &self.inner;
        let frames = run_detached(py, || {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            kpis::tables_with(index, &f, partitions, &names)
        })?;
        let out = PyDict::new(py);
        for (name, df) in frames {
            out.set_item(name, PyDataFrame(df))?;
        }
        Ok(out)
    }
}

/// Anomaly bands of a daily KPI table (`kpi_daily`'s columns); every day when `all_days`.
#[pyfunction]
#[pyo3(signature = (daily, *, all_days=false))]
fn kpi_anomalies(py: Python<'_>, daily: PyDataFrame, all_days: bool) -> PyResult<PyDataFrame> {
    let df = daily.0;
    Ok(PyDataFrame(run_detached(py, || {
        kpis::anomalies::anomalies_frame(&df, all_days)
    })?))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KpiIndex>()?;
    m.add_function(wrap_pyfunction!(kpi_anomalies, m)?)?;
    m.add(
        "KPI_ANOMALY_FALSE_FLAG_RATE",
        kpis::anomalies::FALSE_FLAG_RATE,
    )?;
    m.add("KPI_HOURLY_ANOMALY_ALPHA", kpis::anomalies::HOURLY_ALPHA)?;
    m.add(
        "KPI_HOURLY_ANOMALY_WINDOWS",
        kpis::anomalies::HOURLY_WINDOWS.to_vec(),
    )?;
    m.add(
        "KPI_LIFECYCLE_WINDOW_DAYS",
        kpis::index::LIFECYCLE_WINDOW_DAYS,
    )?;
    Ok(())
}

// PostgreSQL read path (src/bindings/db.rs builds the index from frames read from the store).
impl KpiIndex {
    pub(crate) fn from_index(index: EventIndex) -> Self {
        KpiIndex {
            inner: Arc::new(index),
        }
    }
}
