//! shoplens engine: e-commerce clickstream cleaning, analytics and experiment statistics.
//!
//! The engine is plain Rust; the Python face lives in `bindings` behind the `python` feature.
pub mod build;
pub mod clean;
pub mod clv;
pub mod cohorts;
pub mod compare;
pub mod db;
pub mod error;
pub mod experiments;
pub(crate) mod frame;
pub mod generate;
pub(crate) mod hint;
pub mod ingest;
pub mod kpis;
pub mod rng;
pub(crate) mod slots;
pub mod stats;
pub mod warehouse;

pub use error::{Error, Result};

#[cfg(feature = "python")]
mod bindings;
