//! KPI tables (polars DataFrames) from merged partials. Every ratio names its numerator and
//! denominator in `docs/methodology.md`; a ratio with a zero denominator is null.
use polars::prelude::*;

use crate::frame::{date, datetime_ms, owned};
use rayon::prelude::*;

use super::index::*;
use super::scan::*;
use crate::stats::{proportion_confint, ConfintMethod};
use crate::Result;

pub(crate) fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

/// Median of a sorted slice (mean of the two middle values for an even length).
pub(crate) fn median_sorted(x: &[i64]) -> Option<f64> {
    let n = x.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(x[n / 2] as f64),
        _ => Some((x[n / 2 - 1] as f64 + x[n / 2] as f64) / 2.0),
    }
}

/// Trailing mean over the 7 values ending at each position (null for the first 6).
fn moving_average_7(x: &[Option<f64>]) -> Vec<Option<f64>> {
    (0..x.len())
        .map(|i| {
            if i < 6 {
                return None;
            }
            let w = &x[i - 6..=i];
            w.iter()
                .try_fold(0.0, |s, v| v.map(|v| s + v))
                .map(|s| s / 7.0)
        })
        .collect()
}

fn counts_columns(rows: &[PeriodCounts]) -> Vec<Column> {
    let col = |name: &str, f: fn(&PeriodCounts) -> u64| {
        owned(
            name.into(),
            rows.iter().map(|r| f(r) as i64).collect::<Vec<i64>>(),
        )
    };
    vec![
        col("visitors", |r| r.visitors),
        col("sessions", |r| r.sessions),
        col("views", |r| r.views),
        col("carts", |r| r.carts),
        col("purchases", |r| r.purchases),
        col("orders", |r| r.orders),
        col("buyers", |r| r.buyers),
        owned(
            "revenue".into(),
            rows.iter()
                .map(|r| from_micro(r.revenue))
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "conversion".into(),
            rows.iter()
                .map(|r| ratio(r.buyers as f64, r.visitors as f64))
                .collect::<Vec<_>>(),
        ),
    ]
}

/// `kpi_daily`: one row per selected UTC date of the data.
pub fn daily_frame(
    index: &EventIndex,
    sel: &Selection,
    p: &Partials,
    include_bots: bool,
) -> Result<DataFrame> {
    let keep: Vec<usize> = (0..index.n_days).filter(|&d| sel.day_ok[d]).collect();
    let rows: Vec<PeriodCounts> = keep.iter().map(|&d| p.days[d]).collect();
    let mut cols = vec![date(
        "date",
        keep.iter().map(|&d| index.first_day + d as i32).collect(),
    )];
    cols.extend(counts_columns(&rows));
    cols.push(Column::new(
        "is_bot_included".into(),
        vec![include_bots; rows.len()],
    ));
    cols.push(owned(
        "events".into(),
        rows.iter().map(|r| r.events as i64).collect::<Vec<i64>>(),
    ));
    let series = |f: &dyn Fn(&PeriodCounts) -> Option<f64>| {
        moving_average_7(&rows.iter().map(f).collect::<Vec<_>>())
    };
    cols.push(Column::new(
        "visitors_ma7".into(),
        series(&|r| Some(r.visitors as f64)),
    ));
    cols.push(Column::new(
        "orders_ma7".into(),
        series(&|r| Some(r.orders as f64)),
    ));
    cols.push(Column::new(
        "revenue_ma7".into(),
        series(&|r| Some(from_micro(r.revenue))),
    ));
    cols.push(Column::new(
        "conversion_ma7".into(),
        series(&|r| ratio(r.buyers as f64, r.visitors as f64)),
    ));
    Ok(DataFrame::new(rows.len(), cols)?)
}

/// `kpi_weekly` / `kpi_monthly`: one row per ISO week (Monday start) or calendar month holding a
/// selected day; distinct counts are computed over the whole period.
pub fn period_frame(
    index: &EventIndex,
    sel: &Selection,
    p: &Partials,
    monthly: bool,
) -> Result<DataFrame> {
    let cal = Calendar::new(index);
    let of_day = if monthly {
        &cal.month_of_day
    } else {
        &cal.week_of_day
    };
    let mut keep: Vec<usize> = (0..index.n_days)
        .filter(|&d| sel.day_ok[d])
        .map(|d| of_day[d])
        .collect();
    keep.dedup();
    let table = if monthly { &p.months } else { &p.weeks };
    let rows: Vec<PeriodCounts> = keep.iter().map(|&k| table[k]).collect();
    let starts: Vec<i32> = keep
        .iter()
        .map(|&k| {
            if monthly {
                let m = cal.first_month + k as i32;
                days_from_civil(m.div_euclid(12), (m.rem_euclid(12) + 1) as u32, 1)
            } else {
                (cal.first_week + k as i32) * 7 - 3
            }
        })
        .collect();
    let mut cols = vec![date("period_start", starts)];
    cols.extend(counts_columns(&rows));
    cols.push(owned(
        "events".into(),
        rows.iter().map(|r| r.events as i64).collect::<Vec<i64>>(),
    ));
    Ok(DataFrame::new(rows.len(), cols)?)
}

/// `kpi_hour_weekday`: 7 x 24 cells (weekday 0 = Monday, UTC hour); visitors and buyers are
/// distinct per cell over the whole period.
pub fn hour_weekday_frame(p: &Partials) -> Result<DataFrame> {
    let cells = &p.hour_weekday;
    let n = 7 * 24;
    Ok(DataFrame::new(
        n,
        vec![
            owned(
                "weekday".into(),
                (0..n).map(|c| (c / 24) as i32).collect::<Vec<_>>(),
            ),
            owned(
                "hour".into(),
                (0..n).map(|c| (c % 24) as i32).collect::<Vec<_>>(),
            ),
            owned(
                "events".into(),
                cells.iter().map(|c| c.events as i64).collect::<Vec<_>>(),
            ),
            owned(
                "visitors".into(),
                cells.iter().map(|c| c.visitors as i64).collect::<Vec<_>>(),
            ),
            owned(
                "purchases".into(),
                cells.iter().map(|c| c.purchases as i64).collect::<Vec<_>>(),
            ),
            owned(
                "buyers".into(),
                cells.iter().map(|c| c.buyers as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "conversion".into(),
                cells
                    .iter()
                    .map(|c| ratio(c.buyers as f64, c.visitors as f64))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?)
}

const STEPS: [&str; 3] = ["view", "addtocart", "transaction"];

/// Rows of funnel tables: three per (level, bucket).
#[derive(Default)]
struct FunnelRows {
    level: Vec<&'static str>,
    bucket: Vec<usize>,
    order: Vec<i32>,
    step: Vec<&'static str>,
    n: Vec<i64>,
    from_start: Vec<Option<f64>>,
    from_prev: Vec<Option<f64>>,
    dropoff: Vec<i64>,
    skipped: Vec<i64>,
    median: Vec<Option<f64>>,
}

impl FunnelRows {
    fn push(&mut self, level: &'static str, bucket: usize, f: &FunnelPartial) {
        for (k, step) in STEPS.iter().enumerate() {
            self.level.push(level);
            self.bucket.push(bucket);
            self.order.push(k as i32 + 1);
            self.step.push(step);
            self.n.push(f.reached[k] as i64);
            self.from_start
                .push(ratio(f.reached[k] as f64, f.reached[0] as f64));
            self.from_prev.push(if k == 0 {
                ratio(f.reached[0] as f64, f.reached[0] as f64)
            } else {
                ratio(f.reached[k] as f64, f.reached[k - 1] as f64)
            });
            self.dropoff.push(if k == 0 {
                0
            } else {
                f.reached[k - 1] as i64 - f.reached[k] as i64
            });
            self.skipped.push(f.skipped[k] as i64);
            self.median.push(if k == 0 {
                None
            } else {
                median_sorted(&f.times[k]).map(|ms| ms / 1000.0)
            });
        }
    }

    /// The frame, with `key` columns (one value per row) after `level`.
    fn frame(self, key: Vec<Column>) -> Result<DataFrame> {
        let height = self.step.len();
        let mut cols = vec![Column::new("level".into(), self.level)];
        cols.extend(key);
        cols.extend([
            owned("step_order".into(), self.order),
            Column::new("step".into(), self.step),
            owned("n".into(), self.n),
            Column::new("rate_from_start".into(), self.from_start),
            Column::new("rate_from_previous".into(), self.from_prev),
            owned("dropoff".into(), self.dropoff),
            owned("skipped".into(), self.skipped),
            Column::new("median_seconds_to_step".into(), self.median),
        ]);
        Ok(DataFrame::new(height, cols)?)
    }
}

/// `funnel`: both levels, three ordered steps each.
pub fn funnel_frame(p: &Partials, levels: &[&str]) -> Result<DataFrame> {
    let mut rows = FunnelRows::default();
    for &l in levels {
        if l == "user" {
            rows.push("user", 0, &p.funnel_user);
        } else {
            rows.push("session", 0, &p.funnel_session);
        }
    }
    rows.frame(Vec::new())
}

/// Table names of the funnel breakdowns, in [`BREAKDOWNS`] order.
pub const FUNNEL_BY_TABLES: [&str; 4] = [
    "funnel_by_day",
    "funnel_by_weekday",
    "funnel_by_hour",
    "funnel_by_root_category",
];

/// `funnel_by_day` (`date`: the selected days), `funnel_by_weekday` (`weekday` 0 = Monday: weekdays
/// with a selected day), `funnel_by_hour` (`hour`: 0..23 UTC), `funnel_by_root_category`
/// (`root_category_id`: every root of the data, and null for events without a root when there are
/// such units): both levels, three steps per bucket, the columns of [`funnel_frame`].
pub fn funnel_by_frame(
    index: &EventIndex,
    sel: &Selection,
    p: &Partials,
    by: usize,
) -> Result<DataFrame> {
    let b = &p.funnel_by[by];
    let buckets: Vec<usize> = match by {
        BY_DAY => (0..index.n_days).filter(|&d| sel.day_ok[d]).collect(),
        BY_WEEKDAY => (0..7)
            .filter(|&wd| {
                (0..index.n_days)
                    .any(|d| sel.day_ok[d] && weekday(index.first_day + d as i32) as usize == wd)
            })
            .collect(),
        BY_HOUR => (0..24).collect(),
        _ => {
            let n = index.root_ids.len();
            let none_used = b.user[n].reached[0] + b.user[n].reached[1] + b.user[n].reached[2] > 0
                || b.session[n].reached.iter().sum::<u64>() > 0;
            (0..n + none_used as usize).collect()
        }
    };
    let mut rows = FunnelRows::default();
    for (level, parts) in [("user", &b.user), ("session", &b.session)] {
        for &k in &buckets {
            rows.push(level, k, &parts[k]);
        }
    }
    let key = match by {
        BY_DAY => date(
            "date",
            rows.bucket
                .iter()
                .map(|&d| index.first_day + d as i32)
                .collect(),
        ),
        BY_WEEKDAY | BY_HOUR => owned(
            BREAKDOWNS[by].into(),
            rows.bucket.iter().map(|&k| k as i32).collect::<Vec<_>>(),
        ),
        _ => Column::new(
            "root_category_id".into(),
            rows.bucket
                .iter()
                .map(|&k| index.root_ids.get(k).copied().flatten())
                .collect::<Vec<Option<i64>>>(),
        ),
    };
    rows.frame(vec![key])
}

/// Wilson 95 % interval of `count / nobs` (the statistics module's one implementation).
fn wilson(count: u64, nobs: u64) -> Result<(Option<f64>, Option<f64>)> {
    if nobs == 0 {
        return Ok((None, None));
    }
    let (lo, hi) = proportion_confint(count as f64, nobs as f64, 0.95, ConfintMethod::Wilson)?;
    Ok((Some(lo), Some(hi)))
}

/// ABC classes by revenue: sorted by revenue (descending), an item is `A` while the revenue share
/// of the items before it is below 80 %, `B` below 95 %, `C` after that or without revenue.
fn abc_classes(revenue: &[i64]) -> Vec<&'static str> {
    let total: i64 = revenue.iter().sum();
    let mut order: Vec<usize> = (0..revenue.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(revenue[i]), i));
    let mut out = vec!["C"; revenue.len()];
    let mut before = 0i64;
    for i in order {
        if revenue[i] <= 0 || total <= 0 {
            break;
        }
        let share = before as f64 / total as f64;
        out[i] = if share < 0.80 {
            "A"
        } else if share < 0.95 {
            "B"
        } else {
            "C"
        };
        before += revenue[i];
    }
    out
}

/// Price band 1..5 of each price: quintile cut points of the prices given (see [`score`]).
fn price_bands(prices: &[Option<f64>]) -> (Vec<Option<i32>>, Vec<f64>) {
    let mut sorted: Vec<f64> = prices.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let cuts = quintile_cuts(&sorted);
    let bands = prices
        .iter()
        .map(|p| p.map(|p| 1 + cuts.iter().filter(|&&c| p > c).count() as i32))
        .collect();
    (bands, cuts)
}

/// [`quintile_cuts`] of values in any order, without sorting them all: each cut point is selected
/// in the part of the slice above the previous one (the slice is reordered).
pub(crate) fn quintile_cuts_unsorted(x: &mut [f64]) -> Vec<f64> {
    let n = x.len();
    let mut out = Vec::with_capacity(4);
    let mut from = 0;
    for j in 1..5 {
        if n == 0 {
            break;
        }
        let k = (j * n).div_ceil(5) - 1;
        if k >= from {
            x[from..].select_nth_unstable_by(k - from, f64::total_cmp);
            from = k + 1;
        }
        out.push(x[k]);
    }
    out
}

/// Cut points `sorted[ceil(j n / 5) - 1]`, j = 1..4, of ascending values (empty for no values).
pub(crate) fn quintile_cuts(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    (1..5).map(|j| sorted[(j * n).div_ceil(5) - 1]).collect()
}

/// `products`: items with a selected event. `view_to_purchase` = viewer_buyers / viewers (visitors
/// who viewed and purchased the item / visitors who viewed it), Wilson 95 % interval; rank 1 = the
/// highest lower bound (ties: more viewers, then first appearance); items without viewers last.
pub fn products_frame(index: &EventIndex, p: &Partials) -> Result<DataFrame> {
    let codes: Vec<usize> = (0..index.n_items())
        .filter(|&i| {
            let c = &p.items[i];
            c.views + c.carts + c.purchases > 0
        })
        .collect();
    let rows: Vec<ItemCounts> = codes.iter().map(|&i| p.items[i]).collect();
    let mut low = Vec::with_capacity(rows.len());
    let mut high = Vec::with_capacity(rows.len());
    for r in &rows {
        let (l, h) = wilson(r.viewer_buyers, r.viewers)?;
        low.push(l);
        high.push(h);
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let la = low[a].unwrap_or(-1.0);
        let lb = low[b].unwrap_or(-1.0);
        lb.total_cmp(&la)
            .then(rows[b].viewers.cmp(&rows[a].viewers))
            .then(a.cmp(&b))
    });
    let mut rank = vec![0i64; rows.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r as i64 + 1;
    }
    let revenue: Vec<i64> = rows.iter().map(|r| r.revenue).collect();
    let abc = abc_classes(&revenue);
    let price: Vec<Option<f64>> = codes.iter().map(|&i| index.item_price[i]).collect();
    let (band, _) = price_bands(&price);
    let idx = IdxCa::from_vec("idx".into(), codes.iter().map(|&i| i as IdxSize).collect());
    let item_id = index.item_ids.take(&idx)?.with_name("item_id".into());
    let int = |name: &str, f: fn(&ItemCounts) -> u64| {
        owned(
            name.into(),
            rows.iter().map(|r| f(r) as i64).collect::<Vec<i64>>(),
        )
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            item_id,
            int("views", |r| r.views),
            int("carts", |r| r.carts),
            int("purchases", |r| r.purchases),
            int("viewers", |r| r.viewers),
            owned(
                "revenue".into(),
                revenue.iter().map(|&r| from_micro(r)).collect::<Vec<_>>(),
            ),
            Column::new(
                "view_to_purchase".into(),
                rows.iter()
                    .map(|r| ratio(r.viewer_buyers as f64, r.viewers as f64))
                    .collect::<Vec<_>>(),
            ),
            Column::new("wilson_low".into(), low),
            Column::new("wilson_high".into(), high),
            owned("rank".into(), rank),
            Column::new("abc_class".into(), abc),
            int("carters", |r| r.carters),
            int("buyers", |r| r.buyers),
            int("viewer_buyers", |r| r.viewer_buyers),
            Column::new("price".into(), price),
            Column::new("price_band".into(), band),
        ],
    )?)
}

/// `kpi_price_bands`: items with a selected event grouped by price quintile (current price).
pub fn price_bands_frame(index: &EventIndex, p: &Partials) -> Result<DataFrame> {
    let codes: Vec<usize> = (0..index.n_items())
        .filter(|&i| {
            let c = &p.items[i];
            c.views + c.carts + c.purchases > 0
        })
        .collect();
    let price: Vec<Option<f64>> = codes.iter().map(|&i| index.item_price[i]).collect();
    let (band, _) = price_bands(&price);
    let mut acc = [(
        f64::INFINITY,
        f64::NEG_INFINITY,
        0i64,
        ItemCounts::default(),
    ); 5];
    for ((&i, b), pr) in codes.iter().zip(&band).zip(&price) {
        if let (Some(b), Some(pr)) = (b, pr) {
            let a = &mut acc[*b as usize - 1];
            a.0 = a.0.min(*pr);
            a.1 = a.1.max(*pr);
            a.2 += 1;
            let c = p.items[i];
            a.3.views += c.views;
            a.3.carts += c.carts;
            a.3.purchases += c.purchases;
            a.3.revenue += c.revenue;
        }
    }
    let used: Vec<usize> = (0..5).filter(|&b| acc[b].2 > 0).collect();
    Ok(DataFrame::new(
        used.len(),
        vec![
            owned(
                "price_band".into(),
                used.iter().map(|&b| b as i32 + 1).collect::<Vec<_>>(),
            ),
            owned(
                "price_low".into(),
                used.iter().map(|&b| acc[b].0).collect::<Vec<_>>(),
            ),
            owned(
                "price_high".into(),
                used.iter().map(|&b| acc[b].1).collect::<Vec<_>>(),
            ),
            owned(
                "items".into(),
                used.iter().map(|&b| acc[b].2).collect::<Vec<_>>(),
            ),
            owned(
                "views".into(),
                used.iter()
                    .map(|&b| acc[b].3.views as i64)
                    .collect::<Vec<_>>(),
            ),
            owned(
                "carts".into(),
                used.iter()
                    .map(|&b| acc[b].3.carts as i64)
                    .collect::<Vec<_>>(),
            ),
            owned(
                "purchases".into(),
                used.iter()
                    .map(|&b| acc[b].3.purchases as i64)
                    .collect::<Vec<_>>(),
            ),
            owned(
                "revenue".into(),
                used.iter()
                    .map(|&b| from_micro(acc[b].3.revenue))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// `kpi_categories`: every category of the tree with a selected event in it or below it; counts
/// roll up along the tree (a category includes all its descendants) and distinct visitors are
/// distinct at each level.
pub fn categories_frame(index: &EventIndex, p: &Partials) -> Result<DataFrame> {
    let t = &index.tree;
    let codes: Vec<usize> = (0..t.len())
        .filter(|&c| {
            let x = &p.categories[c];
            x.views + x.carts + x.purchases > 0
        })
        .collect();
    let rows: Vec<ItemCounts> = codes.iter().map(|&c| p.categories[c]).collect();
    let int = |name: &str, f: fn(&ItemCounts) -> u64| {
        owned(
            name.into(),
            rows.iter().map(|r| f(r) as i64).collect::<Vec<i64>>(),
        )
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            owned(
                "category_id".into(),
                codes.iter().map(|&c| t.ids[c]).collect::<Vec<_>>(),
            ),
            Column::new(
                "parent_id".into(),
                codes.iter().map(|&c| t.parent[c]).collect::<Vec<_>>(),
            ),
            Column::new(
                "level".into(),
                codes.iter().map(|&c| t.level[c]).collect::<Vec<_>>(),
            ),
            Column::new(
                "root_category_id".into(),
                codes.iter().map(|&c| t.root[c]).collect::<Vec<_>>(),
            ),
            int("views", |r| r.views),
            int("carts", |r| r.carts),
            int("purchases", |r| r.purchases),
            owned(
                "revenue".into(),
                rows.iter()
                    .map(|r| from_micro(r.revenue))
                    .collect::<Vec<_>>(),
            ),
            int("viewers", |r| r.viewers),
            int("carters", |r| r.carters),
            int("buyers", |r| r.buyers),
            int("viewer_buyers", |r| r.viewer_buyers),
            Column::new(
                "view_to_purchase".into(),
                rows.iter()
                    .map(|r| ratio(r.viewer_buyers as f64, r.viewers as f64))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// RFM score 1..5 of `x` against quintile cut points: 1 + the number of cut points below it (for
/// recency, where lower is better, 5 minus the number of cut points below it).
fn score(x: f64, cuts: &[f64], lower_is_better: bool) -> i32 {
    let above = cuts.iter().filter(|&&c| x > c).count() as i32;
    if lower_is_better {
        5 - above
    } else {
        1 + above
    }
}

/// Days from a visitor's last selected event to `end_ts` (the end of the data).
pub(crate) fn recency_days(end_ts: i64, r: &VisitorRow) -> f64 {
    (end_ts - r.last_ts) as f64 / DAY_MS as f64
}

/// Quintile cut points of the three RFM values among the visitors of `kpi_segments`. The scores of a
/// visitor depend on all visitors only through these twelve numbers, so a partitioned build finds
/// them from the three value columns alone and then scores its visitors part by part.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentCuts {
    recency: Vec<f64>,
    frequency: Vec<f64>,
    monetary: Vec<f64>,
}

impl SegmentCuts {
    /// The cut points of the values (recency days, sessions, revenue) of every visitor, in any order.
    pub fn from_values(
        mut recency: Vec<f64>,
        mut frequency: Vec<f64>,
        mut monetary: Vec<f64>,
    ) -> SegmentCuts {
        let cuts = |x: &mut Vec<f64>| quintile_cuts_unsorted(x);
        SegmentCuts {
            recency: cuts(&mut recency),
            frequency: cuts(&mut frequency),
            monetary: cuts(&mut monetary),
        }
    }

    /// The cut points of `rows`' values.
    pub fn of_rows(end_ts: i64, rows: &[VisitorRow]) -> SegmentCuts {
        SegmentCuts::from_values(
            rows.iter().map(|r| recency_days(end_ts, r)).collect(),
            rows.iter().map(|r| r.sessions as f64).collect(),
            rows.iter().map(|r| from_micro(r.revenue)).collect(),
        )
    }
}

/// `kpi_segments`: one row per visitor with a selected event. recency_days = (end of data − last
/// selected event) in days; frequency = selected sessions; monetary = revenue. Scores are quintiles
/// among these visitors; lifecycle follows [`LIFECYCLE_WINDOW_DAYS`] over all of the visitor's events.
///
/// These are the rows for some of the visitor rows of an index's partials (scored against the cut
/// points of all of them); the table is their parts in order.
pub fn segments_part(
    index: &EventIndex,
    rows: &[VisitorRow],
    cuts: &SegmentCuts,
) -> Result<DataFrame> {
    let idx = IdxCa::from_vec(
        "idx".into(),
        rows.iter().map(|r| r.visitor as IdxSize).collect(),
    );
    let visitor_id = index.visitor_ids.take(&idx)?.with_name("visitor_id".into());
    let lifecycle: Vec<u8> = rows
        .iter()
        .map(|r| index.lifecycle[r.visitor as usize])
        .collect();
    segment_rows_frame(visitor_id, rows, &lifecycle, index.end_ts, cuts)
}

/// Rows of `kpi_segments` for `rows` (visitor ids `visitor_id`, lifecycle codes `lifecycle`) scored
/// against `cuts`: the whole table, or one part of it.
pub fn segment_rows_frame(
    visitor_id: Column,
    rows: &[VisitorRow],
    lifecycle: &[u8],
    end_ts: i64,
    cuts: &SegmentCuts,
) -> Result<DataFrame> {
    let recency: Vec<f64> = rows.par_iter().map(|r| recency_days(end_ts, r)).collect();
    let money: Vec<f64> = rows.par_iter().map(|r| from_micro(r.revenue)).collect();
    let r_score: Vec<i32> = recency
        .par_iter()
        .map(|&x| score(x, &cuts.recency, true))
        .collect();
    let f_score: Vec<i32> = rows
        .par_iter()
        .map(|r| score(r.sessions as f64, &cuts.frequency, false))
        .collect();
    let m_score: Vec<i32> = money
        .par_iter()
        .map(|&x| score(x, &cuts.monetary, false))
        .collect();
    // The 125 codes "111" .. "555" and the lifecycle stages as labels: each row's string is a copy
    // of its label's view (not formatted or pushed per row).
    let codes: Vec<String> = (0..125)
        .map(|c| format!("{}{}{}", c / 25 + 1, c / 5 % 5 + 1, c % 5 + 1))
        .collect();
    let code_labels: Vec<&str> = codes.iter().map(String::as_str).collect();
    let rfm_codes: Vec<u32> = (0..rows.len())
        .into_par_iter()
        .map(|i| ((r_score[i] - 1) * 25 + (f_score[i] - 1) * 5 + m_score[i] - 1) as u32)
        .collect();
    let rfm = crate::clean::tables::coded_strings("rfm", &rfm_codes, &code_labels)?;
    let stage_codes: Vec<u32> = lifecycle.par_iter().map(|&l| u32::from(l)).collect();
    let lifecycle = crate::clean::tables::coded_strings("lifecycle", &stage_codes, &LIFECYCLE)?;
    Ok(DataFrame::new(
        rows.len(),
        vec![
            visitor_id,
            datetime_ms("first_seen", rows.par_iter().map(|r| r.first_ts).collect()),
            datetime_ms("last_seen", rows.par_iter().map(|r| r.last_ts).collect()),
            owned(
                "events".into(),
                rows.par_iter().map(|r| r.events as i64).collect::<Vec<_>>(),
            ),
            owned(
                "sessions".into(),
                rows.par_iter()
                    .map(|r| r.sessions as i64)
                    .collect::<Vec<_>>(),
            ),
            owned(
                "purchases".into(),
                rows.par_iter()
                    .map(|r| r.purchases as i64)
                    .collect::<Vec<_>>(),
            ),
            owned(
                "orders".into(),
                rows.par_iter().map(|r| r.orders as i64).collect::<Vec<_>>(),
            ),
            owned("revenue".into(), money),
            owned("recency_days".into(), recency),
            owned("r_score".into(), r_score),
            owned("f_score".into(), f_score),
            owned("m_score".into(), m_score),
            rfm,
            lifecycle,
        ],
    )?)
}

/// Visitors and buyers per lifecycle stage and per R and F score, added up over the parts of
/// `kpi_segments` (the whole table in one part, or a partitioned build's parts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentCounts {
    lifecycle: [(i64, i64); LIFECYCLE.len()],
    r_score: [(i64, i64); 5],
    f_score: [(i64, i64); 5],
}

impl SegmentCounts {
    /// Adds the rows of a part of `kpi_segments`.
    pub fn add(&mut self, segments: &DataFrame) -> Result<()> {
        let purchases = segments.column("purchases")?.i64()?;
        let lifecycle = segments.column("lifecycle")?.str()?;
        let r = segments.column("r_score")?.i32()?;
        let f = segments.column("f_score")?.i32()?;
        let count = |acc: &mut (i64, i64), p: Option<i64>| {
            acc.0 += 1;
            acc.1 += (p.unwrap_or(0) > 0) as i64;
        };
        for (((l, p), r), f) in lifecycle
            .iter()
            .zip(purchases.iter())
            .zip(r.iter())
            .zip(f.iter())
        {
            if let Some(k) = LIFECYCLE.iter().position(|s| Some(*s) == l) {
                count(&mut self.lifecycle[k], p);
            }
            if let Some(r) = r.filter(|r| (1..=5).contains(r)) {
                count(&mut self.r_score[r as usize - 1], p);
            }
            if let Some(f) = f.filter(|f| (1..=5).contains(f)) {
                count(&mut self.f_score[f as usize - 1], p);
            }
        }
        Ok(())
    }

    /// The `kpi_segment_conversion` table: per lifecycle stage and per R and F score, visitors,
    /// buyers and conversion = buyers / visitors (a buyer: a visitor with a selected purchase).
    pub fn frame(&self) -> Result<DataFrame> {
        let mut kind = Vec::new();
        let mut name = Vec::new();
        let mut visitors = Vec::new();
        let mut buyers = Vec::new();
        for (stage, &(n, b)) in LIFECYCLE.iter().zip(&self.lifecycle) {
            kind.push("lifecycle");
            name.push(stage.to_string());
            visitors.push(n);
            buyers.push(b);
        }
        for (col, scores) in [("r_score", &self.r_score), ("f_score", &self.f_score)] {
            for (sc, &(n, b)) in scores.iter().enumerate() {
                kind.push(col);
                name.push((sc + 1).to_string());
                visitors.push(n);
                buyers.push(b);
            }
        }
        let conversion: Vec<Option<f64>> = visitors
            .iter()
            .zip(&buyers)
            .map(|(&n, &b)| ratio(b as f64, n as f64))
            .collect();
        Ok(DataFrame::new(
            kind.len(),
            vec![
                Column::new("segment_type".into(), kind),
                Column::new("segment".into(), name),
                owned("visitors".into(), visitors),
                owned("buyers".into(), buyers),
                Column::new("conversion".into(), conversion),
            ],
        )?)
    }
}
