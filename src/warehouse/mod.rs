//! The embedded store: a folder of Parquet tables plus `report.json`, written atomically (a new
//! warehouse replaces the old one only once it is complete). It stores what it is given; building the
//! tables is [`crate::build`]'s job.
pub mod parquet;

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::{Error, Result};

fn write_dir(staging: &Path, mut tables: Vec<(String, DataFrame)>, report: &str) -> Result<()> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    }
    std::fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    let results: Vec<Result<()>> = tables
        .par_iter_mut()
        .map(|(table, df)| {
            if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::InvalidArgument(format!("bad table name '{table}'")));
            }
            let path = staging.join(format!("{table}.parquet"));
            parquet::write_table(&path, df).map(|_| ())
        })
        .collect();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let report_path = staging.join("report.json");
    std::fs::write(&report_path, report).map_err(|e| Error::io(&report_path, e))
}

fn replace_dir(staging: &Path, out: &Path) -> Result<()> {
    let old: Option<PathBuf> = out
        .exists()
        .then(|| out.with_extension(format!("old-{}", std::process::id())));
    if let Some(old) = &old {
        std::fs::rename(out, old).map_err(|e| Error::io(out, e))?;
    }
    std::fs::rename(staging, out).map_err(|e| Error::io(out, e))?;
    if let Some(old) = &old {
        std::fs::remove_dir_all(old).map_err(|e| Error::io(old, e))?;
    }
    Ok(())
}

/// Writes already-built tables (e.g. from a generic source cleaned in Python) and a report.
pub fn write_frames(
    out: &Path,
    tables: Vec<(String, DataFrame)>,
    report: &serde_json::Value,
) -> Result<()> {
    write_staged(out, tables, report, |_| Ok(()))
}

/// As [`write_frames`], and `stream` writes further tables into the staging folder (tables too large
/// to hold in memory, written part by part) before the warehouse replaces the old one.
pub fn write_staged(
    out: &Path,
    tables: Vec<(String, DataFrame)>,
    report: &serde_json::Value,
    stream: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = out
        .file_name()
        .map_or_else(|| "warehouse".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
    write_dir(&staging, tables, &serde_json::to_string_pretty(report)?)?;
    stream(&staging)?;
    replace_dir(&staging, out)
}
