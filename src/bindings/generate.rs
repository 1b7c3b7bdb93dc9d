//! `shoplens._native.generate`: writes a synthetic RetailRocket-format data set.
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bindings::errors::run_detached;
use crate::generate::{generate as generate_dataset, GenerateConfig};

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A bar on stderr; indicatif stays silent when stderr is not a terminal.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Returns `{"out_dir": str, "files": {name: path}, "rows": {name: data rows}}`.
#[pyfunction]
#[pyo3(signature = (out_dir, scale=1.0, seed=42, inject_anomalies=true, progress=false))]
fn generate<'py>(
    py: Python<'py>,
    out_dir: PathBuf,
    scale: f64,
    seed: u64,
    inject_anomalies: bool,
    progress: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = GenerateConfig {
        scale,
        seed,
        inject_anomalies,
    };
    let summary = run_detached(py, move || {
        let bar = progress.then(progress_bar);
        let report = |step: &str, done: u64, total: u64| {
            if let Some(bar) = &bar {
                bar.set_message(step.to_string());
                bar.set_length(total);
                bar.set_position(done);
            }
        };
        let result = generate_dataset(&out_dir, &cfg, &report);
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        result
    })?;
    let files = PyDict::new(py);
    for path in &summary.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.set_item(name, path_text(path))?;
    }
    let rows = PyDict::new(py);
    for (name, n) in &summary.rows {
        rows.set_item(name, n)?;
    }
    let result = PyDict::new(py);
    result.set_item("out_dir", path_text(&summary.out_dir))?;
    result.set_item("files", files)?;
    result.set_item("rows", rows)?;
    Ok(result)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate, m)?)
}
