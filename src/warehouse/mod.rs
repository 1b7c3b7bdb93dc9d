//! The embedded store: a folder of Parquet tables plus `report.json`, written atomically (a new
//! warehouse replaces the old one only once it is complete). It stores what it is given; building the
//! tables is [`crate::build`]'s job.
pub mod parquet;

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::{Error, Result};

/// Writes `tables` into `dir` in parallel, each dropped as soon as it is written.
fn write_tables(dir: &Path, tables: Vec<(String, DataFrame)>) -> Result<()> {
    let results: Vec<Result<()>> = tables
        .into_par_iter()
        .map(|(table, mut df)| {
            if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::InvalidArgument(format!("bad table name '{table}'")));
            }
            let path = dir.join(format!("{table}.parquet"));
            parquet::write_table(&path, &mut df).map(|_| ())
        })
        .collect();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}

/// A hidden folder beside the warehouse `out` for this process's work of `kind` (staging, scratch):
/// `.{name}.{kind}-{pid}`, its parent folder created.
pub fn hidden_sibling(out: &Path, kind: &str) -> Result<PathBuf> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = out
        .file_name()
        .map_or_else(|| "warehouse".into(), |n| n.to_string_lossy().into_owned());
    Ok(parent.join(format!(".{name}.{kind}-{}", std::process::id())))
}

/// A warehouse being written: tables go into a hidden staging folder beside `out`, in as many steps
/// as the caller likes (so a build can write and free tables while it computes others); only
/// [`Staging::finish`] puts the complete folder in place of the old warehouse. Dropped unfinished
/// (an error), the staging folder is removed.
pub struct Staging {
    dir: PathBuf,
    out: PathBuf,
    done: bool,
}

impl Staging {
    pub fn create(out: &Path) -> Result<Staging> {
        let dir = hidden_sibling(out, "staging")?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
            done: false,
        })
    }

    /// The staging folder (for tables written part by part).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `tables` (in parallel; each frame is freed once written).
    pub fn write(&self, tables: Vec<(String, DataFrame)>) -> Result<()> {
        write_tables(&self.dir, tables)
    }

    /// Writes `report.json` and replaces the warehouse at `out` with the staged folder.
    pub fn finish(mut self, report: &serde_json::Value) -> Result<()> {
        let report_path = self.dir.join("report.json");
        std::fs::write(&report_path, serde_json::to_string_pretty(report)?)
            .map_err(|e| Error::io(&report_path, e))?;
        replace_dir(&self.dir, &self.out)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
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
    let staging = Staging::create(out)?;
    staging.write(tables)?;
    stream(staging.dir())?;
    staging.finish(report)
}
