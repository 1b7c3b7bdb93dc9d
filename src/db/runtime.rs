//! The one tokio runtime of the engine's database work, started on first use and kept for the process.
use std::future::Future;
use std::sync::OnceLock;

use crate::{Error, Result};

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// Runs `work` to completion on the shared runtime (the caller's thread drives it).
pub fn block_on<F: Future>(work: F) -> Result<F::Output> {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("shoplens-db")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match rt {
        Ok(rt) => Ok(rt.block_on(work)),
        Err(e) => Err(Error::Database(format!(
            "cannot start the async runtime: {e}"
        ))),
    }
}
