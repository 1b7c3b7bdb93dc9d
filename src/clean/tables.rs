//! Cleaned columns as polars tables (the shape the warehouse stores and Python receives).
use hashbrown::HashMap;
use polars::prelude::*;

use super::pipeline::{CleanEvents, DuplicateRow, QuarantineRow, Reference};
use super::rules::EventType;
use crate::Result;

fn datetime(name: &str, ms: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), ms).into_datetime(TimeUnit::Milliseconds, None).into_column()
}

fn date(name: &str, ms: &[i64]) -> Column {
    let days: Vec<i32> = ms.iter().map(|t| t.div_euclid(86_400_000) as i32).collect();
    Int32Chunked::from_vec(name.into(), days).into_date().into_column()
}

pub fn events_frame(c: &CleanEvents) -> Result<DataFrame> {
    let e = &c.events;
    let n = e.ts.len();
    let event: Vec<&str> = e.event.iter().map(|t| t.name()).collect();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new("visitor_id".into(), e.visitor.as_slice()),
            datetime("timestamp", e.ts.clone()),
            Column::new("ts_ms".into(), e.ts.as_slice()),
            date("date", &e.ts),
            Column::new("event".into(), event),
            Column::new("item_id".into(), e.item.as_slice()),
            Column::new("transaction_id".into(), e.order.as_slice()),
            Column::new("session_id".into(), e.session_id.as_slice()),
            Column::new("session_index".into(), e.session_index.as_slice()),
            Column::new("category_id".into(), e.category.as_slice()),
            Column::new("root_category_id".into(), e.root_category.as_slice()),
            Column::new("category_level".into(), e.category_level.as_slice()),
            Column::new("price".into(), e.price.as_slice()),
            Column::new("revenue".into(), e.revenue.as_slice()),
            Column::new("is_bot".into(), e.is_bot.as_slice()),
            Column::new("source_line".into(), e.line.as_slice()),
        ],
    )?)
}

pub fn sessions_frame(c: &CleanEvents) -> Result<DataFrame> {
    let s = &c.sessions;
    let n = s.session_id.len();
    let duration: Vec<f64> = s.start.iter().zip(&s.end).map(|(a, b)| (b - a) as f64 / 1000.0).collect();
    let has_cart: Vec<bool> = s.n_carts.iter().map(|&x| x > 0).collect();
    let has_purchase: Vec<bool> = s.n_purchases.iter().map(|&x| x > 0).collect();
    let bounce: Vec<bool> = s.n_events.iter().map(|&x| x == 1).collect();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new("session_id".into(), s.session_id.as_slice()),
            Column::new("visitor_id".into(), s.visitor.as_slice()),
            Column::new("session_index".into(), s.session_index.as_slice()),
            datetime("start", s.start.clone()),
            datetime("end", s.end.clone()),
            Column::new("duration_s".into(), duration),
            Column::new("n_events".into(), s.n_events.as_slice()),
            Column::new("n_views".into(), s.n_views.as_slice()),
            Column::new("n_carts".into(), s.n_carts.as_slice()),
            Column::new("n_purchases".into(), s.n_purchases.as_slice()),
            Column::new("n_orders".into(), s.n_orders.as_slice()),
            Column::new("revenue".into(), s.revenue.as_slice()),
            Column::new("has_cart".into(), has_cart),
            Column::new("has_purchase".into(), has_purchase),
            Column::new("is_bounce".into(), bounce),
            Column::new("is_bot".into(), s.is_bot.as_slice()),
        ],
    )?)
}

pub fn visitors_frame(c: &CleanEvents) -> Result<DataFrame> {
    let v = &c.visitors;
    let buyer: Vec<bool> = v.n_purchases.iter().map(|&p| p > 0).collect();
    Ok(DataFrame::new(
        v.visitor.len(),
        vec![
            Column::new("visitor_id".into(), v.visitor.as_slice()),
            datetime("first_seen", v.first_seen.clone()),
            datetime("last_seen", v.last_seen.clone()),
            Column::new("n_events".into(), v.n_events.as_slice()),
            Column::new("n_sessions".into(), v.n_sessions.as_slice()),
            Column::new("n_purchases".into(), v.n_purchases.as_slice()),
            Column::new("revenue".into(), v.revenue.as_slice()),
            Column::new("is_buyer".into(), buyer),
            Column::new("peak_events_per_minute".into(), v.peak_events_per_minute.as_slice()),
            Column::new("is_bot".into(), v.is_bot.as_slice()),
        ],
    )?)
}

pub fn quarantine_frame(rows: &[QuarantineRow]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("source".into(), rows.iter().map(|q| q.source.as_ref()).collect::<Vec<_>>()),
            Column::new("line".into(), rows.iter().map(|q| q.line).collect::<Vec<_>>()),
            Column::new("rule".into(), rows.iter().map(|q| q.rule.name()).collect::<Vec<_>>()),
            Column::new("rule_order".into(), rows.iter().map(|q| q.rule.order() as u32).collect::<Vec<_>>()),
            Column::new("detail".into(), rows.iter().map(|q| q.detail.as_str()).collect::<Vec<_>>()),
            Column::new("raw".into(), rows.iter().map(|q| q.raw.as_str()).collect::<Vec<_>>()),
        ],
    )?)
}

pub fn duplicates_frame(rows: &[DuplicateRow]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("source".into(), rows.iter().map(|d| d.source.as_ref()).collect::<Vec<_>>()),
            Column::new("line".into(), rows.iter().map(|d| d.line).collect::<Vec<_>>()),
            Column::new("duplicate_of_line".into(), rows.iter().map(|d| d.duplicate_of_line).collect::<Vec<_>>()),
        ],
    )?)
}

pub fn categories_frame(reference: &Reference) -> Result<DataFrame> {
    let t = &reference.tree;
    Ok(DataFrame::new(
        t.len(),
        vec![
            Column::new("category_id".into(), t.ids.as_slice()),
            Column::new("parent_id".into(), t.parent.as_slice()),
            Column::new("root_category_id".into(), t.root.as_slice()),
            Column::new("level".into(), t.level.as_slice()),
        ],
    )?)
}

/// One row per item seen in events, properties or prices: latest category and availability, current
/// price, and event counts (bots excluded from the counts).
pub fn items_frame(c: &CleanEvents, reference: &Reference) -> Result<DataFrame> {
    #[derive(Default, Clone, Copy)]
    struct Counts {
        views: u32,
        carts: u32,
        purchases: u32,
        revenue: f64,
        last_ts: i64,
    }
    let mut counts: HashMap<i64, Counts> = HashMap::new();
    let e = &c.events;
    for i in 0..e.ts.len() {
        let entry = counts.entry(e.item[i]).or_default();
        entry.last_ts = entry.last_ts.max(e.ts[i]);
        if e.is_bot[i] {
            continue;
        }
        match e.event[i] {
            EventType::View => entry.views += 1,
            EventType::AddToCart => entry.carts += 1,
            EventType::Transaction => {
                entry.purchases += 1;
                entry.revenue += e.revenue[i].unwrap_or(0.0);
            }
        }
    }
    let mut ids: Vec<i64> = counts.keys().copied().chain(reference.categories.items()).collect();
    if let super::pipeline::Prices::PerItem(map) = &reference.prices {
        ids.extend(map.keys().copied());
    }
    ids.sort_unstable();
    ids.dedup();
    let category: Vec<Option<i64>> = ids.iter().map(|&i| reference.categories.latest(i)).collect();
    let root_level: Vec<(Option<i64>, Option<u32>)> =
        category.iter().map(|c| c.map_or((None, None), |c| reference.tree.root_level(c))).collect();
    let get = |i: &i64| counts.get(i).copied().unwrap_or_default();
    Ok(DataFrame::new(
        ids.len(),
        vec![
            Column::new("item_id".into(), ids.as_slice()),
            Column::new("category_id".into(), category),
            Column::new("root_category_id".into(), root_level.iter().map(|r| r.0).collect::<Vec<_>>()),
            Column::new("category_level".into(), root_level.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new("available".into(), ids.iter().map(|&i| reference.available.latest(i)).collect::<Vec<_>>()),
            Column::new("price".into(), ids.iter().map(|&i| reference.prices.at(i, i64::MAX)).collect::<Vec<_>>()),
            Column::new("n_views".into(), ids.iter().map(|i| get(i).views).collect::<Vec<_>>()),
            Column::new("n_carts".into(), ids.iter().map(|i| get(i).carts).collect::<Vec<_>>()),
            Column::new("n_purchases".into(), ids.iter().map(|i| get(i).purchases).collect::<Vec<_>>()),
            Column::new("revenue".into(), ids.iter().map(|i| get(i).revenue).collect::<Vec<_>>()),
        ],
    )?)
}
