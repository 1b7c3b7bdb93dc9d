//! Acquisition cohorts: retention and revenue per cohort and calendar-period offset.
//!
//! A visitor's cohort is the calendar period (UTC day, ISO week starting Monday, or month) of their
//! first kept event (`FirstVisit`) or first purchase (`FirstPurchase`); offset k is the k-th calendar
//! period after it. Per (cohort, offset) cell: cohort size, `active` = distinct cohort members with any
//! event in that period, `buyers` = distinct members with a purchase row in it, revenue = sum of the
//! purchase rows' revenue (null revenue counts 0). Cohorts by first purchase ignore activity before the
//! first purchase (negative offsets). Every cohort gets a row for each offset up to the last period of
//! the data, so a cohort that never returns shows zeros rather than missing rows.
//!
//! Mergeable by design: [`CohortPartial`] is computed per visitor partition; all counts are of distinct
//! visitors, and partitions hold disjoint visitor sets, so partials add up ([`CohortPartial::merge`]).
//! The cumulative revenue per user is formed once, after the merge.
pub mod ids;

use std::collections::BTreeMap;
use std::str::FromStr;

use polars::prelude::*;

use crate::frame::owned;
use rayon::prelude::*;

use crate::kpis::index::{EventIndex, PURCHASE};
use crate::{Error, Result};
use ids::{civil_year_month, days_from_civil, id_codes};

/// What defines a visitor's cohort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CohortBy {
    FirstVisit,
    FirstPurchase,
}

impl CohortBy {
    pub const ALL: [CohortBy; 2] = [CohortBy::FirstVisit, CohortBy::FirstPurchase];
    pub fn name(self) -> &'static str {
        match self {
            CohortBy::FirstVisit => "first_visit",
            CohortBy::FirstPurchase => "first_purchase",
        }
    }
}

impl FromStr for CohortBy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "first_visit" => Ok(CohortBy::FirstVisit),
            "first_purchase" => Ok(CohortBy::FirstPurchase),
            _ => Err(Error::InvalidArgument(format!(
                "by={s:?}: allowed 'first_visit', 'first_purchase'"
            ))),
        }
    }
}

/// Calendar period of a cohort and of its offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO week, starting Monday.
    Week,
    Month,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// Index of the period holding UTC day `day` (days since 1970-01-01).
    pub fn index(self, day: i32) -> i32 {
        match self {
            Period::Day => day,
            // 1969-12-29 (day -3) is a Monday.
            Period::Week => (day + 3).div_euclid(7),
            Period::Month => {
                let (y, m) = civil_year_month(day);
                y * 12 + m as i32 - 1
            }
        }
    }

    /// First day of period `index`.
    pub fn start(self, index: i32) -> i32 {
        match self {
            Period::Day => index,
            Period::Week => index * 7 - 3,
            Period::Month => {
                days_from_civil(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
            }
        }
    }
}

impl FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(Error::InvalidArgument(format!(
                "period={s:?}: allowed 'day', 'week', 'month'"
            ))),
        }
    }
}

/// Sums of one (cohort, offset) cell.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cell {
    pub active: i64,
    pub buyers: i64,
    pub revenue: f64,
}

/// Cohort sizes and cells of one visitor partition; partials of disjoint partitions add up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CohortPartial {
    pub sizes: BTreeMap<i32, i64>,
    pub cells: BTreeMap<(i32, i32), Cell>,
    /// Last period with any event (bots included: the observation window is the data's).
    pub last_period: Option<i32>,
}

impl CohortPartial {
    pub fn merge(&mut self, other: &CohortPartial) {
        for (c, n) in &other.sizes {
            *self.sizes.entry(*c).or_default() += n;
        }
        for (k, cell) in &other.cells {
            let e = self.cells.entry(*k).or_default();
            e.active += cell.active;
            e.buyers += cell.buyers;
            e.revenue += cell.revenue;
        }
        self.last_period = match (self.last_period, other.last_period) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The retention table: one row per cohort and offset 0..=last period.
    pub fn finish(&self, period: Period) -> Result<DataFrame> {
        let mut cohort = Vec::new();
        let mut offset = Vec::new();
        let mut size = Vec::new();
        let mut active = Vec::new();
        let mut buyers = Vec::new();
        let mut revenue = Vec::new();
        let mut cumulative = Vec::new();
        let last = self.last_period.unwrap_or(i32::MIN);
        for (&c, &n) in &self.sizes {
            let mut running = 0.0;
            for k in 0..=(last - c).max(0) {
                let cell = self.cells.get(&(c, k)).copied().unwrap_or_default();
                running += cell.revenue;
                cohort.push(period.start(c));
                offset.push(k);
                size.push(n);
                active.push(cell.active);
                buyers.push(cell.buyers);
                revenue.push(cell.revenue);
                cumulative.push(running / n as f64);
            }
        }
        let height = cohort.len();
        let cohort = Int32Chunked::from_vec("cohort".into(), cohort)
            .into_date()
            .into_column();
        Ok(DataFrame::new(
            height,
            vec![
                cohort,
                owned("offset".into(), offset),
                owned("cohort_size".into(), size),
                owned("active".into(), active),
                owned("buyers".into(), buyers),
                owned("revenue".into(), revenue),
                owned("cumulative_revenue_per_user".into(), cumulative),
            ],
        )?)
    }
}

/// The columns the cohort computation reads from an `events` table, resolved once.
pub struct EventColumns {
    pub codes: Vec<u32>,
    pub n_visitors: usize,
    pub day: Vec<i32>,
    pub purchase: Vec<bool>,
    pub revenue: Vec<f64>,
    pub bot: Vec<bool>,
    /// True when rows are grouped by visitor and in time order within a visitor (the warehouse's
    /// `events` invariant): the per-visitor pass then needs no sort.
    pub grouped: bool,
}

impl EventColumns {
    /// Reads `visitor_id, timestamp, event, revenue, is_bot` (revenue and is_bot optional).
    pub fn from_events(events: &DataFrame) -> Result<Self> {
        let col = |name: &str| {
            events
                .column(name)
                .map_err(|_| Error::Schema(format!("events: missing column '{name}'")))
        };
        let ids = id_codes(col("visitor_id")?)?;
        let ts = col("timestamp")?;
        let day = ids::day_numbers(ts)?;
        let event = col("event")?
            .str()
            .map_err(|_| Error::Schema("events: 'event' must be a string column".into()))?
            .clone();
        let purchase: Vec<bool> = event.iter().map(|e| e == Some("transaction")).collect();
        let revenue: Vec<f64> = match events.column("revenue") {
            Ok(c) => c
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.unwrap_or(0.0))
                .collect(),
            Err(_) => vec![0.0; day.len()],
        };
        let bot: Vec<bool> = match events.column("is_bot") {
            Ok(c) => c.bool()?.iter().map(|v| v.unwrap_or(false)).collect(),
            Err(_) => vec![false; day.len()],
        };
        let ts_phys = ts.to_physical_repr();
        let ts_key: Vec<i64> = match ts_phys.dtype() {
            DataType::Int32 => ts_phys
                .i32()?
                .iter()
                .map(|v| v.unwrap_or(0) as i64)
                .collect(),
            _ => ts_phys.i64()?.iter().map(|v| v.unwrap_or(0)).collect(),
        };
        let grouped = (1..ids.codes.len()).all(|i| {
            let (a, b) = (ids.codes[i - 1], ids.codes[i]);
            b == a + 1 || (b == a && ts_key[i] >= ts_key[i - 1])
        });
        Ok(EventColumns {
            n_visitors: ids.n_ids(),
            codes: ids.codes,
            day,
            purchase,
            revenue,
            bot,
            grouped,
        })
    }

    /// Rows in (visitor, time) order: `None` when they already are (the warehouse's invariant).
    fn order(&self) -> Option<Vec<u32>> {
        if self.grouped {
            return None;
        }
        let mut order: Vec<u32> = (0..self.codes.len() as u32).collect();
        order.par_sort_by_key(|&i| (self.codes[i as usize], self.day[i as usize]));
        Some(order)
    }

    /// Partial cohorts of these rows for both definitions at once.
    pub fn partials(&self, period: Period, include_bots: bool) -> [CohortPartial; 2] {
        let order = self.order();
        let row = |i: usize| order.as_ref().map_or(i, |o| o[i] as usize);
        let n = self.codes.len();
        let days = match (self.day.iter().min(), self.day.iter().max()) {
            (Some(&a), Some(&b)) => Some((a, b)),
            _ => None,
        };
        // Per visitor: the run of their rows.
        let mut start = 0;
        let runs = std::iter::from_fn(|| {
            if start >= n {
                return None;
            }
            let v = self.codes[row(start)];
            let mut end = start;
            while end < n && self.codes[row(end)] == v {
                end += 1;
            }
            let rows = start..end;
            start = end;
            Some(rows)
        });
        let visitors = runs
            .filter(|rows| include_bots || !rows.clone().any(|i| self.bot[row(i)]))
            .map(|rows| {
                rows.map(|i| {
                    let i = row(i);
                    (self.day[i], self.purchase[i], self.revenue[i])
                })
            });
        cohort_partials(period, days, visitors)
    }
}

/// Partial cohorts of a KPI index's events (grouped by visitor, in time order) for both definitions
/// at once, read in place (no per-event columns are made): the day of each event from the index,
/// its revenue from `revenue` (the `events` table's revenue column in the index's row order, null
/// counting 0; the cohort table sums the stored values, the index keeps micro-units).
pub fn index_partials(
    index: &EventIndex,
    revenue: &polars_arrow::array::PrimitiveArray<f64>,
    period: Period,
    include_bots: bool,
) -> Result<[CohortPartial; 2]> {
    let n = index.ts.len();
    if revenue.len() != n {
        return Err(Error::Internal(format!(
            "cohorts: {} revenue values for {n} indexed events",
            revenue.len()
        )));
    }
    let first = index.first_day;
    let days = (n > 0).then(|| {
        let (lo, hi) = index
            .day
            .iter()
            .fold((u16::MAX, 0), |(lo, hi), &d| (lo.min(d), hi.max(d)));
        (first + i32::from(lo), first + i32::from(hi))
    });
    let visitors = (0..index.n_visitors())
        .filter(|&v| include_bots || !index.is_bot[v])
        .map(|v| {
            index.visitor_events(v).map(|e| {
                let purchase = index.kind[e] == PURCHASE;
                let rev = if purchase {
                    revenue.get(e).unwrap_or(0.0)
                } else {
                    0.0
                };
                (first + i32::from(index.day[e]), purchase, rev)
            })
        });
    Ok(cohort_partials(period, days, visitors))
}

/// The two partials (by first visit, by first purchase) of `visitors`, each the events of one
/// visitor in time order as (day, is a purchase, revenue of a purchase), all days within `days`.
fn cohort_partials<V, E>(
    period: Period,
    days: Option<(i32, i32)>,
    visitors: V,
) -> [CohortPartial; 2]
where
    V: Iterator<Item = E>,
    E: Iterator<Item = (i32, bool, f64)>,
{
    // Period index of each day of the data, looked up instead of computed per row.
    let (first_day, last_day) = days.unwrap_or((0, -1));
    let period_of: Vec<i32> = (first_day..=last_day).map(|d| period.index(d)).collect();
    let last = period_of.last().copied();
    let first_period = period_of.first().copied().unwrap_or(0);
    let n_periods = last.map_or(0, |l| (l - first_period + 1) as usize);
    let mut visit = Cells::new(first_period, n_periods);
    let mut purchase = Cells::new(first_period, n_periods);
    // Per visitor, per period the run of that period's rows.
    let mut periods: Vec<(i32, bool, f64)> = Vec::new();
    for events in visitors {
        periods.clear();
        for (day, bought, rev) in events {
            let p = period_of[(day - first_day) as usize];
            let rev = if bought { rev } else { 0.0 };
            match periods.last_mut() {
                Some(last) if last.0 == p => {
                    last.1 |= bought;
                    last.2 += rev;
                }
                _ => periods.push((p, bought, rev)),
            }
        }
        visit.add_visitor(&periods, periods.first().map(|p| p.0));
        purchase.add_visitor(&periods, periods.iter().find(|p| p.1).map(|p| p.0));
    }
    [visit.finish(last), purchase.finish(last)]
}

/// Largest number of periods whose (cohort, offset) cells are kept in a dense grid (1,024^2 cells,
/// 24 MiB); longer spans (e.g. years of days) use the sparse map.
const DENSE_PERIODS: usize = 1024;

/// Cohort sizes and cells while visitors are added: a dense grid over the data's periods (cohort x
/// offset), or the sparse [`CohortPartial`] when the span is long. Each cell is added to in visitor
/// order either way, so both give identical sums.
enum Cells {
    Dense {
        first: i32,
        n: usize,
        sizes: Vec<i64>,
        cells: Vec<Cell>,
    },
    Sparse(CohortPartial),
}

impl Cells {
    fn new(first: i32, n: usize) -> Cells {
        if n <= DENSE_PERIODS {
            Cells::Dense {
                first,
                n,
                sizes: vec![0; n],
                cells: vec![Cell::default(); n * n],
            }
        } else {
            Cells::Sparse(CohortPartial::default())
        }
    }

    fn add_visitor(&mut self, periods: &[(i32, bool, f64)], cohort: Option<i32>) {
        let Some(c) = cohort else { return };
        match self {
            Cells::Sparse(partial) => add_visitor(partial, periods, c),
            Cells::Dense {
                first,
                n,
                sizes,
                cells,
            } => {
                let base = (c - *first) as usize;
                sizes[base] += 1;
                for &(p, bought, rev) in periods.iter().filter(|p| p.0 >= c) {
                    let cell = &mut cells[base * *n + (p - c) as usize];
                    cell.active += 1;
                    cell.buyers += i64::from(bought);
                    cell.revenue += rev;
                }
            }
        }
    }

    /// The partial: sizes of cohorts with members, cells some member was active in.
    fn finish(self, last_period: Option<i32>) -> CohortPartial {
        let mut partial = match self {
            Cells::Sparse(p) => p,
            Cells::Dense {
                first,
                n,
                sizes,
                cells,
            } => {
                let mut p = CohortPartial::default();
                for (c, &size) in sizes.iter().enumerate().filter(|(_, s)| **s > 0) {
                    let cohort = first + c as i32;
                    p.sizes.insert(cohort, size);
                    for (k, cell) in cells[c * n..(c + 1) * n].iter().enumerate() {
                        if cell.active > 0 {
                            p.cells.insert((cohort, k as i32), *cell);
                        }
                    }
                }
                p
            }
        };
        partial.last_period = last_period;
        partial
    }
}

fn add_visitor(partial: &mut CohortPartial, periods: &[(i32, bool, f64)], c: i32) {
    *partial.sizes.entry(c).or_default() += 1;
    for &(p, bought, rev) in periods.iter().filter(|p| p.0 >= c) {
        let cell = partial.cells.entry((c, p - c)).or_default();
        cell.active += 1;
        cell.buyers += i64::from(bought);
        cell.revenue += rev;
    }
}

/// Retention table of one definition and period (see the module header for the columns).
pub fn retention(
    events: &DataFrame,
    by: CohortBy,
    period: Period,
    include_bots: bool,
) -> Result<DataFrame> {
    let cols = EventColumns::from_events(events)?;
    let [visit, purchase] = cols.partials(period, include_bots);
    match by {
        CohortBy::FirstVisit => visit.finish(period),
        CohortBy::FirstPurchase => purchase.finish(period),
    }
}

/// The warehouse's `cohort_retention` table: every definition x period, bots excluded, with `by` and
/// `period` as leading columns.
pub fn retention_table(events: &DataFrame) -> Result<DataFrame> {
    retention_table_of(&EventColumns::from_events(events)?)
}

/// The `cohort_retention` table of resolved event columns (see [`retention_table`]).
pub fn retention_table_of(cols: &EventColumns) -> Result<DataFrame> {
    retention_table_with(|period| Ok(cols.partials(period, false)))
}

/// The `cohort_retention` table of a KPI index's events (see [`index_partials`]).
pub fn retention_table_of_index(index: &EventIndex, revenue: &Column) -> Result<DataFrame> {
    let revenue = revenue.cast(&DataType::Float64)?;
    // One array for the three periods' passes.
    let revenue = revenue.f64()?.rechunk();
    let revenue = revenue
        .downcast_iter()
        .next()
        .ok_or_else(|| Error::Internal("cohorts: no revenue array".into()))?;
    retention_table_with(|period| index_partials(index, revenue, period, false))
}

/// The `cohort_retention` table of the partials `partials` gives for each period.
fn retention_table_with(
    partials: impl Fn(Period) -> Result<[CohortPartial; 2]> + Sync,
) -> Result<DataFrame> {
    let frames: Vec<Result<Vec<DataFrame>>> = Period::ALL
        .par_iter()
        .map(|&period| {
            let partials = partials(period)?;
            CohortBy::ALL
                .iter()
                .zip(partials.iter())
                .map(|(by, partial)| labelled(partial.finish(period)?, *by, period))
                .collect()
        })
        .collect();
    let mut out: Option<DataFrame> = None;
    for group in frames {
        for df in group? {
            match &mut out {
                None => out = Some(df),
                Some(acc) => {
                    acc.vstack_mut(&df)?;
                }
            }
        }
    }
    let mut out = out.ok_or_else(|| Error::Internal("no cohort frames".into()))?;
    out.rechunk_mut();
    Ok(out)
}

pub(crate) fn labelled(df: DataFrame, by: CohortBy, period: Period) -> Result<DataFrame> {
    let n = df.height();
    let mut columns = vec![
        Column::new("by".into(), vec![by.name(); n]),
        Column::new("period".into(), vec![period.name(); n]),
    ];
    columns.extend(df.columns().iter().cloned());
    Ok(DataFrame::new(n, columns)?)
}

#[cfg(test)]
mod tests;
