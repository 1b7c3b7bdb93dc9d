//! The Python face of the engine (`shoplens._native`): conversion, GIL release and error mapping only.
use pyo3::prelude::*;

pub(crate) mod errors;
mod generate;
mod pipeline;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    pipeline::register(m)?;
    generate::register(m)?;
    Ok(())
}
