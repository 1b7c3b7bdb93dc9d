//! KPIs of a warehouse: funnel, headline figures, time series, products, category roll-ups, price
//! bands, RFM segments and anomalies (SPEC §2; definitions in `docs/methodology.md`).
//!
//! Everything is computed by [`scan::scan`] over visitor partitions whose partials add up
//! ([`scan::Partials::merge`]); [`index::EventIndex`] is the compact form of the events that every
//! scan walks and that an open warehouse keeps for interactive queries ([`headline`]).
pub mod anomalies;
pub mod cube;
pub mod headline;
pub mod index;
pub mod scan;
pub mod tables;

use polars::prelude::*;
use rayon::prelude::*;

use crate::Result;
pub use index::{index_columns, EventIndex};
pub use scan::{DaySet, Filter, Need, Partials};

/// Names of the tables [`tables`] returns, in order.
pub const TABLES: [&str; 16] = [
    "kpi_daily",
    "kpi_weekly",
    "kpi_monthly",
    "kpi_hour_weekday",
    "funnel",
    "funnel_by_day",
    "funnel_by_weekday",
    "funnel_by_hour",
    "funnel_by_root_category",
    "products",
    "kpi_price_bands",
    "kpi_categories",
    "kpi_segments",
    "kpi_segment_conversion",
    "anomalies",
    "anomalies_hourly",
];

/// The KPI tables named in `names` (all of [`TABLES`] when empty) for one filter, from `partitions`
/// visitor partitions (0: contiguous visitor chunks); one scan filling only the partials these
/// tables are made of, then each table from the merged partials.
pub fn tables_with(
    index: &EventIndex,
    filter: &Filter,
    partitions: usize,
    names: &[&str],
) -> Result<Vec<(&'static str, DataFrame)>> {
    let names: Vec<&'static str> = if names.is_empty() {
        TABLES.to_vec()
    } else {
        names
            .iter()
            .map(|n| {
                TABLES.iter().find(|t| *t == n).copied().ok_or_else(|| {
                    crate::Error::InvalidArgument(format!(
                        "no KPI table '{n}'; the tables are {TABLES:?}"
                    ))
                })
            })
            .collect::<Result<_>>()?
    };
    let p = partials_for(index, filter, partitions, &names);
    tables_from_partials(index, filter, &p, &names)
}

/// One scan of `index` filling only the partials the tables `names` are made of.
fn partials_for(
    index: &EventIndex,
    filter: &Filter,
    partitions: usize,
    names: &[&'static str],
) -> Partials {
    let need = names
        .iter()
        .fold(scan::Need::NOTHING, |n, t| n.with(scan::Need::of_table(t)));
    scan::compute_needed(index, filter, partitions, need)
}

/// The KPI tables `names` from merged partials `p` (of `index`'s visitors and items under `filter`).
/// A partitioned build merges the partials of its partitions and calls this with an index that holds
/// the labels only (days, items, visitors, tree).
pub fn tables_from_partials(
    index: &EventIndex,
    filter: &Filter,
    p: &Partials,
    names: &[&'static str],
) -> Result<Vec<(&'static str, DataFrame)>> {
    let groups = table_groups(names);
    let built = std::sync::Mutex::new(Vec::new());
    groups_into(index, filter, p, &groups, &|tables| {
        let mut built = built
            .lock()
            .map_err(|_| crate::Error::Internal("KPI tables lock".into()))?;
        collect_parts(&mut built, tables)
    })?;
    let mut built = built
        .into_inner()
        .map_err(|_| crate::Error::Internal("KPI tables lock".into()))?;
    // Back in the order asked for.
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        if let Some(i) = built.iter().position(|(n, _)| *n == name) {
            out.push(built.swap_remove(i));
        }
    }
    Ok(out)
}

/// The tables `names` in groups built together. Tables are independent but for two pairs that share
/// a frame (anomalies are found on the daily table, segment conversion is counted on the segments):
/// each pair is one group, every other table a group of its own; groups are built in parallel.
fn table_groups(names: &[&'static str]) -> Vec<Vec<&'static str>> {
    let group_of = |name: &str| match name {
        "kpi_daily" | "anomalies" => 0,
        "kpi_segments" | "kpi_segment_conversion" => 1,
        other => {
            2 + TABLES
                .iter()
                .position(|t| *t == other)
                .unwrap_or(TABLES.len())
        }
    };
    let mut groups: Vec<Vec<&'static str>> = Vec::new();
    let mut keys: Vec<usize> = Vec::new();
    for &name in names {
        let g = group_of(name);
        match keys.iter().position(|k| *k == g) {
            Some(i) => groups[i].push(name),
            None => {
                keys.push(g);
                groups.push(vec![name]);
            }
        }
    }
    groups
}

/// Receives tables as soon as they are built (a build writes them and frees them), from any thread.
pub type TableSink<'a> = &'a (dyn Fn(Vec<(&'static str, DataFrame)>) -> Result<()> + Sync);

/// Adds `tables` to `built`; a table already there (an earlier part of it) gets their rows appended.
pub fn collect_parts(
    built: &mut Vec<(&'static str, DataFrame)>,
    tables: Vec<(&'static str, DataFrame)>,
) -> Result<()> {
    for (name, df) in tables {
        match built.iter_mut().find(|(n, _)| *n == name) {
            Some((_, whole)) => {
                whole.vstack_mut_owned(df)?;
            }
            None => built.push((name, df)),
        }
    }
    Ok(())
}

/// Builds the table `groups` in parallel, handing each group's tables to `each` once built.
fn groups_into(
    index: &EventIndex,
    filter: &Filter,
    p: &Partials,
    groups: &[Vec<&'static str>],
    each: TableSink<'_>,
) -> Result<()> {
    groups
        .par_iter()
        .map(|group| {
            if group.iter().any(|n| SEGMENTS.contains(n)) {
                segments_into(index, p, group, each)
            } else {
                group_tables(index, filter, p, group).and_then(each)
            }
        })
        .collect::<Result<Vec<()>>>()?;
    Ok(())
}

/// The per-visitor segment table and the conversion counted on it: one group.
const SEGMENTS: [&str; 2] = ["kpi_segments", "kpi_segment_conversion"];

/// Visitor rows in one part of `kpi_segments` at most.
const SEGMENT_PART_ROWS: usize = 1 << 18;

/// `kpi_segments` (when in `names`) handed to `each` in parts of [`SEGMENT_PART_ROWS`] rows, each
/// freed before the next is built, then `kpi_segment_conversion` (when in `names`) counted over the
/// parts. A table that arrives in several parts is their rows in order.
fn segments_into(
    index: &EventIndex,
    p: &Partials,
    names: &[&'static str],
    each: TableSink<'_>,
) -> Result<()> {
    let cuts = tables::SegmentCuts::of_rows(index.end_ts, &p.visitors);
    let mut counts = tables::SegmentCounts::default();
    let parts: Vec<&[scan::VisitorRow]> = if p.visitors.is_empty() {
        vec![&[]]
    } else {
        p.visitors.chunks(SEGMENT_PART_ROWS).collect()
    };
    for rows in parts {
        let part = tables::segments_part(index, rows, &cuts)?;
        counts.add(&part)?;
        if names.contains(&SEGMENTS[0]) {
            each(vec![(SEGMENTS[0], part)])?;
        }
    }
    if names.contains(&SEGMENTS[1]) {
        each(vec![(SEGMENTS[1], counts.frame()?)])?;
    }
    Ok(())
}

/// The partials of every table of [`TABLES`] over all of `index` (no filter).
pub fn build_partials(index: &EventIndex) -> Partials {
    partials_for(index, &Filter::default(), 0, &TABLES)
}

/// Every KPI table of `index` (as [`tables_of_index`]) from the partials [`build_partials`] gave,
/// each group handed to `each` as soon as it is built instead of all returned at the end.
pub fn tables_of_partials_into(
    index: &EventIndex,
    p: &Partials,
    each: TableSink<'_>,
) -> Result<()> {
    groups_into(index, &Filter::default(), p, &table_groups(&TABLES), each)
}

/// The tables `names` (one group of [`tables_from_partials`]), built in turn.
fn group_tables(
    index: &EventIndex,
    filter: &Filter,
    p: &Partials,
    names: &[&'static str],
) -> Result<Vec<(&'static str, DataFrame)>> {
    let sel = scan::Selection::new(index, filter);
    let mut daily = None;
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        let df = match name {
            "kpi_daily" | "anomalies" => {
                let d = match &daily {
                    Some(d) => d,
                    None => daily.insert(tables::daily_frame(index, &sel, p, filter.include_bots)?),
                };
                if name == "anomalies" {
                    anomalies::anomalies_frame(d, false)?
                } else {
                    d.clone()
                }
            }
            "anomalies_hourly" => hourly_anomalies(index, &sel, p, false)?,
            "kpi_weekly" => tables::period_frame(index, &sel, p, false)?,
            "kpi_monthly" => tables::period_frame(index, &sel, p, true)?,
            "kpi_hour_weekday" => tables::hour_weekday_frame(p)?,
            "funnel" => tables::funnel_frame(p, &["user", "session"])?,
            "funnel_by_day" => tables::funnel_by_frame(index, &sel, p, scan::BY_DAY)?,
            "funnel_by_weekday" => tables::funnel_by_frame(index, &sel, p, scan::BY_WEEKDAY)?,
            "funnel_by_hour" => tables::funnel_by_frame(index, &sel, p, scan::BY_HOUR)?,
            "funnel_by_root_category" => tables::funnel_by_frame(index, &sel, p, scan::BY_ROOT)?,
            "products" => tables::products_frame(index, p)?,
            "kpi_price_bands" => tables::price_bands_frame(index, p)?,
            "kpi_categories" => tables::categories_frame(index, p)?,
            other => {
                return Err(crate::Error::Internal(format!("KPI table {other}")));
            }
        };
        out.push((name, df));
    }
    Ok(out)
}

/// Hourly anomaly windows of the selected days, which must be consecutive (an empty table
/// otherwise: a series with holes has no hour-of-week pattern to test against).
pub fn hourly_anomalies(
    index: &EventIndex,
    sel: &scan::Selection,
    p: &Partials,
    all_windows: bool,
) -> Result<DataFrame> {
    let ok: Vec<usize> = (0..index.n_days).filter(|&d| sel.day_ok[d]).collect();
    let first = ok.first().copied().unwrap_or(0);
    let hours = match ok.last() {
        Some(&last) if last + 1 - first == ok.len() => &p.hours[first * 24..(last + 1) * 24],
        _ => &[][..],
    };
    anomalies::hourly_anomalies_frame(index.first_day + first as i32, hours, all_windows)
}

/// Every tested hourly window of a filter (see [`anomalies::hourly_anomalies_frame`]).
pub fn hourly_anomaly_windows(index: &EventIndex, filter: &Filter) -> Result<DataFrame> {
    let p = scan::compute_needed(index, filter, 0, scan::Need::HOURS);
    let sel = scan::Selection::new(index, filter);
    hourly_anomalies(index, &sel, &p, true)
}

/// The KPI tables `shoplens build` writes (bots excluded), from the warehouse's `events`,
/// `categories` and `items` tables.
pub fn tables(
    events: &DataFrame,
    categories: Option<&DataFrame>,
    items: Option<&DataFrame>,
) -> Result<Vec<(&'static str, DataFrame)>> {
    tables_of_index(&EventIndex::new(events, categories, items)?)
}

/// Every KPI table of an index, unfiltered (what `shoplens build` writes).
pub fn tables_of_index(index: &EventIndex) -> Result<Vec<(&'static str, DataFrame)>> {
    // Contiguous visitor chunks (partitions = 0): the same partials as hash partitions, and the
    // events are read in storage order (about half the time of scattered visitors at scale 1.0).
    tables_with(index, &Filter::default(), 0, &[])
}

/// Headline KPIs (one row) of a filter, from the index's [`cube::HeadlineCube`] (built on the first
/// call; then a query touches only the selected cells).
pub fn headline(index: &EventIndex, filter: &Filter) -> Result<DataFrame> {
    headline::headline_frame(index.headline_cube().query(index, filter))
}

/// Headline KPIs of a filter by scanning the events (the reference of the cube path).
pub fn headline_scan(index: &EventIndex, filter: &Filter) -> Result<DataFrame> {
    headline::headline_frame(scan::headline_partial(index, filter))
}

/// Reads the tables an [`EventIndex`] needs from a warehouse folder.
pub fn open_index(warehouse: &std::path::Path) -> Result<EventIndex> {
    let read = |name: &str| -> Result<Option<DataFrame>> {
        let path = warehouse.join(format!("{name}.parquet"));
        if !path.is_file() {
            return Ok(None);
        }
        let file = std::fs::File::open(&path).map_err(|e| crate::Error::io(&path, e))?;
        Ok(Some(ParquetReader::new(file).finish()?))
    };
    let events = read("events")?.ok_or_else(|| {
        crate::Error::io(
            warehouse.join("events.parquet"),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no events table in the warehouse",
            ),
        )
    })?;
    EventIndex::new(
        &events,
        read("categories")?.as_ref(),
        read("items")?.as_ref(),
    )
}

#[cfg(test)]
mod tests;
