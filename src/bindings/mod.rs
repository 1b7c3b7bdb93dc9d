//! The Python face of the engine (`shoplens._native`): conversion, GIL release and error mapping only.
use pyo3::prelude::*;

mod compare;
pub(crate) mod errors;
mod experiments;
mod generate;
mod pipeline;
mod stats;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    pipeline::register(m)?;
    generate::register(m)?;
    stats::register(m)?;
    experiments::register(m)?;
    compare::register(m)?;
    Ok(())
}
