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
use rayon::prelude::*;

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
                Column::new("offset".into(), offset),
                Column::new("cohort_size".into(), size),
                Column::new("active".into(), active),
                Column::new("buyers".into(), buyers),
                Column::new("revenue".into(), revenue),
                Column::new("cumulative_revenue_per_user".into(), cumulative),
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

    /// Rows in (visitor, time) order.
    fn order(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.codes.len() as u32).collect();
        if !self.grouped {
            order.par_sort_by_key(|&i| (self.codes[i as usize], self.day[i as usize]));
        }
        order
    }

    /// Partial cohorts of these rows for both definitions at once.
    pub fn partials(&self, period: Period, include_bots: bool) -> [CohortPartial; 2] {
        let order = self.order();
        let mut visit = CohortPartial::default();
        let mut purchase = CohortPartial::default();
        let last = self.day.iter().max().map(|&d| period.index(d));
        visit.last_period = last;
        purchase.last_period = last;
        // Per visitor: the run of their rows, then per period the run of that period's rows.
        let mut periods: Vec<(i32, bool, f64)> = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let v = self.codes[order[start] as usize];
            let mut end = start;
            while end < order.len() && self.codes[order[end] as usize] == v {
                end += 1;
            }
            let rows = &order[start..end];
            start = end;
            if !include_bots && rows.iter().any(|&i| self.bot[i as usize]) {
                continue;
            }
            periods.clear();
            for &i in rows {
                let i = i as usize;
                let p = period.index(self.day[i]);
                let rev = if self.purchase[i] {
                    self.revenue[i]
                } else {
                    0.0
                };
                match periods.last_mut() {
                    Some(last) if last.0 == p => {
                        last.1 |= self.purchase[i];
                        last.2 += rev;
                    }
                    _ => periods.push((p, self.purchase[i], rev)),
                }
            }
            add_visitor(&mut visit, &periods, periods.first().map(|p| p.0));
            add_visitor(
                &mut purchase,
                &periods,
                periods.iter().find(|p| p.1).map(|p| p.0),
            );
        }
        [visit, purchase]
    }
}

fn add_visitor(partial: &mut CohortPartial, periods: &[(i32, bool, f64)], cohort: Option<i32>) {
    let Some(c) = cohort else { return };
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
    let cols = EventColumns::from_events(events)?;
    let frames: Vec<Result<Vec<DataFrame>>> = Period::ALL
        .par_iter()
        .map(|&period| {
            let partials = cols.partials(period, false);
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
