//! Cleaned columns as polars tables (the shape the warehouse stores and Python receives). The builders
//! take the columns by value so no table is held twice in memory.
use super::idmap::IdMap;
use polars::prelude::*;
use rayon::prelude::*;

use super::columns::{
    DuplicateRow, EventColumns, ItemCounts, Nullable, QuarantineRow, SessionColumns, VisitorColumns,
};
use super::items::{Prices, Reference};
use super::rules::EventType;
use crate::frame::{datetime_ms, owned};
use crate::Result;

/// A string column of few distinct values given as codes into `labels`. Each distinct value is stored
/// once and every row's view points at it, so no row copies its string (experiment and variant names
/// are longer than the 12 bytes a view holds inline).
pub fn coded_strings(name: &str, codes: &[u32], labels: &[&str]) -> Result<Column> {
    use polars_arrow::array::{MutableBinaryViewArray, Utf8ViewArray, View};
    let mut distinct = MutableBinaryViewArray::<str>::with_capacity(labels.len());
    for label in labels {
        distinct.push_value(label);
    }
    let distinct: Utf8ViewArray = distinct.into();
    let label_views = distinct.views();
    if let Some(&c) = codes
        .par_iter()
        .find_any(|&&c| c as usize >= label_views.len())
    {
        return Err(crate::Error::Internal(format!(
            "{name}: code {c} has no label"
        )));
    }
    // In parallel: the experiment tables' columns are millions of rows.
    let views: Vec<View> = codes.par_iter().map(|&c| label_views[c as usize]).collect();
    let bytes: usize = views.par_iter().map(|v| v.length as usize).sum();
    // SAFETY: every view is a copy of a view of `distinct`, a valid UTF-8 view array whose buffers
    // are passed along unchanged; `bytes` is the sum of the views' lengths.
    let array = unsafe {
        Utf8ViewArray::new_unchecked(
            polars_arrow::datatypes::ArrowDataType::Utf8View,
            views.into(),
            distinct.data_buffers().clone(),
            None,
            Some(bytes),
            distinct.total_buffer_len(),
        )
    };
    Ok(StringChunked::with_chunk(name.into(), array).into_column())
}

/// `labels` names the event codes: view, addtocart, transaction, then a generic source's other names.
pub fn events_frame(e: EventColumns, labels: &[&str]) -> Result<DataFrame> {
    let n = e.ts.len();
    let event = coded_strings("event", &e.event, labels)?;
    Ok(DataFrame::new(
        n,
        vec![
            owned("visitor_id".into(), e.visitor),
            datetime_ms("timestamp", e.ts),
            event,
            owned("item_id".into(), e.item),
            e.order.into_column("transaction_id"),
            owned("session_id".into(), e.session_id),
            owned("session_index".into(), e.session_index),
            e.category.into_column("category_id"),
            e.root_category.into_column("root_category_id"),
            e.revenue.into_column("revenue"),
            Column::new("is_bot".into(), e.is_bot),
            owned("source_line".into(), e.line),
        ],
    )?)
}

pub fn sessions_frame(s: SessionColumns) -> Result<DataFrame> {
    let n = s.session_id.len();
    let duration: Vec<f64> = s
        .start
        .iter()
        .zip(&s.end)
        .map(|(a, b)| (b - a) as f64 / 1000.0)
        .collect();
    let has_cart: Vec<bool> = s.n_carts.iter().map(|&x| x > 0).collect();
    let has_purchase: Vec<bool> = s.n_purchases.iter().map(|&x| x > 0).collect();
    let bounce: Vec<bool> = s.n_events.iter().map(|&x| x == 1).collect();
    Ok(DataFrame::new(
        n,
        vec![
            owned("session_id".into(), s.session_id),
            owned("visitor_id".into(), s.visitor),
            owned("session_index".into(), s.session_index),
            datetime_ms("start", s.start),
            datetime_ms("end", s.end),
            owned("duration_s".into(), duration),
            owned("n_events".into(), s.n_events),
            owned("n_views".into(), s.n_views),
            owned("n_carts".into(), s.n_carts),
            owned("n_purchases".into(), s.n_purchases),
            owned("n_orders".into(), s.n_orders),
            owned("revenue".into(), s.revenue),
            Column::new("has_cart".into(), has_cart),
            Column::new("has_purchase".into(), has_purchase),
            Column::new("is_bounce".into(), bounce),
            Column::new("is_bot".into(), s.is_bot),
        ],
    )?)
}

pub fn visitors_frame(v: VisitorColumns) -> Result<DataFrame> {
    let buyer: Vec<bool> = v.n_purchases.iter().map(|&p| p > 0).collect();
    Ok(DataFrame::new(
        v.visitor.len(),
        vec![
            owned("visitor_id".into(), v.visitor),
            datetime_ms("first_seen", v.first_seen),
            datetime_ms("last_seen", v.last_seen),
            owned("n_events".into(), v.n_events),
            owned("n_sessions".into(), v.n_sessions),
            owned("n_purchases".into(), v.n_purchases),
            owned("revenue".into(), v.revenue),
            Column::new("is_buyer".into(), buyer),
            owned("peak_events_per_minute".into(), v.peak_events_per_minute),
            Column::new("is_bot".into(), v.is_bot),
        ],
    )?)
}

pub fn quarantine_frame(rows: &[QuarantineRow]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "source".into(),
                rows.iter().map(|q| q.source.as_ref()).collect::<Vec<_>>(),
            ),
            Column::new(
                "line".into(),
                rows.iter().map(|q| q.line).collect::<Vec<_>>(),
            ),
            Column::new(
                "rule".into(),
                rows.iter().map(|q| q.rule.name()).collect::<Vec<_>>(),
            ),
            Column::new(
                "rule_order".into(),
                rows.iter()
                    .map(|q| q.rule.order() as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                rows.iter().map(|q| q.detail.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "raw".into(),
                rows.iter().map(|q| q.raw.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

pub fn duplicates_frame(rows: &[DuplicateRow]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "source".into(),
                rows.iter().map(|d| d.source.as_ref()).collect::<Vec<_>>(),
            ),
            Column::new(
                "line".into(),
                rows.iter().map(|d| d.line).collect::<Vec<_>>(),
            ),
            Column::new(
                "duplicate_of_line".into(),
                rows.iter().map(|d| d.duplicate_of_line).collect::<Vec<_>>(),
            ),
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

pub fn empty_events() -> Result<DataFrame> {
    events_frame(
        EventColumns::default(),
        &EventType::ALL.map(EventType::name),
    )
}

pub fn empty_sessions() -> Result<DataFrame> {
    sessions_frame(SessionColumns::default())
}

pub fn empty_visitors() -> Result<DataFrame> {
    visitors_frame(VisitorColumns::default())
}

/// One row per item seen in events, properties or prices: latest category and availability, current
/// price, and event counts (bots excluded from the counts).
pub fn items_frame(counts: &IdMap<ItemCounts>, reference: &Reference) -> Result<DataFrame> {
    let mut ids: Vec<i64> = counts
        .ids()
        .into_iter()
        .chain(reference.categories.items())
        .collect();
    if let Prices::PerItem(map) = &reference.prices {
        ids.extend(map.ids());
    }
    ids.par_sort_unstable();
    ids.dedup();
    // Every column looked up in parallel (hundreds of thousands of items).
    let category: Vec<Option<i64>> = ids
        .par_iter()
        .map(|&i| reference.categories.latest(i))
        .collect();
    let root: Vec<Option<i64>> = category
        .par_iter()
        .map(|c| c.and_then(|c| reference.tree.root_level(c).0))
        .collect();
    let available: Vec<Option<bool>> = ids
        .par_iter()
        .map(|&i| reference.available.latest(i))
        .collect();
    let price: Vec<Option<f64>> = ids
        .par_iter()
        .map(|&i| reference.prices.at(i, i64::MAX))
        .collect();
    let get = |i: &i64| counts.get(*i).unwrap_or_default();
    let counted =
        |f: fn(&ItemCounts) -> u32| -> Vec<u32> { ids.par_iter().map(|i| f(&get(i))).collect() };
    let revenue: Vec<f64> = ids.par_iter().map(|i| get(i).revenue).collect();
    Ok(DataFrame::new(
        ids.len(),
        vec![
            Nullable::<Int64Type>::from_options(&category).into_column("category_id"),
            Nullable::<Int64Type>::from_options(&root).into_column("root_category_id"),
            BooleanChunked::from_iter_options("available".into(), available.into_iter())
                .into_column(),
            Nullable::<Float64Type>::from_options(&price).into_column("price"),
            owned("n_views".into(), counted(|c| c.views)),
            owned("n_carts".into(), counted(|c| c.carts)),
            owned("n_purchases".into(), counted(|c| c.purchases)),
            owned("revenue".into(), revenue),
            owned("item_id".into(), ids),
        ],
    )?
    .select([
        "item_id",
        "category_id",
        "root_category_id",
        "available",
        "price",
        "n_views",
        "n_carts",
        "n_purchases",
        "revenue",
    ])?)
}

pub fn empty_assignments() -> Result<DataFrame> {
    Ok(DataFrame::new(
        0,
        vec![
            Column::new("experiment".into(), Vec::<&str>::new()),
            Column::new("user_id".into(), Vec::<i64>::new()),
            Column::new("variant".into(), Vec::<&str>::new()),
            datetime_ms("assigned_at", Vec::new()),
            Column::new("source_line".into(), Vec::<u64>::new()),
        ],
    )?)
}

pub fn empty_weights() -> Result<DataFrame> {
    Ok(DataFrame::new(
        0,
        vec![
            Column::new("experiment".into(), Vec::<&str>::new()),
            Column::new("variant".into(), Vec::<&str>::new()),
            Column::new("weight".into(), Vec::<f64>::new()),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_strings_match_the_labels_row_by_row() {
        let labels = ["checkout_redesign_2015", "a", "", "ünïcode variant name"];
        let codes = [0u32, 1, 0, 3, 2, 3, 3, 0];
        let col = coded_strings("x", &codes, &labels).unwrap();
        let got: Vec<Option<&str>> = col.str().unwrap().iter().collect();
        let want: Vec<Option<&str>> = codes.iter().map(|&c| Some(labels[c as usize])).collect();
        assert_eq!(got, want);
        assert_eq!(col.len(), codes.len());
        assert!(coded_strings("x", &[4], &labels).is_err());
        assert_eq!(coded_strings("x", &[], &labels).unwrap().len(), 0);
    }
}
