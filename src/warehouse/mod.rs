//! The embedded store: a folder of Parquet tables plus `report.json`, written atomically (a new
//! warehouse replaces the old one only once it is complete).
pub mod parquet;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use rayon::prelude::*;

use crate::clean::rules::Rule;
use crate::clean::{clean_events, tables, CleanConfig, CleanEvents, Prices};
use crate::ingest::experiments::read_experiments;
use crate::ingest::frame::FrameText;
use crate::ingest::retailrocket::{
    event_outcomes, event_source, read_reference, RawFolder, ReferenceRead, EVENTS_HEADER,
};
use crate::ingest::text::TextFile;
use crate::{Error, Result};
use report::{CategoryStats, Conservation, Report, RuleDoc};

/// Reports progress as (step, done, total); the engine never prints.
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

pub fn no_progress(_: &str, _: u64, _: u64) {}

/// Table names, in the order they are written.
pub const TABLES: [&str; 9] = [
    "events",
    "sessions",
    "visitors",
    "items",
    "categories",
    "quarantine",
    "duplicates",
    "assignments",
    "experiment_weights",
];

pub struct Cleaned {
    pub tables: Vec<(&'static str, DataFrame)>,
    pub report: Report,
}

impl Cleaned {
    pub fn table(&self, name: &str) -> Option<&DataFrame> {
        self.tables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, df)| df)
    }
}

/// Validates and cleans a RetailRocket-format folder.
pub fn clean_retailrocket(
    dir: &Path,
    cfg: &CleanConfig,
    progress: Progress<'_>,
) -> Result<Cleaned> {
    cfg.check()?;
    let steps = 5;
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, u64)>| {
        timings.push((name.to_string(), clock.elapsed().as_millis() as u64));
        clock = Instant::now();
    };
    let folder = RawFolder::locate(dir)?;
    // The raw text is dropped as soon as the events are clean.
    let (cleaned, reference) = {
        progress("read events and item properties", 0, steps);
        // Events and reference files are independent: read them side by side.
        let (events, reference) = rayon::join(
            || -> Result<_> {
                let started = Instant::now();
                let file = TextFile::open(&folder.events, &EVENTS_HEADER)?;
                let outcomes = event_outcomes(&file, cfg);
                Ok((file, outcomes, started.elapsed()))
            },
            || -> Result<_> {
                let started = Instant::now();
                let (reference, experiments) = rayon::join(
                    || read_reference(&folder, cfg),
                    || match &folder.assignments {
                        Some(path) => {
                            read_experiments(path, folder.weights.as_deref(), cfg).map(Some)
                        }
                        None => Ok(None),
                    },
                );
                let mut reference = reference?;
                if let Some(exp) = experiments? {
                    reference.quarantine.extend(exp.quarantine);
                    reference.files.extend(exp.files);
                    reference.experiments = Some((exp.assignments, exp.weights));
                }
                Ok((reference, started.elapsed()))
            },
        );
        let (file, outcomes, events_time) = events?;
        let (reference, reference_time) = reference?;
        timings.push((
            "read_validate_dedup_events".into(),
            events_time.as_millis() as u64,
        ));
        timings.push(("read_reference".into(), reference_time.as_millis() as u64));
        lap("read_all", &mut timings);
        progress("sessions and enrichment", 2, steps);
        let source = event_source(&file, outcomes);
        let cleaned = clean_events(&source, &reference.reference, cfg)?;
        lap("clean_sessions_enrich", &mut timings);
        (cleaned, reference)
    };
    progress("tables", 3, steps);
    let out = assemble(
        &dir.display().to_string(),
        cleaned,
        &reference,
        cfg,
        timings,
    )?;
    progress("tables", 4, steps);
    Ok(out)
}

/// Cleans a generic event table already mapped to text columns (see [`FrameText`]). There is no item
/// reference data, so categories stay null; prices come from the table's own price column if mapped.
pub fn clean_frame(name: &str, df: &DataFrame, cfg: &CleanConfig) -> Result<Cleaned> {
    cfg.check()?;
    let clock = Instant::now();
    let text = FrameText::new(name, df)?;
    let source = text.source(cfg);
    let reference = ReferenceRead::empty();
    let cleaned = clean_events(&source, &reference.reference, cfg)?;
    let timings = vec![("clean".to_string(), clock.elapsed().as_millis() as u64)];
    assemble(name, cleaned, &reference, cfg, timings)
}

fn assemble(
    source: &str,
    cleaned: CleanEvents,
    reference: &ReferenceRead,
    cfg: &CleanConfig,
    mut timings: Vec<(String, u64)>,
) -> Result<Cleaned> {
    let clock = Instant::now();
    let r = &reference.reference;
    let CleanEvents {
        events,
        sessions,
        visitors,
        item_counts,
        mut quarantine,
        duplicates,
        stats,
    } = cleaned;
    quarantine.extend(reference.quarantine.iter().cloned());
    let frames = [
        Ok(events),
        Ok(sessions),
        Ok(visitors),
        tables::items_frame(&item_counts, r),
        tables::categories_frame(r),
        tables::quarantine_frame(&quarantine),
        tables::duplicates_frame(&duplicates),
        match &reference.experiments {
            Some((a, _)) => Ok(a.clone()),
            None => tables::empty_assignments(),
        },
        match &reference.experiments {
            Some((_, w)) => Ok(w.clone()),
            None => tables::empty_weights(),
        },
    ];
    let mut out_tables = Vec::with_capacity(TABLES.len());
    for (name, frame) in TABLES.iter().zip(frames) {
        out_tables.push((*name, frame?));
    }
    timings.push((
        "build_tables".to_string(),
        clock.elapsed().as_millis() as u64,
    ));
    let ev = &stats;
    let files_read: u64 = reference.files.iter().map(|f| f.rows_read).sum();
    let files_kept: u64 = reference.files.iter().map(|f| f.kept).sum();
    let files_q: u64 = reference.files.iter().map(|f| f.quarantined).sum();
    let conservation = Conservation {
        rows_read: ev.rows_read + files_read,
        kept: ev.kept + files_kept,
        quarantined: ev.quarantined + files_q,
        duplicates_removed: ev.duplicates_removed,
        holds: ev.rows_read == ev.kept + ev.quarantined + ev.duplicates_removed
            && files_read == files_kept + files_q,
    };
    if !conservation.holds {
        return Err(Error::Internal(format!(
            "row accounting does not balance: {conservation:?}"
        )));
    }
    let report = Report {
        shoplens_version: env!("CARGO_PKG_VERSION"),
        source: source.to_string(),
        config: cfg.clone(),
        rules: Rule::ALL
            .iter()
            .map(|r| RuleDoc {
                order: r.order(),
                rule: r.name(),
                description: r.describe(),
            })
            .collect(),
        events: stats.clone(),
        files: reference.files.clone(),
        properties: reference.property_rows.clone(),
        categories: CategoryStats {
            categories: r.tree.len() as u64,
            roots: r.tree.level.iter().filter(|l| **l == Some(0)).count() as u64,
            max_level: r.tree.level.iter().flatten().max().copied(),
            unknown_parents: r.tree.unknown_parents as u64,
            in_cycle: r.tree.in_cycle as u64,
        },
        price_source: match (&r.prices, &cfg.price_property) {
            (Prices::None, _) => "none: revenue is null".into(),
            (Prices::PerItem(_), _) => "price file prices.csv".into(),
            (Prices::History(_), Some(p)) => format!("item property '{p}' as of event time"),
            (Prices::History(_), None) => "item property".into(),
        },
        conservation,
        timings_ms: timings,
    };
    Ok(Cleaned {
        tables: out_tables,
        report,
    })
}

/// Writes every table as `<name>.parquet` and the report as `report.json` into `out`, replacing an
/// existing warehouse only after the new one is complete.
pub fn write_warehouse(out: &Path, cleaned: Cleaned) -> Result<()> {
    let report = serde_json::to_value(&cleaned.report)?;
    let tables = cleaned
        .tables
        .into_iter()
        .map(|(n, df)| (n.to_string(), df))
        .collect();
    write_frames(out, tables, &report)
}

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

/// `shoplens build`: clean a RetailRocket folder and write the warehouse.
pub fn build_warehouse(
    raw: &Path,
    out: &Path,
    cfg: &CleanConfig,
    progress: Progress<'_>,
) -> Result<Report> {
    let started = Instant::now();
    let mut cleaned = clean_retailrocket(raw, cfg, progress)?;
    // Derived tables of src/cohorts and src/clv (cohort_retention, customers).
    let derived_start = Instant::now();
    let events = cleaned
        .table("events")
        .ok_or_else(|| Error::Internal("no events table".into()))?;
    let derived = crate::clv::tables(events)?;
    cleaned.tables.extend(derived);
    cleaned.report.timings_ms.push((
        "cohorts_clv".into(),
        derived_start.elapsed().as_millis() as u64,
    ));
    let write_start = Instant::now();
    progress("write parquet", 4, 5);
    let mut report = cleaned.report.clone();
    write_warehouse(out, cleaned)?;
    report.timings_ms.push((
        "write_parquet".into(),
        write_start.elapsed().as_millis() as u64,
    ));
    report
        .timings_ms
        .push(("total".into(), started.elapsed().as_millis() as u64));
    // Rewrite the report with the final timings (small file, already in place).
    let report_path = out.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .map_err(|e| Error::io(&report_path, e))?;
    progress("done", 5, 5);
    Ok(report)
}

/// Writes already-built tables (e.g. from a generic source cleaned in Python) and a report.
pub fn write_frames(
    out: &Path,
    tables: Vec<(String, DataFrame)>,
    report: &serde_json::Value,
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
    replace_dir(&staging, out)
}
