//! The one place engine errors become Python exceptions (classes defined in `shoplens/errors.py`).
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::Error;

/// Converts any engine error into the matching `shoplens.errors` exception.
pub(crate) fn to_pyerr(err: impl Into<Error>) -> PyErr {
    let err = err.into();
    Python::attach(|py| build(py, &err).unwrap_or_else(|failed| failed))
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let kwargs = PyDict::new(py);
    let class = match err {
        Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            kwargs.set_item("file", path.display().to_string())?;
            kwargs.set_item("line", 0)?;
            kwargs.set_item("rule", "missing_file")?;
            "MissingFileError"
        }
        Error::Io { .. } | Error::Storage(_) => "StorageError",
        Error::DataFile {
            file, line, rule, ..
        } => {
            kwargs.set_item("file", file.display().to_string())?;
            kwargs.set_item("line", *line)?;
            kwargs.set_item("rule", rule)?;
            "DataFileError"
        }
        Error::Schema(_) => "SchemaError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::Numerical(_) => "NumericalError",
        Error::Database(_) => "DatabaseError",
        Error::Internal(_) => "InternalError",
    };
    let module = py.import("shoplens.errors")?;
    let value = module
        .getattr(class)?
        .call((err.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(value))
}

/// Runs engine work without the GIL and turns both its errors and any panic into Python exceptions,
/// so a Rust panic never unwinds into the interpreter.
pub(crate) fn run_detached<T, E, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    E: Into<Error> + Send,
    F: FnOnce() -> Result<T, E> + Send,
{
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_pyerr(err)),
        Err(panic) => Err(to_pyerr(Error::Internal(panic_message(panic.as_ref())))),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("engine panic: {text}")
}

/// Same as [`run_detached`] for quick work that keeps the GIL.
pub(crate) fn run<T, E, F>(work: F) -> PyResult<T>
where
    E: Into<Error>,
    F: FnOnce() -> Result<T, E>,
{
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_pyerr(err)),
        Err(panic) => Err(to_pyerr(Error::Internal(panic_message(panic.as_ref())))),
    }
}
