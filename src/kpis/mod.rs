//! KPIs of a warehouse: funnel, headline figures, time series, products, category roll-ups, price
//! bands, RFM segments and anomalies (SPEC §2; definitions in `docs/methodology.md`).
//!
//! Everything is computed by [`scan::scan`] over visitor partitions whose partials add up
//! ([`scan::Partials::merge`]); [`index::EventIndex`] is the compact form of the events that every
//! scan walks and that an open warehouse keeps for interactive queries ([`headline`]).
pub mod anomalies;
pub mod headline;
pub mod index;
pub mod scan;
pub mod tables;

use polars::prelude::*;

use crate::Result;
pub use index::EventIndex;
pub use scan::{DaySet, Filter, Partials};

/// Names of the tables [`tables`] returns, in order.
pub const TABLES: [&str; 11] = [
    "kpi_daily",
    "kpi_weekly",
    "kpi_monthly",
    "kpi_hour_weekday",
    "funnel",
    "products",
    "kpi_price_bands",
    "kpi_categories",
    "kpi_segments",
    "kpi_segment_conversion",
    "anomalies",
];

/// Partitions used by the build: a few per thread so uneven partitions balance.
pub fn default_partitions() -> usize {
    rayon::current_num_threads() * 4
}

/// The KPI tables named in `names` (all of [`TABLES`] when empty) for one filter, from `partitions`
/// visitor partitions (one scan, then each table from the merged partials).
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
    let p = scan::compute(index, filter, partitions);
    tables_from_partials(index, filter, &p, &names)
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
    let sel = scan::Selection::new(index, filter);
    let mut daily = None;
    let mut segments = None;
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        let df = match name {
            "kpi_daily" | "anomalies" => {
                let d = match &daily {
                    Some(d) => d,
                    None => {
                        daily.insert(tables::daily_frame(index, &sel, &p, filter.include_bots)?)
                    }
                };
                if name == "anomalies" {
                    anomalies::anomalies_frame(d, false)?
                } else {
                    d.clone()
                }
            }
            "kpi_segments" | "kpi_segment_conversion" => {
                let s = match &segments {
                    Some(s) => s,
                    None => segments.insert(tables::segments_frame(index, &p)?),
                };
                if name == "kpi_segments" {
                    s.clone()
                } else {
                    tables::segment_conversion_frame(s)?
                }
            }
            "kpi_weekly" => tables::period_frame(index, &sel, &p, false)?,
            "kpi_monthly" => tables::period_frame(index, &sel, &p, true)?,
            "kpi_hour_weekday" => tables::hour_weekday_frame(&p)?,
            "funnel" => tables::funnel_frame(&p, &["user", "session"])?,
            "products" => tables::products_frame(index, &p)?,
            "kpi_price_bands" => tables::price_bands_frame(index, &p)?,
            "kpi_categories" => tables::categories_frame(index, &p)?,
            other => {
                return Err(crate::Error::Internal(format!("KPI table {other}")));
            }
        };
        out.push((name, df));
    }
    Ok(out)
}

/// The KPI tables `shoplens build` writes (bots excluded), from the warehouse's `events`,
/// `categories` and `items` tables.
pub fn tables(
    events: &DataFrame,
    categories: Option<&DataFrame>,
    items: Option<&DataFrame>,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let index = EventIndex::new(events, categories, items)?;
    tables_with(&index, &Filter::default(), default_partitions(), &[])
}

/// Headline KPIs (one row) of a filter.
pub fn headline(index: &EventIndex, filter: &Filter) -> Result<DataFrame> {
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
