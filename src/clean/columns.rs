//! The column structs the pipeline fills and the table builders turn into polars frames. Both
//! `pipeline` and `tables` import this module; `tables` never imports `pipeline`.
use std::sync::Arc;

use polars::prelude::{
    ChunkedArray, Column, Float64Type, Int64Type, IntoColumn, PolarsNumericType,
};
use polars_arrow::bitmap::MutableBitmap;

use super::rules::Rule;

#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    pub source: Arc<str>,
    pub line: u64,
    pub rule: Rule,
    pub detail: String,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateRow {
    pub source: Arc<str>,
    pub line: u64,
    pub duplicate_of_line: u64,
}

/// A nullable column built row by row: values and a validity bitmap, handed to polars as they are
/// (a `Vec<Option<i64>>` would take twice the memory and be copied again into an array).
pub struct Nullable<P: PolarsNumericType> {
    values: Vec<P::Native>,
    valid: MutableBitmap,
}

impl<P: PolarsNumericType> Default for Nullable<P> {
    fn default() -> Self {
        Nullable {
            values: Vec::new(),
            valid: MutableBitmap::new(),
        }
    }
}

impl<P: PolarsNumericType> std::fmt::Debug for Nullable<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Nullable({} rows, {} null)",
            self.len(),
            self.null_count()
        )
    }
}

impl<P: PolarsNumericType> Nullable<P> {
    /// The column of `values` (the values split out in parallel: tables of many rows).
    pub fn from_options(values: &[Option<P::Native>]) -> Self {
        use rayon::prelude::*;
        Nullable {
            values: values.par_iter().map(|v| v.unwrap_or_default()).collect(),
            valid: values.iter().map(Option::is_some).collect(),
        }
    }

    #[inline]
    pub fn push(&mut self, value: Option<P::Native>) {
        self.values.push(value.unwrap_or_default());
        self.valid.push(value.is_some());
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<P::Native> {
        self.valid.get(i).then(|| self.values[i])
    }

    pub fn reserve(&mut self, n: usize) {
        self.values.reserve(n);
        self.valid.reserve(n);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn null_count(&self) -> usize {
        self.valid.unset_bits()
    }

    pub fn into_column(self, name: &str) -> Column {
        ChunkedArray::<P>::from_vec_validity(name.into(), self.values, Some(self.valid.into()))
            .into_column()
    }
}

/// Clean events in (visitor, time, source line) order.
#[derive(Debug, Default)]
pub struct EventColumns {
    pub visitor: Vec<i64>,
    pub ts: Vec<i64>,
    /// Event code: the `EventType` of the mapped three, 3 + label for a generic source's others.
    pub event: Vec<u32>,
    pub item: Vec<i64>,
    pub order: Nullable<Int64Type>,
    pub session_id: Vec<u64>,
    pub session_index: Vec<u32>,
    pub category: Nullable<Int64Type>,
    pub root_category: Nullable<Int64Type>,
    pub revenue: Nullable<Float64Type>,
    pub is_bot: Vec<bool>,
    pub line: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct SessionColumns {
    pub session_id: Vec<u64>,
    pub visitor: Vec<i64>,
    pub session_index: Vec<u32>,
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub n_events: Vec<u32>,
    pub n_views: Vec<u32>,
    pub n_carts: Vec<u32>,
    pub n_purchases: Vec<u32>,
    pub n_orders: Vec<u32>,
    pub revenue: Vec<f64>,
    pub is_bot: Vec<bool>,
}

#[derive(Debug, Default)]
pub struct VisitorColumns {
    pub visitor: Vec<i64>,
    pub first_seen: Vec<i64>,
    pub last_seen: Vec<i64>,
    pub n_events: Vec<u32>,
    pub n_sessions: Vec<u32>,
    pub n_purchases: Vec<u32>,
    pub revenue: Vec<f64>,
    pub peak_events_per_minute: Vec<u32>,
    pub is_bot: Vec<bool>,
}

/// Item counts over human traffic (bots excluded), for the items table.
#[derive(Debug, Default, Clone, Copy)]
pub struct ItemCounts {
    pub views: u32,
    pub carts: u32,
    pub purchases: u32,
    pub revenue: f64,
}

impl EventColumns {
    pub fn reserve(&mut self, n: usize) {
        self.visitor.reserve(n);
        self.ts.reserve(n);
        self.event.reserve(n);
        self.item.reserve(n);
        self.order.reserve(n);
        self.session_id.reserve(n);
        self.session_index.reserve(n);
        self.category.reserve(n);
        self.root_category.reserve(n);
        self.revenue.reserve(n);
        self.is_bot.reserve(n);
        self.line.reserve(n);
    }
}

impl SessionColumns {
    pub fn reserve(&mut self, n: usize) {
        self.session_id.reserve(n);
        self.visitor.reserve(n);
        self.session_index.reserve(n);
        self.start.reserve(n);
        self.end.reserve(n);
        self.n_events.reserve(n);
        self.n_views.reserve(n);
        self.n_carts.reserve(n);
        self.n_purchases.reserve(n);
        self.n_orders.reserve(n);
        self.revenue.reserve(n);
        self.is_bot.reserve(n);
    }
}

impl VisitorColumns {
    pub fn reserve(&mut self, n: usize) {
        self.visitor.reserve(n);
        self.first_seen.reserve(n);
        self.last_seen.reserve(n);
        self.n_events.reserve(n);
        self.n_sessions.reserve(n);
        self.n_purchases.reserve(n);
        self.revenue.reserve(n);
        self.peak_events_per_minute.reserve(n);
        self.is_bot.reserve(n);
    }
}
