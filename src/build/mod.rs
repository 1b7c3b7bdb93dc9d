//! Building a warehouse: reading a source, cleaning it, assembling the tables and the report, and
//! handing them to [`crate::warehouse`] to store. The one place where derived tables join the build
//! output is [`derived_from_index`].
pub mod item_totals;
pub mod partial_codec;
pub mod partitioned;
pub mod report;
pub mod segments;
pub mod visitor_rows;

use std::path::Path;
use std::time::Instant;

use polars::prelude::*;

use crate::clean::rules::Rule;
use crate::clean::{
    clean_events, clean_events_with, tables, ChunkFrames, ChunkSink, CleanConfig, CleanEvents,
    Prices,
};
use crate::ingest::assignments::read_assignments;
use crate::ingest::generic::{EventMapping, GenericInput, GenericTable};
use crate::ingest::retailrocket::{
    event_outcomes, event_source, read_reference, RawFolder, ReferenceRead, EVENTS_HEADER,
};
use crate::ingest::text::TextFile;
use crate::kpis::EventIndex;
use crate::warehouse;
use crate::{Error, Result};
use rayon::prelude::*;
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

/// The clean tables of one build, as [`derived_index`] sees them.
pub struct CleanTables<'a> {
    tables: &'a [(&'static str, DataFrame)],
}

impl CleanTables<'_> {
    /// One of the [`TABLES`] (`events`, `sessions`, `visitors`, ...).
    pub fn table(&self, name: &str) -> Option<&DataFrame> {
        self.tables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, df)| df)
    }
}

/// The KPI index of the clean events (with the categories and items tables) and the events' revenue
/// column: all that the derived tables read. `None` when there is no `events` table.
/// With `streamed` (a build that wrote its events while cleaning them), the index is built from the
/// [`crate::kpis::index_columns`] it kept of them.
fn derived_index(
    cleaned: &CleanTables<'_>,
    streamed: Option<&DataFrame>,
) -> Result<Option<(EventIndex, Column)>> {
    let (categories, items) = (cleaned.table("categories"), cleaned.table("items"));
    let (index, events) = match (streamed, cleaned.table("events")) {
        (Some(columns), _) => (EventIndex::of_columns(columns, categories, items)?, columns),
        (None, Some(events)) => (EventIndex::new(events, categories, items)?, events),
        (None, None) => return Ok(None),
    };
    Ok(Some((index, events.column("revenue")?.clone())))
}

/// Tables computed from the clean tables (KPIs, cohorts, customers) that the build writes next to
/// them, from the KPI index of the clean events and their revenue column ([`derived_index`]). This is
/// the one place where such a table joins the build output: add a `(name, frame)` here. Names must
/// differ from [`TABLES`] and be lowercase ASCII letters, digits and `_`.
pub fn derived_from_index(
    index: &EventIndex,
    revenue: &Column,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let derived = std::sync::Mutex::new(Vec::new());
    let each = |tables| {
        let mut derived = derived
            .lock()
            .map_err(|_| Error::Internal("derived tables lock".into()))?;
        crate::kpis::collect_parts(&mut derived, tables)
    };
    derived_into(index, revenue, &each, &|| Ok(()))?;
    let mut derived = derived
        .into_inner()
        .map_err(|_| Error::Internal("derived tables lock".into()))?;
    // In the order of the KPI tables, then cohorts and customers.
    let order = |name: &str| {
        crate::kpis::TABLES
            .iter()
            .chain(&crate::clv::TABLES)
            .position(|t| *t == name)
    };
    derived.sort_by_key(|(name, _)| order(name));
    Ok(derived)
}

/// As [`derived_from_index`], each group of tables (or part of a large table) handed to `each` as
/// soon as it is built: a build writes it and frees it while the others are computed. The KPI
/// partials come first, on every thread (their scan is the largest single step, and a thread that
/// started it late would finish it alone); then the KPI tables, cohorts and customer lifetime value
/// (src/cohorts, src/clv: cohort_retention, customers) side by side, and beside them `also`.
pub fn derived_into(
    index: &EventIndex,
    revenue: &Column,
    each: crate::kpis::TableSink<'_>,
    also: &(dyn Fn() -> Result<()> + Sync),
) -> Result<()> {
    let partials = crate::kpis::build_partials(index);
    let ((kpis, clv), also) = rayon::join(
        || {
            rayon::join(
                || crate::kpis::tables_of_partials_into(index, &partials, each),
                || crate::clv::tables_from_index(index, revenue).and_then(each),
            )
        },
        also,
    );
    kpis?;
    clv?;
    also
}

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
    Ok(clean_retailrocket_to(dir, cfg, progress, None)?.0)
}

/// Experiment tables: the events' cleaning does not read them, so a build writes them (and frees
/// them) while the events are cleaned.
const EXPERIMENT_TABLES: [&str; 2] = ["assignments", "experiment_weights"];

/// As [`clean_retailrocket`]; with `staging`, the [`EXPERIMENT_TABLES`] are written there while the
/// events are cleaned, and so are the [`STREAMED`] tables, chunk by chunk as they are cleaned: all
/// are left out of the result, which then also holds the [`crate::kpis::index_columns`] of the
/// events.
fn clean_retailrocket_to(
    dir: &Path,
    cfg: &CleanConfig,
    progress: Progress<'_>,
    staging: Option<&warehouse::Staging>,
) -> Result<(Cleaned, Option<DataFrame>)> {
    cfg.check()?;
    let steps = 5;
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, u64)>| {
        timings.push((name.to_string(), clock.elapsed().as_millis() as u64));
        clock = Instant::now();
    };
    let folder = RawFolder::locate(dir)?;
    let written_early: bool;
    // The raw text is dropped as soon as the events are clean.
    let (mut cleaned, reference) = {
        progress("read events and item properties", 0, steps);
        // Events and reference files are independent: read them side by side.
        let (events, reference) = rayon::join(
            || -> Result<_> {
                let started = Instant::now();
                let file = TextFile::open(&folder.events, &EVENTS_HEADER)?;
                let outcomes = event_outcomes(&file, cfg);
                // Parsed: later steps read only the few lines they quarantine.
                file.release_pages();
                Ok((file, outcomes, started.elapsed()))
            },
            || -> Result<_> {
                let started = Instant::now();
                let (reference, experiments) = rayon::join(
                    || read_reference(&folder, cfg),
                    || match &folder.assignments {
                        Some(path) => {
                            read_assignments(path, folder.weights.as_deref(), cfg).map(Some)
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
        let (mut reference, reference_time) = reference?;
        timings.push((
            "read_validate_dedup_events".into(),
            events_time.as_millis() as u64,
        ));
        timings.push(("read_reference".into(), reference_time.as_millis() as u64));
        lap("read_all", &mut timings);
        progress("sessions and enrichment", 2, steps);
        let mut source = event_source(&file, outcomes);
        let early = match staging {
            Some(staging) => reference.experiments.take().map(|e| (staging, e)),
            None => None,
        };
        let (cleaned, written) = rayon::join(
            || match staging {
                Some(staging) => clean_streamed(&mut source, &reference.reference, cfg, staging),
                None => clean_events(&mut source, &reference.reference, cfg).map(Clean::from),
            },
            || match early {
                Some((staging, (a, w))) => {
                    // Written from their codes: no string column of the assignments is built.
                    a.write(
                        &staging
                            .dir()
                            .join(format!("{}.parquet", EXPERIMENT_TABLES[0])),
                    )?;
                    staging
                        .write(named(vec![(EXPERIMENT_TABLES[1], w)]))
                        .map(|_| true)
                }
                None => Ok(false),
            },
        );
        let cleaned = cleaned?;
        written_early = written?;
        lap("clean_sessions_enrich", &mut timings);
        (cleaned, reference)
    };
    progress("tables", 3, steps);
    let price_source = match (&reference.reference.prices, &cfg.price_property) {
        (Prices::None, _) => "none: revenue is null".into(),
        (Prices::PerItem(_), _) => "price file prices.csv".into(),
        (Prices::History(_), Some(p)) => format!("item property '{p}' as of event time"),
        (Prices::History(_), None) => "item property".into(),
    };
    let streamed = cleaned.streamed.take();
    let mut out = assemble(
        &dir.display().to_string(),
        cleaned,
        &reference,
        cfg,
        timings,
        price_source,
    )?;
    if written_early {
        out.tables.retain(|(n, _)| !EXPERIMENT_TABLES.contains(n));
    }
    progress("tables", 4, steps);
    Ok((out, streamed))
}

/// The tables a build writes chunk by chunk while the events are cleaned.
const STREAMED: [&str; 3] = ["events", "sessions", "visitors"];

/// The clean events of [`clean_events`] or of [`clean_streamed`]: the event, session and visitor
/// tables (or, streamed, only the index columns of the events), and the rest.
struct Clean {
    tables: Vec<(&'static str, DataFrame)>,
    streamed: Option<DataFrame>,
    item_counts: crate::clean::idmap::IdMap<crate::clean::columns::ItemCounts>,
    quarantine: Vec<crate::clean::columns::QuarantineRow>,
    duplicates: Vec<crate::clean::columns::DuplicateRow>,
    stats: crate::clean::pipeline::EventStats,
}

impl From<CleanEvents> for Clean {
    fn from(c: CleanEvents) -> Clean {
        Clean {
            tables: STREAMED
                .into_iter()
                .zip([c.events, c.sessions, c.visitors])
                .collect(),
            streamed: None,
            item_counts: c.item_counts,
            quarantine: c.quarantine,
            duplicates: c.duplicates,
            stats: c.stats,
        }
    }
}

/// A build's [`ChunkSink`]: each chunk's events, sessions and visitors are encoded into their
/// warehouse files (row groups in chunk order) as soon as they are final, and freed; of the events,
/// only the columns the KPI index reads are kept.
struct StreamSink {
    writers: Vec<warehouse::parquet::OrderedWriter>,
}

impl ChunkSink for StreamSink {
    type Out = DataFrame;

    fn chunk(&self, k: usize, frames: ChunkFrames) -> Result<DataFrame> {
        let kept = crate::kpis::index_columns(&frames.events)?;
        let ChunkFrames {
            events,
            sessions,
            visitors,
        } = frames;
        let encoded: Vec<Result<_>> = vec![events, sessions, visitors]
            .into_par_iter()
            .map(|mut df| warehouse::parquet::encode(&mut df))
            .collect();
        for (writer, part) in self.writers.iter().zip(encoded) {
            writer.put(k, part?)?;
        }
        Ok(kept)
    }
}

/// [`clean_events`] with its events, sessions and visitors written into `staging` as they are made.
fn clean_streamed(
    src: &mut crate::clean::EventSource<'_>,
    reference: &crate::clean::Reference,
    cfg: &CleanConfig,
    staging: &warehouse::Staging,
) -> Result<Clean> {
    let labels = src.event_labels();
    let schemas = [
        tables::events_frame(Default::default(), &labels)?,
        tables::empty_sessions()?,
        tables::empty_visitors()?,
    ];
    drop(labels);
    let writers = STREAMED
        .iter()
        .zip(&schemas)
        .map(|(name, empty)| {
            warehouse::parquet::OrderedWriter::create(
                &staging.dir().join(format!("{name}.parquet")),
                empty.schema(),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let sink = StreamSink { writers };
    let out = clean_events_with(src, reference, cfg, &sink)?;
    let parts = out.chunks.len();
    for writer in sink.writers {
        writer.finish(parts)?;
    }
    let mut kept = out.chunks.into_iter();
    let mut index = match kept.next() {
        Some(first) => first,
        None => crate::kpis::index_columns(&schemas[0])?,
    };
    for part in kept {
        index.vstack_mut_owned(part)?;
    }
    Ok(Clean {
        tables: Vec::new(),
        streamed: Some(index),
        item_counts: out.item_counts,
        quarantine: out.quarantine,
        duplicates: out.duplicates,
        stats: out.stats,
    })
}

/// Cleans a user's own event table (CSV or Parquet file, or DataFrame) read through `mapping`. There
/// is no item reference data, so categories stay null; revenue comes from the mapped price column.
pub fn clean_generic(
    input: GenericInput,
    mapping: EventMapping,
    cfg: &CleanConfig,
    progress: Progress<'_>,
) -> Result<Cleaned> {
    cfg.check()?;
    let steps = 5;
    let mut clock = Instant::now();
    let mut timings = Vec::new();
    let mut lap = |name: &str, timings: &mut Vec<(String, u64)>| {
        timings.push((name.to_string(), clock.elapsed().as_millis() as u64));
        clock = Instant::now();
    };
    progress("read events", 0, steps);
    let table = GenericTable::read(input, mapping)?;
    let (mut source, ids) = table.source(cfg)?;
    lap("read_validate_dedup_events", &mut timings);
    progress("sessions and enrichment", 2, steps);
    let reference = ReferenceRead::empty();
    let cleaned = Clean::from(clean_events(&mut source, &reference.reference, cfg)?);
    lap("clean_sessions_enrich", &mut timings);
    progress("tables", 3, steps);
    let m = &table.mapping;
    let price_source = match &m.price {
        Some(p) => format!(
            "column '{p}' of {} (the price on each purchase row)",
            table.name
        ),
        None => "none: revenue is null".to_string(),
    };
    let mut notes = Vec::new();
    if m.item.is_none() {
        notes.push(
            "no item column: events have no item_id and the items table is empty".to_string(),
        );
    }
    if m.order.is_none() {
        notes.push(format!(
            "no order column: each purchase row is its own order (its transaction_id is its {})",
            table.position.name()
        ));
    }
    if let Some(col) = &m.session {
        notes.push(format!(
            "sessions from the column '{col}' (a new session where it changes), not from inactivity"
        ));
    }
    let mapped = &cfg.event_names;
    for name in &source.other_events {
        if let Some(twin) = mapped.case_twin(name.as_bytes()) {
            notes.push(format!(
                "event '{name}' is kept as its own type, but differs from the mapped '{twin}' only in letter case"
            ));
        }
    }
    let mut out = assemble(
        &table.location,
        cleaned,
        &reference,
        cfg,
        timings,
        price_source,
    )?;
    drop(source);
    ids.decode(&mut out.tables, table.position)?;
    out.report.notes.extend(notes);
    out.report.position = table.position.name();
    Ok(out)
}

fn assemble(
    source: &str,
    cleaned: Clean,
    reference: &ReferenceRead,
    cfg: &CleanConfig,
    mut timings: Vec<(String, u64)>,
    price_source: String,
) -> Result<Cleaned> {
    let clock = Instant::now();
    let r = &reference.reference;
    let Clean {
        tables: clean_tables,
        streamed: _,
        item_counts,
        mut quarantine,
        duplicates,
        stats,
    } = cleaned;
    quarantine.extend(reference.quarantine.iter().cloned());
    let mut out_tables = Vec::with_capacity(TABLES.len());
    out_tables.extend(clean_tables);
    // The items table (hundreds of thousands of rows) beside the others.
    let (items, (categories, quarantined, duplicates)) = rayon::join(
        || tables::items_frame(&item_counts, r),
        || {
            (
                tables::categories_frame(r),
                tables::quarantine_frame(&quarantine),
                tables::duplicates_frame(&duplicates),
            )
        },
    );
    let frames = [
        items,
        categories,
        quarantined,
        duplicates,
        match &reference.experiments {
            Some((a, _)) => a.frame(),
            None => tables::empty_assignments(),
        },
        match &reference.experiments {
            Some((_, w)) => Ok(w.clone()),
            None => tables::empty_weights(),
        },
    ];
    for (name, frame) in TABLES[STREAMED.len()..].iter().zip(frames) {
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
        price_source,
        position: "line",
        notes: Vec::new(),
        conservation,
        timings_ms: timings,
    };
    Ok(Cleaned {
        tables: out_tables,
        report,
    })
}

/// `shoplens build`: clean a RetailRocket folder and write the warehouse.
pub fn build_warehouse(
    raw: &Path,
    out: &Path,
    cfg: &CleanConfig,
    progress: Progress<'_>,
) -> Result<Report> {
    let started = Instant::now();
    let staging = warehouse::Staging::create(out)?;
    let (cleaned, streamed) = clean_retailrocket_to(raw, cfg, progress, Some(&staging))?;
    finish(staging, cleaned, streamed, started, progress)
}

/// `shoplens build --events`: clean a user's own event table and write the warehouse.
pub fn build_generic(
    input: GenericInput,
    mapping: EventMapping,
    out: &Path,
    cfg: &CleanConfig,
    progress: Progress<'_>,
) -> Result<Report> {
    let started = Instant::now();
    let staging = warehouse::Staging::create(out)?;
    let cleaned = clean_generic(input, mapping, cfg, progress)?;
    finish(staging, cleaned, None, started, progress)
}

/// Clean tables the KPI index reads ([`derived_index`]); the others are written to the warehouse
/// while it is built.
const READ_BY_DERIVED: [&str; 3] = ["events", "categories", "items"];

/// Writes a cleaned build into `staging` with its derived tables, then puts the warehouse in place.
/// `streamed`: the index columns of events already written (see [`clean_retailrocket_to`]).
fn finish(
    staging: warehouse::Staging,
    cleaned: Cleaned,
    streamed: Option<DataFrame>,
    started: Instant,
    progress: Progress<'_>,
) -> Result<Report> {
    let Cleaned { tables, mut report } = cleaned;
    let (read, other): (Vec<_>, Vec<_>) = tables
        .into_iter()
        .partition(|(n, _)| READ_BY_DERIVED.contains(n));
    // Derived tables (KPIs, cohorts, CLV) belong to a build, not to `clean`'s result. They are
    // computed from the KPI index of the clean events, so every clean table is written (and freed)
    // while they are computed: the tables the index does not read while it is built, the others
    // once it is.
    let derived_start = Instant::now();
    let (index, written) = rayon::join(
        || derived_index(&CleanTables { tables: &read }, streamed.as_ref()),
        || staging.write(named(other)),
    );
    drop(streamed);
    let index = index?;
    written?;
    report.timings_ms.push((
        "kpi_index".into(),
        derived_start.elapsed().as_millis() as u64,
    ));
    // Each derived table (or part of one) is written, and freed, as soon as it is built.
    let derived_start = Instant::now();
    progress("derived tables", 4, 5);
    // The clean tables the index read are written beside the derived tables, after the scan (a
    // `Fn` that writes them once).
    let read = std::sync::Mutex::new(Some(read));
    let write_read = || -> Result<()> {
        let tables = read
            .lock()
            .map_err(|_| Error::Internal("clean tables lock".into()))?
            .take();
        match tables {
            Some(tables) => staging.write(named(tables)),
            None => Ok(()),
        }
    };
    match &index {
        Some((index, revenue)) => {
            let writers = PartWriters::new(staging.dir());
            derived_into(index, revenue, &|t| writers.put(t), &write_read)?;
            writers.finish()?;
        }
        None => write_read()?,
    }
    drop(index);
    report.timings_ms.push((
        "derived_tables".into(),
        derived_start.elapsed().as_millis() as u64,
    ));
    report
        .timings_ms
        .push(("total".into(), started.elapsed().as_millis() as u64));
    staging.finish(&serde_json::to_value(&report)?)?;
    progress("done", 5, 5);
    Ok(report)
}

/// Writes tables into a folder as they arrive, from any thread: a table that arrives in several parts
/// (in order) is one file with a row group per part. [`PartWriters::finish`] closes the files.
struct PartWriters<'a> {
    dir: &'a Path,
    open: std::sync::Mutex<Vec<(&'static str, OpenTable)>>,
}

type OpenTable = std::sync::Arc<std::sync::Mutex<warehouse::parquet::TableWriter>>;

impl<'a> PartWriters<'a> {
    fn new(dir: &'a Path) -> Self {
        PartWriters {
            dir,
            open: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn put(&self, tables: Vec<(&'static str, DataFrame)>) -> Result<()> {
        let lock_error = || Error::Internal("a table writer panicked".into());
        for (name, mut df) in tables {
            let writer = {
                let mut open = self.open.lock().map_err(|_| lock_error())?;
                match open.iter().find(|(n, _)| *n == name) {
                    Some((_, w)) => w.clone(),
                    None => {
                        let path = self.dir.join(format!("{name}.parquet"));
                        let w = std::sync::Arc::new(std::sync::Mutex::new(
                            warehouse::parquet::TableWriter::create(&path, df.schema())?,
                        ));
                        open.push((name, w.clone()));
                        w
                    }
                }
            };
            writer.lock().map_err(|_| lock_error())?.write(&mut df)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        let lock_error = || Error::Internal("a table writer panicked".into());
        for (_, writer) in self.open.into_inner().map_err(|_| lock_error())? {
            let writer = std::sync::Arc::into_inner(writer).ok_or_else(lock_error)?;
            writer.into_inner().map_err(|_| lock_error())?.finish()?;
        }
        Ok(())
    }
}

fn named(tables: Vec<(&'static str, DataFrame)>) -> Vec<(String, DataFrame)> {
    tables
        .into_iter()
        .map(|(n, df)| (n.to_string(), df))
        .collect()
}

/// Stores a cleaned build (every table and the report) as a warehouse at `out`.
pub fn write(out: &Path, cleaned: Cleaned) -> Result<()> {
    let report = serde_json::to_value(&cleaned.report)?;
    warehouse::write_frames(out, named(cleaned.tables), &report)
}

/// Test data shared by the build's tests.
#[cfg(test)]
pub(crate) mod test_data {
    use std::path::{Path, PathBuf};

    pub(crate) use crate::warehouse::parquet::read_file as read;

    /// A generated RetailRocket folder `dir/raw`.
    pub(crate) fn raw(dir: &Path, scale: f64, seed: u64, inject_anomalies: bool) -> PathBuf {
        let raw = dir.join("raw");
        let gen = crate::generate::GenerateConfig {
            scale,
            seed,
            inject_anomalies,
        };
        crate::generate::generate(&raw, &gen, &|_, _, _| {}).unwrap();
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::test_data::{raw, read};
    use super::*;
    use std::fs::File;

    /// A build writes its events, sessions and visitors chunk by chunk while cleaning and keeps only
    /// the index columns of the events: its tables equal those of the in-memory path (clean the
    /// folder, keep every frame, index the events frame) row for row, one row group per chunk, and
    /// every derived table equals the one computed from the kept frames.
    #[test]
    fn streamed_build_equals_the_in_memory_tables() {
        let dir = tempfile::tempdir().unwrap();
        let raw = raw(dir.path(), 0.005, 5, true);
        let cfg = CleanConfig::default();
        let out = dir.path().join("wh");
        build_warehouse(&raw, &out, &cfg, &no_progress).unwrap();

        let cleaned = clean_retailrocket(&raw, &cfg, &no_progress).unwrap();
        let events = cleaned.table("events").unwrap();
        assert!(events.height() > 10_000);
        let chunks = events.first_col_n_chunks();
        assert!(chunks >= 3, "{chunks} chunks");
        for name in TABLES {
            let got = read(&out.join(format!("{name}.parquet")));
            assert!(
                got.equals_missing(cleaned.table(name).unwrap()),
                "{name} differs"
            );
        }
        let meta = polars_parquet::read::read_metadata(
            &mut File::open(out.join("events.parquet")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta.row_groups.len(), chunks);

        let index =
            EventIndex::new(events, cleaned.table("categories"), cleaned.table("items")).unwrap();
        let derived = derived_from_index(&index, events.column("revenue").unwrap()).unwrap();
        assert!(derived.len() >= 15, "{} derived tables", derived.len());
        // The cohort table read in place from the index equals the one of the events table.
        let revenue = events.column("revenue").unwrap();
        let by_index = crate::cohorts::retention_table_of_index(&index, revenue).unwrap();
        let by_events = crate::cohorts::retention_table(events).unwrap();
        assert!(by_index.height() > 100);
        assert!(
            by_index.equals_missing(&by_events),
            "cohorts of the index differ"
        );
        for (name, want) in derived {
            let got = read(&out.join(format!("{name}.parquet")));
            assert!(got.equals_missing(&want), "{name} differs");
        }
    }
}
