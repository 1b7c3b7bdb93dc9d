//! Builds in visitor partitions: the same warehouse as [`super::build_warehouse`], with memory bounded
//! by the size of one partition instead of the whole input, and the unit of work of a cluster build.
//!
//! Every rule of the cleaning pipeline looks at one visitor at a time (sessions, bot flags, near
//! duplicates) or at identical lines (exact duplicates, which share their visitor), so the events can
//! be split by a hash of the visitor and each part cleaned on its own with the shared reference data
//! (items, categories, prices, assignments). Each part yields a [`PartitionPartial`]: its clean tables
//! (written to Parquet part files), its quarantine and duplicates, its row accounting, and the partials
//! of every derived table (KPI [`Partials`], cohort partials, the RFM summary of its buyers); its
//! per-visitor partials go to a visitor file ([`visitor_rows`]) and its item-level ones are added up
//! across partitions as they come ([`ItemTotals`]). Visitor sets are disjoint, so the partials add
//! up; [`merge_partitions`] re-keys them to the codes of the whole data (days, items, roots) and
//! merges them, streams the visitor files for the session numbering and `kpi_segments`
//! ([`segments`]), then writes the warehouse, streaming the large tables part by part.
//!
//! What is identical to the in-memory build: every table's content. Row order is identical for every
//! table except `events`, `sessions` and `visitors`: those hold each partition's visitors in turn
//! (each visitor contiguous, in time order, as the warehouse requires), not all visitors in id order;
//! their `session_id`s are the in-memory build's (numbered in visitor-id order across partitions).
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hashbrown::HashMap;
use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::item_totals::ItemTotals;
use super::report::Report;
use super::{assemble, segments, visitor_rows, Progress};
use crate::clean::columns::{DuplicateRow, ItemCounts, QuarantineRow};
use crate::clean::pipeline::EventStats;
use crate::clean::rules::{lossy, Rule};
use crate::clean::validate::{Outcome, ValidateConfig};
use crate::clean::{clean_events, tables, CleanConfig, CleanEvents, Prices};
use crate::cohorts::{CohortBy, CohortPartial, Period};
use crate::ingest::assignments::read_assignments;
use crate::ingest::generic::{EventMapping, GenericTable, Position};
use crate::ingest::retailrocket::{
    events_validate_config, line_outcomes, parse_event, read_reference, RawFolder, ReferenceRead,
    EVENTS_HEADER,
};
use crate::ingest::text::TextFile;
use crate::kpis::index::{day_of, month_of, week_of, EventIndex, Tree};
use crate::kpis::scan::PeriodCounts;
use crate::kpis::{Filter, Partials};
use crate::warehouse::parquet::{write_table, TableWriter};
use crate::{Error, Result};

/// The clean tables a partition writes as part files (the large ones, streamed into the warehouse).
pub const PART_TABLES: [&str; 3] = ["events", "sessions", "visitors"];

/// Peak memory of the in-memory build per byte of `events.csv` (measured: scale 1.0, 2.76 M events
/// in 94.5 MB, peaks at 1.0-1.4 GB with the reference data; rounded down, the reference counted apart).
pub const BYTES_PER_INPUT_BYTE: u64 = 10;

/// Peak memory of one partition's cleaning and derivation, over what the build holds, per byte of
/// the partition's events (measured at scale 10: 1.6-1.8 GB for partitions of 125 MB, 1.9-2.0 GB for
/// partitions of 143 MB; rounded up).
/// Higher than the in-memory build's figure: a partition also writes its part files and visitor file.
pub const PARTITION_BYTES_PER_INPUT_BYTE: u64 = 15;

/// Number of visitor partitions for an `events.csv` of `events_bytes` and reference files (item
/// properties, prices, tree) of `reference_bytes` under `memory_limit` bytes. Held through the
/// partitions: the reference data (counted at its size on disk; measured 0.45 GB for 0.89 GB of files
/// at scale 10) and the partials of the partitions built so far (counted at 1 byte per byte of events:
/// item totals, quarantine, buyers' RFM rows; measured 0.6 GB for 1 GB of events at scale 10;
/// per-visitor rows are on disk). One partition (the in-memory build) when everything fits; else enough
/// partitions that each fits in what the reserve leaves (at least an eighth of the limit). The merge
/// needs less than a partition (1-2 GB at scale 10) and is not planned for. Reading the reference
/// files peaks before any of this (3.4 GB at scale 10) and does not depend on the plan.
pub fn plan_partitions(events_bytes: u64, reference_bytes: u64, memory_limit: u64) -> usize {
    let need = events_bytes.saturating_mul(BYTES_PER_INPUT_BYTE);
    if need.saturating_add(reference_bytes) <= memory_limit {
        return 1;
    }
    let reserve = reference_bytes.saturating_add(events_bytes);
    let budget = memory_limit
        .saturating_sub(reserve)
        .max(memory_limit / 8)
        .max(1);
    events_bytes
        .saturating_mul(PARTITION_BYTES_PER_INPUT_BYTE)
        .div_ceil(budget)
        .clamp(2, 4096) as usize
}

/// The partition key of one `events.csv` line (without its terminator): a hash of the visitor id of a
/// valid row, so that all of a visitor's rows meet in one partition, or of the whole line for a row
/// that will be quarantined (identical lines, exact duplicates, meet too).
pub fn line_key(line: &[u8], vcfg: &ValidateConfig) -> u64 {
    match parse_event(line, vcfg) {
        Outcome::Valid(e) => xxh3_64(&e.visitor.to_le_bytes()),
        Outcome::Rejected(..) => xxh3_64(line),
    }
}

/// Reference data shared by every partition, read once.
pub struct Shared {
    /// The RetailRocket folder; for a generic event file, the file as `events` and no reference files.
    pub folder: RawFolder,
    /// The column mapping of a generic event file (CSV with a header); `None` for a RetailRocket folder.
    pub generic: Option<EventMapping>,
    pub reference: ReferenceRead,
    pub categories: DataFrame,
    pub cfg: CleanConfig,
    pub read_ms: u64,
}

impl Shared {
    /// Reads the reference files (item properties, category tree, prices, assignments) of `dir`.
    pub fn read(dir: &Path, cfg: &CleanConfig) -> Result<Shared> {
        cfg.check()?;
        let started = Instant::now();
        let folder = RawFolder::locate(dir)?;
        // One after the other: the peak is the larger reader's, not the sum (the in-memory build
        // reads them side by side).
        let mut reference = read_reference(&folder, cfg)?;
        let experiments = match &folder.assignments {
            Some(path) => Some(read_assignments(path, folder.weights.as_deref(), cfg)?),
            None => None,
        };
        if let Some(exp) = experiments {
            reference.quarantine.extend(exp.quarantine);
            reference.files.extend(exp.files);
            reference.experiments = Some((exp.assignments, exp.weights));
        }
        let categories = tables::categories_frame(&reference.reference)?;
        Ok(Shared {
            folder,
            generic: None,
            reference,
            categories,
            cfg: cfg.clone(),
            read_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The shared data of a generic event file (a CSV file with a header, read through `mapping`): no
    /// reference files (categories stay null, revenue comes from the mapped price column), as
    /// [`super::clean_generic`]. Reads only the header, to check the mapping.
    pub fn generic(events: &Path, mapping: EventMapping, cfg: &CleanConfig) -> Result<Shared> {
        cfg.check()?;
        if events.is_dir() {
            return Err(Error::io(
                events,
                std::io::Error::other(
                    "is a folder, expected a CSV event file with a header (a RetailRocket folder is built without a schema)",
                ),
            ));
        }
        let ext = events
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("parquet" | "pq")) {
            return Err(Error::InvalidArgument(format!(
                "{}: a partitioned build reads CSV event files; read a Parquet file as a DataFrame instead",
                events.display()
            )));
        }
        // Checks that the mapped columns are in the header.
        GenericTable::csv_lines(events, mapping.clone(), Vec::new(), Vec::new())?;
        let reference = ReferenceRead::empty();
        let categories = tables::categories_frame(&reference.reference)?;
        let dir = events
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Shared {
            folder: RawFolder {
                dir,
                events: events.to_path_buf(),
                properties: Vec::new(),
                tree: None,
                prices: None,
                assignments: None,
                weights: None,
            },
            generic: Some(mapping),
            reference,
            categories,
            cfg: cfg.clone(),
            read_ms: 0,
        })
    }

    /// The events file's name (the quarantine's `source`).
    fn events_name(&self) -> String {
        self.folder
            .events
            .file_name()
            .map_or_else(|| "events.csv".into(), |n| n.to_string_lossy().into_owned())
    }

    /// The report's `source`: the folder, or the generic event file.
    fn location(&self) -> String {
        match self.generic {
            Some(_) => self.folder.events.display().to_string(),
            None => self.folder.dir.display().to_string(),
        }
    }

    /// The report's notes on a generic mapping, as [`super::clean_generic`] writes them.
    fn notes(&self) -> Vec<String> {
        let Some(m) = &self.generic else {
            return Vec::new();
        };
        let mut notes = Vec::new();
        if m.item.is_none() {
            notes.push(
                "no item column: events have no item_id and the items table is empty".to_string(),
            );
        }
        if m.order.is_none() {
            notes.push(
                "no order column: each purchase row is its own order (its transaction_id is its line)"
                    .to_string(),
            );
        }
        if let Some(col) = &m.session {
            notes.push(format!(
                "sessions from the column '{col}' (a new session where it changes), not from inactivity"
            ));
        }
        notes
    }

    fn price_source(&self) -> String {
        if let Some(m) = &self.generic {
            return match &m.price {
                Some(p) => format!(
                    "column '{p}' of {} (the price on each purchase row)",
                    self.events_name()
                ),
                None => "none: revenue is null".to_string(),
            };
        }
        match (&self.reference.reference.prices, &self.cfg.price_property) {
            (Prices::None, _) => "none: revenue is null".into(),
            (Prices::PerItem(_), _) => "price file prices.csv".into(),
            (Prices::History(_), Some(p)) => format!("item property '{p}' as of event time"),
            (Prices::History(_), None) => "item property".into(),
        }
    }
}

/// One spill file of the first pass: the lines of one partition (with the header, so it reads like
/// `events.csv`) and their source line numbers (little-endian u64, one per line).
#[derive(Debug, Clone)]
pub struct SpillPart {
    pub csv: PathBuf,
    pub lines: PathBuf,
    pub rows: u64,
}

/// Reads the header of `events.csv` and checks it as [`TextFile::open`] does.
fn check_events_header(path: &Path, reader: &mut impl std::io::BufRead) -> Result<()> {
    let mut header = Vec::new();
    reader
        .read_until(b'\n', &mut header)
        .map_err(|e| Error::io(path, e))?;
    let mut h: &[u8] = &header;
    if let Some(rest) = h.strip_prefix(b"\xEF\xBB\xBF") {
        h = rest;
    }
    if h.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::data_file(
            path,
            1,
            "empty_file",
            "the file is empty: expected a header line",
        ));
    }
    let h = h.strip_suffix(b"\n").unwrap_or(h);
    let h = h.strip_suffix(b"\r").unwrap_or(h);
    let text = std::str::from_utf8(h).map_err(|e| {
        Error::data_file(
            path,
            1,
            "bad_utf8",
            format!("the header is not valid UTF-8 ({e})"),
        )
    })?;
    let names: Vec<&str> = text
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .collect();
    if names != EVENTS_HEADER {
        return Err(Error::data_file(
            path,
            1,
            "wrong_header",
            format!(
                "the header is '{}', expected '{}'",
                names.join(","),
                EVENTS_HEADER.join(",")
            ),
        ));
    }
    Ok(())
}

/// Pass 1: splits `events` into `partitions` spill files in `dir` by [`line_key`], reading it once in
/// blocks (memory: one block and the writers' buffers).
pub fn spill_events(
    events: &Path,
    dir: &Path,
    partitions: usize,
    cfg: &CleanConfig,
    progress: Progress<'_>,
) -> Result<Vec<SpillPart>> {
    use rayon::prelude::*;
    let partitions = partitions.max(1);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let file = File::open(events).map_err(|e| Error::io(events, e))?;
    let total = file.metadata().map_err(|e| Error::io(events, e))?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    check_events_header(events, &mut reader)?;
    let vcfg = events_validate_config(cfg);
    let header = format!("{}\n", EVENTS_HEADER.join(","));
    let mut parts = Vec::with_capacity(partitions);
    let mut csv_out = Vec::with_capacity(partitions);
    let mut line_out = Vec::with_capacity(partitions);
    for p in 0..partitions {
        let csv = dir.join(format!("part-{p:05}.csv"));
        let lines = dir.join(format!("part-{p:05}.lines"));
        let mut w =
            BufWriter::with_capacity(1 << 18, File::create(&csv).map_err(|e| Error::io(&csv, e))?);
        w.write_all(header.as_bytes())
            .map_err(|e| Error::io(&csv, e))?;
        csv_out.push(w);
        line_out.push(BufWriter::with_capacity(
            1 << 16,
            File::create(&lines).map_err(|e| Error::io(&lines, e))?,
        ));
        parts.push(SpillPart {
            csv,
            lines,
            rows: 0,
        });
    }
    const BLOCK: usize = 16 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 16));
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no: u64 = 1;
    let mut read_bytes: u64 = 0;
    let mut chunk = vec![0u8; BLOCK];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| Error::io(events, e))?;
        let eof = n == 0;
        buf.clear();
        buf.extend_from_slice(&carry);
        buf.extend_from_slice(&chunk[..n]);
        carry.clear();
        read_bytes += n as u64;
        // Whole lines only; the rest waits for the next block (or is the last line at the end).
        let end = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => {
                    carry.extend_from_slice(&buf);
                    continue;
                }
            }
        };
        carry.extend_from_slice(&buf[end..]);
        let body = &buf[..end];
        let mut starts = vec![0usize];
        starts.extend(memchr::memchr_iter(b'\n', body).map(|i| i + 1));
        if starts.last() == Some(&body.len()) {
            starts.pop();
        }
        let lines: Vec<&[u8]> = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let e = starts.get(i + 1).copied().unwrap_or(body.len());
                let l = &body[s..e];
                l.strip_suffix(b"\n").unwrap_or(l)
            })
            .collect();
        let keys: Vec<usize> = lines
            .par_iter()
            .map(|l| {
                let text = l.strip_suffix(b"\r").unwrap_or(l);
                (line_key(text, &vcfg) % partitions as u64) as usize
            })
            .collect();
        for (l, &p) in lines.iter().zip(&keys) {
            line_no += 1;
            let w = &mut csv_out[p];
            w.write_all(l)
                .and_then(|_| w.write_all(b"\n"))
                .map_err(|e| Error::io(&parts[p].csv, e))?;
            line_out[p]
                .write_all(&line_no.to_le_bytes())
                .map_err(|e| Error::io(&parts[p].lines, e))?;
            parts[p].rows += 1;
        }
        progress(
            "pass 1/3: spill events by visitor hash",
            read_bytes.min(total),
            total,
        );
        if eof {
            break;
        }
    }
    for (p, (mut c, mut l)) in csv_out.into_iter().zip(line_out).enumerate() {
        c.flush().map_err(|e| Error::io(&parts[p].csv, e))?;
        l.flush().map_err(|e| Error::io(&parts[p].lines, e))?;
    }
    Ok(parts)
}

/// The KPI partials of one partition with the labels needed to re-key them.
#[derive(Debug, Clone, Default)]
pub struct KpiPart {
    pub partials: Partials,
    pub first_day: i32,
    pub n_days: usize,
    pub end_ts: Option<i64>,
    /// Item id of each item code, and the (visitor id, time, line) of the item's first event.
    pub item_ids: Vec<i64>,
    pub item_first: Vec<(i64, i64, u64)>,
    /// Root category id of each root code, and the (visitor id, time, line) of its first event.
    pub root_ids: Vec<Option<i64>>,
    pub root_first: Vec<(i64, i64, u64)>,
}

/// Everything a partition contributes to the warehouse except its clean rows (in part files).
#[derive(Debug, Clone, Default)]
pub struct PartitionPartial {
    pub partition: usize,
    pub item_counts: Vec<(i64, ItemCounts)>,
    pub quarantine: Vec<QuarantineRow>,
    pub duplicates: Vec<DuplicateRow>,
    pub stats: EventStats,
    /// The KPI partials; their per-visitor rows are in the partition's visitor file
    /// ([`visitor_rows::path`]), with each visitor's id and sessions, not in memory.
    pub kpi: KpiPart,
    /// Cohort partials per [`Period::ALL`], each per [`CohortBy::ALL`].
    pub cohorts: Vec<[CohortPartial; 2]>,
    /// RFM summary (days) of the partition's buyers, observed to `rfm_end`.
    pub rfm: DataFrame,
    pub rfm_end: Option<i32>,
    /// Where the partition's clean tables are (`{dir}/{table}-{partition}.parquet`), and its visitor
    /// file.
    pub part_dir: PathBuf,
}

/// Path of one part file.
pub fn part_file(dir: &Path, table: &str, partition: usize) -> PathBuf {
    dir.join(format!("{table}-{partition:05}.parquet"))
}

fn i64_values(col: &Column) -> Result<Vec<i64>> {
    col.cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.ok_or_else(|| Error::Internal(format!("{}: a null id", col.name()))))
        .collect()
}

/// Pass 2, one partition: cleans `n` lines of `events.csv` (`line(row)`, source line numbers
/// `line_numbers`) with the shared reference data, writes the clean tables to `part_dir` and returns
/// the partition's partials.
pub fn build_partition<'a>(
    partition: usize,
    source_name: &str,
    line_numbers: Vec<u64>,
    line: &'a (dyn Fn(usize) -> &'a [u8] + Sync),
    shared: &Shared,
    part_dir: &Path,
) -> Result<PartitionPartial> {
    let n = line_numbers.len();
    let (cleaned, item_counts) = match &shared.generic {
        Some(mapping) => clean_generic_lines(line_numbers, line, mapping, shared)?,
        None => {
            let parsed = line_outcomes(n, line, &shared.cfg);
            let mut source = parsed.into_source(Arc::from(source_name), line_numbers.into(), line);
            let mut cleaned = clean_events(&mut source, &shared.reference.reference, &shared.cfg)?;
            drop(source);
            let counts = std::mem::take(&mut cleaned.item_counts);
            let counts = counts
                .ids()
                .into_iter()
                .map(|id| (id, counts.get(id).unwrap_or_default()))
                .collect();
            (cleaned, counts)
        }
    };
    let CleanEvents {
        mut events,
        mut sessions,
        mut visitors,
        item_counts: _,
        quarantine,
        duplicates,
        stats,
    } = cleaned;

    // Derived-table partials of this partition.
    let index = EventIndex::new(&events, Some(&shared.categories), None)?;
    let mut partials =
        crate::kpis::scan::compute_needed(&index, &Filter::default(), 0, crate::kpis::Need::ALL);
    let mut visitor_rows = std::mem::take(&mut partials.visitors);
    let visitor_ids = i64_values(&index.visitor_ids)?;
    let item_ids = i64_values(&index.item_ids)?;
    let mut item_first = Vec::with_capacity(item_ids.len());
    let mut root_first = Vec::with_capacity(index.root_ids.len());
    {
        let vid = events.column("visitor_id")?.i64()?;
        let lines = events.column("source_line")?.cast(&DataType::UInt64)?;
        let lines = lines.u64()?;
        let key = |e: usize| {
            (
                vid.get(e).unwrap_or(0),
                index.ts[e],
                lines.get(e).unwrap_or(0),
            )
        };
        for (e, &code) in index.item.iter().enumerate() {
            if code as usize == item_first.len() {
                item_first.push(key(e));
            }
        }
        for (e, &code) in index.root.iter().enumerate() {
            if code as usize == root_first.len() {
                root_first.push(key(e));
            }
        }
    }
    let end_ts = (events.height() > 0).then_some(index.end_ts);
    let kpi = KpiPart {
        partials,
        first_day: index.first_day,
        n_days: index.n_days,
        end_ts,
        item_ids,
        item_first,
        root_ids: index.root_ids.clone(),
        root_first,
    };
    drop(index);
    let cols = crate::cohorts::EventColumns::from_events(&events)?;
    let cohorts: Vec<[CohortPartial; 2]> = Period::ALL
        .iter()
        .map(|&p| cols.partials(p, false))
        .collect();
    drop(cols);
    let rfm_end = end_ts.map(day_of);
    let rfm = crate::clv::rfm_from_events(&events, rfm_end, 1.0)?;
    std::fs::create_dir_all(part_dir).map_err(|e| Error::io(part_dir, e))?;
    {
        let sessions: Vec<u64> = visitors
            .column("n_sessions")?
            .cast(&DataType::UInt64)?
            .u64()?
            .iter()
            .map(|s| s.unwrap_or(0))
            .collect();
        if i64_values(visitors.column("visitor_id")?)? != visitor_ids {
            return Err(Error::Internal(format!(
                "partition {partition}: the KPI index and the visitors table disagree"
            )));
        }
        let path = visitor_rows::path(part_dir, partition);
        visitor_rows::write(&path, &visitor_ids, &sessions, &mut visitor_rows)?;
    }
    drop(visitor_rows);
    drop(visitor_ids);
    for (name, df) in [
        ("events", &mut events),
        ("sessions", &mut sessions),
        ("visitors", &mut visitors),
    ] {
        write_table(&part_file(part_dir, name, partition), df)?;
    }
    Ok(PartitionPartial {
        partition,
        item_counts,
        quarantine,
        duplicates,
        stats,
        kpi,
        cohorts,
        rfm,
        rfm_end,
        part_dir: part_dir.to_path_buf(),
    })
}

/// Cleans one partition's lines of a generic CSV event file (`shared.generic`) as
/// [`super::clean_generic`] does the whole file, then puts the original ids back into the clean tables
/// (ids are numbered per partition): the derived tables and the merge see the ids of the file. Returns
/// the cleaned tables and the item counts by item id.
#[allow(clippy::type_complexity)]
fn clean_generic_lines<'a>(
    numbers: Vec<u64>,
    line: &'a (dyn Fn(usize) -> &'a [u8] + Sync),
    mapping: &EventMapping,
    shared: &Shared,
) -> Result<(CleanEvents, Vec<(i64, ItemCounts)>)> {
    let lines: Vec<String> = (0..numbers.len())
        .map(|row| {
            let l = line(row);
            lossy(l.strip_suffix(b"\r").unwrap_or(l))
        })
        .collect();
    let table = GenericTable::csv_lines(&shared.folder.events, mapping.clone(), lines, numbers)?;
    let (mut source, ids) = table.source(&shared.cfg)?;
    ids.require_integers(&table.name, mapping)?;
    let mut cleaned = clean_events(&mut source, &shared.reference.reference, &shared.cfg)?;
    drop(source);
    let counts = std::mem::take(&mut cleaned.item_counts);
    let item_counts = match ids.item {
        Some(_) => counts
            .ids()
            .into_iter()
            .map(|code| {
                let id = ids.item_id(code).ok_or_else(|| {
                    Error::Internal(format!("item code {code} has no original id"))
                })?;
                Ok((id, counts.get(code).unwrap_or_default()))
            })
            .collect::<Result<Vec<_>>>()?,
        // No item column: the items table is empty.
        None => Vec::new(),
    };
    let mut frames = vec![
        ("events", std::mem::take(&mut cleaned.events)),
        ("sessions", std::mem::take(&mut cleaned.sessions)),
        ("visitors", std::mem::take(&mut cleaned.visitors)),
    ];
    ids.decode(&mut frames, Position::Line)?;
    let mut frames = frames.into_iter().map(|(_, df)| df);
    cleaned.events = frames.next().unwrap_or_default();
    cleaned.sessions = frames.next().unwrap_or_default();
    cleaned.visitors = frames.next().unwrap_or_default();
    Ok((cleaned, item_counts))
}

/// Pass 2 on one spill file.
pub fn build_spilled(
    partition: usize,
    spill: &SpillPart,
    shared: &Shared,
    part_dir: &Path,
) -> Result<PartitionPartial> {
    let file = TextFile::open(&spill.csv, &EVENTS_HEADER)?;
    let mut bytes = Vec::new();
    File::open(&spill.lines)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(&spill.lines, e))?;
    let numbers: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .collect();
    drop(bytes);
    if numbers.len() != file.n_rows() {
        return Err(Error::Internal(format!(
            "spill part {partition}: {} lines but {} line numbers",
            file.n_rows(),
            numbers.len()
        )));
    }
    let name = shared.events_name();
    let line = |row: usize| file.line(row);
    build_partition(partition, &name, numbers, &line, shared, part_dir)
}

fn merge_stats(parts: &[PartitionPartial], quarantine: &[QuarantineRow]) -> EventStats {
    let mut out = parts.first().map(|p| p.stats.clone()).unwrap_or_default();
    for p in parts.iter().skip(1) {
        let s = &p.stats;
        out.rows_read += s.rows_read;
        out.duplicates_removed += s.duplicates_removed;
        out.quarantined += s.quarantined;
        out.kept += s.kept;
        for (acc, (_, n)) in out.by_event.iter_mut().zip(&s.by_event) {
            acc.1 += n;
        }
        out.sessions += s.sessions;
        out.visitors += s.visitors;
        out.bot_visitors += s.bot_visitors;
        out.bot_events += s.bot_events;
        out.purchases_without_price += s.purchases_without_price;
        out.events_without_category += s.events_without_category;
        out.min_ts = [out.min_ts, s.min_ts].into_iter().flatten().min();
        out.max_ts = [out.max_ts, s.max_ts].into_iter().flatten().max();
    }
    out.by_rule = Rule::ALL
        .iter()
        .map(|r| {
            (
                r.name().to_string(),
                quarantine.iter().filter(|q| q.rule == *r).count() as u64,
            )
        })
        .filter(|(_, c)| *c > 0)
        .collect();
    out
}

/// Codes of the whole data: days, weeks, months, items and visitors.
struct GlobalKeys {
    first_day: i32,
    n_days: usize,
    n_weeks: usize,
    n_months: usize,
    end_ts: i64,
    item_ids: Vec<i64>,
    root_ids: Vec<Option<i64>>,
    root_code: HashMap<Option<i64>, usize>,
}

fn place<T: Default + Clone>(v: Vec<T>, offset: usize, n: usize) -> Result<Vec<T>> {
    let mut out = vec![T::default(); n];
    for (i, x) in v.into_iter().enumerate() {
        *out.get_mut(i + offset).ok_or_else(|| {
            Error::Internal("a partition's period lies outside the data".into())
        })? = x;
    }
    Ok(out)
}

/// Re-keys a partition's KPI partials to the codes of the whole data.
fn rekey(k: KpiPart, g: &GlobalKeys) -> Result<Partials> {
    // Every field is named: a new kind of partial must decide here how it is re-keyed.
    let Partials {
        days,
        hours,
        weeks,
        months,
        hour_weekday,
        funnel_user,
        funnel_session,
        items,
        categories,
        visitors,
        headline,
        mut funnel_by,
    } = k.partials;
    let (days, hours, weeks, months) = if k.n_days == 0 {
        (Vec::new(), Vec::new(), Vec::new(), Vec::new())
    } else {
        let d0 = (k.first_day - g.first_day) as usize;
        let w0 = (week_of(k.first_day) - week_of(g.first_day)) as usize;
        let m0 = (month_of(k.first_day) - month_of(g.first_day)) as usize;
        let by_day = &mut funnel_by[crate::kpis::scan::BY_DAY];
        by_day.user = place(std::mem::take(&mut by_day.user), d0, g.n_days)?;
        by_day.session = place(std::mem::take(&mut by_day.session), d0, g.n_days)?;
        (
            place::<PeriodCounts>(days, d0, g.n_days)?,
            place::<PeriodCounts>(hours, d0 * 24, g.n_days * 24)?,
            place::<PeriodCounts>(weeks, w0, g.n_weeks)?,
            place::<PeriodCounts>(months, m0, g.n_months)?,
        )
    };
    // Root categories: partition codes (order of first appearance in the partition) to global codes;
    // the last slot holds the events without a root.
    let by_root = &mut funnel_by[crate::kpis::scan::BY_ROOT];
    let n_global = g.root_ids.len() + 1;
    let global_slot = |slot: usize| -> usize {
        k.root_ids
            .get(slot)
            .map_or(n_global - 1, |id| g.root_code[id])
    };
    for units in [&mut by_root.user, &mut by_root.session] {
        if units.is_empty() {
            continue;
        }
        let mut out = vec![crate::kpis::scan::FunnelPartial::default(); n_global];
        for (slot, f) in std::mem::take(units).into_iter().enumerate() {
            out[global_slot(slot)] = f;
        }
        *units = out;
    }
    // Item counts are not among the partials merged here: [`ItemTotals`] added them up by item id.
    if !items.is_empty() {
        return Err(Error::Internal(
            "a partition's item counts were not absorbed".into(),
        ));
    }
    // Per-visitor rows are not among the partials held: `build_partition` writes them to the
    // partition's visitor file, and `kpi_segments` is streamed from those files.
    if !visitors.is_empty() {
        return Err(Error::Internal(
            "a partition's visitor rows were not spilled".into(),
        ));
    }
    Ok(Partials {
        days,
        hours,
        weeks,
        months,
        hour_weekday,
        funnel_user,
        funnel_session,
        categories,
        visitors,
        headline,
        funnel_by,
        items: Vec::new(),
    })
}

/// The merged derived tables (KPIs, cohorts, customers) of the partitions' partials, all but
/// `kpi_segments` and `kpi_segment_conversion` (made from the visitor files by [`segments`]), and the
/// end of the data.
fn merged_derived(
    parts: &mut [PartitionPartial],
    mut items: ItemTotals,
    shared: &Shared,
    items_table: &DataFrame,
) -> Result<(Vec<(&'static str, DataFrame)>, i64)> {
    // Days, weeks, months of the whole data.
    let spans: Vec<(i32, i32)> = parts
        .iter()
        .filter(|p| p.kpi.n_days > 0)
        .map(|p| (p.kpi.first_day, p.kpi.first_day + p.kpi.n_days as i32 - 1))
        .collect();
    let (first_day, last_day) = match (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => (0, -1),
    };
    let n_days = (last_day - first_day + 1).max(0) as usize;
    let (n_weeks, n_months) = if n_days == 0 {
        (0, 0)
    } else {
        (
            (week_of(last_day) - week_of(first_day) + 1) as usize,
            (month_of(last_day) - month_of(first_day) + 1) as usize,
        )
    };
    let end_ts = parts.iter().filter_map(|p| p.kpi.end_ts).max();
    // Items in order of their first event in (visitor, time, line) order, as one index codes them.
    let (item_ids, item_counts) = items.kpi_in_code_order();
    // Root categories in order of their first event, as one index codes them.
    let mut root_first: HashMap<Option<i64>, (i64, i64, u64)> = HashMap::new();
    for p in parts.iter() {
        for (id, key) in p.kpi.root_ids.iter().zip(&p.kpi.root_first) {
            root_first
                .entry(*id)
                .and_modify(|k| *k = (*k).min(*key))
                .or_insert(*key);
        }
    }
    let mut root_order: Vec<((i64, i64, u64), Option<i64>)> =
        root_first.into_iter().map(|(id, k)| (k, id)).collect();
    root_order.sort_unstable();
    let root_ids: Vec<Option<i64>> = root_order.iter().map(|(_, id)| *id).collect();
    let root_code: HashMap<Option<i64>, usize> = root_ids
        .iter()
        .enumerate()
        .map(|(c, id)| (*id, c))
        .collect();
    let g = GlobalKeys {
        first_day,
        n_days,
        n_weeks,
        n_months,
        end_ts: end_ts.unwrap_or(0),
        item_ids,
        root_ids,
        root_code,
    };
    let mut merged = Partials::default();
    for p in parts.iter_mut() {
        merged = merged.merge(rekey(std::mem::take(&mut p.kpi), &g)?);
    }
    let mut merged = merged.finish();
    merged.items = item_counts;
    let prices: HashMap<i64, Option<f64>> = {
        let ids = items_table.column("item_id")?.cast(&DataType::Int64)?;
        let price = items_table.column("price")?.cast(&DataType::Float64)?;
        ids.i64()?
            .iter()
            .zip(price.f64()?.iter())
            .filter_map(|(i, p)| i.map(|i| (i, p)))
            .collect()
    };
    let item_price = g
        .item_ids
        .iter()
        .map(|id| prices.get(id).copied().flatten())
        .collect();
    let labels = EventIndex {
        ts: Vec::new(),
        day: Vec::new(),
        kind: Vec::new(),
        item: Vec::new(),
        order: Vec::new(),
        revenue: Vec::new(),
        priced: Vec::new(),
        category: Vec::new(),
        root: Vec::new(),
        session_start: Vec::new(),
        session_flags: Vec::new(),
        visitor_session: Vec::new(),
        // Per-visitor labels are not held: only the segment tables use them, made apart.
        is_bot: Vec::new(),
        lifecycle: Vec::new(),
        visitor_ids: Column::new("visitor_id".into(), Vec::<i64>::new()),
        item_ids: Column::new("item_id".into(), &g.item_ids),
        root_ids: g.root_ids.clone(),
        first_day: g.first_day,
        n_days: g.n_days,
        end_ts: g.end_ts,
        tree: Tree::from_frame(Some(&shared.categories))?,
        item_price,
        cube: std::sync::OnceLock::new(),
    };
    let names: Vec<&'static str> = crate::kpis::TABLES
        .iter()
        .copied()
        .filter(|n| !segments::TABLES.contains(n))
        .collect();
    let mut out = crate::kpis::tables_from_partials(&labels, &Filter::default(), &merged, &names)?;
    drop(labels);
    drop(merged);

    // Cohorts: partials per period and definition, merged, finished in the in-memory order.
    let mut cohort_frames: Option<DataFrame> = None;
    for (i, period) in Period::ALL.iter().enumerate() {
        for (j, by) in CohortBy::ALL.iter().enumerate() {
            let mut acc = CohortPartial::default();
            for p in parts.iter() {
                if let Some(c) = p.cohorts.get(i) {
                    acc.merge(&c[j]);
                }
            }
            let df = crate::cohorts::labelled(acc.finish(*period)?, *by, *period)?;
            match &mut cohort_frames {
                None => cohort_frames = Some(df),
                Some(all) => {
                    all.vstack_mut(&df)?;
                }
            }
        }
    }
    let mut cohorts = cohort_frames.ok_or_else(|| Error::Internal("no cohort frames".into()))?;
    cohorts.rechunk_mut();
    out.push(("cohort_retention", cohorts));

    // Customers: the buyers' RFM rows, T extended to the end of the whole data, in visitor order.
    let end_day = parts.iter().filter_map(|p| p.rfm_end).max();
    let mut summary: Option<DataFrame> = None;
    for p in parts.iter_mut() {
        let mut rfm = std::mem::take(&mut p.rfm);
        if let (Some(end), Some(own)) = (end_day, p.rfm_end) {
            if rfm.height() > 0 && end != own {
                let t = rfm.column("T")?.f64()? + f64::from(end - own);
                rfm.with_column(t.into_column())?;
            }
        }
        match &mut summary {
            None => summary = Some(rfm),
            Some(all) => {
                all.vstack_mut(&rfm)?;
            }
        }
    }
    let summary = summary.ok_or_else(|| Error::Internal("no partitions".into()))?;
    let summary = summary.sort(["visitor_id"], SortMultipleOptions::default())?;
    out.push(("customers", crate::clv::customers_from_summary(&summary)?));
    Ok((out, g.end_ts))
}

/// Pass 3: merges the partitions' partials into the warehouse at `out`, streaming the clean tables
/// from the part files (re-numbering sessions across partitions).
pub fn merge_partitions(
    mut parts: Vec<PartitionPartial>,
    mut items: ItemTotals,
    shared: &Shared,
    out: &Path,
    mut timings: Vec<(String, u64)>,
    prebuilt: &[(&'static str, PathBuf)],
    progress: Progress<'_>,
) -> Result<Report> {
    let clock = Instant::now();
    parts.sort_by_key(|p| p.partition);
    for p in parts.iter_mut() {
        items.absorb(p)?;
    }
    progress("pass 3/3: merge partials", 0, 2);
    // Row accounting, quarantine and duplicates.
    let mut quarantine: Vec<QuarantineRow> = parts
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.quarantine))
        .collect();
    quarantine.sort_by_key(|q| q.line);
    let mut duplicates: Vec<DuplicateRow> = parts
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.duplicates))
        .collect();
    duplicates.sort_by_key(|d| d.line);
    let stats = merge_stats(&parts, &quarantine);
    let item_counts = items.clean_counts();
    let cleaned = CleanEvents {
        events: tables::empty_events()?,
        sessions: tables::empty_sessions()?,
        visitors: tables::empty_visitors()?,
        item_counts,
        quarantine,
        duplicates,
        stats,
    };
    let source = shared.location();
    let mut built = assemble(
        &source,
        cleaned.into(),
        &shared.reference,
        &shared.cfg,
        Vec::new(),
        shared.price_source(),
    )?;
    built.report.timings_ms.append(&mut timings);

    let items_table = built
        .table("items")
        .cloned()
        .ok_or_else(|| Error::Internal("no items table".into()))?;
    let (mut derived, end_ts) = merged_derived(&mut parts, items, shared, &items_table)?;
    drop(items_table);
    // The per-visitor tables from the visitor files: session-id shifts, then the segments.
    let scratch = parts
        .first()
        .map(|p| p.part_dir.clone())
        .ok_or_else(|| Error::Internal("no partitions".into()))?;
    let visitor_files: Vec<PathBuf> = parts
        .iter()
        .map(|p| visitor_rows::path(&p.part_dir, p.partition))
        .collect();
    let shift_files: Vec<PathBuf> = parts
        .iter()
        .map(|p| segments::shift_file(&p.part_dir, p.partition))
        .collect();
    let capacity: u64 = parts.iter().map(|p| p.stats.visitors).sum();
    let cuts = segments::shifts_and_cuts(&visitor_files, &shift_files, end_ts, capacity as usize)?;
    release_free_memory();
    let segments_path = scratch.join("kpi_segments.parquet");
    let counts = segments::write(
        &visitor_files,
        end_ts,
        &cuts,
        &segments_path,
        segments::PART_ROWS,
    )?;
    derived.push(("kpi_segment_conversion", counts.frame()?));
    let mut prebuilt = prebuilt.to_vec();
    prebuilt.push(("kpi_segments", segments_path));
    release_free_memory();
    built
        .report
        .timings_ms
        .push(("merge".into(), clock.elapsed().as_millis() as u64));
    let write_clock = Instant::now();
    progress("pass 3/3: write warehouse", 1, 2);
    let mut tables: Vec<(String, DataFrame)> = built
        .tables
        .into_iter()
        .filter(|(n, _)| !PART_TABLES.contains(n) && !prebuilt.iter().any(|(p, _)| p == n))
        .map(|(n, df)| (n.to_string(), df))
        .collect();
    tables.extend(derived.into_iter().map(|(n, df)| (n.to_string(), df)));
    let mut report = built.report;
    report.notes.extend(shared.notes());
    report.notes.push(format!(
        "built in {} visitor partitions (rows of events, sessions and visitors grouped by partition)",
        parts.len()
    ));
    let value = serde_json::to_value(&report)?;
    crate::warehouse::write_staged(out, tables, &value, |staging| {
        for (name, path) in &prebuilt {
            let target = staging.join(format!("{name}.parquet"));
            // Scratch files sit next to the warehouse: a rename, else (another file system) a copy.
            if std::fs::rename(path, &target).is_err() {
                std::fs::copy(path, &target).map_err(|e| Error::io(&target, e))?;
            }
        }
        for name in PART_TABLES {
            let mut writer: Option<TableWriter> = None;
            for (i, p) in parts.iter().enumerate() {
                let path = part_file(&p.part_dir, name, p.partition);
                let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                let mut df = ParquetReader::new(file).finish()?;
                if name != "visitors" {
                    let shifts = segments::read_shifts(&shift_files[i])?;
                    renumber_sessions(&mut df, &shifts)?;
                }
                let w = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(TableWriter::create(
                        &staging.join(format!("{name}.parquet")),
                        df.schema(),
                    )?),
                };
                w.write(&mut df)?;
                drop(df);
                release_free_memory();
            }
            if let Some(w) = writer {
                w.finish()?;
            }
        }
        Ok(())
    })?;
    report.timings_ms.push((
        "write_parquet".into(),
        write_clock.elapsed().as_millis() as u64,
    ));
    Ok(report)
}

/// Shifts the `session_id`s of a partition's rows (grouped by visitor in ascending id order) by their
/// visitor's shift (`shifts`: (visitor id, shift) of the partition's visitors, ascending ids).
fn renumber_sessions(df: &mut DataFrame, shifts: &[(i64, i64)]) -> Result<()> {
    let ids = df.column("visitor_id")?.i64()?.clone();
    let sid_col = df.column("session_id")?;
    let dtype = sid_col.dtype().clone();
    let sid = sid_col.cast(&DataType::Int64)?;
    let sid = sid.i64()?;
    let mut j = 0usize;
    let mut out: Vec<i64> = Vec::with_capacity(df.height());
    for (v, s) in ids.iter().zip(sid.iter()) {
        let (Some(v), Some(s)) = (v, s) else {
            return Err(Error::Internal("a null visitor or session id".into()));
        };
        while j < shifts.len() && shifts[j].0 != v {
            j += 1;
        }
        let d = shifts
            .get(j)
            .ok_or_else(|| Error::Internal(format!("visitor {v} is not in its partition")))?
            .1;
        out.push(s + d);
    }
    let col = Column::new("session_id".into(), out).cast(&dtype)?;
    df.with_column(col)?;
    Ok(())
}

/// Hands the allocator's free memory back to the system. glibc keeps freed blocks in its arenas, so
/// partition after partition the process would keep the peak of all of them instead of one.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns free pages of the allocator's heaps to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Removes a scratch folder when dropped (also when the build fails).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `shoplens build --memory-limit`: a RetailRocket folder into the warehouse at `out` in `partitions`
/// visitor partitions: pass 1 spills `events.csv` by visitor hash, pass 2 cleans and derives each
/// partition in turn, pass 3 merges the partials and writes the warehouse.
pub fn build_warehouse_partitioned(
    raw: &Path,
    out: &Path,
    cfg: &CleanConfig,
    partitions: usize,
    progress: Progress<'_>,
) -> Result<Report> {
    let started = Instant::now();
    let mut shared = Shared::read(raw, cfg)?;
    let scratch = Scratch(crate::warehouse::hidden_sibling(out, "partitions")?);
    let spill_dir = scratch.0.join("spill");
    let part_dir = scratch.0.join("parts");
    std::fs::create_dir_all(&part_dir).map_err(|e| Error::io(&part_dir, e))?;
    // Assignments only pass through to their tables: written now, not held through the build.
    let mut prebuilt = Vec::new();
    if let Some((assignments, mut weights)) = shared.reference.experiments.take() {
        let path = part_dir.join("assignments.parquet");
        assignments.write(&path)?;
        prebuilt.push(("assignments", path));
        let path = part_dir.join("experiment_weights.parquet");
        write_table(&path, &mut weights)?;
        prebuilt.push(("experiment_weights", path));
    }
    release_free_memory();
    let mut timings = vec![("read_reference".to_string(), shared.read_ms)];
    let clock = Instant::now();
    let spills = spill_events(&shared.folder.events, &spill_dir, partitions, cfg, progress)?;
    timings.push(("spill_events".into(), clock.elapsed().as_millis() as u64));
    let clock = Instant::now();
    let mut parts = Vec::with_capacity(spills.len());
    let mut items = ItemTotals::default();
    let n = spills.len() as u64;
    for (i, spill) in spills.iter().enumerate() {
        progress("pass 2/3: clean and derive partitions", i as u64, n);
        let mut part = build_spilled(i, spill, &shared, &part_dir)?;
        items.absorb(&mut part)?;
        parts.push(part);
        let _ = std::fs::remove_file(&spill.csv);
        let _ = std::fs::remove_file(&spill.lines);
        release_free_memory();
    }
    progress("pass 2/3: clean and derive partitions", n, n);
    timings.push(("partitions".into(), clock.elapsed().as_millis() as u64));
    let mut report = merge_partitions(parts, items, &shared, out, timings, &prebuilt, progress)?;
    drop(scratch);
    report
        .timings_ms
        .push(("total".into(), started.elapsed().as_millis() as u64));
    let report_path = out.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .map_err(|e| Error::io(&report_path, e))?;
    progress("done", 1, 1);
    Ok(report)
}

/// `shoplens build` with a memory budget: the in-memory build when `events.csv` fits in
/// `memory_limit` (see [`plan_partitions`]), else a partitioned one; `partitions` forces a number of
/// partitions (1 included: the partitioned machinery on one partition).
pub fn build_warehouse_limited(
    raw: &Path,
    out: &Path,
    cfg: &CleanConfig,
    memory_limit: Option<u64>,
    partitions: Option<usize>,
    progress: Progress<'_>,
) -> Result<Report> {
    let planned = match (partitions, memory_limit) {
        (Some(p), _) => {
            if p == 0 {
                return Err(Error::InvalidArgument(
                    "partitions must be at least 1".into(),
                ));
            }
            Some(p)
        }
        (None, Some(limit)) => {
            let folder = RawFolder::locate(raw)?;
            let size = |p: &Path| -> Result<u64> {
                Ok(std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len())
            };
            let mut reference = 0;
            for p in folder
                .properties
                .iter()
                .chain(&folder.prices)
                .chain(&folder.tree)
            {
                reference += size(p.as_path())?;
            }
            Some(plan_partitions(
                size(folder.events.as_path())?,
                reference,
                limit,
            ))
            .filter(|&p| p > 1)
        }
        (None, None) => None,
    };
    match planned {
        Some(p) => build_warehouse_partitioned(raw, out, cfg, p, progress),
        None => super::build_warehouse(raw, out, cfg, progress),
    }
}

/// The `text` column (lines of `events.csv`) of a partition frame.
pub fn text_column(frame: &DataFrame) -> Result<&StringChunked> {
    frame
        .column("text")
        .map_err(|_| Error::Schema("partition frame: no column 'text'".into()))?
        .str()
        .map_err(|_| Error::Schema("partition frame: 'text' must be a string column".into()))
}

/// One partition from a frame of `events.csv` lines: `line` (source line numbers) and `text` (the
/// line without its terminator), in any row order (a cluster's shuffle does not keep it).
pub fn build_frame_partition(
    partition: usize,
    frame: &DataFrame,
    shared: &Shared,
    part_dir: &Path,
) -> Result<PartitionPartial> {
    let lines = frame
        .column("line")
        .map_err(|_| Error::Schema("partition frame: no column 'line'".into()))?
        .cast(&DataType::UInt64)?;
    let text = text_column(frame)?;
    let numbers: Vec<u64> = lines
        .u64()?
        .iter()
        .map(|v| v.ok_or_else(|| Error::Schema("partition frame: a null line number".into())))
        .collect::<Result<_>>()?;
    let mut order: Vec<usize> = (0..numbers.len()).collect();
    order.sort_unstable_by_key(|&i| numbers[i]);
    let texts: Vec<&[u8]> = order
        .iter()
        .map(|&i| text.get(i).unwrap_or("").as_bytes())
        .collect();
    let sorted: Vec<u64> = order.iter().map(|&i| numbers[i]).collect();
    drop(order);
    let name = shared.events_name();
    let line = |row: usize| texts[row];
    build_partition(partition, &name, sorted, &line, shared, part_dir)
}

/// Merges partials made elsewhere (a cluster's tasks) into the warehouse at `out`.
pub fn merge_into(
    parts: Vec<PartitionPartial>,
    shared: &Shared,
    out: &Path,
    progress: Progress<'_>,
) -> Result<Report> {
    let started = Instant::now();
    let timings = vec![("read_reference".to_string(), shared.read_ms)];
    let mut report = merge_partitions(
        parts,
        ItemTotals::default(),
        shared,
        out,
        timings,
        &[],
        progress,
    )?;
    report
        .timings_ms
        .push(("total".into(), started.elapsed().as_millis() as u64));
    let report_path = out.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .map_err(|e| Error::io(&report_path, e))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::no_progress;
    use crate::build::test_data::{raw, read};

    /// A generic CSV event file (other column order, a bad row and its duplicate) built in visitor
    /// partitions from (line, text) frames, keyed by the mapped visitor column, equals the in-memory
    /// generic build: events row for row by source line (ids restored, session ids numbered across
    /// partitions), items, quarantine and duplicates exactly. Text ids are refused.
    #[test]
    fn generic_event_file_in_partitions_equals_the_in_memory_build() {
        let dir = tempfile::tempdir().unwrap();
        let raw = raw(dir.path(), 0.003, 7, false);
        // timestamp,visitorid,event,itemid,transactionid -> order,ts,event,item,visitor
        let text = std::fs::read_to_string(raw.join("events.csv")).unwrap();
        let mut out = String::from("order,ts,event,item,visitor\n");
        for (i, line) in text.lines().skip(1).enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            out.push_str(&format!("{},{},{},{},{}\n", f[4], f[0], f[2], f[3], f[1]));
            if i == 40 {
                out.push_str(",not-a-time,view,5,abc\n,not-a-time,view,5,abc\n");
            }
        }
        let path = dir.path().join("shop.csv");
        std::fs::write(&path, &out).unwrap();
        let mapping = EventMapping::from_json(
            r#"{"timestamp": "ts", "visitor": "visitor", "event": "event", "item": "item", "order": "order"}"#,
        )
        .unwrap();
        let cfg = CleanConfig::default();
        let memory = dir.path().join("memory");
        crate::build::build_generic(
            crate::ingest::generic::GenericInput::File(path.clone()),
            mapping.clone(),
            &memory,
            &cfg,
            &no_progress,
        )
        .unwrap();

        let shared = Shared::generic(&path, mapping.clone(), &cfg).unwrap();
        let keyer =
            GenericTable::csv_lines(&path, mapping.clone(), Vec::new(), Vec::new()).unwrap();
        let mut frames: Vec<(Vec<u64>, Vec<String>)> = vec![Default::default(); 3];
        for (i, line) in out.lines().skip(1).enumerate() {
            let p = (keyer.line_key(line.as_bytes()) % 3) as usize;
            frames[p].0.push(i as u64 + 2);
            frames[p].1.push(line.to_string());
        }
        let part_dir = dir.path().join("parts");
        let parts: Vec<PartitionPartial> = frames
            .into_iter()
            .enumerate()
            .map(|(i, (lines, text))| {
                let df = df!("line" => lines, "text" => text).unwrap();
                build_frame_partition(i, &df, &shared, &part_dir).unwrap()
            })
            .collect();
        let built = dir.path().join("partitioned");
        let report = merge_into(parts, &shared, &built, &no_progress).unwrap();
        assert!(report.conservation.holds);
        assert_eq!(report.events.quarantined, 1);
        assert_eq!(report.events.duplicates_removed, 1);
        for (table, key) in [
            ("events", "source_line"),
            ("items", "item_id"),
            ("quarantine", "line"),
            ("duplicates", "line"),
        ] {
            let sorted = |p: &Path| {
                read(&p.join(format!("{table}.parquet")))
                    .sort([key], SortMultipleOptions::default())
                    .unwrap()
            };
            let (want, got) = (sorted(&memory), sorted(&built));
            assert!(want.height() > 0, "{table}");
            assert!(got.equals_missing(&want), "{table}");
        }

        // Text visitor ids cannot be merged by id across partitions.
        let text_ids = dir.path().join("text_ids.csv");
        std::fs::write(
            &text_ids,
            "order,ts,event,item,visitor\n,1433116800000,view,5,C-1\n",
        )
        .unwrap();
        let shared = Shared::generic(&text_ids, mapping, &cfg).unwrap();
        let df = df!("line" => [2u64], "text" => [",1433116800000,view,5,C-1"]).unwrap();
        let err = build_frame_partition(0, &df, &shared, &part_dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("integer visitor, item and order ids"),
            "{err}"
        );
    }

    /// `kpi_segments` and `kpi_segment_conversion` streamed from the partitions' visitor files, in
    /// parts of a few rows and through the whole merge, equal the in-memory build's tables.
    #[test]
    fn segments_from_spilled_visitor_rows_equal_the_in_memory_tables() {
        let dir = tempfile::tempdir().unwrap();
        let raw = raw(dir.path(), 0.005, 11, true);
        let cfg = CleanConfig::default();
        let memory = dir.path().join("memory");
        crate::build::build_warehouse(&raw, &memory, &cfg, &no_progress).unwrap();
        let want = read(&memory.join("kpi_segments.parquet"));
        let want_conversion = read(&memory.join("kpi_segment_conversion.parquet"));
        assert!(want.height() > 100);

        let shared = Shared::read(&raw, &cfg).unwrap();
        let spill = dir.path().join("spill");
        let part_dir = dir.path().join("parts");
        let spills = spill_events(&shared.folder.events, &spill, 3, &cfg, &no_progress).unwrap();
        let parts: Vec<PartitionPartial> = spills
            .iter()
            .enumerate()
            .map(|(i, s)| build_spilled(i, s, &shared, &part_dir).unwrap())
            .collect();
        assert!(parts.iter().all(|p| p.kpi.partials.visitors.is_empty()));
        let end_ts = parts.iter().filter_map(|p| p.kpi.end_ts).max().unwrap();
        let files: Vec<PathBuf> = parts
            .iter()
            .map(|p| visitor_rows::path(&part_dir, p.partition))
            .collect();
        let shifts: Vec<PathBuf> = parts
            .iter()
            .map(|p| segments::shift_file(&part_dir, p.partition))
            .collect();
        let cuts = segments::shifts_and_cuts(&files, &shifts, end_ts, 0).unwrap();
        let path = dir.path().join("kpi_segments.parquet");
        let counts = segments::write(&files, end_ts, &cuts, &path, 97).unwrap();
        let got = read(&path);
        assert!(got.equals_missing(&want));
        assert!(counts.frame().unwrap().equals_missing(&want_conversion));

        let out = dir.path().join("partitioned");
        let items = ItemTotals::default();
        merge_partitions(parts, items, &shared, &out, Vec::new(), &[], &no_progress).unwrap();
        assert!(read(&out.join("kpi_segments.parquet")).equals_missing(&want));
        assert!(read(&out.join("kpi_segment_conversion.parquet")).equals_missing(&want_conversion));
    }
}
