//! The Python face of the engine (`shoplens._native`): conversion, GIL release and error mapping only.
use pyo3::prelude::*;

#[cfg(target_os = "linux")]
mod alloc;
mod clv;
mod compare;
mod db;
pub(crate) mod errors;
mod experiments;
mod generate;
mod kpis;
mod partitioned;
mod pipeline;
mod stats;

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: alloc::HugePageAlloc = alloc::HugePageAlloc;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    pipeline::register(m)?;
    generate::register(m)?;
    stats::register(m)?;
    experiments::register(m)?;
    compare::register(m)?;
    kpis::register(m)?;
    clv::register(m)?;
    partitioned::register(m)?;
    db::register(m)?;
    Ok(())
}
