//! The per-visitor outputs of a partitioned build, streamed from the partitions' visitor files
//! ([`super::visitor_rows`]) instead of built from every visitor's row in memory:
//!
//! 1. [`shifts_and_cuts`]: one pass in visitor-id order over all partitions gives each visitor its
//!    session-id shift (sessions of all visitors with a smaller id, less those of its own partition;
//!    written to a file per partition, read back when that partition's rows are renumbered) and
//!    collects the three RFM value columns, from which the quintile cut points are found exactly;
//! 2. [`write`]: a second pass scores the visitors against those cut points and writes `kpi_segments`
//!    part by part (rows in visitor-id order, as the in-memory build has them), adding up the counts
//!    of `kpi_segment_conversion` on the way.
//!
//! Memory: the three value columns (24 bytes per visitor with a row) during the first pass, one part
//! of the table during the second.
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::frame::owned;

use super::visitor_rows::Merged;
use crate::kpis::index::{from_micro, lifecycle_of};
use crate::kpis::scan::VisitorRow;
use crate::kpis::tables::{recency_days, segment_rows_frame, SegmentCounts, SegmentCuts};
use crate::warehouse::parquet::TableWriter;
use crate::{Error, Result};

/// The KPI tables made here rather than from the merged partials.
pub const TABLES: [&str; 2] = ["kpi_segments", "kpi_segment_conversion"];

/// Rows of `kpi_segments` per part written (one Parquet row group each).
pub const PART_ROWS: usize = 1 << 20;

/// Path of a partition's session-id shifts.
pub fn shift_file(part_dir: &Path, partition: usize) -> PathBuf {
    part_dir.join(format!("session-shifts-{partition:05}.bin"))
}

/// Pass 1: writes the session-id shift of each visitor of partition `i` (visitor file
/// `visitor_files[i]`) to `shift_files[i]` as (visitor id, shift) pairs in ascending id order, and
/// returns the RFM cut points of all visitors' rows at `end_ts`. `capacity`: at least the number of
/// rows (room reserved once for the value columns).
pub fn shifts_and_cuts(
    visitor_files: &[PathBuf],
    shift_files: &[PathBuf],
    end_ts: i64,
    capacity: usize,
) -> Result<SegmentCuts> {
    let mut writers = shift_files
        .iter()
        .map(|p| {
            File::create(p)
                .map(|f| BufWriter::with_capacity(1 << 18, f))
                .map_err(|e| Error::io(p, e))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut local = vec![0u64; visitor_files.len()];
    let mut global = 0u64;
    let mut recency = Vec::with_capacity(capacity);
    let mut frequency = Vec::with_capacity(capacity);
    let mut monetary = Vec::with_capacity(capacity);
    let mut merged = Merged::open(visitor_files)?;
    while let Some((i, rec)) = merged.next_record()? {
        let shift = global as i64 - local[i] as i64;
        let w = &mut writers[i];
        w.write_all(&rec.id.to_le_bytes())
            .and_then(|_| w.write_all(&shift.to_le_bytes()))
            .map_err(|e| Error::io(&shift_files[i], e))?;
        global += rec.sessions;
        local[i] += rec.sessions;
        if let Some(r) = &rec.row {
            recency.push(recency_days(end_ts, r));
            frequency.push(r.sessions as f64);
            monetary.push(from_micro(r.revenue));
        }
    }
    for (w, p) in writers.iter_mut().zip(shift_files) {
        w.flush().map_err(|e| Error::io(p, e))?;
    }
    Ok(SegmentCuts::from_values(recency, frequency, monetary))
}

/// The (visitor id, shift) pairs of a shift file.
pub fn read_shifts(path: &Path) -> Result<Vec<(i64, i64)>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    let word = |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    Ok(bytes
        .chunks_exact(16)
        .map(|c| (word(&c[..8]), word(&c[8..])))
        .collect())
}

/// Pass 2: writes `kpi_segments` of the visitors of `visitor_files` at `end_ts`, scored against
/// `cuts`, to the Parquet file `path` in parts of `part_rows` rows, and returns the counts of
/// `kpi_segment_conversion`.
pub fn write(
    visitor_files: &[PathBuf],
    end_ts: i64,
    cuts: &SegmentCuts,
    path: &Path,
    part_rows: usize,
) -> Result<SegmentCounts> {
    let part_rows = part_rows.max(1);
    let frame = |ids: &mut Vec<i64>, rows: &mut Vec<VisitorRow>| -> Result<DataFrame> {
        let lifecycle: Vec<u8> = rows
            .iter()
            .map(|r| lifecycle_of(r.first_ts, r.last_ts, end_ts))
            .collect();
        let df = segment_rows_frame(
            owned("visitor_id".into(), std::mem::take(ids)),
            rows,
            &lifecycle,
            end_ts,
            cuts,
        )?;
        rows.clear();
        Ok(df)
    };
    let mut ids = Vec::new();
    let mut rows = Vec::new();
    let empty = frame(&mut ids, &mut rows)?;
    let mut writer = TableWriter::create(path, empty.schema())?;
    let mut counts = SegmentCounts::default();
    let mut merged = Merged::open(visitor_files)?;
    loop {
        let next = merged.next_record()?;
        let done = next.is_none();
        if let Some(row) = next.and_then(|(_, rec)| rec.row.map(|r| (rec.id, r))) {
            ids.push(row.0);
            rows.push(row.1);
        }
        if rows.len() >= part_rows || (done && !rows.is_empty()) {
            let mut df = frame(&mut ids, &mut rows)?;
            counts.add(&df)?;
            writer.write(&mut df)?;
        }
        if done {
            break;
        }
    }
    writer.finish()?;
    Ok(counts)
}
